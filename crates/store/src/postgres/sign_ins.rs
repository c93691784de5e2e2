//! Sign-in attempts on PostgreSQL, indexed by account and by address with time, so the
//! throttle's two counts are range scans.

use async_trait::async_trait;
use fenhe_core::sign_in_throttle::RecentFailures;

use super::PgStore;
use crate::sqlite::convert::small;
use crate::{Result, SignInAttempt, SignInStore};

#[async_trait]
impl SignInStore for PgStore {
    async fn record_sign_in(&self, a: &SignInAttempt) -> Result<()> {
        sqlx::query("INSERT INTO sign_in_attempts (username, address, ok, at) VALUES ($1, $2, $3, $4)")
            .bind(&a.username)
            .bind(&a.address)
            .bind(a.ok)
            .bind(a.at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn sign_in_failures(&self, username: &str, address: &str, since: i64) -> Result<RecentFailures> {
        let (account, account_oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT count(*), min(at) FROM sign_in_attempts WHERE username = $1 AND NOT ok AND at >= GREATEST($2, \
             COALESCE((SELECT max(at) + 1 FROM sign_in_attempts WHERE username = $1 AND ok), $2))",
        )
        .bind(username)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        let (address, address_oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT count(*), min(at) FROM sign_in_attempts WHERE address = $1 AND NOT ok AND at >= $2",
        )
        .bind(address)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok(RecentFailures {
            account: small(account, "sign-in failures")?,
            account_oldest,
            address: small(address, "sign-in failures")?,
            address_oldest,
        })
    }

    async fn forget_sign_ins(&self, before: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sign_in_attempts WHERE at < $1")
            .bind(before)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
