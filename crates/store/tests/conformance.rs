//! The store conformance suite: stories that every backend must pass.
//!
//! Each story is an `async fn(Arc<dyn Store>)` on a freshly migrated, empty store. `stories!`
//! makes one test per story per backend: `on_sqlite::NAME` (a temporary file),
//! `on_sqlite_memory::NAME` and `on_postgres::NAME`, which runs in a schema of its own on the
//! database of `FENHE_TEST_PG_URL` and skips (saying so) when that is unset.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use fenhe_core::access::Role;
use fenhe_core::compliance as cpl;
use fenhe_core::compliance::{
    Aggregate, AlarmDraft, DataKind, Emission, Episode, Evaluation, Finding, FindingKind, Invalidity, Period,
    Rate, Severity, time,
};
use fenhe_core::{
    Contact, CrcPolicy, Device, Enterprise, FrameRecord, Limit, Measurement, Outlet, OutletKind, Ownership,
    Protocol, Registry, Values, Verdict,
};
use fenhe_store::postgres::PgStore;
use fenhe_store::prelude::*;
use fenhe_store::sqlite::SqliteStore;
use fenhe_store::writer::{Writer, WriterConfig};
use fenhe_store::{
    AggregateQuery, AlarmQuery, AlarmStatus, AlarmSync, DirtyDay, EmissionQuery, EpisodeQuery, FindingQuery,
    RateQuery,
};
use fenhe_store::{
    AuditEntry, AuditQuery, Department, NewAuditEntry, NewToken, NewUser, Session, SignInAttempt,
};
use fenhe_store::{
    Command, CommandStatus, DeviceActivity, FrameCount, FrameQuery, ImportSummary, IngestItem, ItemOutcome,
    Lease, MeasurementQuery, NewCommand, Result, Store, StoreError, StoredCounts, StoredFrame,
};
use fenhe_store::{Item, ItemChange, ItemFields, ItemQuery, NewItem, NewStep, Step, StepOutcome};

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

/// The list of stories, and one test per story per backend (`on_sqlite::story`,
/// `on_sqlite_memory::story`, `on_postgres::story`, …), so that one failing story hides no other
/// and the tests of one backend run in parallel.
macro_rules! stories {
    ($($name:ident),* $(,)?) => {
        #[allow(dead_code)]
        const STORIES: &[(&str, Story)] = &[$((stringify!($name), |s| Box::pin($name(s)))),*];

        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::on_sqlite_file(stringify!($name), |s| Box::pin(super::$name(s))).await;
                }
            )*
        }

        mod on_sqlite_memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::on_sqlite_memory(|s| Box::pin(super::$name(s))).await;
                }
            )*
        }

        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::on_postgres(stringify!($name), |s| Box::pin(super::$name(s))).await;
                }
            )*
        }
    };
}

stories![
    story,
    registry_round_trip_and_update,
    revisions_and_duplicates,
    late_revisions_wait_for_the_bureau,
    frames_inbox_and_counts,
    commands_lifecycle,
    device_secrets_read_back_as_written,
    writer_batches_concurrent_submits,
    writer_shutdown_finishes_queued_items,
    invalid_batches_store_nothing,
    import_attempts_are_kept,
    dirty_days_follow_writes,
    days_marked_dirty_outside_a_batch,
    evaluation_replaces_its_window,
    episodes_and_findings_replace_what_they_touch,
    monthly_results,
    result_queries_filter,
    alarm_lifecycle,
    alarm_lists_filter_page_and_count,
    engine_state_round_trip,
    compliance_records_latest,
    alarm_changes_check_what_they_were_decided_from,
    leases_grant_renew_expire_and_release,
    two_holders_racing_for_a_lease,
    stored_counts_follow_writes,
    accounts_users_and_departments,
    api_tokens_lifecycle,
    sessions_lifecycle,
    sign_in_failures_per_account_and_address,
    audit_log_appends_and_filters,
    workflow_items_are_numbered_per_kind,
    workflow_steps_append_in_order,
    workflow_stale_steps_write_nothing,
    workflow_lists_filter_page_and_count,
    workflow_files_stored_once,
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
    let inbox = whole_inbox(&store).await;
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
    assert_eq!((&now.enterprises, &now.outlets), (&changed.enterprises, &changed.outlets));

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

    // A confirmed 1072 changes one device's password and nothing else.
    assert!(store.set_device_password("88888880000003", "246810").await.unwrap());
    assert!(!store.set_device_password("nobody", "246810").await.unwrap());
    let after = store.registry().await.unwrap();
    assert_eq!(after.devices[2].password, "246810");
    assert_eq!(after.devices[..2], changed.devices[..]);
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

/// Evidence cannot be quietly rewritten: a changed value within the revision window of the
/// record's first receipt is a revision, a later one is kept as a pending revision that changes
/// nothing until approved; approving stores it as the next revision and marks its day dirty;
/// history that fills a gap is stored whatever its age.
async fn late_revisions_wait_for_the_bureau(store: Arc<dyn Store>) {
    fresh(&store).await;
    store.set_ingest_rules(fenhe_store::IngestRules::default());
    let latest = |store: Arc<dyn Store>| async move {
        let q = MeasurementQuery {
            mn: Some(MN1.into()),
            from: Some(T0),
            to: Some(T0 + 1),
            latest_only: true,
            ..Default::default()
        };
        let m = store.measurements(&q).await.unwrap();
        assert_eq!(m.len(), 1);
        (m[0].values.avg, m[0].revision)
    };
    let o = store.write_batch(&[upload(MN1, T0, T0, &[("a21026", 10.0)])]).await.unwrap();
    assert_eq!(outcome(&o[0]), (1, 0, 0));
    // Five minutes later: the logger's own correction.
    let o = store.write_batch(&[upload(MN1, T0 + 5 * MINUTE, T0, &[("a21026", 11.0)])]).await.unwrap();
    assert_eq!((outcome(&o[0]), o[0].pending), ((0, 0, 1), 0));
    let taken = store.dirty_days(100).await.unwrap();
    store.clear_dirty(&taken).await.unwrap();

    // Twenty minutes after the first receipt: kept aside, the judged value stands.
    let late = store.write_batch(&[upload(MN1, T0 + 20 * MINUTE, T0, &[("a21026", 12.0)])]).await.unwrap();
    assert_eq!((outcome(&late[0]), late[0].pending), ((0, 0, 0), 1));
    assert!(!late[0].is_duplicate());
    assert_eq!(latest(store.clone()).await, (Some(11.0), 1));
    assert!(store.dirty_days(100).await.unwrap().is_empty(), "a pending revision marks nothing dirty");
    let q = FrameQuery { after_id: Some(late[0].frame_id - 1), limit: Some(1), ..Default::default() };
    let frame = store.frames(&q).await.unwrap();
    assert_eq!(frame[0].record.verdict, Verdict::Accepted, "the frame is kept as received");
    // History filling a gap is new data, whatever its age; an identical re-send a duplicate.
    let o = store
        .write_batch(&[upload(MN1, T0 + 30 * MINUTE, T0 - 60 * MINUTE, &[("a21026", 9.0)])])
        .await
        .unwrap();
    assert_eq!(outcome(&o[0]), (1, 0, 0));
    let o = store.write_batch(&[upload(MN1, T0 + 31 * MINUTE, T0, &[("a21026", 11.0)])]).await.unwrap();
    assert_eq!((outcome(&o[0]), o[0].pending), ((0, 1, 0), 0));
    store.clear_dirty(&store.dirty_days(100).await.unwrap()).await.unwrap();

    let pending = fenhe_store::RevisionQuery {
        status: Some(fenhe_store::RevisionStatus::Pending),
        ..Default::default()
    };
    let listed = store.pending_revisions(&pending).await.unwrap();
    assert_eq!(listed.len(), 1);
    let p = &listed[0];
    assert_eq!((p.mn.as_str(), p.cn.as_str(), p.data_time, p.factor.as_str()), (MN1, "2051", T0, "a21026"));
    assert_eq!((p.values.avg, p.frame_id, p.received_at), (Some(12.0), late[0].frame_id, T0 + 20 * MINUTE));
    assert_eq!(
        (p.status, p.decided_by.as_deref(), p.revision),
        (fenhe_store::RevisionStatus::Pending, None, None)
    );

    // Approved: the next revision, its day dirty for the engine.
    let approved = store
        .decide_revision(p.id, fenhe_store::RevisionDecision::Approve, "cli", None, T0 + 40 * MINUTE)
        .await
        .unwrap();
    assert_eq!(
        (approved.status, approved.revision, approved.decided_by.as_deref(), approved.decided_at),
        (fenhe_store::RevisionStatus::Approved, Some(2), Some("cli"), Some(T0 + 40 * MINUTE))
    );
    assert_eq!(latest(store.clone()).await, (Some(12.0), 2));
    let dirty = store.dirty_days(100).await.unwrap();
    assert_eq!(
        dirty.iter().map(|d| (d.mn.as_str(), d.day_start)).collect::<Vec<_>>(),
        [(MN1, time::day_start(T0))]
    );
    match store.decide_revision(p.id, fenhe_store::RevisionDecision::Reject, "cli", None, T0).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("approved"), "{m}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert!(matches!(
        store.decide_revision(p.id + 100, fenhe_store::RevisionDecision::Approve, "cli", None, T0).await,
        Err(StoreError::NotFound(_))
    ));

    // Rejected: kept with its reason, the stored value stands.
    store.write_batch(&[upload(MN1, T0 + 50 * MINUTE, T0, &[("a21026", 13.0)])]).await.unwrap();
    let second = store.pending_revisions(&pending).await.unwrap();
    assert_eq!(second.len(), 1);
    let rejected = store
        .decide_revision(
            second[0].id,
            fenhe_store::RevisionDecision::Reject,
            "auditor",
            Some("sensor swap"),
            T0 + 60 * MINUTE,
        )
        .await
        .unwrap();
    assert_eq!(
        (rejected.status, rejected.reason.as_deref(), rejected.revision),
        (fenhe_store::RevisionStatus::Rejected, Some("sensor swap"), None)
    );
    assert_eq!(latest(store.clone()).await, (Some(12.0), 2));
    let all = store.pending_revisions(&fenhe_store::RevisionQuery::default()).await.unwrap();
    assert_eq!(all.iter().map(|r| r.status.name()).collect::<Vec<_>>(), ["approved", "rejected"]);
    let mine = fenhe_store::RevisionQuery { mn: Some(MN2.into()), ..Default::default() };
    assert!(store.pending_revisions(&mine).await.unwrap().is_empty());
}

async fn out_frame_id(store: &Arc<dyn Store>, received_at: i64) -> i64 {
    let q = FrameQuery { from: Some(received_at), to: Some(received_at + 1), ..Default::default() };
    let f = store.frames(&q).await.unwrap();
    assert_eq!(f.len(), 1);
    f[0].id
}

/// Every entry of the inbox, read in pages of two (so that paging is exercised), checked against
/// its count.
async fn whole_inbox(store: &Arc<dyn Store>) -> Vec<fenhe_store::InboxEntry> {
    let mut all = Vec::new();
    loop {
        let q = fenhe_store::InboxQuery { mn: None, limit: 2, offset: all.len() as u64 };
        let page = store.inbox(&q).await.unwrap();
        assert!(page.len() <= 2);
        let done = page.len() < 2;
        all.extend(page);
        if done {
            break;
        }
    }
    assert_eq!(store.inbox_count().await.unwrap(), all.len() as u64);
    all
}

async fn frames_inbox_and_counts(store: Arc<dyn Store>) {
    fresh(&store).await;
    assert!(whole_inbox(&store).await.is_empty());
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
    // One outcome per item (an empty list would pass the check below vacuously).
    assert_eq!(out.len(), items.len());
    assert!(out.iter().all(|o| outcome(o) == (0, 0, 0)));

    let inbox = whole_inbox(&store).await;
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
    // One sender's entries, and a page past the end.
    let q = fenhe_store::InboxQuery { mn: Some(MN2.into()), limit: 10, offset: 0 };
    let mine = store.inbox(&q).await.unwrap();
    assert_eq!(mine, vec![inbox[1].clone()]);
    let q = fenhe_store::InboxQuery { mn: None, limit: 10, offset: 4 };
    assert!(store.inbox(&q).await.unwrap().is_empty());

    // Once the stranger is registered, its entry leaves the inbox.
    let reg = Registry { devices: vec![device(stranger, "E01-DA001", vec![])], ..Registry::default() };
    store.import_registry(&reg).await.unwrap();
    let inbox = whole_inbox(&store).await;
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
    let older =
        FrameQuery { newest_first: true, before_id: Some(all[11].id), limit: Some(2), ..Default::default() };
    let older = store.frames(&older).await.unwrap();
    assert_eq!(older.iter().map(|f| f.id).collect::<Vec<_>>(), vec![all[10].id, all[9].id]);
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

    // Per MN and verdict since a time: frames without an MN are not counted, earlier ones not.
    let by_mn = |since| {
        let store = store.clone();
        async move {
            store
                .frame_counts_by_mn(since)
                .await
                .unwrap()
                .into_iter()
                .map(|c| (c.mn, c.verdict, c.count))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        by_mn(T0).await,
        vec![
            (MN1.to_string(), Verdict::Accepted, 1),
            (MN2.to_string(), Verdict::WrongPassword, 2),
            (stranger.to_string(), Verdict::Unregistered, 3),
        ]
    );
    assert_eq!(
        by_mn(T0 + 1000).await,
        vec![(MN2.to_string(), Verdict::WrongPassword, 1), (stranger.to_string(), Verdict::Unregistered, 2)]
    );
    assert!(by_mn(T0 + 2001).await.is_empty());

    // A later batch adds to the tallies it continues.
    let mut more = frame(T0 + 9000, Some(MN2), Verdict::WrongPassword, Some("auth: PW 222222"));
    more.peer = "10.0.0.8:1".into();
    more.bytes = b"again".to_vec();
    store.write_batch(&[IngestItem { frame: more, measurements: vec![] }]).await.unwrap();
    let inbox = whole_inbox(&store).await;
    let top = &inbox[0];
    assert_eq!(
        (top.mn.as_deref(), top.count, top.first_seen, top.last_seen, top.last_peer.as_str()),
        (Some(MN2), 3, T0 + 500, T0 + 9000, "10.0.0.8:1")
    );
    assert_eq!(top.last_frame, b"again");
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

/// Device passwords and a 1072's new password are sealed at rest by every backend
/// (`fenhe_store::secrets`); through the store they read back as written, for the gateway.
async fn device_secrets_read_back_as_written(store: Arc<dyn Store>) {
    fresh(&store).await;
    let r = store.registry().await.unwrap();
    assert_eq!(r.device(MN1).unwrap().password, registry().device(MN1).unwrap().password);
    assert!(store.set_device_password(MN1, "n3w-pw").await.unwrap());
    assert!(!store.set_device_password("NOPE", "x").await.unwrap());
    assert_eq!(store.registry().await.unwrap().device(MN1).unwrap().password, "n3w-pw");
    let set = NewCommand { cp: "NewPW=s3cr3t".into(), ..cmd(MN1, "1072", T0) };
    let id = store.enqueue_command(&set).await.unwrap();
    let other = store.enqueue_command(&cmd(MN1, "1011", T0 + 1)).await.unwrap();
    let open = store.open_commands(MN1).await.unwrap();
    assert_eq!(
        open.iter().map(|c| (c.id, c.new.cp.as_str())).collect::<Vec<_>>(),
        [(id, "NewPW=s3cr3t"), (other, cmd(MN1, "1011", T0 + 1).cp.as_str())]
    );
    assert_eq!(store.commands(Some(MN1), 10).await.unwrap()[1].new, set);
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

    // A finished command keeps its status; nothing goes back to the queue.
    match store.update_command(a, CommandStatus::Sent, Some("Q9"), 2, None, T0 + 60).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("done"), "{m}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert!(matches!(
        store.update_command(c, CommandStatus::Queued, None, 0, None, T0 + 60).await,
        Err(StoreError::Conflict(_))
    ));
    match store.update_command(9999, CommandStatus::Done, None, 0, None, T0).await {
        Err(StoreError::NotFound(_)) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
}

async fn writer_batches_concurrent_submits(store: Arc<dyn Store>) {
    fresh(&store).await;
    let w = Writer::spawn(
        store.clone(),
        WriterConfig { max_batch: 64, max_wait: Duration::from_millis(2), queue: 128, floor: None },
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
    let w = Writer::spawn(
        store.clone(),
        WriterConfig { max_batch: 8, max_wait: Duration::ZERO, queue: 1024, floor: None },
    );
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
impl fenhe_store::IngestStore for Failing {
    async fn write_batch(&self, items: &[IngestItem]) -> Result<Vec<ItemOutcome>> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Unsupported("disk on fire".into()));
        }
        self.inner.write_batch(items).await
    }
    async fn measurements(&self, q: &MeasurementQuery) -> Result<Vec<fenhe_store::StoredMeasurement>> {
        self.inner.measurements(q).await
    }
    fn set_ingest_rules(&self, rules: fenhe_store::IngestRules) {
        self.inner.set_ingest_rules(rules)
    }
    async fn pending_revisions(
        &self,
        q: &fenhe_store::RevisionQuery,
    ) -> Result<Vec<fenhe_store::PendingRevision>> {
        self.inner.pending_revisions(q).await
    }
    async fn decide_revision(
        &self,
        id: i64,
        decision: fenhe_store::RevisionDecision,
        by: &str,
        reason: Option<&str>,
        at: i64,
    ) -> Result<fenhe_store::PendingRevision> {
        self.inner.decide_revision(id, decision, by, reason, at).await
    }
    async fn frames(&self, q: &FrameQuery) -> Result<Vec<StoredFrame>> {
        self.inner.frames(q).await
    }
    async fn frame_counts(&self) -> Result<Vec<FrameCount>> {
        self.inner.frame_counts().await
    }
    async fn frame_counts_by_mn(&self, since: i64) -> Result<Vec<fenhe_store::MnFrameCount>> {
        self.inner.frame_counts_by_mn(since).await
    }
    async fn inbox(&self, q: &fenhe_store::InboxQuery) -> Result<Vec<fenhe_store::InboxEntry>> {
        self.inner.inbox(q).await
    }
    async fn inbox_count(&self) -> Result<u64> {
        self.inner.inbox_count().await
    }
    async fn device_activity(&self) -> Result<Vec<DeviceActivity>> {
        self.inner.device_activity().await
    }
    async fn data_times(&self, mn: &str, cn: &str, from: i64, to: i64) -> Result<Vec<i64>> {
        self.inner.data_times(mn, cn, from, to).await
    }
    async fn stored_counts(&self, cn: Option<&str>) -> Result<fenhe_store::StoredCounts> {
        self.inner.stored_counts(cn).await
    }
}

