//! `fenhe bench ingest`: N simulated data loggers against a separate `fenhe serve` process on
//! SQLite.
//!
//! 1. A fresh database gets a registry of N devices (`BENCH` + 19 digits); the server is started
//!    as a child process (`<server-bin> serve …`) and its resident memory is read.
//! 2. Connect: every device connects and sends one minute packet; once all are acknowledged (and
//!    the server's clock check on connect is answered) the server's memory is read again: the
//!    difference over N is the memory of an idle connection.
//! 3. Maximum: every connection keeps `--window` packets unacknowledged for `--duration` s.
//! 4. Paced: the fleet sends at `--rate` packets/s in total (default half of what phase 3
//!    sustained), each connection on its own evenly spread schedule, for `--duration` s.
//! 5. The server gets SIGTERM and must exit 0; then the database is counted: every acknowledged
//!    packet must be stored with all of its factors.
//!
//! Every packet is a distinct HJ 212-2017 minute record (2051, Flag=5) built with
//! [`hj212::builder`]: the DataTime advances one minute per packet of a device, so every
//! acknowledgement is a real insert.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use fenhe_core::{CrcPolicy, Device, OutletKind, Protocol, Registry};
use hj212::{DateTime, Event, FrameConfig, Framer, ParseOptions, Peer, Version};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;

use super::IngestArgs;
use super::server_process::{cpu_s, percentile_ms, rss_kib, start_server};

/// QN of a device's packet `seq`: this instant plus `seq` milliseconds (unique per device).
const QN_BASE_MS: i64 = 1_767_196_800_000; // 2026-01-01T00:00:00+08:00
/// DataTime of a device's packet `seq`: this minute plus `seq` minutes.
const DATA_BASE_MS: i64 = 1_577_808_000_000; // 2020-01-01T00:00:00+08:00
const PASSWORD: &str = "bench1";
/// Connections being opened at once.
const CONNECT_CONCURRENCY: usize = 256;

const PH_CONNECT: usize = 0;
const PH_MAX: usize = 1;
const PH_PACED: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Connected, first packet sent; nothing more.
    Hold,
    /// Keep the window full.
    Max,
    /// One packet per `interval` per connection.
    Paced { interval: Duration },
    /// Send nothing new; acknowledgements still count.
    Drain,
    /// Close once nothing is unacknowledged.
    Stop,
}

impl Phase {
    fn index(self) -> usize {
        match self {
            Phase::Max => PH_MAX,
            Phase::Paced { .. } => PH_PACED,
            _ => PH_CONNECT,
        }
    }
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    acked: AtomicU64,
    /// Devices whose first packet was acknowledged.
    ready: AtomicUsize,
    /// Devices that could not connect or lost their connection.
    failed: AtomicUsize,
    /// When each packet was sent and its acknowledgement latency in microseconds, by the phase
    /// the packet was sent in.
    latencies: [Mutex<Vec<(Instant, u32)>>; 3],
    first_error: Mutex<Option<String>>,
}

impl Counters {
    fn flush(&self, local: &mut [Vec<(Instant, u32)>; 3]) {
        for (i, v) in local.iter_mut().enumerate() {
            if !v.is_empty() {
                self.latencies[i].lock().unwrap_or_else(|e| e.into_inner()).append(v);
            }
        }
    }
}

/// One device's minute packet with the places of QN and DataTime, patched per packet.
struct Template {
    segment: Vec<u8>,
    qn_at: usize,
    dt_at: usize,
}

