use std::collections::HashSet;
use std::sync::Arc;

use fenhe_core::access::{Actor, Denied, Role};
use fenhe_core::china_time::MINUTE_MS;
use fenhe_core::compliance::{AlarmDraft, Evaluation, Rate, Severity};
use fenhe_core::demo;

use super::*;

const NOW: i64 = 1_796_169_600_000 + 10 * HOUR_MS + 20 * MINUTE_MS; // 2026-12-02 10:20 China time

async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.db");
    let store = fenhe_store::open(path.to_str().unwrap()).await.unwrap();
    store.import_registry(&demo::city()).await.unwrap();
    (store, dir)
}

fn device_of(e: &str, kind: OutletKind) -> fenhe_core::Device {
    let city = demo::city();
    city.devices
        .iter()
        .find(|d| city.outlet(&d.outlet).is_some_and(|o| o.enterprise == e && o.kind == kind))
        .unwrap()
        .clone()
}

fn hour(d: &fenhe_core::Device, factor: &str, start: i64, records: u32, exceeds: bool) -> Aggregate {
    Aggregate {
        mn: d.mn.clone(),
        outlet: d.outlet.clone(),
        factor: factor.into(),
        period: Period::Hour,
        start,
        mean: Some(if exceeds { 90.0 } else { 10.0 }),
        converted_mean: Some(if exceeds { 90.0 } else { 10.0 }),
        min: None,
        max: None,
        valid_units: records * d.minute_interval_min,
        records,
        valid: true,
        reason: None,
        limit: Some(50.0),
        limit_min: None,
        exceeds,
    }
}

fn exceedance(d: &fenhe_core::Device, start: i64) -> AlarmDraft {
    AlarmDraft {
        key: format!("episode:{}:a21002:{start}", d.mn),
        mn: d.mn.clone(),
        outlet: d.outlet.clone(),
        factor: Some("a21002".into()),
        kind: "exceedance".into(),
        severity: Severity::Warning,
        start,
        end: start + HOUR_MS,
        active: true,
        title_zh: "超标".into(),
        title_en: "exceedance".into(),
        detail_zh: String::new(),
        detail_en: String::new(),
    }
}

fn enterprise_user(e: &str) -> Actor {
    Actor::new("e", Role::Enterprise { enterprise: e.into() })
}

#[tokio::test]
async fn a_role_without_environmental_data_is_refused_before_anything_loads() {
    let (store, _dir) = store().await;
    let dept = Actor::new("d", Role::Department { department: "fgw".into() });
    let e = city_overview(store.as_ref(), &dept, &HashSet::new(), NOW).await.unwrap_err();
    assert!(matches!(e, OverviewError::Denied(Denied::Forbidden)), "{e}");
}

#[tokio::test]
async fn an_enterprise_user_sees_only_their_own_enterprise() {
    let (store, _dir) = store().await;
    let mine = device_of("E01", OutletKind::FlueGas);
    let theirs = device_of("E02", OutletKind::FlueGas);
    let day = time::day_start(NOW);
    for d in [&mine, &theirs] {
        store.sync_alarms(&d.mn, day, day + DAY_MS, &[exceedance(d, day + HOUR_MS)], NOW).await.unwrap();
        let ev = Evaluation { hours: vec![hour(d, "a21002", day + HOUR_MS, 60, true)], ..Default::default() };
        store.save_evaluation(&d.mn, day, day + DAY_MS, &ev).await.unwrap();
    }
    let connected: HashSet<String> = [mine.mn.clone(), theirs.mn.clone()].into();

    let o = city_overview(store.as_ref(), &enterprise_user("E01"), &connected, NOW).await.unwrap();
    assert!(!o.city_wide);
    assert_eq!(o.enterprise.as_deref(), Some("E01"));
    assert_eq!(o.enterprises.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["E01"]);
    assert_eq!(o.enterprises[0].state, EnterpriseState::Exceeding);
    assert_eq!(o.enterprises[0].exceeding_outlets, std::slice::from_ref(&mine.outlet));
    assert_eq!((o.open_alarms, o.devices_online), (1, 1));
    assert_eq!(o.top_outlets.iter().map(|t| t.outlet.as_str()).collect::<Vec<_>>(), [mine.outlet.as_str()]);
    let text = serde_json::to_string(&o).unwrap();
    assert!(!text.contains("E02") && !text.contains(&theirs.mn), "{text}");

    let officer = Actor::new("b", Role::Bureau);
    let o = city_overview(store.as_ref(), &officer, &connected, NOW).await.unwrap();
    assert!(o.city_wide);
    assert_eq!(o.enterprises.len(), demo::city().enterprises.len());
    assert_eq!((o.open_alarms, o.devices_online), (2, 2));
    assert_eq!(o.alarms_by_kind, [("exceedance".to_string(), 2)]);
    assert_eq!(o.top_outlets.len(), 2);
}

