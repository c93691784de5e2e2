//! `/api/v1/registry/…`: what the registry pages do, for programs — add or change an enterprise,
//! an outlet, a device (the registry files' JSON shapes), add or remove an outlet's limit, read
//! the import record and export the registry. The same use cases as the pages
//! (`fenhe_app::registry_admin`): the same policy, the same checks, the same audit. A refused body
//! answers 422 with every problem as `field: message`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use fenhe_app::audit::Caller;
use fenhe_app::registry_admin::{
    self, DeviceForm, EditError, EnterpriseForm, ExportFormat, LimitForm, Mode, OutletForm,
};
use fenhe_core::registry::{Enterprise, Limit, Outlet};
use fenhe_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::paging::{PageParams, Paged};
use crate::error::{AppError, ErrorBody, internal, not_found, unprocessable};
use crate::extract::{Json, Path, Query};
use crate::peer::Peer;
use crate::routes::denied_api;
use crate::session::ApiUser;
use crate::state::{AppState, Live};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_enterprise))
        .routes(routes!(update_enterprise))
        .routes(routes!(create_outlet))
        .routes(routes!(update_outlet))
        .routes(routes!(add_limit, remove_limit))
        .routes(routes!(create_device))
        .routes(routes!(update_device))
        .routes(routes!(imports))
        .routes(routes!(export))
}

/// A use case's refusal as the API answers it.
fn refusal(e: EditError) -> AppError {
    match e {
        EditError::Denied(d) => denied_api(d),
        EditError::NotFound { kind, id } => not_found(format!("there is no {kind} {id:?}")),
        EditError::Invalid(errors) => unprocessable(
            errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "),
        ),
        EditError::Store(s) => internal(s),
    }
}

fn caller(user: &crate::session::SignedIn, peer: String) -> Caller {
    Caller::new(user.actor.clone(), peer, fenhe_core::china_time::now_ms())
}

#[utoipa::path(
    post,
    path = "/api/v1/registry/enterprises",
    tag = "registry",
    request_body(content = Object, description = "An enterprise, as in a registry file's `enterprises`"),
    responses(
        (status = CREATED, description = "Added (and audited)", body = Object),
        (status = FORBIDDEN, description = "Only administrators change the registry", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "Every problem as `field: message`; nothing changed", body = ErrorBody),
    )
)]
async fn create_enterprise(
    ApiUser(user): ApiUser,
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    Json(e): Json<Enterprise>,
) -> Result<(StatusCode, Json<Enterprise>), AppError> {
    let form = EnterpriseForm::of(&e);
    let saved = registry_admin::save_enterprise(store.as_ref(), &caller(&user, peer), Mode::Create, &form)
        .await
        .map_err(refusal)?;
    Ok((StatusCode::CREATED, Json(saved)))
}

#[utoipa::path(
    put,
    path = "/api/v1/registry/enterprises/{id}",
    tag = "registry",
    params(("id" = String, Path, description = "The enterprise's id (E01)")),
    request_body(content = Object, description = "The enterprise as it should be; its `id` is the path's"),
    responses(
        (status = OK, description = "Changed (and audited)", body = Object),
        (status = FORBIDDEN, description = "Only administrators change the registry", body = ErrorBody),
        (status = NOT_FOUND, description = "No such enterprise", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "Every problem as `field: message`; nothing changed", body = ErrorBody),
    )
)]
async fn update_enterprise(
    ApiUser(user): ApiUser,
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    Path(id): Path<String>,
    Json(e): Json<Enterprise>,
) -> Result<Json<Enterprise>, AppError> {
    let mut form = EnterpriseForm::of(&e);
    form.id = id;
    let saved = registry_admin::save_enterprise(store.as_ref(), &caller(&user, peer), Mode::Update, &form)
        .await
        .map_err(refusal)?;
    Ok(Json(saved))
}

