//! Alarms on PostgreSQL: loading the alarms a sync concerns and applying the changes
//! `fenhe_core::alarm::reconcile` decided, each checked against the row it was decided from (a
//! conditional `UPDATE`, re-checked by PostgreSQL after waiting for a concurrent writer), in
//! one transaction.

use async_trait::async_trait;
use fenhe_core::alarm::{AlarmChange, AlarmWindow};
use fenhe_core::compliance::{AlarmDraft, Severity};
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, FromRow, PgConnection, Postgres, Row};

use super::PgStore;
use super::filter::Filter;
use crate::sqlite::convert::{count, name_list, parsed};
use crate::{Alarm, AlarmQuery, AlarmStatus, AlarmStore, Result, StoreError};

/// A statement whose arguments borrow from the alarm it writes.
type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

const ALARM_COLUMNS: &str = "id, key, mn, outlet, factor, kind, severity, start_at, end_at, active, title_zh, \
                             title_en, detail_zh, detail_en, status, resolution, raised_at, updated_at, resolved_at";

#[derive(FromRow)]
struct AlarmRow {
    id: i64,
    key: String,
    mn: String,
    outlet: String,
    factor: Option<String>,
    kind: String,
    severity: String,
    start_at: i64,
    end_at: i64,
    active: bool,
    title_zh: String,
    title_en: String,
    detail_zh: String,
    detail_en: String,
    status: String,
    resolution: Option<String>,
    raised_at: i64,
    updated_at: i64,
    resolved_at: Option<i64>,
}

impl AlarmRow {
    fn into_alarm(self) -> Result<Alarm> {
        Ok(Alarm {
            id: self.id,
            draft: AlarmDraft {
                severity: parsed(Severity::parse, &self.severity, "severity")?,
                key: self.key,
                mn: self.mn,
                outlet: self.outlet,
                factor: self.factor,
                kind: self.kind,
                start: self.start_at,
                end: self.end_at,
                active: self.active,
                title_zh: self.title_zh,
                title_en: self.title_en,
                detail_zh: self.detail_zh,
                detail_en: self.detail_en,
            },
            status: parsed(AlarmStatus::parse, &self.status, "alarm status")?,
            resolution: self.resolution,
            raised_at: self.raised_at,
            updated_at: self.updated_at,
            resolved_at: self.resolved_at,
        })
    }
}

/// Binds the columns a stored alarm may change, in this order: `outlet, factor, kind, severity,
/// start_at, end_at, active, title_zh, title_en, detail_zh, detail_en, status, resolution,
/// updated_at, resolved_at`. [`insert`] writes them after the ones fixed at raising, [`update`]
/// overwrites them, so both statements list the columns in this order.
fn bind_changeable<'q>(q: PgQuery<'q>, a: &'q Alarm) -> PgQuery<'q> {
    let d = &a.draft;
    q.bind(d.outlet.as_str())
        .bind(d.factor.as_deref())
        .bind(d.kind.as_str())
        .bind(d.severity.name())
        .bind(d.start)
        .bind(d.end)
        .bind(d.active)
        .bind(d.title_zh.as_str())
        .bind(d.title_en.as_str())
        .bind(d.detail_zh.as_str())
        .bind(d.detail_en.as_str())
        .bind(a.status.name())
        .bind(a.resolution.as_deref())
        .bind(a.updated_at)
        .bind(a.resolved_at)
}

/// Insert a new key; `None` when the key exists already (another writer raised it meanwhile).
async fn insert(conn: &mut PgConnection, a: &Alarm) -> Result<Option<i64>> {
    let q = sqlx::query(
        "INSERT INTO alarms (key, mn, raised_at, outlet, factor, kind, severity, start_at, end_at, active, \
         title_zh, title_en, detail_zh, detail_en, status, resolution, updated_at, resolved_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) \
         ON CONFLICT (key) DO NOTHING RETURNING id",
    )
    .bind(a.draft.key.as_str())
    .bind(a.draft.mn.as_str())
    .bind(a.raised_at);
    let row = bind_changeable(q, a).fetch_optional(conn).await?;
    Ok(row.map(|r| r.try_get("id")).transpose()?)
}

