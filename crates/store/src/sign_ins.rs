//! The sign-in attempts role: every attempt is recorded, and the throttle asks how many failed
//! recently for an account and for an address (the decision is `fenhe_core::sign_in_throttle`).

use async_trait::async_trait;
use fenhe_core::sign_in_throttle::RecentFailures;

use crate::Result;

/// One attempt to sign in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInAttempt {
    /// The name as typed (unknown names are recorded too: guessing them is an attack as well).
    pub username: String,
    /// Where it came from.
    pub address: String,
    pub ok: bool,
    /// Epoch ms.
    pub at: i64,
}

/// Sign-in attempts.
#[async_trait]
pub trait SignInStore: Send + Sync {
    /// Record an attempt.
    async fn record_sign_in(&self, a: &SignInAttempt) -> Result<()>;
    /// Failed attempts at or after `since`: on `username` (only those after its last successful
    /// sign-in: the owner proved they know the password) and from `address` (all of them — one
    /// account of their own must not let an address reset its count), each with its oldest time.
    async fn sign_in_failures(&self, username: &str, address: &str, since: i64) -> Result<RecentFailures>;
    /// Forget attempts before `before` (they no longer count for anything); how many.
    async fn forget_sign_ins(&self, before: i64) -> Result<u64>;
}
