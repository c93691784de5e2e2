//! `/api/v1/…`: everything the pages show and do, under the same policy (the use cases in
//! `fenhe-app` ask `fenhe_core::access`), for a session or `Authorization: Bearer TOKEN`.
//!
//! Each area contributes an [`OpenApiRouter`] whose handlers carry `#[utoipa::path]`, so the
//! OpenAPI 3.1 document is generated from the routes themselves: a route cannot be served
//! without being described, and `tests/web/api_v1.rs` checks the document lists every route.

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::error::AppError;
use crate::extract::Json;
use crate::session::ApiUser;
use crate::state::AppState;

mod alarms;
mod audit;
mod devices;
mod enterprises;
mod me;
mod outlets;
mod overview;
mod rates;
mod registry;
mod workflows;
// The areas' list routes use it; until they land nothing does.
#[allow(dead_code)]
pub(crate) mod paging;

/// The document's fixed parts; the paths come from the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "fenhe API",
        description = "Enterprises, outlets, measurements, alarms, devices, rates and the audit log of a \
                       city's key enterprises, under the same access policy as the web pages. Errors \
                       answer with `{\"error\": {\"code\", \"message\"}}`.",
    ),
    modifiers(&BearerAuth),
    security(("bearer" = []), ("session" = [])),
    components(schemas(crate::error::ErrorBody, crate::error::ErrorDetail)),
)]
struct ApiDoc;

/// Declares the two ways to be someone: an API token, or the browser's session cookie.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Cookie(
                utoipa::openapi::security::ApiKeyValue::new(crate::session::SESSION_COOKIE),
            )),
        );
    }
}

/// Every `/api/v1` route with its description. Areas add themselves here.
fn described() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(me::routes())
        .merge(enterprises::routes())
        .merge(outlets::routes())
        .merge(devices::routes())
        .merge(audit::routes())
        .merge(registry::routes())
        .merge(alarms::routes())
        .merge(rates::routes())
        .merge(overview::routes())
        .merge(OpenApiRouter::with_openapi(workflows::WorkflowDoc::openapi()))
}

/// The routes of `/api/v1`, and `/api/v1/openapi.json` describing them.
pub(crate) fn router() -> Router<AppState> {
    let (router, doc) = described().split_for_parts();
    let doc = Arc::new(doc);
    router.merge(workflows::router()).route(
        "/api/v1/openapi.json",
        get(move |ApiUser(_): ApiUser| {
            let doc = doc.clone();
            async move { Ok::<_, AppError>(Json(doc)) }
        }),
    )
}
