//! The runner: one task per job, waking at each slot of the job's period, taking the job's lease,
//! running it while renewing the lease, and cutting the lease back to the slot's end afterwards.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fenhe_core::china_time;
use fenhe_store::Store;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{Job, JobError, JobReport};

/// A holder name unique to this process, `host:pid:nonce`: a lease held under it is this process's
/// own (renewed, not refused), so two processes must never share one. The nonce tells apart two
/// processes with the same host name and pid (containers started alike).
pub fn holder_for_this_process() -> String {
    use std::hash::{BuildHasher, Hasher};
    let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "host".into());
    // RandomState's keys are drawn from the operating system's randomness once per process.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(china_time::now_ms());
    format!("{host}:{}:{:08x}", std::process::id(), h.finish() as u32)
}

/// Runs jobs until cancelled.
pub struct Runner {
    store: Arc<dyn Store>,
    holder: String,
    jobs: Vec<Arc<dyn Job>>,
}

impl Runner {
    /// A runner taking leases as `holder` (see [`holder_for_this_process`]).
    pub fn new(store: Arc<dyn Store>, holder: impl Into<String>) -> Runner {
        Runner { store, holder: holder.into(), jobs: Vec::new() }
    }

    /// Add a job (its name must differ from every other job's: it names the lease).
    pub fn with(mut self, job: impl Job) -> Runner {
        self.jobs.push(Arc::new(job));
        self
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Start one task per job. They stop at `cancel` once a run in progress has finished (still
    /// renewing its lease meanwhile): a compliance cycle cut between clearing its dirty marks and
    /// judging the permits would leave an enterprise's permit share stale. A task that dies
    /// instead (aborted, or its process killed) leaves its lease to lapse, after which another
    /// process takes the job over.
    pub fn spawn(self, cancel: CancellationToken) -> Vec<JoinHandle<()>> {
        let holder: Arc<str> = self.holder.into();
        self.jobs
            .into_iter()
            .map(|job| {
                let lease =
                    LeaseHolder { store: self.store.clone(), holder: holder.clone(), job: job.name() };
                tokio::spawn(run_job(lease, job, cancel.clone()))
            })
            .collect()
    }
}

/// The slot of `now` for a period: its start and end, epoch ms.
fn slot(now: i64, period_ms: i64) -> (i64, i64) {
    let start = now - now.rem_euclid(period_ms);
    (start, start.saturating_add(period_ms))
}

/// A job's period in milliseconds, at least 1.
fn period_ms(period: Duration) -> i64 {
    i64::try_from(period.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// One job's lease as this process holds it.
struct LeaseHolder {
    store: Arc<dyn Store>,
    holder: Arc<str>,
    job: &'static str,
}

impl LeaseHolder {
    /// Take or renew the lease until `until`: whether it is this process's now.
    async fn hold_until(&self, now: i64, until: i64) -> fenhe_store::Result<bool> {
        let ttl = until.saturating_sub(now).max(1);
        Ok(self.store.try_lease(self.job, &self.holder, now, ttl).await?.is_some())
    }
}

/// How a slot this process ran ended.
enum Ran {
    Done(Result<JobReport, JobError>),
    /// Renewing found the lease taken by another holder: the run was stopped so as not to run
    /// beside theirs.
    LostLease,
}

async fn run_job(lease: LeaseHolder, job: Arc<dyn Job>, cancel: CancellationToken) {
    let name = job.name();
    let period = period_ms(job.period());
    // The last slot this task tried: each slot is tried once, even when the timer wakes a hair
    // before the wall clock reaches the next slot (this process's own lease would be granted
    // again, and the slot run twice).
    let mut tried: Option<i64> = None;
    loop {
        let now = china_time::now_ms();
        let (start, end) = slot(now, period);
        if tried.is_none_or(|t| start > t) {
            tried = Some(start);
            // Past the slot's end by a period: a run is renewed a third of a period at a time, so
            // the lease cannot lapse under it even when the slot is nearly over as it starts.
            match lease.hold_until(now, end.saturating_add(period)).await {
                Ok(true) => run_slot(&lease, job.as_ref(), now, period, &cancel).await,
                Ok(false) => {
                    metrics::counter!("fenhe_job_runs_total", "job" => name, "outcome" => "skipped")
                        .increment(1);
                    tracing::debug!(job = name, slot = start, "another process holds this slot");
                }
                Err(e) => {
                    metrics::counter!("fenhe_job_runs_total", "job" => name, "outcome" => "failed")
                        .increment(1);
                    tracing::warn!(job = name, error = %e, "cannot take the job's lease; trying in the next slot");
                }
            }
        }
        // Read the clock again: the run may have taken a while.
        let now = china_time::now_ms();
        let (_, next) = slot(now, period);
        let wait = Duration::from_millis(u64::try_from(next - now).unwrap_or(1).max(1));
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// Run the job for the slot entered at `now`, renewing the lease while it runs (also after
/// `cancel`: the run is let finish); then cut the lease back to the end of the slot the run ended
/// in, which the run stands for.
async fn run_slot(lease: &LeaseHolder, job: &dyn Job, now: i64, period: i64, cancel: &CancellationToken) {
    let name = job.name();
    let started = Instant::now();
    let run = job.run(now);
    tokio::pin!(run);
    let every = Duration::from_millis(u64::try_from(period / 3).unwrap_or(1).max(1));
    let mut renew = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    renew.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stopping = false;
    let ran = loop {
        tokio::select! {
            r = &mut run => break Ran::Done(r),
            _ = cancel.cancelled(), if !stopping => {
                stopping = true;
                tracing::info!(job = name, "stopping once the run in progress has finished");
            }
            _ = renew.tick() => {
                let t = china_time::now_ms();
                match lease.hold_until(t, t.saturating_add(period)).await {
                    Ok(true) => {}
                    Ok(false) => break Ran::LostLease,
                    // The lease still runs for up to two thirds of a period: try again next tick.
                    Err(e) => tracing::warn!(job = name, error = %e, "cannot renew the job's lease"),
                }
            }
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    metrics::histogram!("fenhe_job_seconds", "job" => name).record(seconds);
    let outcome = match &ran {
        Ran::Done(Ok(r)) => {
            if r.work > 0 {
                tracing::info!(job = name, work = r.work, ms = (seconds * 1000.0) as u64, "{}", r.summary);
            }
            "ok"
        }
        Ran::Done(Err(e)) => {
            tracing::warn!(job = name, error = %e, "job failed; trying again in the next slot");
            "failed"
        }
        Ran::LostLease => {
            tracing::warn!(
                job = name,
                "the job's lease was taken by another process during the run; run stopped"
            );
            "lost_lease"
        }
    };
    metrics::counter!("fenhe_job_runs_total", "job" => name, "outcome" => outcome).increment(1);
    if let Ran::Done(_) = ran {
        let t = china_time::now_ms();
        let (_, end) = slot(t, period);
        if let Err(e) = lease.hold_until(t, end).await {
            // The lease then lapses later: another process may skip a slot, none runs twice.
            tracing::warn!(job = name, error = %e, "cannot cut the job's lease back to its slot");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_aligned_to_the_epoch() {
        assert_eq!(slot(0, 150), (0, 150));
        assert_eq!(slot(149, 150), (0, 150));
        assert_eq!(slot(150, 150), (150, 300));
        assert_eq!(slot(60_001, 60_000), (60_000, 120_000));
        // Before 1970 too: the slot holding the instant, not one rounded towards zero.
        assert_eq!(slot(-1, 150), (-150, 0));
        assert_eq!(slot(-150, 150), (-150, 0));
    }

    #[test]
    fn a_period_is_at_least_a_millisecond() {
        assert_eq!(period_ms(Duration::ZERO), 1);
        assert_eq!(period_ms(Duration::from_micros(999)), 1);
        assert_eq!(period_ms(Duration::from_secs(60)), 60_000);
        assert_eq!(period_ms(Duration::MAX), i64::MAX);
    }

    #[test]
    fn holder_names_name_this_process() {
        let a = holder_for_this_process();
        let parts: Vec<&str> = a.split(':').collect();
        assert_eq!(parts.len(), 3, "{a}");
        assert_eq!(parts[1], std::process::id().to_string());
        assert_eq!(parts[2].len(), 8);
        assert!(u32::from_str_radix(parts[2], 16).is_ok(), "{a}");
    }
}
