//! `/api/…`: JSON for programs. Failures answer with the JSON error body of [`crate::error`].

use axum::Router;

use crate::state::AppState;

mod status;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().merge(status::routes())
}
