//! fenhe's domain model and pure rules. No I/O: the binary's jobs feed it rows and store its
//! results, so everything here is deterministic and testable in isolation.

pub mod alarm;
pub mod command;
pub mod compliance;
pub mod demo;
pub mod record;
pub mod registry;
pub mod revision;
pub mod text;
pub mod uscc;

pub use record::{FrameRecord, Measurement, Values, Verdict};
pub use registry::{
    Contact, CrcPolicy, Device, Enterprise, Limit, Outlet, OutletKind, Ownership, Problem, Protocol,
    Registry, Section,
};
pub use text::ShortText;
