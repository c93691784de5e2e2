//! `/registry/users`: the accounts (ManageUsers) — the list with a form to add one; each user's
//! page with deactivation, the administrator's password reset (which ends all of the user's
//! sessions) and their API tokens with revocation. The rules and the audit are
//! `fenhe_app::accounts`' and `fenhe_app::auth`'s.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use fenhe_app::accounts::{self, NewAccount, TokenView, UserView};
use fenhe_app::audit::Caller;
use fenhe_app::auth::{self, AuthError};
use fenhe_app::registry_admin;
use fenhe_core::access::{Actor, Role, RoleError};
use fenhe_core::account_rules::{PASSWORD_MIN, PasswordError};
use fenhe_store::Store;
use serde::Deserialize;

use super::{Field, Tab, edit_error, here, tabs};
use crate::chrome::{Chrome, render_with};
use crate::csrf::CsrfForm;
use crate::error::internal;
use crate::extract::{Path, Query};
use crate::i18n::Lang;
use crate::local_path;
use crate::pager::Pager;
use crate::peer::Peer;
use crate::routes::denied_page;
use crate::session::PageUser;
use crate::state::AppState;

const PATH: &str = "/registry/users";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(PATH, get(list).post(create))
        .route("/registry/users/{name}", get(detail))
        .route("/registry/users/{name}/active", post(set_active))
        .route("/registry/users/{name}/password", post(reset))
        .route("/registry/tokens/{id}/revoke", post(revoke))
}

fn now() -> i64 {
    fenhe_core::china_time::now_ms()
}

/// A user as the list shows them.
struct UserRow {
    username: String,
    href: String,
    display_name: String,
    role: &'static str,
    unit: String,
    active: bool,
    created: String,
}

#[derive(Template)]
#[template(path = "registry_users.html")]
struct UsersPage {
    page: Chrome,
    tabs: Vec<Tab>,
    rows: Vec<UserRow>,
    pager: Pager,
    fields: Vec<Field>,
    general: Vec<String>,
}

impl UsersPage {
    fn has_errors(&self) -> bool {
        !self.general.is_empty() || self.fields.iter().any(|f| f.error.is_some())
    }
}

#[derive(Template)]
#[template(path = "registry_user.html")]
struct UserPage {
    page: Chrome,
    tabs: Vec<Tab>,
    user: UserView,
    role: &'static str,
    /// Addresses the forms post to (the username percent-encoded).
    base: String,
    tokens: Vec<TokenView>,
    fields: Vec<Field>,
    general: Vec<String>,
    notice: Option<&'static str>,
}

impl UserPage {
    fn has_errors(&self) -> bool {
        !self.general.is_empty() || self.fields.iter().any(|f| f.error.is_some())
    }
    fn time(&self, ms: &i64) -> String {
        fenhe_core::china_time::minute_text(*ms)
    }
    fn opt_time(&self, ms: &Option<i64>) -> String {
        ms.map(fenhe_core::china_time::minute_text).unwrap_or_else(|| "—".into())
    }
}

/// The fields of a new user as typed (never the password).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NewUserForm {
    username: String,
    display_name: String,
    role: String,
    department: String,
    enterprise: String,
    password: String,
}

#[derive(Debug, Default, Deserialize)]
struct UsersQuery {
    page: Option<u32>,
}

fn role_label(name: &str, lang: Lang) -> &'static str {
    let role = match name {
        "admin" => Role::Admin,
        "leader" => Role::Leader,
        "bureau" => Role::Bureau,
        "department" => Role::Department { department: String::new() },
        _ => Role::Enterprise { enterprise: String::new() },
    };
    role.label(lang.is_english())
}

