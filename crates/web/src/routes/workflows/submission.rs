//! A workflow form as posted: multipart (the forms carry an optional file) or URL-encoded,
//! from a signed-in person whose CSRF token is checked like every other form's. Text fields
//! become the machine's [`Fields`] (blank ones left out, so an optional field left empty is
//! absent rather than invalid; a name sent twice, as a multiple select does, is joined with
//! commas); file parts become [`Upload`]s.

use axum::extract::{FromRef, FromRequest, FromRequestParts, Multipart, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use fenhe_app::workflows::Upload;
use fenhe_core::workflow::Fields;

use crate::chrome::Chrome;
use crate::csrf::{refused, same_token};
use crate::error::bad_request;
use crate::i18n::Lang;
use crate::session::{PageUser, SignedIn};
use crate::state::AppState;

/// The largest body a workflow form may send (the store keeps files up to 20 MiB).
pub(crate) const BODY_LIMIT: usize = 21 * 1024 * 1024;

/// URL-encoded bodies carry no file: a larger one is not one of our forms.
const FORM_LIMIT: usize = 256 * 1024;

/// A posted workflow form.
pub(crate) struct Submission {
    pub user: SignedIn,
    pub lang: Lang,
    /// The `action` field of an item's action form.
    pub action: Option<String>,
    pub fields: Fields,
    pub files: Vec<Upload>,
}

/// The fields as typed, the blank ones left out.
fn collect(pairs: Vec<(String, String)>) -> (Option<String>, Option<String>, Fields) {
    let (mut csrf, mut action, mut fields) = (None, None, Fields::new());
    for (name, value) in pairs {
        match name.as_str() {
            "csrf" => csrf = Some(value),
            "action" => action = Some(value.trim().to_string()),
            _ if value.trim().is_empty() => {}
            _ => {
                fields
                    .entry(name)
                    .and_modify(|v: &mut String| {
                        v.push(',');
                        v.push_str(value.trim());
                    })
                    .or_insert_with(|| value.trim().to_string());
            }
        }
    }
    (csrf, action, fields)
}

impl<S> FromRequest<S> for Submission
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let Ok(lang) = Lang::from_request_parts(&mut parts, state).await;
        let PageUser(user) = PageUser::from_request_parts(&mut parts, state).await?;
        let multipart = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        let path = parts.uri.path().to_string();
        let mut pairs = Vec::new();
        let mut files = Vec::new();
        if multipart {
            let req = Request::from_parts(parts, body);
            let mut form = Multipart::from_request(req, state).await.map_err(IntoResponse::into_response)?;
            loop {
                let field = match form.next_field().await {
                    Ok(Some(f)) => f,
                    Ok(None) => break,
                    Err(e) => return Err(bad_request(format!("unreadable form: {e}")).into_response()),
                };
                let name = field.name().unwrap_or_default().to_string();
                match field.file_name().map(str::to_string) {
                    Some(file_name) => {
                        let content_type =
                            field.content_type().unwrap_or("application/octet-stream").to_string();
                        let bytes = field.bytes().await.map_err(|e| {
                            bad_request(format!("unreadable file {file_name:?}: {e}")).into_response()
                        })?;
                        // A file input left empty still sends a part with no name and no bytes.
                        if !file_name.is_empty() || !bytes.is_empty() {
                            files.push(Upload { name: file_name, content_type, bytes: bytes.to_vec() });
                        }
                    }
                    None => {
                        let text = field.text().await.map_err(|e| {
                            bad_request(format!("unreadable field {name:?}: {e}")).into_response()
                        })?;
                        pairs.push((name, text));
                    }
                }
            }
        } else {
            let bytes = axum::body::to_bytes(body, FORM_LIMIT)
                .await
                .map_err(|e| bad_request(format!("unreadable form: {e}")).into_response())?;
            pairs = serde_urlencoded::from_bytes(&bytes)
                .map_err(|e| bad_request(format!("invalid form: {e}")).into_response())?;
        }
        let (csrf, action, fields) = collect(pairs);
        // A bearer token is not sent by a browser on its own, so its posts need no form token.
        if !user.by_token() && !same_token(csrf.as_deref().unwrap_or(""), &user.csrf) {
            return Err(refused(Chrome::signed_in(lang, &path, &user.actor, &user.csrf)));
        }
        Ok(Submission { user, lang, action, fields, files })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn blanks_are_left_out_and_repeats_joined() {
        let (csrf, action, fields) = collect(vec![
            pair("csrf", "t"),
            pair("action", " start "),
            pair("text", "  "),
            pair("units", "a"),
            pair("units", "b"),
            pair("problem", " leak "),
        ]);
        assert_eq!(csrf.as_deref(), Some("t"));
        assert_eq!(action.as_deref(), Some("start"));
        assert_eq!(fields.get("text"), None);
        assert_eq!(fields.get("units").map(String::as_str), Some("a,b"));
        assert_eq!(fields.get("problem").map(String::as_str), Some("leak"));
    }
}
