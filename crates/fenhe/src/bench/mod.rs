//! `fenhe bench`: load benchmarks against a real `fenhe serve` process. Method and figures are in
//! docs/BENCHMARKS.md.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

mod ingest;
mod rlimit;

pub use rlimit::raise_nofile_limit;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Simulated data loggers against a separate `fenhe serve` on SQLite: acknowledged packets/s,
    /// factor values/s, acknowledgement latency, server memory per connection, durability.
    Ingest(IngestArgs),
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
    /// Print the report as JSON on standard output.
    #[arg(long)]
    pub json: bool,
}

/// Run a benchmark (its own runtime; progress on standard error).
pub fn run(cmd: BenchCommand) -> Result<ExitCode> {
    match cmd {
        BenchCommand::Ingest(a) => ingest::run(a),
    }
}
