//! The silent-device check as a job: each slot, the devices whose latest data is older than the
//! offline threshold have the days of their silence marked dirty
//! (`fenhe_app::engine::mark_silent_devices`), for the compliance cycle to judge.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fenhe_app::engine::{self, EngineOptions};
use fenhe_store::Store;

use crate::{Job, JobError, JobReport};

/// The silent-device check once per period.
pub struct SilentDevices {
    store: Arc<dyn Store>,
    options: EngineOptions,
}

impl SilentDevices {
    pub fn new(store: Arc<dyn Store>, options: EngineOptions) -> SilentDevices {
        SilentDevices { store, options }
    }
}

#[async_trait]
impl Job for SilentDevices {
    fn name(&self) -> &'static str {
        "silent_devices"
    }

    fn period(&self) -> Duration {
        self.options.interval
    }

    async fn run(&self, now: i64) -> Result<JobReport, JobError> {
        let registry = self.store.registry().await?;
        let r =
            engine::mark_silent_devices(self.store.as_ref(), &registry, &self.options.params, now).await?;
        Ok(JobReport {
            work: r.device_days,
            summary: format!("silent devices: {} found, {} device-days marked", r.devices, r.device_days),
        })
    }
}
