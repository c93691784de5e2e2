//! WAL checkpoints mostly off the commit path.
//!
//! With SQLite's automatic checkpoint, the commit that crosses `wal_autocheckpoint` pages copies
//! the WAL into the database file before it returns, and every packet of that batch (and every
//! packet queued behind it) waits for the copy. Here a connection of its own runs
//! `PRAGMA wal_checkpoint(PASSIVE)` every [`INTERVAL`] on its own thread while the writer goes on
//! committing (a passive checkpoint never blocks the writer), copying each page once however
//! often the batches since the last checkpoint changed it.
//!
//! A passive checkpoint beside a busy writer never copies the frames committed while it ran, and
//! SQLite restarts the WAL from its beginning only when every frame has been copied — so alone it
//! would let the WAL grow until the backstop below copied hundreds of megabytes inside a commit.
//! Passive passes are therefore repeated (each copies what was committed during the one before)
//! until one had little to copy, and the frames committed meanwhile are then copied on the write
//! connection itself, between two batches; the next batch then restarts the WAL. The write
//! connection keeps a high `wal_autocheckpoint` as a backstop, should this task stop.

use std::time::Duration;

use sqlx::ConnectOptions as _;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

/// Time between checkpoints.
pub(super) const INTERVAL: Duration = Duration::from_millis(1000);
/// Most passive passes in a row before the pass on the write connection.
const MAX_PASSES: usize = 4;
/// Frames (pages) a passive pass may have copied for the next pass to be the last.
const SMALL_PASS: i64 = 1000;

/// The checkpoint task; stopped when dropped.
pub(super) struct Checkpointer {
    task: tokio::task::JoinHandle<()>,
}

impl Checkpointer {
    pub(super) async fn start(opts: SqliteConnectOptions, write: SqlitePool) -> crate::Result<Checkpointer> {
        let mut conn = opts.connect().await?;
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let passes = async {
                    // Passive passes until one had little left to copy (each copies what was
                    // committed during the one before), so the pass inside the writer's chain is
                    // short.
                    let mut done_before = 0i64;
                    for _ in 0..MAX_PASSES {
                        let (_busy, _log, done): (i64, i64, i64) =
                            sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&mut conn).await?;
                        // A smaller count than before: the WAL restarted in between.
                        let copied = if done >= done_before { done - done_before } else { done };
                        done_before = done;
                        if copied <= SMALL_PASS {
                            break;
                        }
                    }
                    sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&write).await
                };
                if let Err(e) = passes.await {
                    if write.is_closed() {
                        return;
                    }
                    // The write connection's automatic checkpoint still bounds the WAL.
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
            }
        });
        Ok(Checkpointer { task })
    }

    pub(super) fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop();
    }
}
