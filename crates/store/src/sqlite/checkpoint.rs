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
//! until one had little to copy, and once the WAL is long ([`RESTART_FRAMES`]) the frames
//! committed meanwhile are copied on the write connection itself, between two batches; the next
//! batch then restarts the WAL. The write connection keeps a high `wal_autocheckpoint` as a
//! backstop, should this task stop. `fenhe_store_checkpoint_seconds` (by pass: `passive`,
//! `sync`, `writer`) and `fenhe_store_wal_frames` on `/metrics` show what it costs.
//!
//! SQLite syncs the database file only after a checkpoint that reached the end of the WAL, and a
//! passive pass beside a busy writer never does: the pages it wrote stay dirty in the kernel
//! until the pass on the write connection syncs them all — up to the whole WAL's worth of
//! scattered pages, inside the writer's chain. So after each passive
//! pass that copied anything this task syncs the database file itself (a sync of its own file
//! descriptor flushes the file's pages whoever wrote them), and the pass on the write connection
//! is left to sync only what it copied.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::Duration;

use sqlx::ConnectOptions as _;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

/// Time between checkpoints. The pass on the write connection copies what was committed during
/// the last passive pass, and a passive pass lasts about as long as the interval's worth of
/// pages takes to copy (copying keeps pace with the writer, no more), so the writer's pause
/// shrinks with the interval: at 1 s it was 68-160 ms every second, and every packet queued
/// meanwhile waited for it (the ack p99 at 6,500 packets/s was 140-270 ms); at 250 ms it is
/// 20-50 ms (p99 63-71 ms at the same rate). 100 ms measured no better. See docs/BENCHMARKS.md.
pub(super) const INTERVAL: Duration = Duration::from_millis(250);
/// Most passive passes in a row before the pass on the write connection.
const MAX_PASSES: usize = 4;
/// Frames (pages) a passive pass may have copied for the next pass to be the last.
const SMALL_PASS: i64 = 1000;
/// WAL length (frames) from which the pass on the write connection runs. Below it the WAL just
/// grows: every pass on the write connection pauses the writer, and a WAL whose frames are all
/// copied restarts by itself at the next commit when no commit came meanwhile (a quiet system
/// never needs the pass). 49,152 frames of 4 KiB are 192 MiB, under `journal_size_limit`'s 256 MiB
/// and the backstop's 100,000 pages. At 16,384 frames the pass paused the writer 1–1.5 times a
/// second (~95 ms each on a slow disk at full load, up to 190 ms); from 49,152 the pauses are
/// as long but fewer than half as many, and the maximum rate rose ~8 %. See docs/BENCHMARKS.md,
/// fifth pass.
const RESTART_FRAMES: i64 = 49_152;

/// One `PRAGMA wal_checkpoint(PASSIVE)` on `conn`, timed as `pass` in the metrics: the WAL's
/// length and how many of its frames are copied, in frames.
async fn passive_pass<'c, E>(conn: E, pass: &'static str) -> Result<(i64, i64), sqlx::Error>
where
    E: sqlx::Executor<'c, Database = sqlx::Sqlite>,
{
    let started = std::time::Instant::now();
    let (_busy, log, done): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(conn).await?;
    metrics::histogram!("fenhe_store_checkpoint_seconds", "pass" => pass)
        .record(started.elapsed().as_secs_f64());
    metrics::gauge!("fenhe_store_wal_frames").set(log as f64);
    Ok((log, done))
}

/// The database file, opened to sync it. Read-write where possible: some systems sync only a
/// file opened for writing (Linux and macOS take either).
fn open_for_sync(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).write(true).open(path).or_else(|_| File::open(path))
}

/// Sync the database file on a blocking thread, timed as the `sync` pass.
async fn sync_database(file: &std::sync::Arc<File>) -> std::io::Result<()> {
    let file = file.clone();
    let started = std::time::Instant::now();
    tokio::task::spawn_blocking(move || file.sync_data()).await.map_err(std::io::Error::other)??;
    metrics::histogram!("fenhe_store_checkpoint_seconds", "pass" => "sync")
        .record(started.elapsed().as_secs_f64());
    Ok(())
}

/// The checkpoint task; stopped when dropped.
pub(super) struct Checkpointer {
    task: crate::own_thread::StopOnDrop,
}

impl Checkpointer {
    pub(super) async fn start(opts: SqliteConnectOptions, write: SqlitePool) -> crate::Result<Checkpointer> {
        let mut conn = opts.connect().await?;
        // The connection above created the file if it was missing.
        let path = opts.get_filename().display().to_string();
        let file = open_for_sync(opts.get_filename())
            .map_err(|source| crate::StoreError::Io { path: path.clone(), source })?;
        let file = std::sync::Arc::new(file);
        // Its own thread: the pass on the write connection pauses the writer, and must not be
        // stretched by waiting in the shared runtime's run queue (see `own_thread`).
        let task = crate::own_thread::spawn("fenhe-checkpoint", async move {
            let mut tick = tokio::time::interval(INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let passes = async {
                    // Passive passes until one had little left to copy (each copies what was
                    // committed during the one before and its sync), so the pass inside the
                    // writer's chain is short: few pages to copy and only those to sync.
                    let mut done_before = 0i64;
                    let mut wal_frames = 0i64;
                    for _ in 0..MAX_PASSES {
                        let (log, done) = passive_pass(&mut conn, "passive").await?;
                        wal_frames = log;
                        // A smaller count than before: the WAL restarted in between.
                        let copied = if done >= done_before { done - done_before } else { done };
                        done_before = done;
                        if copied > 0 {
                            sync_database(&file)
                                .await
                                .map_err(|source| crate::StoreError::Io { path: path.clone(), source })?;
                        }
                        if copied <= SMALL_PASS {
                            break;
                        }
                    }
                    if wal_frames < RESTART_FRAMES {
                        return Ok(());
                    }
                    // Inside the writer's chain: every packet queued meanwhile waits for it. Timed
                    // from when the connection is ours, not from when the batch holding it began.
                    let mut writer = write.acquire().await?;
                    let (_, done) = passive_pass(&mut *writer, "writer").await?;
                    drop(writer);
                    metrics::histogram!("fenhe_store_checkpoint_writer_frames")
                        .record((done - done_before).max(0) as f64);
                    Ok::<_, crate::StoreError>(())
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
        self.task.stop();
    }
}
