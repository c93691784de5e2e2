//! Sessions on PostgreSQL, keyed by the hash of their id.

use async_trait::async_trait;

use super::PgStore;
use crate::{Result, Session, SessionStore, StoreError};

#[derive(sqlx::FromRow)]
struct SessionRow {
    token_hash: String,
    username: String,
    created_at: i64,
    expires_at: i64,
    last_seen_at: i64,
    peer: String,
    csrf_secret: String,
}

#[async_trait]
impl SessionStore for PgStore {
    async fn create_session(&self, s: &Session) -> Result<()> {
        let done = sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at, peer, csrf_secret) \
             SELECT $1, id, $2, $3, $4, $5, $6 FROM users WHERE username = $7",
        )
        .bind(&s.token_hash)
        .bind(s.created_at)
        .bind(s.expires_at)
        .bind(s.last_seen_at)
        .bind(&s.peer)
        .bind(&s.csrf_secret)
        .bind(&s.username)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("user {:?}", s.username)));
        }
        Ok(())
    }

    async fn session(&self, token_hash: &str) -> Result<Option<Session>> {
        let row: Option<SessionRow> = sqlx::query_as(
            "SELECT s.token_hash, u.username, s.created_at, s.expires_at, s.last_seen_at, s.peer, s.csrf_secret \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| Session {
            token_hash: r.token_hash,
            username: r.username,
            created_at: r.created_at,
            expires_at: r.expires_at,
            last_seen_at: r.last_seen_at,
            peer: r.peer,
            csrf_secret: r.csrf_secret,
        }))
    }

    async fn touch_session(&self, token_hash: &str, last_seen_at: i64, expires_at: i64) -> Result<bool> {
        let done =
            sqlx::query("UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE token_hash = $3")
                .bind(last_seen_at)
                .bind(expires_at)
                .bind(token_hash)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_session(&self, token_hash: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_user_sessions(&self, username: &str, except: Option<&str>) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = $1) \
             AND ($2::text IS NULL OR token_hash <> $2)",
        )
        .bind(username)
        .bind(except)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn delete_expired_sessions(&self, now: i64) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }
}
