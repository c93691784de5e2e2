//! One device connection: a reader that frames, judges and submits what arrives, and a writer
//! that sends each acknowledgement once its frame committed (in arrival order) and the platform's
//! commands in between.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use fenhe_core::Verdict;
use fenhe_store::{IngestItem, ItemOutcome, StoreError};
use hj212::split::Merger;
use hj212::{Event, FrameConfig, Framer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, Span, debug, info, info_span, warn};

use crate::commands::{self, Addressee, Driver, ORIGIN_CLOCK, ORIGIN_GAP, now_ms, server_time};
use crate::directory::DeviceEntry;
use crate::judge::{JudgeCtx, Judged, PacketInfo, judge_frame, judge_rate_limited, judge_rejected};
use crate::ratelimit::TokenBucket;
use crate::stats::names;
use crate::{Online, Shared};

/// Devices one connection may speak for (a concentrator relays several loggers); beyond this,
/// frames are still ingested but no commands are sent.
const MAX_DEVICES_PER_CONNECTION: usize = 16;

/// A frame on its way to the store.
struct Pending {
    commit: JoinHandle<Result<ItemOutcome, StoreError>>,
    reply: Option<Vec<u8>>,
    received: Instant,
    verdict: Verdict,
    reason_kind: Option<&'static str>,
    // Boxed, as the driver's replies: a channel keeps blocks of 32 slots per connection.
    device: Option<Box<(Arc<DeviceEntry>, PacketInfo)>>,
    has_measurements: bool,
    /// The command driver of the device, which follows the answers to its commands.
    link: Option<Link>,
}

/// A device this connection speaks for.
#[derive(Clone)]
struct Link {
    replies: mpsc::Sender<Box<PacketInfo>>,
    /// The driver has a command in flight and follows the device's packets; otherwise they are
    /// not forwarded (no copy, no wake-up per packet).
    listening: Arc<std::sync::atomic::AtomicBool>,
}

pub(crate) async fn serve(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    shutdown: CancellationToken,
) {
    let span = info_span!("conn", peer = %peer, mn = tracing::field::Empty);
    shared.stats.connection_opened();
    async {
        debug!("connected");
        let _ = stream.set_nodelay(true);
        let peer_s = peer.to_string();
        let (rd, wr) = stream.into_split();
        let (pending_tx, pending_rx) = mpsc::channel(shared.cfg.max_in_flight.max(1));
        let (out_tx, out_rx) = mpsc::channel(16);
        let writer = tokio::spawn(write_loop(shared.clone(), wr, pending_rx, out_rx).in_current_span());
        let devices = CancellationToken::new();
        let mut links: HashMap<String, Link> = HashMap::new();
        read_loop(&shared, rd, &peer_s, &pending_tx, &out_tx, &devices, &mut links, &shutdown).await;
        // Stop the command drivers; let the writer finish what was submitted.
        devices.cancel();
        drop(pending_tx);
        drop(out_tx);
        let _ = writer.await;
        let mut online = shared.online.lock().unwrap_or_else(|e| e.into_inner());
        for mn in links.keys() {
            if online.get(mn).is_some_and(|o| o.peer == peer_s) {
                online.remove(mn);
            }
            shared.stats.device_offline(mn, &peer_s);
        }
        debug!("closed");
    }
    .instrument(span)
    .await;
    shared.stats.connection_closed();
}

/// What a framer event became, with the framer's borrow released.
enum Owned {
    Judged(Box<Judged>),
    Rejected(hj212::Error, Vec<u8>),
}

