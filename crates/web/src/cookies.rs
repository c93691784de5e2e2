//! Reading the `Cookie` header and writing `Set-Cookie` values: the few cookies of the pages
//! (session, sign-in CSRF, language) need no more than this.

use axum::http::{HeaderMap, HeaderValue, header};

/// The value of cookie `name`, if the request carries it.
pub fn get(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
}

/// How a cookie is set.
#[derive(Debug, Clone, Copy)]
pub struct CookieOptions {
    /// Not readable by scripts (the session: a script injected into a page cannot steal it).
    pub http_only: bool,
    /// Sent only over HTTPS (when the deployment says it is behind TLS).
    pub secure: bool,
    /// Seconds to keep it; `None` for the browser session, `Some(0)` to delete it.
    pub max_age: Option<i64>,
}

/// A `Set-Cookie` value; SameSite=Lax and Path=/ always (a link from elsewhere may open a page,
/// but no other site's form may post with the cookie). `value` must be cookie-safe (our tokens
/// and codes are).
pub fn set(name: &str, value: &str, o: CookieOptions) -> HeaderValue {
    let mut s = format!("{name}={value}; Path=/; SameSite=Lax");
    if let Some(age) = o.max_age {
        s.push_str(&format!("; Max-Age={age}"));
    }
    if o.http_only {
        s.push_str("; HttpOnly");
    }
    if o.secure {
        s.push_str("; Secure");
    }
    // Our names and values are ASCII tokens; anything else would be a bug of ours.
    HeaderValue::from_str(&s).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; fenhe_session=abc; lang=en"));
        h.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(get(&h, "fenhe_session").as_deref(), Some("abc"));
        assert_eq!(get(&h, "b").as_deref(), Some("2"));
        assert_eq!(get(&h, "fenhe"), None);
    }

    #[test]
    fn flags_are_written_as_asked() {
        let v = set("s", "t", CookieOptions { http_only: true, secure: true, max_age: Some(60) });
        assert_eq!(v, "s=t; Path=/; SameSite=Lax; Max-Age=60; HttpOnly; Secure");
        let v = set("lang", "en", CookieOptions { http_only: false, secure: false, max_age: None });
        assert_eq!(v, "lang=en; Path=/; SameSite=Lax");
    }
}
