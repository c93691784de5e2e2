//! The platform talking back: commands to devices (operator-queued, clock checks, history requests
//! after gaps), sent over a device's open connection and followed through 9011/9012 with the
//! standard's timeouts and retries. Every step is written to the store through the single writer,
//! in order with the frames' batches; only an operator's command from another process
//! ([`queue_command`]) goes to the store directly.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use fenhe_core::china_time::now_ms;
use fenhe_store::writer::WriterHandle;
use fenhe_store::{Command, CommandStatus, NewCommand, Store};
use hj212::codes::{Lang, exe_rtn_meaning, qn_rtn_meaning};
use hj212::{DateTime, PacketBuilder, Version};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::Error;
use crate::config::GatewayConfig;
use crate::directory::DeviceEntry;
use crate::judge::PacketInfo;
use crate::live_stats::Stats;

/// Origin of commands queued by an operator.
pub const ORIGIN_OPERATOR: &str = "operator";
/// Origin of history requests queued after a gap in uploads.
pub const ORIGIN_GAP: &str = "platform:gap";
/// Origin of clock checks (1011) and corrections (1012).
pub const ORIGIN_CLOCK: &str = "platform:clock";

/// Server time as a device expects it (UTC+8).
pub(crate) fn server_time(ms: i64) -> DateTime {
    DateTime::from_unix_millis_cst(ms).unwrap_or(DateTime::Y2000)
}

static LAST_QN: AtomicI64 = AtomicI64::new(0);

/// A QN (`YYYYMMDDhhmmsszzz`, UTC+8) never handed out before by this process.
pub(crate) fn fresh_qn() -> String {
    let now = now_ms();
    let prev = LAST_QN.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| Some(now.max(last + 1)));
    let ms = now.max(prev.unwrap_or(0) + 1);
    server_time(ms).qn()
}

fn valid_cp_text(s: &str) -> bool {
    !s.is_empty() && !s.bytes().any(|b| matches!(b, b';' | b',' | b'=' | b'&' | b'\r' | b'\n'))
}

/// CP items as stored in a command: `key=value` joined by `;`.
pub fn cp_string(items: &[(&str, &str)]) -> Result<String, Error> {
    let mut out = Vec::with_capacity(items.len());
    for (k, v) in items {
        if !valid_cp_text(k) || (!v.is_empty() && !valid_cp_text(v)) {
            return Err(Error::InvalidCommand(format!(
                "CP item {k:?}={v:?}: keys must be non-empty and neither may contain ';', ',', '=', '&' or line breaks"
            )));
        }
        out.push(format!("{k}={v}"));
    }
    Ok(out.join(";"))
}

/// Each device's own look-up of its open commands runs this many times less often than the
/// gateway's poll of recent commands ([`poll_recent`]), which wakes the devices concerned: one
/// query per poll interval instead of one per connected device (10,000 devices polling every 5 s
/// made 2,000 queries/s). The device's own poll still finds commands beyond the recent ones.
pub(crate) const DEVICE_POLL_FACTOR: u32 = 12;

/// How many of the newest commands the gateway's poll reads.
const RECENT_COMMANDS: u32 = 256;

/// Every `cfg.command_poll` until `cancel`: wake the connected devices that have one of the
/// newest commands open (queued by another process, e.g. `fenhe device send`).
pub(crate) async fn poll_recent(shared: std::sync::Arc<crate::Shared>, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(shared.cfg.command_poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        match shared.store.commands(None, RECENT_COMMANDS).await {
            Ok(cmds) => {
                for c in cmds.iter().filter(|c| !c.status.is_final()) {
                    shared.wake(&c.new.mn);
                }
            }
            Err(e) => warn!(error = %e, "cannot read recent commands"),
        }
    }
}

/// Queue a command for a device as an operator (`fenhe device send`). The gateway sends it as
/// soon as the device is connected (within [`GatewayConfig::command_poll`] when queued by another
/// process). Returns the command's id.
pub async fn queue_command(
    store: &dyn Store,
    mn: &str,
    cn: &str,
    cp_items: &[(&str, &str)],
) -> Result<i64, Error> {
    queue_command_from(store, mn, cn, cp_items, ORIGIN_OPERATOR).await
}

