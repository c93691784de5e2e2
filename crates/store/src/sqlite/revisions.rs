//! Pending revisions: listing them, and the bureau's decision on one (see
//! `migrations/sqlite/0007_pending_revisions.sql`). The batch (`batch.rs`) inserts them; the rule
//! that makes a change pending is `fenhe_core::revision::decide_within`.

use fenhe_core::Values;
use fenhe_core::compliance::time::day_start;

use super::SqliteStore;
use super::batch::INSERT_SET;
use super::convert::{from_json, small};
use super::packed;
use crate::{PendingRevision, Result, RevisionDecision, RevisionQuery, RevisionStatus, StoreError};

const SELECT: &str = "SELECT p.id, d.mn, p.cn, p.data_time, f.code AS factor, p.raw_code, p.values_json, \
                      p.frame_id, p.received_at, p.status, p.decided_at, p.decided_by, p.reason, p.revision, \
                      p.device_id, p.factor_id \
                      FROM pending_revisions p JOIN devices d ON d.id = p.device_id \
                      JOIN factors f ON f.id = p.factor_id";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    mn: String,
    cn: i64,
    data_time: i64,
    factor: String,
    raw_code: Option<String>,
    values_json: String,
    frame_id: i64,
    received_at: i64,
    status: String,
    decided_at: Option<i64>,
    decided_by: Option<String>,
    reason: Option<String>,
    revision: Option<i64>,
    device_id: i64,
    factor_id: i64,
}

impl Row {
    fn into_revision(self) -> Result<PendingRevision> {
        let status = RevisionStatus::parse(&self.status).ok_or_else(|| {
            StoreError::Corrupt(format!("pending revision {}: status {:?}", self.id, self.status))
        })?;
        Ok(PendingRevision {
            id: self.id,
            mn: self.mn,
            cn: self.cn.to_string(),
            data_time: self.data_time,
            factor: self.factor,
            raw_code: self.raw_code,
            values: from_json(&self.values_json, "pending revision values")?,
            frame_id: self.frame_id,
            received_at: self.received_at,
            status,
            decided_at: self.decided_at,
            decided_by: self.decided_by,
            reason: self.reason,
            revision: self.revision.map(|r| small(r, "revision")).transpose()?,
        })
    }
}

pub(super) async fn list(s: &SqliteStore, q: &RevisionQuery) -> Result<Vec<PendingRevision>> {
    let sql = format!(
        "{SELECT} WHERE (?1 IS NULL OR p.status = ?1) AND (?2 IS NULL OR d.mn = ?2) ORDER BY p.id LIMIT ?3"
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(q.status.map(RevisionStatus::name))
        .bind(q.mn.as_deref())
        .bind(q.limit.map_or(-1, i64::from))
        .fetch_all(&s.read)
        .await?;
    rows.into_iter().map(Row::into_revision).collect()
}

pub(super) async fn decide(
    s: &SqliteStore,
    id: i64,
    decision: RevisionDecision,
    by: &str,
    reason: Option<&str>,
    at: i64,
) -> Result<PendingRevision> {
    let mut tx = s.write.begin_with("BEGIN IMMEDIATE").await?;
    let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE p.id = ?")))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
    let row = row.ok_or_else(|| StoreError::NotFound(format!("pending revision {id}")))?;
    if row.status != RevisionStatus::Pending.name() {
        return Err(StoreError::Conflict(format!("revision {id} was already {}", row.status)));
    }
    let (status, revision) = match decision {
        RevisionDecision::Reject => (RevisionStatus::Rejected, None),
        RevisionDecision::Approve => {
            let values: Values = from_json(&row.values_json, "pending revision values")?;
            let revision = apply(&mut tx, &row, &values).await?;
            (RevisionStatus::Approved, Some(revision))
        }
    };
    let changed = sqlx::query(
        "UPDATE pending_revisions SET status = ?, decided_at = ?, decided_by = ?, reason = ?, revision = ? \
         WHERE id = ? AND status = 'pending'",
    )
    .bind(status.name())
    .bind(at)
    .bind(by)
    .bind(reason)
    .bind(revision.map(i64::from))
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed != 1 {
        return Err(StoreError::Conflict(format!("revision {id} was decided meanwhile")));
    }
    tx.commit().await?;
    let mut decided = row.into_revision()?;
    decided.status = status;
    decided.decided_at = Some(at);
    decided.decided_by = Some(by.to_string());
    decided.reason = reason.map(String::from);
    decided.revision = revision;
    Ok(decided)
}

/// Store an approved revision as the record's next revision (a `measurement_sets` row of its
/// own, with its frame and receipt time) and mark the record's day dirty; returns the revision.
async fn apply(conn: &mut sqlx::SqliteConnection, row: &Row, values: &Values) -> Result<u32> {
    let sets: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT seq, factors FROM measurement_sets WHERE device_id = ? AND cn = ? AND data_time = ?",
    )
    .bind(row.device_id)
    .bind(row.cn)
    .bind(row.data_time)
    .fetch_all(&mut *conn)
    .await?;
    let mut next_seq = 0;
    let mut latest: Option<u32> = None;
    for (seq, blob) in &sets {
        next_seq = next_seq.max(seq + 1);
        for e in packed::entries(blob) {
            let e = e?;
            if e.factor_id == row.factor_id && latest.is_none_or(|l| e.revision > l) {
                latest = Some(e.revision);
            }
        }
    }
    // Pending only ever follows a stored value; approving after that was somehow removed
    // stores it as the first.
    let revision = latest.map_or(0, |l| l.saturating_add(1));
    let mut blob = Vec::with_capacity(64);
    packed::push(&mut blob, row.factor_id, revision, row.raw_code.as_deref(), values);
    sqlx::query(INSERT_SET)
        .bind(row.device_id)
        .bind(row.cn)
        .bind(row.data_time)
        .bind(next_seq)
        .bind(row.frame_id)
        .bind(row.received_at)
        .bind(1i64)
        .bind(blob)
        .execute(&mut *conn)
        .await?;
    // The engine re-judges the day. The counter advances as for any mark outside a batch
    // (`dirty::mark_days_dirty`), so the writer forgets the marks it remembers.
    let seq: i64 = sqlx::query_scalar("UPDATE dirty_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO dirty_days (device_id, day_start, seq) VALUES (?, ?, ?) \
         ON CONFLICT (device_id, day_start) DO UPDATE SET seq = excluded.seq",
    )
    .bind(row.device_id)
    .bind(day_start(row.data_time))
    .bind(seq)
    .execute(&mut *conn)
    .await?;
    Ok(revision)
}
