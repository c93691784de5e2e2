//! `/api/v1/audit`: the audit log for administrators, with the page's filters (who, action,
//! kind and id of the object, a period of China-time days), a page at a time, newest first; each
//! entry with its before and after and the fields that changed.

use std::sync::Arc;

use axum::extract::State;
use fenhe_app::audit::{self, FilterText};
use fenhe_app::audit_diff;
use fenhe_app::auth::AuthError;
use fenhe_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::paging::{PageParams, Paged};
use crate::error::{AppError, ErrorBody, bad_request, internal};
use crate::extract::{Json, Query};
use crate::routes::denied_api;
use crate::session::ApiUser;
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// The filters; every one is optional.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct AuditFilter {
    /// The actor's username (`cli` for the command line).
    pub actor: Option<String>,
    /// What was done (`enterprise.update`, `user.create`, `limit.add`, … `*.refused`).
    pub action: Option<String>,
    /// The kind of object (`user`, `token`, `enterprise`, `outlet`, `device`, `registry`).
    pub kind: Option<String>,
    /// The object's id (a username, an enterprise id, an outlet id, an MN, a token id).
    pub object: Option<String>,
    /// First day, China time, `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Last day (included), China time, `YYYY-MM-DD`.
    pub to: Option<String>,
}

/// One changed field of an entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldChange {
    /// The field's path in the object (`name`, `limits[1].max`).
    pub path: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// An entry of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditItem {
    pub id: i64,
    /// When, ISO 8601 with +08:00.
    pub at: String,
    pub actor: String,
    pub actor_role: String,
    pub action: String,
    pub object_kind: String,
    pub object_id: String,
    /// The client's address (`local` for the command line).
    pub peer: String,
    /// The object before and after (never a password or a hash); absent before a creation.
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    /// The fields that differ between before and after.
    pub changes: Vec<FieldChange>,
}

#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    params(AuditFilter, PageParams),
    responses(
        (status = OK, description = "A page of the audit log, newest first", body = Paged<AuditItem>),
        (status = BAD_REQUEST, description = "A filter or the paging is malformed", body = ErrorBody),
        (status = UNAUTHORIZED, description = "No session or token", body = ErrorBody),
        (status = FORBIDDEN, description = "Only administrators read the audit log", body = ErrorBody),
    )
)]
async fn list(
    ApiUser(user): ApiUser,
    State(store): State<Arc<dyn Store>>,
    Query(filter): Query<AuditFilter>,
    Query(paging): Query<PageParams>,
) -> Result<Json<Paged<AuditItem>>, AppError> {
    // The policy first: a role that may not read the log learns nothing of its filters.
    fenhe_core::access::authorize(
        &user.actor,
        fenhe_core::access::Action::ViewAudit,
        fenhe_core::access::Target::City,
    )
    .map_err(denied_api)?;
    let (page, per_page) = paging.resolve()?;
    let text = FilterText {
        actor: filter.actor.unwrap_or_default(),
        action: filter.action.unwrap_or_default(),
        kind: filter.kind.unwrap_or_default(),
        object: filter.object.unwrap_or_default(),
        from: filter.from.unwrap_or_default(),
        to: filter.to.unwrap_or_default(),
    };
    let mut query = text.to_query().map_err(|problems| {
        bad_request(
            problems.iter().map(|p| format!("{}: {}", p.field, p.message)).collect::<Vec<_>>().join("; "),
        )
    })?;
    query.limit = per_page;
    query.offset = (page - 1).saturating_mul(per_page);
    let (entries, total) = match audit::page(store.as_ref(), &user.actor, &query).await {
        Ok(r) => r,
        Err(AuthError::Denied(d)) => return Err(denied_api(d)),
        Err(e) => return Err(internal(e)),
    };
    let items = entries
        .into_iter()
        .map(|e| {
            let changes = audit_diff::changes(e.entry.before.as_ref(), e.entry.after.as_ref())
                .into_iter()
                .map(|c| FieldChange { path: c.path, before: c.before, after: c.after })
                .collect();
            AuditItem {
                id: e.id,
                at: fenhe_core::china_time::iso(e.entry.at),
                actor: e.entry.actor,
                actor_role: e.entry.actor_role,
                action: e.entry.action,
                object_kind: e.entry.object_kind,
                object_id: e.entry.object_id,
                peer: e.entry.peer,
                before: e.entry.before,
                after: e.entry.after,
                changes,
            }
        })
        .collect();
    Ok(Json(Paged { items, page, per_page, total }))
}
