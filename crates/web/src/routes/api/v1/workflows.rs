//! The supervision workflows' uniform API (issue 18), one set of handlers for every kind,
//! keyed by [`Kind`]:
//! - `GET /api/v1/{kind}` (tasks, hazards, retrofits; `alarms` keeps the alarm list): the
//!   items the caller may see, `?enterprise=&department=&state=&overdue=&q=&page=&per_page=`;
//! - `POST /api/v1/{kind}` (tasks, hazards, retrofits): a JSON object of fields → 201 `{"id"}`;
//! - `GET /api/v1/{kind}/{id}`: state, deadline, `allowed_actions`, `history`, fields, files
//!   (an alarm's review is in `GET /api/v1/alarms/{id}` as `review`);
//! - `POST /api/v1/{kind}/{id}/actions` with `{"action": NAME, …fields}` → 200 with the item;
//!   409 when the state does not allow it (nothing changed), 403 for a role that may not, 422
//!   with `{"errors": [{"field", "problem", "message"}]}` naming every bad field;
//! - `GET /api/v1/files/{sha256}`: an attachment, for those who may see its enterprise's items.
//!
//! Field values may be JSON strings or numbers (numbers become their text), an array of
//! strings is joined with commas (`supporting_units`, `outlets`), `null` is left out. Writes by
//! a browser session are JSON only, which another site cannot send without our consent (CORS),
//! as for every other `/api/v1` write; a bearer token needs no CSRF token.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fenhe_app::audit::Caller;
use fenhe_app::workflows::{self, ItemSummary, ItemView, ListFilter, WorkflowError, WorkflowSettings};
use fenhe_core::china_time;
use fenhe_core::workflow::{FieldProblem, Fields, Kind, Problem, Refusal};
use fenhe_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::paging::{PageParams, Paged};
use crate::error::{AppError, ErrorBody, bad_request, conflict, forbidden, internal, not_found};
use crate::extract::{Json, Path, Query};
use crate::i18n::Lang;
use crate::peer::Peer;
use crate::routes::denied_api;
use crate::session::ApiUser;
use crate::state::AppState;

/// The kinds created through the API (alarm reviews open from the engine's alarms).
const CREATED: [Kind; 3] = [Kind::Tasks, Kind::Hazards, Kind::Retrofits];

/// The routes, one handler each for every kind.
pub(super) fn router() -> Router<AppState> {
    let mut r = Router::new();
    for kind in Kind::ALL {
        let base = format!("/api/v1/{}", kind.name());
        if CREATED.contains(&kind) {
            r = r
                .route(
                    &base,
                    get(
                        move |u: ApiUser,
                              l: Lang,
                              s: State<AppState>,
                              f: Query<ListParams>,
                              p: Query<PageParams>| { list(kind, u, l, s, f, p) },
                    )
                    .post(
                        move |u: ApiUser,
                              peer: Peer,
                              lang: Lang,
                              s: State<AppState>,
                              b: Json<serde_json::Value>| {
                            create(kind, u, peer, lang, s, b)
                        },
                    ),
                )
                .route(
                    &format!("{base}/{{id}}"),
                    get(move |u: ApiUser, l: Lang, s: State<AppState>, id: Path<String>| {
                        one(kind, u, l, s, id)
                    }),
                );
        }
        r = r.route(
            &format!("{base}/{{id}}/actions"),
            post(
                move |u: ApiUser,
                      peer: Peer,
                      lang: Lang,
                      s: State<AppState>,
                      id: Path<String>,
                      b: Json<serde_json::Value>| { act(kind, u, peer, lang, s, id, b) },
            ),
        );
    }
    r.route("/api/v1/files/{sha256}", get(file))
}

/// The description of these routes (their paths written with `{kind}`).
#[derive(OpenApi)]
#[openapi(paths(list_doc, create_doc, one_doc, act_doc, file))]
pub(super) struct WorkflowDoc;

