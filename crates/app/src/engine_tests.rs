//! The engine over a real SQLite store: a registry imported, a day of minute data written the way
//! the gateway writes it, one cycle run, and what it stored read back; a device that then falls
//! silent, found by the silent-device check and judged by the next cycle.

use fenhe_core::china_time::{self as time, HOUR_MS, MINUTE_MS};
use fenhe_core::compliance::FindingKind;
use fenhe_core::compliance::{Params, Period};
use fenhe_core::{FrameRecord, Limit, Measurement, OutletKind, Registry, Values, Verdict};
use fenhe_store::{AggregateQuery, AlarmQuery, AlarmStatus, FindingQuery, IngestItem, Store};

use super::{SilentReport, mark_silent_devices, offline_state, run_cycle};

const MN: &str = "APPTEST00000000000000001";

/// One enterprise of the demo city with one flue-gas outlet (SO2 limit 35 mg/m³, no reference O2)
/// and one logger sending SO2 every 10 minutes.
fn registry() -> Registry {
    let city = fenhe_core::demo::city();
    let mut outlet = city.outlets.iter().find(|o| o.kind == OutletKind::FlueGas).cloned().unwrap();
    outlet.reference_o2 = None;
    outlet.limits = vec![Limit {
        factor: "a21026".into(),
        max: Some(35.0),
        min: None,
        effective_from: jiff::civil::date(2020, 1, 1),
    }];
    let enterprise = city.enterprises.iter().find(|e| e.id == outlet.enterprise).cloned().unwrap();
    let mut device = city.devices.iter().find(|d| d.outlet == outlet.id).cloned().unwrap();
    device.mn = MN.into();
    device.minute_interval_min = 10;
    device.hourly = false;
    device.factors = vec!["a21026".into()];
    Registry { enterprises: vec![enterprise], outlets: vec![outlet], devices: vec![device] }
}

/// 2026-03-02 00:00 China time.
fn day() -> i64 {
    time::date_start(jiff::civil::date(2026, 3, 2))
}

