//! The single writer: one task that takes submitted [`IngestItem`]s off a bounded queue, stores
//! them in batches through [`Store::write_batch`] (one transaction, so one fsync, per batch) and
//! answers each submitter once its batch has committed.
//!
//! A submitter that gets `Ok` may acknowledge the packet: it is durable. When a batch fails,
//! every submitter of that batch gets [`StoreError::BatchFailed`], so nobody acknowledges a
//! packet that was not stored. A full queue makes [`WriterHandle::submit`] wait (backpressure
//! reaches the connections instead of memory growing).
//!
//! Metrics: histograms `fenhe_store_batch_size` and `fenhe_store_commit_seconds`, gauge
//! `fenhe_store_queue_depth`, counter `fenhe_store_measurements_total{outcome}` with outcome
//! `inserted`, `duplicate` or `revision`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, watch};

use crate::{IngestItem, ItemOutcome, Result, Store, StoreError};

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
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig { max_batch: 2048, max_wait: Duration::from_millis(5), queue: 8192 }
    }
}

struct Job {
    item: IngestItem,
    reply: oneshot::Sender<Result<ItemOutcome>>,
}

/// Starts the writer task.
pub struct Writer;

impl Writer {
    /// Spawn the writer on a thread of its own (on the current Tokio runtime if no thread can be
    /// started). It runs until [`WriterHandle::shutdown`] is called or every handle is dropped,
    /// and in both cases first writes what is queued.
    pub fn spawn(store: Arc<dyn Store>, cfg: WriterConfig) -> WriterHandle {
        let cfg = WriterConfig { max_batch: cfg.max_batch.max(1), queue: cfg.queue.max(1), ..cfg };
        let (tx, rx) = mpsc::channel(cfg.queue);
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = watch::channel(false);
        // The runtime the writer was started from, to free written batches on (below).
        let shared = tokio::runtime::Handle::try_current().ok();
        // Its own thread: every acknowledgement waits for this task, so it must not wait in the
        // run queue behind the connections (see `own_thread`).
        crate::own_thread::spawn("fenhe-writer", async move {
            run(store, cfg, rx, stop_rx, shared).await;
            done_tx.send_replace(true);
        })
        .detach();
        WriterHandle { tx, shared: Arc::new(Shared { stop: stop_tx, done: done_rx }) }
    }
}

struct Shared {
    stop: watch::Sender<bool>,
    done: watch::Receiver<bool>,
}

/// Submits items to the writer. Cheap to clone.
#[derive(Clone)]
pub struct WriterHandle {
    tx: mpsc::Sender<Job>,
    shared: Arc<Shared>,
}

impl WriterHandle {
    /// Queue `item` and wait until the batch containing it has committed.
    pub async fn submit(&self, item: IngestItem) -> Result<ItemOutcome> {
        let (reply, answer) = oneshot::channel();
        self.tx.send(Job { item, reply }).await.map_err(|_| StoreError::WriterGone)?;
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
        let written = commit(store.as_ref(), batch).await;
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

/// Write `batch` and answer its submitters; returns the items, for the caller to free.
async fn commit(store: &dyn Store, batch: Vec<Job>) -> Vec<IngestItem> {
    let (items, replies): (Vec<_>, Vec<_>) = batch.into_iter().map(|j| (j.item, j.reply)).unzip();
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
            let (mut inserted, mut duplicates, mut revisions) = (0u64, 0u64, 0u64);
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                inserted += u64::from(outcome.inserted);
                duplicates += u64::from(outcome.duplicates);
                revisions += u64::from(outcome.revisions);
                // A submitter that stopped waiting no longer needs the answer.
                let _ = reply.send(Ok(outcome));
            }
            metrics::counter!("fenhe_store_measurements_total", "outcome" => "inserted").increment(inserted);
            metrics::counter!("fenhe_store_measurements_total", "outcome" => "duplicate")
                .increment(duplicates);
            metrics::counter!("fenhe_store_measurements_total", "outcome" => "revision").increment(revisions);
        }
        Err(e) => {
            tracing::error!(items = items.len(), error = %e, "write batch failed; nothing of it was stored");
            let e = Arc::new(e);
            for reply in replies {
                let _ = reply.send(Err(StoreError::BatchFailed(e.clone())));
            }
        }
    }
    items
}
