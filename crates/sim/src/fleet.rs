//! Many devices against one server.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::SimError;
use crate::device::{DeviceReport, SimConfig, SimDevice};
use crate::fleet_stats::Stats;
use crate::spec::DeviceSpec;

/// How a fleet runs.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The server, `host:port`.
    pub addr: String,
    /// Settings every device runs with.
    pub sim: SimConfig,
    /// Device starts are spread evenly over this time, so that a large fleet does not connect all
    /// at once.
    pub ramp_up: Duration,
}

impl FleetConfig {
    pub fn new(addr: impl Into<String>) -> Self {
        FleetConfig { addr: addr.into(), sim: SimConfig::default(), ramp_up: Duration::ZERO }
    }
}

/// A running fleet of simulated devices. Must be created inside a tokio runtime.
pub struct Fleet {
    stats: Arc<Stats>,
    stop: CancellationToken,
    tasks: JoinSet<DeviceReport>,
    len: usize,
}

impl Fleet {
    /// Validate every spec, then start one task per device.
    pub fn spawn(specs: Vec<DeviceSpec>, cfg: FleetConfig) -> Result<Fleet, SimError> {
        Self::spawn_with_token(specs, cfg, CancellationToken::new())
    }

    /// Like [`Fleet::spawn`], stopping when `stop` is cancelled (share one token between a
    /// server and its simulated devices).
    pub fn spawn_with_token(
        specs: Vec<DeviceSpec>,
        cfg: FleetConfig,
        stop: CancellationToken,
    ) -> Result<Fleet, SimError> {
        let stats = Arc::new(Stats::new());
        let devices = specs
            .into_iter()
            .map(|s| SimDevice::new(s, cfg.sim.clone()).map(|d| d.with_fleet_stats(stats.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        let len = devices.len();
        let mut tasks = JoinSet::new();
        for (i, d) in devices.into_iter().enumerate() {
            let delay = if len > 1 { cfg.ramp_up.mul_f64(i as f64 / len as f64) } else { Duration::ZERO };
            let (addr, stop) = (cfg.addr.clone(), stop.clone());
            tasks.spawn(async move {
                if !delay.is_zero() {
                    tokio::select! {
                        _ = stop.cancelled() => {}
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
                d.run(addr, stop).await
            });
        }
        Ok(Fleet { stats, stop, tasks, len })
    }

    /// Counters of all devices together, readable while they run.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The token that stops the fleet.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Ask every device to stop (they close their connections at once).
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Wait for every device to stop; their reports, in no particular order.
    pub async fn join(mut self) -> Vec<DeviceReport> {
        let mut out = Vec::with_capacity(self.len);
        while let Some(r) = self.tasks.join_next().await {
            match r {
                Ok(rep) => out.push(rep),
                Err(e) => tracing::warn!("simulated device task failed: {e}"),
            }
        }
        out
    }

    /// Stop and wait.
    pub async fn shutdown(self) -> Vec<DeviceReport> {
        self.stop();
        self.join().await
    }
}