/// A day of 10-minute SO2 uploads: 20 mg/m³, and 100 from 09:00 to 12:00.
fn uploads() -> Vec<IngestItem> {
    (0..144)
        .map(|i| {
            let t = day() + i * 10 * MINUTE_MS;
            let exceeding = (day() + 9 * HOUR_MS..day() + 12 * HOUR_MS).contains(&t);
            let values = Values {
                avg: Some(if exceeding { 100.0 } else { 20.0 }),
                flag: Some("N".into()),
                ..Default::default()
            };
            IngestItem {
                frame: FrameRecord {
                    received_at: t + 10 * MINUTE_MS,
                    peer: "127.0.0.1:1".into(),
                    mn: Some(MN.into()),
                    cn: Some("2051".into()),
                    bytes: format!("frame {i}").into_bytes(),
                    verdict: Verdict::Accepted,
                    reason: None,
                    deviations: String::new(),
                },
                measurements: vec![Measurement {
                    mn: MN.into(),
                    cn: "2051".into(),
                    data_time: t,
                    factor: "a21026".into(),
                    raw_code: "a21026".into(),
                    values,
                }],
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_judges_what_was_written_and_a_second_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.db");
    let store = fenhe_store::open(db.to_str().unwrap()).await.unwrap();
    let reg = registry();
    store.import_registry(&reg).await.unwrap();
    store.write_batch(&uploads()).await.unwrap();

    let params = Params::default();
    let now = day() + time::DAY_MS;
    let first = run_cycle(store.as_ref(), &reg, &params, now).await.unwrap();
    assert_eq!((first.devices, first.device_days, first.skipped), (1, 1, 0));
    assert_eq!(first.records, 144);

    let hours = aggregates(store.as_ref(), Period::Hour).await;
    assert_eq!(hours.len(), 24);
    let exceeding: Vec<i64> =
        hours.iter().filter(|h| h.exceeds).map(|h| (h.start - day()) / HOUR_MS).collect();
    assert_eq!(exceeding, [9, 10, 11]);
    assert!(hours.iter().all(|h| h.valid), "every hour has its six values");
    let days = aggregates(store.as_ref(), Period::Day).await;
    assert_eq!(days.len(), 1);
    assert!(days[0].valid);
    // (21 × 20 + 3 × 100) / 24 = 30: the day's mean stays under the limit.
    assert_eq!(days[0].mean, Some(30.0));
    assert!(!days[0].exceeds);

    let alarms = store.alarms(&AlarmQuery::default()).await.unwrap();
    let exceedance: Vec<_> = alarms.iter().filter(|a| a.draft.kind == "exceedance").collect();
    assert_eq!(exceedance.len(), 1, "{alarms:?}");
    assert_eq!(exceedance[0].draft.start, day() + 9 * HOUR_MS);
    assert_eq!(exceedance[0].draft.end, day() + 12 * HOUR_MS);
    assert_eq!(first.alarms.raised as usize, alarms.len());

    // Nothing is dirty any more: a second cycle judges nothing and raises nothing.
    let second = run_cycle(store.as_ref(), &reg, &params, now).await.unwrap();
    assert_eq!((second.device_days, second.alarms.raised, second.rejudged_all), (0, 0, 0));
    let again = store.alarms(&AlarmQuery::default()).await.unwrap();
    let state = |list: &[fenhe_store::Alarm]| -> Vec<(i64, AlarmStatus, i64)> {
        list.iter().map(|a| (a.id, a.status, a.updated_at)).collect()
    };
    assert_eq!(state(&again), state(&alarms));
}

async fn aggregates(store: &dyn Store, period: Period) -> Vec<fenhe_core::compliance::Aggregate> {
    let q = AggregateQuery { mn: Some(MN.into()), period: Some(period), ..Default::default() };
    store.aggregates(&q).await.unwrap()
}

/// The queries behind the CLI read what the engine and the gateway stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queries_read_what_was_judged() {
    let dir = tempfile::tempdir().unwrap();
    let store = fenhe_store::open(dir.path().join("q.db").to_str().unwrap()).await.unwrap();
    let reg = registry();
    store.import_registry(&reg).await.unwrap();
    store.write_batch(&uploads()).await.unwrap();
    run_cycle(store.as_ref(), &reg, &Params::default(), day() + time::DAY_MS).await.unwrap();

    let rates = crate::alarm_queries::rates(
        store.as_ref(),
        fenhe_core::compliance::Scope::Outlet,
        Period::Day,
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(rates.len(), 1);
    assert_eq!(rates[0].rate.key, reg.outlets[0].id);
    assert_eq!(rates[0].name.as_deref(), Some(reg.outlets[0].name.as_str()));
    assert_eq!((rates[0].rate.judged_hours, rates[0].rate.exceeding_hours), (24, 3));

    let devices = crate::device_queries::devices(store.as_ref()).await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].frames, 144);
    assert_eq!(devices[0].enterprise_id.as_deref(), Some(reg.enterprises[0].id.as_str()));
    assert_eq!(devices[0].latest, [("2051".to_string(), day() + 143 * 10 * MINUTE_MS)]);

    let filter = crate::measurement_queries::MeasurementFilter {
        mn: MN.into(),
        from: Some(day() + 9 * HOUR_MS),
        to: Some(day() + 10 * HOUR_MS),
        ..Default::default()
    };
    let ms = crate::measurement_queries::measurements(store.as_ref(), &filter).await.unwrap();
    assert_eq!(ms.len(), 6);
    assert!(ms.iter().all(|m| m.values.avg == Some(100.0)));
}

/// A device that stops sending marks nothing; the silent-device check marks the days of its
/// silence once a day, and the cycle after it gives them their hours, the open offline finding
/// and its alarm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_silent_device_check_has_the_days_of_silence_judged() {
    let dir = tempfile::tempdir().unwrap();
    let store = fenhe_store::open(dir.path().join("s.db").to_str().unwrap()).await.unwrap();
    let reg = registry();
    store.import_registry(&reg).await.unwrap();
    store.write_batch(&uploads()).await.unwrap();
    let params = Params::default();

    // Noon of the third day: silent since 23:50 on the first.
    let now = day() + 2 * time::DAY_MS + 12 * HOUR_MS;
    let first = run_cycle(store.as_ref(), &reg, &params, now).await.unwrap();
    assert_eq!(first.device_days, 1, "only the day with data was marked by its writes");
    let offline = |store: std::sync::Arc<dyn Store>| async move {
        let q = FindingQuery { mn: Some(MN.into()), kind: Some(FindingKind::Offline), ..Default::default() };
        store.findings(&q).await.unwrap()
    };
    assert!(offline(store.clone()).await.is_empty());

    let found = mark_silent_devices(store.as_ref(), &reg, &params, now).await.unwrap();
    assert_eq!(found, SilentReport { devices: 1, device_days: 3 });
    let mark = store.engine_state(&offline_state(MN)).await.unwrap();
    assert_eq!(mark, Some(format!("{}@{}", day() + 143 * 10 * MINUTE_MS, day() + 2 * time::DAY_MS)));
    // Once a day: the same silence on the same day is not marked again.
    let again = mark_silent_devices(store.as_ref(), &reg, &params, now + HOUR_MS).await.unwrap();
    assert_eq!(again, SilentReport::default());

    let cycle = run_cycle(store.as_ref(), &reg, &params, now).await.unwrap();
    assert_eq!(cycle.device_days, 3);
    let findings = offline(store.clone()).await;
    assert_eq!(findings.len(), 1, "{findings:?}");
    // The gap starts where the first missing record was due: 10 minutes after the last, midnight.
    assert_eq!(findings[0].start, day() + time::DAY_MS);
    let hours = aggregates(store.as_ref(), Period::Hour).await;
    assert_eq!(hours.len(), 24 + 24 + 12, "the silent hours through now are judged (without data)");
    assert_eq!(hours.iter().filter(|h| h.valid).count(), 24);
    let alarms = store.alarms(&AlarmQuery::default()).await.unwrap();
    assert!(alarms.iter().any(|a| a.draft.kind == "offline" && a.status == AlarmStatus::Open), "{alarms:?}");

    // The next day: marked again from the day marked through, which has grown since.
    let next = mark_silent_devices(store.as_ref(), &reg, &params, now + time::DAY_MS).await.unwrap();
    assert_eq!(next, SilentReport { devices: 1, device_days: 2 });
}

/// A run of dirty days longer than the rules judge at once is split, never cut: 3661 consecutive
/// days make a window of 3660 days and one of a day.
#[test]
fn long_runs_are_split_at_the_rules_window() {
    let first = day();
    let max = fenhe_core::compliance::MAX_WINDOW_DAYS;
    let days: std::collections::BTreeSet<i64> = (0..=max).map(|i| first + i * time::DAY_MS).collect();
    let w = super::runs(&days);
    assert_eq!(
        w,
        [(first, first + max * time::DAY_MS), (first + max * time::DAY_MS, first + (max + 1) * time::DAY_MS)]
    );
    // A gap still starts a new window.
    let days: std::collections::BTreeSet<i64> = [0, 1, 3].map(|i| first + i * time::DAY_MS).into();
    assert_eq!(super::runs(&days).len(), 2);
}
