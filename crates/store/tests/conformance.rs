//! The store conformance suite: stories that every backend must pass.
//!
//! Each story is an `async fn(Arc<dyn Store>)` on a freshly migrated, empty store. The backend
//! test functions at the bottom run every story against their backend. SQLite runs always, on a
//! temporary file. A PostgreSQL backend adds one more function there, `postgres()`, which reads
//! `FENHE_TEST_PG_URL` (skipping when it is unset), creates a fresh schema per story and runs
//! the same `STORIES` list.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use fenhe_core::{
    Contact, CrcPolicy, Device, Enterprise, FrameRecord, Limit, Measurement, Outlet, OutletKind, Ownership,
    Protocol, Registry, Values, Verdict,
};
use fenhe_store::sqlite::SqliteStore;
use fenhe_store::writer::{Writer, WriterConfig};
use fenhe_store::{
    Command, CommandStatus, DeviceActivity, FrameCount, FrameQuery, ImportSummary, IngestItem, ItemOutcome,
    MeasurementQuery, NewCommand, Result, Store, StoreError, StoredFrame,
};

// ---------------------------------------------------------------------------------------------
// Builders

const MN1: &str = "88888880000001";
const MN2: &str = "88888880000002";
/// 2024-07-01 00:00 UTC.
const T0: i64 = 1_719_792_000_000;
const MINUTE: i64 = 60_000;

fn registry() -> Registry {
    Registry {
        enterprises: vec![
            Enterprise {
                id: "E01".into(),
                name: "示例焦化有限公司".into(),
                uscc: "91350100M000100Y43".into(),
                ownership: Ownership::ProvincialSoe,
                industry: "coking".into(),
                category: Some("4".into()),
                address: "临汾".into(),
                longitude: Some(111.518_793_1),
                latitude: Some(36.088_005_7),
                contacts: vec![Contact {
                    name: "王工".into(),
                    role: "环保主管".into(),
                    phone: "13800000000".into(),
                }],
                permitted_kg_per_year: BTreeMap::from([
                    ("a21026".into(), 120_000.1),
                    ("a21002".into(), 0.1 + 0.2),
                ]),
            },
            Enterprise {
                id: "E02".into(),
                name: "示例电厂".into(),
                uscc: "91350100M000100Y43".into(),
                ownership: Ownership::CentralSoe,
                industry: "coal_power".into(),
                category: None,
                address: String::new(),
                longitude: None,
                latitude: None,
                contacts: vec![],
                permitted_kg_per_year: BTreeMap::new(),
            },
        ],
        outlets: vec![
            Outlet {
                id: "E01-DA001".into(),
                enterprise: "E01".into(),
                name: "1#焦炉烟囱".into(),
                kind: OutletKind::FlueGas,
                source_type: "coke_oven_chimney".into(),
                reference_o2: Some(8.0),
                standard: "GB 16171-2012 special".into(),
                limits: vec![
                    Limit {
                        factor: "a21026".into(),
                        max: Some(50.0),
                        min: None,
                        effective_from: "2020-01-01".parse().unwrap(),
                    },
                    Limit {
                        factor: "a21026".into(),
                        max: Some(30.0),
                        min: None,
                        effective_from: "2024-07-01".parse().unwrap(),
                    },
                    Limit {
                        factor: "a01001".into(),
                        max: Some(9.0),
                        min: Some(6.0),
                        effective_from: "2019-05-01".parse().unwrap(),
                    },
                ],
            },
            Outlet {
                id: "E02-DW001".into(),
                enterprise: "E02".into(),
                name: "废水总排口".into(),
                kind: OutletKind::Wastewater,
                source_type: "general".into(),
                reference_o2: None,
                standard: String::new(),
                limits: vec![],
            },
        ],
        devices: vec![
            device(MN1, "E01-DA001", vec!["a21026", "a19001"]),
            Device {
                protocol: Protocol::V2005,
                crc: CrcPolicy::ModbusSwapped,
                max_segment_len: 2048,
                rtd_interval_s: 60,
                minute_interval_min: 10,
                hourly: false,
                ..device(MN2, "E02-DW001", vec!["w01018"])
            },
        ],
    }
}

fn device(mn: &str, outlet: &str, factors: Vec<&str>) -> Device {
    Device {
        mn: mn.into(),
        password: "123456".into(),
        outlet: outlet.into(),
        protocol: Protocol::V2017,
        crc: CrcPolicy::Standard,
        max_segment_len: 1024,
        rtd_interval_s: 30,
        minute_interval_min: 1,
        hourly: true,
        factors: factors.into_iter().map(String::from).collect(),
    }
}

fn frame(at: i64, mn: Option<&str>, verdict: Verdict, reason: Option<&str>) -> FrameRecord {
    FrameRecord {
        received_at: at,
        peer: "10.0.0.7:40001".into(),
        mn: mn.map(String::from),
        cn: mn.map(|_| "2051".into()),
        bytes: format!("##0000QN={at};MN={mn:?}").into_bytes(),
        verdict,
        reason: reason.map(String::from),
        deviations: String::new(),
    }
}

fn measurement(mn: &str, cn: &str, data_time: i64, factor: &str, avg: f64) -> Measurement {
    Measurement {
        mn: mn.into(),
        cn: cn.into(),
        data_time,
        factor: factor.into(),
        raw_code: factor.into(),
        values: Values {
            avg: Some(avg),
            min: Some(avg - 1.0),
            max: Some(avg + 1.0),
            flag: Some("N".into()),
            ..Values::default()
        },
    }
}

/// An accepted 2051 upload of `mn` at `data_time` with the given factors and averages.
fn upload(mn: &str, received_at: i64, data_time: i64, factors: &[(&str, f64)]) -> IngestItem {
    IngestItem {
        frame: frame(received_at, Some(mn), Verdict::Accepted, None),
        measurements: factors.iter().map(|(f, v)| measurement(mn, "2051", data_time, f, *v)).collect(),
    }
}

