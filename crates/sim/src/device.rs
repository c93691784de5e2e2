//! One simulated data logger on one TCP connection.
//!
//! The device sends its uploads in step with its clock, one at a time when it asks for 9014
//! replies (stop-and-wait, the standard's OverTime/ReCount), and meanwhile reads and answers the
//! platform's commands. A data upload counts as delivered only when its 9014 arrived: one still
//! waiting when the connection drops is written again first after the reconnect, and the
//! periods that fell due while the device was disconnected follow it (the device's cursor did not
//! move past them). Nothing is buffered as bytes except that one packet, because every period's
//! data is a pure function of the spec and the time ([`crate::signal`]).

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hj212::builder::device as reply;
use hj212::{CrcMode, DateTime, Event, FrameConfig, Framer, Packet, PacketBuilder, ParseOptions, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info};

use crate::SimError;
use crate::clock::{Backfill, Clock};
use crate::fleet_stats::{Counter, Stats, StatsSnapshot};
use crate::rng::SplitMix64;
use crate::signal::Period;
use crate::spec::{DAY_MS, DeviceSpec};
use crate::wire::{self, Frame};

/// How a device runs (as opposed to what it is, [`DeviceSpec`]).
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub clock: Clock,
    pub backfill: Option<Backfill>,
    /// How long to wait for a 9014 before writing the packet again (the standard's OverTime,
    /// 10 s). A platform's 1000 command changes it.
    pub ack_timeout: Duration,
    /// How many times to write a packet again before giving up on the connection (the standard's
    /// ReCount, 3). The device then reconnects and starts over with that packet.
    pub retries: u32,
    /// First wait before reconnecting; doubles after every refused attempt, and after every
    /// connection that ended without a single 9014, up to `backoff_max`. A connection on which
    /// data was acknowledged resets it.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub connect_timeout: Duration,
    /// A write that does not finish in this time counts as a lost connection.
    pub write_timeout: Duration,
    /// How far back the device keeps data: history requests before that get "no data", and a
    /// device disconnected longer than this skips the older periods.
    pub retention_days: u32,
    /// The most periods one history request is answered with (the earliest ones).
    pub max_history_periods: usize,
    /// The address to connect from (`None`: the system chooses). A loopback alias such as
    /// 127.0.0.2 makes a simulated peer an address of its own, so that what the gateway does to
    /// one address (refusing a password guesser) does not reach the others.
    pub local_ip: Option<std::net::IpAddr>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            clock: Clock::real(),
            backfill: None,
            ack_timeout: Duration::from_secs(10),
            retries: 3,
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(30),
            retention_days: 400,
            max_history_periods: 20_000,
            local_ip: None,
        }
    }
}

/// What a device did, when it stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceReport {
    pub mn: String,
    pub stats: StatsSnapshot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutKind {
    Data,
    History,
    Reply,
}

#[derive(Debug)]
struct Out {
    frame: Frame,
    kind: OutKind,
}

#[derive(Debug)]
struct InFlight {
    out: Out,
    deadline: Instant,
    attempts: u32,
}

#[derive(Debug)]
enum Job {
    /// Answer a history request: periods starting at `next` up to `last`, at most `left` more.
    History { period: Period, next: i64, last: i64, qn: Option<String>, left: usize },
    /// Write these bytes (a 9012 that must follow the history data).
    Reply(Vec<u8>),
}

enum Exit {
    Stopped,
    Lost,
    Outage,
}

/// Cursor slots: minute, hourly and daily data.
const PERIODS: [Period; 3] = [Period::Minute, Period::Hour, Period::Day];

/// The longest the device sleeps without looking at its clock again.
const MAX_WAIT: Duration = Duration::from_millis(250);