impl Template {
    fn new(mn: &str, codes: &[&str]) -> Result<Template> {
        let peer = Peer { mn, pw: PASSWORD, st: "31", version: Version::V2017 };
        let qn = DateTime::from_unix_millis_cst(QN_BASE_MS).context("QN base")?;
        let dt = DateTime::from_unix_millis_cst(DATA_BASE_MS).context("DataTime base")?;
        let mut b = hj212::builder::device::upload(&peer, &qn, "2051", &dt, true);
        for (i, code) in codes.iter().enumerate() {
            let v = 10 + i;
            b = b.factor(
                code,
                [
                    ("Avg", format!("{v}.5")),
                    ("Min", format!("{v}.1")),
                    ("Max", format!("{v}.9")),
                    ("ZsAvg", format!("{v}.7")),
                    ("Flag", "N".to_string()),
                ],
            );
        }
        let segment = b.segment().into_bytes();
        if segment.len() > 4096 {
            anyhow::bail!(
                "{} bytes a packet: fewer --factors, please (the server allows 4096)",
                segment.len()
            );
        }
        let find = |pat: &[u8]| segment.windows(pat.len()).position(|w| w == pat).map(|i| i + pat.len());
        let qn_at = find(b"QN=").context("no QN in the template")?;
        let dt_at = find(b"DataTime=").context("no DataTime in the template")?;
        Ok(Template { segment, qn_at, dt_at })
    }

    /// Frame packet `seq` into `out`; its QN into `qn`.
    fn packet(&self, seq: u64, scratch: &mut Vec<u8>, out: &mut Vec<u8>, qn: &mut [u8; 17]) {
        let q = DateTime::from_unix_millis_cst(QN_BASE_MS + seq as i64).map(|d| d.qn()).unwrap_or_default();
        let t = DateTime::from_unix_millis_cst(DATA_BASE_MS + seq as i64 * 60_000)
            .map(|d| d.compact())
            .unwrap_or_default();
        scratch.clear();
        scratch.extend_from_slice(&self.segment);
        scratch[self.qn_at..self.qn_at + 17].copy_from_slice(&q.as_bytes()[..17]);
        scratch[self.dt_at..self.dt_at + 14].copy_from_slice(&t.as_bytes()[..14]);
        qn.copy_from_slice(&q.as_bytes()[..17]);
        out.clear();
        // The template was checked to fit a frame; the timestamps keep its length.
        let _ = hj212::builder::frame_into(scratch, out);
    }
}

pub fn mn(i: usize) -> String {
    format!("BENCH{i:019}")
}

/// Factor codes for `k` factors: air factors of the code table.
fn factor_codes(k: usize) -> Result<Vec<&'static str>> {
    let codes: Vec<&'static str> = hj212::codes::factors()
        .iter()
        .map(|f| f.code)
        .filter(|c| c.starts_with('a') && c.bytes().all(|b| b.is_ascii_alphanumeric()) && !c.contains('x'))
        .take(k)
        .collect();
    if codes.len() < k {
        bail!("--factors {k}: the code table has only {} air factors", codes.len());
    }
    Ok(codes)
}

/// One enterprise and flue-gas outlet of the demo city, and `n` devices on it.
fn registry(n: usize, codes: &[&str]) -> Result<Registry> {
    let city = fenhe_core::demo::city();
    let outlet = city
        .outlets
        .iter()
        .find(|o| o.kind == OutletKind::FlueGas)
        .context("the demo city has no flue-gas outlet")?
        .clone();
    let enterprise = city
        .enterprises
        .iter()
        .find(|e| e.id == outlet.enterprise)
        .context("the outlet's enterprise is missing")?
        .clone();
    let devices = (0..n)
        .map(|i| Device {
            mn: mn(i),
            password: PASSWORD.into(),
            outlet: outlet.id.clone(),
            protocol: Protocol::V2017,
            crc: CrcPolicy::Standard,
            max_segment_len: 4096,
            rtd_interval_s: 30,
            minute_interval_min: 1,
            hourly: false,
            factors: codes.iter().map(|c| c.to_string()).collect(),
        })
        .collect();
    Ok(Registry { enterprises: vec![enterprise], outlets: vec![outlet], devices })
}

struct DeviceCtx {
    addr: SocketAddr,
    n: usize,
    window: usize,
    codes: Vec<&'static str>,
    counters: Counters,
    connect: Semaphore,
}

enum Wake {
    Read(std::io::Result<usize>),
    Phase(bool),
    Tick,
}

