//! The codec's one integration-test binary, through the public API only: the standard's own
//! example packets as vectors (`appendix_c`), properties over generated and damaged streams
//! (`properties`), and the allocations of the hot path (`alloc_count`, which installs a counting
//! global allocator for the binary; see there why that may be shared).

mod alloc_count;
mod appendix_c;
mod properties;
