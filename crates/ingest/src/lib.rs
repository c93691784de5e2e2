//! fenhe's HJ 212 ingest gateway.
//!
//! Data loggers connect over TCP and upload HJ 212 packets. For each connection the gateway
//! frames the byte stream (permissively), judges every frame by its device's dialect policy and
//! credentials (in the [`judge_loop`] that replay and `fenhe packet check` share), and submits
//! it — raw bytes, verdict, reason and the measurements it carries — to the store's single
//! writer, which hands back a ticket per frame. A frame that asks for an acknowledgement gets its
//! 9014 (or 9013) only when its ticket says the store committed it, so a device whose data was
//! not stored sends it again.
//!
//! What each frame gets:
//!
//! | frame | stored as | reply (after commit) |
//! |---|---|---|
//! | upload with Flag bit A from a registered device, right PW | accepted / duplicate, with measurements | 9014 |
//! | 1013 time calibration request | accepted | 9013, then a 1012 is queued |
//! | upload without bit A, 90xx replies, heartbeats | accepted | none |
//! | part of a split packet | accepted; measurements with the part completing the merge | 9014 per part |
//! | unknown MN / wrong PW | unregistered / wrong_password (`auth: …`), no measurements | none, so the device keeps its data and re-sends once registered |
//! | CRC matching nothing, or a variant the device's policy refuses | rejected (`crc: …`) | none |
//! | segment over the device's limit, unparsable segment, skipped garbage | rejected (`too_long: …`, `syntax: …`, `header: …`) | none |
//! | anything, when the store cannot commit | not stored | none: the device re-sends |
//!
//! A connection over its frame rate is paced, not refused: the gateway stops reading it until
//! the rate allows the next frame, so TCP flow control slows the logger and nothing is lost.
//! Connections that have not authenticated ("strangers") are capped as a whole and per address
//! (the oldest goes first), must authenticate within a deadline of connecting, and every frame
//! must complete within a deadline of its first byte; see docs/LIMITS.md.
//!
//! The platform also talks back ([`commands`]): it asks each device for its time on connect and
//! sets it when it is off, requests history after a gap in minute or hour uploads, and delivers
//! operator-queued commands, following each through 9011/9012 with the standard's timeouts and
//! retries.
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<dyn fenhe_store::Store>, writer: fenhe_store::writer::WriterHandle) -> Result<(), fenhe_ingest::Error> {
//! use fenhe_ingest::{Gateway, GatewayConfig};
//! let cancel = tokio_util::sync::CancellationToken::new();
//! let gateway = Gateway::bind(GatewayConfig::default(), store, writer).await?;
//! println!("listening on {}", gateway.local_addr());
//! let handle = gateway.handle(); // stats(), reload_registry(), queue_command()
//! gateway.run(cancel).await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fenhe_store::writer::WriterHandle;
use fenhe_store::{Store, StoreError};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub mod capture_judge;
pub mod commands;
mod config;
mod connection;
mod diagnosis;
mod directory;
mod gap_requests;
mod guard;
mod judge;
pub mod judge_loop;
mod live_stats;
mod ratelimit;
mod refusals;
mod security;
mod strangers;

pub use commands::{ORIGIN_CLOCK, ORIGIN_GAP, ORIGIN_OPERATOR, queue_command, queue_command_from};
pub use config::{DevicePolicy, GatewayConfig};
pub use directory::{Auth, DeviceDirectory, DeviceEntry};
pub use live_stats::{GatewayStats, OnlineDevice, names as metric_names};

use refusals::Refusal;

/// How long a connection that evicted a stranger waits for the slot to come free.
const SLOT_WAIT: Duration = Duration::from_secs(5);

/// Gateway errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("invalid command: {0}")]
    InvalidCommand(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A device's current connection, for waking its command driver.
pub(crate) struct Online {
    pub peer: String,
    pub wake: Arc<Notify>,
    pub cancel: CancellationToken,
}

/// State shared by the listener, the connections and the handles.
pub(crate) struct Shared {
    pub cfg: Arc<GatewayConfig>,
    pub store: Arc<dyn Store>,
    /// The store's single writer: frames, and the gateway's command bookkeeping.
    pub writer: WriterHandle,
    pub directory: DeviceDirectory,
    pub stats: Arc<live_stats::Stats>,
    pub latest: commands::LatestTimes,
    pub online: Mutex<HashMap<String, Online>>,
    pub clock_pacer: Arc<commands::Pacer>,
    /// Connections not authenticated yet, capped as a whole and per address.
    pub strangers: strangers::Strangers,
    /// Refused and closed connections, counted for the periodic summary line.
    pub refusals: refusals::Refusals,
    /// History requests after gaps are decided one at a time.
    pub gap_requests: tokio::sync::Mutex<()>,
    /// Bytes of split parts held by every connection together.
    pub split_budget: Arc<hj212::split::MergeBudget>,
    /// Failed authentications by address, and the addresses refused for them.
    pub guard: guard::AddressGuard,
    /// Bytes of strangers' records stored today, per address and in all.
    pub diagnosis: diagnosis::DiagnosisBudget,
}

impl Shared {
    /// Wake `mn`'s command driver, if the device is connected.
    pub fn wake(&self, mn: &str) {
        if let Some(o) = self.online.lock().unwrap_or_else(|e| e.into_inner()).get(mn) {
            o.wake.notify_one();
        }
    }
}

/// A bound gateway, ready to [`run`](Gateway::run).
pub struct Gateway {
    listener: TcpListener,
    handle: GatewayHandle,
}

/// A cheap, cloneable handle on a gateway (running or not): counters, registry reload, commands.
#[derive(Clone)]
pub struct GatewayHandle {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
}

impl Gateway {
    /// Bind the listener, load the device registry and seed gap detection from the store.
    pub async fn bind(cfg: GatewayConfig, store: Arc<dyn Store>, writer: WriterHandle) -> Result<Gateway> {
        let directory = DeviceDirectory::load(&*store).await?;
        let latest = commands::LatestTimes::default();
        for a in store.device_activity().await? {
            for (cn, t) in &a.latest {
                if matches!(cn.as_str(), "2051" | "2061") {
                    latest.seed(&a.mn, cn, *t);
                }
            }
        }
        let listener =
            TcpListener::bind(cfg.listen).await.map_err(|source| Error::Bind { addr: cfg.listen, source })?;
        let local_addr = listener.local_addr().map_err(|source| Error::Bind { addr: cfg.listen, source })?;
        info!(addr = %local_addr, devices = directory.len(), "HJ 212 gateway listening");
        let cfg_clock_rate = cfg.clock_check_rate;
        let split_total = cfg.split_bytes_total;
        let diagnosis =
            diagnosis::DiagnosisBudget::new(cfg.stranger_bytes_per_address, cfg.stranger_bytes_per_day);
        let guard = guard::AddressGuard::new(cfg.auth_failures_max, cfg.auth_failure_window, cfg.auth_block);
        let strangers = strangers::Strangers::new(cfg.max_strangers, cfg.max_strangers_per_address);
        let shared = Arc::new(Shared {
            cfg: Arc::new(cfg),
            store,
            writer,
            directory,
            stats: Arc::default(),
            latest,
            online: Mutex::default(),
            clock_pacer: Arc::new(commands::Pacer::new(cfg_clock_rate)),
            strangers,
            refusals: refusals::Refusals::default(),
            gap_requests: tokio::sync::Mutex::new(()),
            split_budget: Arc::new(hj212::split::MergeBudget::new(split_total)),
            guard,
            diagnosis,
        });
        Ok(Gateway { listener, handle: GatewayHandle { shared, local_addr } })
    }

    /// The address actually bound (with the port chosen when the configuration said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr
    }

    pub fn handle(&self) -> GatewayHandle {
        self.handle.clone()
    }

    pub fn stats(&self) -> GatewayStats {
        self.handle.stats()
    }

    pub async fn reload_registry(&self) -> Result<usize> {
        self.handle.reload_registry().await
    }

    /// Run in the background; the task ends after `cancel` and the grace period.
    pub fn spawn(self, cancel: CancellationToken) -> tokio::task::JoinHandle<Result<()>> {
        tokio::spawn(self.run(cancel))
    }

    /// Accept and serve connections until `cancel`. Then stop accepting, let every connection
    /// submit what it has read, wait for those commits and send their acknowledgements, and close
    /// — all within [`GatewayConfig::shutdown_grace`], after which connections are dropped.
    pub async fn run(self, cancel: CancellationToken) -> Result<()> {
        let shared = self.handle.shared;
        let limit = Arc::new(Semaphore::new(shared.cfg.max_connections.max(1)));
        let mut tasks = JoinSet::new();
        let poll = tokio::spawn(commands::poll_recent(shared.clone(), cancel.child_token()));
        let mut summary =
            tokio::time::interval(shared.cfg.refusal_log_interval.max(Duration::from_millis(1)));
        summary.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = summary.tick() => shared.refusals.summarize(),
                r = self.listener.accept() => match r {
                    Ok((stream, peer)) => {
                        if shared.guard.is_blocked(peer.ip(), tokio::time::Instant::now()) {
                            shared.refusals.record(Refusal::AddressBlocked, &shared.stats);
                            drop(stream);
                            continue;
                        }
                        // Every slot taken: a stranger makes room, a registered device never does.
                        let permit = match limit.clone().try_acquire_owned() {
                            Ok(permit) => Some(permit),
                            Err(_) if shared.strangers.evict_oldest() => {
                                shared.refusals.record(Refusal::Strangers, &shared.stats);
                                None
                            }
                            Err(_) => {
                                shared.refusals.record(Refusal::ConnectionLimit, &shared.stats);
                                drop(stream);
                                continue;
                            }
                        };
                        let (stranger, closed) = shared.strangers.admit(peer.ip());
                        for why in closed {
                            shared.refusals.record(why, &shared.stats);
                        }
                        let (shared, limit, shutdown) = (shared.clone(), limit.clone(), cancel.clone());
                        tasks.spawn(async move {
                            let permit = match permit {
                                Some(p) => p,
                                // The evicted stranger's task gives its slot back as it ends.
                                None => match tokio::time::timeout(SLOT_WAIT, limit.acquire_owned()).await {
                                    Ok(Ok(p)) => p,
                                    _ => {
                                        shared.strangers.leave(stranger.id);
                                        shared.refusals.record(Refusal::ConnectionLimit, &shared.stats);
                                        return;
                                    }
                                },
                            };
                            connection::serve(shared, stream, peer, stranger, shutdown).await;
                            drop(permit);
                        });
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        shared.refusals.summarize();
        drop(self.listener);
        poll.abort();
        let open = tasks.len();
        info!(connections = open, grace_s = shared.cfg.shutdown_grace.as_secs_f64(), "gateway stopping");
        let drain = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(shared.cfg.shutdown_grace, drain).await.is_err() {
            warn!(left = tasks.len(), "grace period over; dropping connections");
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        info!("gateway stopped");
        Ok(())
    }
}

impl GatewayHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Live counters: connections, devices online, frames by verdict, rejections by reason.
    pub fn stats(&self) -> GatewayStats {
        GatewayStats { strangers: self.shared.strangers.len() as u64, ..self.shared.stats.snapshot() }
    }

    /// Re-read the device registry from the store (after an import); returns the device count.
    pub async fn reload_registry(&self) -> Result<usize> {
        let n = self.shared.directory.reload(&*self.shared.store).await?;
        info!(devices = n, "device registry reloaded");
        Ok(n)
    }

    /// The device cache the gateway authenticates against.
    pub fn directory(&self) -> &DeviceDirectory {
        &self.shared.directory
    }

    /// Queue an operator command (through the writer) and send it at once if the device is
    /// connected.
    pub async fn queue_command(&self, mn: &str, cn: &str, cp_items: &[(&str, &str)]) -> Result<i64> {
        let id = commands::queue_command_via(&self.shared.writer, mn, cn, cp_items, ORIGIN_OPERATOR).await?;
        self.shared.wake(mn);
        Ok(id)
    }

    /// Look for `mn`'s open commands now instead of at the next poll.
    pub fn wake(&self, mn: &str) {
        self.shared.wake(mn);
    }
}