#[allow(clippy::too_many_arguments)]
async fn read_loop(
    shared: &Arc<Shared>,
    mut rd: tokio::net::tcp::OwnedReadHalf,
    peer: &str,
    pending: &mpsc::Sender<Pending>,
    outbox: &mpsc::Sender<Vec<u8>>,
    devices: &CancellationToken,
    links: &mut HashMap<String, Link>,
    shutdown: &CancellationToken,
) {
    let cfg = &shared.cfg;
    // Frame permissively; each frame is then judged by its device's own policy.
    let frame_cfg =
        FrameConfig { crc_mode: hj212::CrcMode::Any, max_segment_len: cfg.max_segment_len.clamp(1, 9999) };
    // Small at first: most connections are idle most of the time; frames grow it when needed.
    let mut framer = Framer::with_capacity(frame_cfg, 2048);
    let mut merger = Merger::new(cfg.max_pending_splits);
    let mut bucket = TokenBucket::new(cfg.frame_rate, cfg.frame_burst, Instant::now());
    let mut pushed: u64 = 0;
    let mut eof = false;
    while !eof {
        let n = tokio::select! {
            biased;
            _ = shutdown.cancelled() => {
                debug!("shutting down: no more reads");
                return;
            }
            r = tokio::time::timeout(cfg.idle_timeout, read_into(&mut rd, &mut framer, cfg.read_buffer.max(64))) => match r {
                Err(_) => {
                    info!(idle_s = cfg.idle_timeout.as_secs_f64(), "idle; closing");
                    return;
                }
                Ok(Err(e)) => {
                    debug!(error = %e, "read failed");
                    0
                }
                Ok(Ok(n)) => n,
            },
        };
        if n == 0 {
            eof = true;
            framer.finish();
        } else {
            pushed += n as u64;
            shared.stats.bytes(n);
        }
        let received = Instant::now();
        let received_at = now_ms();
        let mut judged = Vec::new();
        loop {
            let mut ctx = JudgeCtx {
                directory: &shared.directory,
                default_policy: cfg.default_policy,
                merger: &mut merger,
                peer,
                received_at,
            };
            let owned = match framer.next() {
                None => break,
                Some(Event::Frame(raw)) => {
                    if bucket.allow(received) {
                        Owned::Judged(Box::new(judge_frame(&raw, &mut ctx)))
                    } else {
                        Owned::Judged(Box::new(judge_rate_limited(raw.bytes, cfg.frame_rate, &ctx)))
                    }
                }
                Some(Event::Rejected { error, bytes }) => {
                    if bucket.allow(received) {
                        Owned::Rejected(error, bytes.to_vec())
                    } else {
                        Owned::Judged(Box::new(judge_rate_limited(bytes, cfg.frame_rate, &ctx)))
                    }
                }
            };
            let j = match owned {
                Owned::Judged(j) => *j,
                Owned::Rejected(error, bytes) => {
                    let start = pushed - framer.pending() as u64 - bytes.len() as u64;
                    judge_rejected(&error, &bytes, start, &ctx)
                }
            };
            judged.push(j);
        }
        for j in judged {
            if let Some(reason) = &j.record.reason {
                debug!(mn = j.record.mn.as_deref().unwrap_or(""), reason = %reason, "frame not accepted");
            }
            let link = match &j.device {
                Some((dev, info)) => link_for(shared, dev, info, peer, outbox, devices, links),
                None => None,
            };
            let verdict = j.record.verdict;
            let has_measurements = !j.measurements.is_empty();
            let item = IngestItem { frame: j.record, measurements: j.measurements };
            let commit = submit_in_order(shared, item).await;
            let p = Pending {
                commit,
                reply: j.reply,
                received,
                verdict,
                reason_kind: j.reason_kind,
                device: j.device.map(Box::new),
                has_measurements,
                link,
            };
            if pending.send(p).await.is_err() {
                return;
            }
        }
    }
}

