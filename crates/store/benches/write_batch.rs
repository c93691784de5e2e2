//! Ingest write throughput on SQLite (a file in a temporary directory, WAL, synchronous=FULL).
//!
//! `cargo bench -p fenhe-store --bench write_batch`
//!
//! - `write_batch/new/256x10`: one call with 256 packets × 10 factors of new data (the steady
//!   state: every packet carries a DataTime not stored yet). Throughput in measurements.
//! - `write_batch/resent/256x10`: the same packets again (all duplicates: the lookup path).
//! - `writer/new/2560x10`: 2560 packets submitted concurrently through the batching writer,
//!   each waiting for its commit. Throughput in packets.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fenhe_core::{
    CrcPolicy, Device, Enterprise, FrameRecord, Measurement, Outlet, OutletKind, Ownership, Protocol,
    Registry, Values, Verdict,
};
use fenhe_store::IngestItem;
use fenhe_store::prelude::*;
use fenhe_store::sqlite::SqliteStore;
use fenhe_store::writer::{Writer, WriterConfig};

const DEVICES: usize = 1000;
const FACTORS: [&str; 10] =
    ["a21026", "a21002", "a34013", "a19001", "a01011", "a01012", "a01013", "a01014", "a00000", "a21005"];
const PACKETS: usize = 256;
const T0: i64 = 1_719_792_000_000;

fn mn(i: usize) -> String {
    format!("8888888{i:07}")
}

fn registry() -> Registry {
    Registry {
        enterprises: vec![Enterprise {
            id: "E01".into(),
            name: "bench".into(),
            uscc: "91350100M000100Y43".into(),
            ownership: Ownership::Private,
            industry: "coking".into(),
            category: None,
            address: String::new(),
            longitude: None,
            latitude: None,
            contacts: vec![],
            permitted_kg_per_year: Default::default(),
        }],
        outlets: vec![Outlet {
            id: "E01-DA001".into(),
            enterprise: "E01".into(),
            name: "chimney".into(),
            kind: OutletKind::FlueGas,
            source_type: "coke_oven_chimney".into(),
            reference_o2: Some(8.0),
            standard: String::new(),
            limits: vec![],
        }],
        devices: (0..DEVICES)
            .map(|i| Device {
                mn: mn(i),
                password: "123456".into(),
                outlet: "E01-DA001".into(),
                protocol: Protocol::V2017,
                crc: CrcPolicy::Standard,
                max_segment_len: 1024,
                rtd_interval_s: 30,
                minute_interval_min: 1,
                hourly: true,
                factors: FACTORS.iter().map(|f| f.to_string()).collect(),
            })
            .collect(),
    }
}

/// Packet `seq` of the run: device `seq % DEVICES`, its own minute `seq / DEVICES`.
fn packet(seq: i64) -> IngestItem {
    let device = mn(seq as usize % DEVICES);
    let data_time = T0 + (seq / DEVICES as i64) * 60_000;
    let bytes = format!(
        "##0800QN=20240701000000000;ST=31;CN=2051;PW=123456;MN={device};Flag=5;CP=&&DataTime=...&&4C80\r\n"
    );
    IngestItem {
        frame: FrameRecord {
            received_at: data_time + 5_000,
            peer: format!("10.0.{}.{}:40001", seq % 250, seq % 200),
            mn: Some(device.clone()),
            cn: Some("2051".into()),
            bytes: bytes.into_bytes(),
            verdict: Verdict::Accepted,
            reason: None,
            deviations: String::new(),
        },
        measurements: FACTORS
            .iter()
            .enumerate()
            .map(|(k, f)| {
                let v = (seq as f64) * 0.01 + k as f64;
                Measurement {
                    mn: device.clone(),
                    cn: "2051".into(),
                    data_time,
                    factor: f.to_string(),
                    raw_code: f.to_string(),
                    values: Values {
                        min: Some(v - 0.5),
                        avg: Some(v),
                        max: Some(v + 0.5),
                        cou: Some(v * 60.0),
                        zs_avg: Some(v * 1.1),
                        flag: Some("N".into()),
                        ..Values::default()
                    },
                }
            })
            .collect(),
    }
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let store: Arc<dyn Store> = rt.block_on(async {
        let s = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
        s.migrate().await.unwrap();
        s.import_registry(&registry()).await.unwrap();
        Arc::new(s)
    });
    let seq = Arc::new(AtomicI64::new(0));

    let mut g = c.benchmark_group("write_batch");
    g.throughput(Throughput::Elements((PACKETS * FACTORS.len()) as u64));
    g.sample_size(30).measurement_time(Duration::from_secs(10));
    g.bench_function(BenchmarkId::new("new", "256x10"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = seq.fetch_add(PACKETS as i64, Ordering::Relaxed);
                let items: Vec<_> = (start..start + PACKETS as i64).map(packet).collect();
                let t = Instant::now();
                let out = rt.block_on(store.write_batch(&items)).unwrap();
                total += t.elapsed();
                assert_eq!(out[0].inserted, FACTORS.len() as u32);
            }
            total
        })
    });
    let resent: Vec<_> = (0..PACKETS as i64).map(packet).collect();
    g.bench_function(BenchmarkId::new("resent", "256x10"), |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                let out = rt.block_on(store.write_batch(&resent)).unwrap();
                assert_eq!(out[0].duplicates, FACTORS.len() as u32);
            }
            t.elapsed()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("writer");
    const SUBMITS: usize = 10 * PACKETS;
    g.throughput(Throughput::Elements(SUBMITS as u64));
    g.sample_size(20).measurement_time(Duration::from_secs(15));
    let writer = rt.block_on(async { Writer::spawn(store.clone(), WriterConfig::default()) });
    g.bench_function(BenchmarkId::new("new", "2560x10"), |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = seq.fetch_add(SUBMITS as i64, Ordering::Relaxed);
                let items: Vec<_> = (start..start + SUBMITS as i64).map(packet).collect();
                let w = writer.clone();
                total += rt.block_on(async move {
                    let t = Instant::now();
                    let tasks: Vec<_> = items
                        .into_iter()
                        .map(|item| {
                            let w = w.clone();
                            tokio::spawn(async move { w.submit(item).await })
                        })
                        .collect();
                    for task in tasks {
                        task.await.unwrap().unwrap();
                    }
                    t.elapsed()
                });
            }
            total
        })
    });
    g.finish();
    rt.block_on(writer.shutdown());
}

criterion_group!(write_batch, benches);
criterion_main!(write_batch);