#[utoipa::path(
    post,
    path = "/api/v1/registry/outlets",
    tag = "registry",
    request_body(content = Object, description = "An outlet, as in a registry file's `outlets` (its `limits` are taken as given)"),
    responses(
        (status = CREATED, description = "Added (and audited)", body = Object),
        (status = FORBIDDEN, description = "Only administrators change the registry", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "Every problem as `field: message`; nothing changed", body = ErrorBody),
    )
)]
async fn create_outlet(
    ApiUser(user): ApiUser,
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    Json(o): Json<Outlet>,
) -> Result<(StatusCode, Json<Outlet>), AppError> {
    let c = caller(&user, peer);
    let mut saved = registry_admin::save_outlet(store.as_ref(), &c, Mode::Create, &OutletForm::of(&o))
        .await
        .map_err(refusal)?;
    // A new outlet's limits are added one by one, each checked and audited as the form's are.
    for l in &o.limits {
        saved = registry_admin::add_limit(store.as_ref(), &c, &limit_form(&saved.id, l))
            .await
            .map_err(refusal)?;
    }
    Ok((StatusCode::CREATED, Json(saved)))
}

fn limit_form(outlet: &str, l: &Limit) -> LimitForm {
    let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    LimitForm {
        outlet: outlet.to_string(),
        factor: l.factor.clone(),
        min: num(l.min),
        max: num(l.max),
        effective_from: l.effective_from.to_string(),
    }
}

#[utoipa::path(
    put,
    path = "/api/v1/registry/outlets/{id}",
    tag = "registry",
    params(("id" = String, Path, description = "The outlet's id (E01-DA001)")),
    request_body(content = Object, description = "The outlet as it should be; its `limits` are kept as stored (see …/limits)"),
    responses(
        (status = OK, description = "Changed (and audited)", body = Object),
        (status = FORBIDDEN, description = "Only administrators change the registry", body = ErrorBody),
        (status = NOT_FOUND, description = "No such outlet", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "Every problem as `field: message`; nothing changed", body = ErrorBody),
    )
)]
async fn update_outlet(
    ApiUser(user): ApiUser,
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    Path(id): Path<String>,
    Json(o): Json<Outlet>,
) -> Result<Json<Outlet>, AppError> {
    let mut form = OutletForm::of(&o);
    form.id = id;
    let saved = registry_admin::save_outlet(store.as_ref(), &caller(&user, peer), Mode::Update, &form)
        .await
        .map_err(refusal)?;
    Ok(Json(saved))
}

#[utoipa::path(
    post,
    path = "/api/v1/registry/outlets/{id}/limits",
    tag = "registry",
    params(("id" = String, Path, description = "The outlet's id")),
    request_body(content = Object, description = "A limit: `factor`, `max` and/or `min`, `effective_from` (YYYY-MM-DD)"),
    responses(
        (status = OK, description = "The outlet with its limits (audited)", body = Object),
        (status = FORBIDDEN, description = "Only administrators change the registry", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "Every problem as `field: message`; nothing changed", body = ErrorBody),
    )
)]
async fn add_limit(
    ApiUser(user): ApiUser,
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    Path(id): Path<String>,
    Json(l): Json<Limit>,
) -> Result<Json<Outlet>, AppError> {
    let saved = registry_admin::add_limit(store.as_ref(), &caller(&user, peer), &limit_form(&id, &l))
        .await
        .map_err(refusal)?;
    Ok(Json(saved))
}

/// Which limit to remove.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitKey {
    /// The factor's HJ 212 code.
    pub factor: String,
    /// The day the limit is in force from, YYYY-MM-DD.
    pub effective_from: String,
}

