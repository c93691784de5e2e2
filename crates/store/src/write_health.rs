//! Whether the writer can store what it is given, and the free-space floor below which it stops
//! taking new data.
//!
//! A full disk used to wedge the writer until a restart while `/healthz` said "ok". The writer
//! now keeps a [`WriterHealth`]: `Storing` after a batch commits, `Failing` after a batch failed
//! (the next batch tries again, on a fresh connection when the failed one was left inside a
//! transaction), `BelowFloor` while the database's file system has less free space than the
//! floor (no batch is tried: SQLite must not run out of space half-way through a commit or a
//! checkpoint). Every change of state is logged once and counted
//! (`fenhe_store_writer_state_changes_total{state}`), and `fenhe_store_writer_state{state}` is 1
//! for the current state. Submitters of a refused or failed batch get an error, so the gateway
//! does not acknowledge, and loggers keep their data until the store can take it again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;

/// What the writer can do right now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum WriterHealth {
    /// Batches commit (also the state before the first batch).
    #[default]
    Storing,
    /// The last batch failed; `reason` is the store's error.
    Failing { reason: String },
    /// The database's file system has less free space than the floor: new data is refused
    /// without trying.
    BelowFloor { free_bytes: u64, floor_bytes: u64 },
}

impl WriterHealth {
    /// The state's name in logs and metrics labels.
    pub fn name(&self) -> &'static str {
        match self {
            WriterHealth::Storing => "storing",
            WriterHealth::Failing { .. } => "failing",
            WriterHealth::BelowFloor { .. } => "below_floor",
        }
    }

    /// Why the store cannot take data, or `None` while it can.
    pub fn problem(&self) -> Option<String> {
        match self {
            WriterHealth::Storing => None,
            WriterHealth::Failing { reason } => Some(format!("the store cannot commit: {reason}")),
            WriterHealth::BelowFloor { free_bytes, floor_bytes } => Some(format!(
                "{} MiB free beside the database, below the floor of {} MiB (--min-free-mb): new data is refused",
                free_bytes / MIB,
                floor_bytes / MIB
            )),
        }
    }
}

const MIB: u64 = 1024 * 1024;
const STATES: [&str; 3] = ["storing", "failing", "below_floor"];

/// The free-space floor: the writer refuses new data while the file system holding `dir` has
/// fewer than `min_free_bytes` available (to an unprivileged writer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceFloor {
    pub dir: PathBuf,
    pub min_free_bytes: u64,
}

impl SpaceFloor {
    /// The floor for the database file `db` (a path or `sqlite://path…`); `None` for a database
    /// that is not a local file (in memory, a server).
    pub fn for_database(db: &str, min_free_bytes: u64) -> Option<SpaceFloor> {
        if db.starts_with("postgres://") || db.starts_with("postgresql://") || db.contains(":memory:") {
            return None;
        }
        let path = db.strip_prefix("sqlite://").or_else(|| db.strip_prefix("sqlite:")).unwrap_or(db);
        let path = path.split('?').next().unwrap_or(path);
        let dir = match Path::new(path).parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Some(SpaceFloor { dir, min_free_bytes })
    }

    /// `Some(BelowFloor)` when the file system has less than the floor free. A file system
    /// that cannot be asked is not a reason to stop: the commit will say if it is full.
    pub(crate) fn check(&self) -> Option<WriterHealth> {
        let free = free_bytes(&self.dir).ok()?;
        (free < self.min_free_bytes)
            .then_some(WriterHealth::BelowFloor { free_bytes: free, floor_bytes: self.min_free_bytes })
    }
}

/// Bytes available to an unprivileged process on the file system holding `dir`.
pub fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let s = rustix::fs::statvfs(dir)?;
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}

/// The writer's side of its health: records each change once (log, metrics) and publishes it.
pub(crate) struct HealthCell {
    tx: watch::Sender<WriterHealth>,
}

impl HealthCell {
    pub fn new() -> (HealthCell, HealthWatch) {
        let (tx, rx) = watch::channel(WriterHealth::Storing);
        for s in STATES {
            metrics::gauge!("fenhe_store_writer_state", "state" => s)
                .set(f64::from(u8::from(s == "storing")));
        }
        (HealthCell { tx }, HealthWatch(Arc::new(rx)))
    }

    /// Enter `next`. A change of state (a `Failing` with another reason is the same state) is
    /// logged once and counted; staying in a state says nothing more.
    pub fn set(&self, next: WriterHealth) {
        let before = self.tx.borrow().name();
        let now = next.name();
        self.tx.send_replace(next.clone());
        if before == now {
            return;
        }
        metrics::counter!("fenhe_store_writer_state_changes_total", "state" => now).increment(1);
        for s in STATES {
            metrics::gauge!("fenhe_store_writer_state", "state" => s).set(f64::from(u8::from(s == now)));
        }
        match next.problem() {
            None => tracing::info!(from = before, "the store takes data again"),
            Some(problem) => tracing::error!(from = before, state = now, "{problem}"),
        }
    }
}

/// Reads the writer's health (cheap to clone; `/healthz` asks it on every request).
#[derive(Clone)]
pub struct HealthWatch(Arc<watch::Receiver<WriterHealth>>);

impl HealthWatch {
    pub fn get(&self) -> WriterHealth {
        self.0.borrow().clone()
    }

    /// Wait until the health satisfies `f` (tests, and anything that waits for recovery).
    pub async fn wait_for(&self, f: impl FnMut(&WriterHealth) -> bool) -> WriterHealth {
        let mut rx = (*self.0).clone();
        let waited = rx.wait_for(f).await.map(|h| h.clone());
        // An error: the writer is gone, and its last word stands.
        waited.unwrap_or_else(|_| rx.borrow().clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_beside_the_database_file() {
        let f = SpaceFloor::for_database("/var/lib/fenhe/fenhe.db", 5).unwrap();
        assert_eq!(f.dir, PathBuf::from("/var/lib/fenhe"));
        assert_eq!(
            SpaceFloor::for_database("sqlite:///srv/x.db?mode=rwc", 5).unwrap().dir,
            PathBuf::from("/srv")
        );
        assert_eq!(SpaceFloor::for_database("fenhe.db", 5).unwrap().dir, PathBuf::from("."));
        assert!(SpaceFloor::for_database("sqlite::memory:", 5).is_none());
        assert!(SpaceFloor::for_database("postgres://h/db", 5).is_none());
    }

    #[test]
    fn a_floor_above_the_free_space_is_below_floor_and_zero_never_is() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_bytes(dir.path()).unwrap();
        let high = SpaceFloor { dir: dir.path().into(), min_free_bytes: free.saturating_mul(2).max(1 << 40) };
        assert!(matches!(high.check(), Some(WriterHealth::BelowFloor { .. })));
        let zero = SpaceFloor { dir: dir.path().into(), min_free_bytes: 0 };
        assert_eq!(zero.check(), None);
    }
}
