//! The silent-device check: no dirty mark comes from a device that sends nothing, so the days of
//! its silence would never be judged (no hours without data, no offline finding, no rates). This
//! check finds each device whose latest minute data is older than its offline threshold and marks
//! the days from that data's day through today dirty in the store; the compliance cycle then
//! judges them like any dirty day, in one window with the last day that had data, where the gap
//! begins.

use std::collections::HashMap;

use fenhe_core::Registry;
use fenhe_core::china_time as time;
use fenhe_core::compliance::{Params, Source, sources as source};
use fenhe_store::Store;

use super::offline_threshold_ms;

/// The engine state under which a silent device's check is remembered, as
/// `{latest data time}@{day marked through}`, so that its days are marked once a day.
pub fn offline_state(mn: &str) -> String {
    format!("offline:{mn}")
}

/// What one check did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SilentReport {
    /// Devices found silent whose days were marked by this check.
    pub devices: usize,
    /// Device-days marked dirty.
    pub device_days: u64,
}

/// Mark the days of every registered device silent at `now` (epoch ms) dirty, once per day of
/// silence: a device already marked through today for the same latest data is left alone, and
/// one marked through an earlier day is marked again from that day (today's hours have grown).
/// The state is written only after the marks, so a check cut short between the two marks again.
pub async fn mark_silent_devices(
    store: &dyn Store,
    registry: &Registry,
    params: &Params,
    now: i64,
) -> fenhe_store::Result<SilentReport> {
    let sources = source::from_registry(registry);
    let mut report = SilentReport::default();
    for (mn, days, key, mark) in silent_days(store, &sources, params, now).await? {
        report.device_days += store.mark_dirty(&mn, &days).await?;
        report.devices += 1;
        store.set_engine_state(&key, &mark).await?;
    }
    Ok(report)
}

/// For each silent device not yet marked through today: its MN, the day starts to mark, and the
/// state key and value to record once they are marked.
async fn silent_days(
    store: &dyn Store,
    sources: &HashMap<String, Source>,
    params: &Params,
    now: i64,
) -> fenhe_store::Result<Vec<(String, Vec<i64>, String, String)>> {
    let today = time::day_start(now);
    let mut out = Vec::new();
    for a in store.device_activity().await? {
        let Some(src) = sources.get(&a.mn) else { continue };
        let Some(last) = a.latest.iter().find(|(cn, _)| cn == "2051").map(|(_, t)| *t) else { continue };
        if now - last <= offline_threshold_ms(src, params) {
            continue;
        }
        let key = offline_state(&a.mn);
        let mark = format!("{last}@{today}");
        let state = store.engine_state(&key).await?;
        if state.as_deref() == Some(mark.as_str()) {
            continue;
        }
        // Marked through an earlier day for this same silence: go on from that day.
        let through = state
            .as_deref()
            .and_then(|s| s.split_once('@'))
            .filter(|(l, _)| *l == last.to_string())
            .and_then(|(_, d)| d.parse::<i64>().ok());
        let first = through.unwrap_or(time::day_start(last)).clamp(time::day_start(last), today);
        let days: Vec<i64> = (0..).map(|i| first + i * time::DAY_MS).take_while(|d| *d <= today).collect();
        out.push((a.mn, days, key, mark));
    }
    Ok(out)
}
