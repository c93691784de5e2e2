//! fenhe's HTTP side. For now: the status page the demo shows (devices online, frames received,
//! rejected frames by reason), its JSON form, and `/metrics` for Prometheus. The web application
//! proper (sessions, access control, pages per role) builds on this router.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use fenhe_store::Store;
use serde::Serialize;
use tokio::net::TcpListener;

mod status_page;

/// A device connected right now.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OnlineDevice {
    pub mn: String,
    pub peer: String,
    /// Epoch ms of the first authenticated frame on this connection.
    pub since: i64,
}

/// What the running gateway knows that the store does not (live connections and counters).
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct LiveSnapshot {
    pub started_at: i64,
    pub connections: u64,
    pub devices_online: Vec<OnlineDevice>,
    /// Frames since start by verdict name.
    pub frames_by_verdict: Vec<(String, u64)>,
    /// Rejected frames since start by reason kind.
    pub rejected_by_reason: Vec<(String, u64)>,
}

/// Source of [`LiveSnapshot`]s (implemented by the binary over the gateway's stats).
pub trait LiveStatus: Send + Sync + 'static {
    fn snapshot(&self) -> LiveSnapshot;
}

/// Renders the Prometheus text exposition (the binary passes its exporter's handle).
pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub live: Arc<dyn LiveStatus>,
    pub metrics: Option<MetricsRender>,
    /// Lines shown under the title (addresses, demo logins).
    pub banner: Arc<Vec<String>>,
}

/// The router with every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(status_page::page))
        .route("/api/status", get(status_json))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

/// Serve until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

/// Everything the status page shows, from the store and the live gateway.
#[derive(Debug, Serialize)]
pub struct Status {
    pub live: LiveSnapshot,
    /// Stored frames by verdict and reason kind, since the database was created.
    pub stored: Vec<StoredCount>,
    pub registered_devices: usize,
    pub inbox: usize,
}

#[derive(Debug, Serialize)]
pub struct StoredCount {
    pub verdict: String,
    pub reason: String,
    pub count: u64,
}

/// Errors shown to HTTP clients.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error("store: {0}")]
    Store(#[from] fenhe_store::StoreError),
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self, "request failed");
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

pub(crate) async fn gather(state: &AppState) -> Result<Status, WebError> {
    let counts = state.store.frame_counts().await?;
    let registry = state.store.registry().await?;
    let inbox = state.store.inbox().await?;
    Ok(Status {
        live: state.live.snapshot(),
        stored: counts
            .into_iter()
            .map(|c| StoredCount { verdict: c.verdict.name().into(), reason: c.reason_kind, count: c.count })
            .collect(),
        registered_devices: registry.devices.len(),
        inbox: inbox.len(),
    })
}

async fn status_json(State(state): State<AppState>) -> Result<axum::Json<Status>, WebError> {
    Ok(axum::Json(gather(&state).await?))
}

async fn metrics(State(state): State<AppState>) -> Response {
    match &state.metrics {
        Some(render) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], render()).into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled").into_response(),
    }
}

/// Escape text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn html(body: String) -> Html<String> {
    Html(body)
}