async fn new_user_fields(
    store: &dyn Store,
    actor: &Actor,
    f: &NewUserForm,
    lang: Lang,
) -> Result<Vec<Field>, Response> {
    let page = || Chrome::signed_in(lang, PATH, actor, "");
    let (departments, enterprises) =
        registry_admin::user_units(store, actor).await.map_err(|e| edit_error(page(), e))?;
    let roles = fenhe_core::access::ROLE_NAMES
        .iter()
        .map(|r| (r.to_string(), role_label(r, lang).to_string()))
        .collect();
    let mut deps: Vec<(String, String)> = departments
        .iter()
        .map(|d| (d.code.clone(), if lang.is_english() { d.name_en.clone() } else { d.name_zh.clone() }))
        .collect();
    deps.insert(0, (String::new(), lang.t("registry.user.no_unit").to_string()));
    let mut ents: Vec<(String, String)> =
        enterprises.into_iter().map(|(id, name)| (id.clone(), format!("{id} {name}"))).collect();
    ents.insert(0, (String::new(), lang.t("registry.user.no_unit").to_string()));
    Ok(vec![
        Field::text("username", lang.t("registry.f.username"), &f.username)
            .required()
            .hint(lang.t("registry.h.username")),
        Field::text("display_name", lang.t("registry.f.display_name"), &f.display_name),
        Field::text("role", lang.t("registry.f.role"), &f.role).select(roles),
        Field::text("department", lang.t("registry.f.department"), &f.department)
            .select(deps)
            .hint(lang.t("registry.h.department")),
        Field::text("enterprise", lang.t("registry.f.enterprise"), &f.enterprise)
            .select(ents)
            .hint(lang.t("registry.h.enterprise")),
        Field::text("password", lang.t("registry.f.initial_password"), "")
            .kind("password")
            .required()
            .hint(lang.t("registry.h.initial_password")),
    ])
}

/// Why a new password was refused, in the page's language.
fn password_refusal(e: &PasswordError, lang: Lang) -> String {
    match e {
        PasswordError::TooShort(n) => format!("{} ({n} / {PASSWORD_MIN})", lang.t("password.too_short")),
        PasswordError::TooLong => lang.t("password.too_long").to_string(),
        PasswordError::SameAsUsername => lang.t("password.same_as_username").to_string(),
        PasswordError::Padded => lang.t("password.padded").to_string(),
    }
}

/// An account rule's refusal as a form field and its message; `None` for what is not the
/// form's fault (the policy, the store).
fn refusal_field(e: &AuthError, lang: Lang) -> Option<(&'static str, String)> {
    let detail = |key: &str| {
        if lang.is_english() { format!("{} ({e})", lang.t(key)) } else { lang.t(key).to_string() }
    };
    Some(match e {
        AuthError::Username(_) => ("username", detail("registry.user.err.username")),
        AuthError::UserExists(_) => ("username", lang.t("registry.user.err.exists").to_string()),
        AuthError::Password(p) => ("password", password_refusal(p, lang)),
        AuthError::Label => ("display_name", lang.t("registry.user.err.label").to_string()),
        AuthError::Role(RoleError::MissingDepartment) | AuthError::UnknownDepartment { .. } => {
            ("department", lang.t("registry.user.err.department").to_string())
        }
        AuthError::Role(RoleError::MissingEnterprise) | AuthError::UnknownEnterprise(_) => {
            ("enterprise", lang.t("registry.user.err.enterprise").to_string())
        }
        AuthError::Role(_) => ("role", lang.t("registry.user.err.role").to_string()),
        _ => return None,
    })
}

async fn users_page(
    store: &dyn Store,
    page: Chrome,
    actor: &Actor,
    page_no: u32,
    form: &NewUserForm,
) -> Result<UsersPage, Response> {
    let lang = page.lang;
    let users = match accounts::list_users(store, actor).await {
        Ok(u) => u,
        Err(AuthError::Denied(d)) => return Err(denied_page(page, d)),
        Err(e) => return Err(internal(e).into_response()),
    };
    let fields = new_user_fields(store, actor, form, lang).await?;
    let pager = Pager::new(PATH, &[], page_no, users.len() as u64);
    let rows = pager
        .slice(users)
        .into_iter()
        .map(|u| UserRow {
            href: format!("{PATH}/{}", local_path::encode(&u.username)),
            role: role_label(&u.role, lang),
            unit: u.department.clone().or(u.enterprise.clone()).unwrap_or_default(),
            created: fenhe_core::china_time::minute_text(u.created_at),
            active: u.active,
            display_name: u.display_name,
            username: u.username,
        })
        .collect();
    Ok(UsersPage { tabs: tabs(actor, lang, PATH), rows, pager, fields, general: Vec::new(), page })
}

