//! `fenhe simulate`: a fleet of simulated data loggers against any HJ 212 server.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use fenhe_sim::{Backfill, Clock, DeviceSpec, Fleet, FleetConfig, Scenario, SimConfig};

use fenhe_core::china_time;

pub struct SimulateOptions {
    pub server: String,
    /// Devices from this database's registry (as `fenhe demo` simulates them); else `devices`.
    pub db: Option<String>,
    pub devices: usize,
    pub seed: u64,
    /// `MN=SCENARIO` additions (scenario text as `fenhe_sim::Scenario` parses it).
    pub scenarios: Vec<String>,
    pub accelerate: Option<f64>,
    pub backfill_days: Option<u32>,
    pub duration: Option<Duration>,
    /// Instead of connecting: write every device's uploads for `[from, to)` (epoch ms) into this
    /// file, device after device, as a capture for `fenhe replay`.
    pub write_capture: Option<(std::path::PathBuf, i64, i64)>,
}

pub async fn run(o: SimulateOptions) -> Result<()> {
    let now = china_time::now_ms();
    let mut specs: Vec<DeviceSpec> = match &o.db {
        Some(db) => {
            let store = fenhe_store::open(db).await.with_context(|| format!("cannot open {db}"))?;
            let r = store.registry().await?;
            if r.devices.is_empty() {
                bail!("the registry in {db} has no devices (import one with `fenhe registry import`)");
            }
            crate::demo::fleet_specs(&r, now)
        }
        None => DeviceSpec::mixed_fleet(o.devices, o.seed, now),
    };
    for s in &o.scenarios {
        let (mn, text) = s.split_once('=').with_context(|| format!("{s:?} is not MN=SCENARIO"))?;
        let scenario: Scenario = text.parse().map_err(|e| anyhow::anyhow!("{s:?}: {e}"))?;
        let spec = specs
            .iter_mut()
            .find(|d| d.mn == mn)
            .with_context(|| format!("no simulated device has MN {mn}"))?;
        spec.scenarios.push(scenario);
    }
    let n = specs.len();
    if let Some((path, from, to)) = &o.write_capture {
        if to <= from {
            bail!("--to must be after --from");
        }
        let mut bytes = Vec::new();
        for spec in &specs {
            bytes.extend(fenhe_sim::capture(spec, *from, *to));
        }
        std::fs::write(path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!(
            "wrote {} bytes of uploads of {n} data loggers from {} to {} into {}",
            bytes.len(),
            china_time::iso(*from),
            china_time::iso(*to),
            path.display()
        );
        return Ok(());
    }
    let sim = SimConfig {
        clock: match o.accelerate {
            Some(k) if k > 0.0 => Clock::accelerated(k, now),
            Some(k) => bail!("--accelerate {k}: the factor must be positive"),
            None => Clock::real(),
        },
        backfill: o.backfill_days.map(|d| Backfill::last_days(d, now)),
        ..SimConfig::default()
    };
    let cfg = FleetConfig { addr: o.server.clone(), sim, ramp_up: Duration::from_secs(2) };
    let fleet = Fleet::spawn(specs, cfg).context("cannot start the simulated data loggers")?;
    eprintln!("simulating {n} data loggers against {}; Ctrl-C stops", o.server);
    let stats = fleet.stats().clone();
    let deadline = o.duration.map(|d| tokio::time::Instant::now() + d);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {
                let s = stats.snapshot();
                eprintln!(
                    "connected {} · sent {} · acked {} · retries {} · history {} · commands {}",
                    s.connected, s.packets_sent, s.packets_acked, s.retries, s.history_sent, s.commands_answered
                );
            }
            _ = crate::server::wait_for_signal() => break,
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break,
        }
    }
    let reports = fleet.shutdown().await;
    let s = stats.snapshot();
    eprintln!(
        "stopped {} devices: {} packets sent, {} acknowledged",
        reports.len(),
        s.packets_sent,
        s.packets_acked
    );
    Ok(())
}