fn outcome(o: &ItemOutcome) -> (u32, u32, u32) {
    (o.inserted, o.duplicates, o.revisions)
}

async fn fresh(store: &Arc<dyn Store>) {
    let r = registry();
    assert_eq!(
        store.import_registry(&r).await.unwrap(),
        ImportSummary { enterprises: 2, outlets: 2, devices: 2 }
    );
}

// ---------------------------------------------------------------------------------------------
// Stories

type Story = fn(Arc<dyn Store>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

macro_rules! stories {
    ($($name:ident),* $(,)?) => {
        const STORIES: &[(&str, Story)] = &[$((stringify!($name), |s| Box::pin($name(s)))),*];
    };
}

stories![
    story,
    registry_round_trip_and_update,
    revisions_and_duplicates,
    frames_inbox_and_counts,
    commands_lifecycle,
    writer_batches_concurrent_submits,
    writer_shutdown_finishes_queued_items,
    invalid_batches_store_nothing,
    import_attempts_are_kept,
];

/// Refused and successful imports are both on record, newest first, with every problem.
async fn import_attempts_are_kept(store: Arc<dyn Store>) {
    assert!(store.imports(10).await.unwrap().is_empty());
    let refused = fenhe_store::ImportRecord {
        at: T0,
        files: vec!["devices.csv".into()],
        ok: false,
        summary: "2 problems; nothing was imported".into(),
        problems: vec![
            "devices.csv:3: protocol: \"2018\" is not 2005, 2017 or 2025".into(),
            "devices.csv:4: mn: is required".into(),
        ],
    };
    let ok = fenhe_store::ImportRecord {
        at: T0 + MINUTE,
        files: vec!["a.toml".into(), "b.csv".into()],
        ok: true,
        summary: "imported 1 enterprises, 1 outlets, 2 devices".into(),
        problems: vec![],
    };
    let a = store.record_import(&refused).await.unwrap();
    let b = store.record_import(&ok).await.unwrap();
    assert!(b > a);
    let got = store.imports(10).await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!((got[0].id, &got[0].record), (b, &ok));
    assert_eq!((got[1].id, &got[1].record), (a, &refused));
    assert_eq!(store.imports(1).await.unwrap().len(), 1);
}

/// A day in the life of the platform, touching every method once.
async fn story(store: Arc<dyn Store>) {
    // The administrator imports the registry; it reads back exactly, sorted.
    fresh(&store).await;
    assert_eq!(store.registry().await.unwrap(), registry());

    // Two devices upload minute data; a stranger and a device with a stale password knock too.
    let items = vec![
        upload(MN1, T0 + 5_000, T0, &[("a21026", 12.5), ("a19001", 20.9)]),
        upload(MN2, T0 + 6_000, T0, &[("w01018", 31.0)]),
        IngestItem {
            frame: frame(T0 + 7_000, Some("99999990000009"), Verdict::Unregistered, Some("auth: unknown MN")),
            measurements: vec![],
        },
        IngestItem {
            frame: frame(T0 + 8_000, Some(MN1), Verdict::WrongPassword, Some("auth: wrong PW")),
            measurements: vec![],
        },
        IngestItem {
            frame: frame(T0 + 9_000, None, Verdict::Rejected, Some("crc: expected 1A2B, got 0000")),
            measurements: vec![],
        },
    ];
    let out = store.write_batch(&items).await.unwrap();
    assert_eq!(out.len(), 5);
    assert_eq!(outcome(&out[0]), (2, 0, 0));
    assert_eq!(outcome(&out[1]), (1, 0, 0));
    assert_eq!(outcome(&out[2]), (0, 0, 0));
    assert!(out.windows(2).all(|w| w[0].frame_id < w[1].frame_id), "{out:?}");

    // MN1 resends the same minute (duplicate), then a corrected value (revision).
    let out = store.write_batch(&[upload(MN1, T0 + 65_000, T0, &[("a21026", 12.5), ("a19001", 20.9)])]).await;
    assert_eq!(outcome(&out.unwrap()[0]), (0, 2, 0));
    let out = store.write_batch(&[upload(MN1, T0 + 70_000, T0, &[("a21026", 13.0), ("a19001", 20.9)])]).await;
    assert_eq!(outcome(&out.unwrap()[0]), (0, 1, 1));
    // And the next minute.
    let out = store.write_batch(&[upload(MN1, T0 + 125_000, T0 + MINUTE, &[("a21026", 14.0)])]).await;
    assert_eq!(outcome(&out.unwrap()[0]), (1, 0, 0));

    // Measurements: all revisions, or the latest only.
    let q = MeasurementQuery { mn: Some(MN1.into()), factor: Some("a21026".into()), ..Default::default() };
    let all = store.measurements(&q).await.unwrap();
    let seen: Vec<_> = all.iter().map(|m| (m.data_time, m.revision, m.values.avg)).collect();
    assert_eq!(seen, vec![(T0, 0, Some(12.5)), (T0, 1, Some(13.0)), (T0 + MINUTE, 0, Some(14.0))]);
    let latest = store.measurements(&MeasurementQuery { latest_only: true, ..q.clone() }).await.unwrap();
    let seen: Vec<_> = latest.iter().map(|m| (m.data_time, m.revision, m.values.avg)).collect();
    assert_eq!(seen, vec![(T0, 1, Some(13.0)), (T0 + MINUTE, 0, Some(14.0))]);

    // The duplicate frame is recorded as such; frames can be listed per device.
    let dup =
        store.frames(&FrameQuery { verdict: Some(Verdict::Duplicate), ..Default::default() }).await.unwrap();
    assert_eq!(dup.len(), 1);
    assert_eq!(dup[0].record.received_at, T0 + 65_000);
    let mine = store.frames(&FrameQuery { mn: Some(MN1.into()), ..Default::default() }).await.unwrap();
    assert_eq!(mine.len(), 5);

    // Counts by verdict and reason kind.
    assert_eq!(
        store.frame_counts().await.unwrap(),
        vec![
            FrameCount { verdict: Verdict::Accepted, reason_kind: String::new(), count: 4 },
            FrameCount { verdict: Verdict::Rejected, reason_kind: "crc".into(), count: 1 },
            FrameCount { verdict: Verdict::Duplicate, reason_kind: String::new(), count: 1 },
            FrameCount { verdict: Verdict::Unregistered, reason_kind: "auth".into(), count: 1 },
            FrameCount { verdict: Verdict::WrongPassword, reason_kind: "auth".into(), count: 1 },
        ]
    );

    // The inbox: the stranger and the stale password, newest first.
    let inbox = store.inbox().await.unwrap();
    let seen: Vec<_> = inbox.iter().map(|e| (e.mn.as_deref(), e.verdict, e.count)).collect();
    assert_eq!(
        seen,
        vec![(Some(MN1), Verdict::WrongPassword, 1), (Some("99999990000009"), Verdict::Unregistered, 1)]
    );

    // Activity and data times.
    assert_eq!(
        store.device_activity().await.unwrap(),
        vec![
            DeviceActivity {
                mn: MN1.into(),
                last_frame_at: Some(T0 + 125_000),
                frames: 5,
                latest: vec![("2051".into(), T0 + MINUTE)],
            },
            DeviceActivity {
                mn: MN2.into(),
                last_frame_at: Some(T0 + 6_000),
                frames: 1,
                latest: vec![("2051".into(), T0)],
            },
        ]
    );
    assert_eq!(store.data_times(MN1, "2051", T0, T0 + 10 * MINUTE).await.unwrap(), vec![T0, T0 + MINUTE]);
    assert_eq!(store.data_times(MN1, "2051", T0 + 1, T0 + 10 * MINUTE).await.unwrap(), vec![T0 + MINUTE]);
    assert_eq!(store.data_times(MN1, "2061", T0, T0 + 10 * MINUTE).await.unwrap(), Vec::<i64>::new());

    // An operator asks MN1 for its clock; the gateway sends it and it completes.
    let id = store.enqueue_command(&cmd(MN1, "1011", T0 + 200_000)).await.unwrap();
    store.update_command(id, CommandStatus::Sent, Some("QN1"), 1, None, T0 + 201_000).await.unwrap();
    store.update_command(id, CommandStatus::Done, None, 1, Some("SystemTime=…"), T0 + 202_000).await.unwrap();
    assert!(store.open_commands(MN1).await.unwrap().is_empty());
    let c = &store.commands(Some(MN1), 10).await.unwrap()[0];
    assert_eq!(
        (c.status, c.qn.as_deref(), c.detail.as_deref()),
        (CommandStatus::Done, Some("QN1"), Some("SystemTime=…"))
    );
}

async fn registry_round_trip_and_update(store: Arc<dyn Store>) {
    // Empty at first.
    assert_eq!(store.registry().await.unwrap(), Registry::default());

    // Imported in any order, read back sorted and bit-exact (floats, CJK text, JSON lists).
    let mut shuffled = registry();
    shuffled.enterprises.reverse();
    shuffled.outlets.reverse();
    shuffled.devices.reverse();
    store.import_registry(&shuffled).await.unwrap();
    assert_eq!(store.registry().await.unwrap(), registry());

    // Re-import with changes: fields change, limits and permits are replaced, nothing duplicates.
    let mut changed = registry();
    changed.enterprises[0].name = "示例焦化股份有限公司".into();
    changed.enterprises[0].permitted_kg_per_year = BTreeMap::from([("a21026".into(), 99_000.0)]);
    changed.enterprises[0].contacts.push(Contact { name: "李四".into(), ..Contact::default() });
    changed.outlets[0].limits.truncate(1);
    changed.outlets[0].limits[0].max = Some(35.0);
    changed.devices[0].password = "654321".into();
    changed.devices[0].factors.push("a01014".into());
    store.import_registry(&changed).await.unwrap();
    assert_eq!(store.registry().await.unwrap(), changed);

    // A partial import adds a device to an existing outlet and keeps everything else.
    let extra = Registry {
        devices: vec![device("88888880000003", "E01-DA001", vec!["a21026"])],
        ..Registry::default()
    };
    assert_eq!(
        store.import_registry(&extra).await.unwrap(),
        ImportSummary { enterprises: 0, outlets: 0, devices: 1 }
    );
    let now = store.registry().await.unwrap();
    assert_eq!(now.devices.len(), 3);
    assert_eq!(now.devices[2].mn, "88888880000003");
    assert_eq!((now.enterprises, now.outlets), (changed.enterprises, changed.outlets));

    // A device of an unknown outlet is refused, and the whole import with it.
    let bad = Registry {
        devices: vec![
            device("88888880000004", "E01-DA001", vec![]),
            device("88888880000005", "nope", vec![]),
        ],
        ..Registry::default()
    };
    match store.import_registry(&bad).await {
        Err(StoreError::Invalid(m)) => assert!(m.contains("devices[1].outlet"), "{m}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(store.registry().await.unwrap().devices.len(), 3);

    // Registering a device makes its measurements storable.
    let late = store.write_batch(&[upload("88888880000003", T0, T0, &[("a21026", 1.0)])]).await.unwrap();
    assert_eq!(outcome(&late[0]), (1, 0, 0));
}

async fn revisions_and_duplicates(store: Arc<dyn Store>) {
    fresh(&store).await;
    let values = Values {
        rtd: Some(1.0),
        min: Some(0.5),
        avg: Some(0.75),
        max: Some(1.25),
        cou: Some(123.456_789),
        zs_rtd: Some(2.0),
        zs_min: Some(1.5),
        zs_avg: Some(1.75),
        zs_max: Some(2.25),
        flag: Some("N".into()),
        eflag: Some("B01".into()),
        sample_time: Some("20240701000000".into()),
    };
    let mut m = measurement(MN1, "2061", T0, "a21026", 0.0);
    m.values = values.clone();
    m.raw_code = "02".into(); // a 2005 code
    let item = |at: i64, m: Measurement| IngestItem {
        frame: frame(at, Some(MN1), Verdict::Accepted, None),
        measurements: vec![m],
    };

    // Within one batch: new, identical (duplicate), different (revision 1), back to the first
    // values (revision 2: compared with the latest, not with every revision).
    let mut changed = m.clone();
    changed.values.eflag = None;
    let out = store
        .write_batch(&[
            item(T0 + 1, m.clone()),
            item(T0 + 2, m.clone()),
            item(T0 + 3, changed.clone()),
            item(T0 + 4, m.clone()),
        ])
        .await
        .unwrap();
    let seen: Vec<_> = out.iter().map(outcome).collect();
    assert_eq!(seen, vec![(1, 0, 0), (0, 1, 0), (0, 0, 1), (0, 0, 1)]);

    // Across batches: identical to the latest is a duplicate; each numeric field counts.
    let out = store.write_batch(&[item(T0 + 5, m.clone())]).await.unwrap();
    assert_eq!(outcome(&out[0]), (0, 1, 0));
    for change in [
        (|v: &mut Values| v.rtd = None) as fn(&mut Values),
        |v| v.cou = Some(123.456_789_000_1),
        |v| v.zs_max = Some(-2.25),
        |v| v.sample_time = Some("20240701000100".into()),
    ] {
        let mut next = m.clone();
        change(&mut next.values);
        let out = store.write_batch(&[item(T0 + 6, next)]).await.unwrap();
        assert_eq!(outcome(&out[0]), (0, 0, 1));
    }

    let q = MeasurementQuery { mn: Some(MN1.into()), cn: Some("2061".into()), ..Default::default() };
    let all = store.measurements(&q).await.unwrap();
    assert_eq!(all.iter().map(|m| m.revision).collect::<Vec<_>>(), vec![0, 1, 2, 3, 4, 5, 6]);
    // Everything reads back exactly, including the raw code and where it came from.
    assert_eq!(all[0].values, values);
    assert_eq!(all[0].raw_code, "02");
    assert_eq!(all[0].factor, "a21026");
    assert_eq!(all[0].cn, "2061");
    assert_eq!(all[0].received_at, T0 + 1);
    assert_eq!(all[0].frame_id, out_frame_id(&store, T0 + 1).await);
    assert_eq!(all[1].values, changed.values);
    assert_eq!(all[2].values, values);

    let latest = store.measurements(&MeasurementQuery { latest_only: true, ..q.clone() }).await.unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].revision, 6);
    assert_eq!(latest[0].values.sample_time.as_deref(), Some("20240701000100"));

    // The duplicate frames were stored as such; frames with a new revision stay accepted.
    let dups = store.frames(&FrameQuery { verdict: Some(Verdict::Duplicate), ..Default::default() }).await;
    assert_eq!(dups.unwrap().iter().map(|f| f.record.received_at).collect::<Vec<_>>(), vec![T0 + 2, T0 + 5]);

    // A frame with some new and some duplicate factors stays accepted.
    let a = measurement(MN1, "2051", T0, "a21026", 1.0);
    let b = measurement(MN1, "2051", T0, "a19001", 2.0);
    store
        .write_batch(&[IngestItem {
            frame: frame(T0 + 10, Some(MN1), Verdict::Accepted, None),
            measurements: vec![a.clone()],
        }])
        .await
        .unwrap();
    let out = store
        .write_batch(&[IngestItem {
            frame: frame(T0 + 11, Some(MN1), Verdict::Accepted, None),
            measurements: vec![a, b],
        }])
        .await
        .unwrap();
    assert_eq!(outcome(&out[0]), (1, 1, 0));
    let f = store
        .frames(&FrameQuery { after_id: Some(out[0].frame_id - 1), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(f[0].record.verdict, Verdict::Accepted);

    // Filters: factor, time range, limit, unknown device / CN.
    let range = MeasurementQuery {
        mn: Some(MN1.into()),
        from: Some(T0),
        to: Some(T0 + 1),
        factor: Some("a19001".into()),
        ..Default::default()
    };
    let got = store.measurements(&range).await.unwrap();
    assert_eq!(
        got.iter().map(|m| (m.cn.as_str(), m.factor.as_str())).collect::<Vec<_>>(),
        vec![("2051", "a19001")]
    );
    assert!(
        store.measurements(&MeasurementQuery { to: Some(T0), ..range.clone() }).await.unwrap().is_empty()
    );
    let limited =
        store.measurements(&MeasurementQuery { limit: Some(2), ..Default::default() }).await.unwrap();
    assert_eq!(limited.len(), 2);
    let nobody = MeasurementQuery { mn: Some("nobody".into()), ..Default::default() };
    assert!(store.measurements(&nobody).await.unwrap().is_empty());
    let odd_cn = MeasurementQuery { cn: Some("20x1".into()), ..Default::default() };
    assert!(store.measurements(&odd_cn).await.unwrap().is_empty());
}

async fn out_frame_id(store: &Arc<dyn Store>, received_at: i64) -> i64 {
    let q = FrameQuery { from: Some(received_at), to: Some(received_at + 1), ..Default::default() };
    let f = store.frames(&q).await.unwrap();
    assert_eq!(f.len(), 1);
    f[0].id
}

async fn frames_inbox_and_counts(store: Arc<dyn Store>) {
    fresh(&store).await;
    assert!(store.inbox().await.unwrap().is_empty());
    assert!(store.frame_counts().await.unwrap().is_empty());
    assert!(store.frames(&FrameQuery::default()).await.unwrap().is_empty());

    let stranger = "99999990000009";
    let mut items = Vec::new();
    for i in 0..3 {
        let mut f = frame(T0 + i * 1000, Some(stranger), Verdict::Unregistered, Some("auth: unknown MN"));
        f.peer = format!("10.0.0.9:{}", 5000 + i);
        f.bytes = format!("stranger {i}").into_bytes();
        items.push(IngestItem { frame: f, measurements: vec![] });
    }
    for i in 0..2 {
        items.push(IngestItem {
            frame: frame(T0 + 500 + i * 1000, Some(MN2), Verdict::WrongPassword, Some("auth: PW 111111")),
            measurements: vec![],
        });
    }
    // No MN readable: grouped per peer.
    for (i, peer) in ["10.1.1.1:1", "10.1.1.1:1", "10.2.2.2:2"].into_iter().enumerate() {
        let mut f = frame(T0 + 100 + i as i64, None, Verdict::Unregistered, Some("auth: no MN"));
        f.peer = peer.into();
        items.push(IngestItem { frame: f, measurements: vec![] });
    }
    let mut deviant = frame(T0 + 50, Some(MN1), Verdict::Accepted, None);
    deviant.deviations = "crc-modbus,no-flag".into();
    items.push(IngestItem { frame: deviant.clone(), measurements: vec![] });
    items.push(IngestItem {
        frame: frame(T0 + 60, None, Verdict::Rejected, Some("crc: mismatch")),
        measurements: vec![],
    });
    items.push(IngestItem {
        frame: frame(T0 + 61, None, Verdict::Rejected, Some("crc: mismatch")),
        measurements: vec![],
    });
    items.push(IngestItem {
        frame: frame(T0 + 62, None, Verdict::Rejected, Some("syntax: no CP at byte 40")),
        measurements: vec![],
    });
    items.push(IngestItem {
        frame: frame(T0 + 63, None, Verdict::Rejected, Some("framing")),
        measurements: vec![],
    });
    let out = store.write_batch(&items).await.unwrap();
    assert!(out.iter().all(|o| outcome(o) == (0, 0, 0)));

    let inbox = store.inbox().await.unwrap();
    let seen: Vec<_> = inbox
        .iter()
        .map(|e| (e.mn.as_deref(), e.verdict, e.count, e.first_seen, e.last_seen, e.last_peer.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (Some(stranger), Verdict::Unregistered, 3, T0, T0 + 2000, "10.0.0.9:5002"),
            (Some(MN2), Verdict::WrongPassword, 2, T0 + 500, T0 + 1500, "10.0.0.7:40001"),
            (None, Verdict::Unregistered, 1, T0 + 102, T0 + 102, "10.2.2.2:2"),
            (None, Verdict::Unregistered, 2, T0 + 100, T0 + 101, "10.1.1.1:1"),
        ]
    );
    assert_eq!(inbox[0].last_frame, b"stranger 2");

    // Once the stranger is registered, its entry leaves the inbox.
    let reg = Registry { devices: vec![device(stranger, "E01-DA001", vec![])], ..Registry::default() };
    store.import_registry(&reg).await.unwrap();
    let inbox = store.inbox().await.unwrap();
    assert_eq!(inbox.len(), 3);
    assert!(inbox.iter().all(|e| e.mn.as_deref() != Some(stranger)));

    let counts: Vec<_> = store
        .frame_counts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.verdict, c.reason_kind, c.count))
        .collect();
    assert_eq!(
        counts,
        vec![
            (Verdict::Accepted, String::new(), 1),
            (Verdict::Rejected, "crc".into(), 2),
            (Verdict::Rejected, "framing".into(), 1),
            (Verdict::Rejected, "syntax".into(), 1),
            (Verdict::Unregistered, "auth".into(), 6),
            (Verdict::WrongPassword, "auth".into(), 2),
        ]
    );

    // Frames read back exactly; filters and paging.
    let all = store.frames(&FrameQuery::default()).await.unwrap();
    assert_eq!(all.len(), items.len());
    assert_eq!(
        all.iter().map(|f| &f.record).collect::<Vec<_>>(),
        items.iter().map(|i| &i.frame).collect::<Vec<_>>()
    );
    assert!(all.windows(2).all(|w| w[0].id < w[1].id));
    let page = |after_id, limit| FrameQuery { after_id, limit: Some(limit), ..Default::default() };
    let p1 = store.frames(&page(None, 4)).await.unwrap();
    let p2 = store.frames(&page(Some(p1[3].id), 4)).await.unwrap();
    assert_eq!(p1.iter().chain(&p2).cloned().collect::<Vec<StoredFrame>>(), all[..8].to_vec());
    let newest =
        store.frames(&FrameQuery { newest_first: true, limit: Some(2), ..Default::default() }).await.unwrap();
    assert_eq!(newest.iter().map(|f| f.id).collect::<Vec<_>>(), vec![all[12].id, all[11].id]);
    let rejected = FrameQuery { verdict: Some(Verdict::Rejected), ..Default::default() };
    assert_eq!(store.frames(&rejected).await.unwrap().len(), 4);
    let accepted = FrameQuery { verdict: Some(Verdict::Accepted), ..Default::default() };
    assert_eq!(store.frames(&accepted).await.unwrap()[0].record, deviant);
    let window = FrameQuery { from: Some(T0 + 60), to: Some(T0 + 63), ..Default::default() };
    assert_eq!(store.frames(&window).await.unwrap().len(), 3);
    let of_mn2 = FrameQuery { mn: Some(MN2.into()), ..Default::default() };
    assert_eq!(store.frames(&of_mn2).await.unwrap().len(), 2);

    // Activity counts frames of any verdict per registered MN; devices without traffic show too.
    let act = store.device_activity().await.unwrap();
    let seen: Vec<_> = act.iter().map(|a| (a.mn.as_str(), a.frames, a.last_frame_at)).collect();
    assert_eq!(
        seen,
        vec![(MN1, 1, Some(T0 + 50)), (MN2, 2, Some(T0 + 1500)), (stranger, 3, Some(T0 + 2000))]
    );
    assert!(act.iter().all(|a| a.latest.is_empty()));
}

fn cmd(mn: &str, cn: &str, at: i64) -> NewCommand {
    NewCommand {
        mn: mn.into(),
        cn: cn.into(),
        cp: "PolId=a21026".into(),
        origin: "operator:admin".into(),
        created_at: at,
    }
}

async fn commands_lifecycle(store: Arc<dyn Store>) {
    fresh(&store).await;
    assert!(store.commands(None, 10).await.unwrap().is_empty());
    let a = store.enqueue_command(&cmd(MN1, "1011", T0)).await.unwrap();
    let b = store.enqueue_command(&cmd(MN1, "3020", T0 + 1)).await.unwrap();
    let c = store.enqueue_command(&cmd(MN2, "1011", T0 + 2)).await.unwrap();
    assert!(a < b && b < c);

    let open = store.open_commands(MN1).await.unwrap();
    assert_eq!(
        open[0],
        Command {
            id: a,
            new: cmd(MN1, "1011", T0),
            qn: None,
            status: CommandStatus::Queued,
            attempts: 0,
            updated_at: T0,
            detail: None,
        }
    );
    assert_eq!(open.iter().map(|c| c.id).collect::<Vec<_>>(), vec![a, b]);

    // a: sent, accepted (9011), done (9012). b: sent twice, timed out. c: cancelled.
    store.update_command(a, CommandStatus::Sent, Some("20240701000000001"), 1, None, T0 + 10).await.unwrap();
    store.update_command(a, CommandStatus::Accepted, None, 1, Some("QnRtn=1"), T0 + 11).await.unwrap();
    let open = store.open_commands(MN1).await.unwrap();
    assert_eq!(open[0].status, CommandStatus::Accepted);
    assert_eq!(open[0].qn.as_deref(), Some("20240701000000001"));
    assert_eq!(open[0].detail.as_deref(), Some("QnRtn=1"));
    assert_eq!(open[0].updated_at, T0 + 11);
    store.update_command(a, CommandStatus::Done, None, 1, Some("ExeRtn=1"), T0 + 12).await.unwrap();
    store.update_command(b, CommandStatus::Sent, Some("Q2"), 1, None, T0 + 20).await.unwrap();
    store.update_command(b, CommandStatus::Sent, Some("Q3"), 2, None, T0 + 30).await.unwrap();
    store.update_command(b, CommandStatus::TimedOut, None, 2, Some("no answer"), T0 + 40).await.unwrap();
    store.update_command(c, CommandStatus::Cancelled, None, 0, None, T0 + 50).await.unwrap();

    assert!(store.open_commands(MN1).await.unwrap().is_empty());
    assert!(store.open_commands(MN2).await.unwrap().is_empty());
    let all = store.commands(None, 10).await.unwrap();
    let seen: Vec<_> = all.iter().map(|c| (c.id, c.status, c.attempts, c.qn.as_deref())).collect();
    assert_eq!(
        seen,
        vec![
            (c, CommandStatus::Cancelled, 0, None),
            (b, CommandStatus::TimedOut, 2, Some("Q3")),
            (a, CommandStatus::Done, 1, Some("20240701000000001")),
        ]
    );
    assert!(all.iter().all(|c| c.status.is_final()));
    assert_eq!(store.commands(Some(MN1), 1).await.unwrap()[0].id, b);
    assert_eq!(store.commands(Some(MN2), 10).await.unwrap().len(), 1);

    match store.update_command(9999, CommandStatus::Done, None, 0, None, T0).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

async fn writer_batches_concurrent_submits(store: Arc<dyn Store>) {
    fresh(&store).await;
    let w = Writer::spawn(
        store.clone(),
        WriterConfig { max_batch: 64, max_wait: Duration::from_millis(2), queue: 128 },
    );
    // 400 concurrent submitters, 200 data times × 2 devices, each minute sent twice.
    let mut tasks = Vec::new();
    for i in 0..400i64 {
        let w = w.clone();
        let (mn, dt) = if i % 2 == 0 { (MN1, T0 + (i / 4) * MINUTE) } else { (MN2, T0 + (i / 4) * MINUTE) };
        tasks.push(tokio::spawn(async move {
            w.submit(upload(mn, T0 + i, dt, &[("a21026", 1.0), ("a19001", 2.0)])).await
        }));
    }
    let mut total = (0, 0, 0);
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        let o = t.await.unwrap().unwrap();
        assert!(ids.insert(o.frame_id));
        total.0 += o.inserted;
        total.1 += o.duplicates;
        total.2 += o.revisions;
    }
    assert_eq!(total, (400, 400, 0));
    let dup = store.frames(&FrameQuery { verdict: Some(Verdict::Duplicate), ..Default::default() }).await;
    assert_eq!(dup.unwrap().len(), 200);
    assert_eq!(store.measurements(&MeasurementQuery::default()).await.unwrap().len(), 400);

    // A store whose writes fail: every submitter of the batch gets the error.
    let failing = Arc::new(Failing { inner: store.clone(), fail: AtomicBool::new(true) });
    let w = Writer::spawn(
        failing.clone(),
        WriterConfig { max_wait: Duration::from_millis(20), ..WriterConfig::default() },
    );
    let tasks: Vec<_> = (0..10i64)
        .map(|i| {
            let w = w.clone();
            tokio::spawn(async move {
                w.submit(upload(MN1, T0 + i, T0 + 1_000 * MINUTE, &[("a21026", 1.0)])).await
            })
        })
        .collect();
    for t in tasks {
        match t.await.unwrap() {
            Err(StoreError::BatchFailed(e)) => assert!(matches!(*e, StoreError::Unsupported(_)), "{e}"),
            other => panic!("expected BatchFailed, got {other:?}"),
        }
    }
    // Nothing of the failed batches was stored, and the writer keeps going once the store does.
    let none = MeasurementQuery { from: Some(T0 + 1_000 * MINUTE), ..Default::default() };
    assert!(store.measurements(&none).await.unwrap().is_empty());
    failing.fail.store(false, Ordering::SeqCst);
    let o = w.submit(upload(MN1, T0, T0 + 1_000 * MINUTE, &[("a21026", 1.0)])).await.unwrap();
    assert_eq!(outcome(&o), (1, 0, 0));
    w.shutdown().await;
    assert!(matches!(w.submit(upload(MN1, T0, T0, &[])).await, Err(StoreError::WriterGone)));
}

async fn writer_shutdown_finishes_queued_items(store: Arc<dyn Store>) {
    fresh(&store).await;
    let w =
        Writer::spawn(store.clone(), WriterConfig { max_batch: 8, max_wait: Duration::ZERO, queue: 1024 });
    let tasks: Vec<_> = (0..100i64)
        .map(|i| {
            let w = w.clone();
            tokio::spawn(
                async move { w.submit(upload(MN1, T0 + i, T0 + i * MINUTE, &[("a21026", 1.0)])).await },
            )
        })
        .collect();
    // Let the submitters queue up, then shut down: everything queued is still written.
    tokio::task::yield_now().await;
    while w.queued() == 0 && !tasks.iter().all(|t| t.is_finished()) {
        tokio::task::yield_now().await;
    }
    w.shutdown().await;
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(StoreError::WriterGone) => {} // submitted after the shutdown
            Err(e) => panic!("{e}"),
        }
    }
    assert!(ok > 0);
    assert_eq!(store.measurements(&MeasurementQuery::default()).await.unwrap().len(), ok);

    // Dropping every handle also ends the writer after its queue is written.
    let w = Writer::spawn(store.clone(), WriterConfig::default());
    let late = w.clone();
    let t = tokio::spawn(async move { late.submit(upload(MN2, T0, T0, &[("w01018", 7.0)])).await });
    drop(w);
    assert_eq!(outcome(&t.await.unwrap().unwrap()), (1, 0, 0));
}

