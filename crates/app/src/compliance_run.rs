//! `compliance run`: the silent-device check, then engine cycles at the wall clock until nothing
//! is left to judge.

use fenhe_core::china_time;
use fenhe_core::compliance::Params;
use fenhe_store::Store;

use crate::engine::{self, CycleReport};

/// The days of silent devices marked (as `serve`'s silent-device job marks them), then cycles
/// until nothing is dirty (each cycle takes a bounded number of device-days). The report
/// adds up the cycles; `devices` is the most any one cycle judged, and `rejudged_all` the
/// device-days marked because the parameters changed (or this is the first run).
pub async fn run_until_clean(store: &dyn Store, params: &Params) -> fenhe_store::Result<CycleReport> {
    let mut total = CycleReport::default();
    let registry = store.registry().await?;
    engine::mark_silent_devices(store, &registry, params, china_time::now_ms()).await?;
    loop {
        let registry = store.registry().await?;
        let r = engine::run_cycle(store, &registry, params, china_time::now_ms()).await?;
        total.devices = total.devices.max(r.devices);
        total.device_days += r.device_days;
        total.hours += r.hours;
        total.episodes += r.episodes;
        total.findings += r.findings;
        total.alarms += r.alarms;
        total.skipped += r.skipped;
        total.records += r.records;
        total.rejudged_all += r.rejudged_all;
        total.elapsed_ms += r.elapsed_ms;
        if r.device_days == 0 || store.dirty_days(1).await?.is_empty() {
            break;
        }
    }
    Ok(total)
}
