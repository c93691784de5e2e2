//! `fenhe alarms list` and `fenhe compliance run`.

use std::io::Write;

use anyhow::Result;
use fenhe_core::compliance::{Params, Severity};
use fenhe_store::{Alarm, AlarmQuery, AlarmStatus, Store};
use serde_json::json;

use crate::compliance::engine::{self, CycleReport};
use crate::text::Table;
use crate::timefmt;

/// `alarms list`: newest first.
pub async fn list(store: &dyn Store, q: &AlarmQuery, json_out: bool, out: &mut dyn Write) -> Result<()> {
    let alarms = store.alarms(q).await?;
    if json_out {
        for a in &alarms {
            writeln!(out, "{}", alarm_json(a))?;
        }
        return Ok(());
    }
    let mut t = Table::new();
    t.row([
        "编号 id",
        "状态 status",
        "级别 severity",
        "MN",
        "因子 factor",
        "开始 start",
        "结束 end",
        "告警 alarm",
    ]);
    for a in &alarms {
        let d = &a.draft;
        t.row([
            a.id.to_string(),
            format!("{} {}", status_zh(a), a.status.name()),
            format!("{} {}", d.severity.name_zh(), d.severity.name()),
            d.mn.clone(),
            d.factor.clone().unwrap_or_else(|| "-".into()),
            timefmt::iso(d.start),
            timefmt::iso(d.end),
            d.title_zh.clone(),
        ]);
    }
    let mut s = String::new();
    t.render("", &mut s);
    write!(out, "{s}")?;
    writeln!(out, "{} 条告警 alarm(s)", alarms.len())?;
    Ok(())
}

fn status_zh(a: &Alarm) -> &'static str {
    match (a.status, a.resolution.as_deref()) {
        (AlarmStatus::Open, _) => "未解除",
        (AlarmStatus::Resolved, Some(fenhe_store::RESOLUTION_WITHDRAWN)) => "已撤回",
        (AlarmStatus::Resolved, _) => "已解除",
    }
}

fn alarm_json(a: &Alarm) -> serde_json::Value {
    let d = &a.draft;
    json!({
        "id": a.id,
        "key": d.key,
        "status": a.status.name(),
        "resolution": a.resolution,
        "severity": d.severity.name(),
        "kind": d.kind,
        "mn": d.mn,
        "outlet": d.outlet,
        "factor": d.factor,
        "start": timefmt::iso(d.start),
        "end": timefmt::iso(d.end),
        "active": d.active,
        "title_zh": d.title_zh,
        "title_en": d.title_en,
        "detail_zh": d.detail_zh,
        "detail_en": d.detail_en,
        "raised_at": timefmt::iso(a.raised_at),
        "updated_at": timefmt::iso(a.updated_at),
        "resolved_at": a.resolved_at.map(timefmt::iso),
    })
}

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
    let registry = store.registry().await?;
    let q = fenhe_store::RateQuery { period: Some(period), from, to, ..Default::default() };
    let groups = fenhe_core::compliance::rollup(&store.rates(&q).await?, &registry, scope);
    let pct = |x: f64| format!("{:.2}", x * 100.0);
    if json_out {
        for g in &groups {
            let line = json!({
                "scope": g.scope.name(),
                "key": g.key,
                "period": g.period.name(),
                "start": timefmt::iso(g.start),
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
    let name = |key: &str| match scope {
        fenhe_core::compliance::Scope::Enterprise => registry.enterprise(key).map(|e| e.name.clone()),
        fenhe_core::compliance::Scope::Outlet => registry.outlet(key).map(|o| o.name.clone()),
        _ => None,
    };
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
    for g in &groups {
        t.row([
            g.key.clone(),
            name(&g.key).unwrap_or_default(),
            timefmt::iso(g.start),
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

/// Parse `--severity`.
pub fn severity(s: &str) -> Result<Severity> {
    Severity::parse(s)
        .ok_or_else(|| anyhow::anyhow!("--severity {s:?}: use info, warning, serious or critical"))
}

/// `compliance run`: cycles until nothing is dirty (each cycle takes a bounded number of
/// device-days), at the current wall-clock time.
pub async fn run(store: &dyn Store, params: &Params, out: &mut dyn Write) -> Result<CycleReport> {
    let mut total = CycleReport::default();
    loop {
        let registry = store.registry().await?;
        let r = engine::run_cycle(store, &registry, params, timefmt::now_ms()).await?;
        total.devices = total.devices.max(r.devices);
        total.device_days += r.device_days;
        total.hours += r.hours;
        total.episodes += r.episodes;
        total.findings += r.findings;
        total.alarms += r.alarms;
        total.skipped += r.skipped;
        total.elapsed_ms += r.elapsed_ms;
        if r.rejudged_all > 0 {
            writeln!(
                out,
                "compliance: parameters changed (or first run): re-judging {} device-day(s)",
                r.rejudged_all
            )?;
        }
        if r.device_days == 0 || store.dirty_days(1).await?.is_empty() {
            break;
        }
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
