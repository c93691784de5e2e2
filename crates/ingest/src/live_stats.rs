//! Live counters for a status page, kept beside the `metrics` facade (which the binary exports to
//! Prometheus): these can be read in-process without an exporter.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use fenhe_core::Verdict;
use serde::Serialize;

/// Metric names.
pub mod names {
    pub const CONNECTIONS: &str = "fenhe_ingest_connections";
    pub const CONNECTIONS_REFUSED: &str = "fenhe_ingest_connections_refused_total";
    pub const FRAMES: &str = "fenhe_ingest_frames_total";
    pub const REJECTED: &str = "fenhe_ingest_rejected_total";
    pub const BYTES: &str = "fenhe_ingest_bytes_total";
    pub const ACK_SECONDS: &str = "fenhe_ingest_ack_seconds";
    pub const COMMANDS: &str = "fenhe_ingest_commands_total";
    pub const STORE_ERRORS: &str = "fenhe_ingest_store_errors_total";
    pub const SPLITS_EXPIRED: &str = "fenhe_ingest_split_uploads_expired_total";
    pub const NOT_STORED: &str = "fenhe_ingest_stranger_records_not_stored_total";
}

/// A device with an authenticated connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OnlineDevice {
    pub mn: String,
    pub peer: String,
    /// First authenticated frame of this connection, Unix epoch milliseconds.
    pub since: i64,
}

/// A snapshot of the gateway's counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct GatewayStats {
    /// Connections open now.
    pub connections: u64,
    /// Connections accepted since start.
    pub connections_total: u64,
    /// Connections open now that have not authenticated yet.
    pub strangers: u64,
    /// Connections refused or closed by a limit (connection cap, stranger caps, deadlines).
    pub connections_refused: u64,
    /// The same by reason (`connection_limit`, `strangers`, `per_address`, `frame_deadline`,
    /// `auth_deadline`, …).
    pub refused_by_reason: BTreeMap<String, u64>,
    /// Devices online, by MN.
    pub devices_online: Vec<OnlineDevice>,
    /// Committed frames by verdict name (`accepted`, `duplicate`, `rejected`, …).
    pub frames: BTreeMap<String, u64>,
    /// Frames not accepted, by reason kind (`crc`, `auth`, `rate`, `header`, …).
    pub rejected: BTreeMap<String, u64>,
    pub bytes: u64,
    /// Records of strangers not stored, by the budget they were over (`address_budget`,
    /// `day_budget`).
    pub not_stored: BTreeMap<String, u64>,
    /// Submissions the store could not commit (no acknowledgement was sent for them).
    pub store_errors: u64,
    /// Commands by status reached (`sent`, `done`, `timed_out`, …).
    pub commands: BTreeMap<String, u64>,
}

#[derive(Debug, Default)]
pub(crate) struct Stats {
    connections: AtomicU64,
    connections_total: AtomicU64,
    refused: AtomicU64,
    bytes: AtomicU64,
    store_errors: AtomicU64,
    maps: Mutex<Maps>,
}

#[derive(Debug, Default)]
struct Maps {
    online: BTreeMap<String, OnlineDevice>,
    refused: BTreeMap<String, u64>,
    not_stored: BTreeMap<String, u64>,
    frames: BTreeMap<String, u64>,
    rejected: BTreeMap<String, u64>,
    commands: BTreeMap<String, u64>,
}

impl Stats {
    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        self.maps.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn connection_opened(&self) {
        let n = self.connections.fetch_add(1, Ordering::Relaxed) + 1;
        self.connections_total.fetch_add(1, Ordering::Relaxed);
        metrics::gauge!(names::CONNECTIONS).set(n as f64);
    }

    pub fn connection_closed(&self) {
        let n = self.connections.fetch_sub(1, Ordering::Relaxed).saturating_sub(1);
        metrics::gauge!(names::CONNECTIONS).set(n as f64);
    }

    /// Count a refusal (the metric is [`crate::refusals::Refusals::record`]'s).
    pub fn connection_refused(&self, reason: &'static str) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        *self.maps().refused.entry(reason.to_string()).or_default() += 1;
    }

    pub fn bytes(&self, n: usize) {
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        metrics::counter!(names::BYTES).increment(n as u64);
    }

    pub fn frame(&self, verdict: Verdict, reason_kind: Option<&'static str>) {
        metrics::counter!(names::FRAMES, "verdict" => verdict.name()).increment(1);
        if let Some(k) = reason_kind {
            metrics::counter!(names::REJECTED, "reason" => k).increment(1);
        }
        let mut m = self.maps();
        *m.frames.entry(verdict.name().to_string()).or_default() += 1;
        if let Some(k) = reason_kind {
            *m.rejected.entry(k.to_string()).or_default() += 1;
        }
    }

    /// A stranger's record over its budget, not stored.
    pub fn not_stored(&self, reason: &'static str) {
        metrics::counter!(names::NOT_STORED, "reason" => reason).increment(1);
        *self.maps().not_stored.entry(reason.to_string()).or_default() += 1;
    }

    pub fn store_error(&self) {
        self.store_errors.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(names::STORE_ERRORS).increment(1);
    }

    pub fn command(&self, status: &'static str) {
        metrics::counter!(names::COMMANDS, "status" => status).increment(1);
        *self.maps().commands.entry(status.to_string()).or_default() += 1;
    }

    pub fn device_online(&self, mn: &str, peer: &str, since: i64) {
        self.maps()
            .online
            .insert(mn.to_string(), OnlineDevice { mn: mn.to_string(), peer: peer.to_string(), since });
    }

    /// Forget `mn` if it is still listed for `peer` (another connection may have taken over).
    pub fn device_offline(&self, mn: &str, peer: &str) {
        let mut m = self.maps();
        if m.online.get(mn).is_some_and(|d| d.peer == peer) {
            m.online.remove(mn);
        }
    }

    pub fn snapshot(&self) -> GatewayStats {
        let m = self.maps();
        GatewayStats {
            connections: self.connections.load(Ordering::Relaxed),
            connections_total: self.connections_total.load(Ordering::Relaxed),
            strangers: 0,
            connections_refused: self.refused.load(Ordering::Relaxed),
            refused_by_reason: m.refused.clone(),
            not_stored: m.not_stored.clone(),
            devices_online: m.online.values().cloned().collect(),
            frames: m.frames.clone(),
            rejected: m.rejected.clone(),
            bytes: self.bytes.load(Ordering::Relaxed),
            store_errors: self.store_errors.load(Ordering::Relaxed),
            commands: m.commands.clone(),
        }
    }
}
