//! The PostgreSQL backend, for production: a database server the city backs up and monitors,
//! shared by several fenhe processes.
//!
//! Layout (`migrations/postgres/`): PostgreSQL's own, not SQLite's — one row per measured value,
//! `frames` and `measurements` partitioned by month (China time) with partitions created as
//! data arrives (`partitions`), and the indexes each page and the engine's loader use, named at
//! each index in the migration.
//!
//! Several processes may write at once. An ingest batch (`ingest_write`) is one transaction:
//! it takes a transaction-scoped advisory lock per MN it carries (in one sorted order, so two
//! batches never deadlock), reads the stored revisions of its records, applies the revision rule
//! of `fenhe_core` and writes every table with one statement of `UNNEST`ed arrays. Two nodes
//! that receive the same packet therefore store it once: the second decides on what the first
//! committed. Everything else is either one statement (upserts, leases, conditional updates) or
//! a transaction that checks what it decided from (alarms, commands), as on SQLite.
//!
//! Modules by concern: `open` (pools, schema, migration, saying why a server cannot be
//! reached), `partitions`, `ingest_write`, `ingest_reads`, `registry`, `commands`, `results`
//! (dirty marks, saving, queries, the rules' records, the engine's state), `alarms`, `leases`,
//! `accounts` (users, tokens, departments), `sessions`, `sign_ins`, `audit`, `workflows` (supervision items, their steps and
//! attachments), `filter` (WHERE clauses
//! from optional filters). Stored names are converted by the SQLite backend's `convert`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use foldhash::HashMap as FastMap;

mod accounts;
mod alarms;
mod audit;
mod commands;
mod filter;
mod ingest_reads;
mod ingest_write;
mod leases;
mod open;
mod partitions;
mod registry;
mod results;
mod revisions;
mod sessions;
mod sign_ins;
mod workflows;

pub use open::is_postgres_url;

/// The PostgreSQL store: every role of [`crate::Store`].
pub struct PgStore {
    pool: sqlx::PgPool,
    /// The schema every table lives in (the connections' `search_path`).
    schema: String,
    /// Monthly partitions known to exist, by table and month start.
    partitions: Mutex<HashSet<(&'static str, i64)>>,
    /// MN → devices.id and factor code ↔ factors.id, as in the SQLite backend: only ever
    /// incomplete, never wrong (devices and factors lose no rows), reloaded on a miss.
    ids: Mutex<Ids>,
    /// factors.id → code for the rules' records loader (reloaded on a miss).
    codes: Mutex<Option<FactorCodes>>,
    /// `IngestRules::revision_window_ms`, read by every batch.
    revision_window_ms: std::sync::atomic::AtomicI64,
    /// Seals device secrets at rest (`crate::secrets`); its key is a file of the host (`key=`).
    sealer: crate::secrets::Sealer,
}

/// factors.id → code, shared by every record of a factor.
type FactorCodes = Arc<FastMap<i32, Arc<str>>>;

#[derive(Default)]
struct Ids {
    devices: Option<Arc<FastMap<String, i64>>>,
    factors: Arc<FastMap<String, i32>>,
}
