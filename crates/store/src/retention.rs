//! The retention role: removing raw frames and minute / real-time measurements older than a
//! cut-off, while everything judged from them — hourly and daily values (CN 2061, 2031),
//! aggregates, episodes, findings, alarms, workflow history, the audit log and the registry —
//! is kept forever (no method here touches them).
//!
//! Each backend removes in its own unit: SQLite deletes rows in bounded transactions, so that a
//! running `serve` waits for one batch at most; PostgreSQL empties whole monthly partitions, and
//! only those that lie entirely before the cut-off, so the rows of a partially covered month stay
//! until their month is whole. The report says what each backend took as its cut-off.

use async_trait::async_trait;

use crate::Result;

/// The CNs of the data removed by `minute_data_before`: real-time (2011) and minute (2051)
/// values. Hourly (2061) and daily (2031) values are kept with the aggregates.
pub const MINUTE_DATA_CNS: [i32; 2] = [2011, 2051];

/// Rows one SQLite retention transaction deletes at most.
pub const SQLITE_BATCH_ROWS: i64 = 10_000;

/// What to remove: rows before these instants (epoch ms); `None` keeps that kind of data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionCutoffs {
    /// Raw frames received before this instant.
    pub raw_frames_before: Option<i64>,
    /// Real-time and minute measurements whose DataTime is before this instant.
    pub minute_data_before: Option<i64>,
}

/// One table's (or one partition's) removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// `frames`, `measurement_sets` (SQLite) or `measurements` (PostgreSQL).
    pub table: String,
    /// The emptied partition (PostgreSQL); `None` for rows deleted from the table itself.
    pub partition: Option<String>,
    /// Rows removed (a SQLite `measurement_sets` row is one record's values; a PostgreSQL
    /// `measurements` row one value).
    pub rows: u64,
    /// The cut-off the backend applied: rows before it are gone. On PostgreSQL the start of the
    /// month of the asked cut-off (rows of that month stay until it is whole).
    pub before: i64,
}

/// What a retention run removed, or would remove (`dry_run`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RetentionReport {
    pub dry_run: bool,
    /// Only what had rows to remove; in the order removed.
    pub removed: Vec<Removal>,
}

impl RetentionReport {
    /// Rows removed from `table`, over every partition.
    pub fn rows_of(&self, table: &str) -> u64 {
        self.removed.iter().filter(|r| r.table == table).map(|r| r.rows).sum()
    }
}

/// Removing old raw frames and minute data.
#[async_trait]
pub trait RetentionStore: Send + Sync {
    /// Remove what `cut` names (nothing with `dry_run`, which counts what would go and reports
    /// it in the same form).
    async fn apply_retention(&self, cut: &RetentionCutoffs, dry_run: bool) -> Result<RetentionReport>;
}
