//! Return paths after sign-in and the language switch: only a path of this site, so a link
//! `…/login?next=https://evil.example/` cannot send a person who just signed in elsewhere.

/// `next` if it is a local path (`/alarms?x=1`), else `None`. Refused: absolute URLs,
/// scheme-relative `//host`, backslashes (browsers read `/\host` as `//host`), control
/// characters.
pub fn local(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control());
    ok.then_some(next)
}

/// Percent-encode a path for a query parameter value.
pub fn encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_pass() {
        assert_eq!(local("/"), Some("/"));
        assert_eq!(local("/system?x=1"), Some("/system?x=1"));
        for bad in ["https://evil.example/", "//evil.example/", "/\\evil.example", "evil", "", "/a\nb"] {
            assert_eq!(local(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn encodes_query_separators() {
        assert_eq!(encode("/system?a=1&b=2"), "/system%3Fa%3D1%26b%3D2");
    }
}
