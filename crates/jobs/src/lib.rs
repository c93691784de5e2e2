//! Scheduled work: a [`Job`] has a name, a period and a `run`; the [`Runner`] runs each job once
//! per period, and a lease row in the store makes that once across every process that shares the
//! database (two `fenhe serve` nodes on one database, or a `serve` beside a `demo` on one file).
//!
//! Time is cut into slots of the job's period, aligned to the epoch (a minute job's slots start at
//! each whole minute). A process that wants to run a job in a slot takes the job's lease past the
//! slot's end; another process that finds the lease held skips the slot. A run renews the lease
//! while it works, so a run that outlasts its slot is not joined by another process's run of a
//! later slot; when it ends, the lease is cut back to the end of the slot it ended in, so the next
//! slot is free for anyone. A runner told to stop lets a run in progress finish first. A holder
//! that dies leaves its lease to expire: that slot's run (and perhaps the next) is lost, which the
//! jobs allow — each is cumulative (the compliance cycle judges everything dirty so far, the
//! silent-device check looks at every device's latest data), so the next slot catches up.
//!
//! The jobs: [`ComplianceCycle`] and [`SilentDevices`], both `fenhe_app::engine` use cases, and
//! [`Housekeeping`] (expired sessions, stale sign-in attempts), and [`WorkflowEscalation`] (late
//! workflow items escalated, `fenhe_app::workflows::escalate`).

mod compliance_cycle;
mod housekeeping;
mod runner;
mod silent_devices;
mod workflow_escalation;

pub use compliance_cycle::ComplianceCycle;
pub use housekeeping::{HOUSEKEEPING_PERIOD, Housekeeping};
pub use runner::{Runner, holder_for_this_process};
pub use silent_devices::SilentDevices;
pub use workflow_escalation::{WORKFLOW_ESCALATION_PERIOD, WorkflowEscalation};

use std::time::Duration;

use async_trait::async_trait;

/// A piece of scheduled work.
#[async_trait]
pub trait Job: Send + Sync + 'static {
    /// Unique among jobs: the lease's name, the metrics' label, the log's `job` field.
    fn name(&self) -> &'static str;
    /// How often it runs (its slot length); at least a millisecond.
    fn period(&self) -> Duration;
    /// One run for the slot entered at `now` (epoch ms). A run may be cut at any await point
    /// (its process dies, or it finds its lease taken), so it must leave the store consistent
    /// there; the next run catches up.
    async fn run(&self, now: i64) -> Result<JobReport, JobError>;
}

/// What a run did, for the log and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobReport {
    /// Units of work done (device-days judged, device-days marked …); 0 means nothing to do, and
    /// such a run is not logged.
    pub work: u64,
    /// One line for the log.
    pub summary: String,
}

/// Why a run failed. The runner logs it and tries again in the next slot.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Store(#[from] fenhe_store::StoreError),
    #[error(transparent)]
    App(#[from] fenhe_app::AppError),
    #[error(transparent)]
    Workflow(#[from] fenhe_app::workflows::WorkflowError),
}
