//! The single writer: one task that takes submitted [`IngestItem`]s off a bounded queue, stores
//! them in batches through [`Store::write_batch`] (one transaction, so one fsync, per batch) and
//! answers each submitter once its batch has committed.
//!
//! [`WriterHandle::enqueue`] hands back a [`Ticket`] per item as soon as the item is queued; the
//! ticket resolves to the item's [`ItemOutcome`] once its batch has committed. A submitter that
//! gets `Ok` may acknowledge the packet: it is durable. When a batch fails, every ticket of that
//! batch resolves to [`StoreError::BatchFailed`], so nobody acknowledges a packet that was not
//! stored. A full queue makes `enqueue` wait (backpressure reaches the connections instead of
//! memory growing).
//!
//! The gateway's command bookkeeping (queueing a platform command, recording a command's
//! progress) goes through the same queue ([`WriterHandle::enqueue_command`],
//! [`WriterHandle::update_command`]), so it is sequenced with the batches: a command queued after
//! a frame is written after that frame's batch.
//!
//! The writer keeps its health ([`crate::write_health`]): a failed batch makes it `Failing` until
//! a batch commits again, and with a free-space floor ([`WriterConfig::floor`]) it refuses new
//! frames ([`StoreError::Unavailable`]) while the disk is nearly full, before SQLite runs out of
//! space half-way through a commit. Both end by themselves when space returns.
//!
//! Metrics: histograms `fenhe_store_batch_size` and `fenhe_store_commit_seconds`, gauge
//! `fenhe_store_queue_depth`, counter `fenhe_store_measurements_total{outcome}` with outcome
//! `inserted`, `duplicate`, `revision` or `pending`; the health's gauge and counter.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use crate::write_health::{HealthCell, HealthWatch, SpaceFloor, WriterHealth};
use crate::{CommandStatus, IngestItem, ItemOutcome, NewCommand, Result, Store, StoreError};

/// How the writer batches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterConfig {
    /// Most items per transaction.
    pub max_batch: usize,
    /// How long a batch that is not full may wait for more items before it is written.
    /// Zero writes whatever is queued at once.
    pub max_wait: Duration,
    /// Capacity of the submission queue.
    pub queue: usize,
    /// Refuse new frames while the database's file system has less free space than this
    /// (`None`: no floor).
    pub floor: Option<SpaceFloor>,
}

/// The default free-space floor (`--min-free-mb`), in MiB.
pub const DEFAULT_MIN_FREE_MB: u64 = 512;

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig { max_batch: 2048, max_wait: Duration::from_millis(5), queue: 8192, floor: None }
    }
}

/// What the queue carries: frames to batch, and command bookkeeping written between batches.
enum Job {
    Ingest { item: IngestItem, reply: oneshot::Sender<Result<ItemOutcome>> },
    Command { write: CommandWrite, reply: oneshot::Sender<Result<Option<i64>>> },
}

/// A command write, done by the writer task in queue order.
enum CommandWrite {
    Enqueue(NewCommand),
    Update {
        id: i64,
        status: CommandStatus,
        qn: Option<String>,
        attempts: u32,
        detail: Option<String>,
        at: i64,
    },
}

/// The claim on one queued item's outcome: resolves once the item's batch has committed (or
/// failed). Tickets of one submitter resolve in the order they were handed out, since batches
/// commit in queue order; awaiting them in that order never waits on a later item.
#[must_use = "a ticket that is not awaited leaves the item's outcome unread"]
pub struct Ticket(oneshot::Receiver<Result<ItemOutcome>>);

impl Future for Ticket {
    type Output = Result<ItemOutcome>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The writer dropped the answer only if it is gone (stopped or panicked).
        Pin::new(&mut self.0).poll(cx).map(|r| r.unwrap_or(Err(StoreError::WriterGone)))
    }
}

impl ItemOutcome {
    /// Every measurement the item carried was already stored, identically: the packet is a
    /// duplicate. An item without measurements is never one.
    pub fn is_duplicate(&self) -> bool {
        self.duplicates > 0 && self.inserted == 0 && self.revisions == 0 && self.pending == 0
    }
}

/// Starts the writer task.
pub struct Writer;