thread_local! {
    /// The read buffer of every connection served on this thread. A read never awaits while it
    /// holds the buffer, so one per thread is enough; an idle connection holds none. (A zeroed
    /// buffer allocated and freed per read made glibc consolidate its free lists on every read:
    /// with the per-frame item lists, ~15 % of the server's time at 7,000 packets/s.)
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Wait until the socket is readable, then read once (at most `len` bytes) into this thread's
/// read buffer and push what came into `framer`.
async fn read_into(
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    framer: &mut Framer,
    len: usize,
) -> std::io::Result<usize> {
    loop {
        rd.readable().await?;
        let read: std::io::Result<usize> = READ_BUF.with_borrow_mut(|buf| {
            if buf.len() < len {
                buf.resize(len, 0);
            }
            let n = rd.try_read(&mut buf[..len])?;
            framer.push(&buf[..n]);
            Ok(n)
        });
        match read {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Start a submission so that the writer queues it before any later one of this connection:
/// the first poll enqueues it (or takes a place in the queue's fair wait list when it is full),
/// then a task waits for the commit while the connection reads on.
async fn submit_in_order(shared: &Shared, item: IngestItem) -> JoinHandle<Result<ItemOutcome, StoreError>> {
    let mut fut = shared.sink.submit(item);
    match std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await {
        Poll::Ready(r) => tokio::spawn(std::future::ready(r)),
        Poll::Pending => tokio::spawn(fut),
    }
}

/// The command link of an authenticated device on this connection, started on its first frame.
fn link_for(
    shared: &Arc<Shared>,
    dev: &Arc<DeviceEntry>,
    info: &PacketInfo,
    peer: &str,
    outbox: &mpsc::Sender<Vec<u8>>,
    devices: &CancellationToken,
    links: &mut HashMap<String, Link>,
) -> Option<Link> {
    if let Some(l) = links.get(&info.mn) {
        return Some(l.clone());
    }
    if links.len() >= MAX_DEVICES_PER_CONNECTION {
        return None;
    }
    if links.is_empty() {
        Span::current().record("mn", info.mn.as_str());
    }
    let since = now_ms();
    info!(mn = %info.mn, "device online");
    shared.stats.device_online(&info.mn, peer, since);
    let (tx, rx) = mpsc::channel(64);
    let wake = Arc::new(Notify::new());
    let listening = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let cancel = devices.child_token();
    {
        let mut online = shared.online.lock().unwrap_or_else(|e| e.into_inner());
        // The newest connection of a device is the one commands go to.
        if let Some(old) = online.insert(
            info.mn.clone(),
            Online { peer: peer.to_string(), wake: wake.clone(), cancel: cancel.clone() },
        ) {
            old.cancel.cancel();
        }
    }
    let driver = Driver {
        clock_pacer: shared.clock_pacer.clone(),
        store: shared.store.clone(),
        directory: shared.directory.clone(),
        cfg: shared.cfg.clone(),
        stats: shared.stats.clone(),
        to: Addressee {
            mn: info.mn.clone(),
            pw: dev.password.clone(),
            st: info.st.clone().filter(|s| s != "91").unwrap_or_else(|| "32".into()),
            version: dev.version,
        },
        outbox: outbox.clone(),
        replies: rx,
        listening: listening.clone(),
        wake,
        cancel,
    };
    tokio::spawn(driver.run().instrument(info_span!("device", mn = %info.mn)));
    let link = Link { replies: tx, listening };
    links.insert(info.mn.clone(), link.clone());
    Some(link)
}

async fn write_all(wr: &mut OwnedWriteHalf, bytes: &[u8], shared: &Shared) -> bool {
    match tokio::time::timeout(shared.cfg.write_timeout, wr.write_all(bytes)).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            debug!(error = %e, "write failed");
            false
        }
        Err(_) => {
            warn!("write timed out; no more writes on this connection");
            false
        }
    }
}

async fn write_loop(
    shared: Arc<Shared>,
    mut wr: OwnedWriteHalf,
    mut pending: mpsc::Receiver<Pending>,
    mut outbox: mpsc::Receiver<Vec<u8>>,
) {
    let mut writable = true;
    let mut outbox_open = true;
    loop {
        tokio::select! {
            biased;
            p = pending.recv() => {
                let Some(p) = p else { break };
                let received = p.received;
                if let Some(reply) = committed(&shared, p).await {
                    if writable {
                        writable = write_all(&mut wr, &reply, &shared).await;
                        if writable {
                            metrics::histogram!(names::ACK_SECONDS).record(received.elapsed().as_secs_f64());
                        }
                    }
                }
            }
            m = outbox.recv(), if outbox_open => match m {
                Some(bytes) if writable => writable = write_all(&mut wr, &bytes, &shared).await,
                Some(_) => {}
                None => outbox_open = false,
            },
        }
    }
    if writable {
        let _ = wr.shutdown().await;
    }
}

/// Wait for a frame's commit and do what follows it; returns the reply to send, if one is owed.
async fn committed(shared: &Arc<Shared>, p: Pending) -> Option<Vec<u8>> {
    let result = match p.commit.await {
        Ok(r) => r,
        Err(e) => Err(StoreError::Corrupt(format!("submission task failed: {e}"))),
    };
    // The driver follows replies whether or not their frame could be stored.
    if let (Some(link), Some((_, info))) = (&p.link, p.device.as_deref())
        && link.listening.load(std::sync::atomic::Ordering::Acquire)
    {
        let _ = link.replies.try_send(Box::new(info.clone()));
    }
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            shared.stats.store_error();
            warn!(error = %e, "store did not commit the frame; no acknowledgement");
            return None;
        }
    };
    let verdict = if p.verdict == Verdict::Accepted
        && outcome.duplicates > 0
        && outcome.inserted == 0
        && outcome.revisions == 0
    {
        Verdict::Duplicate
    } else {
        p.verdict
    };
    shared.stats.frame(verdict, p.reason_kind);
    if let Some((dev, info)) = p.device.as_deref() {
        after_commit(shared, dev, info, p.has_measurements);
    }
    p.reply
}

