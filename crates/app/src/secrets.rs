//! Random secrets and their stored form: session ids, CSRF secrets, API tokens and demo
//! passwords come from the operating system's generator; what the store keeps of a session id or
//! a token is its SHA-256, so a copy of the database signs nobody in.

use sha2::{Digest, Sha256};

use crate::auth::AuthError;

/// Bytes of randomness in a session id, CSRF secret or API token.
pub const SECRET_BYTES: usize = 32;
/// What every API token starts with, so that a leaked one is recognised (by a person or a secret
/// scanner) for what it is.
pub const TOKEN_PREFIX: &str = "fenhe_";

/// `n` random bytes from the OS.
fn random_bytes<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(buf)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A new random secret: 32 bytes as 64 lower-case hex digits.
pub fn new_secret() -> Result<String, AuthError> {
    Ok(hex(&random_bytes::<SECRET_BYTES>()?))
}

/// A new API token: [`TOKEN_PREFIX`] and a secret.
pub fn new_token() -> Result<String, AuthError> {
    Ok(format!("{TOKEN_PREFIX}{}", new_secret()?))
}

/// 16 random bytes for a password hash's salt.
pub fn new_salt() -> Result<[u8; 16], AuthError> {
    random_bytes()
}

/// A password a person can type from a printed table: `len` characters of an alphabet without
/// look-alikes (no 0/O, 1/l/I).
pub fn new_password(len: usize) -> Result<String, AuthError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(len);
    while out.len() < len {
        for b in random_bytes::<32>()? {
            // Rejection sampling: 224 = 4 × 56 keeps every character equally likely.
            if usize::from(b) < ALPHABET.len() * (256 / ALPHABET.len()) && out.len() < len {
                out.push(char::from(ALPHABET[usize::from(b) % ALPHABET.len()]));
            }
        }
    }
    Ok(out)
}

/// What the store keeps of a secret: its SHA-256, lower-case hex.
pub fn hash_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Whether two secrets are equal, in a time that does not depend on where they first differ.
pub fn secrets_match(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_hex_of_32_bytes() {
        let (a, b) = (new_secret().unwrap(), new_secret().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
        let t = new_token().unwrap();
        assert!(t.starts_with(TOKEN_PREFIX) && t.len() == TOKEN_PREFIX.len() + 64);
    }

    #[test]
    fn the_stored_form_is_sha256_hex() {
        // SHA-256 of "abc" (FIPS 180-2, appendix B.1).
        assert_eq!(hash_secret("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn passwords_use_the_unambiguous_alphabet() {
        let p = new_password(12).unwrap();
        assert_eq!(p.chars().count(), 12);
        assert!(p.chars().all(|c| c.is_ascii_alphanumeric() && !"01lIO".contains(c)), "{p}");
        assert_ne!(p, new_password(12).unwrap());
    }

    #[test]
    fn matching_compares_whole_strings() {
        assert!(secrets_match("abc", "abc"));
        assert!(!secrets_match("abc", "abd"));
        assert!(!secrets_match("abc", "abcd"));
        assert!(!secrets_match("", "a"));
    }
}