async fn list(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    Query(q): Query<UsersQuery>,
) -> Response {
    let page = Chrome::signed_in(lang, here(&uri), &user.actor, &user.csrf);
    let form = NewUserForm { role: "bureau".into(), ..Default::default() };
    match users_page(store.as_ref(), page, &user.actor, q.page.unwrap_or(1), &form).await {
        Ok(p) => render_with(StatusCode::OK, &p),
        Err(refused) => refused,
    }
}

async fn create(Peer(peer): Peer, State(store): State<Arc<dyn Store>>, f: CsrfForm<NewUserForm>) -> Response {
    let CsrfForm { user, lang, mut form } = f;
    let page = Chrome::signed_in(lang, PATH, &user.actor, &user.csrf);
    // Both unit choices are posted; only the one the role takes counts.
    let department = (form.role == "department").then_some(form.department.as_str());
    let enterprise = (form.role == "enterprise").then_some(form.enterprise.as_str());
    let result = match Role::from_parts(&form.role, department, enterprise) {
        Err(e) => Err(AuthError::Role(e)),
        Ok(role) => {
            let new = NewAccount {
                username: form.username.trim().to_string(),
                display_name: form.display_name.clone(),
                role,
                password: form.password.clone(),
            };
            let caller = Caller::new(user.actor.clone(), peer, now());
            accounts::create_user(store.as_ref(), &caller, &new).await
        }
    };
    // The password typed is never sent back.
    form.password.clear();
    match result {
        Ok(v) => Redirect::to(&format!("{PATH}/{}?notice=created", local_path::encode(&v.username)))
            .into_response(),
        Err(AuthError::Denied(d)) => denied_page(page, d),
        Err(e) => match refusal_field(&e, lang) {
            Some((field, message)) => match users_page(store.as_ref(), page, &user.actor, 1, &form).await {
                Ok(mut p) => {
                    if let Some(f) = p.fields.iter_mut().find(|f| f.name == field) {
                        f.error = Some(message);
                    }
                    render_with(StatusCode::UNPROCESSABLE_ENTITY, &p)
                }
                Err(refused) => refused,
            },
            None => internal(e).into_response(),
        },
    }
}

#[derive(Debug, Default, Deserialize)]
struct DetailQuery {
    notice: Option<String>,
}

fn reset_fields(lang: Lang) -> Vec<Field> {
    vec![
        Field::text("password", lang.t("registry.f.new_password"), "").kind("password").required(),
        Field::text("repeat", lang.t("password.repeat"), "").kind("password").required(),
    ]
}

/// The user's page, or the refusal (403 for a role that may not, 404 for no such user).
async fn user_page(store: &dyn Store, page: Chrome, actor: &Actor, name: &str) -> Result<UserPage, Response> {
    let lang = page.lang;
    let users = match accounts::list_users(store, actor).await {
        Ok(u) => u,
        Err(AuthError::Denied(d)) => return Err(denied_page(page, d)),
        Err(e) => return Err(internal(e).into_response()),
    };
    let Some(found) = users.into_iter().find(|u| u.username == name) else {
        return Err(denied_page(page, fenhe_core::access::Denied::NotFound));
    };
    let tokens =
        accounts::list_tokens(store, actor, Some(name)).await.map_err(|e| internal(e).into_response())?;
    Ok(UserPage {
        tabs: tabs(actor, lang, PATH),
        role: role_label(&found.role, lang),
        base: format!("{PATH}/{}", local_path::encode(&found.username)),
        user: found,
        tokens,
        fields: reset_fields(lang),
        general: Vec::new(),
        notice: None,
        page,
    })
}

