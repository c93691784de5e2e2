//! One device connection, as two types (mini-redis's `Connection`/`Handler` split):
//! [`Connection`] reads the socket and frames and judges what arrives (the shared
//! [`JudgeLoop`]); [`Session`] holds the rest of the connection's state (its devices, their
//! command drivers, the way to the write loop) and handles each judged frame: it queues it with
//! the writer and passes the writer's ticket on. The write loop awaits the tickets in arrival
//! order and sends each acknowledgement once its frame committed, and the platform's commands in
//! between.

use std::cell::RefCell;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use fenhe_core::Verdict;
use fenhe_core::china_time::now_ms;
use fenhe_store::writer::Ticket;
use fenhe_store::{IngestItem, StoreError};
use hj212::FrameConfig;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, Span, debug, info, info_span, warn};

use crate::commands::{self, Addressee, Driver, ORIGIN_CLOCK, server_time};
use crate::diagnosis::GarbageRun;
use crate::directory::DeviceEntry;
use crate::judge::{JudgeCtx, Judged, PacketInfo};
use crate::judge_loop::JudgeLoop;
use crate::live_stats::names;
use crate::ratelimit::TokenBucket;
use crate::refusals::Refusal;
use crate::strangers;
use crate::{Online, Shared};

/// Devices one connection may speak for (a concentrator relays several loggers); beyond this,
/// frames are still ingested but no commands are sent.
const MAX_DEVICES_PER_CONNECTION: usize = 16;

/// A run of garbage from a stranger is recorded when it ends, or this long after it began (and
/// then again), so it is on record promptly while one record stands for a flood.
const GARBAGE_RECORD_EVERY: Duration = Duration::from_secs(1);

/// A frame queued with the writer, on its way to the write loop.
struct Pending {
    place: Place,
    reply: Option<Vec<u8>>,
    received: Instant,
    verdict: Verdict,
    reason_kind: Option<&'static str>,
    device: Option<(Arc<DeviceEntry>, PacketInfo)>,
    has_measurements: bool,
    /// The command driver of the device, which follows the answers to its commands.
    link: Option<Link>,
}

/// Where a frame stands with the writer's queue.
enum Place {
    /// Queued (or refused because the writer is gone): the ticket to wait on.
    Queued(Result<Ticket, StoreError>),
    /// Waiting for room in the full queue, in its fair wait list: a task finishes the enqueue
    /// while the connection reads on (bounded by the pending channel's `max_in_flight`).
    Waiting(tokio::task::JoinHandle<Result<Ticket, StoreError>>),
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
    stranger: strangers::Ticket,
    shutdown: CancellationToken,
) {
    let span = info_span!("conn", peer = %peer, mn = tracing::field::Empty);
    shared.stats.connection_opened();
    async {
        debug!("connected");
        let _ = stream.set_nodelay(true);
        let (rd, wr) = stream.into_split();
        let (pending_tx, pending_rx) = mpsc::channel(shared.cfg.max_in_flight.max(1));
        let (out_tx, out_rx) = mpsc::channel(16);
        let writer = tokio::spawn(write_loop(shared.clone(), wr, pending_rx, out_rx).in_current_span());
        let mut session = Session {
            shared: shared.clone(),
            addr: peer,
            peer: peer.to_string(),
            pending: pending_tx,
            outbox: out_tx,
            devices: CancellationToken::new(),
            links: HashMap::new(),
            stranger: Some(stranger.id),
            garbage: None,
        };
        session.run(Connection::new(rd, &shared, stranger.evicted), &shutdown).await;
        // Stop the command drivers; let the write loop finish what was queued.
        session.close();
        let _ = writer.await;
        debug!("closed");
    }
    .instrument(span)
    .await;
    shared.stats.connection_closed();
}

