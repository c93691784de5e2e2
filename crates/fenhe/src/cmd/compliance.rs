//! `fenhe compliance rates` and `fenhe compliance run`, for the terminal.

use std::io::Write;

use anyhow::Result;
use fenhe_app::alarm_queries::NamedRate;
use fenhe_app::engine::CycleReport;
use fenhe_core::china_time;
use fenhe_core::compliance::Params;
use fenhe_store::Store;
use serde_json::json;

use crate::text_table::Table;

/// `compliance rates`: stored device rates summed by `scope`.
pub async fn rates(
    store: &dyn Store,
    scope: fenhe_core::compliance::Scope,
    period: fenhe_core::compliance::Period,
    from: Option<i64>,
    to: Option<i64>,
    json_out: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let groups = fenhe_app::alarm_queries::rates(store, scope, period, from, to).await?;
    let pct = |x: f64| format!("{:.2}", x * 100.0);
    if json_out {
        for NamedRate { rate: g, .. } in &groups {
            let line = json!({
                "scope": g.scope.name(),
                "key": g.key,
                "period": g.period.name(),
                "start": china_time::iso(g.start),
                "devices": g.devices,
                "expected": g.expected,
                "received": g.received,
                "valid": g.valid,
                "transmission": g.transmission,
                "validity": g.validity,
                "effective_transmission": g.effective_transmission,
                "judged_hours": g.judged_hours,
                "exceeding_hours": g.exceeding_hours,
                "compliance": g.compliance,
            });
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    let mut t = Table::new();
    t.row([
        "对象 key",
        "名称 name",
        "开始 start",
        "传输率 transmission %",
        "有效率 validity %",
        "有效传输率 effective %",
        "达标率 compliance %",
        "判定/超标 judged/exceeding",
    ]);
    for NamedRate { rate: g, name } in &groups {
        t.row([
            g.key.clone(),
            name.clone().unwrap_or_default(),
            china_time::iso(g.start),
            pct(g.transmission),
            pct(g.validity),
            pct(g.effective_transmission),
            g.compliance.map(pct).unwrap_or_else(|| "-".into()),
            format!("{}/{}", g.judged_hours, g.exceeding_hours),
        ]);
    }
    let mut s = String::new();
    t.render("", &mut s);
    write!(out, "{s}")?;
    Ok(())
}

/// `compliance run`: cycles until nothing is dirty (each cycle takes a bounded number of
/// device-days), at the current wall-clock time.
pub async fn run(store: &dyn Store, params: &Params, out: &mut dyn Write) -> Result<CycleReport> {
    let total = fenhe_app::compliance_run::run_until_clean(store, params).await?;
    if total.rejudged_all > 0 {
        writeln!(
            out,
            "compliance: parameters changed (or first run): re-judging {} device-day(s)",
            total.rejudged_all
        )?;
    }
    writeln!(
        out,
        "compliance: {} device-day(s) of {} device(s) judged, {} hour rows, {} episodes, {} findings; alarms raised {}, updated {}, resolved {}; {} ms",
        total.device_days,
        total.devices,
        total.hours,
        total.episodes,
        total.findings,
        total.alarms.raised,
        total.alarms.updated,
        total.alarms.resolved,
        total.elapsed_ms
    )?;
    Ok(total)
}
