//! Response headers every answer carries, so that a listener exposed beyond loopback does not
//! invite sniffing, framing or leaking the address of the page a link was followed from. A
//! handler that sets one of these itself keeps its own value.

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;

/// No inline or foreign script and no inline style (every page uses `/static/…/app.css`; a
/// script may still set `element.style`, as ECharts does), and nothing may frame the pages.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const DEFAULTS: [(HeaderName, &str); 5] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (HeaderName::from_static("cross-origin-opener-policy"), "same-origin"),
];

/// Add the default security headers a response lacks (used with `axum::middleware::map_response`).
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in DEFAULTS {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    #[tokio::test]
    async fn defaults_are_added_and_a_handlers_own_value_is_kept() {
        let r = security_headers(([(header::X_FRAME_OPTIONS, "SAMEORIGIN")], "x").into_response()).await;
        assert_eq!(r.headers()[header::X_FRAME_OPTIONS], "SAMEORIGIN");
        assert_eq!(r.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(r.headers()[header::CONTENT_SECURITY_POLICY], CONTENT_SECURITY_POLICY);
    }
}