/// The reading side: the socket, the framer and split merger, the frame-rate bucket, and the
/// deadlines that bound what a connection may hold without completing anything.
struct Connection {
    rd: OwnedReadHalf,
    frames: JudgeLoop,
    bucket: TokenBucket,
    read_len: usize,
    idle_timeout: Duration,
    frame_deadline: Duration,
    /// When the bytes the framer holds (a partial frame or a run of garbage) began to arrive.
    partial_since: Option<Instant>,
    /// Until it authenticates: when the connection must have done so.
    auth_by: Option<Instant>,
    /// Cancelled when the connection, still a stranger, is closed to make room.
    evicted: CancellationToken,
}

/// The bounds on a connection's split packets, within the gateway's shared budget.
fn split_limits(shared: &Shared) -> hj212::split::MergeLimits {
    let cfg = &shared.cfg;
    hj212::split::MergeLimits {
        max_parts: cfg.max_split_parts,
        max_device_bytes: cfg.split_bytes_per_device,
        max_age_ms: cfg.split_max_age.as_millis().min(i64::MAX as u128) as i64,
        shared: Some(shared.split_budget.clone()),
    }
}

/// What one read came to.
enum Read {
    /// Bytes were framed.
    Data(usize),
    /// The stream ended (or failed): what is buffered has been framed as the last events.
    End,
    /// Nothing arrived within the idle timeout, the gateway is stopping, or the connection was
    /// closed to make room for others.
    Stop,
    /// A deadline passed: the connection is closed for it.
    Expired(Refusal),
    /// Nothing yet, but the record of the run of garbage in progress is due.
    FlushDue,
}

impl Connection {
    fn new(rd: OwnedReadHalf, shared: &Shared, evicted: CancellationToken) -> Self {
        let cfg = &shared.cfg;
        // Frame permissively; each frame is then judged by its device's own policy.
        let frame = FrameConfig {
            crc_mode: hj212::CrcMode::Any,
            max_segment_len: cfg.max_segment_len.clamp(1, 9999),
        };
        Connection {
            rd,
            // Small at first: most connections are idle most of the time; frames grow it when needed.
            frames: JudgeLoop::with_limits(frame, cfg.max_pending_splits, split_limits(shared), 2048),
            bucket: TokenBucket::new(cfg.frame_rate, cfg.frame_burst, Instant::now()),
            read_len: cfg.read_buffer.max(64),
            idle_timeout: cfg.idle_timeout,
            frame_deadline: cfg.frame_deadline,
            partial_since: None,
            auth_by: Some(Instant::now() + cfg.auth_deadline),
            evicted,
        }
    }

    /// The earliest deadline now: idle, the frame in progress, authentication; `flush_at` (the
    /// record of a run of garbage is due) comes back as `Some(None)`.
    fn deadline(&self, flush_at: Option<Instant>) -> (Instant, Option<Option<Refusal>>) {
        let mut at = (Instant::now() + self.idle_timeout, None);
        if let Some(t) = flush_at
            && t < at.0
        {
            at = (t, Some(None));
        }
        if let Some(since) = self.partial_since
            && since + self.frame_deadline < at.0
        {
            at = (since + self.frame_deadline, Some(Some(Refusal::FrameDeadline)));
        }
        if let Some(by) = self.auth_by
            && by < at.0
        {
            at = (by, Some(Some(Refusal::AuthDeadline)));
        }
        at
    }

    /// Read once into the framer; or, with `flush_at`, stop waiting then (`Read::FlushDue`).
    async fn read(&mut self, shutdown: &CancellationToken, flush_at: Option<Instant>) -> Read {
        let (deadline, expiry) = self.deadline(flush_at);
        let r = tokio::select! {
            biased;
            _ = shutdown.cancelled() => {
                debug!("shutting down: no more reads");
                return Read::Stop;
            }
            _ = self.evicted.cancelled() => {
                debug!("closed to make room for other connections");
                return Read::Stop;
            }
            r = tokio::time::timeout_at(deadline, read_into(&mut self.rd, &mut self.frames, self.read_len)) => r,
        };
        match r {
            Err(_) => match expiry {
                Some(None) => Read::FlushDue,
                Some(Some(why)) => {
                    debug!(reason = why.name(), "deadline passed; closing");
                    Read::Expired(why)
                }
                None => {
                    info!(idle_s = self.idle_timeout.as_secs_f64(), "idle; closing");
                    Read::Stop
                }
            },
            Ok(Ok(n)) if n > 0 => Read::Data(n),
            Ok(r) => {
                if let Err(e) = r {
                    debug!(error = %e, "read failed");
                }
                self.frames.finish();
                Read::End
            }
        }
    }