async fn invalid_batches_store_nothing(store: Arc<dyn Store>) {
    fresh(&store).await;
    assert!(store.write_batch(&[]).await.unwrap().is_empty());
    let good = upload(MN1, T0, T0, &[("a21026", 1.0)]);
    let stranger = upload("99999990000009", T0, T0, &[("a21026", 1.0)]);
    match store.write_batch(&[good.clone(), stranger]).await {
        Err(StoreError::Invalid(m)) => assert!(m.contains("99999990000009"), "{m}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    let mut odd = good.clone();
    odd.measurements[0].cn = "2O51".into();
    assert!(matches!(store.write_batch(&[good.clone(), odd]).await, Err(StoreError::Invalid(_))));
    assert!(store.frames(&FrameQuery::default()).await.unwrap().is_empty());
    assert!(store.frame_counts().await.unwrap().is_empty());
    assert!(store.measurements(&MeasurementQuery::default()).await.unwrap().is_empty());
    // The same item on its own is fine, with a factor code the store had not seen before.
    let mut new_factor = good.clone();
    new_factor.measurements.push(measurement(MN1, "2051", T0, "a99999", 3.0));
    let out = store.write_batch(&[new_factor]).await.unwrap();
    assert_eq!(outcome(&out[0]), (2, 0, 0));
    assert_eq!(out[0].frame_id, 1);
}

/// A store that fails `write_batch` while `fail` is set and otherwise delegates.
struct Failing {
    inner: Arc<dyn Store>,
    fail: AtomicBool,
}

#[async_trait]
impl Store for Failing {
    async fn record_import(&self, r: &fenhe_store::ImportRecord) -> Result<i64> {
        self.inner.record_import(r).await
    }
    async fn imports(&self, limit: u32) -> Result<Vec<fenhe_store::StoredImport>> {
        self.inner.imports(limit).await
    }
    async fn migrate(&self) -> Result<()> {
        self.inner.migrate().await
    }
    async fn import_registry(&self, r: &Registry) -> Result<ImportSummary> {
        self.inner.import_registry(r).await
    }
    async fn registry(&self) -> Result<Registry> {
        self.inner.registry().await
    }
    async fn write_batch(&self, items: &[IngestItem]) -> Result<Vec<ItemOutcome>> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Unsupported("disk on fire".into()));
        }
        self.inner.write_batch(items).await
    }
    async fn measurements(&self, q: &MeasurementQuery) -> Result<Vec<fenhe_store::StoredMeasurement>> {
        self.inner.measurements(q).await
    }
    async fn frames(&self, q: &FrameQuery) -> Result<Vec<StoredFrame>> {
        self.inner.frames(q).await
    }
    async fn frame_counts(&self) -> Result<Vec<FrameCount>> {
        self.inner.frame_counts().await
    }
    async fn inbox(&self) -> Result<Vec<fenhe_store::InboxEntry>> {
        self.inner.inbox().await
    }
    async fn device_activity(&self) -> Result<Vec<DeviceActivity>> {
        self.inner.device_activity().await
    }
    async fn data_times(&self, mn: &str, cn: &str, from: i64, to: i64) -> Result<Vec<i64>> {
        self.inner.data_times(mn, cn, from, to).await
    }
    async fn enqueue_command(&self, c: &NewCommand) -> Result<i64> {
        self.inner.enqueue_command(c).await
    }
    async fn open_commands(&self, mn: &str) -> Result<Vec<Command>> {
        self.inner.open_commands(mn).await
    }
    async fn update_command(
        &self,
        id: i64,
        status: CommandStatus,
        qn: Option<&str>,
        attempts: u32,
        detail: Option<&str>,
        at: i64,
    ) -> Result<()> {
        self.inner.update_command(id, status, qn, attempts, detail, at).await
    }
    async fn commands(&self, mn: Option<&str>, limit: u32) -> Result<Vec<Command>> {
        self.inner.commands(mn, limit).await
    }
}

