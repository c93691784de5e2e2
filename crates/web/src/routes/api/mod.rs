//! `/api/…`: JSON for programs. Failures answer with the JSON error body of [`crate::error`].
//! `/api/status` is the engineers' figure set; `/api/v1/…` is the application's API, described
//! by the OpenAPI document it serves at `/api/v1/openapi.json`.

use axum::Router;

use crate::state::AppState;

mod status;
pub(crate) mod v1;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().merge(status::routes()).merge(v1::router())
}
