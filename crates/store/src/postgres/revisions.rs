//! Pending revisions on PostgreSQL (`migrations/postgres/0002_pending_revisions.sql`): listing
//! them, and the bureau's decision on one. The batch inserts them; the rule that makes a change
//! pending is `fenhe_core::revision::decide_within`.

use fenhe_core::Values;
use fenhe_core::compliance::time::day_start;

use super::PgStore;
use super::partitions::MEASUREMENTS;
use crate::sqlite::convert::{from_json, small};
use crate::{PendingRevision, Result, RevisionDecision, RevisionQuery, RevisionStatus, StoreError};

const SELECT: &str = "SELECT p.id, d.mn, p.cn, p.data_time, f.code AS factor, p.raw_code, \
                      p.values_json::text AS values_json, p.frame_id, p.received_at, p.status, p.decided_at, \
                      p.decided_by, p.reason, p.revision, p.device_id, p.factor_id \
                      FROM pending_revisions p JOIN devices d ON d.id = p.device_id \
                      JOIN factors f ON f.id = p.factor_id";

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    mn: String,
    cn: i32,
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
    revision: Option<i32>,
    device_id: i64,
    factor_id: i32,
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
            revision: self.revision.map(|r| small(i64::from(r), "revision")).transpose()?,
        })
    }
}

pub(super) async fn list(s: &PgStore, q: &RevisionQuery) -> Result<Vec<PendingRevision>> {
    let sql = format!(
        "{SELECT} WHERE ($1::text IS NULL OR p.status = $1) AND ($2::text IS NULL OR d.mn = $2) \
         ORDER BY p.id LIMIT $3"
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(q.status.map(RevisionStatus::name))
        .bind(q.mn.as_deref())
        .bind(q.limit.map(i64::from))
        .fetch_all(&s.pool)
        .await?;
    rows.into_iter().map(Row::into_revision).collect()
}

pub(super) async fn decide(
    s: &PgStore,
    id: i64,
    decision: RevisionDecision,
    by: &str,
    reason: Option<&str>,
    at: i64,
) -> Result<PendingRevision> {
    let data_time: Option<i64> = sqlx::query_scalar("SELECT data_time FROM pending_revisions WHERE id = $1")
        .bind(id)
        .fetch_optional(&s.pool)
        .await?;
    let Some(data_time) = data_time else {
        return Err(StoreError::NotFound(format!("pending revision {id}")));
    };
    if decision == RevisionDecision::Approve {
        s.ensure_partitions(MEASUREMENTS, [data_time]).await?;
    }
    let mut tx = s.pool.begin().await?;
    // The row locked: two deciders of one revision are serialised, the second sees it decided.
    let row: Option<Row> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} WHERE p.id = $1 FOR UPDATE OF p")))
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
    sqlx::query(
        "UPDATE pending_revisions SET status = $1, decided_at = $2, decided_by = $3, reason = $4, revision = $5 \
         WHERE id = $6",
    )
    .bind(status.name())
    .bind(at)
    .bind(by)
    .bind(reason)
    .bind(revision.map(|r| i32::try_from(r).unwrap_or(i32::MAX)))
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    let mut decided = row.into_revision()?;
    decided.status = status;
    decided.decided_at = Some(at);
    decided.decided_by = Some(by.to_string());
    decided.reason = reason.map(String::from);
    decided.revision = revision;
    Ok(decided)
}

/// Store an approved revision as the record's next revision (with its frame and receipt time)
/// and mark the record's day dirty; returns the revision. Under the device's ingest lock, so a
/// batch of the same device cannot number a revision of its own meanwhile.
async fn apply(conn: &mut sqlx::PgConnection, row: &Row, values: &Values) -> Result<u32> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(row.device_id).execute(&mut *conn).await?;
    let latest: Option<i32> = sqlx::query_scalar(
        "SELECT max(revision) FROM measurements WHERE device_id = $1 AND cn = $2 AND data_time = $3 AND factor_id = $4",
    )
    .bind(row.device_id)
    .bind(row.cn)
    .bind(row.data_time)
    .bind(row.factor_id)
    .fetch_one(&mut *conn)
    .await?;
    // Pending only ever follows a stored value; approving after that was somehow removed
    // stores it as the first.
    let revision = latest.map_or(0, |l| l.saturating_add(1));
    let n = values.number_fields();
    sqlx::query(
        "INSERT INTO measurements (device_id, data_time, cn, factor_id, revision, frame_id, received_at, rtd, min, \
         avg, max, cou, zs_rtd, zs_min, zs_avg, zs_max, raw_code, flag, eflag, sample_time) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
    )
    .bind(row.device_id)
    .bind(row.data_time)
    .bind(row.cn)
    .bind(row.factor_id)
    .bind(revision)
    .bind(row.frame_id)
    .bind(row.received_at)
    .bind(n[0].1)
    .bind(n[1].1)
    .bind(n[2].1)
    .bind(n[3].1)
    .bind(n[4].1)
    .bind(n[5].1)
    .bind(n[6].1)
    .bind(n[7].1)
    .bind(n[8].1)
    .bind(row.raw_code.as_deref())
    .bind(values.flag.as_deref().map(|t| super::ingest_write::pg_text(t).into_owned()))
    .bind(values.eflag.as_deref().map(|t| super::ingest_write::pg_text(t).into_owned()))
    .bind(values.sample_time.as_deref().map(|t| super::ingest_write::pg_text(t).into_owned()))
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO latest_data (device_id, cn, data_time) VALUES ($1, $2, $3) \
         ON CONFLICT (device_id, cn) DO UPDATE SET data_time = GREATEST(latest_data.data_time, excluded.data_time)",
    )
    .bind(row.device_id)
    .bind(row.cn)
    .bind(row.data_time)
    .execute(&mut *conn)
    .await?;
    // The engine re-judges the day.
    sqlx::query(
        "INSERT INTO dirty_days (device_id, day_start, seq) VALUES ($1, $2, nextval('dirty_seq')) \
         ON CONFLICT (device_id, day_start) DO UPDATE SET seq = excluded.seq",
    )
    .bind(row.device_id)
    .bind(day_start(row.data_time))
    .execute(&mut *conn)
    .await?;
    small(i64::from(revision), "revision")
}