/// `?enterprise=&department=&state=&overdue=&q=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only this enterprise's items (`E01`).
    pub enterprise: Option<String>,
    /// Only items of this department (its code).
    pub department: Option<String>,
    /// Only items in this state (one of the kind's).
    pub state: Option<String>,
    /// `true`: only open items past their deadline.
    pub overdue: Option<bool>,
    /// Text the title contains.
    pub q: Option<String>,
}

/// An item in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemSummaryBody {
    /// `alarms`, `tasks`, `hazards`, `retrofits`.
    pub kind: &'static str,
    pub id: i64,
    pub state: String,
    /// Finished: nothing is late any more.
    pub closed: bool,
    pub enterprise: String,
    pub enterprise_name: String,
    pub department: Option<String>,
    pub title: String,
    /// The deadline (RFC 3339, China time; the end of its day).
    pub due_at: Option<String>,
    pub overdue: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&ItemSummary> for ItemSummaryBody {
    fn from(s: &ItemSummary) -> Self {
        ItemSummaryBody {
            kind: s.kind.name(),
            id: s.id,
            state: s.state.clone(),
            closed: s.closed,
            enterprise: s.enterprise.clone(),
            enterprise_name: s.enterprise_name.clone(),
            department: s.department.clone(),
            title: s.title.clone(),
            due_at: s.due_at.map(china_time::iso),
            overdue: s.overdue,
            created_at: china_time::iso(s.created_at),
            updated_at: china_time::iso(s.updated_at),
        }
    }
}

/// A step of an item's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepBody {
    /// 1, 2, 3 … per item.
    pub seq: i64,
    pub at: String,
    /// A username, or `system`.
    pub actor: String,
    pub role: String,
    pub action: String,
    pub from_state: Option<String>,
    pub to_state: String,
    #[schema(value_type = Object)]
    pub fields: Fields,
    /// SHA-256 of the files attached with the step (`/api/v1/files/{sha256}`).
    pub files: Vec<String>,
}

/// An attachment.
#[derive(Debug, Serialize, ToSchema)]
pub struct FileBody {
    pub sha256: String,
    pub name: String,
    pub content_type: String,
    pub size: i64,
    /// Where to fetch it.
    pub url: String,
}

/// One item with its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemBody {
    #[serde(flatten)]
    pub summary: ItemSummaryBody,
    /// Where it came from (`alarms/17`, `manual`).
    pub source: Option<String>,
    /// When a job escalated it for being late.
    pub escalated_at: Option<String>,
    /// The actions the caller may take now.
    pub allowed_actions: Vec<&'static str>,
    #[schema(value_type = Object)]
    pub fields: Fields,
    /// Every step, oldest first.
    pub history: Vec<StepBody>,
    pub files: Vec<FileBody>,
}

impl From<&ItemView> for ItemBody {
    fn from(v: &ItemView) -> Self {
        ItemBody {
            summary: ItemSummaryBody::from(&v.summary),
            source: v.source.clone(),
            escalated_at: v.escalated_at.map(china_time::iso),
            allowed_actions: v.allowed.clone(),
            fields: v.fields.clone(),
            history: v
                .history
                .iter()
                .map(|s| StepBody {
                    seq: s.seq,
                    at: china_time::iso(s.at),
                    actor: s.actor.clone(),
                    role: s.role.clone(),
                    action: s.action.clone(),
                    from_state: s.from_state.clone(),
                    to_state: s.to_state.clone(),
                    fields: s.fields.clone(),
                    files: s.files.clone(),
                })
                .collect(),
            files: v
                .files
                .iter()
                .map(|f| FileBody {
                    sha256: f.sha256.clone(),
                    name: f.name.clone(),
                    content_type: f.content_type.clone(),
                    size: f.size,
                    url: format!("/api/v1/files/{}", f.sha256),
                })
                .collect(),
        }
    }
}

/// A created item's id.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedBody {
    pub id: i64,
}

