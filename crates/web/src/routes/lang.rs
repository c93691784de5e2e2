//! `/lang/{zh|en}?next=/page`: the language switch. Sets the `lang` cookie for a year and goes
//! back to the page (a local path only), so the switch works without a script.

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;

use crate::cookies::{self, CookieOptions};
use crate::error::{AppError, not_found};
use crate::extract::{Path, Query};
use crate::i18n::{LANG_COOKIE, Lang};
use crate::local_path;
use crate::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/lang/{code}", get(switch))
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

const YEAR: i64 = 365 * 24 * 3600;

async fn switch(Path(code): Path<String>, Query(q): Query<Next>) -> Result<Response, AppError> {
    let lang = Lang::from_code(&code).ok_or_else(|| not_found(format!("no language {code}")))?;
    let next = q.next.as_deref().and_then(local_path::local).unwrap_or("/");
    // Not a secret, but no script reads it either; not Secure, so it works on plain HTTP too.
    let cookie = cookies::set(
        LANG_COOKIE,
        lang.code(),
        CookieOptions { http_only: true, secure: false, max_age: Some(YEAR) },
    );
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to(next)).into_response())
}
