//! `/account/password`: a signed-in person changes their own password (the current one, the new
//! one twice); the form's CSRF token is the session's, and the rules a new password must meet
//! are `fenhe_app::auth`'s, shown in the form when it refuses one.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fenhe_app::audit::Caller;
use fenhe_app::auth::{self, AuthError};
use fenhe_core::account_rules::{PASSWORD_MIN, PasswordError};
use fenhe_store::Store;
use serde::Deserialize;

use crate::chrome::{Chrome, render, render_with};
use crate::csrf::CsrfForm;
use crate::error::{AppError, internal};
use crate::i18n::Lang;
use crate::peer::Peer;
use crate::session::PageUser;
use crate::state::AppState;

const PATH: &str = "/account/password";

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(form).post(submit))
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    page: Chrome,
    error: Option<String>,
    done: bool,
}

async fn form(PageUser(user): PageUser, lang: Lang) -> Result<impl IntoResponse, AppError> {
    let page = Chrome::signed_in(lang, PATH, &user.actor, &user.csrf);
    render(&PasswordPage { page, error: None, done: false })
}

#[derive(Deserialize)]
struct PasswordForm {
    old: String,
    new: String,
    repeat: String,
}

/// Why a new password was refused, in the page's language.
fn refusal(e: &PasswordError, lang: Lang) -> String {
    match e {
        PasswordError::TooShort(n) => format!("{} ({n} / {PASSWORD_MIN})", lang.t("password.too_short")),
        PasswordError::TooLong => lang.t("password.too_long").to_string(),
        PasswordError::SameAsUsername => lang.t("password.same_as_username").to_string(),
        PasswordError::Padded => lang.t("password.padded").to_string(),
    }
}

async fn submit(
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    f: CsrfForm<PasswordForm>,
) -> Result<Response, AppError> {
    let CsrfForm { user, lang, form } = f;
    let page = Chrome::signed_in(lang, PATH, &user.actor, &user.csrf);
    let refuse = |page, message: String| {
        render_with(
            StatusCode::UNPROCESSABLE_ENTITY,
            &PasswordPage { page, error: Some(message), done: false },
        )
    };
    if form.new != form.repeat {
        return Ok(refuse(page, lang.t("password.mismatch").to_string()));
    }
    let now = fenhe_core::china_time::now_ms();
    let caller = Caller::new(user.actor.clone(), peer, now);
    // The person's other sessions end; the one they are using stays.
    let current = user.session_token.as_deref();
    match auth::change_password(store.as_ref(), &caller, current, &form.old, &form.new).await {
        Ok(()) => Ok(render(&PasswordPage { page, error: None, done: true })?.into_response()),
        Err(AuthError::WrongPassword) => Ok(refuse(page, lang.t("password.wrong_old").to_string())),
        Err(AuthError::Password(e)) => Ok(refuse(page, refusal(&e, lang))),
        Err(other) => Err(internal(other)),
    }
}