#[async_trait]
impl fenhe_store::RegistryStore for Failing {
    async fn import_registry(&self, r: &Registry) -> Result<ImportSummary> {
        self.inner.import_registry(r).await
    }
    async fn registry(&self) -> Result<Registry> {
        self.inner.registry().await
    }
    async fn record_import(&self, r: &fenhe_store::ImportRecord) -> Result<i64> {
        self.inner.record_import(r).await
    }
    async fn imports(&self, limit: u32) -> Result<Vec<fenhe_store::StoredImport>> {
        self.inner.imports(limit).await
    }
    async fn set_device_password(&self, mn: &str, password: &str) -> Result<bool> {
        self.inner.set_device_password(mn, password).await
    }
}

#[async_trait]
impl fenhe_store::CommandStore for Failing {
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

#[async_trait]
impl fenhe_store::ResultStore for Failing {
    async fn dirty_days(&self, limit: u32) -> Result<Vec<fenhe_store::DirtyDay>> {
        self.inner.dirty_days(limit).await
    }
    async fn clear_dirty(&self, done: &[fenhe_store::DirtyDay]) -> Result<()> {
        self.inner.clear_dirty(done).await
    }
    async fn mark_all_dirty(&self) -> Result<u64> {
        self.inner.mark_all_dirty().await
    }
    async fn mark_dirty(&self, mn: &str, day_starts: &[i64]) -> Result<u64> {
        self.inner.mark_dirty(mn, day_starts).await
    }
    async fn save_evaluation(&self, mn: &str, from: i64, to: i64, ev: &cpl::Evaluation) -> Result<()> {
        self.inner.save_evaluation(mn, from, to, ev).await
    }
    async fn replace_episodes(&self, mn: &str, from: i64, to: i64, e: &[cpl::Episode]) -> Result<()> {
        self.inner.replace_episodes(mn, from, to, e).await
    }
    async fn replace_findings(
        &self,
        mn: &str,
        from: i64,
        to: i64,
        kinds: Option<&[cpl::FindingKind]>,
        findings: &[cpl::Finding],
    ) -> Result<()> {
        self.inner.replace_findings(mn, from, to, kinds, findings).await
    }
    async fn save_monthly(
        &self,
        mn: &str,
        month_start: i64,
        emissions: &[cpl::Emission],
        rates: &[cpl::Rate],
        findings: &[cpl::Finding],
    ) -> Result<()> {
        self.inner.save_monthly(mn, month_start, emissions, rates, findings).await
    }
    async fn aggregates(&self, q: &fenhe_store::AggregateQuery) -> Result<Vec<cpl::Aggregate>> {
        self.inner.aggregates(q).await
    }
    async fn episodes(&self, q: &fenhe_store::EpisodeQuery) -> Result<Vec<cpl::Episode>> {
        self.inner.episodes(q).await
    }
    async fn findings(&self, q: &fenhe_store::FindingQuery) -> Result<Vec<cpl::Finding>> {
        self.inner.findings(q).await
    }
    async fn emissions(&self, q: &fenhe_store::EmissionQuery) -> Result<Vec<cpl::Emission>> {
        self.inner.emissions(q).await
    }
    async fn rates(&self, q: &fenhe_store::RateQuery) -> Result<Vec<cpl::Rate>> {
        self.inner.rates(q).await
    }
    async fn data_hours(&self, from: i64, to: i64) -> Result<Vec<(String, i64)>> {
        self.inner.data_hours(from, to).await
    }
    async fn engine_state(&self, name: &str) -> Result<Option<String>> {
        self.inner.engine_state(name).await
    }
    async fn set_engine_state(&self, name: &str, value: &str) -> Result<()> {
        self.inner.set_engine_state(name, value).await
    }
    async fn compliance_records(&self, mn: &str, from: i64, to: i64) -> Result<Vec<cpl::Record>> {
        self.inner.compliance_records(mn, from, to).await
    }
}

#[async_trait]
impl fenhe_store::AlarmStore for Failing {
    async fn alarms_to_reconcile(
        &self,
        window: fenhe_core::alarm::AlarmWindow<'_>,
        keys: &[&str],
    ) -> Result<Vec<fenhe_store::Alarm>> {
        self.inner.alarms_to_reconcile(window, keys).await
    }
    async fn apply_alarm_changes(&self, changes: &[fenhe_core::alarm::AlarmChange]) -> Result<()> {
        self.inner.apply_alarm_changes(changes).await
    }
    async fn alarms(&self, q: &fenhe_store::AlarmQuery) -> Result<Vec<fenhe_store::Alarm>> {
        self.inner.alarms(q).await
    }
    async fn count_alarms(&self, q: &fenhe_store::AlarmQuery) -> Result<u64> {
        self.inner.count_alarms(q).await
    }
    async fn alarm(&self, id: i64) -> Result<Option<fenhe_store::Alarm>> {
        self.inner.alarm(id).await
    }
}

#[async_trait]
impl fenhe_store::LeaseStore for Failing {
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_ms: i64,
    ) -> Result<Option<fenhe_store::Lease>> {
        self.inner.try_lease(name, holder, now, ttl_ms).await
    }
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool> {
        self.inner.release_lease(name, holder).await
    }
}

#[async_trait]
impl fenhe_store::AccountStore for Failing {
    async fn create_user(&self, u: &fenhe_store::NewUser) -> Result<fenhe_store::User> {
        self.inner.create_user(u).await
    }
    async fn user(&self, username: &str) -> Result<Option<fenhe_store::User>> {
        self.inner.user(username).await
    }
    async fn users(&self) -> Result<Vec<fenhe_store::User>> {
        self.inner.users().await
    }
    async fn set_password_hash(&self, username: &str, hash: &str, at: i64) -> Result<bool> {
        self.inner.set_password_hash(username, hash, at).await
    }
    async fn set_user_active(&self, username: &str, active: bool, at: i64) -> Result<bool> {
        self.inner.set_user_active(username, active, at).await
    }
    async fn create_token(&self, t: &fenhe_store::NewToken) -> Result<fenhe_store::ApiToken> {
        self.inner.create_token(t).await
    }
    async fn token(&self, id: i64) -> Result<Option<fenhe_store::ApiToken>> {
        self.inner.token(id).await
    }
    async fn token_by_hash(&self, token_hash: &str) -> Result<Option<fenhe_store::ApiToken>> {
        self.inner.token_by_hash(token_hash).await
    }
    async fn tokens(&self, username: Option<&str>) -> Result<Vec<fenhe_store::ApiToken>> {
        self.inner.tokens(username).await
    }
    async fn touch_token(&self, id: i64, at: i64) -> Result<()> {
        self.inner.touch_token(id, at).await
    }
    async fn revoke_token(&self, id: i64, at: i64) -> Result<bool> {
        self.inner.revoke_token(id, at).await
    }
    async fn departments(&self) -> Result<Vec<fenhe_store::Department>> {
        self.inner.departments().await
    }
    async fn upsert_department(&self, d: &fenhe_store::Department) -> Result<()> {
        self.inner.upsert_department(d).await
    }
    async fn set_demo_password(&self, username: &str, password: &str) -> Result<()> {
        self.inner.set_demo_password(username, password).await
    }
    async fn demo_passwords(&self) -> Result<Vec<(String, String)>> {
        self.inner.demo_passwords().await
    }
}

#[async_trait]
impl fenhe_store::SessionStore for Failing {
    async fn create_session(&self, s: &fenhe_store::Session) -> Result<()> {
        self.inner.create_session(s).await
    }
    async fn session(&self, token_hash: &str) -> Result<Option<fenhe_store::Session>> {
        self.inner.session(token_hash).await
    }
    async fn touch_session(&self, token_hash: &str, last_seen_at: i64, expires_at: i64) -> Result<bool> {
        self.inner.touch_session(token_hash, last_seen_at, expires_at).await
    }
    async fn delete_session(&self, token_hash: &str) -> Result<bool> {
        self.inner.delete_session(token_hash).await
    }
    async fn delete_user_sessions(&self, username: &str, except: Option<&str>) -> Result<u64> {
        self.inner.delete_user_sessions(username, except).await
    }
    async fn delete_expired_sessions(&self, now: i64) -> Result<u64> {
        self.inner.delete_expired_sessions(now).await
    }
}

#[async_trait]
impl fenhe_store::SignInStore for Failing {
    async fn record_sign_in(&self, a: &fenhe_store::SignInAttempt) -> Result<()> {
        self.inner.record_sign_in(a).await
    }
    async fn sign_in_failures(
        &self,
        username: &str,
        address: &str,
        since: i64,
    ) -> Result<fenhe_core::sign_in_throttle::RecentFailures> {
        self.inner.sign_in_failures(username, address, since).await
    }
    async fn forget_sign_ins(&self, before: i64) -> Result<u64> {
        self.inner.forget_sign_ins(before).await
    }
}

#[async_trait]
impl fenhe_store::AuditStore for Failing {
    async fn append_audit(&self, e: &fenhe_store::NewAuditEntry) -> Result<i64> {
        self.inner.append_audit(e).await
    }
    async fn audit(&self, q: &fenhe_store::AuditQuery) -> Result<Vec<fenhe_store::AuditEntry>> {
        self.inner.audit(q).await
    }
    async fn audit_count(&self, q: &fenhe_store::AuditQuery) -> Result<u64> {
        self.inner.audit_count(q).await
    }
}

#[async_trait]
impl fenhe_store::WorkflowStore for Failing {
    async fn create_item(&self, item: &fenhe_store::NewItem) -> Result<i64> {
        self.inner.create_item(item).await
    }
    async fn item(&self, kind: &str, id: i64) -> Result<Option<fenhe_store::Item>> {
        self.inner.item(kind, id).await
    }
    async fn items_by_id(&self, kind: &str, ids: &[i64]) -> Result<Vec<fenhe_store::Item>> {
        self.inner.items_by_id(kind, ids).await
    }
    async fn steps(&self, kind: &str, id: i64) -> Result<Vec<fenhe_store::Step>> {
        self.inner.steps(kind, id).await
    }
    async fn items(&self, q: &fenhe_store::ItemQuery) -> Result<Vec<fenhe_store::Item>> {
        self.inner.items(q).await
    }
    async fn count_items(&self, q: &fenhe_store::ItemQuery) -> Result<u64> {
        self.inner.count_items(q).await
    }
    async fn apply_step(
        &self,
        kind: &str,
        id: i64,
        change: &fenhe_store::ItemChange,
    ) -> Result<fenhe_store::StepOutcome> {
        self.inner.apply_step(kind, id, change).await
    }
    async fn mark_escalated(&self, kind: &str, id: i64, at: i64) -> Result<()> {
        self.inner.mark_escalated(kind, id, at).await
    }
    async fn put_file(
        &self,
        name: &str,
        content_type: &str,
        enterprise: &str,
        bytes: &[u8],
        now: i64,
    ) -> Result<fenhe_store::StoredFile> {
        self.inner.put_file(name, content_type, enterprise, bytes, now).await
    }
    async fn file_info(&self, sha256: &str) -> Result<Option<fenhe_store::StoredFile>> {
        self.inner.file_info(sha256).await
    }
    async fn file(&self, sha256: &str) -> Result<Option<(fenhe_store::StoredFile, Vec<u8>)>> {
        self.inner.file(sha256).await
    }
}

#[async_trait]
impl fenhe_store::Migrate for Failing {
    async fn migrate(&self) -> Result<()> {
        self.inner.migrate().await
    }
}

// ---------------------------------------------------------------------------------------------
// Compliance results and alarms

/// 00:00 China time on 2024-07-01 (= 2024-06-30 16:00 UTC): the day T0 lies in.
const D0: i64 = T0 - 8 * HOUR;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

fn agg(mn: &str, period: Period, start: i64, factor: &str, mean: f64, exceeds: bool) -> Aggregate {
    Aggregate {
        mn: mn.into(),
        outlet: if mn == MN1 { "E01-DA001".into() } else { "E02-DW001".into() },
        factor: factor.into(),
        period,
        start,
        mean: Some(mean),
        converted_mean: Some(mean * 1.25),
        min: Some(mean - 1.0),
        max: None,
        valid_units: 45,
        records: 60,
        valid: mean >= 0.0,
        reason: (mean < 0.0).then_some(Invalidity::InsufficientCoverage),
        limit: Some(30.0),
        limit_min: None,
        exceeds,
    }
}

fn episode(mn: &str, factor: &str, start: i64, end: i64) -> Episode {
    Episode {
        mn: mn.into(),
        outlet: "E01-DA001".into(),
        factor: factor.into(),
        period: Period::Hour,
        start,
        end,
        periods: ((end - start) / HOUR) as u32,
        max_converted: 45.5,
        max_multiple: 0.5166,
        limit: 30.0,
        open: false,
    }
}

fn finding(mn: &str, kind: FindingKind, factor: Option<&str>, start: i64, end: i64) -> Finding {
    Finding {
        mn: mn.into(),
        factor: factor.map(String::from),
        kind,
        start,
        end,
        detail: format!("{} from {start}", kind.name()),
        detail_zh: kind.name_zh().into(),
        open: false,
    }
}

fn emission(mn: &str, period: Period, start: i64, factor: &str, kg: f64) -> Emission {
    Emission {
        mn: mn.into(),
        outlet: "E01-DA001".into(),
        factor: factor.into(),
        period,
        start,
        kg,
        records: 60,
        from_cou: false,
    }
}

fn rate(mn: &str, period: Period, start: i64, compliance: Option<f64>) -> Rate {
    Rate {
        mn: mn.into(),
        outlet: "E01-DA001".into(),
        period,
        start,
        expected: 2880,
        received: 2800,
        valid: 2700,
        transmission: 2800.0 / 2880.0,
        validity: 2700.0 / 2880.0,
        effective_transmission: (2800.0 / 2880.0) * (2700.0 / 2880.0),
        compliance,
        judged_hours: 24,
        exceeding_hours: 2,
    }
}

/// A day of MN1's results: two hours of two factors, the day, an episode, a finding, emissions
/// and the day's rate.
fn day_evaluation(day: i64, scale: f64) -> Evaluation {
    Evaluation {
        hours: vec![
            agg(MN1, Period::Hour, day, "a21026", 10.0 * scale, false),
            agg(MN1, Period::Hour, day + HOUR, "a21026", 40.0 * scale, true),
            agg(MN1, Period::Hour, day, "a19001", 9.0, false),
            agg(MN1, Period::Hour, day + HOUR, "a19001", -1.0, false),
        ],
        days: vec![agg(MN1, Period::Day, day, "a21026", 25.0 * scale, false)],
        episodes: vec![episode(MN1, "a21026", day + HOUR, day + 2 * HOUR)],
        findings: vec![finding(
            MN1,
            FindingKind::ConstantValue,
            Some("a19001"),
            day + 3 * HOUR,
            day + 5 * HOUR,
        )],
        emissions: vec![
            emission(MN1, Period::Hour, day, "a21026", 1.5 * scale),
            emission(MN1, Period::Day, day, "a21026", 36.0 * scale),
        ],
        rates: vec![rate(MN1, Period::Day, day, Some(22.0 / 24.0))],
    }
}

/// Everything stored for MN1, as one comparable value.
async fn results_of(
    store: &Arc<dyn Store>,
    mn: &str,
) -> (Vec<Aggregate>, Vec<Episode>, Vec<Finding>, Vec<Emission>, Vec<Rate>) {
    let mn = Some(mn.to_string());
    (
        store.aggregates(&AggregateQuery { mn: mn.clone(), ..Default::default() }).await.unwrap(),
        store.episodes(&EpisodeQuery { mn: mn.clone(), ..Default::default() }).await.unwrap(),
        store.findings(&FindingQuery { mn: mn.clone(), ..Default::default() }).await.unwrap(),
        store.emissions(&EmissionQuery { mn: mn.clone(), ..Default::default() }).await.unwrap(),
        store.rates(&RateQuery { mn, ..Default::default() }).await.unwrap(),
    )
}

/// New measurements and revisions mark their device-day dirty; duplicates do not; clearing
/// keeps a day written to after it was read.
async fn dirty_days_follow_writes(store: Arc<dyn Store>) {
    fresh(&store).await;
    assert!(store.dirty_days(10).await.unwrap().is_empty());
    // 2024-07-01 08:00 and 23:59 China time are one day; 2024-07-02 00:00 the next.
    store.write_batch(&[upload(MN1, T0, T0, &[("a21026", 1.0), ("a19001", 9.0)])]).await.unwrap();
    store.write_batch(&[upload(MN1, T0 + 1, D0 + DAY - MINUTE, &[("a21026", 2.0)])]).await.unwrap();
    store.write_batch(&[upload(MN1, T0 + 2, D0 + DAY, &[("a21026", 3.0)])]).await.unwrap();
    store.write_batch(&[upload(MN2, T0 + 3, T0, &[("w01018", 4.0)])]).await.unwrap();
    let dirty = store.dirty_days(10).await.unwrap();
    let days: Vec<_> = dirty.iter().map(|d| (d.mn.as_str(), d.day_start)).collect();
    assert_eq!(days, vec![(MN1, D0), (MN2, D0), (MN1, D0 + DAY)]);
    assert!(dirty[0].seq < dirty[1].seq && dirty[1].seq > dirty[2].seq, "{dirty:?}");
    assert_eq!(store.dirty_days(2).await.unwrap(), dirty[..2]);

    // A pure duplicate changes nothing.
    store.write_batch(&[upload(MN1, T0 + 4, T0, &[("a21026", 1.0)])]).await.unwrap();
    assert_eq!(store.dirty_days(10).await.unwrap(), dirty);

    // The engine read `dirty`; meanwhile a revision lands on MN1's first day.
    store.write_batch(&[upload(MN1, T0 + 5, T0, &[("a21026", 1.5)])]).await.unwrap();
    let after = store.dirty_days(10).await.unwrap();
    assert!(after[0].seq > dirty.iter().map(|d| d.seq).max().unwrap());
    store.clear_dirty(&dirty).await.unwrap();
    let left = store.dirty_days(10).await.unwrap();
    assert_eq!(left, vec![after[0].clone()]);
    // Clearing with the current seq removes it; unknown entries are ignored.
    store
        .clear_dirty(&[left[0].clone(), DirtyDay { mn: "nobody".into(), day_start: D0, seq: 1 }])
        .await
        .unwrap();
    assert!(store.dirty_days(10).await.unwrap().is_empty());
    store.clear_dirty(&[]).await.unwrap();

    // New rule parameters: every device-day with data is dirty again, once each.
    assert_eq!(store.mark_all_dirty().await.unwrap(), 3);
    let all = store.dirty_days(10).await.unwrap();
    let days: Vec<_> = all.iter().map(|d| (d.mn.as_str(), d.day_start)).collect();
    assert_eq!(days, vec![(MN1, D0), (MN2, D0), (MN1, D0 + DAY)]);

    // A backend may skip re-marking a day it marked since the engine's last take; what a take
    // read is still never cleared over newer data: the day written after the take stays dirty.
    store.clear_dirty(&all).await.unwrap();
    store.write_batch(&[upload(MN1, T0 + 6, T0, &[("a21026", 1.6)])]).await.unwrap();
    store.write_batch(&[upload(MN1, T0 + 7, T0, &[("a21026", 1.7)])]).await.unwrap();
    let read = store.dirty_days(10).await.unwrap();
    assert_eq!(read.iter().map(|d| (d.mn.as_str(), d.day_start)).collect::<Vec<_>>(), vec![(MN1, D0)]);
    store.write_batch(&[upload(MN1, T0 + 8, T0, &[("a21026", 1.8)])]).await.unwrap();
    store.write_batch(&[upload(MN1, T0 + 9, T0, &[("a21026", 1.9)])]).await.unwrap();
    store.clear_dirty(&read).await.unwrap();
    let left = store.dirty_days(10).await.unwrap();
    assert_eq!(left.iter().map(|d| (d.mn.as_str(), d.day_start)).collect::<Vec<_>>(), vec![(MN1, D0)]);
    assert!(left[0].seq > read[0].seq, "{left:?} after {read:?}");
}

