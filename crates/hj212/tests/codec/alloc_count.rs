//! Allocation count on the hot path: once a Framer's buffer is warm, framing and decoding a
//! realistic minute upload (CN=2051, ~40 CP fields) allocates at most once per packet (the item
//! vector), never once per field.
//!
//! The counting allocator is this module's but serves the whole test binary (a global allocator
//! is per process). It needs no process of its own: counts are per thread, and the harness runs
//! each test on a thread of its own (or, with `--test-threads=1`, one after another), so the
//! other modules' tests add nothing to the counts taken here; to theirs it adds only a
//! thread-local increment per allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use hj212::{Event, FrameConfig, Framer, PacketBuilder, ParseOptions, Version, decode};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

fn bump() {
    // `try_with`: the allocator may run while a thread's locals are being torn down.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: forwards every call to the system allocator unchanged; it only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: the caller upholds `alloc`'s contract, which is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by this thread while `f` runs.
fn count<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = ALLOCS.with(Cell::get);
    let r = f();
    (r, ALLOCS.with(Cell::get) - before)
}

/// A minute upload as a water outlet sends it: flow, COD, ammonia, phosphorus, nitrogen, pH and
/// a few more, each with Cou/Min/Avg/Max/Flag or Min/Avg/Max/Flag; `n` varies the values.
fn minute_upload(n: u32) -> Vec<u8> {
    let mut b = PacketBuilder::new("2051", "010000A8900016F000169DC0")
        .qn(format!("20160801085{:03}{:03}", n % 60, n % 1000))
        .st("32")
        .pw("123456")
        .version(Version::V2017, true)
        .key("DataTime", "20160801084000");
    for (i, code) in
        ["w00000", "w01018", "w21003", "w21011", "w21001", "w01001", "w01009", "w01010", "w01012"]
            .iter()
            .enumerate()
    {
        let v = f64::from(n % 97) + i as f64 * 1.25;
        let mut fields = vec![
            ("Min", format!("{:.2}", v * 0.9)),
            ("Avg", format!("{v:.2}")),
            ("Max", format!("{:.2}", v * 1.1)),
            ("Flag", "N".to_string()),
        ];
        if i < 3 {
            fields.insert(0, ("Cou", format!("{:.1}", v * 60.0)));
        }
        b = b.factor(code, fields);
    }
    b.build()
}

/// Push `packets` in reads of `read` bytes, decode every frame; returns (packets, fields).
fn pass(framer: &mut Framer, stream: &[u8], read: usize) -> (usize, usize) {
    let cfg = FrameConfig::default();
    let opts = ParseOptions::default();
    let (mut packets, mut fields) = (0, 0);
    for chunk in stream.chunks(read) {
        framer.push(chunk);
        while let Some(ev) = framer.next() {
            let Event::Frame(raw) = ev else { panic!("{ev:?}") };
            let p = decode(&raw, &cfg, &opts).unwrap();
            assert!(p.deviations.is_empty());
            assert!(p.factors().all(|g| g.get(hj212::Field::Avg).and_then(|i| i.number()).is_some()));
            packets += 1;
            fields += p.items().len();
        }
    }
    (packets, fields)
}

#[test]
fn at_most_one_allocation_per_packet() {
    let one = minute_upload(0);
    let seg_len = one.len() - 12;
    assert!(seg_len <= 1024, "{seg_len}");
    let n = 200u32;
    let stream: Vec<u8> = (0..n).flat_map(minute_upload).collect();
    let mut framer = Framer::new(FrameConfig::default());
    for read in [1, 7, 100, 1460, 4096, stream.len()] {
        // Warm: the framer's buffer reaches its working size for reads of this size (a read
        // larger than the buffer grows it once).
        pass(&mut framer, &stream, read);
        let ((packets, fields), allocs) = count(|| pass(&mut framer, &stream, read));
        assert_eq!(packets, n as usize);
        assert!(fields / packets >= 40, "{} fields per packet", fields / packets);
        // Exactly the item vector of each packet.
        assert_eq!(
            allocs,
            packets as u64,
            "reads of {read}: {allocs} allocations for {packets} packets of {} fields",
            fields / packets
        );
    }
}

#[test]
fn a_packet_without_items_allocates_nothing() {
    let b = PacketBuilder::new("9014", "010000A8900016F000169DC0")
        .qn("20160801085857223")
        .st("91")
        .pw("123456")
        .flag(Some(4));
    let stream: Vec<u8> = (0..100).flat_map(|_| b.build()).collect();
    let mut framer = Framer::new(FrameConfig::default());
    pass(&mut framer, &stream, 512);
    let ((packets, _), allocs) = count(|| pass(&mut framer, &stream, 512));
    assert_eq!((packets, allocs), (100, 0));
}