impl Writer {
    /// Spawn the writer on a thread of its own when the store wants one
    /// ([`crate::IngestStore::writer_on_own_thread`]; on the current Tokio runtime if no thread
    /// can be started), else on the current runtime. It runs until [`WriterHandle::shutdown`] is called or every handle is dropped,
    /// and in both cases first writes what is queued.
    pub fn spawn(store: Arc<dyn Store>, cfg: WriterConfig) -> WriterHandle {
        let cfg = WriterConfig { max_batch: cfg.max_batch.max(1), queue: cfg.queue.max(1), ..cfg };
        let (tx, rx) = mpsc::channel(cfg.queue);
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = watch::channel(false);
        let (cell, health) = HealthCell::new();
        // The runtime the writer was started from, to free written batches on (below).
        let shared = tokio::runtime::Handle::try_current().ok();
        let own_thread = store.writer_on_own_thread();
        let task = async move {
            run(store, cfg, rx, stop_rx, shared, cell).await;
            done_tx.send_replace(true);
        };
        if own_thread {
            // Its own thread: every acknowledgement waits for this task, so it must not wait in
            // the run queue behind the connections (see `own_thread`).
            crate::own_thread::spawn("fenhe-writer", task).detach();
        } else {
            tokio::spawn(task);
        }
        WriterHandle { tx, shared: Arc::new(Shared { stop: stop_tx, done: done_rx, health }) }
    }
}

struct Shared {
    stop: watch::Sender<bool>,
    done: watch::Receiver<bool>,
    health: HealthWatch,
}

/// Submits items to the writer. Cheap to clone.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Job>,
    shared: Arc<Shared>,
}

impl WriterHandle {
    /// Queue `item` (waiting while the queue is full) and hand back its [`Ticket`]. Items are
    /// written in the order their `enqueue` calls completed.
    pub async fn enqueue(&self, item: IngestItem) -> Result<Ticket> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Job::Ingest { item, reply }).await.map_err(|_| StoreError::WriterGone)?;
        Ok(Ticket(answer))
    }

    /// Queue `item` and wait until the batch containing it has committed.
    pub async fn submit(&self, item: IngestItem) -> Result<ItemOutcome> {
        self.enqueue(item).await?.await
    }

    /// [`Store::enqueue_command`], written after everything queued before it; returns the id.
    pub async fn enqueue_command(&self, command: NewCommand) -> Result<i64> {
        let id = self.command(CommandWrite::Enqueue(command)).await?;
        id.ok_or_else(|| StoreError::Corrupt("the writer queued a command without an id".into()))
    }

    /// [`Store::update_command`], written after everything queued before it.
    pub async fn update_command(
        &self,
        id: i64,
        status: CommandStatus,
        qn: Option<&str>,
        attempts: u32,
        detail: Option<&str>,
        at: i64,
    ) -> Result<()> {
        let write = CommandWrite::Update {
            id,
            status,
            qn: qn.map(Into::into),
            attempts,
            detail: detail.map(Into::into),
            at,
        };
        self.command(write).await.map(drop)
    }

    async fn command(&self, write: CommandWrite) -> Result<Option<i64>> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Job::Command { write, reply }).await.map_err(|_| StoreError::WriterGone)?;
        answer.await.unwrap_or(Err(StoreError::WriterGone))
    }

    /// Stop taking new items, write the ones already queued, and return once the writer has
    /// finished. Later submits fail with [`StoreError::WriterGone`].
    pub async fn shutdown(&self) {
        self.shared.stop.send_replace(true);
        let mut done = self.shared.done.clone();
        // An error means the task is gone (it panicked): finished all the same.
        let _ = done.wait_for(|d| *d).await;
    }

    /// What the writer can do right now (see [`crate::write_health`]).
    pub fn health(&self) -> WriterHealth {
        self.shared.health.get()
    }

    /// A reader of the writer's health, for `/healthz` and for waiting on a change.
    pub fn health_watch(&self) -> HealthWatch {
        self.shared.health.clone()
    }

    /// Items waiting in the queue.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }
}

