//! Real data for the enterprise and outlet tests: minute uploads written through the store as
//! the gateway writes them, then judged by the compliance engine of `fenhe_app`.

use fenhe_core::china_time::{self, HOUR_MS, MINUTE_MS};
use fenhe_core::compliance::Params;
use fenhe_core::{FrameRecord, Measurement, Registry, Values, Verdict};
use fenhe_store::{IngestItem, Store};

pub const PM: &str = "a34013";
pub const SO2: &str = "a21026";
pub const O2: &str = "a19001";

/// The first outlet of `source_type` in the demo city and its device's MN.
pub fn outlet_of(reg: &Registry, source_type: &str) -> (String, String, String) {
    let o = reg.outlets.iter().find(|o| o.source_type == source_type).expect("the demo has one");
    let d = reg.devices.iter().find(|d| d.outlet == o.id).expect("a device");
    (o.enterprise.clone(), o.id.clone(), d.mn.clone())
}

/// One minute upload of `mn` at `t` with `values` per factor (value, flag).
fn upload(mn: &str, t: i64, values: &[(&str, f64, &str)]) -> IngestItem {
    IngestItem {
        frame: FrameRecord {
            received_at: t + MINUTE_MS,
            peer: "127.0.0.1:1".into(),
            mn: Some(mn.into()),
            cn: Some("2051".into()),
            bytes: format!("minute {mn} {t}").into_bytes(),
            verdict: Verdict::Accepted,
            reason: None,
            deviations: String::new(),
        },
        measurements: values
            .iter()
            .map(|(factor, v, flag)| Measurement {
                mn: mn.into(),
                cn: "2051".into(),
                data_time: t,
                factor: (*factor).into(),
                raw_code: (*factor).into(),
                values: Values { avg: Some(*v), flag: Some((*flag).into()), ..Default::default() },
            })
            .collect(),
    }
}

/// Write `items` and judge them as of `now`.
async fn write_and_judge(store: &dyn Store, items: &[IngestItem], now: i64) {
    for chunk in items.chunks(500) {
        store.write_batch(chunk).await.expect("the uploads are stored");
    }
    let registry = store.registry().await.expect("the registry");
    fenhe_app::engine::run_cycle(store, &registry, &Params::default(), now).await.expect("the engine runs");
}

/// The coke oven chimney across the day its particulate limit tightened (15 → 10 mg/m³ on
/// 2025-01-01): PM 12 mg/m³ at the reference O2 (8 %) on 2024-12-31 and 2025-01-01, so the same
/// value is within the limit the first day and above it the second; 10:00–11:00 on 2024-12-31 is
/// flagged maintenance (M). Returns (enterprise, outlet, MN).
pub async fn coke_oven_across_the_limit_change(store: &dyn Store) -> (String, String, String) {
    let reg = store.registry().await.expect("the registry");
    let (e, outlet, mn) = outlet_of(&reg, "coke_oven_chimney");
    let start = china_time::parse("2024-12-31").expect("a date");
    let maintenance = start + 10 * HOUR_MS..start + 11 * HOUR_MS;
    let items: Vec<IngestItem> = (0..2 * 24 * 60)
        .map(|i| {
            let t = start + i * MINUTE_MS;
            let flag = if maintenance.contains(&t) { "M" } else { "N" };
            upload(&mn, t, &[(PM, 12.0, flag), (O2, 8.0, flag)])
        })
        .collect();
    write_and_judge(store, &items, start + 2 * china_time::DAY_MS).await;
    (e, outlet, mn)
}

/// The first coal boiler sending SO2 of 80 mg/m³ at reference O2 (limit 35) for the last three
/// hours up to now: an exceeding, online outlet. Returns (enterprise, outlet, MN).
pub async fn coal_boiler_exceeding_now(store: &dyn Store) -> (String, String, String) {
    let reg = store.registry().await.expect("the registry");
    let (e, outlet, mn) = outlet_of(&reg, "coal_boiler");
    let now = china_time::now_ms();
    let first = china_time::hour_start(now) - 3 * HOUR_MS;
    let items: Vec<IngestItem> = (0..(now - first) / MINUTE_MS)
        .map(|i| {
            upload(&mn, first + i * MINUTE_MS, &[(SO2, 80.0, "N"), (O2, 6.0, "N"), ("a00000", 100.0, "N")])
        })
        .collect();
    write_and_judge(store, &items, now).await;
    (e, outlet, mn)
}

/// The first coal boiler's last upload hour ended `hours_ago` hours ago (SO2 20 mg/m³ at the
/// reference O2), silent since. Returns (enterprise, outlet, MN, start of that hour).
pub async fn coal_boiler_silent_for(store: &dyn Store, hours_ago: i64) -> (String, String, String, i64) {
    let reg = store.registry().await.expect("the registry");
    let (e, outlet, mn) = outlet_of(&reg, "coal_boiler");
    let now = china_time::now_ms();
    let hour = china_time::hour_start(now) - hours_ago * HOUR_MS;
    let items: Vec<IngestItem> =
        (0..60).map(|i| upload(&mn, hour + i * MINUTE_MS, &[(SO2, 20.0, "N"), (O2, 6.0, "N")])).collect();
    write_and_judge(store, &items, now).await;
    (e, outlet, mn, hour)
}

/// The first coal boiler's whole day two months before this one (its 2nd; SO2 20 mg/m³ at the
/// reference O2, flow 100 m³/s), judged. Returns (enterprise, outlet, MN, start of that day).
pub async fn coal_boiler_day_two_months_ago(store: &dyn Store) -> (String, String, String, i64) {
    let reg = store.registry().await.expect("the registry");
    let (e, outlet, mn) = outlet_of(&reg, "coal_boiler");
    let now = china_time::now_ms();
    let two_back = china_time::month_start(china_time::month_start(china_time::month_start(now) - 1) - 1);
    let day = two_back + china_time::DAY_MS;
    let items: Vec<IngestItem> = (0..24 * 60)
        .map(|i| {
            upload(&mn, day + i * MINUTE_MS, &[(SO2, 20.0, "N"), (O2, 6.0, "N"), ("a00000", 100.0, "N")])
        })
        .collect();
    write_and_judge(store, &items, now).await;
    (e, outlet, mn, day)
}