/// One bad field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldErrorBody {
    pub field: String,
    /// `missing`, `not_one_of`, `not_a_date`, `not_a_number`, `too_long`, `too_early`,
    /// `unknown_department`, `not_registered`, `too_large`, `registry`, `not_text`.
    pub problem: String,
    /// What is wrong, for people (Chinese, or English with `?lang=en`).
    pub message: String,
    /// The problem's details (`allowed`, `max`, `after` …).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub detail: serde_json::Map<String, serde_json::Value>,
}

/// 422: every bad field.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvalidBody {
    pub error: crate::error::ErrorDetail,
    pub errors: Vec<FieldErrorBody>,
}

fn field_error(p: &FieldProblem, english: bool) -> FieldErrorBody {
    let mut detail = match serde_json::to_value(&p.problem) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let problem = match detail.remove("problem") {
        Some(serde_json::Value::String(s)) => s,
        _ => "invalid".into(),
    };
    FieldErrorBody { field: p.field.clone(), problem, message: p.problem.describe(english), detail }
}

/// The 422 answer naming every field of `problems`.
fn invalid(problems: &[FieldProblem], lang: Lang) -> Response {
    let errors: Vec<FieldErrorBody> = problems.iter().map(|p| field_error(p, lang.is_english())).collect();
    let message = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
    let body = InvalidBody { error: crate::error::ErrorDetail { code: "unprocessable", message }, errors };
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

/// 422 for fields whose JSON values are objects or nested arrays (not text, a number, or a list
/// of them).
fn not_text(names: &[String], lang: Lang) -> Response {
    let message = if lang.is_english() { "must be text or a number" } else { "应为文字或数字" };
    let errors: Vec<FieldErrorBody> = names
        .iter()
        .map(|n| FieldErrorBody {
            field: n.clone(),
            problem: "not_text".into(),
            message: message.into(),
            detail: serde_json::Map::new(),
        })
        .collect();
    let summary = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ");
    let body =
        InvalidBody { error: crate::error::ErrorDetail { code: "unprocessable", message: summary }, errors };
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

/// A use case's refusal as the API answers it.
fn refused(e: WorkflowError, lang: Lang) -> Response {
    match e {
        WorkflowError::Denied(d) => denied_api(d).into_response(),
        WorkflowError::Store(s) => internal(s).into_response(),
        WorkflowError::Refused(r) => match r {
            Refusal::Invalid(problems) => invalid(&problems, lang),
            Refusal::UnknownAction { kind, .. } => {
                let allowed = Kind::parse(kind)
                    .map(|k| k.machine().actions().iter().map(|a| a.name.to_string()).collect())
                    .unwrap_or_default();
                invalid(
                    &[FieldProblem { field: "action".into(), problem: Problem::NotOneOf { allowed } }],
                    lang,
                )
            }
            Refusal::NotInState { .. } | Refusal::Unmet { .. } => {
                conflict(r.describe(lang.is_english())).into_response()
            }
            Refusal::RoleMayNot { .. } => forbidden(r.describe(lang.is_english())).into_response(),
        },
    }
}

/// The fields of a JSON object as text, or the names of those that are neither text nor numbers.
fn fields_of(body: serde_json::Map<String, serde_json::Value>, skip: &str) -> Result<Fields, Vec<String>> {
    use serde_json::Value;
    let mut fields = Fields::new();
    let mut problems = Vec::new();
    for (name, value) in body {
        if name == skip {
            continue;
        }
        let text = match value {
            Value::Null => continue,
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Array(items) => {
                let parts: Option<Vec<String>> = items
                    .into_iter()
                    .map(|v| match v {
                        Value::String(s) => Some(s),
                        Value::Number(n) => Some(n.to_string()),
                        _ => None,
                    })
                    .collect();
                parts.map(|p| p.join(","))
            }
            Value::Object(_) => None,
        };
        match text {
            Some(t) => {
                fields.insert(name, t);
            }
            None => problems.push(name),
        }
    }
    if problems.is_empty() { Ok(fields) } else { Err(problems) }
}

fn object(body: serde_json::Value) -> Result<serde_json::Map<String, serde_json::Value>, AppError> {
    match body {
        serde_json::Value::Object(m) => Ok(m),
        _ => Err(crate::error::unprocessable("the body must be a JSON object of fields")),
    }
}

/// Ids are positive integers; anything else is no item (404, as a missing one).
fn item_id(id: &str) -> Result<i64, AppError> {
    id.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(|| not_found("not found"))
}

fn settings(s: &AppState) -> Arc<WorkflowSettings> {
    s.workflows.clone()
}

fn store(s: &AppState) -> Arc<dyn Store> {
    s.store.clone()
}

async fn list(
    kind: Kind,
    ApiUser(user): ApiUser,
    lang: Lang,
    State(state): State<AppState>,
    Query(p): Query<ListParams>,
    Query(paging): Query<PageParams>,
) -> Response {
    let (page, per_page) = match paging.resolve() {
        Ok(pp) => pp,
        Err(e) => return e.into_response(),
    };
    let filter = ListFilter {
        enterprise: p.enterprise,
        department: p.department,
        state: p.state,
        overdue: p.overdue.unwrap_or(false),
        text: p.q,
    };
    let now = china_time::now_ms();
    match workflows::list(store(&state).as_ref(), &user.actor, kind, &filter, page, per_page, now).await {
        Ok(l) => {
            let items = l.items.iter().map(ItemSummaryBody::from).collect();
            Json(Paged { items, page: l.page, per_page: l.per_page, total: l.total }).into_response()
        }
        Err(e) => refused(e, lang),
    }
}

async fn create(
    kind: Kind,
    ApiUser(user): ApiUser,
    Peer(peer): Peer,
    lang: Lang,
    State(state): State<AppState>,
    Json(body): Json<serde_json::Value>,
) -> Response {
    let body = match object(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let fields = match fields_of(body, "") {
        Ok(f) => f,
        Err(names) => return not_text(&names, lang),
    };
    let caller = Caller::new(user.actor.clone(), peer, china_time::now_ms());
    let settings = settings(&state);
    match workflows::create_by(store(&state).as_ref(), &settings, &caller, kind, &fields, Vec::new()).await {
        Ok(id) => (StatusCode::CREATED, Json(CreatedBody { id })).into_response(),
        Err(e) => refused(e, lang),
    }
}

async fn one(
    kind: Kind,
    ApiUser(user): ApiUser,
    lang: Lang,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Response {
    // The role's refusal first, so a role that sees no items learns nothing from the id's shape.
    if let Err(d) = fenhe_app::workflows::access::item_scope(&user.actor) {
        return denied_api(d).into_response();
    }
    let id = match item_id(&id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let settings = settings(&state);
    let now = china_time::now_ms();
    match workflows::get(store(&state).as_ref(), &settings, &user.actor, kind, id, now).await {
        Ok(v) => Json(ItemBody::from(&v)).into_response(),
        Err(e) => refused(e, lang),
    }
}

async fn act(
    kind: Kind,
    ApiUser(user): ApiUser,
    Peer(peer): Peer,
    lang: Lang,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Json(body): Json<serde_json::Value>,
) -> Response {
    if let Err(d) = fenhe_app::workflows::access::item_scope(&user.actor) {
        return denied_api(d).into_response();
    }
    let id = match item_id(&id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let mut body = match object(body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let action = match body.remove("action") {
        Some(serde_json::Value::String(a)) if !a.trim().is_empty() => a.trim().to_string(),
        _ => return invalid(&[FieldProblem { field: "action".into(), problem: Problem::Missing }], lang),
    };
    let fields = match fields_of(body, "action") {
        Ok(f) => f,
        Err(names) => return not_text(&names, lang),
    };
    let caller = Caller::new(user.actor.clone(), peer, china_time::now_ms());
    let settings = settings(&state);
    let store = store(&state);
    match workflows::act_by(store.as_ref(), &settings, &caller, kind, id, &action, &fields, Vec::new()).await
    {
        Ok(v) => Json(ItemBody::from(&v)).into_response(),
        Err(e) => refused(e, lang),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/files/{sha256}",
    tag = "workflows",
    params(("sha256" = String, Path, description = "The file's SHA-256, lowercase hex")),
    responses(
        (status = OK, description = "The file's bytes, as an attachment"),
        (status = UNAUTHORIZED, description = "No session or token", body = ErrorBody),
        (status = NOT_FOUND, description = "No such file, or another enterprise's", body = ErrorBody),
    )
)]
async fn file(
    ApiUser(user): ApiUser,
    State(store): State<Arc<dyn Store>>,
    Path(sha256): Path<String>,
) -> Result<Response, AppError> {
    let (info, bytes) = workflows::file(store.as_ref(), &user.actor, &sha256).await.map_err(|e| match e {
        WorkflowError::Denied(d) => denied_api(d),
        WorkflowError::Store(s) => internal(s),
        WorkflowError::Refused(r) => bad_request(r.to_string()),
    })?;
    let content_type = HeaderValue::from_str(&info.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    // RFC 6266 with RFC 5987's encoding: names are often Chinese.
    let encoded: String = info
        .name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let disposition = HeaderValue::from_str(&format!("attachment; filename*=UTF-8''{encoded}"))
        .unwrap_or(HeaderValue::from_static("attachment"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        bytes,
    )
        .into_response())
}

// The descriptions of the per-kind routes, written once with `{kind}` (they are served by the
// closures of `router`, one per kind).

#[utoipa::path(
    get,
    path = "/api/v1/{kind}",
    tag = "workflows",
    params(("kind" = String, Path, description = "`tasks`, `hazards` or `retrofits` (alarms: `/api/v1/alarms`)"), ListParams, PageParams),
    responses(
        (status = OK, description = "Items the caller may see, newest first", body = Paged<ItemSummaryBody>),
        (status = BAD_REQUEST, description = "A paging value is wrong", body = ErrorBody),
        (status = FORBIDDEN, description = "The role sees no items", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "A state the kind does not have", body = InvalidBody),
    )
)]
#[allow(dead_code)]
fn list_doc() {}

#[utoipa::path(
    post,
    path = "/api/v1/{kind}",
    tag = "workflows",
    params(("kind" = String, Path, description = "`tasks`, `hazards` or `retrofits`")),
    request_body(content = Object, description = "The creation fields, by name: strings or numbers"),
    responses(
        (status = CREATED, description = "Created", body = CreatedBody),
        (status = FORBIDDEN, description = "The role may not create one (for this enterprise)", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "Every bad field, named", body = InvalidBody),
    )
)]
#[allow(dead_code)]
fn create_doc() {}

#[utoipa::path(
    get,
    path = "/api/v1/{kind}/{id}",
    tag = "workflows",
    params(("kind" = String, Path, description = "`tasks`, `hazards` or `retrofits` (an alarm's review: `/api/v1/alarms/{id}`)"),
           ("id" = i64, Path, description = "The item's id")),
    responses(
        (status = OK, description = "The item, its allowed actions and history", body = ItemBody),
        (status = NOT_FOUND, description = "No such item, or one the caller may not see", body = ErrorBody),
    )
)]
#[allow(dead_code)]
fn one_doc() {}

#[utoipa::path(
    post,
    path = "/api/v1/{kind}/{id}/actions",
    tag = "workflows",
    params(("kind" = String, Path, description = "`alarms`, `tasks`, `hazards` or `retrofits`"),
           ("id" = i64, Path, description = "The item's id (for alarms, the alarm's)")),
    request_body(content = Object, description = "`{\"action\": NAME, …fields}`"),
    responses(
        (status = OK, description = "Applied; the item after it", body = ItemBody),
        (status = FORBIDDEN, description = "The role may not take this action", body = ErrorBody),
        (status = NOT_FOUND, description = "No such item, or one the caller may not see", body = ErrorBody),
        (status = CONFLICT, description = "The state does not allow it (or changed meanwhile); nothing changed", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "No such action, or every bad field named", body = InvalidBody),
    )
)]
#[allow(dead_code)]
fn act_doc() {}
