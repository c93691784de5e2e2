//! Starting the HTTP side: on an address (`fenhe serve`, `fenhe demo`) or on a listener the
//! caller bound itself ([`start_with_listeners`]), so that a test or a supervisor binds port 0
//! or passes a socket it holds, and learns the bound address without a race.
//!
//! The accept loop is our own (hyper's HTTP/1 connection under a loop of ours) rather than
//! `axum::serve`, which has no header-read timeout, no idle timeout and no connection cap: a
//! stranger could hold connections open for ever and take every file descriptor of the process,
//! the HJ 212 gateway's included. Here ([`ListenerLimits`]):
//! - a request's head must arrive within `header_read_timeout` of the connection being ready for
//!   it (hyper's own timer), so a client trickling headers is cut;
//! - a connection with no request in progress and no byte read or written for `idle_timeout` is
//!   closed (live-event streams write a comment every 15 s and so stay open);
//! - at most `max_connections` connections are served at once; past that the loop stops
//!   accepting (further clients wait in the kernel's backlog, holding no descriptor of ours).
//!
//! Shutdown stops accepting at once, lets each connection finish the request it is answering,
//! closes idle keep-alive connections, and waits for every connection to end.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::routes::router;
use crate::state::AppState;

/// The HTTP listener's limits. Defaults: 15 s to read a request's head, 60 s idle, 1024
/// connections (`fenhe serve --http-header-timeout-s`, `--http-idle-timeout-s`,
/// `--http-max-connections`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenerLimits {
    /// A request's head (request line and headers) must be read within this.
    pub header_read_timeout: Duration,
    /// A connection with no request in progress and no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        ListenerLimits {
            header_read_timeout: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// Why the HTTP side did not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen for HTTP on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("cannot read the HTTP listener's address: {0}")]
    LocalAddr(#[source] std::io::Error),
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
    #[error("the HTTP server's task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The HTTP side, running on its own task until its shutdown future resolves.
#[derive(Debug)]
pub struct WebServer {
    local_addr: SocketAddr,
    task: JoinHandle<std::io::Result<()>>,
}

impl WebServer {
    /// The address the listener is bound to (the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Wait until the server has stopped (after its shutdown future resolved and the requests
    /// in flight were answered).
    pub async fn wait(self) -> Result<(), ServeError> {
        self.task.await?.map_err(ServeError::Serve)
    }
}

/// Bind `addr` and serve on it until `shutdown` resolves.
pub async fn start(
    addr: SocketAddr,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<WebServer, ServeError> {
    let http = TcpListener::bind(addr).await.map_err(|source| ServeError::Bind { addr, source })?;
    start_with_listeners(http, state, shutdown).await
}

/// Serve on a listener bound by the caller until `shutdown` resolves, within the limits of the
/// state's [`crate::WebConfig::listener`]. The web application's later listeners (a
/// loopback-only one for `/metrics`) join `http` here.
pub async fn start_with_listeners(
    http: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<WebServer, ServeError> {
    let local_addr = http.local_addr().map_err(ServeError::LocalAddr)?;
    // Hash and compress the embedded files now, not in the first request for one.
    tokio::task::spawn_blocking(crate::assets::warm);
    let limits = state.config.listener;
    // Live-event streams never end by themselves: end them when shutdown begins, or the
    // graceful shutdown would wait for every open overview to be closed.
    let events = state.events.clone();
    let stop = CancellationToken::new();
    let stopping = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        events.close();
        stopping.cancel();
    });
    let app = router(state);
    let task = tokio::spawn(accept_loop(http, app, limits, stop));
    Ok(WebServer { local_addr, task })
}

/// How often at most an accept error is logged (a descriptor shortage fails every accept).
const ACCEPT_ERROR_LOG_EVERY: Duration = Duration::from_secs(10);

async fn accept_loop(
    listener: TcpListener,
    app: axum::Router,
    limits: ListenerLimits,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let cap = limits.max_connections.max(1);
    let slots = Arc::new(Semaphore::new(cap));
    let mut last_logged: Option<Instant> = None;
    let mut unlogged = 0u64;
    loop {
        // A slot first: past the cap, connections stay in the kernel's backlog.
        let slot = tokio::select! {
            s = slots.clone().acquire_owned() => match s {
                Ok(s) => s,
                Err(_) => break,
            },
            () = stop.cancelled() => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            () = stop.cancelled() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                // Out of descriptors or memory: wait a little rather than spin, and say so
                // now and then with how many accepts failed.
                unlogged += 1;
                if last_logged.is_none_or(|t| t.elapsed() >= ACCEPT_ERROR_LOG_EVERY) {
                    tracing::warn!(error = %e, failed = unlogged, "the HTTP listener cannot accept connections");
                    last_logged = Some(Instant::now());
                    unlogged = 0;
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                    () = stop.cancelled() => break,
                }
                continue;
            }
        };
        let app = app.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, app, limits, stop).await;
            drop(slot);
        });
    }
    // Stop accepting, then wait until every connection has ended (each holds a slot).
    drop(listener);
    let all = u32::try_from(cap).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    Ok(())
}

/// Errors of one incoming connection (the client gave up before it was accepted), which say
/// nothing of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Serve one connection until it ends, goes idle past the limit, or shutdown closes it.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: axum::Router,
    limits: ListenerLimits,
    stop: CancellationToken,
) {
    let epoch = Instant::now();
    let activity = Arc::new(Activity { epoch, last_ms: AtomicU64::new(0), in_flight: AtomicUsize::new(0) });
    let io = Watched { inner: stream, activity: activity.clone() };
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        // The peer's address reaches handlers (the sign-in throttle counts per address).
        req.extensions_mut().insert(ConnectInfo(peer));
        let app = app.clone();
        let busy = InFlight::start(requests.clone());
        async move {
            let response = tower::ServiceExt::oneshot(app, req).await;
            drop(busy);
            response
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    let mut closing = false;
    let mut check_at = epoch + limits.idle_timeout;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
                }
                return;
            }
            () = stop.cancelled(), if !closing => {
                // Finish the request in progress, take no other.
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
            () = tokio::time::sleep_until(check_at) => {
                match activity.idle_until(limits.idle_timeout) {
                    Some(at) => check_at = at,
                    None => {
                        tracing::debug!(%peer, "HTTP connection idle past the limit; closed");
                        return;
                    }
                }
            }
        }
    }
}

/// What a connection did last: when a byte last moved (ms since `epoch`) and how many requests
/// are being answered.
struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
    in_flight: AtomicUsize,
}

impl Activity {
    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// `None` when the connection has been idle for `limit`; otherwise when to look again.
    fn idle_until(&self, limit: Duration) -> Option<Instant> {
        let last = self.epoch + Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        let now = Instant::now();
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            // A request being computed is not idle, however long it takes.
            return Some(now + limit);
        }
        let deadline = last + limit;
        (deadline > now).then_some(deadline)
    }
}

/// Counts a request as in progress until dropped (also when its future is dropped).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(a: Arc<Activity>) -> InFlight {
        a.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(a)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A socket that notes when bytes move through it.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.touch();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