/// A simulated data logger. Build it with [`SimDevice::new`], then [`SimDevice::run`] it.
pub struct SimDevice {
    /// The device's current settings (a platform can change the password and intervals).
    spec: DeviceSpec,
    cfg: SimConfig,
    stats: Arc<Stats>,
    fleet: Option<Arc<Stats>>,
    skew_ms: i64,
    ack_timeout: Duration,
    retries: u32,
    realtime_on: bool,
    rt_next: i64,
    /// Start of the next period to send, per [`PERIODS`] slot.
    cur: [i64; 3],
    backfill_to: Option<i64>,
    backfill_finishing: bool,
    inflight: Option<InFlight>,
    ready: VecDeque<Out>,
    jobs: VecDeque<Job>,
    last_qn: i64,
    rng: SplitMix64,
    written: u64,
}

impl SimDevice {
    /// A device; fails when the spec cannot run.
    pub fn new(spec: DeviceSpec, cfg: SimConfig) -> Result<SimDevice, SimError> {
        spec.validate()?;
        Ok(SimDevice {
            skew_ms: spec.clock_skew_ms(),
            ack_timeout: cfg.ack_timeout,
            retries: cfg.retries,
            rng: SplitMix64::new(spec.seed ^ 0x5EED),
            spec,
            cfg,
            stats: Arc::new(Stats::new()),
            fleet: None,
            realtime_on: false,
            rt_next: 0,
            cur: [0; 3],
            backfill_to: None,
            backfill_finishing: false,
            inflight: None,
            ready: VecDeque::new(),
            jobs: VecDeque::new(),
            last_qn: 0,
            written: 0,
        })
    }

    /// Also count into `stats` (a fleet's shared counters).
    pub fn with_fleet_stats(mut self, stats: Arc<Stats>) -> Self {
        self.fleet = Some(stats);
        self
    }

    /// This device's own counters, readable while it runs.
    pub fn stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    pub fn spec(&self) -> &DeviceSpec {
        &self.spec
    }