// ---------------------------------------------------------------------------------------------
// Backends

async fn sqlite_file(dir: &tempfile::TempDir, name: &str) -> SqliteStore {
    let path = dir.path().join(format!("{name}.db"));
    let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    store.migrate().await.unwrap();
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    for (name, story) in STORIES {
        eprintln!("sqlite: {name}");
        let store = Arc::new(sqlite_file(&dir, name).await);
        story(store.clone()).await;
        store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_in_memory() {
    for (name, story) in STORIES {
        eprintln!("sqlite::memory: {name}");
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        store.migrate().await.unwrap();
        story(Arc::new(store)).await;
    }
}

// PostgreSQL: add `async fn postgres()` here, running every entry of `STORIES` against a fresh
// schema when FENHE_TEST_PG_URL is set (and returning early when it is not).

// ---------------------------------------------------------------------------------------------
// SQLite specifics

/// What the gateway acknowledged survives the process going away without any close: write
/// through the writer, drop everything, reopen the file.
#[test]
fn sqlite_durable_without_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("durable.db");
    let path = path.to_str().unwrap().to_string();

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let acked = rt.block_on(async {
        let store: Arc<dyn Store> = fenhe_store::open(&path).await.unwrap();
        fresh(&store).await;
        let w = Writer::spawn(store.clone(), WriterConfig::default());
        let tasks: Vec<_> = (0..50i64)
            .map(|i| {
                let w = w.clone();
                tokio::spawn(async move {
                    w.submit(upload(MN1, T0 + i, T0 + i * MINUTE, &[("a21026", i as f64)])).await
                })
            })
            .collect();
        let mut acked = 0;
        for t in tasks {
            t.await.unwrap().unwrap();
            acked += 1;
        }
        acked
        // store, writer and handles are simply dropped here
    });
    drop(rt);
    assert!(std::path::Path::new(&format!("{path}-wal")).exists() || std::path::Path::new(&path).exists());

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let store = fenhe_store::open(&format!("sqlite://{path}")).await.unwrap();
        let m = store.measurements(&MeasurementQuery::default()).await.unwrap();
        assert_eq!(m.len(), acked);
        assert_eq!(m[49].values.avg, Some(49.0));
        assert_eq!(store.registry().await.unwrap(), registry());
    });
}