/// [`queue_command`] with an explicit origin (`operator:<name>`, `platform:gap`, …).
pub async fn queue_command_from(
    store: &dyn Store,
    mn: &str,
    cn: &str,
    cp_items: &[(&str, &str)],
    origin: &str,
) -> Result<i64, Error> {
    Ok(store.enqueue_command(&new_command(mn, cn, cp_items, origin)?).await?)
}

/// [`queue_command_from`] through the gateway's writer, after what it has queued already.
pub(crate) async fn queue_command_via(
    writer: &WriterHandle,
    mn: &str,
    cn: &str,
    cp_items: &[(&str, &str)],
    origin: &str,
) -> Result<i64, Error> {
    Ok(writer.enqueue_command(new_command(mn, cn, cp_items, origin)?).await?)
}

/// A command checked for what can be sent: a four-digit request CN to a well-formed MN.
fn new_command(mn: &str, cn: &str, cp_items: &[(&str, &str)], origin: &str) -> Result<NewCommand, Error> {
    if cn.len() != 4 || !cn.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::InvalidCommand(format!("CN {cn:?} is not a four-digit command code")));
    }
    if cn.starts_with("90") {
        return Err(Error::InvalidCommand(format!("CN {cn} is a reply, not a command")));
    }
    if mn.is_empty() || mn.bytes().any(|b| !b.is_ascii_alphanumeric()) {
        return Err(Error::InvalidCommand(format!("MN {mn:?} is not a device identifier")));
    }
    let cp = cp_string(cp_items)?;
    Ok(NewCommand { mn: mn.into(), cn: cn.into(), cp, origin: origin.into(), created_at: now_ms() })
}

/// Split a stored CP string back into builder groups (`;` between groups, `,` inside one).
fn cp_groups(cp: &str) -> Vec<Vec<(String, String)>> {
    cp.split(';')
        .filter(|g| !g.is_empty())
        .map(|g| {
            g.split(',')
                .filter(|i| !i.is_empty())
                .map(|i| match i.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => (i.to_string(), String::new()),
                })
                .collect()
        })
        .collect()
}

/// Notifications from the platform (stop real-time data / status): no reply is asked for.
fn is_notification(cn: &str) -> bool {
    matches!(cn, "2012" | "2022")
}

/// Requests after whose 9011 the device streams uploads without an execution result.
fn ends_at_request_reply(cn: &str) -> bool {
    matches!(cn, "2011" | "2021")
}

/// Who the packets of a command are addressed to.
#[derive(Debug, Clone)]
pub(crate) struct Addressee {
    pub mn: String,
    pub pw: String,
    pub st: String,
    pub version: Version,
}

/// The framed request for `cmd`.
pub(crate) fn command_packet(cmd: &Command, qn: &str, to: &Addressee, now: i64) -> Vec<u8> {
    let notification = is_notification(&cmd.new.cn);
    let mut b = PacketBuilder::new(&cmd.new.cn, &to.mn).qn(qn).st(to.st.as_str()).pw(to.pw.as_str());
    b = b.version(to.version, !notification);
    b.cp = cp_groups(&cmd.new.cp);
    // A clock correction carries the time at sending, not at queueing, whoever asked for it: an
    // operator's "set the device's time" for a device that is offline may be sent hours later.
    if cmd.new.cn == "1012" {
        let t = server_time(now).compact();
        for g in &mut b.cp {
            for (k, v) in g.iter_mut() {
                if k == "SystemTime" {
                    *v = t.clone();
                }
            }
        }
    }
    b.build()
}

/// Per-(MN, CN) latest DataTime of minute and hour uploads, for gap detection.
#[derive(Debug, Default)]
pub(crate) struct LatestTimes {
    map: Mutex<HashMap<(String, String), i64>>,
}

/// A run of missing records: `[first, last]`, epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gap {
    pub first: i64,
    pub last: i64,
}

impl LatestTimes {
    pub fn seed(&self, mn: &str, cn: &str, t: i64) {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let e = m.entry((mn.to_string(), cn.to_string())).or_insert(t);
        *e = (*e).max(t);
    }

