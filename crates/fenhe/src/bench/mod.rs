//! `fenhe bench`: load benchmarks against a real `fenhe serve` process. Method and figures are in
//! docs/BENCHMARKS.md.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

mod compliance;
mod ingest;
mod server_process;
mod web;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Simulated data loggers against a separate `fenhe serve` on SQLite: acknowledged packets/s,
    /// factor values/s, acknowledgement latency, server memory per connection, durability.
    Ingest(IngestArgs),
    /// The compliance engine in-process on SQLite: a full recomputation of generated minute data,
    /// incremental cycles for a city, and `fenhe replay` over simulated captures.
    Compliance(ComplianceArgs),
    /// The web application against a real `fenhe serve` over a year of the demo city's history:
    /// latency percentiles and sizes of the overview, enterprise, alarm and outlet pages and of an
    /// outlet's year of hourly data, with signed-in users asking concurrently.
    Web(WebArgs),
}

#[derive(Debug, Args)]
pub struct WebArgs {
    /// Days of history of the demo city's 40 data loggers, up to now.
    #[arg(long, default_value_t = 365)]
    pub days: u32,
    /// Of those, the last days with minute data (before them the loggers send hourly data).
    #[arg(long, default_value_t = 30)]
    pub minute_days: u32,
    /// Concurrent signed-in users (one keep-alive connection each).
    #[arg(long, default_value_t = 20)]
    pub users: usize,
    /// Seconds of load on each target.
    #[arg(long, default_value_t = 10)]
    pub duration: u64,
    /// Directory of the database and the server log (default: a new one in the temporary
    /// directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep the database (a later run can --reuse it).
    #[arg(long)]
    pub keep: bool,
    /// Measure against the database an earlier run left in --dir (with --keep) instead of
    /// loading the history again.
    #[arg(long)]
    pub reuse: bool,
    /// The fenhe binary that serves (default: this executable).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Print the report as JSON on standard output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ComplianceArgs {
    /// Outlets (one 1-minute flue-gas device each) of the full recomputation.
    #[arg(long, default_value_t = 200)]
    pub outlets: usize,
    /// Factors per device (PM, SO2, NOx, O2, flow, temperature, velocity, pressure, humidity, CO:
    /// the first K).
    #[arg(long, default_value_t = 8)]
    pub factors: usize,
    /// Days of minute data of the full recomputation.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Outlets of the city whose incremental cycle is timed.
    #[arg(long, default_value_t = 40)]
    pub city_outlets: usize,
    /// Whole days of the city's base history (from the first of the month).
    #[arg(long, default_value_t = 28)]
    pub city_days: u32,
    /// Incremental cycles timed (each after one new minute per device).
    #[arg(long, default_value_t = 5)]
    pub cycles: usize,
    /// Simulated devices of the replay capture (1-minute and hourly data, 6 factors).
    #[arg(long, default_value_t = 20)]
    pub replay_devices: usize,
    /// Days of the replay capture.
    #[arg(long, default_value_t = 30)]
    pub replay_days: u32,
    /// Run only these parts (full, incremental, replay); repeatable. Default: all three.
    #[arg(long, value_parser = ["full", "incremental", "replay"])]
    pub only: Vec<String>,
    /// Directory for the databases and captures (default: a new one in the temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Keep the databases and captures.
    #[arg(long)]
    pub keep: bool,
    /// Full recomputation: judge the database an earlier run left in --dir (with --keep and the
    /// same --outlets, --factors and --days) again instead of generating it.
    #[arg(long)]
    pub reuse: bool,
    /// Print the report as JSON on standard output.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Concurrent device connections.
    #[arg(long, default_value_t = 10_000)]
    pub devices: usize,
    /// Seconds of each measured phase (maximum throughput, then half rate).
    #[arg(long, default_value_t = 60)]
    pub duration: u64,
    /// Total packets/s of the paced phase; 0 = half the sustained rate of the maximum phase.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Factors per minute packet (each with Avg, Min, Max, ZsAvg and Flag).
    #[arg(long, default_value_t = 10)]
    pub factors: usize,
    /// Packets one connection may have unacknowledged.
    #[arg(long, default_value_t = 4)]
    pub window: usize,
    /// SQLite database to create (default: a new file in the temporary directory).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// The fenhe binary that serves (default: this executable).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// Keep the database and the server log.
    #[arg(long)]
    pub keep: bool,
    /// Let the server ask every device for its time when it connects (`serve` does by default;
    /// with thousands of devices connecting at once each check costs several single-row
    /// transactions, see docs/BENCHMARKS.md). Off: the server runs with --no-time-check.
    #[arg(long)]
    pub time_check: bool,
    /// The server's `--max-batch` (packets per transaction; default: the server's own).
    #[arg(long)]
    pub max_batch: Option<usize>,
    /// The server's `--batch-wait-ms` (default: the server's own).
    #[arg(long)]
    pub batch_wait_ms: Option<u64>,
    /// Print the report as JSON on standard output.
    #[arg(long)]
    pub json: bool,
}

/// Run a benchmark (its own runtime; progress on standard error).
pub fn run(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Ingest(a) => ingest::run(a),
        BenchCommand::Compliance(a) => compliance::run(a),
        BenchCommand::Web(a) => web::run(a),
    }
}
