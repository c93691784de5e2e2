//! Who is asking: the actor of a request, from the `fenhe_session` cookie (people, in the
//! browser) or `Authorization: Bearer TOKEN` (programs). A page without one sends the person to
//! sign in and back; an API route answers 401 in the JSON error shape. The lookup is done once
//! per request and kept in its extensions, so a handler may take several of these extractors.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use fenhe_core::access::Actor;

use crate::cookies;
use crate::error::{AppError, internal, unauthorized};
use crate::local_path;
use crate::state::AppState;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "fenhe_session";

/// A request's signed-in actor.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub actor: Actor,
    /// The session's CSRF token; empty for a bearer token, which no other site can make a
    /// browser send, so its requests need none.
    pub csrf: String,
    /// The raw session token (for sign-out), absent for a bearer token.
    pub session_token: Option<String>,
    /// The raw bearer token, absent for a session (a long-lived stream checks it again).
    pub bearer_token: Option<String>,
}

impl SignedIn {
    pub fn by_token(&self) -> bool {
        self.session_token.is_none()
    }
}

/// The result of the lookup, cached in the request's extensions.
#[derive(Clone)]
struct Lookup(Option<SignedIn>);

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The actor of the request, if any: a bearer token wins over a cookie (a program states who it
/// is; a stale browser cookie beside it must not change that).
pub async fn lookup(parts: &mut Parts, state: &AppState) -> Result<Option<SignedIn>, AppError> {
    if let Some(Lookup(found)) = parts.extensions.get::<Lookup>() {
        return Ok(found.clone());
    }
    let now = fenhe_core::china_time::now_ms();
    let store = state.store.as_ref();
    let found = if let Some(token) = bearer(&parts.headers) {
        fenhe_app::auth::token_actor(store, token, now).await.map_err(internal)?.map(|actor| SignedIn {
            actor,
            csrf: String::new(),
            session_token: None,
            bearer_token: Some(token.to_string()),
        })
    } else if let Some(token) = cookies::get(&parts.headers, SESSION_COOKIE) {
        fenhe_app::auth::session_actor(store, &token, now).await.map_err(internal)?.map(|s| SignedIn {
            actor: s.actor,
            csrf: s.csrf_token,
            session_token: Some(token),
            bearer_token: None,
        })
    } else {
        None
    };
    parts.extensions.insert(Lookup(found.clone()));
    Ok(found)
}

/// The actor of a page: without one, a redirect to `/login?next=<this page>`.
#[derive(Debug, Clone)]
pub struct PageUser(pub SignedIn);

impl<S> FromRequestParts<S> for PageUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        match lookup(parts, &state).await {
            Ok(Some(s)) => Ok(PageUser(s)),
            Ok(None) if parts.headers.contains_key("hx-request") => Err(htmx_to_login(parts)),
            Ok(None) => Err(Redirect::to(&login_url(parts)).into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// A partial update (htmx) whose session has ended: following a redirect would swap the sign-in
/// page into a table cell, so htmx is told to load the sign-in page in the window instead, to
/// come back to the page the browser shows (`HX-Current-URL`), not to the fragment asked for.
fn htmx_to_login(parts: &Parts) -> Response {
    let page = parts
        .headers
        .get("hx-current-url")
        .and_then(|v| v.to_str().ok())
        .and_then(|url| url.split_once("://").map(|(_, rest)| rest).or(Some(url)))
        .and_then(|rest| rest.find('/').map(|i| &rest[i..]))
        .and_then(local_path::local);
    let to = match page {
        Some("/") | None => "/login".to_string(),
        Some(p) => format!("/login?next={}", local_path::encode(p)),
    };
    match axum::http::HeaderValue::from_str(&to) {
        Ok(v) => ([(axum::http::HeaderName::from_static("hx-redirect"), v)], "").into_response(),
        Err(_) => Redirect::to("/login").into_response(),
    }
}

/// Where to sign in and come back to the page asked for.
fn login_url(parts: &Parts) -> String {
    let here = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    match local_path::local(here) {
        Some("/") | None => "/login".to_string(),
        Some(p) => format!("/login?next={}", local_path::encode(p)),
    }
}

/// The actor of an API route: without one, 401.
#[derive(Debug, Clone)]
pub struct ApiUser(pub SignedIn);

impl<S> FromRequestParts<S> for ApiUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        lookup(parts, &state)
            .await?
            .map(ApiUser)
            .ok_or_else(|| unauthorized("sign in, or send Authorization: Bearer TOKEN"))
    }
}

/// The actor if there is one (the sign-in page sends a signed-in person on).
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<SignedIn>);

impl<S> FromRequestParts<S> for MaybeUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        Ok(MaybeUser(lookup(parts, &state).await?))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn bearer_tokens_are_read_whatever_the_scheme_case() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("bearer  xyz "));
        assert_eq!(bearer(&h), Some("xyz"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
    }
}
