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
//! After each pass, the frames committed meanwhile (a batch or two) are therefore copied on the
//! write connection itself, between two batches; the next batch then restarts the WAL. The write
//! connection keeps a high `wal_autocheckpoint` as a backstop, should this task stop.

use std::time::Duration;

use sqlx::ConnectOptions as _;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

/// Time between checkpoints.
pub(super) const INTERVAL: Duration = Duration::from_millis(1000);

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
                    sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut conn).await?;
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