    /// Note a committed upload at `t`; returns the records missing before it, if any.
    pub fn observe(&self, mn: &str, cn: &str, t: i64, interval: i64, max_span: i64) -> Option<Gap> {
        let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let key = (mn.to_string(), cn.to_string());
        let prev = m.get(&key).copied();
        if prev.is_none_or(|p| t > p) {
            m.insert(key, t);
        }
        let prev = prev?;
        if interval <= 0 || t - prev <= interval {
            return None;
        }
        let last = t - interval;
        let mut first = prev + interval;
        if last - first > max_span {
            // Ask only for the most recent span, keeping the interval grid.
            let excess = last - first - max_span;
            first += (excess + interval - 1) / interval * interval;
        }
        (first <= last).then_some(Gap { first, last })
    }
}

/// The interval between two records of a data command, milliseconds.
pub(crate) fn interval_ms(cn: &str, device: &DeviceEntry) -> Option<i64> {
    match cn {
        "2051" => Some(i64::from(device.minute_interval_min.max(1)) * 60_000),
        "2061" => Some(3_600_000),
        _ => None,
    }
}

/// Everything a device's command driver works with.
/// Hands out start times at most `rate` per second, shared by every connection: the n-th caller
/// waits until n / rate seconds after the pacer was last idle.
#[derive(Debug)]
pub(crate) struct Pacer {
    interval: std::time::Duration,
    next: std::sync::Mutex<tokio::time::Instant>,
}

impl Pacer {
    pub fn new(rate: f64) -> Self {
        let rate = if rate.is_finite() && rate > 0.0 { rate } else { 1.0 };
        Pacer {
            interval: std::time::Duration::from_secs_f64(1.0 / rate),
            next: std::sync::Mutex::new(tokio::time::Instant::now()),
        }
    }

    /// The instant this caller may start.
    pub fn slot(&self) -> tokio::time::Instant {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let now = tokio::time::Instant::now();
        let slot = (*next).max(now);
        *next = slot + self.interval;
        slot
    }
}

pub(crate) struct Driver {
    /// Paces connect-time clock checks across the gateway.
    pub clock_pacer: Arc<Pacer>,
    /// For reading open commands and the registry; command writes go through `writer`.
    pub store: Arc<dyn Store>,
    pub writer: WriterHandle,
    /// The gateway's device cache (a confirmed 1072 changes a password in it).
    pub directory: crate::directory::DeviceDirectory,
    pub cfg: Arc<GatewayConfig>,
    pub stats: Arc<Stats>,
    pub to: Addressee,
    pub outbox: mpsc::Sender<Vec<u8>>,
    pub replies: mpsc::Receiver<Box<PacketInfo>>,
    /// Set while a command is in flight: only then does the connection forward packets.
    pub listening: Arc<std::sync::atomic::AtomicBool>,
    pub wake: Arc<Notify>,
    pub cancel: CancellationToken,
}

enum Step {
    /// The command reached a final status (or the connection is gone).
    Finished,
    /// The store could not be updated; try again later.
    Stalled,
}

/// How a received packet relates to the command in flight.
enum Answer {
    RequestReply(String),
    ExecResult(String),
    NotifyReply,
    Data(PacketInfo),
    Other,
}

fn classify(p: PacketInfo, cn: &str, qn: &str) -> Answer {
    let ours = p.qn.as_deref() == Some(qn);
    match p.cn.as_str() {
        "9011" if ours => Answer::RequestReply(p.key("QnRtn").unwrap_or("").to_string()),
        "9012" if ours => Answer::ExecResult(p.key("ExeRtn").unwrap_or("").to_string()),
        "9013" if ours => Answer::NotifyReply,
        c if c == cn && !c.starts_with("90") && p.st.as_deref() != Some("91") => Answer::Data(p),
        _ => Answer::Other,
    }
}