/// Platform reactions to a committed frame: gap detection and clock checks.
fn after_commit(shared: &Arc<Shared>, dev: &Arc<DeviceEntry>, info: &PacketInfo, has_measurements: bool) {
    let cfg = &shared.cfg;
    if cfg.gap_detection && has_measurements && info.complete {
        if let (Some(interval), Some(t)) = (commands::interval_ms(&info.cn, dev), info.data_time) {
            let span = cfg.gap_max_span.as_millis().min(i64::MAX as u128) as i64;
            if let Some(gap) = shared.latest.observe(&info.mn, &info.cn, t.unix_millis_cst(), interval, span)
            {
                let begin = server_time(gap.first).compact();
                let end = server_time(gap.last).compact();
                info!(mn = %info.mn, cn = %info.cn, begin = %begin, end = %end, "records missing; requesting history");
                let items = vec![("BeginTime".to_string(), begin), ("EndTime".to_string(), end)];
                queue_and_wake(shared, &info.mn, &info.cn, items, ORIGIN_GAP, None);
            }
        }
    }
    if info.cn == "1013" {
        // A time calibration request (C.4): answered with 9013 above, then the clock is set.
        info!(mn = %info.mn, "device asks for time calibration; setting its clock");
        queue_set_time(shared, info);
    }
    if info.cn == "1011" && info.st.as_deref() != Some("91") {
        if let Some(t) = info.key("SystemTime").and_then(|s| hj212::DateTime::parse(s).ok()) {
            let skew = t.0.unix_millis_cst() - now_ms();
            let max = cfg.clock_skew_max.as_millis().min(i64::MAX as u128) as i64;
            if skew.abs() > max {
                info!(mn = %info.mn, skew_s = skew / 1000, "device clock is off; setting it");
                queue_set_time(shared, info);
            } else {
                debug!(mn = %info.mn, skew_ms = skew, "device clock is fine");
            }
        }
    }
}

/// Queue a 1012 (the time is filled in when it is sent), for the instrument of `PolId` if named.
fn queue_set_time(shared: &Arc<Shared>, info: &PacketInfo) {
    let mut items = Vec::new();
    if let Some(p) = info.key("PolId") {
        items.push(("PolId".to_string(), p.to_string()));
    }
    items.push(("SystemTime".to_string(), server_time(now_ms()).compact()));
    queue_and_wake(shared, &info.mn, "1012", items, ORIGIN_CLOCK, Some("1012"));
}

/// Queue a platform command off the writer's path and wake the device's driver. With `unless`,
/// nothing is queued while a command of that CN and origin is still open.
fn queue_and_wake(
    shared: &Arc<Shared>,
    mn: &str,
    cn: &str,
    items: Vec<(String, String)>,
    origin: &'static str,
    unless: Option<&'static str>,
) {
    let shared = shared.clone();
    let (mn, cn) = (mn.to_string(), cn.to_string());
    tokio::spawn(
        async move {
            if let Some(u) = unless {
                let open = shared.store.open_commands(&mn).await.unwrap_or_default();
                if open.iter().any(|c| c.new.cn == u && c.new.origin == origin) {
                    return;
                }
            }
            let refs: Vec<(&str, &str)> = items.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            match commands::queue_command_from(&*shared.store, &mn, &cn, &refs, origin).await {
                Ok(id) => {
                    info!(command = id, cn = %cn, origin, "command queued");
                    shared.wake(&mn);
                }
                Err(e) => warn!(error = %e, cn = %cn, "cannot queue command"),
            }
        }
        .in_current_span(),
    );
}