async fn run(
    store: Arc<dyn Store>,
    cfg: WriterConfig,
    mut rx: mpsc::Receiver<Job>,
    mut stop: watch::Receiver<bool>,
    shared: Option<tokio::runtime::Handle>,
    health: HealthCell,
) {
    // Whether a stop request can still arrive (false once every handle is gone).
    let mut listening = true;
    loop {
        let first = if listening {
            tokio::select! {
                biased;
                changed = stop.changed() => {
                    match changed {
                        Ok(()) if *stop.borrow_and_update() => {
                            // No new items; what is queued is still received, then `None`.
                            rx.close();
                            listening = false;
                        }
                        Ok(()) => {}
                        Err(_) => listening = false,
                    }
                    continue;
                }
                job = rx.recv() => job,
            }
        } else {
            rx.recv().await
        };
        let Some(first) = first else { break };

        let mut batch = Vec::with_capacity(cfg.max_batch.min(1024));
        batch.push(first);
        drain(&mut rx, &mut batch, cfg.max_batch);
        if batch.len() < cfg.max_batch && !cfg.max_wait.is_zero() && !rx.is_closed() {
            let deadline = tokio::time::Instant::now() + cfg.max_wait;
            while batch.len() < cfg.max_batch {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(job)) => {
                        batch.push(job);
                        drain(&mut rx, &mut batch, cfg.max_batch);
                    }
                    Ok(None) | Err(_) => break,
                }
            }
        }
        metrics::gauge!("fenhe_store_queue_depth").set(rx.len() as f64);
        let written = write_in_order(store.as_ref(), batch, cfg.floor.as_ref(), &health).await;
        // Freeing a batch (some 40 allocations a packet, made on the connections' threads) was
        // a tenth of the writer thread's time, and the next batch waited for it.
        match &shared {
            Some(rt) => drop(rt.spawn(async move { drop(written) })),
            None => drop(written),
        }
    }
    metrics::gauge!("fenhe_store_queue_depth").set(0.0);
}

