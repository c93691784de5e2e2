//! `/healthz`: the process answers HTTP and its store takes data (for a load balancer or a
//! supervisor). 200 `ok`, or 503 with the reason while the store cannot take data (a full disk,
//! the free-space floor). It reads nothing from the database.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::state::{AppState, Health};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

async fn healthz(State(Health(probe)): State<Health>) -> (StatusCode, String) {
    match probe.and_then(|p| p()) {
        None => (StatusCode::OK, "ok".into()),
        Some(problem) => (StatusCode::SERVICE_UNAVAILABLE, format!("unavailable: {problem}")),
    }
}
