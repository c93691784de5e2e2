//! The compliance cycle as a job: each slot, the registry is read again (an import takes effect
//! at the next slot) and one engine cycle judges what is dirty. A failed cycle leaves its dirty
//! marks for the next slot.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fenhe_app::engine::{self, EngineOptions};
use fenhe_store::Store;

use crate::{Job, JobError, JobReport};

/// One engine cycle per period.
pub struct ComplianceCycle {
    store: Arc<dyn Store>,
    options: EngineOptions,
}

impl ComplianceCycle {
    pub fn new(store: Arc<dyn Store>, options: EngineOptions) -> ComplianceCycle {
        ComplianceCycle { store, options }
    }
}

#[async_trait]
impl Job for ComplianceCycle {
    fn name(&self) -> &'static str {
        "compliance_cycle"
    }

    fn period(&self) -> Duration {
        self.options.interval
    }

    async fn run(&self, now: i64) -> Result<JobReport, JobError> {
        let registry = self.store.registry().await?;
        let r = engine::run_cycle(self.store.as_ref(), &registry, &self.options.params, now).await?;
        if r.device_days == 0 {
            return Ok(JobReport::default());
        }
        // The engine's own figures, as before it ran as a job (dashboards read them).
        metrics::histogram!("fenhe_engine_cycle_seconds").record(r.elapsed_ms as f64 / 1000.0);
        metrics::counter!("fenhe_engine_device_days_total").increment(r.device_days as u64);
        metrics::counter!("fenhe_alarms_raised_total").increment(u64::from(r.alarms.raised));
        Ok(JobReport {
            work: r.device_days as u64,
            summary: format!(
                "compliance cycle: {} devices, {} device-days, {} hours, {} episodes, {} alarms raised, {} resolved",
                r.devices, r.device_days, r.hours, r.episodes, r.alarms.raised, r.alarms.resolved
            ),
        })
    }
}
