//! The audit log on PostgreSQL: appended, never changed (the table's triggers refuse updates,
//! deletes and truncation), read newest first with an id cursor.

use async_trait::async_trait;
use sqlx::AssertSqlSafe;

use super::PgStore;
use crate::sqlite::convert::{from_json, json};
use crate::{AuditEntry, AuditQuery, AuditStore, NewAuditEntry, Result};

/// Most entries one query returns, whatever the caller asks.
const MAX_PAGE: u32 = 1000;

#[derive(sqlx::FromRow)]
struct AuditRow {
    id: i64,
    at: i64,
    actor: String,
    actor_role: String,
    action: String,
    object_kind: String,
    object_id: String,
    before: Option<String>,
    after: Option<String>,
    peer: String,
}

/// The filters of [`AuditQuery`], as parameters $1–$7 (bound by [`bind_filter`]).
const FILTER: &str = "($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR object_kind = $2) \
     AND ($3::text IS NULL OR action = $3) AND ($4::text IS NULL OR object_id = $4) \
     AND ($5::bigint IS NULL OR at >= $5) AND ($6::bigint IS NULL OR at < $6) AND ($7::bigint IS NULL OR id < $7)";

/// Bind `q`'s filters to $1–$7 of [`FILTER`], in its order.
fn bind_filter<'q, O>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    q: &'q AuditQuery,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    query
        .bind(q.actor.as_deref())
        .bind(q.object_kind.as_deref())
        .bind(q.action.as_deref())
        .bind(q.object_id.as_deref())
        .bind(q.from)
        .bind(q.to)
        .bind(q.before_id)
}

#[async_trait]
impl AuditStore for PgStore {
    async fn append_audit(&self, e: &NewAuditEntry) -> Result<i64> {
        let before = e.before.as_ref().map(json).transpose()?;
        let after = e.after.as_ref().map(json).transpose()?;
        Ok(sqlx::query_scalar(
            "INSERT INTO audit_log (at, actor, actor_role, action, object_kind, object_id, before, after, peer) \
             VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9) RETURNING id",
        )
        .bind(e.at)
        .bind(&e.actor)
        .bind(&e.actor_role)
        .bind(&e.action)
        .bind(&e.object_kind)
        .bind(&e.object_id)
        .bind(before)
        .bind(after)
        .bind(&e.peer)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>> {
        let sql = format!(
            "SELECT id, at, actor, actor_role, action, object_kind, object_id, before::text AS before, \
             after::text AS after, peer FROM audit_log WHERE {FILTER} ORDER BY id DESC LIMIT $8 OFFSET $9"
        );
        let rows: Vec<AuditRow> = bind_filter(sqlx::query_as(AssertSqlSafe(sql)), q)
            .bind(i64::from(q.limit.clamp(1, MAX_PAGE)))
            .bind(i64::from(q.offset))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.id,
                    entry: NewAuditEntry {
                        at: r.at,
                        actor: r.actor,
                        actor_role: r.actor_role,
                        action: r.action,
                        object_kind: r.object_kind,
                        object_id: r.object_id,
                        before: r.before.as_deref().map(|s| from_json(s, "audit_log.before")).transpose()?,
                        after: r.after.as_deref().map(|s| from_json(s, "audit_log.after")).transpose()?,
                        peer: r.peer,
                    },
                })
            })
            .collect()
    }

    async fn audit_count(&self, q: &AuditQuery) -> Result<u64> {
        let sql = format!("SELECT count(*) FROM audit_log WHERE {FILTER}");
        let (n,): (i64,) = bind_filter(sqlx::query_as(AssertSqlSafe(sql)), q).fetch_one(&self.pool).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
