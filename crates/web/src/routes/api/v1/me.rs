//! `/api/v1/me`: who the caller is, and what their role reaches — what a program checks first
//! with a new token.

use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{AppError, ErrorBody};
use crate::extract::Json;
use crate::session::ApiUser;
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me))
}

/// The caller.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub username: String,
    /// admin, leader, bureau, department or enterprise.
    pub role: &'static str,
    /// The department's code, for a department officer.
    pub department: Option<String>,
    /// The enterprise's id, for an enterprise user.
    pub enterprise: Option<String>,
    /// True for an API token, false for a browser session.
    pub by_token: bool,
}

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "account",
    responses(
        (status = OK, description = "The caller", body = Me),
        (status = UNAUTHORIZED, description = "No session or token", body = ErrorBody),
    )
)]
async fn me(ApiUser(user): ApiUser) -> Result<Json<Me>, AppError> {
    use fenhe_core::access::Role;
    let (department, enterprise) = match &user.actor.role {
        Role::Department { department } => (Some(department.clone()), None),
        Role::Enterprise { enterprise } => (None, Some(enterprise.clone())),
        _ => (None, None),
    };
    Ok(Json(Me {
        username: user.actor.username.clone(),
        role: user.actor.role.name(),
        department,
        enterprise,
        by_token: user.by_token(),
    }))
}