    /// Connect to `addr` (`host:port`) and run until `stop` is cancelled, reconnecting with
    /// back-off whenever the connection is refused or lost.
    pub async fn run(mut self, addr: impl Into<String>, stop: CancellationToken) -> DeviceReport {
        let addr = addr.into();
        let span = tracing::info_span!("sim", mn = %self.spec.mn);
        async move {
            self.start();
            let mut backoff = self.cfg.backoff_min;
            while !stop.is_cancelled() {
                let now = self.now_dev();
                if let Some(end) = self.spec.outage_at(now) {
                    debug!("outage until {end}");
                    let wait = self.cfg.clock.until(end - self.skew_ms).min(MAX_WAIT * 4);
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(wait) => continue,
                    }
                }
                let conn = tokio::select! {
                    _ = stop.cancelled() => break,
                    r = tokio::time::timeout(self.cfg.connect_timeout, connect(&addr, self.cfg.local_ip)) => r,
                };
                // Whether a connection was made, and whether it got anywhere.
                let (exit, was_connected, progressed) = match conn {
                    Ok(Ok(stream)) => {
                        info!("connected to {addr}");
                        self.bump(Counter::Connects);
                        self.bump(Counter::Connected);
                        let acked = self.stats.get(Counter::PacketsAcked);
                        let exit = self.connection(stream, &stop).await;
                        self.each(|s| s.sub(Counter::Connected, 1));
                        // A server that takes the connection but never acknowledges (a wrong
                        // password, say) is not hammered at the shortest interval.
                        let progressed =
                            self.stats.get(Counter::PacketsAcked) > acked || !self.spec.wants_ack();
                        (exit, true, progressed)
                    }
                    Ok(Err(e)) => {
                        debug!("connect to {addr}: {e}");
                        self.bump(Counter::ConnectErrors);
                        (Exit::Lost, false, false)
                    }
                    Err(_) => {
                        debug!("connect to {addr}: timed out");
                        self.bump(Counter::ConnectErrors);
                        (Exit::Lost, false, false)
                    }
                };
                if matches!(exit, Exit::Stopped) {
                    break;
                }
                if was_connected {
                    self.bump(Counter::Disconnects);
                }
                self.on_disconnect();
                if matches!(exit, Exit::Lost) {
                    let jitter = 0.5 + self.rng.below(1000) as f64 / 2000.0;
                    if progressed {
                        backoff = self.cfg.backoff_min;
                    }
                    let wait = backoff.mul_f64(jitter);
                    if !progressed {
                        backoff = (backoff * 2).min(self.cfg.backoff_max);
                    }
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(wait) => {}
                    }
                }
            }
            DeviceReport { mn: self.spec.mn.clone(), stats: self.stats.snapshot() }
        }
        .instrument(span)
        .await
    }

    fn each(&self, f: impl Fn(&Stats)) {
        f(&self.stats);
        if let Some(s) = &self.fleet {
            f(s);
        }
    }

    fn bump(&self, c: Counter) {
        self.each(|s| s.add(c, 1));
    }

    /// The device's own clock.
    fn now_dev(&self) -> i64 {
        self.cfg.clock.now_ms() + self.skew_ms
    }

    /// Real time until the device's clock reads `t`.
    fn until_dev(&self, t: i64) -> Duration {
        self.cfg.clock.until(t - self.skew_ms)
    }

    fn start(&mut self) {
        let now = self.now_dev();
        let from = match self.cfg.backfill {
            Some(b) => {
                self.backfill_to = Some(b.to_ms + self.skew_ms);
                b.from_ms + self.skew_ms
            }
            None => now,
        };
        for (i, p) in PERIODS.iter().enumerate() {
            self.cur[i] = p.floor(self.spec.minute_interval_min, from);
        }
        self.rt_next = self.next_rt_after(now);
    }

    fn next_rt_after(&self, t: i64) -> i64 {
        let step = i64::from(self.spec.rtd_interval_s.max(1)) * 1000;
        (t.div_euclid(step) + 1) * step
    }

    fn enabled(&self, slot: usize) -> bool {
        match slot {
            0 => self.spec.send_minute,
            1 => self.spec.send_hourly,
            _ => self.spec.send_daily,
        }
    }

    fn realtime_enabled(&self) -> bool {
        self.spec.send_realtime || self.realtime_on
    }

    /// A QN from the device's clock, strictly increasing.
    fn next_qn(&mut self) -> DateTime {
        let t = self.now_dev().max(self.last_qn + 1);
        self.last_qn = t;
        DateTime::from_unix_millis_cst(t).unwrap_or(DateTime::Y2000)
    }

    fn on_disconnect(&mut self) {
        // Replies and history answers belong to the platform session that asked for them.
        self.ready.retain(|o| o.kind == OutKind::Data);
        self.jobs.clear();
        if self.inflight.as_ref().is_some_and(|f| f.out.kind != OutKind::Data) {
            self.inflight = None;
        }
        self.realtime_on = false;
    }

    /// The end of the next regular period, over the enabled slots.
    fn next_regular(&self) -> Option<(usize, i64)> {
        let mut best: Option<(usize, i64)> = None;
        for (i, p) in PERIODS.iter().enumerate() {
            if self.enabled(i) {
                let end = self.cur[i] + p.len_ms(self.spec.minute_interval_min);
                if best.is_none_or(|(_, e)| end < e) {
                    best = Some((i, end));
                }
            }
        }
        best
    }

    /// The next regular upload that is due, advancing the cursors (skipping periods that ended
    /// in an outage).
    fn produce_regular(&mut self, now: i64) -> Option<Out> {
        let retention = i64::from(self.cfg.retention_days) * DAY_MS;
        loop {
            let (i, end) = self.next_regular()?;
            let p = PERIODS[i];
            if let Some(to) = self.backfill_to
                && end > to
            {
                // Backfill done: go live from the present period.
                self.backfill_to = None;
                self.backfill_finishing = true;
                for (j, q) in PERIODS.iter().enumerate() {
                    self.cur[j] = self.cur[j].max(q.floor(self.spec.minute_interval_min, now));
                }
                continue;
            }
            if end > now {
                return None;
            }
            if self.backfill_to.is_none() && end < now - retention {
                self.cur[i] = p.floor(self.spec.minute_interval_min, now - retention);
                continue;
            }
            let start = self.cur[i];
            self.cur[i] = end;
            if self.spec.outage_at(end).is_some() {
                continue;
            }
            let qn = self.next_qn();
            let b = wire::upload(&self.spec, p, start, &qn);
            self.push_frames(&b, OutKind::Data);
            return self.ready.pop_front();
        }
    }

    fn push_frames(&mut self, b: &PacketBuilder, kind: OutKind) {
        for frame in wire::frames(b, self.spec.dialect(), self.spec.wants_ack()) {
            self.ready.push_back(Out { frame, kind });
        }
    }

    /// The next thing to write: parts already built, then command jobs, then regular data.
    fn next_out(&mut self, now: i64) -> Option<Out> {
        if let Some(o) = self.ready.pop_front() {
            return Some(o);
        }
        while let Some(job) = self.jobs.front_mut() {
            match job {
                Job::Reply(_) => {
                    let Some(Job::Reply(bytes)) = self.jobs.pop_front() else { unreachable!() };
                    return Some(Out { frame: Frame { bytes, qn: None }, kind: OutKind::Reply });
                }
                Job::History { period, next, last, qn, left } => {
                    if *left == 0 || *next > *last {
                        self.jobs.pop_front();
                        continue;
                    }
                    let (p, t, rq) = (*period, *next, qn.clone());
                    *next += p.len_ms(self.spec.minute_interval_min);
                    *left -= 1;
                    let qn = self.next_qn();
                    let b = wire::as_history_answer(
                        wire::upload(&self.spec, p, t, &qn),
                        rq.as_deref(),
                        self.spec.version,
                    );
                    self.push_frames(&b, OutKind::History);
                    return self.ready.pop_front();
                }
            }
        }
        self.produce_regular(now)
    }

    async fn write(&mut self, wr: &mut OwnedWriteHalf, bytes: &[u8]) -> io::Result<()> {
        if let Some(n) = self.spec.garbage_every() {
            self.written += 1;
            if self.written.is_multiple_of(u64::from(n)) {
                let g = wire::garbage(self.rng.next_u64(), self.rng.next_u64());
                self.timed_write(wr, &g).await?;
                self.bump(Counter::GarbageSent);
            }
        }
        self.timed_write(wr, bytes).await
    }

    async fn timed_write(&mut self, wr: &mut OwnedWriteHalf, bytes: &[u8]) -> io::Result<()> {
        match tokio::time::timeout(self.cfg.write_timeout, wr.write_all(bytes)).await {
            Ok(r) => r?,
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out")),
        }
        self.each(|s| s.add(Counter::BytesSent, bytes.len() as u64));
        Ok(())
    }

    async fn send_reply(&mut self, wr: &mut OwnedWriteHalf, b: PacketBuilder) -> io::Result<()> {
        let bytes = wire::encode(b.segment().as_bytes(), self.spec.dialect());
        self.write(wr, &bytes).await
    }

    /// Write what is due; `Ok(true)` when more is due at once.
    async fn send_due(&mut self, wr: &mut OwnedWriteHalf, now: i64) -> io::Result<bool> {
        let mut n = 0;
        while self.inflight.is_none() {
            if n >= 64 {
                return Ok(true);
            }
            let Some(out) = self.next_out(now) else { return Ok(false) };
            self.write(wr, &out.frame.bytes).await?;
            match out.kind {
                OutKind::Data => self.bump(Counter::PacketsSent),
                OutKind::History => {
                    self.bump(Counter::PacketsSent);
                    self.bump(Counter::HistorySent);
                }
                OutKind::Reply => {}
            }
            if out.frame.qn.is_some() {
                self.inflight =
                    Some(InFlight { out, deadline: Instant::now() + self.ack_timeout, attempts: 0 });
            }
            n += 1;
        }
        Ok(false)
    }

    async fn send_realtime(&mut self, wr: &mut OwnedWriteHalf, now: i64) -> io::Result<()> {
        let t = self.rt_next.min(now).div_euclid(1000) * 1000;
        let qn = self.next_qn();
        let b = wire::upload(&self.spec, Period::Realtime, t, &qn);
        for f in wire::frames(&b, self.spec.dialect(), false) {
            self.write(wr, &f.bytes).await?;
            self.bump(Counter::RealtimeSent);
        }
        self.rt_next = self.next_rt_after(now);
        Ok(())
    }

    fn next_wake(&self, now: i64) -> Duration {
        let mut d = MAX_WAIT;
        if let Some(f) = &self.inflight {
            d = d.min(f.deadline.saturating_duration_since(Instant::now()));
        } else if let Some((_, end)) = self.next_regular() {
            d = d.min(self.until_dev(end));
        }
        if self.realtime_enabled() {
            d = d.min(self.until_dev(self.rt_next));
        }
        if let Some(o) = self.spec.next_outage_after(now) {
            d = d.min(self.until_dev(o));
        }
        d
    }

    async fn connection(&mut self, stream: TcpStream, stop: &CancellationToken) -> Exit {
        match self.connection_inner(stream, stop).await {
            Ok(e) => e,
            Err(e) => {
                debug!("connection lost: {e}");
                Exit::Lost
            }
        }
    }

    async fn connection_inner(&mut self, stream: TcpStream, stop: &CancellationToken) -> io::Result<Exit> {
        let _ = stream.set_nodelay(true);
        let (mut rd, mut wr) = stream.into_split();
        let cfg = FrameConfig { max_segment_len: 9999, crc_mode: CrcMode::Any };
        let mut framer = Framer::new(cfg);
        let mut buf = vec![0u8; 16 * 1024];

        // The packet that was never acknowledged goes first.
        if let Some(bytes) = self.inflight.as_ref().map(|f| f.out.frame.bytes.clone()) {
            self.write(&mut wr, &bytes).await?;
            self.bump(Counter::Retries);
            if let Some(f) = &mut self.inflight {
                f.deadline = Instant::now() + self.ack_timeout;
                f.attempts = 0;
            }
        }

        loop {
            let now = self.now_dev();
            if self.spec.outage_at(now).is_some() {
                info!("outage begins");
                return Ok(Exit::Outage);
            }
            if let Some(f) = &self.inflight
                && Instant::now() >= f.deadline
            {
                if f.attempts >= self.retries {
                    info!("no 9014 after {} retries; reconnecting", f.attempts);
                    self.bump(Counter::AckTimeouts);
                    return Ok(Exit::Lost);
                }
                let bytes = f.out.frame.bytes.clone();
                self.write(&mut wr, &bytes).await?;
                self.bump(Counter::Retries);
                if let Some(f) = &mut self.inflight {
                    f.attempts += 1;
                    f.deadline = Instant::now() + self.ack_timeout;
                }
            }
            if self.realtime_enabled() && now >= self.rt_next {
                self.send_realtime(&mut wr, now).await?;
            }
            let more = self.send_due(&mut wr, now).await?;
            if self.backfill_finishing && self.inflight.is_none() && self.ready.is_empty() {
                info!("backfill done");
                self.backfill_finishing = false;
                self.bump(Counter::BackfillsDone);
            }
            let wait = if more { Duration::ZERO } else { self.next_wake(now) };
            tokio::select! {
                biased;
                _ = stop.cancelled() => return Ok(Exit::Stopped),
                r = rd.read(&mut buf) => {
                    let n = r?;
                    if n == 0 {
                        return Ok(Exit::Lost);
                    }
                    framer.push(&buf[..n]);
                    let mut segments = Vec::new();
                    while let Some(ev) = framer.next() {
                        match ev {
                            Event::Frame(raw) => match raw.check(CrcMode::Any) {
                                Ok(()) => segments.push(raw.segment.to_vec()),
                                Err(e) => debug!("platform frame refused: {e}"),
                            },
                            Event::Rejected { error, .. } => debug!("platform bytes skipped: {error}"),
                        }
                    }
                    for seg in segments {
                        match hj212::parse(&seg, &ParseOptions::default()) {
                            Ok(p) => self.on_packet(&p, &mut wr).await?,
                            Err(e) => debug!("platform packet refused: {e}"),
                        }
                    }
                }
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Answer one packet from the platform.
    async fn on_packet(&mut self, p: &Packet<'_>, wr: &mut OwnedWriteHalf) -> io::Result<()> {
        match p.cn {
            "9014" => {
                if let (Some(f), Some(q)) = (&self.inflight, p.qn)
                    && f.out.frame.qn.as_deref() == Some(q)
                {
                    self.inflight = None;
                    self.bump(Counter::PacketsAcked);
                }
                return Ok(());
            }
            cn if cn.starts_with("90") => return Ok(()),
            _ => {}
        }
        self.bump(Counter::CommandsAnswered);
        if p.mn != self.spec.mn {
            return self.send_reply(wr, reply::request_reply(p, 4)).await;
        }
        if matches!(p.cn, "2012" | "2022") {
            if p.cn == "2012" {
                self.realtime_on = false;
            }
            return self.send_reply(wr, reply::notify_ack(p)).await;
        }
        if p.pw != Some(self.spec.password.as_str()) {
            return self.send_reply(wr, reply::request_reply(p, 3)).await;
        }
        let now = self.now_dev();
        let num = |k: &str| p.key(k).and_then(|v| v.parse::<u32>().ok());
        match p.cn {
            "1000" => {
                self.send_reply(wr, reply::request_reply(p, 1)).await?;
                let ok = match (num("OverTime"), num("ReCount")) {
                    (Some(t), Some(r)) if t > 0 => {
                        self.ack_timeout = Duration::from_secs(u64::from(t));
                        self.retries = r;
                        true
                    }
                    _ => false,
                };
                self.send_reply(wr, reply::exe_result(p, if ok { 1 } else { 3 })).await
            }
            "1011" => {
                self.send_reply(wr, reply::request_reply(p, 1)).await?;
                let t = DateTime::from_unix_millis_cst(now).unwrap_or_else(|| self.next_qn());
                self.send_reply(wr, reply::time_upload(p, &t)).await?;
                self.send_reply(wr, reply::exe_result(p, 1)).await
            }
            "1012" => {
                self.send_reply(wr, reply::request_reply(p, 1)).await?;
                let t = p.key("SystemTime").and_then(|s| DateTime::parse(s).ok());
                let ok = match t {
                    Some((t, _)) => {
                        self.skew_ms = t.unix_millis_cst() - self.cfg.clock.now_ms();
                        info!("clock set to {t}, skew now {} ms", self.skew_ms);
                        self.rt_next = self.next_rt_after(self.now_dev());
                        true
                    }
                    None => false,
                };
                self.send_reply(wr, reply::exe_result(p, if ok { 1 } else { 3 })).await
            }
            "1061" | "1063" => {
                self.send_reply(wr, reply::request_reply(p, 1)).await?;
                let (k, v) = if p.cn == "1061" {
                    ("RtdInterval", self.spec.rtd_interval_s)
                } else {
                    ("MinInterval", self.spec.minute_interval_min)
                };
                self.send_reply(wr, info_upload(p, k, &v.to_string())).await?;
                self.send_reply(wr, reply::exe_result(p, 1)).await
            }
            "1062" | "1064" | "1072" => {
                self.send_reply(wr, reply::request_reply(p, 1)).await?;
                let ok = self.apply_setting(p, now);
                self.send_reply(wr, reply::exe_result(p, if ok { 1 } else { 3 })).await
            }
            "2011" => {
                self.realtime_on = true;
                self.rt_next = now;
                self.send_reply(wr, reply::request_reply(p, 1)).await
            }
            "2031" | "2051" | "2061" => self.history_request(p, now, wr).await,
            "3011" | "3012" | "3013" | "3014" | "3015" | "3016" | "3021" => {
                self.send_reply(wr, reply::request_reply(p, 1)).await?;
                self.send_reply(wr, reply::exe_result(p, 1)).await
            }
            _ => self.send_reply(wr, reply::request_reply(p, 2)).await,
        }
    }

    /// 1062, 1064, 1072.
    fn apply_setting(&mut self, p: &Packet<'_>, now: i64) -> bool {
        match p.cn {
            "1062" => match p.key("RtdInterval").and_then(|v| v.parse::<u32>().ok()) {
                Some(s) if (1..=3600).contains(&s) => {
                    self.spec.rtd_interval_s = s;
                    self.rt_next = self.next_rt_after(now);
                    true
                }
                _ => false,
            },
            "1064" => match p.key("MinInterval").and_then(|v| v.parse::<u32>().ok()) {
                Some(m) if m > 0 && 60 % m == 0 => {
                    self.spec.minute_interval_min = m;
                    // Continue at the next boundary of the new interval, never going back.
                    let len = Period::Minute.len_ms(m);
                    self.cur[0] = (self.cur[0] + len - 1).div_euclid(len) * len;
                    true
                }
                _ => false,
            },
            "1072" => match p.key("NewPW") {
                Some(pw) if !pw.is_empty() && !pw.contains([';', '=', '&', ',']) => {
                    self.spec.password = pw.to_string();
                    true
                }
                _ => false,
            },
            _ => false,
        }
    }

    /// 2031/2051/2061 with BeginTime and EndTime: 9011, the data (each acknowledged), 9012.
    async fn history_request(&mut self, p: &Packet<'_>, now: i64, wr: &mut OwnedWriteHalf) -> io::Result<()> {
        self.send_reply(wr, reply::request_reply(p, 1)).await?;
        let Some(period) = Period::from_history_cn(p.cn) else { return Ok(()) };
        let time = |k: &str| p.key(k).and_then(|s| DateTime::parse(s).ok()).map(|(t, _)| t.unix_millis_cst());
        let (Some(begin), Some(end)) = (time("BeginTime"), time("EndTime")) else {
            return self.send_reply(wr, reply::exe_result(p, 3)).await;
        };
        let iv = self.spec.minute_interval_min;
        let len = period.len_ms(iv);
        let oldest = now - i64::from(self.cfg.retention_days) * DAY_MS;
        let ceil = |t: i64| {
            let f = period.floor(iv, t);
            if f < t { f + len } else { f }
        };
        let first = ceil(begin).max(ceil(oldest));
        // The last period must have ended by now.
        let last = period.floor(iv, end).min(period.floor(iv, now) - len);
        if last < first {
            return self.send_reply(wr, reply::exe_result(p, 100)).await;
        }
        let count = ((last - first) / len + 1) as usize;
        debug!("history {} from {first} to {last}: {count} periods", p.cn);
        self.jobs.push_back(Job::History {
            period,
            next: first,
            last,
            qn: p.qn.map(str::to_string),
            left: count.min(self.cfg.max_history_periods),
        });
        let done = wire::encode(reply::exe_result(p, 1).segment().as_bytes(), self.spec.dialect());
        self.jobs.push_back(Job::Reply(done));
        Ok(())
    }
}

/// A 1061/1063 upload of one setting, answering `req`.
fn info_upload(req: &Packet<'_>, key: &str, value: &str) -> PacketBuilder {
    let mut b = PacketBuilder::new(req.cn, req.mn).st(req.st.unwrap_or("32"));
    b.qn = req.qn.map(Into::into);
    b.pw = req.pw.map(Into::into);
    b.flag = req.flag.map(|_| req.version.bits() << 2);
    if req.version == Version::V2005 {
        b.qn = None;
        b.flag = None;
        if let Some(q) = req.qn {
            b = b.key("QN", q);
        }
    }
    b.key(key, value)
}

/// Connect to `addr` (host:port), from `local` when given.
async fn connect(addr: &str, local: Option<std::net::IpAddr>) -> std::io::Result<TcpStream> {
    let Some(local) = local else { return TcpStream::connect(addr).await };
    let mut last = None;
    for target in tokio::net::lookup_host(addr).await? {
        if target.is_ipv4() != local.is_ipv4() {
            continue;
        }
        let socket =
            if local.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
        socket.bind(std::net::SocketAddr::new(local, 0))?;
        match socket.connect(target).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            format!("{addr} has no address of the family of {local}"),
        )
    }))
}
