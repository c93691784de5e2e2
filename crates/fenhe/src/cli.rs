//! The command tree. This module declares arguments (clap derive) and dispatches; the work is done
//! in the command modules, which know nothing of clap. New command families (`serve`, `demo`,
//! `registry`, …) are added as variants of [`Command`] with their own argument structs.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::packet::{self, DecodeOptions, Input};

/// Exit status for usage errors and I/O errors (clap uses it for usage errors too).
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "fenhe",
    version,
    about = "fenhe: supervision of enterprise emissions over HJ 212",
    propagate_version = false
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Inspect, explain and craft HJ 212 packets.
    #[command(subcommand)]
    Packet(PacketCommand),
    /// Import and export the registry of enterprises, outlets and devices.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Stored measurements.
    #[command(subcommand)]
    Data(DataCommand),
    /// Data loggers: list, inbox of unknown senders, commands.
    #[command(subcommand)]
    Device(DeviceCommand),
    /// Apply database migrations (every command that opens the database also does).
    Migrate(DbArg),
    /// Run the platform: the HJ 212 gateway and the web listener, until Ctrl-C.
    Serve(ServeArgs),
    /// A demo city with no setup: database, registry, gateway, web, and simulated data loggers
    /// that backfill the last days and then stream in real time.
    Demo(DemoArgs),
    /// Simulated data loggers speaking HJ 212 over TCP to a server.
    Simulate(SimulateArgs),
    /// Benchmarks against a separate `fenhe serve` process.
    #[command(subcommand)]
    Bench(crate::bench::BenchCommand),
    /// Apply the compliance engine's rules to captured HJ 212 byte streams, offline, and write a
    /// report an auditor can check by hand.
    Replay(ReplayArgs),
    /// The compliance engine: judge what changed since its last run.
    #[command(subcommand)]
    Compliance(ComplianceCommand),
    /// Alarms raised by exceedance episodes and data-quality findings.
    #[command(subcommand)]
    Alarms(AlarmsCommand),
    /// Accounts of the web application and the API (changes are audited as `cli`).
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens (`Authorization: Bearer TOKEN`).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Changed values that arrived after the revision window: they change nothing judged until
    /// approved (decisions are audited as `cli`).
    #[command(subcommand)]
    Revisions(RevisionsCommand),
    /// The working-day calendar (public holidays and make-up working days, 调休).
    #[command(subcommand)]
    Calendar(CalendarCommand),
}