#[tokio::test]
async fn sqlite_open_forms_and_pragmas() {
    let dir = tempfile::tempdir().unwrap();
    // A plain path to a file that does not exist yet, in a directory that does.
    let plain = dir.path().join("plain.db");
    let s = SqliteStore::open(plain.to_str().unwrap()).await.unwrap();
    s.migrate().await.unwrap();
    s.migrate().await.unwrap(); // idempotent
    assert!(plain.exists());
    s.close().await;
    let url = format!("sqlite://{}", dir.path().join("url.db").display());
    let s = fenhe_store::open(&url).await.unwrap();
    assert!(s.registry().await.unwrap().devices.is_empty());
    assert!(fenhe_store::open("sqlite::memory:").await.is_ok());
    assert!(matches!(SqliteStore::open("").await, Err(StoreError::Invalid(_))));
    assert!(matches!(fenhe_store::open("postgres://x/y").await, Err(StoreError::Unsupported(_))));

    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .connect_with(
            sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("url.db")).read_only(true),
        )
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&pool).await.unwrap();
    assert_eq!(mode, "wal");
    let strict: Vec<(String, i64)> =
        sqlx::query_as("SELECT name, strict FROM pragma_table_list WHERE schema = 'main' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(strict.len() >= 10, "{strict:?}");
    assert!(strict.iter().all(|(_, s)| *s == 1), "not STRICT: {strict:?}");
}