#[tokio::test]
async fn enterprise_states_follow_alarms_and_connections() {
    let (store, _dir) = store().await;
    let city = demo::city();
    let e01_all: HashSet<String> = city
        .devices
        .iter()
        .filter(|d| city.outlet(&d.outlet).is_some_and(|o| o.enterprise == "E01"))
        .map(|d| d.mn.clone())
        .collect();
    // E01's devices are connected and nothing exceeds; E02 has never sent anything.
    let o = city_overview(store.as_ref(), &Actor::new("a", Role::Admin), &e01_all, NOW).await.unwrap();
    let state = |id: &str| o.enterprises.iter().find(|e| e.id == id).unwrap().state;
    assert_eq!(state("E01"), EnterpriseState::Compliant);
    assert_eq!(state("E02"), EnterpriseState::NoData);
    let e01 = o.enterprises.iter().find(|e| e.id == "E01").unwrap();
    assert_eq!((e01.devices_online, e01.devices), (e01_all.len(), e01_all.len()));
}

#[tokio::test]
async fn today_and_month_rates_are_counted_by_the_rate_definitions() {
    let (store, _dir) = store().await;
    let d = device_of("E01", OutletKind::FlueGas);
    let day = time::day_start(NOW);
    let per_hour = 60 / d.minute_interval_min;
    // Hours 0 and 1 judged: every factor complete at hour 0, half the records at hour 1, and one
    // factor exceeding at hour 1.
    let mut hours = Vec::new();
    for f in &d.factors {
        hours.push(hour(&d, f, day, per_hour, false));
        hours.push(hour(&d, f, day + HOUR_MS, per_hour / 2, f == "a21002"));
    }
    let ev = Evaluation { hours, ..Default::default() };
    store.save_evaluation(&d.mn, day, day + DAY_MS, &ev).await.unwrap();
    let month = time::month_start(NOW);
    let rate = Rate {
        mn: d.mn.clone(),
        outlet: d.outlet.clone(),
        period: Period::Month,
        start: month,
        expected: 100,
        received: 80,
        valid: 60,
        transmission: 0.8,
        validity: 0.6,
        effective_transmission: 0.48,
        compliance: Some(0.75),
        judged_hours: 8,
        exceeding_hours: 2,
    };
    store.save_monthly(&d.mn, month, &[], &[rate], &[]).await.unwrap();

    let o = city_overview(store.as_ref(), &enterprise_user("E01"), &HashSet::new(), NOW).await.unwrap();
    let e01_devices: Vec<_> = {
        let city = demo::city();
        city.devices
            .iter()
            .filter(|x| city.outlet(&x.outlet).is_some_and(|o| o.enterprise == "E01"))
            .map(|x| (60 / x.minute_interval_min) as u64 * x.factors.len() as u64)
            .collect()
    };
    let expected: u64 = e01_devices.iter().sum::<u64>() * 2;
    let received = d.factors.len() as u64 * (per_hour + per_hour / 2) as u64;
    let t = o.today.transmission.unwrap();
    assert!((t - received as f64 / expected as f64).abs() < 1e-9, "{t}");
    assert_eq!((o.today.judged_hours, o.today.exceeding_hours), (2 * d.factors.len() as u64, 1));
    assert_eq!(o.month.transmission, Some(0.8));
    assert_eq!(o.month.compliance, Some(0.75));
    // Nothing was ever received from these devices: offline the whole time.
    assert_eq!(o.today.online, Some(0.0));
}

#[test]
fn covered_time_is_the_union_of_the_intervals_within_the_period() {
    assert_eq!(covered(&[], 0, 100), 0);
    assert_eq!(covered(&[(10, 20), (15, 30), (90, 200)], 0, 100), 30);
    assert_eq!(covered(&[(-50, 10), (5, 8)], 0, 100), 10);
    assert_eq!(covered(&[(0, i64::MAX)], 0, 100), 100);
}
