//! The router: one module per area, each contributing its routes; the fallbacks and the
//! security headers apply to all of them.

use axum::Router;
use axum::http::{Method, Uri};
use axum::middleware::map_response;

use crate::error::{AppError, not_found};
use crate::headers::security_headers;
use crate::state::AppState;

mod api;
mod health;
mod metrics;
mod status_page;

/// The router with every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(status_page::routes())
        .merge(api::routes())
        .merge(health::routes())
        .merge(metrics::routes())
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(map_response(security_headers))
        .with_state(state)
}

async fn unknown_route(method: Method, uri: Uri) -> AppError {
    not_found(format!("no route for {method} {}", uri.path()))
}

async fn wrong_method(method: Method, uri: Uri) -> AppError {
    AppError::MethodNotAllowed(format!("{} does not answer {method}", uri.path()))
}
