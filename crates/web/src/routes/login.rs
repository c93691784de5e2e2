//! Signing in and out. `GET /login` shows the form (and, in demo mode, the demo accounts);
//! `POST /login` checks the form's CSRF token against its cookie (double submit: there is no
//! session yet to bind it to), signs in through `fenhe_app::auth`, sets the session cookie and
//! goes to the page asked for; failures are shown in the form, in the page's language, and a
//! throttled account or address is told when to try again. `POST /logout` ends the session.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use fenhe_app::accounts::{DemoAccount, demo_accounts};
use fenhe_app::auth::{self, AuthError};
use fenhe_core::china_time::{now_ms, seconds_text};
use fenhe_store::Store;
use serde::Deserialize;

use crate::chrome::{Chrome, render, render_with};
use crate::cookies::{self, CookieOptions};
use crate::csrf::{self, CsrfForm};
use crate::error::{AppError, internal};
use crate::extract::Query;
use crate::i18n::Lang;
use crate::local_path;
use crate::peer::Peer;
use crate::session::{MaybeUser, SESSION_COOKIE};
use crate::state::{AppState, WebConfig};

/// The sign-in form's CSRF cookie.
pub const LOGIN_CSRF_COOKIE: &str = "fenhe_login_csrf";

/// How long a sign-in form stays usable.
const LOGIN_FORM_SECONDS: i64 = 3600;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/login", get(form).post(submit)).route("/logout", post(logout))
}

/// A demo account as the sign-in page lists it.
struct DemoRow {
    username: String,
    password: String,
    role: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    page: Chrome,
    csrf: String,
    next: String,
    username: String,
    error: Option<String>,
    demo: Vec<DemoRow>,
}

impl LoginPage {
    fn new(lang: Lang, accounts: &[DemoAccount], csrf: String, next: &str) -> LoginPage {
        let demo = accounts
            .iter()
            .map(|d| {
                let unit = match &d.role {
                    fenhe_core::access::Role::Department { department } => format!(" · {department}"),
                    fenhe_core::access::Role::Enterprise { enterprise } => format!(" · {enterprise}"),
                    _ => String::new(),
                };
                DemoRow {
                    username: d.username.clone(),
                    password: d.password.clone(),
                    role: format!("{}{unit}", d.role.label(lang.is_english())),
                }
            })
            .collect();
        LoginPage {
            page: Chrome::anonymous(lang, &login_path(next)),
            csrf,
            next: next.to_string(),
            username: String::new(),
            error: None,
            demo,
        }
    }
}