#[derive(Debug, Subcommand)]
pub enum CalendarCommand {
    /// The deadline of something due N working days after T: the day of T does not count, and the
    /// deadline is the end (24:00, China time) of the N-th working day after it. Printed as
    /// `YYYY-MM-DD 24:00` (that day's end), or with `--format iso` as the instant in RFC 3339
    /// (`YYYY-MM-DDT00:00:00+08:00` of the next day).
    Due {
        /// The day or instant of receipt: YYYY-MM-DD, YYYY-MM-DDThh:mm[:ss] (China time) or RFC 3339.
        #[arg(long, value_name = "T")]
        from: String,
        /// Working days to count (0: the end of T's own day).
        #[arg(long, value_name = "N")]
        working_days: u32,
        /// A calendar file adding years to the bundled one (the format of
        /// crates/core/data/workdays-cn.txt: `2027-01-01 holiday 元旦`, `2027-02-07 workday 春节调休`).
        #[arg(long, value_name = "FILE")]
        calendar: Option<PathBuf>,
        /// text: `YYYY-MM-DD 24:00`; iso: the instant, RFC 3339 at +08:00.
        #[arg(long, value_enum, default_value_t = DueFormatArg::Text)]
        format: DueFormatArg,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DueFormatArg {
    Text,
    Iso,
}

#[derive(Debug, Subcommand)]
pub enum RevisionsCommand {
    /// Pending revisions, each beside the value that stands (all of them with `--all`).
    List {
        /// Decided ones too.
        #[arg(long)]
        all: bool,
        /// Only this device's.
        #[arg(long)]
        mn: Option<String>,
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        #[command(flatten)]
        db: DbArg,
    },
    /// Store a pending revision as its record's next revision; its day is judged again.
    Approve {
        id: i64,
        /// Why (kept in the audit log).
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        db: DbArg,
    },
    /// Keep the stored value; the revision stays on record with the reason.
    Reject {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Add {
        username: String,
        /// admin, leader, bureau, department or enterprise.
        #[arg(long, value_parser = fenhe_core::access::ROLE_NAMES)]
        role: String,
        /// The department's code (for --role department), e.g. fgw.
        #[arg(long, value_name = "CODE")]
        department: Option<String>,
        /// The enterprise's id (for --role enterprise), e.g. E01.
        #[arg(long, value_name = "ID")]
        enterprise: Option<String>,
        /// The name shown for the user (the username when not given).
        #[arg(long, value_name = "TEXT")]
        display_name: Option<String>,
        /// Read the password from standard input (it is never taken as an argument, which other
        /// users of the machine could see).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Every user.
    List {
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        #[command(flatten)]
        db: DbArg,
    },
    /// Set a user's password (read from standard input); their sessions end.
    Passwd {
        username: String,
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make an API token for a user and print it (shown only this once; stored hashed).
    Create {
        username: String,
        /// What the token is for, e.g. "nightly export".
        #[arg(long, default_value = "")]
        label: String,
        #[command(flatten)]
        db: DbArg,
    },
    /// Revoke an API token by its id (see `token list`).
    Revoke {
        id: i64,
        #[command(flatten)]
        db: DbArg,
    },
    /// API tokens, of one user or of all (never the tokens themselves).
    List {
        username: Option<String>,
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum ComplianceCommand {
    /// Transmission, validity and compliance rates of outlets, enterprises, industries or the
    /// whole city, per day or month, summed from the stored device rates.
    Rates {
        /// outlet, enterprise, industry or city.
        #[arg(long, default_value = "enterprise", value_parser = ["outlet", "enterprise", "industry", "city"])]
        by: String,
        /// day or month.
        #[arg(long, default_value = "day", value_parser = ["day", "month"])]
        period: String,
        /// From this period start (inclusive; China time unless an offset is given).
        #[arg(long)]
        from: Option<String>,
        /// Before this period start.
        #[arg(long)]
        to: Option<String>,
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        #[command(flatten)]
        db: DbArg,
    },
    /// Run engine cycles until every changed device-day is judged (`serve` does this in the
    /// background every --engine-interval-s).
    Run {
        /// A rule parameter, `name=value` (repeatable).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlarmsCommand {
    /// List alarms, newest first.
    List {
        #[arg(long)]
        mn: Option<String>,
        /// open or resolved.
        #[arg(long, value_parser = ["open", "resolved"])]
        status: Option<String>,
        /// exceedance, offline, constant_value, …
        #[arg(long)]
        kind: Option<String>,
        /// At least this severe: info, warning, serious, critical.
        #[arg(long)]
        severity: Option<String>,
        #[arg(long, default_value_t = 200)]
        limit: u32,
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The registry (what `fenhe registry export` writes: TOML or JSON). Without it, every MN in
    /// the captures is judged with --limit and --ref-o2.
    #[arg(long, value_name = "FILE")]
    pub registry: Option<PathBuf>,
    /// A captured byte stream: a data logger's log, a packet capture's payload, one packet per
    /// line. Repeatable; later files count as later arrivals.
    #[arg(long = "input", value_name = "CAPTURE", required = true)]
    pub inputs: Vec<PathBuf>,
    /// A rule parameter, `name=value` (repeatable), e.g. `hour_min_valid_minutes=40`.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Without --registry: a factor's limit, `FACTOR=VALUE` (repeatable), e.g. `a21026=35`.
    #[arg(long = "limit", value_name = "FACTOR=VALUE")]
    pub limits: Vec<String>,
    /// Without --registry: the reference O2 (%) for converted concentrations.
    #[arg(long, value_name = "PERCENT")]
    pub ref_o2: Option<f64>,
    /// A device's minute-data interval, `MN=MINUTES` (repeatable), e.g. `MN=10m`, over the
    /// registry's and over the one inferred from the data (the usual gap between its minute
    /// records, snapped to an interval HJ 212 allows; the report and standard error say which).
    #[arg(long = "interval", value_name = "MN=MINUTES")]
    pub intervals: Vec<String>,
    /// CRC computations accepted from devices the registry does not list.
    #[arg(long, value_enum, default_value_t = CrcArg::Standard)]
    pub crc: CrcArg,
    /// Judge as of this instant: only the hours and days ended by then (China time unless an
    /// offset is given). Default: the end of the last day the captures touch, so every hour and
    /// day they touch is judged (a capture is taken as complete).
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
    /// The report: a JSON file, or a directory for --format csv.
    #[arg(long, value_name = "PATH")]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value_t = ReportFormat::Json)]
    pub format: ReportFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Json,
    Csv,
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// Where data loggers connect (HJ 212 over TCP).
    #[arg(long, env = "FENHE_HJ212_LISTEN", default_value = "0.0.0.0:9212")]
    pub hj212_listen: std::net::SocketAddr,
    /// Where people and Prometheus connect (HTTP).
    #[arg(long, env = "FENHE_HTTP_LISTEN", default_value = "0.0.0.0:8080")]
    pub http_listen: std::net::SocketAddr,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArg,
    #[command(flatten)]
    pub listen: ListenArgs,
    /// Connections served at once.
    #[arg(long, default_value_t = 10_000)]
    pub max_connections: usize,
    /// Frames per second one connection may send on average.
    #[arg(long, default_value_t = 50.0)]
    pub frame_rate: f64,
    /// Close connections silent for this many seconds.
    #[arg(long, default_value_t = 300)]
    pub idle_timeout_s: u64,
    #[command(flatten)]
    pub gateway_limits: GatewayLimitArgs,
    /// Set a device's clock (1012) when it is off by more than this many seconds.
    #[arg(long, default_value_t = 60)]
    pub clock_skew_max_s: u64,
    /// Do not request history after gaps in uploads.
    #[arg(long)]
    pub no_gap_requests: bool,
    /// Mark the web session cookie Secure: set it when browsers reach fenhe over HTTPS (directly
    /// or through a proxy), so the cookie never travels over plain HTTP.
    #[arg(long, env = "FENHE_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Do not ask each device for its time (1011) when it connects.
    #[arg(long)]
    pub no_time_check: bool,
    #[command(flatten)]
    pub http: HttpArgs,
    /// Most packets the store writes in one transaction (one commit, one fsync). Larger batches
    /// cost less per packet under heavy load; a packet waits for its whole batch.
    #[arg(long, default_value_t = fenhe_store::writer::WriterConfig::default().max_batch)]
    pub max_batch: usize,
    /// Milliseconds a batch that is not full waits for more packets before it is written
    /// (0: write whatever is queued at once). Longer waits mean fewer commits under light load;
    /// every packet of the batch waits that long.
    #[arg(long, default_value_t = fenhe_store::writer::WriterConfig::default().max_wait.as_millis() as u64)]
    pub batch_wait_ms: u64,
    /// Stop taking new data (no acknowledgements, so loggers keep it) while the file system of a
    /// SQLite database has less than this many MiB free, before SQLite runs out of space mid-commit;
    /// ingest resumes by itself above it. 0: no floor.
    #[arg(long, default_value_t = fenhe_store::writer::DEFAULT_MIN_FREE_MB)]
    pub min_free_mb: u64,
    /// A changed value of stored data first received longer ago than this many minutes is kept
    /// as a pending revision that changes nothing judged until `fenhe revisions approve`.
    #[arg(long, default_value_t = fenhe_core::revision::DEFAULT_WINDOW_MS / 60_000)]
    pub revision_window_min: i64,
    /// Working days an enterprise has to explain an engine alarm (counted on the bundled
    /// working-day calendar from the first working day after the alarm was raised); an alarm
    /// unexplained by then is escalated.
    #[arg(long, default_value_t = fenhe_app::workflows::DEFAULT_EXPLAIN_WORKING_DAYS)]
    pub explain_working_days: u32,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// The gateway's limits against hostile or careless peers (docs/LIMITS.md, "Gateway").
#[derive(Debug, Args, Clone)]
pub struct GatewayLimitArgs {
    /// Frames one connection may send at once before the frame rate paces it.
    #[arg(long, default_value_t = 200.0)]
    pub frame_burst: f64,
    /// A frame must be complete within this many seconds of its first byte.
    #[arg(long, default_value_t = 30)]
    pub frame_deadline_s: u64,
    /// A connection must authenticate (a registered MN and its password) within this many
    /// seconds of connecting.
    #[arg(long, default_value_t = 120)]
    pub auth_deadline_s: u64,
    /// Connections not yet authenticated held at once (the oldest is closed beyond it).
    #[arg(long, default_value_t = 256)]
    pub max_strangers: usize,
    /// Connections not yet authenticated held at once from one IP address.
    #[arg(long, default_value_t = 8)]
    pub max_strangers_per_address: usize,
    /// Seconds between the summary lines of refused and closed connections.
    #[arg(long, default_value_t = 10)]
    pub refusal_log_interval_s: u64,
    /// Wrong passwords from one address within --auth-failure-window-s that get the address
    /// refused for --auth-block-s and raise a security alarm.
    #[arg(long, default_value_t = 10)]
    pub auth_failures_max: usize,
    #[arg(long, default_value_t = 600)]
    pub auth_failure_window_s: u64,
    #[arg(long, default_value_t = 900)]
    pub auth_block_s: u64,
    /// Most parts (PNUM) a split upload may declare.
    #[arg(long, default_value_t = 64)]
    pub max_split_parts: u32,
    /// Bytes of split parts held per device.
    #[arg(long, default_value_t = 256 * 1024)]
    pub split_bytes_per_device: usize,
    /// Bytes of split parts held across the gateway.
    #[arg(long, default_value_t = 64 * 1024 * 1024)]
    pub split_bytes_total: usize,
    /// Seconds a split upload may stay incomplete.
    #[arg(long, default_value_t = 600)]
    pub split_max_age_s: u64,
    /// Bytes kept of each run of garbage from a connection not authenticated.
    #[arg(long, default_value_t = 256)]
    pub garbage_keep_bytes: usize,
    /// Bytes of records kept per day of what one address sends before authenticating.
    #[arg(long, default_value_t = 1024 * 1024)]
    pub stranger_bytes_per_address: u64,
    /// Bytes of records kept per day of what all strangers send.
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    pub stranger_bytes_per_day: u64,
    /// History requests after gaps open at once per device.
    #[arg(long, default_value_t = 4)]
    pub max_gap_requests: usize,
}

impl GatewayLimitArgs {
    /// Set these limits on `c`.
    pub fn apply(&self, c: &mut fenhe_ingest::GatewayConfig) {
        use std::time::Duration;
        c.frame_burst = self.frame_burst;
        c.frame_deadline = Duration::from_secs(self.frame_deadline_s);
        c.auth_deadline = Duration::from_secs(self.auth_deadline_s);
        c.max_strangers = self.max_strangers;
        c.max_strangers_per_address = self.max_strangers_per_address;
        c.refusal_log_interval = Duration::from_secs(self.refusal_log_interval_s.max(1));
        c.auth_failures_max = self.auth_failures_max;
        c.auth_failure_window = Duration::from_secs(self.auth_failure_window_s);
        c.auth_block = Duration::from_secs(self.auth_block_s);
        c.max_split_parts = self.max_split_parts;
        c.split_bytes_per_device = self.split_bytes_per_device;
        c.split_bytes_total = self.split_bytes_total;
        c.split_max_age = Duration::from_secs(self.split_max_age_s);
        c.garbage_keep_bytes = self.garbage_keep_bytes;
        c.stranger_bytes_per_address = self.stranger_bytes_per_address;
        c.stranger_bytes_per_day = self.stranger_bytes_per_day;
        c.max_gap_requests = self.max_gap_requests;
    }
}

/// The HTTP listener's limits (docs/LIMITS.md, "Web listener").
#[derive(Debug, Args, Clone)]
pub struct HttpArgs {
    /// Seconds a client has to send a request's head (request line and headers).
    #[arg(long, env = "FENHE_HTTP_HEADER_TIMEOUT_S", default_value_t = 15)]
    pub http_header_timeout_s: u64,
    /// Close HTTP connections with no request in progress and no traffic for this many seconds.
    #[arg(long, env = "FENHE_HTTP_IDLE_TIMEOUT_S", default_value_t = 60)]
    pub http_idle_timeout_s: u64,
    /// HTTP connections served at once (lowered at start-up if the open-file limit, less a
    /// reserve for the HJ 212 gateway, cannot hold them).
    #[arg(long, env = "FENHE_HTTP_MAX_CONNECTIONS", default_value_t = 1024)]
    pub http_max_connections: usize,
}

impl HttpArgs {
    /// The listener's limits, the connection cap fitted into `nofile` descriptors beside a
    /// gateway of `gateway_connections`.
    pub fn limits(
        &self,
        nofile: Option<u64>,
        gateway_connections: usize,
    ) -> fenhe_web::serve::ListenerLimits {
        let wanted = self.http_max_connections.max(1);
        let max_connections = match nofile {
            Some(n) => crate::os::nofile::http_connection_cap(wanted, n, gateway_connections),
            None => wanted,
        };
        fenhe_web::serve::ListenerLimits {
            header_read_timeout: std::time::Duration::from_secs(self.http_header_timeout_s.max(1)),
            idle_timeout: std::time::Duration::from_secs(self.http_idle_timeout_s.max(1)),
            max_connections,
        }
    }
}

/// The compliance engine inside `serve` and `demo`: its jobs, the cycle and the silent-device check.
#[derive(Debug, Args, Clone)]
pub struct EngineArgs {
    /// Seconds between compliance engine cycles (the silent-device check runs as often).
    #[arg(long, default_value_t = 60)]
    pub engine_interval_s: u64,
    /// Do not run the compliance engine (ingest only; run `fenhe compliance run` elsewhere).
    #[arg(long)]
    pub no_engine: bool,
    /// A rule parameter, `name=value` (repeatable), e.g. `hour_min_valid_minutes=40`.
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
}

impl EngineArgs {
    pub fn options(&self) -> Result<Option<fenhe_app::engine::EngineOptions>> {
        let params = parse_params(&self.params)?;
        Ok((!self.no_engine).then(|| fenhe_app::engine::EngineOptions {
            params,
            interval: std::time::Duration::from_secs(self.engine_interval_s.max(1)),
        }))
    }
}

pub fn parse_params(list: &[String]) -> Result<fenhe_core::compliance::Params> {
    let mut params = fenhe_core::compliance::Params::default();
    for p in list {
        params.apply(p).with_context(|| format!("--param {p}"))?;
    }
    Ok(params)
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The demo database (created when missing; a second run resumes it).
    #[arg(long, env = "FENHE_DB", default_value = "./fenhe-demo.db")]
    pub db: String,
    #[arg(long, default_value = "127.0.0.1:9212")]
    pub hj212_listen: std::net::SocketAddr,
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http_listen: std::net::SocketAddr,
    /// Days of history to backfill.
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Hours of history to backfill instead of days (quick runs and tests).
    #[arg(long, hide = true)]
    pub hours: Option<u32>,
    /// Stop once the backfill is done instead of streaming in real time.
    #[arg(long)]
    pub backfill_only: bool,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The HJ 212 server, host:port.
    #[arg(long, default_value = "127.0.0.1:9212")]
    pub server: String,
    /// Simulate the devices registered in this database (as `fenhe demo` does).
    #[arg(long)]
    pub db: Option<String>,
    /// Without --db: this many devices with MNs SIM… and a mix of scenarios.
    #[arg(long, default_value_t = 10)]
    pub devices: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Add a scenario to one device: MN=SCENARIO, e.g. `SIM000000000000000000001=exceedance:a21026:20261129100000:3:2.5`.
    #[arg(long = "scenario", value_name = "MN=SCENARIO")]
    pub scenarios: Vec<String>,
    /// Run simulated time this many times faster than real time.
    #[arg(long)]
    pub accelerate: Option<f64>,
    /// First send the last N days as fast as the server acknowledges.
    #[arg(long, value_name = "N")]
    pub backfill_days: Option<u32>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<u64>,
    /// Do not connect: write the devices' uploads between --from and --to into FILE (a capture
    /// for `fenhe replay`).
    #[arg(long, value_name = "FILE", requires_all = ["from", "to"])]
    pub write_capture: Option<PathBuf>,
    /// Start of --write-capture (China time unless an offset is given).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End of --write-capture (exclusive).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
}

/// Where the data lives.
#[derive(Debug, Args, Clone)]
pub struct DbArg {
    /// SQLite path or `sqlite://PATH`, or a PostgreSQL URL `postgres://USER@HOST[:PORT]/DB[?schema=NAME]`.
    #[arg(long, env = "FENHE_DB", default_value = "./fenhe.db")]
    pub db: String,
}

#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Validate and import TOML, JSON or CSV files; any error imports nothing.
    Import {
        /// Files: a whole registry (.toml, .json) or lists (.csv: enterprises, outlets or devices,
        /// told apart by their header).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Only validate; change nothing.
        #[arg(long)]
        check: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Print the registry (TOML or JSON), or write the three CSV lists into a directory.
    Export {
        #[arg(long, value_enum, default_value_t = RegistryFormat::Toml)]
        format: RegistryFormat,
        /// Directory for --format csv.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Write the device passwords (otherwise they are left empty, and a re-import of the
        /// file is refused until they are filled in). Files written are readable by their owner only.
        #[arg(long)]
        include_secrets: bool,
        #[command(flatten)]
        db: DbArg,
    },
    /// Import attempts, refused ones with every problem, newest first.
    Imports {
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RegistryFormat {
    Toml,
    Json,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Print stored measurements of one device, JSON (one object per line) or CSV.
    Export {
        #[arg(long)]
        mn: String,
        /// Only this command (2011, 2051, 2061, 2031).
        #[arg(long)]
        cn: Option<String>,
        /// Only this factor (2017 code).
        #[arg(long)]
        factor: Option<String>,
        /// From this DataTime (inclusive; China time unless an offset is given).
        #[arg(long)]
        from: Option<String>,
        /// Until this DataTime (exclusive).
        #[arg(long)]
        to: Option<String>,
        #[arg(long, value_enum, default_value_t = OutFormat::Json)]
        format: OutFormat,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Registered devices with their outlet, traffic and latest data.
    List {
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        #[command(flatten)]
        db: DbArg,
    },
    /// Frames from unregistered devices or with wrong passwords, per MN, with counts and the last
    /// frame; most recently seen first, a page at a time.
    Inbox {
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        /// Entries shown (a page).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Entries skipped before the page (the next page: the previous offset plus the limit).
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[command(flatten)]
        db: DbArg,
    },
    /// Queue a command for a device; the gateway sends it over the device's connection.
    Send {
        mn: String,
        /// Command code, e.g. 1011 (get time), 2051 (minute history), 3011 (calibrate).
        cn: String,
        /// CP items as KEY=VALUE, e.g. BeginTime=20261129080000 EndTime=20261129090000.
        items: Vec<String>,
        #[command(flatten)]
        db: DbArg,
    },
    /// Queued and finished commands with their outcomes.
    Commands {
        #[arg(long)]
        mn: Option<String>,
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
        /// Show secrets in the parameters (a 1072's new password) instead of masking them.
        #[arg(long)]
        include_secrets: bool,
        #[command(flatten)]
        db: DbArg,
    },
}

#[derive(Debug, Subcommand)]
pub enum PacketCommand {
    /// Frame a byte stream and print one JSON object per frame (exit 1 if any frame is rejected).
    Check(CheckArgs),
    /// Explain each packet of a byte stream as a table for people.
    Explain(ExplainArgs),
    /// Build framed packets from JSON objects of the shape `check` prints.
    Build(BuildArgs),
}

/// How packets are framed and parsed.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Input: a file of packets (one per line, a raw capture, or a stream without CR LF); `-` or
    /// nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Which CRC computations are accepted.
    #[arg(long, value_enum, default_value_t = CrcArg::Standard)]
    pub crc: CrcArg,
    /// Protocol version: from Flag (`auto`), or forced.
    #[arg(long, value_enum, default_value_t = VersionArg::Auto)]
    pub version: VersionArg,
    /// Longest data segment accepted; above 1024 is reported as a deviation.
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u16).range(1..=9999))]
    pub max_len: u16,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub decode: DecodeArgs,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Language of names, units and labels.
    #[arg(long, value_enum, default_value_t = LangArg::Zh)]
    pub lang: LangArg,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// JSON input: one object, or one object per line; `-` or nothing reads standard input.
    #[arg(value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Split into sub-packets (PNUM/PNO) when a data segment is longer than N bytes.
    #[arg(long, value_name = "N", default_value_t = 1024,
          value_parser = clap::value_parser!(u16).range(1..=9999))]
    pub split: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CrcArg {
    Standard,
    Modbus,
    ModbusSwapped,
    Any,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VersionArg {
    Auto,
    #[value(name = "2005")]
    V2005,
    #[value(name = "2017")]
    V2017,
    #[value(name = "2025")]
    V2025,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LangArg {
    Zh,
    En,
}

impl From<CrcArg> for hj212::CrcMode {
    fn from(c: CrcArg) -> Self {
        match c {
            CrcArg::Standard => hj212::CrcMode::Standard,
            CrcArg::Modbus => hj212::CrcMode::Modbus,
            CrcArg::ModbusSwapped => hj212::CrcMode::ModbusSwapped,
            CrcArg::Any => hj212::CrcMode::Any,
        }
    }
}

impl DecodeArgs {
    fn options(&self) -> DecodeOptions {
        let crc_mode = self.crc.into();
        let version = match self.version {
            VersionArg::Auto => hj212::VersionMode::Auto,
            VersionArg::V2005 => hj212::VersionMode::Force(hj212::Version::V2005),
            VersionArg::V2017 => hj212::VersionMode::Force(hj212::Version::V2017),
            VersionArg::V2025 => hj212::VersionMode::Force(hj212::Version::V2025),
        };
        DecodeOptions {
            frame: hj212::FrameConfig { max_segment_len: usize::from(self.max_len), crc_mode },
            parse: hj212::ParseOptions { version, ..Default::default() },
        }
    }
}

impl From<LangArg> for hj212::codes::Lang {
    fn from(l: LangArg) -> Self {
        match l {
            LangArg::Zh => hj212::codes::Lang::Zh,
            LangArg::En => hj212::codes::Lang::En,
        }
    }
}

/// Run a parsed command line; the exit code reflects the outcome (0 ok, 1 rejected input).
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Packet(cmd) => run_packet(cmd),
        Command::Registry(cmd) => block_on(run_registry(cmd)),
        Command::Data(cmd) => block_on(run_data(cmd)),
        Command::Device(cmd) => block_on(run_device(cmd)),
        Command::Serve(a) => {
            crate::logging::init("info");
            block_on(run_serve(a))
        }
        Command::Demo(a) => {
            crate::logging::init("warn");
            block_on(async move {
                crate::demo::run(crate::demo::DemoOptions {
                    db: a.db,
                    hj212_listen: a.hj212_listen,
                    http_listen: a.http_listen,
                    backfill_hours: a.hours.unwrap_or(a.days.saturating_mul(24)),
                    backfill_only: a.backfill_only,
                })
                .await?;
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Simulate(a) => {
            crate::logging::init("warn");
            let write_capture = match (&a.write_capture, &a.from, &a.to) {
                (Some(p), Some(f), Some(t)) => {
                    Some((p.clone(), fenhe_core::china_time::parse(f)?, fenhe_core::china_time::parse(t)?))
                }
                _ => None,
            };
            block_on(async move {
                crate::simulate::run(crate::simulate::SimulateOptions {
                    server: a.server,
                    db: a.db,
                    devices: a.devices,
                    seed: a.seed,
                    scenarios: a.scenarios,
                    accelerate: a.accelerate,
                    backfill_days: a.backfill_days,
                    duration: a.duration.map(std::time::Duration::from_secs),
                    write_capture,
                })
                .await?;
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Bench(cmd) => crate::bench::run(cmd),
        Command::Replay(a) => run_replay(a),
        Command::Compliance(ComplianceCommand::Run { params, db }) => block_on(async move {
            let params = parse_params(&params)?;
            let store = open_store(&db).await?;
            crate::cmd::compliance::run(store.as_ref(), &params, &mut io::stdout().lock()).await?;
            Ok(ExitCode::SUCCESS)
        }),
        Command::Compliance(ComplianceCommand::Rates { by, period, from, to, format, db }) => {
            let from = from.as_deref().map(fenhe_core::china_time::parse).transpose()?;
            let to = to.as_deref().map(fenhe_core::china_time::parse).transpose()?;
            block_on(async move {
                let store = open_store(&db).await?;
                let scope = fenhe_core::compliance::Scope::parse(&by)
                    .unwrap_or(fenhe_core::compliance::Scope::Enterprise);
                let period = if period == "month" {
                    fenhe_core::compliance::Period::Month
                } else {
                    fenhe_core::compliance::Period::Day
                };
                let json = format == ListFormat::Json;
                crate::cmd::compliance::rates(
                    store.as_ref(),
                    scope,
                    period,
                    from,
                    to,
                    json,
                    &mut io::stdout().lock(),
                )
                .await?;
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::Alarms(AlarmsCommand::List { mn, status, kind, severity, limit, format, db }) => {
            block_on(async move {
                let q = fenhe_store::AlarmQuery {
                    mn,
                    status: status.as_deref().and_then(fenhe_store::AlarmStatus::parse),
                    kind,
                    min_severity: severity.as_deref().map(crate::cmd::alarms::severity).transpose()?,
                    limit: Some(limit),
                    ..Default::default()
                };
                let store = open_store(&db).await?;
                let json = format == ListFormat::Json;
                crate::cmd::alarms::list(store.as_ref(), &q, json, &mut io::stdout().lock()).await?;
                Ok(ExitCode::SUCCESS)
            })
        }
        Command::User(cmd) => block_on(run_user(cmd)),
        Command::Token(cmd) => block_on(run_token(cmd)),
        Command::Revisions(cmd) => block_on(run_revisions(cmd)),
        Command::Calendar(CalendarCommand::Due { from, working_days, calendar, format }) => {
            use crate::cmd::calendar::{self, DueFormat};
            let cal = calendar::load(calendar.as_deref())?;
            let format = match format {
                DueFormatArg::Text => DueFormat::Text,
                DueFormatArg::Iso => DueFormat::Iso,
            };
            calendar::due(
                &cal,
                &from,
                working_days,
                format,
                &mut io::stdout().lock(),
                &mut io::stderr().lock(),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate(db) => block_on(async move {
            open_store(&db).await?;
            eprintln!("migrations applied to {}", fenhe_store::shown(&db.db));
            Ok(ExitCode::SUCCESS)
        }),
    }
}

fn run_replay(a: ReplayArgs) -> Result<ExitCode> {
    use fenhe_app::replay;
    use fenhe_core::compliance::Overrides;
    let params = parse_params(&a.params)?;
    let mut overrides = Overrides { reference_o2: a.ref_o2, ..Default::default() };
    for l in &a.limits {
        overrides.limits.push(Overrides::parse_limit(l)?);
    }
    for i in &a.intervals {
        let (mn, minutes) = Overrides::parse_interval(i)?;
        overrides.intervals.insert(mn, minutes);
    }
    let as_of = a.as_of.as_deref().map(fenhe_core::china_time::parse).transpose()?;
    if let Some(o2) = a.ref_o2
        && !(0.0..21.0).contains(&o2)
    {
        anyhow::bail!("--ref-o2 {o2}: must be at least 0 and below 21 (%)");
    }
    let registry = match &a.registry {
        None => None,
        Some(path) => match fenhe_app::registry_files::load_files(&[path.as_path()]) {
            Ok(r) => Some(r),
            Err(problems) => {
                eprint!("{problems}");
                return Ok(ExitCode::from(1));
            }
        },
    };
    let capture = fenhe_ingest::capture_judge::CaptureOptions {
        default_policy: fenhe_ingest::DevicePolicy { crc: a.crc.into(), ..Default::default() },
        trust_all: registry.is_none(),
        ..Default::default()
    };
    let req = replay::ReplayRequest { registry, inputs: a.inputs, params, overrides, capture, as_of };
    let report = replay::replay(&req)?;
    for note in &report.notes {
        eprintln!("note: {note}");
    }
    match a.format {
        ReportFormat::Json => report.write_json(&a.out)?,
        ReportFormat::Csv => report.write_csv(&a.out)?,
    }
    let records: u64 = report.input.files.iter().map(|f| f.records).sum();
    eprintln!(
        "replayed {} file(s): {} records of {} device(s); {} hours, {} days, {} episodes, {} findings; frames not counted: {}; report: {}",
        report.input.files.len(),
        records,
        report.devices.len(),
        report.hours.len(),
        report.days.len(),
        report.episodes.len(),
        report.quality.len(),
        report.input.not_counted.len(),
        a.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

async fn run_serve(a: ServeArgs) -> Result<ExitCode> {
    // One descriptor per connection: take the hard limit.
    let nofile = match crate::os::nofile::raise_nofile_limit() {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
            None
        }
    };
    let http_limits = a.http.limits(nofile, a.max_connections);
    let mut gateway = fenhe_ingest::GatewayConfig {
        max_connections: a.max_connections,
        frame_rate: a.frame_rate,
        idle_timeout: std::time::Duration::from_secs(a.idle_timeout_s),
        clock_skew_max: std::time::Duration::from_secs(a.clock_skew_max_s),
        gap_detection: !a.no_gap_requests,
        time_check_on_connect: !a.no_time_check,
        ..Default::default()
    };
    a.gateway_limits.apply(&mut gateway);
    let running = crate::server::start(crate::server::ServerOptions {
        db: a.db.db.clone(),
        hj212_listen: a.listen.hj212_listen,
        http_listen: a.listen.http_listen,
        gateway,
        writer: fenhe_store::writer::WriterConfig {
            max_batch: a.max_batch.max(1),
            max_wait: std::time::Duration::from_millis(a.batch_wait_ms),
            floor: (a.min_free_mb > 0)
                .then(|| {
                    fenhe_store::write_health::SpaceFloor::for_database(
                        &a.db.db,
                        a.min_free_mb.saturating_mul(1024 * 1024),
                    )
                })
                .flatten(),
            ..Default::default()
        },
        web: fenhe_web::WebConfig {
            secure_cookies: a.secure_cookies,
            listener: http_limits,
            ..Default::default()
        },
        ingest_rules: fenhe_store::IngestRules {
            revision_window_ms: a.revision_window_min.saturating_mul(60_000),
        },
        engine: a.engine.options()?,
        workflows: fenhe_app::workflows::WorkflowSettings {
            explain_working_days: a.explain_working_days,
            ..Default::default()
        },
    })
    .await?;
    // The machine-readable line first (stdout, flushed: a parent may be waiting for it). A closed
    // stdout is no reason to stop serving.
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, "{}", running.listening_line()).and_then(|()| out.flush()) {
            tracing::warn!(error = %e, "cannot print the listening line");
        }
    }
    eprintln!(
        "fenhe serving: HJ 212 on {}, HTTP on http://{}/ (database {}); Ctrl-C stops",
        running.hj212_addr,
        running.http_addr,
        fenhe_store::shown(&a.db.db)
    );
    crate::server::wait_for_signal().await;
    eprintln!("stopping: finishing commits and acknowledgements …");
    running.shutdown().await?;
    Ok(ExitCode::SUCCESS)
}

/// Run async work on a fresh runtime (store commands; the CLI itself is synchronous).
fn block_on<F: std::future::Future<Output = Result<ExitCode>>>(f: F) -> Result<ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(f)
}

pub(crate) async fn open_store(db: &DbArg) -> Result<std::sync::Arc<dyn fenhe_store::Store>> {
    fenhe_store::open(&db.db)
        .await
        .with_context(|| format!("cannot open the database {}", fenhe_store::shown(&db.db)))
}

async fn run_registry(cmd: RegistryCommand) -> Result<ExitCode> {
    match cmd {
        RegistryCommand::Import { files, check, db } => {
            let paths: Vec<&std::path::Path> = files.iter().map(|p| p.as_path()).collect();
            let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
            let registry = match fenhe_app::registry_import::validate(&paths) {
                Ok(r) => r,
                Err(problems) => {
                    eprintln!("{problems}");
                    if !check {
                        let store = open_store(&db).await?;
                        let now = fenhe_core::china_time::now_ms();
                        fenhe_app::registry_import::record_refusal(store.as_ref(), names, &problems, now)
                            .await?;
                    }
                    return Ok(ExitCode::from(1));
                }
            };
            if check {
                eprintln!(
                    "valid: {} enterprises, {} outlets, {} devices (nothing imported: --check)",
                    registry.enterprises.len(),
                    registry.outlets.len(),
                    registry.devices.len()
                );
                return Ok(ExitCode::SUCCESS);
            }
            let store = open_store(&db).await?;
            let now = fenhe_core::china_time::now_ms();
            let summary = fenhe_app::registry_import::import(store.as_ref(), &registry, names, now).await?;
            eprintln!("{summary} into {}", fenhe_store::shown(&db.db));
            Ok(ExitCode::SUCCESS)
        }
        RegistryCommand::Imports { format, db } => {
            let store = open_store(&db).await?;
            let mut out = io::BufWriter::new(io::stdout().lock());
            for i in store.imports(100).await? {
                let r = &i.record;
                if format == ListFormat::Json {
                    let line = serde_json::json!({
                        "id": i.id, "at": fenhe_core::china_time::iso(r.at), "files": r.files, "ok": r.ok,
                        "summary": r.summary, "problems": r.problems,
                    });
                    writeln!(out, "{line}")?;
                } else {
                    let verdict = if r.ok { "ok" } else { "refused" };
                    writeln!(
                        out,
                        "#{} {} {verdict} [{}] {}",
                        i.id,
                        fenhe_core::china_time::iso(r.at),
                        r.files.join(" "),
                        r.summary
                    )?;
                    for p in &r.problems {
                        writeln!(out, "    {p}")?;
                    }
                }
            }
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        RegistryCommand::Export { format, out, include_secrets, db } => {
            let store = open_store(&db).await?;
            let mut r = store.registry().await?;
            if !include_secrets {
                for d in &mut r.devices {
                    d.password.clear();
                }
            }
            let mut stdout = io::stdout().lock();
            match format {
                RegistryFormat::Toml => {
                    stdout.write_all(fenhe_app::registry_files::to_toml(&r)?.as_bytes())?
                }
                RegistryFormat::Json => writeln!(stdout, "{}", fenhe_app::registry_files::to_json(&r)?)?,
                RegistryFormat::Csv => {
                    let dir =
                        out.context("--format csv writes three files: give the directory with --out DIR")?;
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                    for (name, text) in fenhe_app::registry_files::to_csv(&r)? {
                        let p = dir.join(name);
                        fenhe_app::private_file::write(&p, text.as_bytes())
                            .with_context(|| format!("cannot write {}", p.display()))?;
                        eprintln!("wrote {}", p.display());
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn run_data(cmd: DataCommand) -> Result<ExitCode> {
    match cmd {
        DataCommand::Export { mn, cn, factor, from, to, format, db } => {
            let args = crate::cmd::data::ExportArgs {
                filter: fenhe_app::measurement_queries::MeasurementFilter {
                    mn,
                    cn,
                    factor,
                    from: from.as_deref().map(fenhe_core::china_time::parse).transpose()?,
                    to: to.as_deref().map(fenhe_core::china_time::parse).transpose()?,
                },
                format: match format {
                    OutFormat::Json => crate::cmd::data::Format::Json,
                    OutFormat::Csv => crate::cmd::data::Format::Csv,
                },
            };
            let store = open_store(&db).await?;
            let mut out = io::BufWriter::new(io::stdout().lock());
            crate::cmd::data::export(store.as_ref(), &args, &mut out).await?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn run_device(cmd: DeviceCommand) -> Result<ExitCode> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    match cmd {
        DeviceCommand::List { format, db } => {
            let store = open_store(&db).await?;
            crate::cmd::device::list(store.as_ref(), format == ListFormat::Json, &mut out).await?;
        }
        DeviceCommand::Inbox { format, limit, offset, db } => {
            let store = open_store(&db).await?;
            let page = crate::cmd::device::InboxPage { limit, offset };
            crate::cmd::device::inbox(store.as_ref(), page, format == ListFormat::Json, &mut out).await?;
        }
        DeviceCommand::Send { mn, cn, items, db } => {
            let store = open_store(&db).await?;
            crate::cmd::device::send(store.as_ref(), &mn, &cn, &items, &mut out).await?;
        }
        DeviceCommand::Commands { mn, format, include_secrets, db } => {
            let store = open_store(&db).await?;
            let json = format == ListFormat::Json;
            crate::cmd::device::commands(store.as_ref(), mn.as_deref(), json, include_secrets, &mut out)
                .await?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

async fn run_user(cmd: UserCommand) -> Result<ExitCode> {
    use crate::cmd::accounts;
    let mut out = io::BufWriter::new(io::stdout().lock());
    match cmd {
        UserCommand::Add { username, role, department, enterprise, display_name, password_stdin: _, db } => {
            let password = accounts::read_password(&mut io::stdin().lock())?;
            let store = open_store(&db).await?;
            let add = accounts::AddUser {
                username: &username,
                role: &role,
                department: department.as_deref(),
                enterprise: enterprise.as_deref(),
                display_name: display_name.as_deref(),
                password,
            };
            accounts::add(store.as_ref(), add, &mut out).await?;
        }
        UserCommand::List { format, db } => {
            let store = open_store(&db).await?;
            accounts::list(store.as_ref(), format == ListFormat::Json, &mut out).await?;
        }
        UserCommand::Passwd { username, password_stdin: _, db } => {
            let password = accounts::read_password(&mut io::stdin().lock())?;
            let store = open_store(&db).await?;
            accounts::passwd(store.as_ref(), &username, &password, &mut out).await?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

async fn run_revisions(cmd: RevisionsCommand) -> Result<ExitCode> {
    use crate::cmd::revisions;
    use fenhe_store::RevisionDecision;
    let mut out = io::BufWriter::new(io::stdout().lock());
    match cmd {
        RevisionsCommand::List { all, mn, format, db } => {
            let store = open_store(&db).await?;
            revisions::list(store.as_ref(), all, mn.as_deref(), format == ListFormat::Json, &mut out).await?;
        }
        RevisionsCommand::Approve { id, reason, db } => {
            let store = open_store(&db).await?;
            revisions::decide(store.as_ref(), id, RevisionDecision::Approve, reason.as_deref(), &mut out)
                .await?;
        }
        RevisionsCommand::Reject { id, reason, db } => {
            let store = open_store(&db).await?;
            revisions::decide(store.as_ref(), id, RevisionDecision::Reject, reason.as_deref(), &mut out)
                .await?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

async fn run_token(cmd: TokenCommand) -> Result<ExitCode> {
    use crate::cmd::accounts;
    let mut out = io::BufWriter::new(io::stdout().lock());
    match cmd {
        TokenCommand::Create { username, label, db } => {
            let store = open_store(&db).await?;
            accounts::token_create(store.as_ref(), &username, &label, &mut out, &mut io::stderr()).await?;
        }
        TokenCommand::Revoke { id, db } => {
            let store = open_store(&db).await?;
            accounts::token_revoke(store.as_ref(), id, &mut out).await?;
        }
        TokenCommand::List { username, format, db } => {
            let store = open_store(&db).await?;
            accounts::token_list(store.as_ref(), username.as_deref(), format == ListFormat::Json, &mut out)
                .await?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn run_packet(cmd: PacketCommand) -> Result<ExitCode> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let code = match cmd {
        PacketCommand::Check(a) => {
            let input = Input::from_arg(a.decode.input.clone());
            let summary = packet::check::run(&input, &a.decode.options(), &mut out)?;
            summary.exit_code()
        }
        PacketCommand::Explain(a) => {
            let input = Input::from_arg(a.decode.input.clone());
            let summary = packet::explain::run(&input, &a.decode.options(), a.lang.into(), &mut out)?;
            summary.exit_code()
        }
        PacketCommand::Build(a) => {
            let input = Input::from_arg(a.input);
            packet::build::run(&input, usize::from(a.split), &mut out)?;
            ExitCode::SUCCESS
        }
    };
    out.flush().context("cannot write to standard output")?;
    Ok(code)
}