/// The silent-device check marks days with or without data; its mark is newer than what a take
/// read, so clearing that read keeps it; writes after it still mark their days.
async fn days_marked_dirty_outside_a_batch(store: Arc<dyn Store>) {
    fresh(&store).await;
    let days = |list: &[DirtyDay]| -> Vec<(String, i64)> {
        list.iter().map(|d| (d.mn.clone(), d.day_start)).collect()
    };
    assert_eq!(store.mark_dirty(MN1, &[]).await.unwrap(), 0);
    assert_eq!(store.mark_dirty("nobody", &[D0]).await.unwrap(), 0);
    // Days without measurements; an instant inside a day names that day; a day given twice is
    // marked once.
    assert_eq!(store.mark_dirty(MN1, &[D0 + DAY, D0 + 2 * DAY + 5 * MINUTE, D0 + DAY]).await.unwrap(), 2);
    let marked = store.dirty_days(10).await.unwrap();
    assert_eq!(days(&marked), vec![(MN1.to_string(), D0 + DAY), (MN1.to_string(), D0 + 2 * DAY)]);

    // The writer marks D0, the engine reads it, the check marks it again before the engine
    // clears what it read: the check's mark stays.
    store.write_batch(&[upload(MN1, T0, T0, &[("a21026", 1.0)])]).await.unwrap();
    let read = store.dirty_days(10).await.unwrap();
    assert_eq!(read.len(), 3);
    assert_eq!(store.mark_dirty(MN1, &[D0]).await.unwrap(), 1);
    store.clear_dirty(&read).await.unwrap();
    let left = store.dirty_days(10).await.unwrap();
    assert_eq!(days(&left), vec![(MN1.to_string(), D0)]);
    assert!(left[0].seq > read.iter().map(|d| d.seq).max().unwrap(), "{left:?} after {read:?}");
    store.clear_dirty(&left).await.unwrap();
    assert!(store.dirty_days(10).await.unwrap().is_empty());

    // A batch, the check's mark of the same day, a take and a clear: the next write on that day
    // marks it again (the writer's memory of its own mark did not survive the check's).
    store.write_batch(&[upload(MN2, T0 + 1, T0, &[("w01018", 4.0)])]).await.unwrap();
    assert_eq!(store.mark_dirty(MN2, &[D0]).await.unwrap(), 1);
    let read = store.dirty_days(10).await.unwrap();
    assert_eq!(days(&read), vec![(MN2.to_string(), D0)]);
    store.clear_dirty(&read).await.unwrap();
    store.write_batch(&[upload(MN2, T0 + 2, T0 + MINUTE, &[("w01018", 5.0)])]).await.unwrap();
    assert_eq!(days(&store.dirty_days(10).await.unwrap()), vec![(MN2.to_string(), D0)]);
}

/// save_evaluation replaces a device's window and nothing else, and is idempotent.
async fn evaluation_replaces_its_window(store: Arc<dyn Store>) {
    fresh(&store).await;
    let ev = day_evaluation(D0, 1.0);
    store.save_evaluation(MN1, D0, D0 + DAY, &ev).await.unwrap();
    let first = results_of(&store, MN1).await;
    let mut hours = ev.hours.clone();
    hours.sort_by(|a, b| (&a.factor, a.start).cmp(&(&b.factor, b.start)));
    assert_eq!(first.0[..2], [hours[0].clone(), hours[1].clone()]); // a19001 sorts first
    assert_eq!(first.0.len(), 5);
    assert_eq!(first.0[2..], [hours[2].clone(), ev.days[0].clone(), hours[3].clone()]);
    assert_eq!(first.1, ev.episodes);
    assert_eq!(first.2, ev.findings);
    assert_eq!(first.3, ev.emissions);
    assert_eq!(first.4, ev.rates);

    // Twice: the same rows.
    store.save_evaluation(MN1, D0, D0 + DAY, &ev).await.unwrap();
    assert_eq!(results_of(&store, MN1).await, first);

    // The next day, and MN2, are untouched by a new evaluation of the first day.
    let next = day_evaluation(D0 + DAY, 1.0);
    store.save_evaluation(MN1, D0 + DAY, D0 + 2 * DAY, &next).await.unwrap();
    let mut other = Evaluation::default();
    other.hours.push(agg(MN2, Period::Hour, D0, "w01018", 3.0, false));
    store.save_evaluation(MN2, D0, D0 + DAY, &other).await.unwrap();
    let revised = Evaluation {
        hours: vec![agg(MN1, Period::Hour, D0, "a21026", 12.0, false)],
        days: vec![],
        episodes: vec![],
        findings: vec![],
        emissions: vec![],
        rates: vec![rate(MN1, Period::Day, D0, None)],
    };
    store.save_evaluation(MN1, D0, D0 + DAY, &revised).await.unwrap();
    let q = AggregateQuery { mn: Some(MN1.into()), to: Some(D0 + DAY), ..Default::default() };
    assert_eq!(store.aggregates(&q).await.unwrap(), revised.hours);
    let (aggs, episodes, findings, emissions, rates) = results_of(&store, MN1).await;
    assert_eq!(aggs.len(), 1 + 5);
    assert_eq!(episodes, next.episodes);
    assert_eq!(findings, next.findings);
    assert_eq!(emissions, next.emissions);
    assert_eq!(rates, vec![revised.rates[0].clone(), next.rates[0].clone()]);
    assert_eq!(results_of(&store, MN2).await.0, other.hours);

    // Rows outside the window, of another device, or monthly: refused, nothing changes.
    let before = results_of(&store, MN1).await;
    let bad = [
        Evaluation {
            hours: vec![agg(MN1, Period::Hour, D0 + DAY, "a21026", 1.0, false)],
            ..Default::default()
        },
        Evaluation { hours: vec![agg(MN2, Period::Hour, D0, "a21026", 1.0, false)], ..Default::default() },
        Evaluation { emissions: vec![emission(MN1, Period::Month, D0, "a21026", 1.0)], ..Default::default() },
        Evaluation { episodes: vec![episode(MN1, "a21026", D0 - 3 * HOUR, D0 - HOUR)], ..Default::default() },
        Evaluation {
            findings: vec![finding(MN1, FindingKind::MonthlyShare, Some("a21026"), D0, D0 + DAY)],
            ..Default::default()
        },
    ];
    for ev in &bad {
        let r = store.save_evaluation(MN1, D0, D0 + DAY, ev).await;
        assert!(matches!(r, Err(StoreError::Invalid(_))), "{ev:?}: {r:?}");
    }
    assert_eq!(results_of(&store, MN1).await, before);
}

/// Episodes and findings touching a window are replaced, wherever they start; findings by kind.
async fn episodes_and_findings_replace_what_they_touch(store: Arc<dyn Store>) {
    fresh(&store).await;
    let q = EpisodeQuery { mn: Some(MN1.into()), ..Default::default() };
    // Yesterday's evaluation stored an episode running until midnight and one long before.
    let early = episode(MN1, "a21026", D0 - 10 * HOUR, D0 - 8 * HOUR);
    let late = episode(MN1, "a21026", D0 - 2 * HOUR, D0);
    store.replace_episodes(MN1, D0 - DAY, D0, &[early.clone(), late.clone()]).await.unwrap();
    // Today the engine recomputes across the border: the episode runs on to 03:00.
    let spanning = episode(MN1, "a21026", D0 - 2 * HOUR, D0 + 3 * HOUR);
    store.replace_episodes(MN1, D0 - 2 * HOUR, D0 + DAY, std::slice::from_ref(&spanning)).await.unwrap();
    assert_eq!(store.episodes(&q).await.unwrap(), vec![early.clone(), spanning.clone()]);
    store.replace_episodes(MN1, D0 - 2 * HOUR, D0 + DAY, std::slice::from_ref(&spanning)).await.unwrap();
    assert_eq!(store.episodes(&q).await.unwrap(), vec![early.clone(), spanning.clone()]);
    // A window that only touches the spanning episode's tail replaces it too.
    store.replace_episodes(MN1, D0 + 2 * HOUR, D0 + DAY, &[]).await.unwrap();
    assert_eq!(store.episodes(&q).await.unwrap(), vec![early.clone()]);
    // An episode that does not touch the window is refused.
    let r = store.replace_episodes(MN1, D0, D0 + DAY, std::slice::from_ref(&early)).await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");

    let fq = FindingQuery { mn: Some(MN1.into()), ..Default::default() };
    let offline = finding(MN1, FindingKind::Offline, None, D0 - HOUR, D0 + HOUR);
    let constant = finding(MN1, FindingKind::ConstantValue, Some("a21026"), D0 + HOUR, D0 + 2 * HOUR);
    // A zero-length finding (one record) at the window start is replaced like the others.
    let skew = finding(MN1, FindingKind::ClockSkew, None, D0, D0);
    let all = [offline.clone(), constant.clone(), skew.clone()];
    store.replace_findings(MN1, D0, D0 + DAY, None, &all).await.unwrap();
    store.replace_findings(MN1, D0, D0 + DAY, None, &all).await.unwrap();
    assert_eq!(store.findings(&fq).await.unwrap(), vec![offline.clone(), skew.clone(), constant.clone()]);
    // Only the kinds named are replaced.
    let offline2 = Finding { end: D0 + 4 * HOUR, open: true, ..offline.clone() };
    store
        .replace_findings(MN1, D0, D0 + DAY, Some(&[FindingKind::Offline]), std::slice::from_ref(&offline2))
        .await
        .unwrap();
    assert_eq!(store.findings(&fq).await.unwrap(), vec![offline2.clone(), skew.clone(), constant.clone()]);
    let r = store
        .replace_findings(MN1, D0, D0 + DAY, Some(&[FindingKind::Offline]), std::slice::from_ref(&constant))
        .await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");
    // save_evaluation manages the same rows.
    store.save_evaluation(MN1, D0, D0 + DAY, &Evaluation::default()).await.unwrap();
    assert!(store.findings(&fq).await.unwrap().is_empty());
    assert_eq!(store.episodes(&q).await.unwrap(), vec![early]);
}

/// Month rows belong to save_monthly; day evaluations leave them alone.
async fn monthly_results(store: Arc<dyn Store>) {
    fresh(&store).await;
    let month = time::month_start(T0);
    assert_eq!(month, D0); // 2024-07-01
    let share = finding(MN1, FindingKind::MonthlyShare, Some("a21026"), month, time::next_month_start(month));
    let e = emission(MN1, Period::Month, month, "a21026", 900.0);
    let r = rate(MN1, Period::Month, month, Some(0.93));
    store
        .save_monthly(
            MN1,
            month,
            std::slice::from_ref(&e),
            std::slice::from_ref(&r),
            std::slice::from_ref(&share),
        )
        .await
        .unwrap();
    store.save_evaluation(MN1, D0, D0 + DAY, &day_evaluation(D0, 1.0)).await.unwrap();
    let fq =
        FindingQuery { mn: Some(MN1.into()), kind: Some(FindingKind::MonthlyShare), ..Default::default() };
    assert_eq!(store.findings(&fq).await.unwrap(), vec![share.clone()]);
    let mq = EmissionQuery { period: Some(Period::Month), ..Default::default() };
    assert_eq!(store.emissions(&mq).await.unwrap(), vec![e.clone()]);
    let rq = RateQuery { mn: Some(MN1.into()), period: Some(Period::Month), ..Default::default() };
    assert_eq!(store.rates(&rq).await.unwrap(), vec![r.clone()]);
    // Saving the month again replaces; the day rows stay.
    let e2 = Emission { kg: 950.0, ..e.clone() };
    store.save_monthly(MN1, month, std::slice::from_ref(&e2), &[], &[]).await.unwrap();
    store.save_monthly(MN1, month, std::slice::from_ref(&e2), &[], &[]).await.unwrap();
    assert_eq!(store.emissions(&mq).await.unwrap(), vec![e2]);
    assert!(store.rates(&rq).await.unwrap().is_empty());
    assert!(store.findings(&fq).await.unwrap().is_empty());
    assert_eq!(store.emissions(&EmissionQuery::default()).await.unwrap().len(), 3);
    // Not a month start, or rows of another month: refused.
    assert!(matches!(store.save_monthly(MN1, month + DAY, &[], &[], &[]).await, Err(StoreError::Invalid(_))));
    let other = Emission { start: time::next_month_start(month), ..e };
    assert!(matches!(store.save_monthly(MN1, month, &[other], &[], &[]).await, Err(StoreError::Invalid(_))));
}

