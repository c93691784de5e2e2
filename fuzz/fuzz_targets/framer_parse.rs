//! A byte stream through the Framer in reads of fuzzed sizes, every frame decoded with every
//! option set, rebuilt, replied to and merged. The first input byte picks the read sizes and
//! the framing configuration.
#![no_main]

use hj212::split::Merger;
use hj212_fuzz::{CONFIGS, Seen, run_stream};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, stream)) = data.split_first() else { return };
    let cfg = CONFIGS[usize::from(sel >> 6)];
    // Read sizes 1..=16 in a pattern picked by the low bits, then the whole stream at once.
    let base = usize::from(sel & 0x0f) + 1;
    let cuts = [base, 1, base * 3 + 1, 2, usize::from(sel & 0x30) + 5];
    let mut merger = Merger::new(4);
    let chunked = run_stream(stream, &cuts, cfg, &mut merger);
    let whole = run_stream(stream, &[stream.len().max(1)], cfg, &mut Merger::new(4));
    // Frames and rejections do not depend on the read sizes (their terminator bytes may).
    let project = |v: &[Seen]| -> Vec<(u64, bool, Option<Vec<u8>>)> {
        v.iter()
            .map(|s| match s {
                Seen::Frame { offset, segment, accepted } => (*offset, *accepted, Some(segment.clone())),
                Seen::Rejected { offset, .. } => (*offset, false, None),
            })
            .collect()
    };
    assert_eq!(project(&chunked), project(&whole), "events depend on read sizes");
});
