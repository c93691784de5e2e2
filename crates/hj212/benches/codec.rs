//! Throughput of the HJ 212 codec on a stream of realistic mixed packets fed in 64 KiB reads, side
//! by side with the `a` 0.1.1 crate, and of the CRC alone. See docs/BENCHMARKS.md.
//!
//! `cargo bench -p hj212 --bench codec`

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use common::{Tally, corpus, run_a, run_ours, run_ours_reused};

fn codec(c: &mut Criterion) {
    let corpus = corpus();
    let stream = &corpus.stream[..];
    eprintln!(
        "corpus: {} bytes, {} packets ({} HJ/T 212-2005, {} flue gas; 2011/2051/2061 = {}/{}/{}), \
         {} CP fields, frames {}..={} bytes (mean {})",
        stream.len(),
        corpus.packets,
        corpus.v2005,
        corpus.flue_gas,
        corpus.by_cn[0],
        corpus.by_cn[1],
        corpus.by_cn[2],
        corpus.fields,
        corpus.min_frame,
        corpus.max_frame,
        stream.len() / corpus.packets,
    );

    // Correctness, once, outside the timed loops.
    let ours = run_ours(stream, true);
    assert_eq!(
        ours,
        Tally {
            frames: corpus.packets,
            parsed: corpus.packets,
            rejected: 0,
            fields: corpus.fields,
            deviations: 0
        },
        "our codec must frame, check and parse every packet of the corpus without deviation"
    );
    assert_eq!(run_ours_reused(stream), ours, "decode_into must agree with decode");
    let framed = run_ours(stream, false);
    assert_eq!((framed.frames, framed.rejected), (corpus.packets, 0));
    let theirs = run_a(stream);
    eprintln!(
        "a 0.1.1: {} frames, {} parsed OK, {} rejected, {} CP map entries (ours: {} fields)",
        theirs.frames, theirs.parsed, theirs.rejected, theirs.fields, ours.fields
    );

    let mut g = c.benchmark_group("hj212");
    g.throughput(Throughput::Bytes(stream.len() as u64));
    g.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4)).sample_size(20);
    g.bench_function("ours/frame+crc+parse", |b| b.iter(|| run_ours(black_box(stream), true)));
    g.bench_function("ours/frame+crc+parse (reused buffer)", |b| {
        b.iter(|| run_ours_reused(black_box(stream)))
    });
    g.bench_function("ours/frame+crc", |b| b.iter(|| run_ours(black_box(stream), false)));
    // About 40 times slower: fewer samples keep the run short.
    g.sample_size(10).measurement_time(Duration::from_secs(6));
    g.bench_function("a_0_1_1/framer+parse_frame", |b| b.iter(|| run_a(black_box(stream))));
    g.finish();

    // CRC alone over 1 MiB of packet bytes.
    let mib = &stream[..1 << 20];
    let expected = hj212::crc::crc16_reference(mib);
    assert_eq!(hj212::crc::crc16(mib), expected);
    assert_eq!(a::crc16_ansi(mib), expected);
    let mut g = c.benchmark_group("crc");
    g.throughput(Throughput::Bytes(mib.len() as u64));
    g.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(20);
    g.bench_function("sliced16", |b| b.iter(|| hj212::crc::crc16(black_box(mib))));
    g.bench_function("appendix_a_reference", |b| b.iter(|| hj212::crc::crc16_reference(black_box(mib))));
    g.bench_function("a_0_1_1_crc16_ansi", |b| b.iter(|| a::crc16_ansi(black_box(mib))));
    g.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