/// Every filter of the result queries.
async fn result_queries_filter(store: Arc<dyn Store>) {
    fresh(&store).await;
    store.save_evaluation(MN1, D0, D0 + DAY, &day_evaluation(D0, 1.0)).await.unwrap();
    store.save_evaluation(MN1, D0 + DAY, D0 + 2 * DAY, &day_evaluation(D0 + DAY, 2.0)).await.unwrap();
    let mut mn2 = Evaluation::default();
    mn2.hours
        .push(Aggregate { outlet: "E02-DW001".into(), ..agg(MN2, Period::Hour, D0, "w01018", 5.0, true) });
    mn2.findings.push(finding(MN2, FindingKind::Offline, None, D0, D0 + HOUR));
    store.save_evaluation(MN2, D0, D0 + DAY, &mn2).await.unwrap();

    let aggs = |q: AggregateQuery| {
        let store = store.clone();
        async move { store.aggregates(&q).await.unwrap() }
    };
    assert_eq!(aggs(AggregateQuery::default()).await.len(), 11);
    let all = aggs(AggregateQuery::default()).await;
    assert!(
        all.windows(2).all(|w| (&w[0].mn, &w[0].factor, w[0].start) <= (&w[1].mn, &w[1].factor, w[1].start))
    );
    let ex = aggs(AggregateQuery { exceeds_only: true, ..Default::default() }).await;
    assert_eq!(
        ex.iter().map(|a| (a.mn.as_str(), a.start)).collect::<Vec<_>>(),
        vec![(MN1, D0 + HOUR), (MN1, D0 + DAY + HOUR), (MN2, D0)]
    );
    let q = AggregateQuery {
        outlet: Some("E01-DA001".into()),
        factor: Some("a21026".into()),
        period: Some(Period::Hour),
        from: Some(D0 + HOUR),
        to: Some(D0 + DAY + HOUR),
        ..Default::default()
    };
    assert_eq!(aggs(q.clone()).await.iter().map(|a| a.start).collect::<Vec<_>>(), vec![D0 + HOUR, D0 + DAY]);
    assert_eq!(aggs(AggregateQuery { limit: Some(1), ..q }).await.len(), 1);
    assert_eq!(aggs(AggregateQuery { period: Some(Period::Day), ..Default::default() }).await.len(), 2);
    let invalid = aggs(AggregateQuery { factor: Some("a19001".into()), ..Default::default() }).await;
    assert_eq!(invalid[1].reason, Some(Invalidity::InsufficientCoverage));

    let eq = EpisodeQuery { factor: Some("a21026".into()), from: Some(D0 + DAY), ..Default::default() };
    assert_eq!(
        store.episodes(&eq).await.unwrap(),
        vec![episode(MN1, "a21026", D0 + DAY + HOUR, D0 + DAY + 2 * HOUR)]
    );
    assert!(
        store
            .episodes(&EpisodeQuery { period: Some(Period::Day), ..Default::default() })
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .episodes(&EpisodeQuery { outlet: Some("E02-DW001".into()), ..Default::default() })
            .await
            .unwrap()
            .is_empty()
    );

    let fq = |q: FindingQuery| {
        let store = store.clone();
        async move { store.findings(&q).await.unwrap() }
    };
    assert_eq!(fq(FindingQuery::default()).await.len(), 3);
    assert_eq!(
        fq(FindingQuery { outlet: Some("E02-DW001".into()), ..Default::default() }).await,
        mn2.findings
    );
    assert_eq!(
        fq(FindingQuery { kind: Some(FindingKind::ConstantValue), ..Default::default() }).await.len(),
        2
    );
    assert_eq!(
        fq(FindingQuery { factor: Some("a19001".into()), to: Some(D0 + DAY), ..Default::default() })
            .await
            .len(),
        1
    );
    assert!(fq(FindingQuery { open: Some(true), ..Default::default() }).await.is_empty());
    assert_eq!(fq(FindingQuery { open: Some(false), limit: Some(2), ..Default::default() }).await.len(), 2);
    // Findings touching a period that starts after them: MN2's outage [D0, D0 + 1 h) runs into
    // [D0 + 30 min, …) and not into [D0 + 1 h, …).
    let touching = |after: i64| FindingQuery {
        outlet: Some("E02-DW001".into()),
        ends_after: Some(after),
        to: Some(D0 + DAY),
        ..Default::default()
    };
    assert_eq!(fq(touching(D0 + HOUR / 2)).await, mn2.findings);
    assert!(fq(touching(D0 + HOUR)).await.is_empty());

    // Hours with data: any factor's hour with a record counts once per device.
    let hours = store.data_hours(D0, D0 + 2 * DAY).await.unwrap();
    assert_eq!(
        hours,
        vec![
            (MN1.to_string(), D0),
            (MN1.to_string(), D0 + HOUR),
            (MN1.to_string(), D0 + DAY),
            (MN1.to_string(), D0 + DAY + HOUR),
            (MN2.to_string(), D0),
        ]
    );
    assert_eq!(store.data_hours(D0 + HOUR, D0 + DAY).await.unwrap(), vec![(MN1.to_string(), D0 + HOUR)]);

    let em =
        store.emissions(&EmissionQuery { period: Some(Period::Day), ..Default::default() }).await.unwrap();
    assert_eq!(em.iter().map(|e| e.kg).collect::<Vec<_>>(), vec![36.0, 72.0]);
    let em = store
        .emissions(&EmissionQuery {
            from: Some(D0 + DAY),
            factor: Some("a21026".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(em.len(), 2);
    let rates = store
        .rates(&RateQuery { outlet: Some("E01-DA001".into()), from: Some(D0 + DAY), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(rates, vec![rate(MN1, Period::Day, D0 + DAY, Some(22.0 / 24.0))]);
    assert!(store.rates(&RateQuery { mn: Some(MN2.into()), ..Default::default() }).await.unwrap().is_empty());

    // An hour aggregate without any record (the device sent nothing) is not an hour with data.
    let mut silent = Evaluation::default();
    silent.hours.push(Aggregate {
        outlet: "E02-DW001".into(),
        records: 0,
        valid_units: 0,
        mean: None,
        converted_mean: None,
        ..agg(MN2, Period::Hour, D0 + DAY, "w01018", 0.0, false)
    });
    store.save_evaluation(MN2, D0 + DAY, D0 + 2 * DAY, &silent).await.unwrap();
    assert_eq!(
        store.aggregates(&AggregateQuery { mn: Some(MN2.into()), ..Default::default() }).await.unwrap().len(),
        2
    );
    assert!(!store.data_hours(D0 + DAY, D0 + 2 * DAY).await.unwrap().iter().any(|(mn, _)| mn == MN2));
}

fn draft(key: &str, severity: Severity, start: i64, end: i64, active: bool) -> AlarmDraft {
    AlarmDraft {
        key: key.into(),
        mn: MN1.into(),
        outlet: "E01-DA001".into(),
        factor: Some("a21026".into()),
        kind: "exceedance".into(),
        severity,
        start,
        end,
        active,
        title_zh: "二氧化硫小时均值超标".into(),
        title_en: "SO2 hourly mean above the limit".into(),
        detail_zh: format!("至 {end}"),
        detail_en: format!("until {end}"),
    }
}

/// Raise, update, resolve, withdraw and re-open; nothing is ever deleted.
async fn alarm_lifecycle(store: Arc<dyn Store>) {
    fresh(&store).await;
    let window = (D0, D0 + DAY);
    let sync = |drafts: Vec<AlarmDraft>, now: i64| {
        let store = store.clone();
        async move { store.sync_alarms(MN1, window.0, window.1, &drafts, now).await.unwrap() }
    };
    let get = |key: &'static str| {
        let store = store.clone();
        async move {
            store
                .alarms(&AlarmQuery::default())
                .await
                .unwrap()
                .into_iter()
                .find(|a| a.draft.key == key)
                .unwrap()
        }
    };
    let a = draft("episode:a", Severity::Serious, D0 + HOUR, D0 + 2 * HOUR, true);
    let b = AlarmDraft {
        kind: "offline".into(),
        factor: None,
        ..draft("finding:b", Severity::Warning, D0 + 3 * HOUR, D0 + 4 * HOUR, true)
    };
    assert_eq!(sync(vec![a.clone(), b.clone()], 100).await, AlarmSync { raised: 2, updated: 0, resolved: 0 });
    let stored_a = get("episode:a").await;
    assert_eq!(
        (stored_a.draft.clone(), stored_a.status, stored_a.resolution.clone()),
        (a.clone(), AlarmStatus::Open, None)
    );
    assert_eq!((stored_a.raised_at, stored_a.updated_at, stored_a.resolved_at), (100, 100, None));
    // The same drafts again: nothing.
    assert_eq!(sync(vec![a.clone(), b.clone()], 110).await, AlarmSync::default());
    assert_eq!(get("episode:a").await.updated_at, 100);
    // The episode grows and gets worse.
    let a2 = draft("episode:a", Severity::Critical, D0 + HOUR, D0 + 3 * HOUR, true);
    assert_eq!(
        sync(vec![a2.clone(), b.clone()], 120).await,
        AlarmSync { raised: 0, updated: 1, resolved: 0 }
    );
    let stored = get("episode:a").await;
    assert_eq!((stored.draft.clone(), stored.raised_at, stored.updated_at), (a2.clone(), 100, 120));
    // It ends.
    let a3 = AlarmDraft { active: false, ..a2.clone() };
    assert_eq!(
        sync(vec![a3.clone(), b.clone()], 130).await,
        AlarmSync { raised: 0, updated: 0, resolved: 1 }
    );
    let stored = get("episode:a").await;
    assert_eq!(stored.status, AlarmStatus::Resolved);
    assert_eq!(stored.resolution.as_deref(), Some(fenhe_store::RESOLUTION_CLEARED));
    assert_eq!((stored.resolved_at, stored.updated_at), (Some(130), 130));
    assert_eq!(sync(vec![a3.clone(), b.clone()], 135).await, AlarmSync::default());
    // A revision removes the offline finding: its alarm is withdrawn.
    assert_eq!(sync(vec![a3.clone()], 140).await, AlarmSync { raised: 0, updated: 0, resolved: 1 });
    let stored_b = get("finding:b").await;
    assert_eq!(stored_b.status, AlarmStatus::Resolved);
    assert_eq!(stored_b.resolution.as_deref(), Some(fenhe_store::RESOLUTION_WITHDRAWN));
    assert_eq!((stored_b.resolved_at, stored_b.draft.active), (Some(140), false));
    // Late data makes the episode go on again: re-opened.
    assert_eq!(sync(vec![a2.clone()], 150).await, AlarmSync { raised: 1, updated: 0, resolved: 0 });
    let stored = get("episode:a").await;
    assert_eq!(
        (stored.status, stored.resolution.clone(), stored.resolved_at),
        (AlarmStatus::Open, None, None)
    );
    assert_eq!((stored.id, stored.raised_at, stored.updated_at), (stored_a.id, 100, 150));
    // Open alarms outside the window, or of another device's sync, are not withdrawn.
    let c = draft("episode:c", Severity::Info, D0 + DAY + HOUR, D0 + DAY + 2 * HOUR, true);
    store.sync_alarms(MN1, D0 + DAY, D0 + 2 * DAY, std::slice::from_ref(&c), 160).await.unwrap();
    assert_eq!(sync(vec![], 170).await, AlarmSync { raised: 0, updated: 0, resolved: 1 }); // a
    assert_eq!(store.sync_alarms(MN2, D0, D0 + 2 * DAY, &[], 175).await.unwrap(), AlarmSync::default());
    assert_eq!(get("episode:c").await.status, AlarmStatus::Open);
    // A draft already inactive when first seen is kept, resolved.
    let d = draft("episode:d", Severity::Warning, D0 + 5 * HOUR, D0 + 6 * HOUR, false);
    assert_eq!(sync(vec![d], 180).await, AlarmSync { raised: 1, updated: 0, resolved: 1 });
    // Revised data no longer produces the cleared episode: its record says withdrawn.
    assert_eq!(sync(vec![], 185).await, AlarmSync { raised: 0, updated: 1, resolved: 0 });
    let stored_d = get("episode:d").await;
    assert_eq!(stored_d.resolution.as_deref(), Some(fenhe_store::RESOLUTION_WITHDRAWN));
    assert_eq!(
        (stored_d.status, stored_d.resolved_at, stored_d.updated_at),
        (AlarmStatus::Resolved, Some(180), 185)
    );
    assert_eq!(sync(vec![], 186).await, AlarmSync::default());
    // The data comes back: the episode is produced again, over; cleared again.
    let d = draft("episode:d", Severity::Warning, D0 + 5 * HOUR, D0 + 6 * HOUR, false);
    assert_eq!(sync(vec![d.clone()], 187).await, AlarmSync { raised: 0, updated: 1, resolved: 0 });
    assert_eq!(get("episode:d").await.resolution.as_deref(), Some(fenhe_store::RESOLUTION_CLEARED));
    assert_eq!(sync(vec![d], 188).await, AlarmSync::default());
    // A draft of another device is refused.
    let r = store.sync_alarms(MN2, D0, D0 + DAY, std::slice::from_ref(&c), 190).await;
    assert!(matches!(r, Err(StoreError::Invalid(_))), "{r:?}");

    // Nothing was deleted; newest first; filters.
    let all = store.alarms(&AlarmQuery::default()).await.unwrap();
    assert_eq!(
        all.iter().map(|a| a.draft.key.as_str()).collect::<Vec<_>>(),
        vec!["episode:d", "episode:c", "finding:b", "episode:a"]
    );
    let open =
        store.alarms(&AlarmQuery { status: Some(AlarmStatus::Open), ..Default::default() }).await.unwrap();
    assert_eq!(open.iter().map(|a| a.draft.key.as_str()).collect::<Vec<_>>(), vec!["episode:c"]);
    let q = AlarmQuery { min_severity: Some(Severity::Warning), ..Default::default() };
    assert_eq!(store.alarms(&q).await.unwrap().len(), 3);
    let q = AlarmQuery {
        min_severity: Some(Severity::Critical),
        status: Some(AlarmStatus::Resolved),
        ..Default::default()
    };
    assert_eq!(
        store.alarms(&q).await.unwrap().iter().map(|a| a.draft.key.as_str()).collect::<Vec<_>>(),
        vec!["episode:a"]
    );
    let q = AlarmQuery { kind: Some("offline".into()), mn: Some(MN1.into()), ..Default::default() };
    assert_eq!(store.alarms(&q).await.unwrap().len(), 1);
    assert!(
        store.alarms(&AlarmQuery { mn: Some(MN2.into()), ..Default::default() }).await.unwrap().is_empty()
    );
    assert_eq!(store.alarms(&AlarmQuery { limit: Some(2), ..Default::default() }).await.unwrap().len(), 2);
}

/// The alarm list's filters (enterprise, outlet, period), pages and counts, and one alarm by id.
async fn alarm_lists_filter_page_and_count(store: Arc<dyn Store>) {
    fresh(&store).await;
    // Five alarms of MN1 (E01-DA001), an hour apart, raised in that order; two of MN2 (E02-DW001).
    for i in 0..5 {
        let d = draft(
            &format!("episode:{i}"),
            Severity::Warning,
            D0 + i * HOUR,
            D0 + i * HOUR + 30 * MINUTE,
            true,
        );
        store.sync_alarms(MN1, D0 + i * HOUR, D0 + (i + 1) * HOUR, &[d], 100 + i).await.unwrap();
    }
    for i in 0..2 {
        let d = AlarmDraft {
            mn: MN2.into(),
            outlet: "E02-DW001".into(),
            kind: "offline".into(),
            factor: None,
            ..draft(
                &format!("finding:{i}"),
                Severity::Critical,
                D0 + DAY + i * HOUR,
                D0 + DAY + i * HOUR + 1,
                true,
            )
        };
        store.sync_alarms(MN2, D0 + DAY + i * HOUR, D0 + DAY + (i + 1) * HOUR, &[d], 200 + i).await.unwrap();
    }
    let keys = |q: AlarmQuery| {
        let store = store.clone();
        async move {
            let got = store.alarms(&q).await.unwrap();
            let n = store.count_alarms(&q).await.unwrap();
            (got.into_iter().map(|a| a.draft.key).collect::<Vec<_>>(), n)
        }
    };
    let all = keys(AlarmQuery::default()).await;
    assert_eq!(all.1, 7);
    assert_eq!(all.0[..3], ["finding:1", "finding:0", "episode:4"]);
    // Pages: the count ignores limit and offset; an offset alone skips.
    let page = AlarmQuery { limit: Some(3), offset: Some(3), ..Default::default() };
    assert_eq!(keys(page).await, (vec!["episode:3".into(), "episode:2".into(), "episode:1".into()], 7));
    let tail = AlarmQuery { offset: Some(6), ..Default::default() };
    assert_eq!(keys(tail).await, (vec!["episode:0".into()], 7));
    let beyond = AlarmQuery { limit: Some(3), offset: Some(9), ..Default::default() };
    assert_eq!(keys(beyond).await, (vec![], 7));
    // Enterprise and outlet: the registry's ids.
    let e02 = AlarmQuery { enterprise: Some("E02".into()), ..Default::default() };
    assert_eq!(keys(e02).await, (vec!["finding:1".into(), "finding:0".into()], 2));
    let e01 = AlarmQuery { enterprise: Some("E01".into()), limit: Some(1), ..Default::default() };
    assert_eq!(keys(e01).await, (vec!["episode:4".into()], 5));
    let out =
        AlarmQuery { outlet: Some("E01-DA001".into()), kind: Some("offline".into()), ..Default::default() };
    assert_eq!(keys(out).await.1, 0);
    let nobody = AlarmQuery { enterprise: Some("E99".into()), ..Default::default() };
    assert_eq!(keys(nobody).await, (vec![], 0));
    // Period: alarms reaching into [from, to). episode:1 runs [D0+1h, D0+1h30m].
    let q = AlarmQuery { from: Some(D0 + HOUR + 30 * MINUTE), to: Some(D0 + 3 * HOUR), ..Default::default() };
    assert_eq!(keys(q).await, (vec!["episode:2".into(), "episode:1".into()], 2));
    let q = AlarmQuery { from: Some(D0 + DAY), ..Default::default() };
    assert_eq!(keys(q).await.1, 2);
    let q = AlarmQuery { to: Some(D0 + HOUR), enterprise: Some("E01".into()), ..Default::default() };
    assert_eq!(keys(q).await, (vec!["episode:0".into()], 1));
    // One alarm by id, and none for an id that is not there.
    let first = store.alarms(&AlarmQuery::default()).await.unwrap().remove(0);
    assert_eq!(store.alarm(first.id).await.unwrap(), Some(first));
    assert_eq!(store.alarm(999_999).await.unwrap(), None);
}

/// Named engine state round-trips and is overwritten.
async fn engine_state_round_trip(store: Arc<dyn Store>) {
    assert_eq!(store.engine_state("watermark").await.unwrap(), None);
    store.set_engine_state("watermark", "1719792000000").await.unwrap();
    store.set_engine_state("other", "{}").await.unwrap();
    store.set_engine_state("watermark", "1719795600000").await.unwrap();
    assert_eq!(store.engine_state("watermark").await.unwrap().as_deref(), Some("1719795600000"));
    assert_eq!(store.engine_state("other").await.unwrap().as_deref(), Some("{}"));
}

/// The engine's loader: latest revisions only, kinds from CN (in any order).
async fn compliance_records_latest(store: Arc<dyn Store>) {
    fresh(&store).await;
    let item = |at: i64, ms: Vec<Measurement>| IngestItem {
        frame: frame(at, Some(MN1), Verdict::Accepted, None),
        measurements: ms,
    };
    store
        .write_batch(&[
            item(
                T0,
                vec![
                    measurement(MN1, "2051", T0, "a21026", 10.0),
                    measurement(MN1, "2051", T0, "a19001", 9.0),
                ],
            ),
            item(T0 + 1, vec![measurement(MN1, "2011", T0 + 30_000, "a21026", 11.0)]),
            item(T0 + 2, vec![measurement(MN1, "2061", T0, "a21026", 10.5)]),
            item(T0 + 3, vec![measurement(MN1, "2031", D0, "a21026", 10.2)]),
            item(T0 + 4, vec![measurement(MN1, "2081", T0, "a21026", 1.0)]), // not a data command
            item(T0 + 5, vec![measurement(MN1, "2051", T0 + HOUR, "a21026", 99.0)]), // outside
            item(T0 + 6, vec![measurement(MN2, "2051", T0, "w01018", 5.0)]), // other device
        ])
        .await
        .unwrap();
    // Two later revisions of one minute record.
    store.write_batch(&[item(T0 + 7, vec![measurement(MN1, "2051", T0, "a21026", 12.0)])]).await.unwrap();
    store.write_batch(&[item(T0 + 8, vec![measurement(MN1, "2051", T0, "a21026", 13.0)])]).await.unwrap();

    let mut got = store.compliance_records(MN1, D0, T0 + HOUR).await.unwrap();
    got.sort_by(|a, b| (a.data_time, &a.factor, a.kind).cmp(&(b.data_time, &b.factor, b.kind)));
    let seen: Vec<_> =
        got.iter().map(|r| (r.data_time, &*r.factor, r.kind, r.values.avg(), r.received_at)).collect();
    assert_eq!(
        seen,
        vec![
            (D0, "a21026", DataKind::Day, Some(10.2), T0 + 3),
            (T0, "a19001", DataKind::Minute, Some(9.0), T0),
            (T0, "a21026", DataKind::Minute, Some(13.0), T0 + 8),
            (T0, "a21026", DataKind::Hour, Some(10.5), T0 + 2),
            (T0 + 30_000, "a21026", DataKind::Realtime, Some(11.0), T0 + 1),
        ]
    );
    // The fields the rules read (compliance::RULE_FIELDS) are those stored; a store may leave
    // the others out.
    let sent = measurement(MN1, "2051", T0, "a21026", 13.0).values;
    assert_eq!(got[2].values, fenhe_core::compliance::RuleValues::from(&sent));
    assert_eq!(fenhe_core::compliance::RULE_FIELDS, ["Rtd", "Avg", "ZsRtd", "ZsAvg", "Cou", "Flag"]);
    assert!(store.compliance_records("nobody", D0, T0 + DAY).await.unwrap().is_empty());
    assert!(store.compliance_records(MN1, T0 + 2 * HOUR, T0 + DAY).await.unwrap().is_empty());
}

/// Changes decided from a state another writer has since moved are refused whole; a sync
/// decides again on what that writer stored.
async fn alarm_changes_check_what_they_were_decided_from(store: Arc<dyn Store>) {
    use fenhe_core::alarm::{AlarmWindow, reconcile};
    fresh(&store).await;
    let window = AlarmWindow { mn: MN1, from: D0, to: D0 + DAY };
    let a = draft("episode:a", Severity::Serious, D0 + HOUR, D0 + 2 * HOUR, true);
    let b = draft("episode:b", Severity::Warning, D0 + 3 * HOUR, D0 + 4 * HOUR, true);
    store.sync_alarms(MN1, D0, D0 + DAY, std::slice::from_ref(&a), 100).await.unwrap();

    // Two syncs decide from the same load; the first applies, the second is stale.
    let loaded = store.alarms_to_reconcile(window, &["episode:a", "episode:b"]).await.unwrap();
    assert_eq!(loaded.len(), 1);
    let over = AlarmDraft { active: false, ..a.clone() };
    let first = reconcile(&loaded, std::slice::from_ref(&over), window, 200);
    let grown = AlarmDraft { end: D0 + 3 * HOUR, ..a.clone() };
    let second = reconcile(&loaded, &[grown, b.clone()], window, 201);
    assert_eq!(second.len(), 2, "an update of a and the raise of b");
    store.apply_alarm_changes(&first).await.unwrap();
    match store.apply_alarm_changes(&second).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("episode:a"), "{m}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    // Nothing of the refused call was stored: b was not raised, a stays as the first left it.
    let all = store.alarms(&AlarmQuery::default()).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].status, all[0].updated_at), (AlarmStatus::Resolved, 200));
    // Raising a key someone raised meanwhile conflicts too.
    let raise_b = reconcile(&[], std::slice::from_ref(&b), window, 202);
    store.apply_alarm_changes(&raise_b).await.unwrap();
    assert!(matches!(store.apply_alarm_changes(&raise_b).await, Err(StoreError::Conflict(_))));
    // sync_alarms reloads: a re-opens, b is unchanged.
    let sync = store.sync_alarms(MN1, D0, D0 + DAY, &[a, b], 300).await.unwrap();
    assert_eq!(sync, AlarmSync { raised: 1, updated: 0, resolved: 0 });
    // Drafts of another device are refused before anything is read.
    let stranger = AlarmDraft { mn: MN2.into(), ..draft("episode:c", Severity::Info, D0, D0 + HOUR, true) };
    assert!(matches!(
        store.sync_alarms(MN1, D0, D0 + DAY, &[stranger], 400).await,
        Err(StoreError::Invalid(_))
    ));
}

/// A lease is granted when free, renewed by its holder, refused to others until it expires,
/// then taken over; releasing frees it only for its holder.
async fn leases_grant_renew_expire_and_release(store: Arc<dyn Store>) {
    let (job, a, b) = ("compliance-cycle", "node-a", "node-b");
    let got = store.try_lease(job, a, 1_000, 500).await.unwrap().unwrap();
    assert_eq!(got, Lease { name: job.into(), holder: a.into(), acquired_at: 1_000, expires_at: 1_500 });
    assert_eq!(store.try_lease(job, b, 1_499, 500).await.unwrap(), None, "held until it expires");
    // Renewal extends it and keeps when it was taken.
    let renewed = store.try_lease(job, a, 1_400, 500).await.unwrap().unwrap();
    assert_eq!((renewed.acquired_at, renewed.expires_at), (1_000, 1_900));
    assert_eq!(store.try_lease(job, b, 1_899, 500).await.unwrap(), None);
    // Expired: taken over, and the old holder can neither renew nor release it.
    let taken = store.try_lease(job, b, 1_900, 500).await.unwrap().unwrap();
    assert_eq!((taken.holder.as_str(), taken.acquired_at, taken.expires_at), (b, 1_900, 2_400));
    assert_eq!(store.try_lease(job, a, 2_000, 500).await.unwrap(), None);
    assert!(!store.release_lease(job, a).await.unwrap());
    // Other names are independent.
    assert!(store.try_lease("silent-devices", a, 2_000, 500).await.unwrap().is_some());
    // Released: free for anyone at once.
    assert!(store.release_lease(job, b).await.unwrap());
    assert!(!store.release_lease(job, b).await.unwrap());
    let again = store.try_lease(job, a, 2_001, 500).await.unwrap().unwrap();
    assert_eq!((again.holder.as_str(), again.acquired_at), (a, 2_001));
    // A holder that re-takes its own expired lease starts a new term.
    let later = store.try_lease(job, a, 9_000, 500).await.unwrap().unwrap();
    assert_eq!((later.acquired_at, later.expires_at), (9_000, 9_500));
    assert!(matches!(store.try_lease(job, a, 9_000, 0).await, Err(StoreError::Invalid(_))));
    assert!(matches!(store.try_lease(job, a, i64::MAX, 1).await, Err(StoreError::Invalid(_))));
}

/// Of many holders asking for a free lease at once, exactly one gets it.
async fn two_holders_racing_for_a_lease(store: Arc<dyn Store>) {
    for round in 0..20i64 {
        let name = format!("job-{round}");
        let tasks: Vec<_> = ["node-a", "node-b"]
            .into_iter()
            .map(|holder| {
                let (store, name) = (store.clone(), name.clone());
                tokio::spawn(async move { store.try_lease(&name, holder, 1_000, 60_000).await.unwrap() })
            })
            .collect();
        let mut granted = Vec::new();
        for t in tasks {
            granted.extend(t.await.unwrap());
        }
        assert_eq!(granted.len(), 1, "round {round}: {granted:?}");
        // And the loser still sees it held.
        let loser = if granted[0].holder == "node-a" { "node-b" } else { "node-a" };
        assert_eq!(store.try_lease(&name, loser, 1_001, 60_000).await.unwrap(), None);
    }
}

/// Accepted frames and stored measurement values, in all and per command.
async fn stored_counts_follow_writes(store: Arc<dyn Store>) {
    fresh(&store).await;
    assert_eq!(store.stored_counts(None).await.unwrap(), StoredCounts::default());
    store
        .write_batch(&[
            upload(MN1, T0, T0, &[("a21026", 1.0), ("a19001", 2.0)]),
            upload(MN1, T0 + 1, T0, &[("a21026", 1.0), ("a19001", 2.0)]), // duplicates
            upload(MN1, T0 + 2, T0, &[("a21026", 1.5)]),                  // a revision
            IngestItem {
                frame: frame(T0 + 3, Some(MN1), Verdict::Rejected, Some("crc")),
                measurements: vec![],
            },
        ])
        .await
        .unwrap();
    let mut hourly = upload(MN1, T0 + 4, T0, &[("a21026", 9.0)]);
    hourly.measurements[0].cn = "2061".into();
    hourly.frame.cn = Some("2061".into());
    store.write_batch(&[hourly]).await.unwrap();
    let all = store.stored_counts(None).await.unwrap();
    assert_eq!(all, StoredCounts { accepted_frames: 3, measurement_values: 4 });
    let minute = store.stored_counts(Some("2051")).await.unwrap();
    assert_eq!(minute, StoredCounts { accepted_frames: 2, measurement_values: 3 });
    assert_eq!(store.stored_counts(Some("9999")).await.unwrap(), StoredCounts::default());
    assert_eq!(store.stored_counts(Some("20x1")).await.unwrap(), StoredCounts::default());
}

// ---------------------------------------------------------------------------------------------
// Accounts, sessions, sign-in attempts, audit

fn new_user(username: &str, role: Role, at: i64) -> NewUser {
    NewUser {
        username: username.into(),
        display_name: format!("{username} 显示名"),
        role,
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$fake${username}"),
        at,
    }
}

/// Departments are seeded and configurable; users are created with their role's unit, which must
/// exist, under a unique name; passwords and the active flag change; demo passwords are kept.
async fn accounts_users_and_departments(store: Arc<dyn Store>) {
    let seeded = store.departments().await.unwrap();
    let codes: Vec<_> = seeded.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["fgw", "gxj", "nyj", "xzsp", "yjj", "zjj", "zrzyj"]);
    let offices: Vec<_> = seeded.iter().filter(|d| d.service_office).map(|d| d.name_zh.as_str()).collect();
    assert_eq!(offices, ["行政审批服务管理局"]);
    let mut sthj = Department {
        code: "sthj".into(),
        name_zh: "生态环境分局".into(),
        name_en: "Ecology Branch".into(),
        service_office: false,
    };
    store.upsert_department(&sthj).await.unwrap();
    sthj.name_en = "Ecology and Environment Branch".into();
    store.upsert_department(&sthj).await.unwrap();
    let all = store.departments().await.unwrap();
    assert_eq!(all.len(), 8);
    assert!(all.contains(&sthj));
    let empty = Department { code: " ".into(), ..sthj.clone() };
    assert!(matches!(store.upsert_department(&empty).await, Err(StoreError::Invalid(_))));

    store.import_registry(&registry()).await.unwrap();
    let admin = store.create_user(&new_user("admin", Role::Admin, T0)).await.unwrap();
    assert_eq!((admin.created_at, admin.updated_at, admin.password_changed_at), (T0, T0, T0));
    assert!(admin.active && admin.id > 0);
    let dept = Role::Department { department: "fgw".into() };
    let ent = Role::Enterprise { enterprise: "E01".into() };
    store.create_user(&new_user("fgw.officer", dept.clone(), T0)).await.unwrap();
    let e01 = store.create_user(&new_user("e01", ent.clone(), T0 + 1)).await.unwrap();
    assert_eq!(store.user("e01").await.unwrap(), Some(e01.clone()));
    assert_eq!(e01.role, ent);
    assert_eq!(e01.display_name, "e01 显示名");
    assert!(store.user("nobody").await.unwrap().is_none());

    for refused in [
        new_user("e01", Role::Bureau, T0),
        new_user("x1", Role::Department { department: "nope".into() }, T0),
        new_user("x2", Role::Enterprise { enterprise: "E99".into() }, T0),
    ] {
        match store.create_user(&refused).await {
            Err(StoreError::Invalid(m)) => assert!(!m.is_empty()),
            other => panic!("{}: expected Invalid, got {other:?}", refused.username),
        }
    }
    let names: Vec<_> = store.users().await.unwrap().into_iter().map(|u| (u.username, u.role)).collect();
    assert_eq!(
        names,
        [("admin".to_string(), Role::Admin), ("e01".into(), ent.clone()), ("fgw.officer".into(), dept)]
    );

    assert!(store.set_password_hash("e01", "$argon2id$new", T0 + 50).await.unwrap());
    assert!(!store.set_password_hash("nobody", "$argon2id$new", T0 + 50).await.unwrap());
    let changed = store.user("e01").await.unwrap().unwrap();
    assert_eq!(changed.password_hash, "$argon2id$new");
    assert_eq!(
        (changed.created_at, changed.updated_at, changed.password_changed_at),
        (T0 + 1, T0 + 50, T0 + 50)
    );
    assert!(store.set_user_active("e01", false, T0 + 60).await.unwrap());
    assert!(!store.set_user_active("nobody", false, T0 + 60).await.unwrap());
    let off = store.user("e01").await.unwrap().unwrap();
    assert!(!off.active);
    assert_eq!((off.updated_at, off.password_changed_at), (T0 + 60, T0 + 50));

    assert!(store.demo_passwords().await.unwrap().is_empty());
    store.set_demo_password("e01", "first").await.unwrap();
    store.set_demo_password("admin", "admin-pw").await.unwrap();
    store.set_demo_password("e01", "second").await.unwrap();
    assert_eq!(
        store.demo_passwords().await.unwrap(),
        [("admin".to_string(), "admin-pw".to_string()), ("e01".into(), "second".into())]
    );
    assert!(matches!(store.set_demo_password("nobody", "x").await, Err(StoreError::NotFound(_))));
}

