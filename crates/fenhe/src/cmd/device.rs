//! `fenhe device list | inbox | send | commands`.

use std::io::Write;

use anyhow::{Context, Result};
use fenhe_app::device_queries;
use fenhe_store::Store;
use serde_json::json;

use fenhe_core::china_time;

/// `device list`: registered devices with their outlet and traffic.
pub async fn list(store: &dyn Store, json_out: bool, out: &mut dyn Write) -> Result<()> {
    let devices = device_queries::devices(store).await?;
    if !json_out {
        writeln!(
            out,
            "{:<26} {:<14} {:<10} {:<6} {:>9}  {:<25}  最新数据 latest",
            "MN", "排口 outlet", "企业", "版本", "报文数", "最近报文 last frame"
        )?;
    }
    for o in &devices {
        let d = &o.device;
        let last = o.last_frame_at;
        let latest: Vec<(String, String)> =
            o.latest.iter().map(|(cn, t)| (cn.clone(), china_time::iso(*t))).collect();
        if json_out {
            let line = json!({
                "mn": d.mn,
                "outlet": d.outlet,
                "outlet_name": o.outlet_name,
                "enterprise": o.enterprise_id,
                "enterprise_name": o.enterprise_name,
                "protocol": d.protocol.name(),
                "crc": d.crc.name(),
                "frames": o.frames,
                "last_frame_at": last.map(china_time::iso),
                "latest": latest.iter().map(|(cn, t)| json!({"cn": cn, "data_time": t})).collect::<Vec<_>>(),
            });
            writeln!(out, "{line}")?;
        } else {
            let latest_s: Vec<String> = latest.iter().map(|(cn, t)| format!("{cn}:{t}")).collect();
            writeln!(
                out,
                "{:<26} {:<14} {:<10} {:<6} {:>9}  {:<25}  {}",
                d.mn,
                d.outlet,
                o.enterprise_id.as_deref().unwrap_or("?"),
                d.protocol.name(),
                o.frames,
                last.map(china_time::iso).unwrap_or_else(|| "-".into()),
                latest_s.join(" ")
            )?;
        }
    }
    Ok(())
}

/// Which entries of the inbox `device inbox` prints.
#[derive(Debug, Clone, Copy)]
pub struct InboxPage {
    pub limit: u32,
    pub offset: u64,
}

/// `device inbox`: frames from unknown devices or with wrong passwords, one page of senders.
/// JSON prints one line per entry and nothing else; text ends with where the page stands.
pub async fn inbox(store: &dyn Store, page: InboxPage, json_out: bool, out: &mut dyn Write) -> Result<()> {
    let (entries, total) = device_queries::inbox(store, page.limit, page.offset).await?;
    if !json_out && total == 0 {
        writeln!(out, "收件箱为空 (no frames from unregistered devices or with wrong passwords)")?;
    }
    for e in &entries {
        let last = String::from_utf8_lossy(&e.last_frame).trim_end().to_string();
        if json_out {
            let line = json!({
                "mn": e.mn,
                "verdict": e.verdict.name(),
                "count": e.count,
                "first_seen": china_time::iso(e.first_seen),
                "last_seen": china_time::iso(e.last_seen),
                "last_peer": e.last_peer,
                "last_frame": last,
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "{} [{}] ×{}  {} … {}  from {}\n    {}",
                e.mn.as_deref().unwrap_or("(no MN)"),
                e.verdict.name(),
                e.count,
                china_time::iso(e.first_seen),
                china_time::iso(e.last_seen),
                e.last_peer,
                last
            )?;
        }
    }
    if !json_out && total > 0 {
        let shown = entries.len() as u64;
        if shown == 0 {
            writeln!(out, "(no entries from offset {}; the inbox has {total})", page.offset)?;
        } else {
            let last = page.offset + shown;
            write!(out, "entries {}–{last} of {total}", page.offset + 1)?;
            if last < total {
                write!(out, "; next page: --offset {last}")?;
            }
            writeln!(out)?;
        }
    }
    Ok(())
}

/// `device send MN CN [KEY=VALUE …]`: queue a command; the gateway sends it over the device's
/// connection and records the outcome.
pub async fn send(
    store: &dyn Store,
    mn: &str,
    cn: &str,
    items: &[String],
    out: &mut dyn Write,
) -> Result<i64> {
    // The real user id, not `$USER`: anyone can set a variable, and this names who queued it.
    let user = crate::os::user::current_user_name().context("cannot name the user queuing the command")?;
    let origin = format!("operator:{user}");
    let id = device_queries::send(store, mn, cn, items, &origin, china_time::now_ms()).await?;
    writeln!(
        out,
        "queued command {id}: CN={cn} for {mn}; `fenhe device commands --mn {mn}` shows its outcome"
    )?;
    Ok(id)
}

/// `device commands`: queued and finished commands with their outcomes.
pub async fn commands(
    store: &dyn Store,
    mn: Option<&str>,
    json_out: bool,
    include_secrets: bool,
    out: &mut dyn Write,
) -> Result<()> {
    for mut c in device_queries::commands(store, mn).await? {
        if !include_secrets {
            c.new.cp = fenhe_app::devices::commands::mask_secrets(&c.new.cp);
        }
        if json_out {
            let line = json!({
                "id": c.id, "mn": c.new.mn, "cn": c.new.cn, "cp": c.new.cp, "origin": c.new.origin,
                "created_at": china_time::iso(c.new.created_at), "qn": c.qn, "status": c.status.name(),
                "attempts": c.attempts, "updated_at": china_time::iso(c.updated_at), "detail": c.detail,
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "#{:<5} {} CN={} {:<10} attempts={} {}  {}  {}",
                c.id,
                c.new.mn,
                c.new.cn,
                c.status.name(),
                c.attempts,
                china_time::iso(c.updated_at),
                c.new.origin,
                c.detail.as_deref().unwrap_or("")
            )?;
        }
    }
    Ok(())
}
