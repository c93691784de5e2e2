//! `workflow-escalation`: every ten minutes, the open workflow items past their deadline that
//! were not escalated yet get a step `escalate` by `system` and are marked escalated, and an
//! engine alarm nobody explained by its deadline has its review stored and escalated
//! (`fenhe_app::workflows::escalate`). Cumulative: a slot missed is caught up by the next.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fenhe_app::workflows::{self, WorkflowSettings};
use fenhe_store::Store;

use crate::{Job, JobError, JobReport};

/// How often late items are looked for.
pub const WORKFLOW_ESCALATION_PERIOD: Duration = Duration::from_secs(10 * 60);

/// The escalation of late workflow items.
pub struct WorkflowEscalation {
    store: Arc<dyn Store>,
    settings: Arc<WorkflowSettings>,
    period: Duration,
}

impl WorkflowEscalation {
    pub fn new(store: Arc<dyn Store>, settings: Arc<WorkflowSettings>) -> WorkflowEscalation {
        WorkflowEscalation { store, settings, period: WORKFLOW_ESCALATION_PERIOD }
    }

    /// Another period (tests).
    pub fn every(mut self, period: Duration) -> WorkflowEscalation {
        self.period = period;
        self
    }
}

#[async_trait]
impl Job for WorkflowEscalation {
    fn name(&self) -> &'static str {
        "workflow-escalation"
    }

    fn period(&self) -> Duration {
        self.period
    }

    async fn run(&self, now: i64) -> Result<JobReport, JobError> {
        let r = workflows::escalate(self.store.as_ref(), &self.settings, now).await?;
        let by_kind =
            r.escalated.iter().map(|(k, n)| format!("{} {n}", k.name())).collect::<Vec<_>>().join(", ");
        Ok(JobReport {
            work: r.total_escalated() + r.reviews_opened,
            summary: format!(
                "workflow escalation: {} alarm reviews opened late, escalated {by_kind}",
                r.reviews_opened
            ),
        })
    }
}