/// Tokens belong to an existing user, are found by id and by hash, listed per user, touched, and
/// revoked once.
async fn api_tokens_lifecycle(store: Arc<dyn Store>) {
    store.create_user(&new_user("zhang", Role::Bureau, T0)).await.unwrap();
    store.create_user(&new_user("wang", Role::Leader, T0)).await.unwrap();
    let token = |username: &str, hash: &str| NewToken {
        username: username.into(),
        label: format!("{username} script"),
        token_hash: hash.into(),
        created_at: T0 + 1,
    };
    let a = store.create_token(&token("zhang", "aa")).await.unwrap();
    let b = store.create_token(&token("wang", "bb")).await.unwrap();
    let c = store.create_token(&token("zhang", "cc")).await.unwrap();
    assert_eq!(
        (a.username.as_str(), a.label.as_str(), a.token_hash.as_str(), a.created_at),
        ("zhang", "zhang script", "aa", T0 + 1)
    );
    assert_eq!((a.last_used_at, a.revoked_at), (None, None));
    assert!(matches!(store.create_token(&token("nobody", "dd")).await, Err(StoreError::NotFound(_))));
    assert!(matches!(store.create_token(&token("wang", "aa")).await, Err(StoreError::Invalid(_))));

    assert_eq!(store.token(b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(store.token_by_hash("cc").await.unwrap(), Some(c.clone()));
    assert!(store.token(9999).await.unwrap().is_none());
    assert!(store.token_by_hash("zz").await.unwrap().is_none());
    assert_eq!(store.tokens(Some("zhang")).await.unwrap(), [a.clone(), c.clone()]);
    assert_eq!(store.tokens(None).await.unwrap(), [a.clone(), b.clone(), c.clone()]);
    assert!(store.tokens(Some("nobody")).await.unwrap().is_empty());

    store.touch_token(a.id, T0 + 10).await.unwrap();
    store.touch_token(a.id, T0 + 5).await.unwrap(); // an older use does not move it back
    assert_eq!(store.token(a.id).await.unwrap().unwrap().last_used_at, Some(T0 + 10));

    assert!(store.revoke_token(a.id, T0 + 20).await.unwrap());
    assert!(!store.revoke_token(a.id, T0 + 30).await.unwrap());
    assert!(!store.revoke_token(9999, T0 + 30).await.unwrap());
    let revoked = store.token_by_hash("aa").await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at, Some(T0 + 20), "the first revocation is kept");
    assert_eq!(store.token(c.id).await.unwrap().unwrap().revoked_at, None);
}

/// Sessions of an existing user: found by hash, touched, ended one by one, per user (but one),
/// or when expired.
async fn sessions_lifecycle(store: Arc<dyn Store>) {
    store.create_user(&new_user("zhang", Role::Bureau, T0)).await.unwrap();
    store.create_user(&new_user("wang", Role::Leader, T0)).await.unwrap();
    let session = |hash: &str, username: &str, expires_at: i64| Session {
        token_hash: hash.into(),
        username: username.into(),
        created_at: T0,
        expires_at,
        last_seen_at: T0,
        peer: "192.0.2.1".into(),
        csrf_secret: format!("csrf-{hash}"),
    };
    for s in [
        session("s1", "zhang", T0 + HOUR),
        session("s2", "zhang", T0 + HOUR),
        session("s3", "zhang", T0 + 2 * HOUR),
        session("s4", "wang", T0 + 10),
    ] {
        store.create_session(&s).await.unwrap();
    }
    assert!(matches!(
        store.create_session(&session("s5", "nobody", T0 + HOUR)).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.session("s1").await.unwrap(), Some(session("s1", "zhang", T0 + HOUR)));
    assert!(store.session("nope").await.unwrap().is_none());

    assert!(store.touch_session("s1", T0 + 5, T0 + 3 * HOUR).await.unwrap());
    assert!(!store.touch_session("nope", T0 + 5, T0 + 3 * HOUR).await.unwrap());
    let touched = store.session("s1").await.unwrap().unwrap();
    assert_eq!((touched.last_seen_at, touched.expires_at, touched.created_at), (T0 + 5, T0 + 3 * HOUR, T0));

    assert!(store.delete_session("s2").await.unwrap());
    assert!(!store.delete_session("s2").await.unwrap());
    assert_eq!(store.delete_expired_sessions(T0 + 10).await.unwrap(), 1, "s4 expired at T0 + 10");
    assert!(store.session("s4").await.unwrap().is_none());
    store.create_session(&session("s6", "zhang", T0 + HOUR)).await.unwrap();
    assert_eq!(store.delete_user_sessions("zhang", Some("s1")).await.unwrap(), 2);
    assert!(store.session("s1").await.unwrap().is_some());
    assert_eq!(store.delete_user_sessions("zhang", None).await.unwrap(), 1);
    assert_eq!(store.delete_user_sessions("nobody", None).await.unwrap(), 0);
    assert!(store.session("s1").await.unwrap().is_none());
}

/// Failures are counted per account (since its last success) and per address (all), from
/// `since`, each with its oldest time; old attempts can be forgotten.
async fn sign_in_failures_per_account_and_address(store: Arc<dyn Store>) {
    let attempt = |username: &str, address: &str, ok: bool, at: i64| SignInAttempt {
        username: username.into(),
        address: address.into(),
        ok,
        at,
    };
    let none = store.sign_in_failures("zhang", "192.0.2.1", T0).await.unwrap();
    assert_eq!((none.account, none.account_oldest, none.address, none.address_oldest), (0, None, 0, None));
    for a in [
        attempt("zhang", "192.0.2.1", false, T0 - MINUTE), // before the window
        attempt("zhang", "192.0.2.1", false, T0),
        attempt("zhang", "192.0.2.2", false, T0 + MINUTE),
        attempt("wang", "192.0.2.1", false, T0 + 2 * MINUTE),
        attempt("wang", "192.0.2.1", true, T0 + 3 * MINUTE),
    ] {
        store.record_sign_in(&a).await.unwrap();
    }
    let f = store.sign_in_failures("zhang", "192.0.2.1", T0).await.unwrap();
    assert_eq!((f.account, f.account_oldest, f.address, f.address_oldest), (2, Some(T0), 2, Some(T0)));

    // A success resets the account's count, not the address's.
    store.record_sign_in(&attempt("zhang", "192.0.2.3", true, T0 + 4 * MINUTE)).await.unwrap();
    store.record_sign_in(&attempt("zhang", "192.0.2.1", false, T0 + 5 * MINUTE)).await.unwrap();
    let f = store.sign_in_failures("zhang", "192.0.2.1", T0).await.unwrap();
    assert_eq!((f.account, f.account_oldest), (1, Some(T0 + 5 * MINUTE)));
    assert_eq!((f.address, f.address_oldest), (3, Some(T0)));

    assert_eq!(store.forget_sign_ins(T0 + MINUTE).await.unwrap(), 2);
    let f = store.sign_in_failures("zhang", "192.0.2.1", T0 - HOUR).await.unwrap();
    assert_eq!((f.address, f.address_oldest), (2, Some(T0 + 2 * MINUTE)));
}

/// The audit log keeps what it is given, newest first, filtered by every field and paged by id.
async fn audit_log_appends_and_filters(store: Arc<dyn Store>) {
    let entry = |at: i64, actor: &str, action: &str, kind: &str, id: &str| NewAuditEntry {
        at,
        actor: actor.into(),
        actor_role: "admin".into(),
        action: action.into(),
        object_kind: kind.into(),
        object_id: id.into(),
        before: None,
        after: Some(serde_json::json!({"id": id, "名称": "临汾", "n": 1.5})),
        peer: "local".into(),
    };
    assert!(store.audit(&AuditQuery { limit: 10, ..Default::default() }).await.unwrap().is_empty());
    let mut changed = entry(T0, "cli", "user.update", "user", "zhang");
    changed.before = Some(serde_json::json!({"active": true}));
    let entries = [
        changed,
        entry(T0 + 1, "admin", "token.create", "token", "1"),
        entry(T0 + 2, "admin", "user.create", "user", "wang"),
        entry(T0 + 3, "cli", "token.revoke", "token", "1"),
    ];
    let mut ids = vec![];
    for e in &entries {
        ids.push(store.append_audit(e).await.unwrap());
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]));

    let q = |f: fn(&mut AuditQuery)| {
        let mut q = AuditQuery { limit: 100, ..Default::default() };
        f(&mut q);
        q
    };
    let got = |r: Vec<AuditEntry>| r.into_iter().map(|e| e.entry.at - T0).collect::<Vec<_>>();
    let all = store.audit(&q(|_| {})).await.unwrap();
    assert_eq!(all[3].entry, entries[0], "stored as given, JSON included");
    assert_eq!(all[3].id, ids[0]);
    assert_eq!(got(all), [3, 2, 1, 0]);
    assert_eq!(got(store.audit(&q(|q| q.actor = Some("cli".into()))).await.unwrap()), [3, 0]);
    assert_eq!(got(store.audit(&q(|q| q.object_kind = Some("token".into()))).await.unwrap()), [3, 1]);
    assert_eq!(got(store.audit(&q(|q| q.action = Some("user.create".into()))).await.unwrap()), [2]);
    assert_eq!(
        got(store.audit(&q(|q| (q.from, q.to) = (Some(T0 + 1), Some(T0 + 3)))).await.unwrap()),
        [2, 1]
    );

    // Pages of two, by cursor.
    let page1 = store.audit(&AuditQuery { limit: 2, ..Default::default() }).await.unwrap();
    let cursor = page1.last().map(|e| e.id);
    let page2 = store.audit(&AuditQuery { limit: 2, before_id: cursor, ..Default::default() }).await.unwrap();
    assert_eq!((got(page1), got(page2)), (vec![3, 2], vec![1, 0]));
    let zero = store.audit(&AuditQuery { limit: 0, ..Default::default() }).await.unwrap();
    assert_eq!(zero.len(), 1, "a limit of 0 is taken as 1");

    // By the object's id; pages by number (offset) with the total of the filtered list.
    assert_eq!(got(store.audit(&q(|q| q.object_id = Some("1".into()))).await.unwrap()), [3, 1]);
    assert_eq!(got(store.audit(&q(|q| q.object_id = Some("nobody".into()))).await.unwrap()), [0; 0]);
    let page2 = store.audit(&AuditQuery { limit: 3, offset: 3, ..Default::default() }).await.unwrap();
    assert_eq!(got(page2), [0]);
    let tokens = AuditQuery { object_kind: Some("token".into()), limit: 1, offset: 1, ..Default::default() };
    assert_eq!(got(store.audit(&tokens).await.unwrap()), [1]);
    assert_eq!(store.audit_count(&tokens).await.unwrap(), 2, "the count ignores offset and limit");
    assert_eq!(store.audit_count(&AuditQuery::default()).await.unwrap(), 4);
    let older = AuditQuery { before_id: Some(ids[2]), actor: Some("admin".into()), ..Default::default() };
    assert_eq!(store.audit_count(&older).await.unwrap(), 1);
}