async fn detail(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    Path(name): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let page = Chrome::signed_in(lang, here(&uri), &user.actor, &user.csrf);
    match user_page(store.as_ref(), page, &user.actor, &name).await {
        Ok(mut p) => {
            p.notice = match q.notice.as_deref() {
                Some("created") => Some(lang.t("registry.user.created")),
                Some("active") => Some(lang.t("registry.saved")),
                Some("reset") => Some(lang.t("registry.user.reset_done")),
                Some("revoked") => Some(lang.t("registry.token.revoked")),
                _ => None,
            };
            render_with(StatusCode::OK, &p)
        }
        Err(refused) => refused,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ActiveForm {
    active: String,
}

async fn set_active(
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    Path(name): Path<String>,
    f: CsrfForm<ActiveForm>,
) -> Response {
    let CsrfForm { user, lang, form } = f;
    let base = format!("{PATH}/{}", local_path::encode(&name));
    let page = Chrome::signed_in(lang, &base, &user.actor, &user.csrf);
    let caller = Caller::new(user.actor.clone(), peer, now());
    match accounts::set_user_active(store.as_ref(), &caller, &name, form.active == "true").await {
        Ok(_) => Redirect::to(&format!("{base}?notice=active")).into_response(),
        Err(AuthError::Denied(d)) => denied_page(page, d),
        Err(AuthError::UnknownUser(_)) => denied_page(page, fenhe_core::access::Denied::NotFound),
        Err(e) => internal(e).into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ResetForm {
    password: String,
    repeat: String,
}

async fn reset(
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    Path(name): Path<String>,
    f: CsrfForm<ResetForm>,
) -> Response {
    let CsrfForm { user, lang, form } = f;
    let base = format!("{PATH}/{}", local_path::encode(&name));
    let page = Chrome::signed_in(lang, &base, &user.actor, &user.csrf);
    let caller = Caller::new(user.actor.clone(), peer, now());
    let refused = |field: &'static str, message: String, page: Chrome| {
        let store = store.clone();
        let actor = user.actor.clone();
        let name = name.clone();
        async move {
            match user_page(store.as_ref(), page, &actor, &name).await {
                Ok(mut p) => {
                    if let Some(f) = p.fields.iter_mut().find(|f| f.name == field) {
                        f.error = Some(message);
                    }
                    render_with(StatusCode::UNPROCESSABLE_ENTITY, &p)
                }
                Err(r) => r,
            }
        }
    };
    if form.password != form.repeat {
        // Only an administrator learns anything from this page: ask the policy first.
        if let Err(d) = fenhe_core::access::authorize(
            &user.actor,
            fenhe_core::access::Action::ManageUsers,
            fenhe_core::access::Target::City,
        ) {
            return denied_page(page, d);
        }
        return refused("repeat", lang.t("password.mismatch").to_string(), page).await;
    }
    match auth::reset_password(store.as_ref(), &caller, &name, &form.password).await {
        Ok(()) => Redirect::to(&format!("{base}?notice=reset")).into_response(),
        Err(AuthError::Denied(d)) => denied_page(page, d),
        Err(AuthError::UnknownUser(_)) => denied_page(page, fenhe_core::access::Denied::NotFound),
        Err(AuthError::Password(p)) => refused("password", password_refusal(&p, lang), page).await,
        Err(e) => internal(e).into_response(),
    }
}

async fn revoke(
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    Path(id): Path<i64>,
    f: CsrfForm<ActiveForm>,
) -> Response {
    let CsrfForm { user, lang, .. } = f;
    let page = Chrome::signed_in(lang, PATH, &user.actor, &user.csrf);
    // Revoking another's token needs ManageUsers (the use case answers others' tokens as
    // missing); this page is the administrators'.
    if let Err(d) = fenhe_core::access::authorize(
        &user.actor,
        fenhe_core::access::Action::ManageUsers,
        fenhe_core::access::Target::City,
    ) {
        return denied_page(page, d);
    }
    let caller = Caller::new(user.actor.clone(), peer, now());
    match accounts::revoke_token(store.as_ref(), &caller, id).await {
        Ok(t) => Redirect::to(&format!("{PATH}/{}?notice=revoked", local_path::encode(&t.username)))
            .into_response(),
        Err(AuthError::Denied(d)) => denied_page(page, d),
        Err(AuthError::UnknownToken(_)) | Err(AuthError::TokenRevoked(_)) => {
            denied_page(page, fenhe_core::access::Denied::NotFound)
        }
        Err(e) => internal(e).into_response(),
    }
}
