//! Connections refused or closed by a limit, counted by reason and logged as one summary line
//! at most every [`GatewayConfig::refusal_log_interval`](crate::GatewayConfig): a flood of
//! connections must not become a flood of log lines (one WARN per refused connection made
//! ~237 MB of log an hour from one client).

use std::collections::BTreeMap;
use std::sync::Mutex;

use tracing::warn;

use crate::live_stats::{Stats, names};

/// Why a connection was refused or closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Refusal {
    /// Every connection slot was taken by authenticated devices.
    ConnectionLimit,
    /// The oldest stranger was closed to make room (stranger cap or connection limit).
    Strangers,
    /// The oldest stranger of an address was closed: too many from that address.
    PerAddress,
    /// A frame (or a run of garbage) was not complete within the frame deadline.
    FrameDeadline,
    /// No valid MN and password within the authentication deadline.
    AuthDeadline,
    /// The address failed to authenticate too often and is refused for a while.
    AddressBlocked,
}

impl Refusal {
    /// The `reason` label.
    pub fn name(self) -> &'static str {
        match self {
            Refusal::ConnectionLimit => "connection_limit",
            Refusal::Strangers => "strangers",
            Refusal::PerAddress => "per_address",
            Refusal::FrameDeadline => "frame_deadline",
            Refusal::AuthDeadline => "auth_deadline",
            Refusal::AddressBlocked => "address_blocked",
        }
    }
}

/// Counts since the last summary line.
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    since_summary: Mutex<BTreeMap<Refusal, u64>>,
}

impl Refusals {
    /// Count one refusal: the metric and the live counters at once, the log line later.
    pub fn record(&self, why: Refusal, stats: &Stats) {
        metrics::counter!(names::CONNECTIONS_REFUSED, "reason" => why.name()).increment(1);
        stats.connection_refused(why.name());
        *self.since_summary.lock().unwrap_or_else(|e| e.into_inner()).entry(why).or_default() += 1;
    }

    /// Log what was counted since the last summary, if anything, and start counting afresh.
    pub fn summarize(&self) {
        let counts = std::mem::take(&mut *self.since_summary.lock().unwrap_or_else(|e| e.into_inner()));
        if counts.is_empty() {
            return;
        }
        let total: u64 = counts.values().sum();
        let by_reason = counts.iter().map(|(r, n)| format!("{}={n}", r.name())).collect::<Vec<_>>().join(" ");
        warn!(total, by_reason = %by_reason, "connections refused or closed by a limit since the last summary");
    }
}
