//! `/api/status`: the status page's figures as JSON.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use fenhe_store::Store;

use crate::error::AppError;
use crate::extract::Json;
use crate::state::{AppState, Live};
use crate::status::{Status, gather};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/api/status", get(status))
}

async fn status(
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
) -> Result<Json<Status>, AppError> {
    Ok(Json(gather(store.as_ref(), live.0.as_ref()).await?))
}
