//! `/files/{sha256}`: an attachment, under the same access as the API's (the app decides: an
//! enterprise user reaches only their own enterprise's files; anything else is the same 404 as
//! a missing file). Pictures and PDFs open in the browser; anything else is downloaded, so an
//! uploaded page can never run as this site's.

use axum::extract::State;
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use fenhe_app::workflows::{self, WorkflowError};

use crate::chrome::Chrome;
use crate::error::AppError;
use crate::extract::Path;
use crate::i18n::Lang;
use crate::local_path;
use crate::routes::denied_page;
use crate::session::PageUser;
use crate::state::AppState;

/// Types a browser shows without running anything of ours.
const INLINE: &[&str] =
    &["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"];

/// `Content-Disposition` for `name`: RFC 5987 encoding, so a Chinese file name survives.
fn disposition(inline: bool, name: &str) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename*=UTF-8''{}", local_path::encode(name).replace('/', "%2F"))
}

pub(super) async fn file(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(state): State<AppState>,
    Path(sha256): Path<String>,
) -> Result<Response, AppError> {
    let chrome = || Chrome::signed_in(lang, uri.path(), &user.actor, &user.csrf);
    let (info, bytes) = match workflows::file(state.store.as_ref(), &user.actor, &sha256).await {
        Ok(f) => f,
        Err(WorkflowError::Denied(d)) => return Ok(denied_page(chrome(), d)),
        Err(WorkflowError::Refused(_)) => {
            return Ok(denied_page(chrome(), fenhe_core::access::Denied::NotFound));
        }
        Err(WorkflowError::Store(e)) => return Err(e.into()),
    };
    let ct = info.content_type.to_ascii_lowercase();
    let inline = INLINE.contains(&ct.as_str());
    let content_type = HeaderValue::from_str(if inline { &ct } else { "application/octet-stream" })
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&disposition(inline, &info.name))
        .unwrap_or(HeaderValue::from_static("attachment"));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600")),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_encoded() {
        assert_eq!(
            disposition(false, "整改 1.pdf"),
            "attachment; filename*=UTF-8''%E6%95%B4%E6%94%B9%201.pdf"
        );
        assert_eq!(disposition(true, "a/b.png"), "inline; filename*=UTF-8''a%2Fb.png");
    }
}
