//! Starting the HTTP side: on an address (`fenhe serve`, `fenhe demo`) or on a listener the
//! caller bound itself ([`start_with_listeners`]), so that a test or a supervisor binds port 0
//! or passes a socket it holds, and learns the bound address without a race.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::routes::router;
use crate::state::AppState;

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

/// Serve on a listener bound by the caller until `shutdown` resolves. The web application's
/// later listeners (a loopback-only one for `/metrics`) join `http` here.
pub async fn start_with_listeners(
    http: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<WebServer, ServeError> {
    let local_addr = http.local_addr().map_err(ServeError::LocalAddr)?;
    // Hash and compress the embedded files now, not in the first request for one.
    tokio::task::spawn_blocking(crate::assets::warm);
    // Live-event streams never end by themselves: end them when shutdown begins, or the
    // graceful shutdown would wait for every open overview to be closed.
    let events = state.events.clone();
    let shutdown = async move {
        shutdown.await;
        events.close();
    };
    // The peer's address reaches handlers (the sign-in throttle counts per address).
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move { axum::serve(http, app).with_graceful_shutdown(shutdown).await });
    Ok(WebServer { local_addr, task })
}
