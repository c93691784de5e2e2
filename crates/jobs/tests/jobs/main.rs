//! The runner over two store handles to one SQLite file, as two processes sharing a database see
//! it: a short-period job run for many slots by two runners runs each slot once and nearly every
//! slot; a run longer than its slot is not joined; a runner that dies mid-run is taken over once
//! its lease lapses; a runner told to stop finishes its run first; a failed run is tried again in
//! the next slot. Counts and instants are asserted, not durations.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use fenhe_jobs::{Job, JobError, JobReport, Runner};
use fenhe_store::{Store, StoreError};
use tokio_util::sync::CancellationToken;

const PERIOD: Duration = Duration::from_millis(150);
const PERIOD_MS: i64 = 150;

/// What every runner's copy of the counting job saw.
#[derive(Default)]
struct Seen {
    /// (slot index, runner) of each run started.
    runs: Mutex<Vec<(i64, &'static str)>>,
    /// The `now` each run was given, by runner.
    nows: Mutex<BTreeMap<&'static str, Vec<i64>>>,
    /// Runs in progress now, and how often one started beside another.
    active: AtomicUsize,
    overlaps: AtomicUsize,
    /// Runs that got to their end (not dropped on the way).
    finished: AtomicUsize,
}

impl Seen {
    fn runs(&self) -> Vec<(i64, &'static str)> {
        self.runs.lock().unwrap().clone()
    }
    fn nows(&self, runner: &str) -> Vec<i64> {
        self.nows.lock().unwrap().get(runner).cloned().unwrap_or_default()
    }
}

/// Leaves the run's mark on `active` when the run ends or is dropped (a stopped runner).
struct Active<'a>(&'a AtomicUsize);

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A job that records its runs; how long each lasts is up to `length` (by the run's number
/// across every runner, from 0), and it fails when `fail` says so.
struct Counting {
    runner: &'static str,
    seen: Arc<Seen>,
    length: fn(usize) -> Duration,
    fail: bool,
}

#[async_trait]
impl Job for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn period(&self) -> Duration {
        PERIOD
    }
    async fn run(&self, now: i64) -> Result<JobReport, JobError> {
        if self.seen.active.fetch_add(1, Ordering::SeqCst) > 0 {
            self.seen.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        let _active = Active(&self.seen.active);
        let n = {
            let mut runs = self.seen.runs.lock().unwrap();
            runs.push((now.div_euclid(PERIOD_MS), self.runner));
            runs.len() - 1
        };
        self.seen.nows.lock().unwrap().entry(self.runner).or_default().push(now);
        tokio::time::sleep((self.length)(n)).await;
        self.seen.finished.fetch_add(1, Ordering::SeqCst);
        if self.fail {
            return Err(StoreError::Invalid(format!("run {n} fails on purpose")).into());
        }
        Ok(JobReport { work: 1, summary: format!("run {n}") })
    }
}

fn short(_: usize) -> Duration {
    Duration::from_millis(10)
}

/// Two handles to one SQLite file (two processes, as far as leases go).
async fn two_stores(dir: &tempfile::TempDir) -> (Arc<dyn Store>, Arc<dyn Store>) {
    let db = dir.path().join("jobs.db");
    let a = fenhe_store::open(db.to_str().unwrap()).await.unwrap();
    let b = fenhe_store::open(db.to_str().unwrap()).await.unwrap();
    (a, b)
}

fn counting(runner: &'static str, seen: &Arc<Seen>, length: fn(usize) -> Duration) -> Counting {
    Counting { runner, seen: seen.clone(), length, fail: false }
}

async fn stop(cancel: &CancellationToken, tasks: Vec<tokio::task::JoinHandle<()>>) {
    cancel.cancel();
    for t in tasks {
        t.await.unwrap();
    }
}

fn assert_no_slot_twice(runs: &[(i64, &str)]) {
    let mut by_slot: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for (slot, who) in runs {
        by_slot.entry(*slot).or_default().push(who);
    }
    let twice: Vec<_> = by_slot.iter().filter(|(_, who)| who.len() > 1).collect();
    assert!(twice.is_empty(), "slots run more than once: {twice:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_run_each_slot_once_and_nearly_every_slot() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_stores(&dir).await;
    let seen = Arc::new(Seen::default());
    let cancel = CancellationToken::new();
    let mut tasks = Runner::new(a, "process-a").with(counting("a", &seen, short)).spawn(cancel.clone());
    tasks.extend(Runner::new(b, "process-b").with(counting("b", &seen, short)).spawn(cancel.clone()));
    tokio::time::sleep(PERIOD * 15).await;
    stop(&cancel, tasks).await;

    let runs = seen.runs();
    assert_no_slot_twice(&runs);
    // Ignoring the lease, both runners would run every slot: twice as many runs as slots.
    let first = runs.iter().map(|r| r.0).min().unwrap();
    let last = runs.iter().map(|r| r.0).max().unwrap();
    let slots = (last - first + 1) as usize;
    assert!(runs.len() <= slots, "{} runs in {slots} slots", runs.len());
    // Nearly every slot of the ~15 ran (a loaded machine may make a runner late for a few).
    assert!(runs.len() >= 10, "only {} runs: {runs:?}", runs.len());
    assert_eq!(seen.overlaps.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_longer_than_its_slot_is_not_joined() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_stores(&dir).await;
    let seen = Arc::new(Seen::default());
    // The first run lasts four slots; the others are short.
    let length = |n: usize| if n == 0 { PERIOD * 4 } else { Duration::from_millis(10) };
    let cancel = CancellationToken::new();
    let mut tasks = Runner::new(a, "process-a").with(counting("a", &seen, length)).spawn(cancel.clone());
    tasks.extend(Runner::new(b, "process-b").with(counting("b", &seen, length)).spawn(cancel.clone()));
    tokio::time::sleep(PERIOD * 10).await;
    stop(&cancel, tasks).await;

    let runs = seen.runs();
    assert_eq!(seen.overlaps.load(Ordering::SeqCst), 0, "a run started beside the long one: {runs:?}");
    assert_no_slot_twice(&runs);
    // The slots the long run covered were not run by anyone; runs resumed after it.
    let long = runs[0].0;
    assert!(runs[1..].iter().all(|r| r.0 >= long + 4), "{runs:?}");
    assert!(runs.len() >= 3, "runs did not resume after the long one: {runs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_holder_is_taken_over_once_its_lease_lapses() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_stores(&dir).await;
    let seen = Arc::new(Seen::default());
    // Every run of runner a would last far longer than the test; b's are short.
    let forever = |_: usize| Duration::from_secs(3600);
    let tasks_a =
        Runner::new(a, "process-a").with(counting("a", &seen, forever)).spawn(CancellationToken::new());
    // a takes the first slot alone.
    while seen.runs().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cancel_b = CancellationToken::new();
    let tasks_b = Runner::new(b, "process-b").with(counting("b", &seen, short)).spawn(cancel_b.clone());
    tokio::time::sleep(PERIOD * 3).await;
    // Nothing ran beside a's run while a held the lease.
    assert_eq!(seen.runs().len(), 1, "{:?}", seen.runs());

    // a dies mid-run (its task is dropped where it stands, as when its process is killed): its
    // lease is neither renewed nor given back.
    let stopped_at = fenhe_core::china_time::now_ms();
    for t in tasks_a {
        t.abort();
        assert!(t.await.unwrap_err().is_cancelled());
    }
    assert_eq!(seen.active.load(Ordering::SeqCst), 0, "a's run was dropped");
    assert_eq!(seen.finished.load(Ordering::SeqCst), 0);
    tokio::time::sleep(PERIOD * 8).await;
    stop(&cancel_b, tasks_b).await;

    let b_runs = seen.nows("b");
    assert!(b_runs.len() >= 3, "b did not take over: {:?}", seen.runs());
    // b ran only after a's lease lapsed, which was after a stopped.
    assert!(b_runs[0] > stopped_at, "b ran at {} before a stopped at {stopped_at}", b_runs[0]);
    assert_eq!(seen.nows("a").len(), 1);
    assert_eq!(seen.overlaps.load(Ordering::SeqCst), 0);
    assert_no_slot_twice(&seen.runs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_told_to_stop_finishes_its_run_and_another_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two_stores(&dir).await;
    let seen = Arc::new(Seen::default());
    // Every run lasts three slots.
    let long = |_: usize| PERIOD * 3;
    let cancel_a = CancellationToken::new();
    let tasks_a = Runner::new(a, "process-a").with(counting("a", &seen, long)).spawn(cancel_a.clone());
    while seen.runs().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let cancel_b = CancellationToken::new();
    let tasks_b = Runner::new(b, "process-b").with(counting("b", &seen, long)).spawn(cancel_b.clone());
    tokio::time::sleep(PERIOD).await;
    // Told to stop a slot into its run: a's tasks end only once the run has ended.
    cancel_a.cancel();
    for t in tasks_a {
        t.await.unwrap();
    }
    assert_eq!(seen.finished.load(Ordering::SeqCst), 1, "a's run was cut: {:?}", seen.runs());
    tokio::time::sleep(PERIOD * 6).await;
    stop(&cancel_b, tasks_b).await;

    assert_eq!(seen.nows("a").len(), 1);
    assert!(!seen.nows("b").is_empty(), "b did not go on: {:?}", seen.runs());
    assert_eq!(seen.overlaps.load(Ordering::SeqCst), 0, "{:?}", seen.runs());
    assert_no_slot_twice(&seen.runs());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_is_tried_again_in_the_next_slot() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = two_stores(&dir).await;
    let seen = Arc::new(Seen::default());
    let cancel = CancellationToken::new();
    let job = Counting { runner: "a", seen: seen.clone(), length: short, fail: true };
    let tasks = Runner::new(a, "process-a").with(job).spawn(cancel.clone());
    tokio::time::sleep(PERIOD * 6).await;
    stop(&cancel, tasks).await;
    let runs = seen.runs();
    assert!(runs.len() >= 4, "{runs:?}");
    assert_no_slot_twice(&runs);
}

/// Housekeeping deletes the sessions that have expired and leaves the others.
#[tokio::test]
async fn housekeeping_deletes_expired_sessions_only() {
    use fenhe_jobs::Housekeeping;
    use fenhe_store::{NewUser, Session};
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = two_stores(&dir).await;
    let now = 1_800_000_000_000;
    store
        .create_user(&NewUser {
            username: "officer".into(),
            display_name: "officer".into(),
            role: fenhe_core::access::Role::Bureau,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$x$y".into(),
            at: now - 10_000,
        })
        .await
        .unwrap();
    let session = |hash: &str, expires_at: i64| Session {
        token_hash: hash.into(),
        username: "officer".into(),
        created_at: now - 10_000,
        expires_at,
        last_seen_at: now - 10_000,
        peer: "127.0.0.1".into(),
        csrf_secret: "s".into(),
    };
    store.create_session(&session("expired", now - 1)).await.unwrap();
    store.create_session(&session("live", now + 60_000)).await.unwrap();
    let report = Housekeeping::new(store.clone()).run(now).await.unwrap();
    assert_eq!(report.work, 1, "{}", report.summary);
    assert!(store.session("expired").await.unwrap().is_none());
    assert!(store.session("live").await.unwrap().is_some());
}
mod workflow_escalation;
