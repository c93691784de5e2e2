//! `fenhe alarms list`: the alarms for the terminal, as a table or JSON lines.

use std::io::Write;

use anyhow::Result;
use fenhe_core::china_time;
use fenhe_core::compliance::Severity;
use fenhe_store::{Alarm, AlarmQuery, AlarmStatus, Store};
use serde_json::json;

use crate::text_table::Table;

/// `alarms list`: newest first.
pub async fn list(store: &dyn Store, q: &AlarmQuery, json_out: bool, out: &mut dyn Write) -> Result<()> {
    let alarms = fenhe_app::alarm_queries::alarms(store, q).await?;
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
            china_time::iso(d.start),
            china_time::iso(d.end),
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
        "start": china_time::iso(d.start),
        "end": china_time::iso(d.end),
        "active": d.active,
        "title_zh": d.title_zh,
        "title_en": d.title_en,
        "detail_zh": d.detail_zh,
        "detail_en": d.detail_en,
        "raised_at": china_time::iso(a.raised_at),
        "updated_at": china_time::iso(a.updated_at),
        "resolved_at": a.resolved_at.map(china_time::iso),
    })
}

/// Parse `--severity`.
pub fn severity(s: &str) -> Result<Severity> {
    Severity::parse(s)
        .ok_or_else(|| anyhow::anyhow!("--severity {s:?}: use info, warning, serious or critical"))
}