    /// Wait until the frame rate allows one more event. Nothing is read meanwhile, so a logger
    /// over its rate is slowed by TCP flow control instead of losing packets. False when the
    /// gateway stops or the connection is closed to make room.
    async fn pace(&mut self, shutdown: &CancellationToken) -> bool {
        let wait = self.bucket.wait(Instant::now());
        if wait.is_zero() {
            return true;
        }
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => false,
            _ = self.evicted.cancelled() => false,
            _ = tokio::time::sleep(wait) => true,
        }
    }

    /// The next framed event, judged, with the stream offset of its first byte; it takes a
    /// token of the frame rate.
    fn next_judged(&mut self, ctx: &JudgeCtx<'_>) -> Option<(u64, Judged)> {
        let next = self.frames.next_judged(ctx)?;
        self.bucket.allow(Instant::now());
        let expired = self.frames.take_expired_splits();
        if expired > 0 {
            info!(split_packets = expired, "incomplete split uploads discarded for their age");
            metrics::counter!(names::SPLITS_EXPIRED).increment(expired);
        }
        Some(next)
    }

    /// After the events of a read: start the frame deadline when bytes are left over that began
    /// in this read, and stop it when nothing is left.
    fn note_leftover(&mut self, read_at: Instant, consumed: bool) {
        if self.frames.pending_bytes() == 0 {
            self.partial_since = None;
        } else if consumed || self.partial_since.is_none() {
            self.partial_since = Some(read_at);
        }
    }

    /// The connection authenticated: no authentication deadline, and no longer evictable.
    fn authenticated(&mut self) {
        self.auth_by = None;
    }
}

/// The per-connection state and the handling of each judged frame.
struct Session {
    shared: Arc<Shared>,
    addr: SocketAddr,
    peer: String,
    /// To the write loop: frames in arrival order, with their tickets.
    /// Boxed: a channel allocates its slots 32 at a time when it is made, and a `Pending` is
    /// 136 bytes — 4.3 KiB for every connection, idle or not, against 256 bytes of pointers.
    pending: mpsc::Sender<Box<Pending>>,
    /// To the write loop: the command drivers' packets.
    outbox: mpsc::Sender<Vec<u8>>,
    /// Cancels the command drivers of this connection's devices.
    devices: CancellationToken,
    links: HashMap<String, Link>,
    /// The connection's place among the strangers until it authenticates.
    stranger: Option<u64>,
    /// The run of garbage in progress while not authenticated.
    garbage: Option<GarbageRun>,
}

impl Session {
    /// Read, judge and hand on until the stream ends, goes idle, or the gateway stops; then store
    /// the run of garbage in progress, if any.
    async fn run(&mut self, conn: Connection, shutdown: &CancellationToken) {
        self.read_frames(conn, shutdown).await;
        self.flush_garbage().await;
    }

    /// Hand on the run of garbage in progress as its one record, within the stranger budget;
    /// false once the write loop is gone.
    async fn flush_garbage(&mut self) -> bool {
        let Some(run) = self.garbage.take() else { return true };
        let j = run.finish();
        if !self.within_budget(&j) {
            return true;
        }
        Box::pin(self.handle(j, Instant::now())).await
    }

    /// Charge a stranger's record to the budgets of its address and of the day; false (and
    /// counted) when it is over one and is not to be stored.
    fn within_budget(&self, j: &Judged) -> bool {
        match self.shared.diagnosis.charge(self.addr.ip(), j.record.bytes.len(), now_ms()) {
            Ok(()) => true,
            Err(why) => {
                debug!(budget = why.name(), "stranger's record over budget; not stored");
                self.shared.stats.not_stored(why.name());
                false
            }
        }
    }