/// A store whose pool was closed fails the batch, and every submitter of it hears so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writer_reports_a_closed_pool() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(sqlite_file(&dir, "closed").await);
    fresh(&(store.clone() as Arc<dyn Store>)).await;
    store.close().await;
    let w = Writer::spawn(
        store.clone(),
        WriterConfig { max_wait: Duration::from_millis(20), ..Default::default() },
    );
    let tasks: Vec<_> = (0..5i64)
        .map(|i| {
            let w = w.clone();
            tokio::spawn(async move { w.submit(upload(MN1, T0 + i, T0, &[("a21026", 1.0)])).await })
        })
        .collect();
    for t in tasks {
        match t.await.unwrap() {
            Err(StoreError::BatchFailed(e)) => {
                assert!(matches!(*e, StoreError::Database(sqlx::Error::PoolClosed)), "{e}")
            }
            other => panic!("expected BatchFailed, got {other:?}"),
        }
    }
    w.shutdown().await;
}

/// The queries behind ingest and the charts use the primary key, not a scan.
#[tokio::test]
async fn sqlite_query_plans_use_indexes() {
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_file(&dir, "plans").await;
    store.close().await;
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("plans.db")))
        .await
        .unwrap();
    let plan = |sql: &'static str| {
        let pool = pool.clone();
        async move {
            let rows: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
                    .fetch_all(&pool)
                    .await
                    .unwrap();
            rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join(" | ")
        }
    };
    let p = plan(
        "SELECT m.revision FROM json_each('[[1,2051,0]]') AS k CROSS JOIN measurements AS m \
         ON m.device_id = k.value ->> 0 AND m.cn = k.value ->> 1 AND m.data_time = k.value ->> 2",
    )
    .await;
    assert!(p.contains("SEARCH m USING PRIMARY KEY (device_id=? AND cn=? AND data_time=?)"), "{p}");
    let p = plan(
        "SELECT m.data_time FROM measurements m JOIN devices d ON d.id = m.device_id \
         WHERE d.mn = 'x' AND m.cn = 2051 AND m.data_time >= 0 AND m.data_time < 10",
    )
    .await;
    assert!(
        p.contains("SEARCH m USING PRIMARY KEY (device_id=? AND cn=? AND data_time>? AND data_time<?)"),
        "{p}"
    );
    let p =
        plan("SELECT id FROM frames WHERE verdict = 'rejected' AND verdict <> 'accepted' ORDER BY id").await;
    assert!(p.contains("frames_notable"), "{p}");
}