#[utoipa::path(
    delete,
    path = "/api/v1/registry/outlets/{id}/limits",
    tag = "registry",
    params(("id" = String, Path, description = "The outlet's id"), LimitKey),
    responses(
        (status = OK, description = "The outlet with its remaining limits (audited)", body = Object),
        (status = FORBIDDEN, description = "Only administrators change the registry", body = ErrorBody),
        (status = NOT_FOUND, description = "No such outlet or limit", body = ErrorBody),
    )
)]
async fn remove_limit(
    ApiUser(user): ApiUser,
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    Path(id): Path<String>,
    Query(key): Query<LimitKey>,
) -> Result<Json<Outlet>, AppError> {
    let saved = registry_admin::remove_limit(
        store.as_ref(),
        &caller(&user, peer),
        &id,
        &key.factor,
        &key.effective_from,
    )
    .await
    .map_err(refusal)?;
    Ok(Json(saved))
}

/// A device as a program sends it: a registry file's device, whose `password` may be left out
/// when changing one (the stored password is kept).
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeviceBody {
    pub mn: String,
    pub outlet: String,
    /// A new access password; left out, the stored one is kept (a new device needs one).
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default)]
    pub crc: Option<String>,
    #[serde(default)]
    pub max_segment_len: Option<u32>,
    #[serde(default)]
    pub rtd_interval_s: Option<u32>,
    #[serde(default)]
    pub minute_interval_min: Option<u32>,
    #[serde(default)]
    pub hourly: Option<bool>,
    #[serde(default)]
    pub factors: Vec<String>,
}

impl DeviceBody {
    fn form(&self) -> DeviceForm {
        let n = |v: Option<u32>| v.map(|x| x.to_string()).unwrap_or_default();
        DeviceForm {
            mn: self.mn.clone(),
            outlet: self.outlet.clone(),
            protocol: self.protocol.clone().unwrap_or_default(),
            crc: self.crc.clone().unwrap_or_default(),
            max_segment_len: n(self.max_segment_len),
            rtd_interval_s: n(self.rtd_interval_s),
            minute_interval_min: n(self.minute_interval_min),
            hourly: self.hourly.unwrap_or(true).then(|| "on".to_string()),
            factors: self.factors.join(" "),
            new_password: self.password.clone().unwrap_or_default(),
        }
    }
}

/// A device as the API shows it: its password only as whether one is set.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceOut {
    pub mn: String,
    pub outlet: String,
    pub protocol: &'static str,
    pub crc: &'static str,
    pub max_segment_len: u32,
    pub rtd_interval_s: u32,
    pub minute_interval_min: u32,
    pub hourly: bool,
    pub factors: Vec<String>,
    pub password_set: bool,
}

impl From<registry_admin::DeviceView> for DeviceOut {
    fn from(v: registry_admin::DeviceView) -> DeviceOut {
        DeviceOut {
            mn: v.mn,
            outlet: v.outlet,
            protocol: v.protocol,
            crc: v.crc,
            max_segment_len: v.max_segment_len,
            rtd_interval_s: v.rtd_interval_s,
            minute_interval_min: v.minute_interval_min,
            hourly: v.hourly,
            factors: v.factors,
            password_set: v.password_set,
        }
    }
}

#[utoipa::path(
    post,
    path = "/api/v1/registry/devices",
    tag = "registry",
    request_body = DeviceBody,
    responses(
        (status = CREATED, description = "Registered (and audited, without the password)", body = DeviceOut),
        (status = FORBIDDEN, description = "Administrators and bureau officers register devices", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "Every problem as `field: message`; nothing changed", body = ErrorBody),
    )
)]
async fn create_device(
    ApiUser(user): ApiUser,
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
    Json(d): Json<DeviceBody>,
) -> Result<(StatusCode, Json<DeviceOut>), AppError> {
    let saved = registry_admin::save_device(store.as_ref(), &caller(&user, peer), Mode::Create, &d.form())
        .await
        .map_err(refusal)?;
    live.0.registry_changed();
    Ok((StatusCode::CREATED, Json(saved.into())))
}