fn clip(s: String) -> String {
    if s.len() <= 400 {
        return s;
    }
    let mut end = 400;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

impl Driver {
    /// Run until the connection ends: ask for the device's time once, then execute open
    /// commands one at a time, oldest first.
    pub async fn run(mut self) {
        if self.cfg.time_check_on_connect {
            let slot = self.clock_pacer.slot();
            tokio::select! {
                _ = self.cancel.cancelled() => return,
                _ = tokio::time::sleep_until(slot) => {}
            }
            self.queue_time_check().await;
        }
        loop {
            if self.cancel.is_cancelled() {
                return;
            }
            let mut open = match self.store.open_commands(&self.to.mn).await {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, "cannot read open commands");
                    Vec::new()
                }
            };
            // An operator's command goes before the platform's own (history requests, clock
            // checks), oldest first within each.
            let next = match open.iter().position(|c| c.new.origin.starts_with(ORIGIN_OPERATOR)) {
                Some(i) => Some(open.swap_remove(i)),
                None => open.into_iter().next(),
            };
            let step = match next {
                Some(cmd) => {
                    self.listening.store(true, Ordering::Release);
                    let step = self.execute(cmd).await;
                    self.listening.store(false, Ordering::Release);
                    step
                }
                None => Step::Stalled,
            };
            if matches!(step, Step::Finished) {
                continue;
            }
            // Wait for a wake-up (command queued in-process, or seen by the gateway's poll of
            // recent commands), the device's own slow poll, or the end.
            let poll = tokio::time::sleep(self.cfg.command_poll * DEVICE_POLL_FACTOR);
            tokio::pin!(poll);
            loop {
                tokio::select! {
                    _ = self.cancel.cancelled() => return,
                    _ = self.wake.notified() => break,
                    _ = &mut poll => break,
                    r = self.replies.recv() => if r.is_none() { return },
                }
            }
        }
    }

    async fn queue_time_check(&self) {
        let open = self.store.open_commands(&self.to.mn).await.unwrap_or_default();
        if open.iter().any(|c| c.new.cn == "1011" && c.new.origin == ORIGIN_CLOCK) {
            return;
        }
        match queue_command_via(&self.writer, &self.to.mn, "1011", &[], ORIGIN_CLOCK).await {
            Ok(id) => debug!(command = id, "queued time request 1011"),
            Err(e) => warn!(error = %e, "cannot queue time request"),
        }
    }

    async fn update(
        &self,
        cmd: &Command,
        status: CommandStatus,
        qn: &str,
        attempts: u32,
        detail: Option<&str>,
    ) -> bool {
        self.stats.command(status.name());
        match self.writer.update_command(cmd.id, status, Some(qn), attempts, detail, now_ms()).await {
            Ok(()) => true,
            Err(e) => {
                warn!(command = cmd.id, status = status.name(), error = %e, "cannot update command");
                false
            }
        }
    }

    async fn finish(
        &self,
        cmd: &Command,
        status: CommandStatus,
        qn: &str,
        attempts: u32,
        detail: String,
    ) -> Step {
        let detail = clip(detail);
        info!(command = cmd.id, cn = %cmd.new.cn, status = status.name(), detail = %detail, "command finished");
        if self.update(cmd, status, qn, attempts, Some(&detail)).await {
            Step::Finished
        } else {
            Step::Stalled
        }
    }

    /// Wait for the next packet until `deadline`: `None` on timeout, `Err` when the connection
    /// is gone.
    async fn next_reply(&mut self, deadline: Instant) -> Result<Option<PacketInfo>, ()> {
        tokio::select! {
            _ = self.cancel.cancelled() => Err(()),
            r = tokio::time::timeout_at(deadline, self.replies.recv()) => match r {
                Err(_) => Ok(None),
                Ok(None) => Err(()),
                Ok(Some(p)) => Ok(Some(*p)),
            },
        }
    }

    async fn execute(&mut self, cmd: Command) -> Step {
        let qn = fresh_qn();
        let timeout = self.cfg.command_timeout;
        let tries = self.cfg.command_retries + 1;
        let mut attempts = cmd.attempts;
        let cn = cmd.new.cn.clone();
        let mut sends = 0;
        let mut data: Vec<String> = Vec::new();
        // Request phase: send, wait for 9011; re-send on timeout.
        'request: loop {
            if sends >= tries {
                let msg =
                    format!("no request reply (9011) after {sends} sends, {} s apart", timeout.as_secs_f64());
                return self.finish(&cmd, CommandStatus::TimedOut, &qn, attempts, msg).await;
            }
            sends += 1;
            attempts += 1;
            let packet = command_packet(&cmd, &qn, &self.to, now_ms());
            if self.outbox.send(packet).await.is_err() {
                return Step::Finished;
            }
            info!(command = cmd.id, cn = %cn, qn = %qn, attempt = attempts, "command sent");
            if !self.update(&cmd, CommandStatus::Sent, &qn, attempts, None).await {
                return Step::Stalled;
            }
            if is_notification(&cn) {
                return self
                    .finish(&cmd, CommandStatus::Done, &qn, attempts, "notification sent".into())
                    .await;
            }
            let deadline = Instant::now() + timeout;
            loop {
                let Ok(reply) = self.next_reply(deadline).await else { return Step::Finished };
                let Some(p) = reply else { continue 'request };
                match classify(p, &cn, &qn) {
                    Answer::RequestReply(r) if r == "1" => {
                        if ends_at_request_reply(&cn) {
                            let msg = "accepted (QnRtn=1); the device now uploads".to_string();
                            return self.finish(&cmd, CommandStatus::Done, &qn, attempts, msg).await;
                        }
                        if !self.update(&cmd, CommandStatus::Accepted, &qn, attempts, Some("QnRtn=1")).await {
                            return Step::Stalled;
                        }
                        break 'request;
                    }
                    Answer::RequestReply(r) => {
                        let meaning = qn_rtn_meaning(&r, Lang::En).unwrap_or("unknown code");
                        let msg = format!("refused: QnRtn={r} ({meaning})");
                        return self.finish(&cmd, CommandStatus::Failed, &qn, attempts, msg).await;
                    }
                    Answer::ExecResult(r) => return self.exec_result(&cmd, &qn, attempts, &r, &data).await,
                    Answer::NotifyReply => {
                        return self
                            .finish(&cmd, CommandStatus::Done, &qn, attempts, "notified (9013)".into())
                            .await;
                    }
                    Answer::Data(p) => {
                        // The answer came without a 9011 first: take it as accepted.
                        data.push(p.cp);
                        if !self.update(&cmd, CommandStatus::Accepted, &qn, attempts, None).await {
                            return Step::Stalled;
                        }
                        break 'request;
                    }
                    Answer::Other => {}
                }
            }
        }
        // Execution phase: uploads of the command's CN (each restarts the timeout), then 9012.
        let mut deadline = Instant::now() + timeout;
        loop {
            let Ok(reply) = self.next_reply(deadline).await else { return Step::Finished };
            let Some(p) = reply else {
                let msg = format!(
                    "no execution result (9012) within {} s{}",
                    timeout.as_secs_f64(),
                    if data.is_empty() { String::new() } else { format!(" after {} uploads", data.len()) }
                );
                return self.finish(&cmd, CommandStatus::TimedOut, &qn, attempts, msg).await;
            };
            match classify(p, &cn, &qn) {
                Answer::ExecResult(r) => return self.exec_result(&cmd, &qn, attempts, &r, &data).await,
                Answer::Data(p) => {
                    data.push(p.cp);
                    deadline = Instant::now() + timeout;
                }
                _ => {}
            }
        }
    }

    /// The device confirmed a 1072: from now on it sends the new password, so the registry and
    /// the gateway's cache take it (else its data would be refused as a wrong password).
    async fn adopt_password(&mut self, cmd: &Command) -> String {
        let new_pw = cmd.new.cp.split(';').find_map(|kv| kv.strip_prefix("NewPW=")).unwrap_or("");
        if new_pw.is_empty() {
            return "; no NewPW in the command, registry unchanged".into();
        }
        match self.store.set_device_password(&self.to.mn, new_pw).await {
            Ok(true) => {
                self.directory.set_password(&self.to.mn, new_pw);
                self.to.pw = new_pw.to_string();
                info!(mn = %self.to.mn, "device password changed by 1072; registry updated");
                "; registry password updated".into()
            }
            Ok(false) => "; device no longer registered, password not stored".into(),
            Err(e) => {
                warn!(mn = %self.to.mn, error = %e, "device accepted 1072 but the new password could not be stored");
                format!("; the new password could not be stored: {e}")
            }
        }
    }

    async fn exec_result(
        &mut self,
        cmd: &Command,
        qn: &str,
        attempts: u32,
        r: &str,
        data: &[String],
    ) -> Step {
        let meaning = exe_rtn_meaning(r, Lang::En).unwrap_or("unknown code");
        let answer = match data {
            [] => String::new(),
            [one] => format!("; answer: {one}"),
            [.., last] => format!("; {} uploads, last: {last}", data.len()),
        };
        let (status, msg) = if r == "1" {
            let mut msg = format!("ExeRtn=1 ({meaning}){answer}");
            if cmd.new.cn == "1072" {
                msg.push_str(&self.adopt_password(cmd).await);
            }
            (CommandStatus::Done, msg)
        } else {
            (CommandStatus::Failed, format!("ExeRtn={r} ({meaning}){answer}"))
        };
        self.finish(cmd, status, qn, attempts, msg).await
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn pacer_spaces_starts_at_its_rate() {
        let p = super::Pacer::new(10.0);
        let first = p.slot();
        let ms: Vec<u128> = (0..4).map(|_| (p.slot() - first).as_millis()).collect();
        assert_eq!(ms, vec![100, 200, 300, 400]);
        // After an idle spell the next caller starts at once, not at the old schedule.
        tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        let before = tokio::time::Instant::now();
        let slot = p.slot();
        assert!(slot >= before && slot <= tokio::time::Instant::now());
    }

    use super::*;

    fn entry(min: u32) -> DeviceEntry {
        DeviceEntry {
            mn: "M".into(),
            password: "p".into(),
            policy: Default::default(),
            version: Version::V2017,
            minute_interval_min: min,
        }
    }

    #[test]
    fn gap_after_outage() {
        let l = LatestTimes::default();
        let m = 60_000;
        assert_eq!(l.observe("M", "2051", 10 * m, m, 1 << 40), None);
        assert_eq!(l.observe("M", "2051", 11 * m, m, 1 << 40), None);
        assert_eq!(l.observe("M", "2051", 16 * m, m, 1 << 40), Some(Gap { first: 12 * m, last: 15 * m }));
        // Older records (history answers) neither move the latest nor make gaps.
        assert_eq!(l.observe("M", "2051", 13 * m, m, 1 << 40), None);
        assert_eq!(l.observe("M", "2051", 17 * m, m, 1 << 40), None);
        // The span is capped, keeping the grid.
        assert_eq!(l.observe("M", "2051", 100 * m, m, 10 * m), Some(Gap { first: 89 * m, last: 99 * m }));
        assert_eq!(interval_ms("2051", &entry(5)), Some(5 * m));
        assert_eq!(interval_ms("2011", &entry(5)), None);
    }

    #[test]
    fn qns_are_unique_and_cp_round_trips() {
        let a = fresh_qn();
        let b = fresh_qn();
        assert_ne!(a, b);
        assert_eq!(a.len(), 17);
        let cp = cp_string(&[("BeginTime", "20240501100100"), ("EndTime", "20240501100400")]).unwrap();
        assert_eq!(cp, "BeginTime=20240501100100;EndTime=20240501100400");
        assert!(cp_string(&[("a;b", "1")]).is_err());
        let cmd = Command {
            id: 1,
            new: NewCommand {
                mn: "M".into(),
                cn: "2051".into(),
                cp,
                origin: ORIGIN_GAP.into(),
                created_at: 0,
            },
            qn: None,
            status: CommandStatus::Queued,
            attempts: 0,
            updated_at: 0,
            detail: None,
        };
        let to = Addressee { mn: "M".into(), pw: "p".into(), st: "32".into(), version: Version::V2017 };
        let bytes = command_packet(&cmd, "20240501100500000", &to, 0);
        let s = String::from_utf8(bytes).unwrap();
        assert!(
            s.contains("QN=20240501100500000;ST=32;CN=2051;PW=p;MN=M;Flag=5;CP=&&BeginTime=20240501100100;EndTime=20240501100400&&"),
            "{s}"
        );
    }

    #[test]
    fn a_set_time_command_carries_the_time_it_is_sent_at() {
        for origin in [ORIGIN_CLOCK, "operator:officer"] {
            let cmd = Command {
                id: 1,
                new: NewCommand {
                    mn: "M".into(),
                    cn: "1012".into(),
                    cp: "SystemTime=20240501100000".into(),
                    origin: origin.into(),
                    created_at: 0,
                },
                qn: None,
                status: CommandStatus::Queued,
                attempts: 0,
                updated_at: 0,
                detail: None,
            };
            let to = Addressee { mn: "M".into(), pw: "p".into(), st: "32".into(), version: Version::V2017 };
            // 2024-05-01 12:30:00 China time.
            let sent_at = 1_714_537_800_000;
            let s = String::from_utf8(command_packet(&cmd, "20240501123000000", &to, sent_at)).unwrap();
            assert!(s.contains("CP=&&SystemTime=20240501123000&&"), "{origin}: {s}");
        }
    }
}
