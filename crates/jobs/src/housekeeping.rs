//! Housekeeping as a job: each hour, the sessions that have expired and the sign-in attempts too
//! old for the throttle to count are deleted (`fenhe_app::auth::forget_expired`), so neither table
//! grows for ever on a public listener.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fenhe_app::auth;
use fenhe_store::Store;

use crate::{Job, JobError, JobReport};

/// How often expired sessions and old sign-in attempts are deleted.
pub const HOUSEKEEPING_PERIOD: Duration = Duration::from_secs(3600);

/// Expired sessions and stale sign-in attempts, deleted once per period.
pub struct Housekeeping {
    store: Arc<dyn Store>,
    period: Duration,
}

impl Housekeeping {
    pub fn new(store: Arc<dyn Store>) -> Housekeeping {
        Housekeeping { store, period: HOUSEKEEPING_PERIOD }
    }

    /// Another period (tests).
    pub fn every(mut self, period: Duration) -> Housekeeping {
        self.period = period;
        self
    }
}

#[async_trait]
impl Job for Housekeeping {
    fn name(&self) -> &'static str {
        "housekeeping"
    }

    fn period(&self) -> Duration {
        self.period
    }

    async fn run(&self, now: i64) -> Result<JobReport, JobError> {
        let f = auth::forget_expired(self.store.as_ref(), now).await?;
        Ok(JobReport {
            work: f.sessions + f.sign_in_attempts,
            summary: format!(
                "housekeeping: {} expired sessions and {} old sign-in attempts deleted",
                f.sessions, f.sign_in_attempts
            ),
        })
    }
}