async fn device(idx: usize, ctx: Arc<DeviceCtx>, mut phase_rx: watch::Receiver<Phase>) {
    let c = &ctx.counters;
    let mut local: [Vec<(Instant, u32)>; 3] = Default::default();
    let r = device_loop(idx, &ctx, &mut phase_rx, &mut local).await;
    c.flush(&mut local);
    if let Err(e) = r {
        c.failed.fetch_add(1, Ordering::Relaxed);
        let mut first = c.first_error.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            *first = Some(format!("{}: {e:#}", mn(idx)));
        }
    }
}

async fn connect(ctx: &DeviceCtx) -> Result<TcpStream> {
    let _permit = ctx.connect.acquire().await?;
    let mut tries = 0;
    loop {
        match TcpStream::connect(ctx.addr).await {
            Ok(s) => {
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) if tries < 10 => {
                tries += 1;
                tracing::debug!(error = %e, "connect failed; retrying");
                tokio::time::sleep(Duration::from_millis(50 * tries)).await;
            }
            Err(e) => return Err(e).context("cannot connect"),
        }
    }
}

async fn device_loop(
    idx: usize,
    ctx: &DeviceCtx,
    phase_rx: &mut watch::Receiver<Phase>,
    local: &mut [Vec<(Instant, u32)>; 3],
) -> Result<()> {
    let c = &ctx.counters;
    let mn = mn(idx);
    let tpl = Template::new(&mn, &ctx.codes)?;
    let mut stream = connect(ctx).await?;
    let mut framer = Framer::new(FrameConfig::default());
    let (fcfg, popts) = (FrameConfig::default(), ParseOptions::default());
    let mut rbuf = vec![0u8; 4096];
    let mut scratch = Vec::with_capacity(tpl.segment.len());
    let mut out = Vec::with_capacity(tpl.segment.len() + 16);
    let mut replies = Vec::new();
    let mut inflight: VecDeque<([u8; 17], Instant, usize)> = VecDeque::with_capacity(ctx.window);
    let mut seq: u64 = 0;
    let mut ready = false;

    let mut phase = *phase_rx.borrow_and_update();
    let mut next_at = Instant::now();
    // The first packet, whatever the phase.
    let mut send_now = true;
    let mut send_phase = PH_CONNECT;
    loop {
        let now = Instant::now();
        if !send_now && ready {
            send_now = match phase {
                Phase::Max => inflight.len() < ctx.window,
                Phase::Paced { interval } if inflight.len() < ctx.window && now >= next_at => {
                    // Late (window was full): do not burst to catch up.
                    next_at = (next_at + interval).max(now - interval);
                    true
                }
                _ => false,
            };
            send_phase = phase.index();
        }
        if send_now {
            send_now = false;
            let mut qn = [0u8; 17];
            tpl.packet(seq, &mut scratch, &mut out, &mut qn);
            seq += 1;
            inflight.push_back((qn, Instant::now(), send_phase));
            c.sent.fetch_add(1, Ordering::Relaxed);
            stream.write_all(&out).await.context("write")?;
            continue;
        }
        if phase == Phase::Stop && inflight.is_empty() {
            return Ok(());
        }
        let paced_wait = matches!(phase, Phase::Paced { .. }) && ready && inflight.len() < ctx.window;
        let wake = tokio::select! {
            r = stream.read(&mut rbuf) => Wake::Read(r),
            ch = phase_rx.changed() => Wake::Phase(ch.is_ok()),
            _ = tokio::time::sleep_until(next_at), if paced_wait => Wake::Tick,
        };
        match wake {
            Wake::Tick => {}
            Wake::Phase(false) => return Ok(()),
            Wake::Phase(true) => {
                c.flush(local);
                phase = *phase_rx.borrow_and_update();
                if let Phase::Paced { interval } = phase {
                    // Spread the fleet evenly over one interval.
                    next_at = Instant::now() + interval.mul_f64(idx as f64 / ctx.n.max(1) as f64);
                }
            }
            Wake::Read(r) => {
                let n = r.context("read")?;
                if n == 0 {
                    bail!("the server closed the connection ({} unacknowledged)", inflight.len());
                }
                framer.push(&rbuf[..n]);
                let received = Instant::now();
                replies.clear();
                while let Some(ev) = framer.next() {
                    let Event::Frame(raw) = ev else { continue };
                    let Ok(p) = hj212::decode(&raw, &fcfg, &popts) else { continue };
                    match p.cn {
                        "9014" => {
                            let Some(qn) = p.qn else { continue };
                            let Some(pos) =
                                inflight.iter().position(|(q, _, _)| q.as_slice() == qn.as_bytes())
                            else {
                                continue;
                            };
                            let Some((_, sent_at, ph)) = inflight.remove(pos) else { continue };
                            let us = received.saturating_duration_since(sent_at).as_micros();
                            local[ph].push((sent_at, us.min(u128::from(u32::MAX)) as u32));
                            c.acked.fetch_add(1, Ordering::Relaxed);
                            if !ready {
                                ready = true;
                                c.ready.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        // The clock check on connect: answer as a data logger does.
                        "1011" => {
                            let now = DateTime::from_unix_millis_cst(fenhe_core::china_time::now_ms());
                            replies.extend(hj212::builder::device::request_reply(&p, 1).build());
                            if let Some(t) = now {
                                replies.extend(hj212::builder::device::time_upload(&p, &t).build());
                            }
                            replies.extend(hj212::builder::device::exe_result(&p, 1).build());
                        }
                        cn if cn.starts_with("90") => {}
                        // Nothing else is expected (no gap requests); refuse politely.
                        _ => replies.extend(hj212::builder::device::request_reply(&p, 2).build()),
                    }
                }
                if !replies.is_empty() {
                    stream.write_all(&replies).await.context("write reply")?;
                }
                if local.iter().any(|v| v.len() >= 4096) {
                    c.flush(local);
                }
            }
        }
    }
}

#[derive(Debug, Serialize)]
pub struct PhaseReport {
    pub seconds: u64,
    pub acked: u64,
    /// Acknowledged packets per second over the phase.
    pub packets_per_s: f64,
    /// Median of the per-second counts.
    pub packets_per_s_median: f64,
    pub factor_values_per_s: f64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub latency_max_ms: f64,
    /// p99 of the packets sent in each 5 s of the phase: whether the tail is spread out or a few
    /// stalls.
    pub latency_p99_ms_per_5s: Vec<f64>,
    /// CPU of the server process, percent of one core.
    pub server_cpu_pct: f64,
    /// CPU of this (load generating) process, percent of one core.
    pub bench_cpu_pct: f64,
    pub per_second: Vec<u64>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub devices: usize,
    pub connected: usize,
    pub failed: usize,
    pub first_error: Option<String>,
    pub factors: usize,
    pub window: usize,
    pub packet_bytes: usize,
    pub connect_s: f64,
    pub connect_latency_p50_ms: f64,
    pub connect_latency_p99_ms: f64,
    pub server_rss_before_kib: u64,
    pub server_rss_idle_kib: u64,
    pub memory_per_idle_connection_kib: f64,
    pub max: PhaseReport,
    pub paced_target_per_s: f64,
    pub paced: PhaseReport,
    pub server_peak_rss_kib: u64,
    pub sent: u64,
    pub acked: u64,
    pub stored_minute_frames: u64,
    pub stored_measurements: u64,
    pub expected_measurements: u64,
    pub durable: bool,
    pub server_exit_ok: bool,
    pub db: Option<String>,
}

pub fn run(a: IngestArgs) -> Result<ExitCode> {
    if a.devices == 0 || a.factors == 0 || a.window == 0 {
        bail!("--devices, --factors and --window must be at least 1");
    }
    let limit = crate::os::nofile::raise_nofile_limit().context("cannot raise the open-file limit")?;
    if (limit as usize) < a.devices + 64 {
        bail!("{} connections need more open files than the limit of {limit} (ulimit -Hn)", a.devices);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let report = rt.block_on(bench(&a))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report, &a);
    }
    Ok(if report.durable && report.server_exit_ok && report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Acknowledgements per second for `secs` seconds, with CPU use of server and bench (and when
/// sampling started).
async fn sample(c: &Counters, secs: u64, server_pid: u32, label: &str) -> (Vec<u64>, f64, f64, Instant) {
    let (spid, start_cpu_s, start_cpu_b) =
        (server_pid.to_string(), cpu_s(&server_pid.to_string()), cpu_s("self"));
    let start = Instant::now();
    let mut tick = tokio::time::interval_at(start + Duration::from_secs(1), Duration::from_secs(1));
    let mut last = c.acked.load(Ordering::Relaxed);
    let mut per_second = Vec::with_capacity(secs as usize);
    for s in 1..=secs {
        tick.tick().await;
        let now = c.acked.load(Ordering::Relaxed);
        per_second.push(now - last);
        last = now;
        if s % 5 == 0 || s == secs {
            eprintln!(
                "  {label} {s:>3}/{secs} s: {:>7} acks/s, {} failed",
                per_second.last().copied().unwrap_or(0),
                c.failed.load(Ordering::Relaxed)
            );
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let server_pct = (cpu_s(&spid) - start_cpu_s) / wall * 100.0;
    let bench_pct = (cpu_s("self") - start_cpu_b) / wall * 100.0;
    (per_second, server_pct, bench_pct, start)
}

/// Wait until every sent packet is acknowledged (or `limit` passes).
async fn drain(c: &Counters, limit: Duration) {
    let deadline = Instant::now() + limit;
    while c.acked.load(Ordering::Relaxed) < c.sent.load(Ordering::Relaxed) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn phase_report(
    c: &Counters,
    ph: usize,
    (per_second, start): (Vec<u64>, Instant),
    cpu: (f64, f64),
    k: usize,
) -> PhaseReport {
    let sent = std::mem::take(&mut *c.latencies[ph].lock().unwrap_or_else(|e| e.into_inner()));
    let mut windows: Vec<Vec<u32>> = vec![Vec::new(); per_second.len().div_ceil(5)];
    for &(at, us) in &sent {
        let w = (at.saturating_duration_since(start).as_secs() / 5) as usize;
        if let Some(w) = windows.get_mut(w) {
            w.push(us);
        }
    }
    let latency_p99_ms_per_5s = windows
        .iter_mut()
        .map(|w| {
            w.sort_unstable();
            percentile_ms(w, 0.99)
        })
        .collect();
    let mut lat: Vec<u32> = sent.into_iter().map(|(_, us)| us).collect();
    lat.sort_unstable();
    let seconds = per_second.len() as u64;
    let acked: u64 = per_second.iter().sum();
    let mut sorted = per_second.clone();
    sorted.sort_unstable();
    let median = match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2] as f64,
        n => (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0,
    };
    let rate = if seconds > 0 { acked as f64 / seconds as f64 } else { 0.0 };
    PhaseReport {
        seconds,
        acked,
        packets_per_s: rate,
        packets_per_s_median: median,
        factor_values_per_s: rate * k as f64,
        latency_p50_ms: percentile_ms(&lat, 0.50),
        latency_p99_ms: percentile_ms(&lat, 0.99),
        latency_max_ms: lat.last().map(|v| f64::from(*v) / 1000.0).unwrap_or(0.0),
        latency_p99_ms_per_5s,
        server_cpu_pct: cpu.0,
        bench_cpu_pct: cpu.1,
        per_second,
    }
}

/// Measurement values and accepted minute frames stored in `db`, counted by the store.
async fn count_rows(db: &Path) -> Result<(u64, u64)> {
    let db = db.to_str().with_context(|| format!("{} is not UTF-8", db.display()))?;
    let store = fenhe_store::open(db).await.with_context(|| format!("cannot open the database {db}"))?;
    let counts = store.stored_counts(Some("2051")).await?;
    Ok((counts.measurement_values, counts.accepted_frames))
}

async fn bench(a: &IngestArgs) -> Result<Report> {
    let n = a.devices;
    let k = a.factors;
    let codes = factor_codes(k)?;
    let packet_bytes = {
        let t = Template::new(&mn(0), &codes)?;
        let (mut s, mut o, mut q) = (Vec::new(), Vec::new(), [0u8; 17]);
        t.packet(0, &mut s, &mut o, &mut q);
        o.len()
    };
    let dir = std::env::temp_dir().join(format!(
        "fenhe-bench-{}-{}",
        std::process::id(),
        fenhe_core::china_time::now_ms()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let db = a.db.clone().unwrap_or_else(|| dir.join("bench.db"));
    if db.exists() {
        bail!("{} exists: the benchmark needs a new database", db.display());
    }
    let db_str = db.to_str().context("the database path is not UTF-8")?.to_string();
    let server_bin = match &a.server_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("cannot find this executable")?,
    };

    eprintln!(
        "fenhe bench ingest: {n} devices, {k} factors ({packet_bytes} bytes a packet), window {}",
        a.window
    );
    {
        let store = fenhe_store::open(&db_str).await.with_context(|| format!("cannot open {db_str}"))?;
        let s = store.import_registry(&registry(n, &codes)?).await?;
        eprintln!("  registry: {} devices imported into {}", s.devices, db.display());
    }
    let mut writer_args = Vec::new();
    if let Some(n) = a.max_batch {
        writer_args.extend(["--max-batch".to_string(), n.to_string()]);
    }
    if let Some(ms) = a.batch_wait_ms {
        writer_args.extend(["--batch-wait-ms".to_string(), ms.to_string()]);
    }
    let mut args = vec![
        "--max-connections".to_string(),
        (n + 100).to_string(),
        // Ingest alone: the compliance engine's cost is measured by `fenhe bench compliance`.
        "--frame-rate".into(),
        "100000".into(),
        // Every simulated logger connects from 127.0.0.1 at once: none may be taken for a
        // stranger to evict before its first frame.
        "--max-strangers".into(),
        (n + 100).to_string(),
        "--max-strangers-per-address".into(),
        (n + 100).to_string(),
        "--no-gap-requests".into(),
        "--no-engine".into(),
    ];
    if !a.time_check {
        args.push("--no-time-check".into());
    }
    args.extend(writer_args);
    let (server, addr, _http) = start_server(&server_bin, &db, &dir, &args).await?;
    let pid = server.pid();
    eprintln!("  server: pid {pid}, HJ 212 on {addr}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_before, _) = rss_kib(pid)?;

    // Connect.
    let ctx = Arc::new(DeviceCtx {
        addr,
        n,
        window: a.window,
        codes,
        counters: Counters::default(),
        connect: Semaphore::new(CONNECT_CONCURRENCY),
    });
    let c = &ctx.counters;
    let (phase_tx, phase_rx) = watch::channel(Phase::Hold);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        tasks.spawn(device(i, ctx.clone(), phase_rx.clone()));
    }
    drop(phase_rx);
    let connect_deadline = started + Duration::from_secs(120 + n as u64 / 100);
    while c.ready.load(Ordering::Relaxed) + c.failed.load(Ordering::Relaxed) < n {
        if Instant::now() > connect_deadline {
            eprintln!("  connect: timed out");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connect_s = started.elapsed().as_secs_f64();
    let connected = c.ready.load(Ordering::Relaxed);
    eprintln!("  connect: {connected} devices acknowledged in {connect_s:.1} s");
    // Let the clock checks on connect finish, then read the server's memory.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rss_idle, _) = rss_kib(pid)?;
    let per_conn = (rss_idle as f64 - rss_before as f64) / connected.max(1) as f64;
    eprintln!(
        "  memory: {rss_before} KiB before, {rss_idle} KiB with {connected} idle connections: {per_conn:.1} KiB each"
    );
    // Maximum rate.
    phase_tx.send_replace(Phase::Max);
    let (per_second, sc, bc, max_start) = sample(c, a.duration, pid, "max").await;
    // The devices flushed their connect latencies when the phase changed.
    let mut connect_lat: Vec<u32> =
        std::mem::take(&mut *c.latencies[PH_CONNECT].lock().unwrap_or_else(|e| e.into_inner()))
            .into_iter()
            .map(|(_, us)| us)
            .collect();
    connect_lat.sort_unstable();
    phase_tx.send_replace(Phase::Drain);
    drain(c, Duration::from_secs(30)).await;
    // Latencies are flushed by the devices when they finish; collect the phase reports at the end.
    let max_seconds = per_second;
    let max_cpu = (sc, bc);
    let max_rate = max_seconds.iter().sum::<u64>() as f64 / a.duration.max(1) as f64;

    // Paced.
    let target = if a.rate > 0.0 { a.rate } else { (max_rate / 2.0).max(1.0) };
    let interval = Duration::from_secs_f64(n as f64 / target);
    phase_tx.send_replace(Phase::Paced { interval });
    let (paced_seconds, sc, bc, paced_start) = sample(c, a.duration, pid, "paced").await;
    phase_tx.send_replace(Phase::Drain);
    drain(c, Duration::from_secs(30)).await;
    let paced_cpu = (sc, bc);
    let (_, peak) = rss_kib(pid)?;

    // Stop: the devices close, the server stops.
    phase_tx.send_replace(Phase::Stop);
    let join = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(30), join).await.is_err() {
        eprintln!("  some devices did not finish within 30 s; dropping them");
        tasks.abort_all();
    }
    let server_exit_ok = server.stop().await?;
    let (sent, acked) = (c.sent.load(Ordering::Relaxed), c.acked.load(Ordering::Relaxed));
    let (stored_measurements, stored_frames) = count_rows(&db).await?;
    let expected = acked * k as u64;
    // Every acknowledged packet is stored; packets sent but never acknowledged may be too.
    let durable =
        stored_frames >= acked && stored_measurements >= expected && stored_measurements <= sent * k as u64;
    let report = Report {
        devices: n,
        connected,
        failed: c.failed.load(Ordering::Relaxed),
        first_error: c.first_error.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        factors: k,
        window: a.window,
        packet_bytes,
        connect_s,
        connect_latency_p50_ms: percentile_ms(&connect_lat, 0.5),
        connect_latency_p99_ms: percentile_ms(&connect_lat, 0.99),
        server_rss_before_kib: rss_before,
        server_rss_idle_kib: rss_idle,
        memory_per_idle_connection_kib: per_conn,
        max: phase_report(c, PH_MAX, (max_seconds, max_start), max_cpu, k),
        paced_target_per_s: target,
        paced: phase_report(c, PH_PACED, (paced_seconds, paced_start), paced_cpu, k),
        server_peak_rss_kib: peak,
        sent,
        acked,
        stored_minute_frames: stored_frames,
        stored_measurements,
        expected_measurements: expected,
        durable,
        server_exit_ok,
        db: a.keep.then(|| db_str.clone()),
    };
    if a.keep {
        eprintln!("  kept {} (server log: {})", db.display(), dir.join("server.log").display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
        if a.db.is_some() {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{db_str}{suffix}"));
            }
        }
    }
    Ok(report)
}

fn print_table(r: &Report, a: &IngestArgs) {
    let yes = |b: bool| if b { "met" } else { "MISSED" };
    println!();
    println!("fenhe bench ingest — {} devices, {} factors/packet, window {}", r.devices, r.factors, r.window);
    println!("{:<44} {:>14}", "measure", "value");
    println!("{}", "-".repeat(59));
    let row = |name: &str, v: String| println!("{name:<44} {v:>14}");
    row("connections acknowledged / failed", format!("{} / {}", r.connected, r.failed));
    row("connect + first ack, all devices (s)", format!("{:.1}", r.connect_s));
    row(
        "server RSS before / idle (MiB)",
        format!(
            "{:.1} / {:.1}",
            r.server_rss_before_kib as f64 / 1024.0,
            r.server_rss_idle_kib as f64 / 1024.0
        ),
    );
    row("server memory per idle connection (KiB)", format!("{:.1}", r.memory_per_idle_connection_kib));
    row(&format!("max: acked packets/s ({} s)", r.max.seconds), format!("{:.0}", r.max.packets_per_s));
    row("max: median of per-second packets/s", format!("{:.0}", r.max.packets_per_s_median));
    row("max: factor values/s", format!("{:.0}", r.max.factor_values_per_s));
    row(
        "max: ack latency p50 / p99 (ms)",
        format!("{:.1} / {:.1}", r.max.latency_p50_ms, r.max.latency_p99_ms),
    );
    row(
        "max: CPU server / bench (% of a core)",
        format!("{:.0} / {:.0}", r.max.server_cpu_pct, r.max.bench_cpu_pct),
    );
    row("paced: target packets/s", format!("{:.0}", r.paced_target_per_s));
    row(&format!("paced: acked packets/s ({} s)", r.paced.seconds), format!("{:.0}", r.paced.packets_per_s));
    row(
        "paced: ack latency p50 / p99 (ms)",
        format!("{:.1} / {:.1}", r.paced.latency_p50_ms, r.paced.latency_p99_ms),
    );
    row(
        "paced: p99 of each 5 s (ms)",
        r.paced.latency_p99_ms_per_5s.iter().map(|v| format!("{v:.0}")).collect::<Vec<_>>().join(" "),
    );
    row(
        "paced: CPU server / bench (% of a core)",
        format!("{:.0} / {:.0}", r.paced.server_cpu_pct, r.paced.bench_cpu_pct),
    );
    row("server peak RSS (MiB)", format!("{:.1}", r.server_peak_rss_kib as f64 / 1024.0));
    row("packets sent / acknowledged", format!("{} / {}", r.sent, r.acked));
    row("stored minute frames", format!("{}", r.stored_minute_frames));
    row(
        "stored measurements / acked × factors",
        format!("{} / {}", r.stored_measurements, r.expected_measurements),
    );
    row("durable (every ack stored)", (if r.durable { "yes" } else { "NO" }).to_string());
    row("server exit on SIGTERM", (if r.server_exit_ok { "0" } else { "FAILED" }).to_string());
    println!();
    if a.devices >= 10_000 {
        println!("targets (2-core machine):");
        println!(
            "  10,000 concurrent connections:            {}",
            yes(r.connected >= 10_000 && r.failed == 0)
        );
        println!(
            "  ≥ 10,000 acked packets/s for 60 s:        {}",
            yes(r.max.seconds >= 60 && r.max.packets_per_s >= 10_000.0)
        );
        println!(
            "  ≥ 100,000 factor values/s:                {}",
            yes(r.max.seconds >= 60 && r.max.factor_values_per_s >= 100_000.0)
        );
        println!("  p99 ack latency < 100 ms at half rate:    {}", yes(r.paced.latency_p99_ms < 100.0));
        println!(
            "  < 20 KiB per idle connection:             {}",
            yes(r.memory_per_idle_connection_kib < 20.0)
        );
        println!("  durable:                                  {}", yes(r.durable));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_are_distinct_records_with_their_qn() {
        let codes = factor_codes(10).unwrap();
        let t = Template::new(&mn(7), &codes).unwrap();
        let (mut s, mut o, mut q) = (Vec::new(), Vec::new(), [0u8; 17]);
        t.packet(61, &mut s, &mut o, &mut q);
        let mut f = Framer::new(FrameConfig::default());
        f.push(&o);
        let Some(Event::Frame(raw)) = f.next() else { panic!("no frame") };
        let p = hj212::decode(&raw, &FrameConfig::default(), &ParseOptions::default()).unwrap();
        assert_eq!(p.cn, "2051");
        assert_eq!(p.mn, mn(7));
        assert_eq!(p.qn.map(str::as_bytes), Some(q.as_slice()));
        assert_eq!(p.qn, Some("20260101000000061"));
        // 61 minutes after the base.
        assert_eq!(p.key("DataTime"), Some("20200101010100"));
        assert!(p.ack_required());
        assert_eq!(mn(7).len(), 24);
    }

    #[test]
    fn registry_is_valid() {
        let codes = factor_codes(10).unwrap();
        let r = registry(3, &codes).unwrap();
        assert!(r.validate().is_empty(), "{:?}", r.validate());
    }
}
