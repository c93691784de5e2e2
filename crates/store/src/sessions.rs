//! The sessions role: who is signed in through which browser. A session is found by the hash of
//! its random id (the cookie holds the id; a copy of the database does not sign anyone in). The
//! expiry rule (idle and absolute limits) is the application's: the store keeps the times.

use async_trait::async_trait;

use crate::Result;

/// A signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the session id, lower-case hex.
    pub token_hash: String,
    pub username: String,
    /// Epoch ms.
    pub created_at: i64,
    /// When the session ends unless it is used before then.
    pub expires_at: i64,
    pub last_seen_at: i64,
    /// The address it was opened from.
    pub peer: String,
    /// The secret every form of this session must send back (CSRF protection). Only useful
    /// together with the session cookie, so it is kept as it is.
    pub csrf_secret: String,
}

/// Sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Store a new session of an existing user ([`crate::StoreError::NotFound`] otherwise).
    async fn create_session(&self, s: &Session) -> Result<()>;
    /// The session whose id hashes to `token_hash`, expired or not.
    async fn session(&self, token_hash: &str) -> Result<Option<Session>>;
    /// Note a use at `last_seen_at` and move the expiry to `expires_at`; `false` when the session
    /// is gone.
    async fn touch_session(&self, token_hash: &str, last_seen_at: i64, expires_at: i64) -> Result<bool>;
    /// End one session; `false` when it was not there.
    async fn delete_session(&self, token_hash: &str) -> Result<bool>;
    /// End every session of `username` but `except` (the one a password was changed from);
    /// how many were ended.
    async fn delete_user_sessions(&self, username: &str, except: Option<&str>) -> Result<u64>;
    /// Forget sessions that expired before `now`; how many.
    async fn delete_expired_sessions(&self, now: i64) -> Result<u64>;
}