// ---------------------------------------------------------------------------------------------
// Workflows

fn fields(pairs: &[(&str, &str)]) -> ItemFields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn wf_step(at: i64, actor: &str, role: &str, action: &str, f: &[(&str, &str)], files: &[&str]) -> NewStep {
    NewStep {
        at,
        actor: actor.into(),
        role: role.into(),
        action: action.into(),
        fields: fields(f),
        files: files.iter().map(|s| s.to_string()).collect(),
    }
}

/// A new item of `kind` for `enterprise`, created at `at` in `state` by the bureau.
fn new_item(kind: &str, id: Option<i64>, enterprise: &str, title: &str, state: &str, at: i64) -> NewItem {
    NewItem {
        kind: kind.into(),
        id,
        state: state.into(),
        enterprise: enterprise.into(),
        department: None,
        title: title.into(),
        fields: fields(&[("problem", title)]),
        due_at: None,
        source: Some("manual".into()),
        created_at: at,
        step: wf_step(at, "li", "bureau", "create", &[("problem", title)], &[]),
    }
}

fn change(
    from: &str,
    to: &str,
    set: &[(&str, &str)],
    due_at: Option<Option<i64>>,
    step: NewStep,
) -> ItemChange {
    ItemChange { from_state: from.into(), to_state: to.into(), set: fields(set), due_at, step }
}

fn applied(o: StepOutcome) -> Item {
    match o {
        StepOutcome::Applied(item) => item,
        other => panic!("expected Applied, got {other:?}"),
    }
}

/// Ids are 1, 2, 3 … per kind, an explicit id is kept (and the next free one follows it), and an
/// explicit id already taken is a conflict that writes nothing.
async fn workflow_items_are_numbered_per_kind(store: Arc<dyn Store>) {
    assert!(store.item("tasks", 1).await.unwrap().is_none());
    for n in 1..=3 {
        let id =
            store.create_item(&new_item("tasks", None, "E01", &format!("任务{n}"), "assigned", T0 + n)).await;
        assert_eq!(id.unwrap(), n);
    }
    assert_eq!(
        store.create_item(&new_item("hazards", None, "E01", "隐患", "reported", T0)).await.unwrap(),
        1
    );
    // An alarm review has its alarm's id.
    assert_eq!(
        store.create_item(&new_item("alarms", Some(17), "E02", "报警", "open", T0)).await.unwrap(),
        17
    );
    assert_eq!(store.create_item(&new_item("alarms", None, "E02", "报警", "open", T0)).await.unwrap(), 18);

    let mut again = new_item("alarms", Some(17), "E01", "another", "closed", T0 + 9);
    again.step.action = "import".into();
    match store.create_item(&again).await {
        Err(StoreError::Conflict(m)) => assert!(m.contains("alarms/17"), "{m}"),
        other => panic!("expected Conflict, got {other:?}"),
    }
    let kept = store.item("alarms", 17).await.unwrap().unwrap();
    assert_eq!((kept.enterprise.as_str(), kept.state.as_str()), ("E02", "open"));
    assert_eq!(store.steps("alarms", 17).await.unwrap().len(), 1, "the refused creation appended no step");

    for bad in
        [new_item("tasks", Some(0), "E01", "t", "assigned", T0), new_item(" ", None, "E01", "t", "a", T0)]
    {
        assert!(matches!(store.create_item(&bad).await, Err(StoreError::Invalid(_))), "{bad:?}");
    }
    // A first step naming a file that is not stored is refused, and nothing is created.
    let mut with_ghost = new_item("tasks", None, "E01", "ghost", "assigned", T0);
    with_ghost.step.files = vec!["0".repeat(64)];
    assert!(matches!(store.create_item(&with_ghost).await, Err(StoreError::Invalid(_))));
    assert!(store.item("tasks", 4).await.unwrap().is_none());

    // Read back as written, with its first step.
    let mut full = new_item("tasks", None, "E02", "废水超标整改", "assigned", T0 + 100);
    full.department = Some("yjj".into());
    full.due_at = Some(T0 + 10 * DAY);
    full.source = Some("alarms/17".into());
    full.fields = fields(&[("measures", "更换膜组件"), ("responsible", "王五"), ("kind", "time_limited")]);
    full.step.at = T0 + 101;
    let id = store.create_item(&full).await.unwrap();
    assert_eq!(id, 4);
    let item = store.item("tasks", id).await.unwrap().unwrap();
    assert_eq!(
        item,
        Item {
            kind: "tasks".into(),
            id,
            state: "assigned".into(),
            enterprise: "E02".into(),
            department: Some("yjj".into()),
            title: "废水超标整改".into(),
            fields: full.fields.clone(),
            due_at: Some(T0 + 10 * DAY),
            source: Some("alarms/17".into()),
            created_at: T0 + 100,
            updated_at: T0 + 101,
            escalated_at: None,
        }
    );
    assert_eq!(
        store.steps("tasks", id).await.unwrap(),
        vec![Step {
            seq: 1,
            at: T0 + 101,
            actor: "li".into(),
            role: "bureau".into(),
            action: "create".into(),
            from_state: None,
            to_state: "assigned".into(),
            fields: fields(&[("problem", "废水超标整改")]),
            files: vec![],
        }]
    );
    assert!(store.steps("tasks", 99).await.unwrap().is_empty());
}

