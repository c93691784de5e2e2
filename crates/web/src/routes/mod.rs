//! The router: one module per area, each contributing its routes; the fallbacks and the
//! security headers apply to all of them.

use axum::Router;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::map_response;
use axum::response::Response;
use fenhe_core::access::Denied;

use crate::chrome::{Chrome, ErrorPage, render_with};
use crate::error::{AppError, not_found};
use crate::headers::security_headers;
use crate::state::AppState;

mod account;
mod alarms;
mod api;
mod audit;
mod devices;
mod enterprises;
mod events;
mod health;
mod lang;
mod login;
mod metrics;
mod outlets;
mod overview;
mod quality;
mod registry;
mod screen;
mod static_files;
mod status_page;
mod workflows;

/// The router with every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(overview::routes())
        .merge(enterprises::routes())
        .merge(outlets::routes())
        .merge(alarms::routes())
        .merge(workflows::routes())
        .merge(quality::routes())
        .merge(screen::routes())
        .merge(events::routes())
        .merge(status_page::routes())
        .merge(devices::routes())
        .merge(login::routes())
        .merge(account::routes())
        .merge(lang::routes())
        .merge(static_files::routes())
        .merge(api::routes())
        .merge(registry::routes())
        .merge(audit::routes())
        .merge(health::routes())
        .merge(metrics::routes())
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(map_response(security_headers))
        .with_state(state)
}

/// A page the actor may not see: 403 for a role that may not, 404 for another enterprise's
/// object (the same page a missing one gets), in the person's frame and language.
pub(crate) fn denied_page(page: Chrome, denied: Denied) -> Response {
    let (status, key) = match denied {
        Denied::Forbidden => (StatusCode::FORBIDDEN, "error.forbidden"),
        Denied::NotFound => (StatusCode::NOT_FOUND, "error.not_found"),
    };
    let message = page.t(key).to_string();
    render_with(status, &ErrorPage { page, message })
}

/// The API's answer for a refusal of the policy.
pub(crate) fn denied_api(denied: Denied) -> AppError {
    match denied {
        Denied::Forbidden => crate::error::forbidden("your role may not do this"),
        Denied::NotFound => not_found("not found"),
    }
}

async fn unknown_route(method: Method, uri: Uri) -> AppError {
    not_found(format!("no route for {method} {}", uri.path()))
}

async fn wrong_method(method: Method, uri: Uri) -> AppError {
    AppError::MethodNotAllowed(format!("{} does not answer {method}", uri.path()))
}
