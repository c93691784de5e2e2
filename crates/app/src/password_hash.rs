//! Password hashes: argon2id with the crate's default parameters, as PHC strings (algorithm,
//! parameters and salt travel with the hash, so stronger parameters later still verify old
//! hashes). Hashing costs tens of milliseconds of CPU on purpose, so it runs on the blocking pool,
//! never on an async worker.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::auth::AuthError;
use crate::secrets;

/// Hash a password for storing.
pub async fn hash(password: &str) -> Result<String, AuthError> {
    let password = password.to_string();
    let salt = secrets::new_salt()?;
    tokio::task::spawn_blocking(move || hash_now(&password, &salt))
        .await
        .map_err(|e| AuthError::Hash(e.to_string()))?
}

fn hash_now(password: &str, salt: &[u8]) -> Result<String, AuthError> {
    let salt = SaltString::encode_b64(salt).map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AuthError::Hash(e.to_string()))?
        .to_string())
}

/// Whether `password` is the one `stored` was made from. `None` for `stored` verifies against a
/// hash of no one's password, taking the same time, so that an unknown username cannot be told
/// from a wrong password by how long the answer takes. A stored hash that does not parse never
/// verifies.
pub async fn verify(password: &str, stored: Option<&str>) -> Result<bool, AuthError> {
    let password = password.to_string();
    let stored = stored.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let dummy = dummy_hash()?;
        let (phc, real) = match &stored {
            Some(s) => (s.as_str(), true),
            None => (dummy, false),
        };
        let Ok(parsed) = PasswordHash::new(phc) else {
            return Ok(false);
        };
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && real)
    })
    .await
    .map_err(|e| AuthError::Hash(e.to_string()))?
}

/// A hash of a random password, made once per process with the same parameters as real ones.
fn dummy_hash() -> Result<&'static str, AuthError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h);
    }
    let made = hash_now(&secrets::new_secret()?, &secrets::new_salt()?)?;
    Ok(DUMMY.get_or_init(|| made))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse battery").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert!(verify("correct horse battery", Some(&h)).await.unwrap());
        assert!(!verify("correct horse batterY", Some(&h)).await.unwrap());
        assert_ne!(h, hash("correct horse battery").await.unwrap(), "each hash has its own salt");
    }

    #[tokio::test]
    async fn no_hash_and_a_broken_hash_never_verify() {
        assert!(!verify("anything at all", None).await.unwrap());
        assert!(!verify("anything at all", Some("not a phc string")).await.unwrap());
    }
}
