//! `/healthz`: the process answers HTTP (for a load balancer or a supervisor; it reads nothing).

use axum::Router;
use axum::routing::get;

use crate::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(|| async { "ok" }))
}