    async fn read_frames(&mut self, mut conn: Connection, shutdown: &CancellationToken) {
        loop {
            let flush_at = self.garbage.as_ref().map(|r| r.began + GARBAGE_RECORD_EVERY);
            let last = match conn.read(shutdown, flush_at).await {
                Read::FlushDue => {
                    if !self.flush_garbage().await {
                        return;
                    }
                    continue;
                }
                Read::Stop => return,
                Read::Expired(why) => {
                    self.shared.refusals.record(why, &self.shared.stats);
                    return;
                }
                Read::Data(n) => {
                    self.shared.stats.bytes(n);
                    false
                }
                Read::End => true,
            };
            let read_at = Instant::now();
            let mut consumed = false;
            loop {
                if !conn.pace(shutdown).await {
                    return;
                }
                let ctx = JudgeCtx {
                    directory: &self.shared.directory,
                    default_policy: self.shared.cfg.default_policy,
                    peer: &self.peer,
                    received_at: now_ms(),
                };
                let Some((at, j)) = conn.next_judged(&ctx) else { break };
                consumed = true;
                let guessing = j.record.verdict == Verdict::WrongPassword && self.failed_auth(&j);
                if j.device.is_some() {
                    conn.authenticated();
                    if let Some(id) = self.stranger.take() {
                        self.shared.strangers.leave(id);
                    }
                }
                if self.stranger.is_some() && j.record.verdict == Verdict::Rejected {
                    // Garbage from a connection not authenticated: one record per run.
                    match &mut self.garbage {
                        Some(run) => run.add(&j, at),
                        None => {
                            self.garbage = Some(GarbageRun::start(j, at, self.shared.cfg.garbage_keep_bytes))
                        }
                    }
                    // A run that goes on is recorded a piece at a time, so it is on record soon.
                    if self.garbage.as_ref().is_some_and(|r| r.began.elapsed() >= GARBAGE_RECORD_EVERY)
                        && !self.flush_garbage().await
                    {
                        return;
                    }
                    continue;
                }
                if !self.flush_garbage().await {
                    return;
                }
                if self.stranger.is_some() && !self.within_budget(&j) {
                    if guessing {
                        return;
                    }
                    continue;
                }
                // Boxed: an async fn's state is as large as its largest await point, and handing a
                // frame on (its judged record, the writer's queue, the write loop's channel) is
                // ~1.9 KiB that an idle connection, waiting in `read`, would otherwise carry the
                // whole time — a tenth of its memory (docs/BENCHMARKS.md). One allocation per
                // frame instead.
                if !Box::pin(self.handle(j, Instant::now())).await || guessing {
                    return;
                }
            }
            conn.note_leftover(read_at, consumed);
            if last {
                return;
            }
        }
    }

    /// Count a failed authentication against the peer's address; true when the address is
    /// refused now (this failure blocked it, or another connection's did), so the connection
    /// ends after this frame is stored.
    fn failed_auth(&self, j: &Judged) -> bool {
        let now = Instant::now();
        let mn = j.record.mn.as_deref().unwrap_or("");
        if let Some(blocked) = self.shared.guard.failed(self.addr.ip(), mn, now) {
            crate::security::raise_password_guessing(&self.shared, self.addr.ip(), blocked);
        }
        if self.shared.guard.is_blocked(self.addr.ip(), now) {
            self.shared.refusals.record(Refusal::AddressBlocked, &self.shared.stats);
            return true;
        }
        false
    }

    /// Queue one judged frame with the writer and pass its ticket to the write loop; false once
    /// the write loop is gone.
    async fn handle(&mut self, j: Judged, received: Instant) -> bool {
        if let Some(reason) = &j.record.reason {
            debug!(mn = j.record.mn.as_deref().unwrap_or(""), reason = %reason, "frame not accepted");
        }
        let link = match &j.device {
            Some((dev, info)) => self.link_for(dev, info),
            None => None,
        };
        let verdict = j.record.verdict;
        let has_measurements = !j.measurements.is_empty();
        let item = IngestItem { frame: j.record, measurements: j.measurements };
        let place = enqueue_in_order(&self.shared, item).await;
        let p = Box::new(Pending {
            place,
            reply: j.reply,
            received,
            verdict,
            reason_kind: j.reason_kind,
            device: j.device,
            has_measurements,
            link,
        });
        self.pending.send(p).await.is_ok()
    }

