//! Sign-in attempts on SQLite (`migrations/sqlite/0006_accounts.sql`), indexed by account and by
//! address with time, so the throttle's two counts are range scans.

use async_trait::async_trait;
use fenhe_core::sign_in_throttle::RecentFailures;

use super::SqliteStore;
use super::convert::small;
use crate::{Result, SignInAttempt, SignInStore};

#[async_trait]
impl SignInStore for SqliteStore {
    async fn record_sign_in(&self, a: &SignInAttempt) -> Result<()> {
        sqlx::query("INSERT INTO sign_in_attempts (username, address, ok, at) VALUES (?, ?, ?, ?)")
            .bind(&a.username)
            .bind(&a.address)
            .bind(i64::from(a.ok))
            .bind(a.at)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn sign_in_failures(&self, username: &str, address: &str, since: i64) -> Result<RecentFailures> {
        // The write pool: the attempt recorded a moment ago must count for the next one.
        let (account, account_oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(at) FROM sign_in_attempts WHERE username = ?1 AND ok = 0 AND at >= MAX(?2, \
             COALESCE((SELECT MAX(at) + 1 FROM sign_in_attempts WHERE username = ?1 AND ok = 1), ?2))",
        )
        .bind(username)
        .bind(since)
        .fetch_one(&self.write)
        .await?;
        let (address, address_oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(at) FROM sign_in_attempts WHERE address = ? AND ok = 0 AND at >= ?",
        )
        .bind(address)
        .bind(since)
        .fetch_one(&self.write)
        .await?;
        Ok(RecentFailures {
            account: small(account, "sign-in failures")?,
            account_oldest,
            address: small(address, "sign-in failures")?,
            address_oldest,
        })
    }

    async fn forget_sign_ins(&self, before: i64) -> Result<u64> {
        let done = sqlx::query("DELETE FROM sign_in_attempts WHERE at < ?")
            .bind(before)
            .execute(&self.write)
            .await?;
        Ok(done.rows_affected())
    }
}
