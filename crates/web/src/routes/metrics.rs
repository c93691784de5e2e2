//! `/metrics`: the Prometheus text exposition, when the binary installed a recorder.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::{AppError, not_found};
use crate::state::{AppState, Metrics};

/// The content type of Prometheus' text format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4";

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(Metrics(render)): State<Metrics>) -> Result<Response, AppError> {
    let render = render.ok_or_else(|| not_found("metrics are not enabled"))?;
    Ok(([(header::CONTENT_TYPE, PROMETHEUS_TEXT)], render()).into_response())
}