#[utoipa::path(
    put,
    path = "/api/v1/registry/devices/{mn}",
    tag = "registry",
    params(("mn" = String, Path, description = "The device's MN")),
    request_body = DeviceBody,
    responses(
        (status = OK, description = "Changed (and audited, without the password)", body = DeviceOut),
        (status = FORBIDDEN, description = "Administrators and bureau officers change devices", body = ErrorBody),
        (status = NOT_FOUND, description = "No such device", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "Every problem as `field: message`; nothing changed", body = ErrorBody),
    )
)]
async fn update_device(
    ApiUser(user): ApiUser,
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
    Path(mn): Path<String>,
    Json(d): Json<DeviceBody>,
) -> Result<Json<DeviceOut>, AppError> {
    let mut form = d.form();
    form.mn = mn;
    let saved = registry_admin::save_device(store.as_ref(), &caller(&user, peer), Mode::Update, &form)
        .await
        .map_err(refusal)?;
    live.0.registry_changed();
    Ok(Json(saved.into()))
}

/// A registry import attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportItem {
    pub id: i64,
    /// When, ISO 8601 with +08:00.
    pub at: String,
    pub files: Vec<String>,
    pub ok: bool,
    pub summary: String,
    /// Every problem of a refused attempt (`file:line: field: message`).
    pub problems: Vec<String>,
}

/// Most import records read (imports are rare; the record is paged here).
const IMPORTS_READ: u32 = 10_000;

#[utoipa::path(
    get,
    path = "/api/v1/registry/imports",
    tag = "registry",
    params(PageParams),
    responses(
        (status = OK, description = "Import attempts, newest first, refused ones included", body = Paged<ImportItem>),
        (status = FORBIDDEN, description = "Only administrators", body = ErrorBody),
    )
)]
async fn imports(
    ApiUser(user): ApiUser,
    State(store): State<Arc<dyn Store>>,
    Query(paging): Query<PageParams>,
) -> Result<Json<Paged<ImportItem>>, AppError> {
    let all = registry_admin::imports(store.as_ref(), &user.actor, IMPORTS_READ).await.map_err(refusal)?;
    let items = all
        .into_iter()
        .map(|i| ImportItem {
            id: i.id,
            at: fenhe_core::china_time::iso(i.record.at),
            files: i.record.files,
            ok: i.record.ok,
            summary: i.record.summary,
            problems: i.record.problems,
        })
        .collect();
    Ok(Json(Paged::of(items, paging)?))
}

/// `?format=toml|json`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `json` (default) or `toml`.
    pub format: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/registry/export",
    tag = "registry",
    params(ExportParams),
    responses(
        (status = OK, description = "The whole registry as a registry file, device passwords left out", body = String),
        (status = BAD_REQUEST, description = "An unknown format", body = ErrorBody),
        (status = FORBIDDEN, description = "Only administrators", body = ErrorBody),
    )
)]
async fn export(
    ApiUser(user): ApiUser,
    State(store): State<Arc<dyn Store>>,
    Query(p): Query<ExportParams>,
) -> Result<axum::response::Response, AppError> {
    use axum::response::IntoResponse;
    // The policy first: a role that may not export learns nothing of the formats.
    fenhe_core::access::authorize(
        &user.actor,
        fenhe_core::access::Action::ManageRegistry,
        fenhe_core::access::Target::City,
    )
    .map_err(denied_api)?;
    let (format, mime) = match p.format.as_deref() {
        None | Some("json") => (ExportFormat::Json, "application/json; charset=utf-8"),
        Some("toml") => (ExportFormat::Toml, "application/toml; charset=utf-8"),
        Some(other) => {
            return Err(crate::error::bad_request(format!("format {other:?} is not json or toml")));
        }
    };
    let text = registry_admin::export(store.as_ref(), &user.actor, format).await.map_err(refusal)?;
    Ok(([(axum::http::header::CONTENT_TYPE, mime)], text).into_response())
}
