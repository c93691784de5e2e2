//! Alarms on SQLite: loading the alarms a sync concerns and applying the changes
//! `fenhe_core::alarm::reconcile` decided, each checked against the row it was decided from.

use async_trait::async_trait;
use fenhe_core::alarm::{AlarmChange, AlarmWindow};
use fenhe_core::compliance::{AlarmDraft, Severity};
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{AssertSqlSafe, FromRow, Row, Sqlite, SqliteConnection};

use super::SqliteStore;
use super::convert::{count, json, name_list, parsed};
use super::result_queries::Filter;
use crate::{Alarm, AlarmQuery, AlarmStatus, AlarmStore, Result, StoreError};

/// A statement whose arguments borrow from the alarm it writes.
type SqliteQuery<'q> = Query<'q, Sqlite, SqliteArguments>;

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
fn bind_changeable<'q>(q: SqliteQuery<'q>, a: &'q Alarm) -> SqliteQuery<'q> {
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
async fn insert(conn: &mut SqliteConnection, a: &Alarm) -> Result<Option<i64>> {
    let q = sqlx::query(
        "INSERT INTO alarms (key, mn, raised_at, outlet, factor, kind, severity, start_at, end_at, active, \
         title_zh, title_en, detail_zh, detail_en, status, resolution, updated_at, resolved_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
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
async fn update(conn: &mut SqliteConnection, before: &Alarm, after: &Alarm) -> Result<bool> {
    let q = sqlx::query(
        "UPDATE alarms SET outlet = ?, factor = ?, kind = ?, severity = ?, start_at = ?, end_at = ?, active = ?, \
         title_zh = ?, title_en = ?, detail_zh = ?, detail_en = ?, status = ?, resolution = ?, \
         updated_at = ?, resolved_at = ? \
         WHERE id = ? AND status = ? AND resolution IS ? AND updated_at = ? AND active = ?",
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
impl AlarmStore for SqliteStore {
    async fn alarms_to_reconcile(&self, window: AlarmWindow<'_>, keys: &[&str]) -> Result<Vec<Alarm>> {
        let keys = json(keys)?;
        // UNION rather than OR: each half uses its own index (the key's, and (mn, …)).
        let rows: Vec<AlarmRow> = sqlx::query_as(AssertSqlSafe(format!(
            "SELECT {ALARM_COLUMNS} FROM alarms WHERE key IN (SELECT value FROM json_each(?)) \
             UNION SELECT {ALARM_COLUMNS} FROM alarms WHERE mn = ? AND start_at >= ? AND start_at < ? \
             ORDER BY id"
        )))
        .bind(keys)
        .bind(window.mn)
        .bind(window.from)
        .bind(window.to)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(AlarmRow::into_alarm).collect()
    }

    async fn apply_alarm_changes(&self, changes: &[AlarmChange]) -> Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
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
        let rows: Vec<AlarmRow> = f.fetch_page(self, "raised_at DESC, id DESC", q.limit, q.offset).await?;
        rows.into_iter().map(AlarmRow::into_alarm).collect()
    }

    async fn count_alarms(&self, q: &AlarmQuery) -> Result<u64> {
        let mut f = Filter::new("SELECT COUNT(*) FROM alarms");
        filter(&mut f, q);
        count(f.count(self).await?)
    }

    async fn alarm(&self, id: i64) -> Result<Option<Alarm>> {
        let row: Option<AlarmRow> =
            sqlx::query_as(AssertSqlSafe(format!("SELECT {ALARM_COLUMNS} FROM alarms WHERE id = ?")))
                .bind(id)
                .fetch_optional(&self.read)
                .await?;
        row.map(AlarmRow::into_alarm).transpose()
    }
}
