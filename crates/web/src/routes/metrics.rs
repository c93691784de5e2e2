//! `/metrics`: the Prometheus text exposition, when the binary installed a recorder; for
//! administrators and the bureau (a scraper uses a bearer token).

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fenhe_core::access::{Action, Target, authorize};

use crate::error::{AppError, not_found};
use crate::routes::denied_api;
use crate::session::ApiUser;
use crate::state::{AppState, Metrics};

/// The content type of Prometheus' text format.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4";

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(
    ApiUser(user): ApiUser,
    State(Metrics(render)): State<Metrics>,
) -> Result<Response, AppError> {
    authorize(&user.actor, Action::ViewSystem, Target::City).map_err(denied_api)?;
    let render = render.ok_or_else(|| not_found("metrics are not enabled"))?;
    Ok(([(header::CONTENT_TYPE, PROMETHEUS_TEXT)], render()).into_response())
}