/// Steps are appended in order with their states; fields are merged (none removed); the deadline
/// is changed only when asked and kept otherwise; a step's files must be stored.
async fn workflow_steps_append_in_order(store: Arc<dyn Store>) {
    let mut task = new_item("tasks", None, "E01", "整改", "assigned", T0);
    task.due_at = Some(T0 + DAY);
    task.fields = fields(&[("measures", "加装在线监测"), ("responsible", "张三")]);
    let id = store.create_item(&task).await.unwrap();

    let start =
        change("assigned", "in_progress", &[], None, wf_step(T0 + 1, "e01", "enterprise", "start", &[], &[]));
    let item = applied(store.apply_step("tasks", id, &start).await.unwrap());
    assert_eq!((item.state.as_str(), item.updated_at, item.due_at), ("in_progress", T0 + 1, Some(T0 + DAY)));
    assert_eq!(item.fields, task.fields, "no field given, none changed");

    // An extension: a new deadline and new fields, the old ones kept.
    let extend = change(
        "in_progress",
        "in_progress",
        &[("extension_reason", "设备到货延迟"), ("responsible", "李四")],
        Some(Some(T0 + 5 * DAY)),
        wf_step(T0 + 2, "li", "bureau", "approve_extension", &[("due", "2024-07-06")], &[]),
    );
    let item = applied(store.apply_step("tasks", id, &extend).await.unwrap());
    assert_eq!(item.due_at, Some(T0 + 5 * DAY));
    assert_eq!(
        item.fields,
        fields(&[
            ("measures", "加装在线监测"),
            ("responsible", "李四"),
            ("extension_reason", "设备到货延迟")
        ])
    );

    // Evidence with files: the same file twice in a step is fine; the deadline is kept.
    let pdf =
        store.put_file("验收报告.pdf", "application/pdf", "E01", b"%PDF-1.7 report", T0 + 3).await.unwrap();
    let photo =
        store.put_file("现场.jpg", "image/jpeg", "E01", &[0xff, 0xd8, 0xff, 0xe0], T0 + 3).await.unwrap();
    let files = [pdf.sha256.as_str(), photo.sha256.as_str(), pdf.sha256.as_str()];
    let submit = change(
        "in_progress",
        "submitted",
        &[("evidence", "已完成")],
        None,
        wf_step(T0 + 4, "e01", "enterprise", "submit", &[("evidence", "已完成")], &files),
    );
    let item = applied(store.apply_step("tasks", id, &submit).await.unwrap());
    assert_eq!(
        (item.state.as_str(), item.due_at, item.updated_at),
        ("submitted", Some(T0 + 5 * DAY), T0 + 4)
    );
    assert_eq!(item.fields.len(), 4);
    assert_eq!(store.item("tasks", id).await.unwrap().unwrap(), item, "what apply_step answered is stored");

    // A step naming a file that is not stored is refused and writes nothing.
    let ghost = "f".repeat(64);
    let bad = change(
        "submitted",
        "accepted",
        &[("verdict", "ok")],
        Some(None),
        wf_step(T0 + 5, "li", "bureau", "accept", &[], &[pdf.sha256.as_str(), ghost.as_str()]),
    );
    match store.apply_step("tasks", id, &bad).await {
        Err(StoreError::Invalid(m)) => assert!(m.contains(&ghost), "{m}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert_eq!(store.item("tasks", id).await.unwrap().unwrap(), item);

    // The deadline can be cleared.
    let accept =
        change("submitted", "accepted", &[], Some(None), wf_step(T0 + 6, "li", "bureau", "accept", &[], &[]));
    let item = applied(store.apply_step("tasks", id, &accept).await.unwrap());
    assert_eq!((item.state.as_str(), item.due_at), ("accepted", None));

    let steps = store.steps("tasks", id).await.unwrap();
    assert_eq!(
        steps
            .iter()
            .map(|s| (s.seq, s.action.as_str(), s.from_state.as_deref(), s.to_state.as_str(), s.at))
            .collect::<Vec<_>>(),
        vec![
            (1, "create", None, "assigned", T0),
            (2, "start", Some("assigned"), "in_progress", T0 + 1),
            (3, "approve_extension", Some("in_progress"), "in_progress", T0 + 2),
            (4, "submit", Some("in_progress"), "submitted", T0 + 4),
            (5, "accept", Some("submitted"), "accepted", T0 + 6),
        ]
    );
    assert_eq!(steps[3].files, files.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "kept as given");
    assert_eq!((steps[3].actor.as_str(), steps[3].role.as_str()), ("e01", "enterprise"));
    assert_eq!(steps[2].fields, fields(&[("due", "2024-07-06")]));
    // Another item's history is its own.
    let other = store.create_item(&new_item("tasks", None, "E01", "另一个", "assigned", T0)).await.unwrap();
    assert_eq!(store.steps("tasks", other).await.unwrap().len(), 1);
}

/// A step decided from a state the item has left writes nothing and says the current state; an
/// item that does not exist is Missing; escalation is recorded beside the history.
async fn workflow_stale_steps_write_nothing(store: Arc<dyn Store>) {
    let id =
        store.create_item(&new_item("hazards", None, "E01", "危废暂存间", "reported", T0)).await.unwrap();
    let first = change(
        "reported",
        "rectifying",
        &[("a", "1")],
        Some(Some(T0 + DAY)),
        wf_step(T0 + 1, "e01", "enterprise", "start", &[], &[]),
    );
    applied(store.apply_step("hazards", id, &first).await.unwrap());
    let before = store.item("hazards", id).await.unwrap().unwrap();

    // A second actor decided from "reported" too.
    let late = change(
        "reported",
        "closed",
        &[("b", "2")],
        Some(None),
        wf_step(T0 + 2, "li", "bureau", "accept", &[], &[]),
    );
    assert_eq!(
        store.apply_step("hazards", id, &late).await.unwrap(),
        StepOutcome::StateChanged { current: "rectifying".into() }
    );
    assert_eq!(store.item("hazards", id).await.unwrap().unwrap(), before, "nothing written");
    assert_eq!(store.steps("hazards", id).await.unwrap().len(), 2);

    assert_eq!(store.apply_step("hazards", id + 1, &late).await.unwrap(), StepOutcome::Missing);
    assert_eq!(
        store.apply_step("tasks", id, &first).await.unwrap(),
        StepOutcome::Missing,
        "ids are per kind"
    );
    assert!(store.steps("tasks", id).await.unwrap().is_empty());

    store.mark_escalated("hazards", id, T0 + 3 * DAY).await.unwrap();
    let escalated = store.item("hazards", id).await.unwrap().unwrap();
    assert_eq!(escalated.escalated_at, Some(T0 + 3 * DAY));
    assert_eq!(escalated.updated_at, before.updated_at, "escalation is not a step");
    assert_eq!(store.steps("hazards", id).await.unwrap().len(), 2);
    store.mark_escalated("hazards", id, T0 + 4 * DAY).await.unwrap();
    assert_eq!(store.item("hazards", id).await.unwrap().unwrap().escalated_at, Some(T0 + 4 * DAY));
    assert!(matches!(store.mark_escalated("hazards", 99, T0).await, Err(StoreError::NotFound(_))));
}

/// Lists filter by enterprise, department, states, deadline (with states left out), title text,
/// newest first with pages, and their counts agree; items of another kind never show.
async fn workflow_lists_filter_page_and_count(store: Arc<dyn Store>) {
    // (enterprise, department, title, state, due, created)
    let rows = [
        ("E01", Some("yjj"), "废水总排口超标", "assigned", Some(T0 + DAY), T0),
        ("E01", None, "废气治理设施故障", "in_progress", Some(T0 + 3 * DAY), T0 + HOUR),
        ("E02", Some("yjj"), "危废台账缺失", "accepted", Some(T0), T0 + 2 * HOUR),
        ("E02", Some("zjj"), "扬尘 100% 覆盖", "submitted", None, T0 + 3 * HOUR),
        ("E01", None, "废水在线监测数据缺失", "rejected", Some(T0 + 2 * DAY), T0 + 3 * HOUR),
    ];
    for (e, d, title, state, due, at) in rows {
        let mut it = new_item("tasks", None, e, title, state, at);
        it.department = d.map(String::from);
        it.due_at = due;
        store.create_item(&it).await.unwrap();
    }
    // Another kind, matching every filter below: never in a tasks list.
    let mut hz = new_item("hazards", None, "E01", "废水", "assigned", T0 + 9 * HOUR);
    hz.department = Some("yjj".into());
    hz.due_at = Some(T0);
    store.create_item(&hz).await.unwrap();

    let ids = |q: ItemQuery| {
        let store = store.clone();
        async move {
            let items = store.items(&q).await.unwrap();
            assert!(items.iter().all(|i| i.kind == "tasks"));
            let n = store.count_items(&ItemQuery { limit: None, offset: None, ..q }).await.unwrap();
            (items.iter().map(|i| i.id).collect::<Vec<_>>(), n)
        }
    };
    let tasks = || ItemQuery { kind: "tasks".into(), ..Default::default() };
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    // Newest first; the two created at the same instant by id, descending.
    assert_eq!(ids(tasks()).await, (vec![5, 4, 3, 2, 1], 5));
    assert_eq!(ids(ItemQuery { enterprise: Some("E01".into()), ..tasks() }).await, (vec![5, 2, 1], 3));
    assert_eq!(ids(ItemQuery { department: Some("yjj".into()), ..tasks() }).await, (vec![3, 1], 2));
    assert_eq!(ids(ItemQuery { states: s(&["assigned", "rejected"]), ..tasks() }).await, (vec![5, 1], 2));
    // Overdue at T0 + 2 days: due before then and not closed.
    let overdue = ItemQuery { due_before: Some(T0 + 2 * DAY), exclude_states: s(&["accepted"]), ..tasks() };
    assert_eq!(ids(overdue).await, (vec![1], 1));
    assert_eq!(ids(ItemQuery { due_before: Some(T0 + 2 * DAY + 1), ..tasks() }).await, (vec![5, 3, 1], 3));
    assert_eq!(
        ids(ItemQuery { exclude_states: s(&["accepted", "assigned"]), ..tasks() }).await,
        (vec![5, 4, 2], 3)
    );
    assert_eq!(ids(ItemQuery { text: Some("废水".into()), ..tasks() }).await, (vec![5, 1], 2));
    // The text is matched as written: `%` is no wildcard.
    assert_eq!(ids(ItemQuery { text: Some("100%".into()), ..tasks() }).await, (vec![4], 1));
    assert_eq!(ids(ItemQuery { text: Some("1%0".into()), ..tasks() }).await, (vec![], 0));
    // Filters combine.
    let both = ItemQuery {
        enterprise: Some("E01".into()),
        states: s(&["assigned", "in_progress", "rejected"]),
        text: Some("废".into()),
        due_before: Some(T0 + 3 * DAY),
        ..tasks()
    };
    assert_eq!(ids(both).await, (vec![5, 1], 2));
    // Pages: the count ignores limit and offset.
    assert_eq!(ids(ItemQuery { limit: Some(2), ..tasks() }).await, (vec![5, 4], 5));
    assert_eq!(ids(ItemQuery { limit: Some(2), offset: Some(2), ..tasks() }).await, (vec![3, 2], 5));
    assert_eq!(ids(ItemQuery { offset: Some(3), ..tasks() }).await, (vec![2, 1], 5));
    assert_eq!(ids(ItemQuery { kind: "retrofits".into(), ..Default::default() }).await, (vec![], 0));

    let mut by_id = store.items_by_id("tasks", &[4, 2, 99, 2]).await.unwrap();
    by_id.sort_by_key(|i| i.id);
    assert_eq!(
        by_id.iter().map(|i| (i.id, i.title.as_str())).collect::<Vec<_>>(),
        vec![(2, "废气治理设施故障"), (4, "扬尘 100% 覆盖")]
    );
    assert!(store.items_by_id("tasks", &[]).await.unwrap().is_empty());
    let hazards = store.items_by_id("hazards", &[1, 2]).await.unwrap();
    assert_eq!(hazards.iter().map(|i| (i.kind.as_str(), i.id)).collect::<Vec<_>>(), vec![("hazards", 1)]);
}

/// A file's bytes are kept once per content and come back exactly; the first upload's description
/// is kept; a file over the cap is refused with nothing stored; a hash not stored reads as None.
async fn workflow_files_stored_once(store: Arc<dyn Store>) {
    let bytes: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
    let a = store.put_file("现场照片.jpg", "image/jpeg", "E01", &bytes, T0).await.unwrap();
    assert_eq!(a.sha256.len(), 64);
    assert!(a.sha256.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)), "{}", a.sha256);
    assert_eq!(
        (a.name.as_str(), a.content_type.as_str(), a.size, a.enterprise.as_str(), a.stored_at),
        ("现场照片.jpg", "image/jpeg", 512, "E01", T0)
    );
    // The same bytes again, under another name and enterprise: the same file, described as first.
    let again = store.put_file("copy.jpg", "image/png", "E02", &bytes, T0 + 1).await.unwrap();
    assert_eq!(again, a);
    let (info, back) = store.file(&a.sha256).await.unwrap().unwrap();
    assert_eq!((info, back), (a.clone(), bytes.clone()));
    assert_eq!(store.file_info(&a.sha256).await.unwrap(), Some(a.clone()));

    // The hash is SHA-256 of the bytes.
    let abc = store.put_file("abc.txt", "text/plain", "E01", b"abc", T0).await.unwrap();
    assert_eq!(abc.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    let empty = store.put_file("empty.txt", "text/plain", "E01", b"", T0).await.unwrap();
    assert_eq!((empty.size, store.file(&empty.sha256).await.unwrap().unwrap().1), (0, vec![]));

    // The cap: exactly 20 MiB is kept, one byte more is refused saying so, and nothing is stored.
    let max = fenhe_store::workflows::MAX_FILE_BYTES;
    let mut big = vec![7u8; max + 1];
    match store.put_file("大文件.pdf", "application/pdf", "E01", &big, T0).await {
        Err(StoreError::Invalid(m)) => assert!(m.contains("大文件.pdf") && m.contains("20 MiB"), "{m}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
    big.pop();
    let kept = store.put_file("刚好.pdf", "application/pdf", "E01", &big, T0).await.unwrap();
    assert_eq!(kept.size as usize, max);
    assert_eq!(store.file(&kept.sha256).await.unwrap().unwrap().1.len(), max);

    assert_eq!(store.file_info(&"0".repeat(64)).await.unwrap(), None);
    assert!(store.file(&"0".repeat(64)).await.unwrap().is_none());
    assert_eq!(store.file_info("not a hash").await.unwrap(), None);
}

/// Two writers of one database (two processes on one SQLite file, or two nodes on one
/// PostgreSQL schema) at once: items of a kind are numbered without a gap or a collision, an
/// explicit id is taken by one of them, of two actors deciding from the same state exactly one
/// is applied (the other told the winner's state, nothing written), and the same bytes uploaded
/// by both are one file.
async fn two_writers_share_workflows(a: Arc<dyn Store>, b: Arc<dyn Store>) {
    let per_store = 15i64;
    let mut creations = Vec::new();
    for n in 0..per_store {
        for (who, s) in [("a", &a), ("b", &b)] {
            let s = s.clone();
            let item = new_item("tasks", None, "E01", &format!("{who}{n}"), "assigned", T0 + n);
            creations.push(tokio::spawn(async move { s.create_item(&item).await }));
        }
    }
    let mut ids = Vec::new();
    for c in creations {
        ids.push(c.await.unwrap().unwrap());
    }
    ids.sort_unstable();
    assert_eq!(ids, (1..=2 * per_store).collect::<Vec<_>>());

    let explicit = new_item("alarms", Some(7), "E01", "报警", "open", T0);
    let (x, y) = (explicit.clone(), explicit);
    let (a2, b2) = (a.clone(), b.clone());
    let (ra, rb) = tokio::join!(
        tokio::spawn(async move { a2.create_item(&x).await }),
        tokio::spawn(async move { b2.create_item(&y).await })
    );
    let results = [ra.unwrap(), rb.unwrap()];
    assert_eq!(results.iter().filter(|r| matches!(r, Ok(7))).count(), 1, "{results:?}");
    assert_eq!(
        results.iter().filter(|r| matches!(r, Err(StoreError::Conflict(_)))).count(),
        1,
        "{results:?}"
    );

    for id in 1..=10 {
        let start = change(
            "assigned",
            "in_progress",
            &[("by", "a")],
            None,
            wf_step(T0, "a", "enterprise", "start", &[], &[]),
        );
        let close =
            change("assigned", "closed", &[("by", "b")], None, wf_step(T0, "b", "bureau", "close", &[], &[]));
        let (a2, b2) = (a.clone(), b.clone());
        let (ra, rb) = tokio::join!(
            tokio::spawn(async move { a2.apply_step("tasks", id, &start).await.unwrap() }),
            tokio::spawn(async move { b2.apply_step("tasks", id, &close).await.unwrap() })
        );
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        let winner = match (&ra, &rb) {
            (StepOutcome::Applied(i), StepOutcome::StateChanged { current }) if *current == i.state => {
                i.clone()
            }
            (StepOutcome::StateChanged { current }, StepOutcome::Applied(i)) if *current == i.state => {
                i.clone()
            }
            other => panic!("item {id}: expected one applied and one told the new state, got {other:?}"),
        };
        let stored = a.item("tasks", id).await.unwrap().unwrap();
        assert_eq!(stored, winner);
        assert_eq!(
            stored.fields.get("by").map(String::as_str),
            Some(if stored.state == "closed" { "b" } else { "a" })
        );
        let steps = b.steps("tasks", id).await.unwrap();
        assert_eq!(steps.iter().map(|s| s.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(steps[1].to_state, stored.state);
    }

    let bytes = b"the same inspection photo".to_vec();
    let (x, y) = (bytes.clone(), bytes.clone());
    let (a2, b2) = (a.clone(), b.clone());
    let (fa, fb) = tokio::join!(
        tokio::spawn(async move { a2.put_file("a.jpg", "image/jpeg", "E01", &x, T0).await.unwrap() }),
        tokio::spawn(async move { b2.put_file("b.jpg", "image/jpeg", "E02", &y, T0 + 1).await.unwrap() })
    );
    let (fa, fb) = (fa.unwrap(), fb.unwrap());
    assert_eq!(fa, fb, "one description, whichever was first");
    assert_eq!(a.file(&fa.sha256).await.unwrap().unwrap().1, bytes);
}

// ---------------------------------------------------------------------------------------------
// Backends

async fn sqlite_file(dir: &tempfile::TempDir, name: &str) -> SqliteStore {
    let path = dir.path().join(format!("{name}.db"));
    let store = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    store.migrate().await.unwrap();
    store
}

/// Run `story` on a fresh SQLite file.
async fn on_sqlite_file(name: &str, story: Story) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(sqlite_file(&dir, name).await);
    story(store.clone()).await;
    store.close().await;
}

/// Run `story` on a fresh in-memory SQLite database.
async fn on_sqlite_memory(story: Story) {
    let store = SqliteStore::open("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    story(Arc::new(store)).await;
}

/// The PostgreSQL server of `FENHE_TEST_PG_URL`, or `None` (with a note) when it is unset.
fn pg_url() -> Option<String> {
    match std::env::var("FENHE_TEST_PG_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!("skipped: FENHE_TEST_PG_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)");
            None
        }
    }
}

/// A schema of its own for one test, so tests run in parallel on one database; dropped after
/// a test that passed (a failed one leaves its schema to look at).
fn pg_schema(name: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let n = N.fetch_add(1, Ordering::Relaxed);
    let mut short: String = name.chars().take(30).collect();
    short.make_ascii_lowercase();
    format!("t_{short}_{}_{nanos}_{n}", std::process::id())
}

fn with_schema(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}schema={schema}")
}

/// The key file of a test schema's device secrets (shared by every store of that schema).
fn pg_key(schema: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("fenhe-test-{schema}.key"))
}

async fn pg_store(url: &str, schema: &str) -> PgStore {
    let url = format!("{}&key={}", with_schema(url, schema), pg_key(schema).display());
    let store = PgStore::open(&url).await.unwrap();
    store.migrate().await.unwrap();
    store
}

async fn drop_schema(url: &str, schema: &str) {
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&mut conn)
        .await
        .unwrap();
}

/// Run `story` in a fresh schema of the PostgreSQL database of `FENHE_TEST_PG_URL`.
async fn on_postgres(name: &str, story: Story) {
    let Some(url) = pg_url() else { return };
    let schema = pg_schema(name);
    let store = Arc::new(pg_store(&url, &schema).await);
    story(store.clone()).await;
    store.close().await;
    drop_schema(&url, &schema).await;
}

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
    // An in-memory database opens migrated: it reads back an empty registry.
    let mem = fenhe_store::open("sqlite::memory:").await.unwrap();
    assert_eq!(mem.registry().await.unwrap(), Registry::default());
    assert!(matches!(SqliteStore::open("").await, Err(StoreError::Invalid(_))));
    // A PostgreSQL URL goes to the PostgreSQL backend (nothing listens on port 1).
    assert!(matches!(
        fenhe_store::open("postgres://postgres@127.0.0.1:1/y").await,
        Err(StoreError::Open { .. })
    ));

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

/// The raw text of a column of a SQLite file, read beside the store.
async fn raw_texts(db: &std::path::Path, sql: &str) -> Vec<String> {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(db))
        .await
        .unwrap();
    let out = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_all(&pool).await.unwrap();
    pool.close().await;
    out
}

#[cfg(unix)]
fn mode(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Secrets at rest on SQLite: the files are the owner's only, the device passwords and a 1072's
/// parameters are sealed with `<db>.key`, a database of plain secrets (an older version's) is
/// sealed when opened, and a database whose key is missing is refused, saying why.
#[tokio::test]
async fn sqlite_secrets_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("secret.db");
    let key = dir.path().join("secret.db.key");
    let store: Arc<dyn Store> = Arc::new(sqlite_file(&dir, "secret").await);
    fresh(&store).await;
    let set = NewCommand { cp: "NewPW=s3cr3t".into(), ..cmd(MN1, "1072", T0) };
    store.enqueue_command(&set).await.unwrap();
    #[cfg(unix)]
    for f in [db.clone(), dir.path().join("secret.db-wal"), dir.path().join("secret.db-shm"), key.clone()] {
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    let password = registry().device(MN1).unwrap().password.clone();
    let stored = raw_texts(&db, "SELECT password FROM devices").await;
    assert_eq!(stored.len(), 2);
    assert!(stored.iter().all(|p| p.starts_with("sealed:v1:") && !p.contains(&password)), "{stored:?}");
    let cps = raw_texts(&db, "SELECT cp FROM commands").await;
    assert!(cps[0].starts_with("sealed:v1:") && !cps[0].contains("s3cr3t"), "{cps:?}");
    assert_eq!(store.registry().await.unwrap(), registry());

    // An older version's database: plain secrets, wide permissions, no key. Opening seals them.
    drop(store);
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&db))
        .await
        .unwrap();
    sqlx::query("UPDATE devices SET password = 'plain-1'").execute(&pool).await.unwrap();
    sqlx::query("UPDATE commands SET cp = 'NewPW=plain-2'").execute(&pool).await.unwrap();
    pool.close().await;
    std::fs::remove_file(&key).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let store = fenhe_store::open(db.to_str().unwrap()).await.unwrap();
    #[cfg(unix)]
    assert_eq!((mode(&db), mode(&key)), (0o600, 0o600));
    assert!(raw_texts(&db, "SELECT password FROM devices").await.iter().all(|p| p.starts_with("sealed:v1:")));
    assert!(raw_texts(&db, "SELECT cp FROM commands").await[0].starts_with("sealed:v1:"));
    assert!(store.registry().await.unwrap().devices.iter().all(|d| d.password == "plain-1"));
    assert_eq!(store.open_commands(MN1).await.unwrap()[0].new.cp, "NewPW=plain-2");
    drop(store);

    // Without its key the database is refused (a new key would open nothing).
    std::fs::rename(&key, dir.path().join("elsewhere.key")).unwrap();
    match fenhe_store::open(db.to_str().unwrap()).await {
        Err(StoreError::Secrets(m)) => {
            assert!(m.contains("secret.db.key") && m.contains("is missing"), "{m}")
        }
        other => panic!("expected a missing key, got {:?}", other.map(|_| ())),
    }
    assert!(!key.exists(), "no new key was made");
    // Another database's key does not open them either.
    let other_dir = tempfile::tempdir().unwrap();
    drop(sqlite_file(&other_dir, "other").await);
    std::fs::copy(other_dir.path().join("other.db.key"), &key).unwrap();
    let store = fenhe_store::open(db.to_str().unwrap()).await.unwrap();
    match store.registry().await {
        Err(StoreError::Secrets(m)) => assert!(m.contains("does not open with the key in"), "{m}"),
        other => panic!("expected a wrong key, got {other:?}"),
    }
}

/// Two stores on one file (as two processes would be) racing for the same leases: one wins each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_stores_share_leases() {
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(sqlite_file(&dir, "shared").await);
    let b = Arc::new(sqlite_file(&dir, "shared").await);
    for round in 0..20i64 {
        let name = format!("job-{round}");
        let (ta, tb) = {
            let (a, b, n1, n2) = (a.clone(), b.clone(), name.clone(), name.clone());
            (
                tokio::spawn(async move { a.try_lease(&n1, "node-a", 1_000, 60_000).await.unwrap() }),
                tokio::spawn(async move { b.try_lease(&n2, "node-b", 1_000, 60_000).await.unwrap() }),
            )
        };
        let (ga, gb) = (ta.await.unwrap(), tb.await.unwrap());
        assert!(ga.is_some() != gb.is_some(), "round {round}: {ga:?} {gb:?}");
    }
    a.close().await;
    b.close().await;
}

/// A database in a directory that does not exist: the error names the directory, once.
#[tokio::test]
async fn sqlite_open_names_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such");
    let db = missing.join("x.db");
    match SqliteStore::open(db.to_str().unwrap()).await {
        Err(e @ StoreError::Open { .. }) => {
            let want =
                format!("the directory {} does not exist; create it or pass another --db", missing.display());
            assert_eq!(e.to_string(), want);
            assert!(std::error::Error::source(&e).is_none());
        }
        Err(other) => panic!("expected Open, got {other:?}"),
        Ok(_) => panic!("opened a database in a missing directory"),
    }
    assert!(!missing.exists(), "nothing was created");
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
                assert!(matches!(*e, StoreError::Closed), "{e}")
            }
            other => panic!("expected BatchFailed, got {other:?}"),
        }
    }
    w.shutdown().await;
}

