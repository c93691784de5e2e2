//! The embedded SQLite backend.
//!
//! One file (default [`DEFAULT_PATH`]) in WAL mode. Writes go through a pool of exactly one
//! connection, so every write transaction is serialised in-process and starts with
//! `BEGIN IMMEDIATE` (it takes the write lock up front instead of failing half-way with
//! `SQLITE_BUSY` on upgrade); reads use a small separate pool and see the last committed state
//! without blocking the writer.
//!
//! Durability: `synchronous=FULL`. In WAL mode, `NORMAL` only syncs at checkpoints, so a commit
//! that has returned can still be lost on power failure — and ingest acknowledges a packet to the
//! data logger as soon as its batch has committed, after which the logger drops its copy. With
//! `FULL` the WAL is fsynced on every commit, so an acknowledged packet is on disk. The cost is
//! one fsync per batch, which the writer amortises over up to a few hundred packets.
//!
//! Modules by concern: `open` (pools, migration), `ids` (the id caches), `ingest_write` and
//! `batch` (the ingest transaction), `ingest_reads`, `registry`, `imports`, `commands`, `dirty`
//! (dirty device-days), `result_save`, `result_queries`, `records` (the rules' loader),
//! `engine_state`, `alarms`, `leases`, and the identity and audit layer: `accounts` (users, API
//! tokens, departments), `sessions`, `sign_ins`, `audit`; `workflows` (supervision items, their steps and
//! attachments); `raw` is the one wrapper of raw statements, `convert` the
//! conversions of stored values.
//!
//! Schema: see `migrations/sqlite/`. Measurements are keyed by integer device and factor ids;
//! both lookups are cached in memory (`Ids`).

use std::sync::Mutex;

mod accounts;
mod alarms;
mod at_rest;
mod audit;
mod batch;
mod checkpoint;
mod commands;
pub(crate) mod convert;
mod dirty;
mod engine_state;
mod ids;
mod imports;
mod ingest_reads;
mod ingest_write;
mod leases;
mod legacy;
mod multi_insert;
mod open;
mod packed;
mod phase_clock;
mod raw;
mod records;
mod registry;
mod result_queries;
mod result_save;
mod results;
mod revisions;
mod sessions;
mod sign_ins;
mod workflows;

/// Where the database lives when nothing else is said.
pub const DEFAULT_PATH: &str = "./fenhe.db";

/// The SQLite store: every role of [`crate::Store`].
pub struct SqliteStore {
    write: sqlx::SqlitePool,
    read: sqlx::SqlitePool,
    /// The `max_page_count` every write connection gets (0: SQLite's default); see
    /// `SqliteStore::limit_pages`.
    page_cap: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// `IngestRules::revision_window_ms`, read by every batch.
    revision_window_ms: std::sync::atomic::AtomicI64,
    ids: Mutex<ids::Ids>,
    /// Dirty marks written since the engine last took them (see `dirty::DirtyMarks`).
    dirty: Mutex<dirty::DirtyMarks>,
    /// WAL checkpoints off the commit path (file databases only).
    checkpointer: Option<checkpoint::Checkpointer>,
    /// Seals device secrets at rest (`crate::secrets`); its key is `<database>.key`.
    sealer: crate::secrets::Sealer,
}