    /// Stop the command drivers and mark this connection's devices offline.
    fn close(self) {
        self.devices.cancel();
        let shared = &self.shared;
        if let Some(id) = self.stranger {
            shared.strangers.leave(id);
        }
        let mut online = shared.online.lock().unwrap_or_else(|e| e.into_inner());
        for mn in self.links.keys() {
            if online.get(mn).is_some_and(|o| o.peer == self.peer) {
                online.remove(mn);
            }
            shared.stats.device_offline(mn, &self.peer);
        }
    }

    /// The command link of an authenticated device on this connection, started on its first frame.
    fn link_for(&mut self, dev: &Arc<DeviceEntry>, info: &PacketInfo) -> Option<Link> {
        let (shared, peer, links) = (&self.shared, self.peer.as_str(), &mut self.links);
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
        let cancel = self.devices.child_token();
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
            writer: shared.writer.clone(),
            directory: shared.directory.clone(),
            cfg: shared.cfg.clone(),
            stats: shared.stats.clone(),
            to: Addressee {
                mn: info.mn.clone(),
                pw: dev.password.clone(),
                st: info.st.clone().filter(|s| s != "91").unwrap_or_else(|| "32".into()),
                version: dev.version,
            },
            outbox: self.outbox.clone(),
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
}

thread_local! {
    /// The read buffer of every connection served on this thread. A read never awaits while it
    /// holds the buffer, so one per thread is enough; an idle connection holds none. (A zeroed
    /// buffer allocated and freed per read made glibc consolidate its free lists on every read:
    /// with the per-frame item lists, ~15 % of the server's time at 7,000 packets/s.)
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Wait until the socket is readable, then read once (at most `len` bytes) into this thread's
/// read buffer and push what came into `frames`.
async fn read_into(rd: &mut OwnedReadHalf, frames: &mut JudgeLoop, len: usize) -> std::io::Result<usize> {
    loop {
        rd.readable().await?;
        let read: std::io::Result<usize> = READ_BUF.with_borrow_mut(|buf| {
            if buf.len() < len {
                buf.resize(len, 0);
            }
            let n = rd.try_read(&mut buf[..len])?;
            frames.push(&buf[..n]);
            Ok(n)
        });
        match read {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
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
    mut pending: mpsc::Receiver<Box<Pending>>,
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
                if let Some(reply) = committed(&shared, *p).await
                    && writable {
                        writable = write_all(&mut wr, &reply, &shared).await;
                        if writable {
                            metrics::histogram!(names::ACK_SECONDS).record(received.elapsed().as_secs_f64());
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

/// Queue `item` with the writer before any later frame of this connection, without waiting for
/// room: the first poll either queues it or takes its place in the full queue's fair (FIFO) wait
/// list, and then a task finishes the enqueue while the connection reads on. Waiting in the read
/// loop instead cost a quarter of the maximum throughput with 10,000 connections (the writer's
/// queue refilled only as fast as connection tasks were scheduled; docs/BENCHMARKS.md).
/// Backpressure still reaches the socket once `max_in_flight` frames of this connection wait.
/// A writer that is gone fails the frame in the write loop like a failed commit (no ack).
async fn enqueue_in_order(shared: &Shared, item: IngestItem) -> Place {
    let writer = shared.writer.clone();
    let mut fut = Box::pin(async move { writer.enqueue(item).await });
    match std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx))).await {
        std::task::Poll::Ready(r) => Place::Queued(r),
        std::task::Poll::Pending => Place::Waiting(tokio::spawn(fut)),
    }
}

/// Wait for a frame's ticket and do what follows its commit; returns the reply to send, if one
/// is owed.
async fn committed(shared: &Arc<Shared>, p: Pending) -> Option<Vec<u8>> {
    let queued = match p.place {
        Place::Queued(q) => q,
        Place::Waiting(task) => task.await.unwrap_or(Err(StoreError::WriterGone)),
    };
    let result = match queued {
        Ok(ticket) => ticket.await,
        Err(e) => Err(e),
    };
    // The driver follows replies whether or not their frame could be stored.
    if let (Some(link), Some((_, info))) = (&p.link, p.device.as_ref())
        && link.listening.load(std::sync::atomic::Ordering::Acquire)
    {
        let _ = link.replies.try_send(Box::new(info.clone()));
    }
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            shared.stats.store_error();
            // Not a warning per frame: a full disk fails every frame until space returns, and
            // the writer logs each change of its health once.
            debug!(error = %e, "store did not commit the frame; no acknowledgement");
            return None;
        }
    };
    // The store knows whether the data was new; its outcome is the duplicate verdict.
    let verdict =
        if p.verdict == Verdict::Accepted && outcome.is_duplicate() { Verdict::Duplicate } else { p.verdict };
    shared.stats.frame(verdict, p.reason_kind);
    if let Some((dev, info)) = p.device.as_ref() {
        after_commit(shared, dev, info, p.has_measurements);
    }
    p.reply
}

/// Platform reactions to a committed frame: gap detection and clock checks.
fn after_commit(shared: &Arc<Shared>, dev: &Arc<DeviceEntry>, info: &PacketInfo, has_measurements: bool) {
    let cfg = &shared.cfg;
    // A DataTime ahead of the platform's clock by more than the tolerance is stored (it is
    // evidence) but is no mark for gap detection: one upload dated 2099 would otherwise hide
    // every later gap. The device's clock is set, and the command is the finding on record.
    let ahead =
        info.data_time.is_some_and(|t| t.unix_millis_cst() > now_ms().saturating_add(skew_max_ms(cfg)));
    if ahead && has_measurements {
        info!(mn = %info.mn, cn = %info.cn, "DataTime is ahead of the platform clock; stored, not used for gap detection; setting the device's clock");
        queue_set_time(shared, info);
    }
    if cfg.gap_detection
        && has_measurements
        && info.complete
        && !ahead
        && let (Some(interval), Some(t)) = (commands::interval_ms(&info.cn, dev), info.data_time)
    {
        let span = cfg.gap_max_span.as_millis().min(i64::MAX as u128) as i64;
        if let Some(gap) = shared.latest.observe(&info.mn, &info.cn, t.unix_millis_cst(), interval, span) {
            info!(mn = %info.mn, cn = %info.cn, "records missing; requesting history");
            crate::gap_requests::request(shared, &info.mn, &info.cn, gap, interval);
        }
    }
    if info.cn == "1013" {
        // A time calibration request (C.4): answered with 9013 above, then the clock is set.
        info!(mn = %info.mn, "device asks for time calibration; setting its clock");
        queue_set_time(shared, info);
    }
    if info.cn == "1011"
        && info.st.as_deref() != Some("91")
        && let Some(t) = info.key("SystemTime").and_then(|s| hj212::DateTime::parse(s).ok())
    {
        let skew = t.0.unix_millis_cst() - now_ms();
        if skew.abs() > skew_max_ms(cfg) {
            info!(mn = %info.mn, skew_s = skew / 1000, "device clock is off; setting it");
            queue_set_time(shared, info);
        } else {
            debug!(mn = %info.mn, skew_ms = skew, "device clock is fine");
        }
    }
}

/// The clock tolerance (`--clock-skew-max-s`), milliseconds.
pub(crate) fn skew_max_ms(cfg: &crate::GatewayConfig) -> i64 {
    cfg.clock_skew_max.as_millis().min(i64::MAX as u128) as i64
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

/// Queue a platform command through the writer (after the frame that prompted it), off the
/// write loop's path, and wake the device's driver. With `unless`,
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
            match commands::queue_command_via(&shared.writer, &mn, &cn, &refs, origin).await {
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