/// A full disk: SQLite fails a batch with "database or disk is full". The batch is refused
/// (nobody acknowledges it), the writer says it is failing, later batches fail for the same
/// reason (not because the connection was left inside a transaction), and once space returns the
/// writer stores again by itself. The disk is filled with SQLite's `max_page_count`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writer_recovers_from_a_full_disk() {
    use fenhe_store::write_health::WriterHealth;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(sqlite_file(&dir, "full").await);
    fresh(&(store.clone() as Arc<dyn Store>)).await;
    let w = Writer::spawn(store.clone(), WriterConfig { max_wait: Duration::ZERO, ..Default::default() });
    assert_eq!(w.health(), WriterHealth::Storing);
    let pages = store.page_count().await.unwrap();
    store.limit_pages(Some(pages + 8)).await.unwrap();

    // Uploads with big frames until the database is full.
    let big = |i: i64| {
        let mut item = upload(MN1, T0 + i, T0 + i * MINUTE, &[("a21026", i as f64)]);
        item.frame.bytes = vec![b'#'; 6_000];
        item
    };
    let mut acked = 0i64;
    let full = loop {
        match w.submit(big(acked)).await {
            Ok(_) => acked += 1,
            Err(e) => break e,
        }
        assert!(acked < 1_000, "the page cap did not fill the database");
    };
    assert!(full.to_string().contains("full"), "{full}");
    match w.health() {
        WriterHealth::Failing { reason } => assert!(reason.contains("full"), "{reason}"),
        other => panic!("expected Failing, got {other:?}"),
    }
    // Still full: every try fails for that reason, not for a connection left in a transaction.
    for i in 0..3 {
        let e = w.submit(big(acked + i)).await.unwrap_err();
        assert!(e.to_string().contains("full"), "try {i}: {e}");
    }
    assert!(w.health().problem().is_some());

    // Space returns: the next batches commit without a restart.
    store.limit_pages(None).await.unwrap();
    for i in 0..5 {
        w.submit(big(acked + i)).await.unwrap();
    }
    assert_eq!(w.health(), WriterHealth::Storing);
    let m = store.measurements(&MeasurementQuery::default()).await.unwrap();
    assert_eq!(m.len() as i64, acked + 5, "every acknowledged upload is stored, nothing refused is");
    w.shutdown().await;
}

/// Below the free-space floor the writer refuses new data without trying, says why, and stores
/// nothing; command bookkeeping still goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_writer_refuses_data_below_the_free_space_floor() {
    use fenhe_store::write_health::{SpaceFloor, WriterHealth, free_bytes};
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(sqlite_file(&dir, "floor").await);
    fresh(&(store.clone() as Arc<dyn Store>)).await;
    let free = free_bytes(dir.path()).unwrap();
    let floor = SpaceFloor { dir: dir.path().into(), min_free_bytes: free.saturating_mul(4).max(1 << 50) };
    let w = Writer::spawn(
        store.clone(),
        WriterConfig { max_wait: Duration::ZERO, floor: Some(floor), ..Default::default() },
    );
    match w.submit(upload(MN1, T0, T0, &[("a21026", 1.0)])).await {
        Err(StoreError::Unavailable(why)) => assert!(why.contains("--min-free-mb"), "{why}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(matches!(w.health(), WriterHealth::BelowFloor { .. }), "{:?}", w.health());
    assert!(store.measurements(&MeasurementQuery::default()).await.unwrap().is_empty());
    assert!(store.frames(&FrameQuery::default()).await.unwrap().is_empty());
    w.enqueue_command(cmd(MN1, "1011", T0)).await.unwrap();
    w.shutdown().await;

    // A floor the disk is above: stored as usual.
    let floor = SpaceFloor { dir: dir.path().into(), min_free_bytes: 1 };
    let w = Writer::spawn(store.clone(), WriterConfig { floor: Some(floor), ..Default::default() });
    w.submit(upload(MN1, T0, T0, &[("a21026", 1.0)])).await.unwrap();
    assert_eq!(w.health(), WriterHealth::Storing);
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
        "SELECT m.seq, m.factors FROM measurement_sets m WHERE m.device_id = 1 AND m.cn = 2051 AND m.data_time = 0",
    )
    .await;
    assert!(p.contains("SEARCH m USING PRIMARY KEY (device_id=? AND cn=? AND data_time=?)"), "{p}");
    let p = plan(
        "SELECT m.data_time FROM measurement_sets m JOIN devices d ON d.id = m.device_id \
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
    // The devices page's frames today: the day's range, not every frame stored.
    let p = plan(
        "SELECT mn, verdict, COUNT(*) AS n FROM frames INDEXED BY frames_received_at \
         WHERE received_at >= 0 GROUP BY mn, verdict",
    )
    .await;
    assert!(p.contains("SEARCH frames USING INDEX frames_received_at (received_at>?)"), "{p}");

    // Compliance: the engine's loader, window replacement and alarm withdrawal.
    let p = plan(
        "SELECT m.factors FROM measurement_sets m WHERE m.device_id = 1 AND m.cn IN (2011, 2051, 2061, 2031) \
         AND m.data_time >= 0 AND m.data_time < 10 ORDER BY m.cn, m.data_time, m.seq",
    )
    .await;
    assert!(
        p.contains("SEARCH m USING PRIMARY KEY (device_id=? AND cn=? AND data_time>? AND data_time<?)"),
        "{p}"
    );
    // Rows come in key order: no sort of a month of minutes.
    assert!(!p.contains("TEMP B-TREE"), "{p}");
    let p = plan(
        "DELETE FROM aggregates WHERE mn = 'x' AND period IN ('hour', 'day') AND start_at >= 0 AND start_at < 10",
    )
    .await;
    assert!(p.contains("PRIMARY KEY (mn=? AND period=? AND start_at>? AND start_at<?)"), "{p}");
    let p = plan(
        "DELETE FROM episodes WHERE mn = 'x' AND end_at >= 0 AND start_at < 10 AND (end_at > 0 OR start_at >= 0)",
    )
    .await;
    assert!(p.contains("episodes_mn_end (mn=? AND end_at>?)"), "{p}");
    let p = plan("SELECT x.seq FROM dirty_days x ORDER BY x.day_start LIMIT 10").await;
    assert!(p.contains("dirty_days_oldest"), "{p}");
    let p = plan(
        "UPDATE alarms SET status = 'resolved' WHERE mn = 'x' AND status = 'open' AND start_at >= 0 \
         AND start_at < 10 AND key NOT IN (SELECT value FROM json_each('[]'))",
    )
    .await;
    assert!(p.contains("alarms_mn_open (mn=? AND start_at>? AND start_at<?)"), "{p}");
}

/// The audit log is append-only in the database itself: even a direct UPDATE or DELETE (another
/// program, a mistaken script) is refused, and nothing changes.
#[tokio::test]
async fn sqlite_audit_log_refuses_updates_and_deletes() {
    use sqlx::Connection as _;
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_file(&dir, "audit").await;
    let entry = NewAuditEntry {
        at: T0,
        actor: "cli".into(),
        actor_role: "admin".into(),
        action: "user.create".into(),
        object_kind: "user".into(),
        object_id: "zhang".into(),
        before: None,
        after: None,
        peer: "local".into(),
    };
    store.append_audit(&entry).await.unwrap();
    let path = dir.path().join("audit.db");
    let mut raw = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    for sql in ["UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"] {
        let e = sqlx::query(sql).execute(&mut raw).await.unwrap_err();
        assert!(e.to_string().contains("append-only"), "{sql}: {e}");
    }
    raw.close().await.unwrap();
    let all = store.audit(&AuditQuery { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(all.iter().map(|e| &e.entry).collect::<Vec<_>>(), [&entry]);
    store.close().await;
}

/// Two processes on one SQLite file share the workflows safely (see
/// [`two_writers_share_workflows`]): `BEGIN IMMEDIATE` serialises them on the file's write lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_two_stores_share_workflows() {
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(sqlite_file(&dir, "shared").await);
    let b = Arc::new(sqlite_file(&dir, "shared").await);
    two_writers_share_workflows(a.clone(), b.clone()).await;
    a.close().await;
    b.close().await;
}

/// Workflow items, files and history are never deleted on SQLite, nor a step changed, even by a
/// statement of another program; and the lists use the indexes named in the migration.
#[tokio::test]
async fn sqlite_workflows_are_never_deleted_and_indexed() {
    use sqlx::Connection as _;
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_file(&dir, "wf").await;
    store.create_item(&new_item("tasks", None, "E01", "t", "assigned", T0)).await.unwrap();
    store.put_file("a.txt", "text/plain", "E01", b"a", T0).await.unwrap();
    let path = dir.path().join("wf.db");
    let mut raw = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
    for sql in [
        "DELETE FROM workflow_items",
        "UPDATE workflow_steps SET actor = 'x'",
        "DELETE FROM workflow_steps",
        "DELETE FROM workflow_files",
    ] {
        let e = sqlx::query(sql).execute(&mut raw).await.unwrap_err();
        assert!(
            e.to_string().contains("never deleted") || e.to_string().contains("append-only"),
            "{sql}: {e}"
        );
    }
    let path = &path;
    let plan = |sql: &str| {
        let sql = format!("EXPLAIN QUERY PLAN {sql}");
        async move {
            let mut c =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await.unwrap();
            let rows: Vec<(i64, i64, i64, String)> =
                sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&mut c).await.unwrap();
            rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join(" | ")
        }
    };
    // The statements `items` and `count_items` build (sqlite/workflows.rs).
    let order = "ORDER BY created_at DESC, id DESC LIMIT 20";
    let p = plan(&format!("SELECT id FROM workflow_items WHERE 1 = 1 AND kind = 'tasks' {order}")).await;
    assert!(p.contains("workflow_items_created (kind=?)") && !p.contains("TEMP B-TREE"), "{p}");
    let p = plan(&format!(
        "SELECT id FROM workflow_items WHERE 1 = 1 AND kind = 'tasks' AND enterprise = 'E01' {order}"
    ))
    .await;
    assert!(
        p.contains("workflow_items_enterprise (kind=? AND enterprise=?)") && !p.contains("TEMP B-TREE"),
        "{p}"
    );
    let p = plan(&format!(
        "SELECT id FROM workflow_items WHERE 1 = 1 AND kind = 'tasks' AND department = 'yjj' {order}"
    ))
    .await;
    assert!(p.contains("workflow_items_department (kind=? AND department=?)"), "{p}");
    let p = plan(
        "SELECT COUNT(*) FROM workflow_items WHERE 1 = 1 AND kind = 'tasks' \
         AND state IN (SELECT value FROM json_each('[\"assigned\",\"rejected\"]'))",
    )
    .await;
    assert!(p.contains("workflow_items_state (kind=? AND state=?)"), "{p}");
    let p = plan(
        "SELECT id FROM workflow_items WHERE 1 = 1 AND kind = 'tasks' AND due_at < 5 \
         AND state NOT IN (SELECT value FROM json_each('[\"accepted\"]')) ORDER BY created_at DESC, id DESC",
    )
    .await;
    assert!(p.contains("workflow_items_due (kind=? AND due_at<?)"), "{p}");
    raw.close().await.unwrap();
    store.close().await;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL specifics

/// Two processes (two stores on one schema) receive the same uploads at the same time, as two
/// ingest nodes behind a load balancer would after a device reconnects: every value is stored
/// once, each upload counts as inserted by exactly one of them and as duplicates by the other,
/// and a changed value becomes exactly one revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_nodes_store_each_value_once() {
    let Some(url) = pg_url() else { return };
    let schema = pg_schema("two_nodes");
    let a: Arc<dyn Store> = Arc::new(pg_store(&url, &schema).await);
    let b: Arc<dyn Store> = Arc::new(pg_store(&url, &schema).await);
    fresh(&a).await;
    let rounds = 40i64;
    let mut inserted = 0;
    let mut duplicates = 0;
    for round in 0..rounds {
        // Both devices, two factors, in one batch per node; the second node's batch is the same.
        let t = T0 + round * MINUTE;
        let batch = vec![
            upload(MN1, t, t, &[("a21026", 1.0), ("a19001", 2.0)]),
            upload(MN2, t, t, &[("w01018", 3.0)]),
        ];
        let (ra, rb) = {
            let (a, b, x, y) = (a.clone(), b.clone(), batch.clone(), batch);
            let ta = tokio::spawn(async move { a.write_batch(&x).await.unwrap() });
            let tb = tokio::spawn(async move { b.write_batch(&y).await.unwrap() });
            (ta.await.unwrap(), tb.await.unwrap())
        };
        for o in ra.iter().chain(&rb) {
            inserted += o.inserted;
            duplicates += o.duplicates;
            assert_eq!(o.revisions, 0);
        }
    }
    assert_eq!((inserted, duplicates), (3 * rounds as u32, 3 * rounds as u32));
    let counts = a.stored_counts(None).await.unwrap();
    assert_eq!(counts.measurement_values, 3 * rounds as u64);
    // A changed value sent to both nodes at once (within the revision window): one revision,
    // whichever node stores it.
    let changed = vec![upload(MN1, T0 + 5 * MINUTE, T0, &[("a21026", 9.0)])];
    let (x, y) = (changed.clone(), changed);
    let (a2, b2) = (a.clone(), b.clone());
    let (ra, rb) = tokio::join!(
        tokio::spawn(async move { a2.write_batch(&x).await.unwrap() }),
        tokio::spawn(async move { b2.write_batch(&y).await.unwrap() })
    );
    let mut got = vec![outcome(&ra.unwrap()[0]), outcome(&rb.unwrap()[0])];
    got.sort();
    assert_eq!(got, vec![(0, 0, 1), (0, 1, 0)]);
    let ms = a
        .measurements(&MeasurementQuery {
            mn: Some(MN1.into()),
            factor: Some("a21026".into()),
            to: Some(T0 + 1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        ms.iter().map(|m| (m.revision, m.values.avg)).collect::<Vec<_>>(),
        vec![(0, Some(1.0)), (1, Some(9.0))]
    );
    drop((a, b));
    drop_schema(&url, &schema).await;
}

/// Frames and measurements land in monthly partitions, created as their months arrive (a
/// backfill of an old month, a device whose clock is years ahead), by either of two stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_partitions_follow_the_data() {
    let Some(url) = pg_url() else { return };
    let schema = pg_schema("partitions");
    let a = pg_store(&url, &schema).await;
    let b = pg_store(&url, &schema).await;
    let a: Arc<dyn Store> = Arc::new(a);
    fresh(&a).await;
    // 2024-07 (T0) and 2031-01-15 China time.
    let later = 1_926_086_400_000;
    a.write_batch(&[upload(MN1, T0, T0, &[("a21026", 1.0)])]).await.unwrap();
    b.write_batch(&[upload(MN1, T0, later, &[("a21026", 2.0)])]).await.unwrap();
    let names: Vec<String> = {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY 1",
        )
        .bind(&schema)
        .fetch_all(&mut conn)
        .await
        .unwrap()
    };
    for want in ["frames_p202407", "measurements_p202407", "measurements_p203101"] {
        assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
    }
    assert!(!names.iter().any(|n| n == "frames_p203101"), "frames are partitioned by receipt: {names:?}");
    let all = a.measurements(&MeasurementQuery::default()).await.unwrap();
    assert_eq!(all.iter().map(|m| m.data_time).collect::<Vec<_>>(), vec![T0, later]);
    drop(a);
    b.close().await;
    drop_schema(&url, &schema).await;
}

/// The audit log refuses updates, deletes and truncation on PostgreSQL too.
#[tokio::test]
async fn postgres_audit_log_refuses_updates_and_deletes() {
    let Some(url) = pg_url() else { return };
    let schema = pg_schema("audit_ro");
    let store = pg_store(&url, &schema).await;
    let e = NewAuditEntry {
        at: T0,
        actor: "cli".into(),
        actor_role: "admin".into(),
        action: "user.create".into(),
        object_kind: "user".into(),
        object_id: "u".into(),
        before: None,
        after: Some(serde_json::json!({"a": 1})),
        peer: "local".into(),
    };
    store.append_audit(&e).await.unwrap();
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    for sql in ["UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
        let sql = format!("SET search_path TO {schema}; {sql}");
        let err = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).execute(&mut conn).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(store.audit_count(&AuditQuery::default()).await.unwrap(), 1);
    store.close().await;
    drop_schema(&url, &schema).await;
}

/// Two engines (two stores on one schema) saving the same device's window at once: both
/// succeed, one after the other, and the window holds one evaluation (no duplicate rows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_engines_save_one_window() {
    let Some(url) = pg_url() else { return };
    let schema = pg_schema("two_engines");
    let a: Arc<dyn Store> = Arc::new(pg_store(&url, &schema).await);
    let b: Arc<dyn Store> = Arc::new(pg_store(&url, &schema).await);
    fresh(&a).await;
    for round in 0..20 {
        let (a2, b2) = (a.clone(), b.clone());
        let (ra, rb) = tokio::join!(
            tokio::spawn(
                async move { a2.save_evaluation(MN1, D0, D0 + DAY, &day_evaluation(D0, 1.0)).await }
            ),
            tokio::spawn(
                async move { b2.save_evaluation(MN1, D0, D0 + DAY, &day_evaluation(D0, 2.0)).await }
            )
        );
        ra.unwrap().unwrap_or_else(|e| panic!("round {round}: {e}"));
        rb.unwrap().unwrap_or_else(|e| panic!("round {round}: {e}"));
    }
    let hours =
        a.aggregates(&AggregateQuery { period: Some(Period::Hour), ..Default::default() }).await.unwrap();
    assert_eq!(hours.len(), 4, "{hours:?}");
    assert_eq!(a.episodes(&EpisodeQuery::default()).await.unwrap().len(), 1);
    drop((a, b));
    drop_schema(&url, &schema).await;
}

/// Two nodes on one PostgreSQL schema share the workflows safely (see
/// [`two_writers_share_workflows`]).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_nodes_share_workflows() {
    let Some(url) = pg_url() else { return };
    let schema = pg_schema("two_workflows");
    let a: Arc<dyn Store> = Arc::new(pg_store(&url, &schema).await);
    let b: Arc<dyn Store> = Arc::new(pg_store(&url, &schema).await);
    two_writers_share_workflows(a, b).await;
    drop_schema(&url, &schema).await;
}

/// Workflow items, files and history are never deleted on PostgreSQL, nor a step changed, even
/// by a statement of another program.
#[tokio::test]
async fn postgres_workflows_are_never_deleted() {
    let Some(url) = pg_url() else { return };
    let schema = pg_schema("wf_ro");
    let store = pg_store(&url, &schema).await;
    store.create_item(&new_item("tasks", None, "E01", "t", "assigned", T0)).await.unwrap();
    store.put_file("a.txt", "text/plain", "E01", b"a", T0).await.unwrap();
    use sqlx::Connection as _;
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    for sql in [
        "DELETE FROM workflow_items",
        "TRUNCATE workflow_items CASCADE",
        "UPDATE workflow_steps SET actor = 'x'",
        "DELETE FROM workflow_steps",
        "TRUNCATE workflow_steps",
        "DELETE FROM workflow_files",
        "TRUNCATE workflow_files",
    ] {
        let sql = format!("SET search_path TO {schema}; {sql}");
        let err = sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).execute(&mut conn).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{sql}: {err}");
    }
    assert_eq!(store.steps("tasks", 1).await.unwrap()[0].actor, "li");
    assert!(store.item("tasks", 1).await.unwrap().is_some());
    store.close().await;
    drop_schema(&url, &schema).await;
}