/// `/login`, with the return path when there is one (the language switch comes back to it).
fn login_path(next: &str) -> String {
    if next == "/" { "/login".into() } else { format!("/login?next={}", local_path::encode(next)) }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// The return path: a local path, else the overview.
fn safe_next(next: Option<&str>) -> &str {
    next.and_then(local_path::local).unwrap_or("/")
}

/// The demo's accounts in demo mode, else none.
async fn demo_list(store: &dyn Store, config: &WebConfig) -> Result<Vec<DemoAccount>, AppError> {
    if !config.demo {
        return Ok(Vec::new());
    }
    demo_accounts(store).await.map_err(internal)
}

fn login_csrf_cookie(value: &str, config: &WebConfig) -> HeaderValue {
    let o =
        CookieOptions { http_only: true, secure: config.secure_cookies, max_age: Some(LOGIN_FORM_SECONDS) };
    cookies::set(LOGIN_CSRF_COOKIE, value, o)
}

async fn form(
    MaybeUser(user): MaybeUser,
    lang: Lang,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
    State(store): State<Arc<dyn Store>>,
    State(config): State<Arc<WebConfig>>,
) -> Result<Response, AppError> {
    let next = safe_next(q.next.as_deref());
    if user.is_some_and(|u| !u.by_token()) {
        return Ok(Redirect::to(next).into_response());
    }
    // Keep the token of a form already open in another tab valid.
    let token = match cookies::get(&headers, LOGIN_CSRF_COOKIE).filter(|t| t.len() == 64) {
        Some(t) => t,
        None => csrf::new_token()?,
    };
    let demo = demo_list(store.as_ref(), &config).await?;
    let page = LoginPage::new(lang, &demo, token.clone(), next);
    Ok(([(header::SET_COOKIE, login_csrf_cookie(&token, &config))], render(&page)?).into_response())
}

/// Every field optional: a form posted without one is a failed sign-in shown in the form (or a
/// refused one, without its token), not a bare 422.
#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

async fn submit(
    lang: Lang,
    Peer(peer): Peer,
    headers: HeaderMap,
    State(store): State<Arc<dyn Store>>,
    State(config): State<Arc<WebConfig>>,
    Form(f): Form<LoginForm>,
) -> Result<Response, AppError> {
    let next = safe_next(f.next.as_deref()).to_string();
    let cookie = cookies::get(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if !csrf::same_token(&f.csrf, &cookie) {
        return Ok(csrf::refused(Chrome::anonymous(lang, &login_path(&next))));
    }
    let now = now_ms();
    let signed = match auth::sign_in(store.as_ref(), f.username.trim(), &f.password, &peer, now).await {
        Ok(s) => s,
        Err(e) => {
            let demo = demo_list(store.as_ref(), &config).await?;
            return failed(lang, &demo, cookie, &next, f.username, e, now);
        }
    };
    let max_age = ((signed.expires_at - now) / 1000).max(0);
    let session = CookieOptions { http_only: true, secure: config.secure_cookies, max_age: Some(max_age) };
    let mut h = HeaderMap::new();
    h.append(header::SET_COOKIE, cookies::set(SESSION_COOKIE, &signed.session_token, session));
    // The sign-in form's token has served its purpose.
    let gone = CookieOptions { http_only: true, secure: config.secure_cookies, max_age: Some(0) };
    h.append(header::SET_COOKIE, cookies::set(LOGIN_CSRF_COOKIE, "", gone));
    Ok((h, Redirect::to(&next)).into_response())
}

/// The form again, with what went wrong. Wrong names and wrong passwords get the same message,
/// so the form does not tell which accounts exist.
fn failed(
    lang: Lang,
    demo: &[DemoAccount],
    csrf: String,
    next: &str,
    username: String,
    e: AuthError,
    now: i64,
) -> Result<Response, AppError> {
    let mut page = LoginPage::new(lang, demo, csrf, next);
    page.username = username;
    match e {
        AuthError::Throttled { retry_after_ms, .. } => {
            let until = now.saturating_add(retry_after_ms);
            page.error = Some(format!("{} {}", lang.t("login.throttled"), seconds_text(until)));
            // Whole seconds, rounded up: a client that waits this long is not refused again.
            let wait = (retry_after_ms + 999) / 1000;
            let mut r = render_with(StatusCode::TOO_MANY_REQUESTS, &page);
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
            Ok(r)
        }
        AuthError::BadCredentials => {
            page.error = Some(lang.t("login.failed").to_string());
            Ok(render_with(StatusCode::UNAUTHORIZED, &page))
        }
        other => Err(internal(other)),
    }
}

#[derive(Deserialize)]
struct NoFields {}

async fn logout(
    State(store): State<Arc<dyn Store>>,
    State(config): State<Arc<WebConfig>>,
    f: CsrfForm<NoFields>,
) -> Result<Response, AppError> {
    if let Some(token) = &f.user.session_token {
        auth::sign_out(store.as_ref(), token).await.map_err(internal)?;
    }
    let gone = CookieOptions { http_only: true, secure: config.secure_cookies, max_age: Some(0) };
    Ok(([(header::SET_COOKIE, cookies::set(SESSION_COOKIE, "", gone))], Redirect::to("/login"))
        .into_response())
}
