//! `/api/v1/overview`: the overview's figures (the page and the wall screen refresh from it).

use std::sync::Arc;

use axum::extract::State;
use fenhe_store::Store;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{AppError, ErrorBody};
use crate::extract::Json;
use crate::overview_cache::OverviewCache;
use crate::overview_view::{self, OverviewJson};
use crate::routes::denied_api;
use crate::session::ApiUser;
use crate::state::{AppState, Live};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(overview))
}

/// The city's overview for the roles that see the city, the own enterprise's for an enterprise
/// user: rates today and this month, open alarms by kind, the outlets with the most exceedance,
/// the last 30 days' rates and each enterprise's state now.
#[utoipa::path(
    get,
    path = "/api/v1/overview",
    tag = "overview",
    responses(
        (status = OK, description = "The overview within the caller's scope", body = OverviewJson),
        (status = UNAUTHORIZED, description = "No session or token", body = ErrorBody),
        (status = FORBIDDEN, description = "The role sees no environmental data", body = ErrorBody),
    )
)]
async fn overview(
    ApiUser(user): ApiUser,
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
    State(cache): State<Arc<OverviewCache>>,
) -> Result<Json<OverviewJson>, AppError> {
    overview_view::load(store.as_ref(), &live, &cache, &user.actor).await?.map(Json).map_err(denied_api)
}
