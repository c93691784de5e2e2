//! Security alarms the gateway raises for the bureau: an address blocked for guessing device
//! passwords. They are alarms of their own kind ([`SECURITY_KIND`]) under keys starting with
//! [`SECURITY_KEY_PREFIX`], listed with the others (`fenhe alarms`, the web alarm list) and never
//! withdrawn by the compliance engine's reconciliation, which does not own them.

use std::net::IpAddr;
use std::sync::Arc;

use fenhe_core::alarm::{Alarm, AlarmChange, AlarmStatus, AlarmSync, SECURITY_KEY_PREFIX, SECURITY_KIND};
use fenhe_core::china_time::now_ms;
use fenhe_core::compliance::types::{AlarmDraft, Severity};
use tracing::{error, warn};

use crate::Shared;
use crate::guard::Blocked;

/// The alarm of `ip` blocked at `now` (milliseconds) after `blocked`.
pub(crate) fn password_guessing_alarm(
    ip: IpAddr,
    blocked: &Blocked,
    window_min: u64,
    block_min: u64,
    now: i64,
) -> Alarm {
    let ip = ip.to_canonical();
    let mns = if blocked.mns.is_empty() { "-".to_string() } else { blocked.mns.join(", ") };
    let n = blocked.failures;
    let draft = AlarmDraft {
        key: format!("{SECURITY_KEY_PREFIX}password_guessing:{ip}:{now}"),
        mn: blocked.mns.first().cloned().unwrap_or_default(),
        outlet: String::new(),
        factor: None,
        kind: SECURITY_KIND.into(),
        severity: Severity::Serious,
        start: now,
        end: now + i64::try_from(block_min).unwrap_or(i64::MAX / 60_000).saturating_mul(60_000),
        active: true,
        title_zh: format!("疑似猜测设备密码：{ip} 已被拒绝接入 {block_min} 分钟"),
        title_en: format!("Suspected device password guessing: {ip} refused for {block_min} minutes"),
        detail_zh: format!("来自 {ip} 的连接在 {window_min} 分钟内 {n} 次使用错误的密码（设备 MN：{mns}）。"),
        detail_en: format!(
            "Connections from {ip} sent a wrong password {n} times within {window_min} minutes (device MN: {mns})."
        ),
    };
    Alarm {
        id: 0,
        draft,
        status: AlarmStatus::Open,
        resolution: None,
        raised_at: now,
        updated_at: now,
        resolved_at: None,
    }
}

/// Log and store the alarm for `ip`, off the connection's path.
pub(crate) fn raise_password_guessing(shared: &Arc<Shared>, ip: IpAddr, blocked: Blocked) {
    let cfg = &shared.cfg;
    let (window_min, block_min) = (cfg.auth_failure_window.as_secs() / 60, cfg.auth_block.as_secs() / 60);
    warn!(
        peer = %ip, failures = blocked.failures, mns = ?blocked.mns, block_s = cfg.auth_block.as_secs(),
        "wrong device passwords from one address; refusing it and raising a security alarm"
    );
    let alarm = password_guessing_alarm(ip, &blocked, window_min, block_min, now_ms());
    let store = shared.store.clone();
    tokio::spawn(async move {
        let change = AlarmChange {
            before: None,
            after: alarm,
            counts: AlarmSync { raised: 1, ..AlarmSync::default() },
        };
        if let Err(e) = store.apply_alarm_changes(std::slice::from_ref(&change)).await {
            error!(error = %e, key = %change.after.draft.key, "cannot store the security alarm");
        }
    });
}
