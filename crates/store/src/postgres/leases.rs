//! Leases on PostgreSQL: one statement decides and takes; two processes racing for a lease are
//! serialised on its row by `ON CONFLICT`, and exactly one wins.

use async_trait::async_trait;

use super::PgStore;
use crate::{Lease, LeaseStore, Result, StoreError};

#[derive(sqlx::FromRow)]
struct LeaseRow {
    name: String,
    holder: String,
    acquired_at: i64,
    expires_at: i64,
}

#[async_trait]
impl LeaseStore for PgStore {
    async fn try_lease(&self, name: &str, holder: &str, now: i64, ttl_ms: i64) -> Result<Option<Lease>> {
        if ttl_ms <= 0 {
            return Err(StoreError::Invalid(format!(
                "a lease needs a positive time to live, not {ttl_ms} ms"
            )));
        }
        let expires_at = now
            .checked_add(ttl_ms)
            .ok_or_else(|| StoreError::Invalid(format!("lease {name}: {now} + {ttl_ms} ms overflows")))?;
        // The upsert's WHERE is the rule: taken over only when expired, renewed only by its
        // holder (who keeps its acquired_at); otherwise no row comes back.
        let row: Option<LeaseRow> = sqlx::query_as(
            "INSERT INTO leases (name, holder, acquired_at, expires_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET \
                 acquired_at = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > $3 \
                                    THEN leases.acquired_at ELSE excluded.acquired_at END, \
                 holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at <= $3 \
             RETURNING name, holder, acquired_at, expires_at",
        )
        .bind(name)
        .bind(holder)
        .bind(now)
        .bind(expires_at)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Lease {
            name: r.name,
            holder: r.holder,
            acquired_at: r.acquired_at,
            expires_at: r.expires_at,
        }))
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}
