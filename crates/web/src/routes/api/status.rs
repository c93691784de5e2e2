//! `/api/status`: the status page's figures as JSON, for administrators and the bureau (a
//! session or a bearer token).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use fenhe_core::access::{Action, Target, authorize};
use fenhe_store::Store;

use crate::error::AppError;
use crate::extract::Json;
use crate::routes::denied_api;
use crate::session::ApiUser;
use crate::state::{AppState, Live};
use crate::status::{Status, gather};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/status", get(status))
}

async fn status(
    ApiUser(user): ApiUser,
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
) -> Result<Json<Status>, AppError> {
    authorize(&user.actor, Action::ViewSystem, Target::City).map_err(denied_api)?;
    Ok(Json(gather(store.as_ref(), live.0.as_ref()).await?))
}
