//! Simulated HJ 212 data loggers: each a real TCP client that speaks HJ 212 (2005, 2017 or 2025)
//! to a server, sends plausible flue-gas or wastewater data, plays fault scenarios and answers the
//! platform's commands as a real data logger would.
//!
//! - [`DeviceSpec`] says what a device is: identity, outlet [`Kind`], protocol version, seed and
//!   [`Scenario`]s. Instants are epoch milliseconds (UTC) throughout.
//! - [`signal`] is the measurement model, a pure function of spec and time: [`values_at`] gives
//!   the minute data of any minute, always the same.
//! - [`wire`] builds the bytes: uploads, splitting, CRC dialects.
//! - [`SimDevice`] runs one connection: uploads per its [`Clock`], stop-and-wait on 9014 with
//!   retries and re-sending after reconnect, answers to 1000/1011/1012/1061–1064/1072,
//!   2011/2012 and 2031/2051/2061 history requests.
//! - [`Fleet`] runs many against one address and counts what they do in shared [`Stats`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), fenhe_sim::SimError> {
//! use fenhe_sim::{Backfill, Clock, DeviceSpec, Fleet, FleetConfig, system_now_ms};
//! let now = system_now_ms();
//! let mut cfg = FleetConfig::new("127.0.0.1:9000");
//! cfg.sim.clock = Clock::real();
//! cfg.sim.backfill = Some(Backfill::last_days(7, now));
//! let fleet = Fleet::spawn(DeviceSpec::mixed_fleet(40, 1, now), cfg)?;
//! let progress = fleet.stats().snapshot();
//! println!("{} of {} acknowledged", progress.packets_acked, progress.packets_sent);
//! fleet.shutdown().await;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

pub mod capture_stream;
mod clock;
mod device;
mod fleet;
mod fleet_stats;
mod rng;
pub mod signal;
mod spec;
pub mod wire;

pub use capture_stream::capture;
pub use clock::{Backfill, Clock, system_now_ms};
pub use device::{DeviceReport, SimConfig, SimDevice};
pub use fleet::{Fleet, FleetConfig};
pub use fleet_stats::{Counter, Stats, StatsSnapshot};
pub use signal::{Period, Reading, readings, realtime_at, values_at};
pub use spec::{
    DAY_MS, DeviceSpec, Dialect, HOUR_MS, Kind, MINUTE_MS, SHUTDOWN_RAMP_MIN, STARTUP_RAMP_MIN, Scenario,
    parse_instant,
};
pub use tokio_util::sync::CancellationToken;

/// Why a simulation could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    #[error("device {mn}: {message}")]
    Spec { mn: String, message: String },
}
