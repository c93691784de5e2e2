//! `fenhe device list | inbox | send | commands`.

use std::io::Write;

use anyhow::{Context, Result, bail};
use fenhe_store::{NewCommand, Store};
use serde_json::json;

use crate::timefmt;

/// `device list`: registered devices with their outlet and traffic.
pub async fn list(store: &dyn Store, json_out: bool, out: &mut dyn Write) -> Result<()> {
    let reg = store.registry().await?;
    let activity = store.device_activity().await?;
    if !json_out {
        writeln!(
            out,
            "{:<26} {:<14} {:<10} {:<6} {:>9}  {:<25}  最新数据 latest",
            "MN", "排口 outlet", "企业", "版本", "报文数", "最近报文 last frame"
        )?;
    }
    for d in &reg.devices {
        let outlet = reg.outlet(&d.outlet);
        let ent = outlet.and_then(|o| reg.enterprise(&o.enterprise));
        let act = activity.iter().find(|a| a.mn == d.mn);
        let last = act.and_then(|a| a.last_frame_at);
        let latest: Vec<(String, String)> = act
            .map(|a| a.latest.iter().map(|(cn, t)| (cn.clone(), timefmt::iso(*t))).collect())
            .unwrap_or_default();
        if json_out {
            let line = json!({
                "mn": d.mn,
                "outlet": d.outlet,
                "outlet_name": outlet.map(|o| o.name.clone()),
                "enterprise": ent.map(|e| e.id.clone()),
                "enterprise_name": ent.map(|e| e.name.clone()),
                "protocol": d.protocol.name(),
                "crc": d.crc.name(),
                "frames": act.map(|a| a.frames).unwrap_or(0),
                "last_frame_at": last.map(timefmt::iso),
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
                ent.map(|e| e.id.as_str()).unwrap_or("?"),
                d.protocol.name(),
                act.map(|a| a.frames).unwrap_or(0),
                last.map(timefmt::iso).unwrap_or_else(|| "-".into()),
                latest_s.join(" ")
            )?;
        }
    }
    Ok(())
}

/// `device inbox`: frames from unknown devices or with wrong passwords.
pub async fn inbox(store: &dyn Store, json_out: bool, out: &mut dyn Write) -> Result<()> {
    let entries = store.inbox().await?;
    if !json_out && entries.is_empty() {
        writeln!(out, "收件箱为空 (no frames from unregistered devices or with wrong passwords)")?;
    }
    for e in &entries {
        let last = String::from_utf8_lossy(&e.last_frame).trim_end().to_string();
        if json_out {
            let line = json!({
                "mn": e.mn,
                "verdict": e.verdict.name(),
                "count": e.count,
                "first_seen": timefmt::iso(e.first_seen),
                "last_seen": timefmt::iso(e.last_seen),
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
                timefmt::iso(e.first_seen),
                timefmt::iso(e.last_seen),
                e.last_peer,
                last
            )?;
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
    let reg = store.registry().await?;
    if reg.device(mn).is_none() {
        bail!("no registered device has MN {mn}");
    }
    if cn.len() != 4 || !cn.bytes().all(|b| b.is_ascii_digit()) {
        bail!("command code {cn:?} is not four digits (e.g. 1011, 2051, 3011)");
    }
    for it in items {
        let (k, v) = it.split_once('=').with_context(|| format!("{it:?} is not KEY=VALUE"))?;
        if k.is_empty() || k.contains([';', '&', ',']) || v.contains([';', '&']) {
            bail!("{it:?} cannot be sent in CP (no ; & in keys or values)");
        }
    }
    let id = store
        .enqueue_command(&NewCommand {
            mn: mn.into(),
            cn: cn.into(),
            cp: items.join(";"),
            origin: format!("operator:{}", std::env::var("USER").unwrap_or_else(|_| "cli".into())),
            created_at: timefmt::now_ms(),
        })
        .await?;
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
    out: &mut dyn Write,
) -> Result<()> {
    for c in store.commands(mn, 200).await? {
        if json_out {
            let line = json!({
                "id": c.id, "mn": c.new.mn, "cn": c.new.cn, "cp": c.new.cp, "origin": c.new.origin,
                "created_at": timefmt::iso(c.new.created_at), "qn": c.qn, "status": c.status.name(),
                "attempts": c.attempts, "updated_at": timefmt::iso(c.updated_at), "detail": c.detail,
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
                timefmt::iso(c.updated_at),
                c.new.origin,
                c.detail.as_deref().unwrap_or("")
            )?;
        }
    }
    Ok(())
}
