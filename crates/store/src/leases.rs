//! The lease role: named, expiring locks, so that a job runs exactly once at a time even when
//! several processes share the database.
//!
//! A lease is granted when nobody holds it, when its holder let it expire, or to its own holder
//! (which renews it). Holders renew well before expiry; a holder that stops (crash, lost
//! connection) loses the lease after its time-to-live, and another takes over.

use async_trait::async_trait;

use crate::Result;

/// A granted lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    /// When this holder took it (kept across renewals), epoch ms.
    pub acquired_at: i64,
    /// When it lapses unless renewed, epoch ms.
    pub expires_at: i64,
}

/// Named leases.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Take or renew lease `name` for `holder` until `now + ttl_ms`: granted when it is free,
    /// expired (`expires_at <= now`) or already held by `holder`; `None` while another holder's
    /// lease runs. Atomic: of two holders racing for a free lease, exactly one gets it.
    /// `ttl_ms` must be positive ([`crate::StoreError::Invalid`] otherwise).
    async fn try_lease(&self, name: &str, holder: &str, now: i64, ttl_ms: i64) -> Result<Option<Lease>>;
    /// Give lease `name` up if `holder` holds it; `false` when it did not (expired and taken
    /// over, or never held).
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool>;
}