fn drain(rx: &mut mpsc::Receiver<Job>, batch: &mut Vec<Job>, max: usize) {
    while batch.len() < max {
        match rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// Write what was taken off the queue in its order: each run of frames as one batch, each
/// command write between them. Returns the items, for the caller to free.
async fn write_in_order(
    store: &dyn Store,
    jobs: Vec<Job>,
    floor: Option<&SpaceFloor>,
    health: &HealthCell,
) -> Vec<IngestItem> {
    let mut written = Vec::new();
    let mut run: Vec<(IngestItem, oneshot::Sender<Result<ItemOutcome>>)> = Vec::with_capacity(jobs.len());
    for job in jobs {
        match job {
            Job::Ingest { item, reply } => run.push((item, reply)),
            Job::Command { write, reply } => {
                if !run.is_empty() {
                    written.extend(commit(store, std::mem::take(&mut run), floor, health).await);
                }
                let _ = reply.send(write_command(store, write).await);
            }
        }
    }
    if !run.is_empty() {
        let items = commit(store, run, floor, health).await;
        // Almost always the only run: hand its vector back instead of copying it.
        if written.is_empty() {
            return items;
        }
        written.extend(items);
    }
    written
}

async fn write_command(store: &dyn Store, write: CommandWrite) -> Result<Option<i64>> {
    match write {
        CommandWrite::Enqueue(c) => store.enqueue_command(&c).await.map(Some),
        CommandWrite::Update { id, status, qn, attempts, detail, at } => store
            .update_command(id, status, qn.as_deref(), attempts, detail.as_deref(), at)
            .await
            .map(|()| None),
    }
}

/// Write `batch` and answer its submitters; returns the items, for the caller to free. Below the
/// free-space floor nothing is tried and every submitter is refused.
async fn commit(
    store: &dyn Store,
    batch: Vec<(IngestItem, oneshot::Sender<Result<ItemOutcome>>)>,
    floor: Option<&SpaceFloor>,
    health: &HealthCell,
) -> Vec<IngestItem> {
    let (items, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
    if let Some(below) = floor.and_then(SpaceFloor::check) {
        let problem = below.problem().unwrap_or_default();
        health.set(below);
        for reply in replies {
            let _ = reply.send(Err(StoreError::Unavailable(problem.clone())));
        }
        return items;
    }
    metrics::histogram!("fenhe_store_batch_size").record(items.len() as f64);
    let started = Instant::now();
    let result = store.write_batch(&items).await;
    metrics::histogram!("fenhe_store_commit_seconds").record(started.elapsed().as_secs_f64());
    let result = match result {
        Ok(outcomes) if outcomes.len() == items.len() => Ok(outcomes),
        Ok(outcomes) => Err(StoreError::Corrupt(format!(
            "write_batch answered {} outcomes for {} items",
            outcomes.len(),
            items.len()
        ))),
        Err(e) => Err(e),
    };
    match result {
        Ok(outcomes) => {
            health.set(WriterHealth::Storing);
            let (mut inserted, mut duplicates, mut revisions, mut pending) = (0u64, 0u64, 0u64, 0u64);
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                inserted += u64::from(outcome.inserted);
                duplicates += u64::from(outcome.duplicates);
                revisions += u64::from(outcome.revisions);
                pending += u64::from(outcome.pending);
                // A submitter that stopped waiting no longer needs the answer.
                let _ = reply.send(Ok(outcome));
            }
            metrics::counter!("fenhe_store_measurements_total", "outcome" => "inserted").increment(inserted);
            metrics::counter!("fenhe_store_measurements_total", "outcome" => "duplicate")
                .increment(duplicates);
            metrics::counter!("fenhe_store_measurements_total", "outcome" => "revision").increment(revisions);
            metrics::counter!("fenhe_store_measurements_total", "outcome" => "pending").increment(pending);
        }
        Err(e) => {
            // Logged once per change of state (`HealthCell::set`), not once per failed batch:
            // a full disk fails every batch until space returns.
            tracing::debug!(items = items.len(), error = %e, "write batch failed; nothing of it was stored");
            health.set(WriterHealth::Failing { reason: e.to_string() });
            let e = Arc::new(e);
            for reply in replies {
                let _ = reply.send(Err(StoreError::BatchFailed(e.clone())));
            }
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use fenhe_core::{FrameRecord, Measurement, Values, Verdict};

    async fn store() -> (tempfile::TempDir, Arc<dyn Store>, String) {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::open(dir.path().join("w.db").to_str().unwrap()).await.unwrap();
        let city = fenhe_core::demo::city();
        store.import_registry(&city).await.unwrap();
        let mn = city.devices[0].mn.clone();
        (dir, store, mn)
    }

    fn upload(mn: &str, at: i64, avg: f64) -> IngestItem {
        IngestItem {
            frame: FrameRecord {
                received_at: at,
                peer: "test".into(),
                mn: Some(mn.into()),
                cn: Some("2051".into()),
                bytes: format!("frame {at}").into_bytes(),
                verdict: Verdict::Accepted,
                reason: None,
                deviations: String::new(),
            },
            measurements: vec![Measurement {
                mn: mn.into(),
                cn: "2051".into(),
                data_time: 1_714_528_800_000,
                factor: "a21026".into(),
                raw_code: "a21026".into(),
                values: Values { avg: Some(avg), ..Values::default() },
            }],
        }
    }

    #[tokio::test]
    async fn tickets_resolve_in_order_with_each_items_outcome() {
        let (_dir, store, mn) = store().await;
        let w =
            Writer::spawn(store, WriterConfig { max_wait: Duration::from_millis(20), ..Default::default() });
        // The same reading twice, then a changed one: inserted, duplicate, revision.
        let mut tickets = Vec::new();
        for (at, avg) in [(1, 12.5), (2, 12.5), (3, 13.0)] {
            tickets.push(w.enqueue(upload(&mn, at, avg)).await.unwrap());
        }
        let mut outcomes = Vec::new();
        for t in tickets {
            outcomes.push(t.await.unwrap());
        }
        let kinds: Vec<_> = outcomes.iter().map(|o| (o.inserted, o.duplicates, o.revisions)).collect();
        assert_eq!(kinds, [(1, 0, 0), (0, 1, 0), (0, 0, 1)]);
        assert!(outcomes.windows(2).all(|p| p[0].frame_id < p[1].frame_id));
        assert_eq!(outcomes.iter().map(ItemOutcome::is_duplicate).collect::<Vec<_>>(), [false, true, false]);
        w.shutdown().await;
        assert!(matches!(w.enqueue(upload(&mn, 4, 1.0)).await, Err(StoreError::WriterGone)));
    }

    #[tokio::test]
    async fn command_writes_are_sequenced_with_batches() {
        let (_dir, store, mn) = store().await;
        let w = Writer::spawn(
            store.clone(),
            WriterConfig { max_wait: Duration::from_millis(50), ..Default::default() },
        );
        // The frame waits for its batch to fill; the command queued after it must not overtake it.
        let ticket = w.enqueue(upload(&mn, 1, 12.5)).await.unwrap();
        let new = NewCommand {
            mn: mn.clone(),
            cn: "1011".into(),
            cp: String::new(),
            origin: "test".into(),
            created_at: 5,
        };
        let id = w.enqueue_command(new).await.unwrap();
        let written = store.frames(&crate::FrameQuery::default()).await.unwrap();
        assert_eq!(written.len(), 1, "the frame queued first was written before the command");
        assert!(ticket.await.unwrap().inserted == 1);
        w.update_command(id, CommandStatus::Sent, Some("QN1"), 1, None, 6).await.unwrap();
        let open = store.open_commands(&mn).await.unwrap();
        assert_eq!(
            (open[0].id, open[0].status, open[0].qn.as_deref()),
            (id, CommandStatus::Sent, Some("QN1"))
        );
        assert!(matches!(
            w.update_command(id + 100, CommandStatus::Done, None, 1, None, 7).await,
            Err(StoreError::NotFound(_))
        ));
    }
}
