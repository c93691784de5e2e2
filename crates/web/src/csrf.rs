//! CSRF protection of every state-changing form. A signed-in person's forms carry the session's
//! own token (synchronizer: stored with the session, written into each form by the page); the
//! sign-in form, before there is a session, carries a random token also set as a cookie
//! (double submit). Another site can make a browser post with our cookies but cannot read either
//! token, so its post is refused with a 403 page saying why.

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::chrome::{Chrome, ErrorPage, render_with};
use crate::error::{AppError, bad_request, internal, unprocessable};
use crate::i18n::Lang;
use crate::session::{PageUser, SignedIn};
use crate::state::AppState;

/// The form field holding the token.
#[derive(Debug, Default, Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// Form bodies are small; a larger one is not one of our forms.
const FORM_LIMIT: usize = 64 * 1024;

/// Equal without an early exit, so the time taken does not tell how much of a guess was right.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && !a.is_empty()
        && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new random token (32 bytes, hex).
pub fn new_token() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| internal(std::io::Error::other(e.to_string())))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// The 403 page of a refused form.
pub fn refused(page: Chrome) -> Response {
    let message = page.t("error.csrf").to_string();
    render_with(StatusCode::FORBIDDEN, &ErrorPage { page, message })
}

/// A form posted by a signed-in person, its CSRF token checked: the signed-in actor and the form.
#[derive(Debug)]
pub struct CsrfForm<T> {
    pub user: SignedIn,
    pub lang: Lang,
    pub form: T,
}

impl<T, S> FromRequest<S> for CsrfForm<T>
where
    T: DeserializeOwned,
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let Ok(lang) = Lang::from_request_parts(&mut parts, state).await;
        let PageUser(user) = PageUser::from_request_parts(&mut parts, state).await?;
        let bytes = axum::body::to_bytes(body, FORM_LIMIT)
            .await
            .map_err(|e| bad_request(format!("unreadable form: {e}")).into_response())?;
        // A bearer token is not sent by a browser on its own, so its posts need no form token.
        if !user.by_token() {
            let field: CsrfField = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
            if !same_token(&field.csrf, &user.csrf) {
                let path = parts.uri.path().to_string();
                return Err(refused(Chrome::signed_in(lang, &path, &user.actor, &user.csrf)));
            }
        }
        let form = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| unprocessable(format!("invalid form: {e}")).into_response())?;
        Ok(CsrfForm { user, lang, form })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_exactly() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "abcd"));
        assert!(!same_token("", ""), "an empty token never matches");
    }

    #[test]
    fn new_tokens_are_long_and_different() {
        let (a, b) = (new_token().unwrap(), new_token().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
    }
}
