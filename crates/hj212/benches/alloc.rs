//! Heap allocations on the hot path: a counting global allocator around one pass of the corpus
//! through frame + CRC + parse, for our codec and for `a` 0.1.1. Fails if ours allocates more
//! than once per packet (the item vector), i.e. if anything allocates per field.
//!
//! `cargo bench -p hj212 --bench alloc`

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use common::{corpus, run_a, run_ours, run_ours_reused};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size as u64, Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations (including reallocations) and bytes requested while `f` runs.
fn count<T>(f: impl FnOnce() -> T) -> (T, u64, u64) {
    let (a0, b0) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    let r = f();
    (r, ALLOCS.load(Relaxed) - a0, BYTES.load(Relaxed) - b0)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, which is fine: it is
    // one pass over a few MB.
    let c = corpus();
    // One pass of one codec and nothing else, for an instruction count that a loaded machine
    // cannot disturb: `HJ212_ONLY=ours|ours-reused|ours-frame|a valgrind --tool=callgrind
    // --toggle-collect='alloc::common::run_*' <this binary>` (see docs/BENCHMARKS.md).
    if let Ok(only) = std::env::var("HJ212_ONLY") {
        let t = match only.as_str() {
            "ours" => run_ours(&c.stream, true),
            "ours-frame" => run_ours(&c.stream, false),
            "ours-reused" => run_ours_reused(&c.stream),
            "a" => run_a(&c.stream),
            other => panic!("HJ212_ONLY={other}: expected ours, ours-reused, ours-frame or a"),
        };
        println!("{only}: {t:?}");
        return;
    }
    let (packets, fields) = (c.packets as f64, c.fields as f64);
    println!("corpus: {} bytes, {} packets, {} CP fields", c.stream.len(), c.packets, c.fields);

    let (t, framing, _) = count(|| run_ours(&c.stream, false));
    assert_eq!(t.frames, c.packets);
    let (t, allocs, bytes) = count(|| run_ours(&c.stream, true));
    assert_eq!((t.parsed, t.fields), (c.packets, c.fields));
    println!(
        "ours/frame+crc: {framing} allocations in total ({:.4} per packet; the framer's 64 KiB buffer and its growth)",
        framing as f64 / packets
    );
    println!(
        "ours/frame+crc+parse: {allocs} allocations, {bytes} bytes: {:.4} allocations per packet, {:.4} per field, {:.0} bytes per packet",
        allocs as f64 / packets,
        allocs as f64 / fields,
        bytes as f64 / packets
    );

    let (t, reused, reused_bytes) = count(|| run_ours_reused(&c.stream));
    assert_eq!((t.parsed, t.fields), (c.packets, c.fields));
    println!(
        "ours/frame+crc+parse (reused buffer): {reused} allocations, {reused_bytes} bytes in total: {:.4} allocations per packet (the framer's buffer and the item buffer's growth to the largest packet)",
        reused as f64 / packets
    );

    let (t, a_allocs, a_bytes) = count(|| run_a(&c.stream));
    println!(
        "a_0_1_1/framer+parse_frame: {a_allocs} allocations, {a_bytes} bytes: {:.2} allocations per packet, {:.2} per field, {:.0} bytes per packet ({} parsed)",
        a_allocs as f64 / packets,
        a_allocs as f64 / fields,
        a_bytes as f64 / packets,
        t.parsed
    );

    // The budget: the item vector of each packet, plus the framer's buffer for the connection.
    assert!(
        allocs <= c.packets as u64 + framing,
        "frame+crc+parse allocated {allocs} times for {} packets: something allocates per field",
        c.packets
    );
    // With a reused buffer: nothing per packet, only the growth of the buffers.
    assert!(reused <= framing + 16, "frame+crc+parse with a reused buffer allocated {reused} times");
}