/// Write `after` over the row of `before` if that row's lifecycle is still `before`'s (the
/// columns [`AlarmChange::conflicts_with`] compares); `false` when it moved.
async fn update(conn: &mut PgConnection, before: &Alarm, after: &Alarm) -> Result<bool> {
    let q = sqlx::query(
        "UPDATE alarms SET outlet = $1, factor = $2, kind = $3, severity = $4, start_at = $5, end_at = $6, \
         active = $7, title_zh = $8, title_en = $9, detail_zh = $10, detail_en = $11, status = $12, \
         resolution = $13, updated_at = $14, resolved_at = $15 \
         WHERE id = $16 AND status = $17 AND resolution IS NOT DISTINCT FROM $18 AND updated_at = $19 \
         AND active = $20",
    );
    let done = bind_changeable(q, after)
        .bind(before.id)
        .bind(before.status.name())
        .bind(before.resolution.as_deref())
        .bind(before.updated_at)
        .bind(before.draft.active)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The conditions of `q` apart from paging, shared by the list and its count.
fn filter<'q>(f: &mut Filter<'q>, q: &'q AlarmQuery) {
    f.text("mn = ?", q.mn.as_deref());
    f.text("outlet = ?", q.outlet.as_deref());
    f.text(
        "outlet IN (SELECT o.code FROM outlets o JOIN enterprises e ON e.id = o.enterprise_id WHERE e.code = ?)",
        q.enterprise.as_deref(),
    );
    f.text("status = ?", q.status.map(AlarmStatus::name));
    f.text("kind = ?", q.kind.as_deref());
    if let Some(min) = q.min_severity {
        let names = name_list(Severity::ALL.into_iter().filter(|v| *v >= min).map(Severity::name));
        f.raw(&format!("severity IN ({names})"));
    }
    f.int("start_at < ?", q.to);
    f.int("end_at >= ?", q.from);
}

#[async_trait]
impl AlarmStore for PgStore {
    async fn alarms_to_reconcile(&self, window: AlarmWindow<'_>, keys: &[&str]) -> Result<Vec<Alarm>> {
        // UNION rather than OR: each half uses its own index (the key's, and alarms_mn_start).
        let rows: Vec<AlarmRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {ALARM_COLUMNS} FROM alarms WHERE key = ANY($1::text[]) \
             UNION SELECT {ALARM_COLUMNS} FROM alarms WHERE mn = $2 AND start_at >= $3 AND start_at < $4 \
             ORDER BY id"
        )))
        .bind(keys)
        .bind(window.mn)
        .bind(window.from)
        .bind(window.to)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(AlarmRow::into_alarm).collect()
    }

    async fn apply_alarm_changes(&self, changes: &[AlarmChange]) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for c in changes {
            // An early return drops `tx`, which rolls everything of this call back.
            match &c.before {
                None => {
                    if insert(&mut tx, &c.after).await?.is_none() {
                        return Err(StoreError::Conflict(format!("alarm {} was raised", c.after.draft.key)));
                    }
                }
                Some(before) => {
                    if !update(&mut tx, before, &c.after).await? {
                        return Err(StoreError::Conflict(format!("alarm {} changed", before.draft.key)));
                    }
                }
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn alarms(&self, q: &AlarmQuery) -> Result<Vec<Alarm>> {
        let mut f = Filter::new(&format!("SELECT {ALARM_COLUMNS} FROM alarms"));
        filter(&mut f, q);
        let rows: Vec<AlarmRow> =
            f.fetch_page(&self.pool, "raised_at DESC, id DESC", q.limit, q.offset).await?;
        rows.into_iter().map(AlarmRow::into_alarm).collect()
    }

    async fn count_alarms(&self, q: &AlarmQuery) -> Result<u64> {
        let mut f = Filter::new("SELECT count(*) FROM alarms");
        filter(&mut f, q);
        count(f.count(&self.pool).await?)
    }

    async fn alarm(&self, id: i64) -> Result<Option<Alarm>> {
        let row: Option<AlarmRow> =
            sqlx::query_as(AssertSqlSafe(format!("SELECT {ALARM_COLUMNS} FROM alarms WHERE id = $1")))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(AlarmRow::into_alarm).transpose()
    }
}
