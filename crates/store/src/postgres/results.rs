//! The [`ResultStore`] on PostgreSQL: dirty device-days, the engine's results (replaced
//! delete-then-insert in one transaction, rows inserted from `UNNEST`ed arrays), their queries,
//! the engine's state, and the rules' records loader.

use std::sync::Arc;

use async_trait::async_trait;
use fenhe_core::ShortText;
use fenhe_core::compliance::time::{day_start, month_start, next_month_start};
use fenhe_core::compliance::{
    Aggregate, DataKind, Emission, Episode, Evaluation, Finding, FindingKind, Invalidity, Period, Rate,
    Record, RuleNumber, RuleValues,
};
use sqlx::{AssertSqlSafe, FromRow, PgConnection};

use super::PgStore;
use super::filter::Filter;
use crate::sqlite::convert::{by_name, name_list, period, small};
use crate::{
    AggregateQuery, DirtyDay, EmissionQuery, EpisodeQuery, FindingQuery, MONTHLY_FINDING_KINDS, RateQuery,
    Result, ResultStore, StoreError,
};

// --- Checks (the same rules as the SQLite backend's result_save) ---------------------------------

fn touches(start: i64, end: i64, from: i64, to: i64) -> bool {
    start < to && (end > from || start >= from)
}

/// The SQL form of [`touches`] on $2 (from) and $3 (to), after `mn = $1`.
const TOUCHES: &str = "end_at >= $2 AND start_at < $3 AND (end_at > $2 OR start_at >= $2)";

fn invalid(msg: String) -> StoreError {
    StoreError::Invalid(msg)
}

fn check_mn(what: &str, row_mn: &str, mn: &str) -> Result<()> {
    if row_mn != mn {
        return Err(invalid(format!("{what} of {row_mn} given for device {mn}")));
    }
    Ok(())
}

fn check_in(what: &str, start: i64, from: i64, to: i64) -> Result<()> {
    if start < from || start >= to {
        return Err(invalid(format!("{what} starting at {start} lies outside [{from}, {to})")));
    }
    Ok(())
}

fn check_month(what: &str, period: Period, start: i64, month_start: i64) -> Result<()> {
    if period != Period::Month || start != month_start {
        return Err(invalid(format!("{what} of {} at {start} is not of month {month_start}", period.name())));
    }
    Ok(())
}

fn window_kinds() -> Vec<FindingKind> {
    FindingKind::ALL.into_iter().filter(|k| !MONTHLY_FINDING_KINDS.contains(k)).collect()
}

fn check_episodes(mn: &str, from: i64, to: i64, episodes: &[Episode]) -> Result<()> {
    for e in episodes {
        check_mn("an episode", &e.mn, mn)?;
        if !touches(e.start, e.end, from, to) {
            return Err(invalid(format!("episode [{}, {}) does not touch [{from}, {to})", e.start, e.end)));
        }
    }
    Ok(())
}

fn check_findings(mn: &str, from: i64, to: i64, kinds: &[FindingKind], findings: &[Finding]) -> Result<()> {
    for f in findings {
        check_mn("a finding", &f.mn, mn)?;
        if !kinds.contains(&f.kind) {
            return Err(invalid(format!("a {} finding cannot be saved here", f.kind.name())));
        }
        if !touches(f.start, f.end, from, to) {
            return Err(invalid(format!("finding [{}, {}) does not touch [{from}, {to})", f.start, f.end)));
        }
    }
    Ok(())
}

/// Start a transaction that replaces results of `mn`, holding the device's results lock until
/// it ends: two replacements of the same device (two engine nodes, or a window saved while the
/// next one of the same device is) are serialised as on SQLite; without it, both would delete
/// the old rows and the second insert would collide with the first's.
async fn results_tx<'c>(pool: &'c sqlx::PgPool, mn: &str) -> Result<sqlx::Transaction<'c, sqlx::Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 1))")
        .bind(format!("results:{mn}"))
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

// --- Inserts, one statement per table -------------------------------------------------------------

async fn insert_aggregates(conn: &mut PgConnection, rows: &[&Aggregate]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let col = |f: fn(&Aggregate) -> Option<f64>| rows.iter().map(|a| f(a)).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO aggregates (mn, period, start_at, factor, outlet, mean, converted_mean, min, max, \
         valid_units, records, valid, reason, limit_max, limit_min, exceeds) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::float8[], \
         $7::float8[], $8::float8[], $9::float8[], $10::bigint[], $11::bigint[], $12::bool[], $13::text[], \
         $14::float8[], $15::float8[], $16::bool[])",
    )
    .bind(rows.iter().map(|a| a.mn.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|a| a.period.name()).collect::<Vec<_>>())
    .bind(rows.iter().map(|a| a.start).collect::<Vec<_>>())
    .bind(rows.iter().map(|a| a.factor.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|a| a.outlet.as_str()).collect::<Vec<_>>())
    .bind(col(|a| a.mean))
    .bind(col(|a| a.converted_mean))
    .bind(col(|a| a.min))
    .bind(col(|a| a.max))
    .bind(rows.iter().map(|a| i64::from(a.valid_units)).collect::<Vec<_>>())
    .bind(rows.iter().map(|a| i64::from(a.records)).collect::<Vec<_>>())
    .bind(rows.iter().map(|a| a.valid).collect::<Vec<_>>())
    .bind(rows.iter().map(|a| a.reason.map(Invalidity::name)).collect::<Vec<_>>())
    .bind(col(|a| a.limit))
    .bind(col(|a| a.limit_min))
    .bind(rows.iter().map(|a| a.exceeds).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_episodes(conn: &mut PgConnection, rows: &[Episode]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO episodes (mn, factor, period, start_at, end_at, outlet, periods, max_converted, \
         max_multiple, limit_value, open) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], \
         $7::bigint[], $8::float8[], $9::float8[], $10::float8[], $11::bool[])",
    )
    .bind(rows.iter().map(|e| e.mn.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.factor.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.period.name()).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.start).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.end).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.outlet.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| i64::from(e.periods)).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.max_converted).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.max_multiple).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.limit).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.open).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_findings(conn: &mut PgConnection, rows: &[Finding]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO findings (mn, factor, kind, start_at, end_at, detail, detail_zh, open) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], \
         $7::text[], $8::bool[])",
    )
    .bind(rows.iter().map(|f| f.mn.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|f| f.factor.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|f| f.kind.name()).collect::<Vec<_>>())
    .bind(rows.iter().map(|f| f.start).collect::<Vec<_>>())
    .bind(rows.iter().map(|f| f.end).collect::<Vec<_>>())
    .bind(rows.iter().map(|f| f.detail.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|f| f.detail_zh.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|f| f.open).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_emissions(conn: &mut PgConnection, rows: &[Emission]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO emissions (mn, period, start_at, factor, outlet, kg, records, from_cou) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::float8[], \
         $7::bigint[], $8::bool[])",
    )
    .bind(rows.iter().map(|e| e.mn.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.period.name()).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.start).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.factor.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.outlet.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.kg).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| i64::from(e.records)).collect::<Vec<_>>())
    .bind(rows.iter().map(|e| e.from_cou).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_rates(conn: &mut PgConnection, rows: &[Rate]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO rates (mn, period, start_at, outlet, expected, received, valid, transmission, validity, \
         effective_transmission, compliance, judged_hours, exceeding_hours) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[], \
         $7::bigint[], $8::float8[], $9::float8[], $10::float8[], $11::float8[], $12::bigint[], $13::bigint[])",
    )
    .bind(rows.iter().map(|r| r.mn.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.period.name()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.start).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.outlet.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| i64::from(r.expected)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| i64::from(r.received)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| i64::from(r.valid)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.transmission).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.validity).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.effective_transmission).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.compliance).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| i64::from(r.judged_hours)).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| i64::from(r.exceeding_hours)).collect::<Vec<_>>())
    .execute(conn)
    .await?;
    Ok(())
}

/// Delete the rows of `table` of `mn` touching `[from, to)`, of `kinds` only when given.
async fn delete_touching(
    conn: &mut PgConnection,
    table: &str,
    mn: &str,
    from: i64,
    to: i64,
    kinds: Option<&[FindingKind]>,
) -> Result<()> {
    let mut sql = format!("DELETE FROM {table} WHERE mn = $1 AND {TOUCHES}");
    if let Some(kinds) = kinds {
        sql.push_str(&format!(" AND kind IN ({})", name_list(kinds.iter().map(|k| k.name()))));
    }
    sqlx::query(AssertSqlSafe(sql)).bind(mn).bind(from).bind(to).execute(conn).await?;
    Ok(())
}

// --- Queries ----------------------------------------------------------------------------------------

const PERIOD_ORDER: &str = "CASE period WHEN 'hour' THEN 0 WHEN 'day' THEN 1 ELSE 2 END";

#[derive(FromRow)]
struct AggregateRow {
    mn: String,
    outlet: String,
    factor: String,
    period: String,
    start_at: i64,
    mean: Option<f64>,
    converted_mean: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    valid_units: i64,
    records: i64,
    valid: bool,
    reason: Option<String>,
    limit_max: Option<f64>,
    limit_min: Option<f64>,
    exceeds: bool,
}

#[derive(FromRow)]
struct EpisodeRow {
    mn: String,
    outlet: String,
    factor: String,
    period: String,
    start_at: i64,
    end_at: i64,
    periods: i64,
    max_converted: f64,
    max_multiple: f64,
    limit_value: f64,
    open: bool,
}

#[derive(FromRow)]
struct FindingRow {
    mn: String,
    factor: Option<String>,
    kind: String,
    start_at: i64,
    end_at: i64,
    detail: String,
    detail_zh: String,
    open: bool,
}

#[derive(FromRow)]
struct EmissionRow {
    mn: String,
    outlet: String,
    factor: String,
    period: String,
    start_at: i64,
    kg: f64,
    records: i64,
    from_cou: bool,
}

#[derive(FromRow)]
struct RateRow {
    mn: String,
    outlet: String,
    period: String,
    start_at: i64,
    expected: i64,
    received: i64,
    valid: i64,
    transmission: f64,
    validity: f64,
    effective_transmission: f64,
    compliance: Option<f64>,
    judged_hours: i64,
    exceeding_hours: i64,
}

/// The data commands the rules read (numeric CN as stored).
const KINDS: [(i32, DataKind); 4] =
    [(2011, DataKind::Realtime), (2051, DataKind::Minute), (2061, DataKind::Hour), (2031, DataKind::Day)];

#[derive(FromRow)]
struct RecordRow {
    cn: i32,
    data_time: i64,
    factor_id: i32,
    received_at: i64,
    rtd: Option<f64>,
    avg: Option<f64>,
    cou: Option<f64>,
    zs_rtd: Option<f64>,
    zs_avg: Option<f64>,
    flag: Option<String>,
}

#[async_trait]
impl ResultStore for PgStore {
    async fn dirty_days(&self, limit: u32) -> Result<Vec<DirtyDay>> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT d.mn, x.day_start, x.seq FROM dirty_days x JOIN devices d ON d.id = x.device_id \
             ORDER BY x.day_start, d.mn LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(mn, day_start, seq)| DirtyDay { mn, day_start, seq }).collect())
    }

    async fn clear_dirty(&self, done: &[DirtyDay]) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "DELETE FROM dirty_days x USING unnest($1::text[], $2::bigint[], $3::bigint[]) AS k (mn, day_start, seq), \
             devices d WHERE d.mn = k.mn AND x.device_id = d.id AND x.day_start = k.day_start AND x.seq = k.seq",
        )
        .bind(done.iter().map(|d| d.mn.as_str()).collect::<Vec<_>>())
        .bind(done.iter().map(|d| d.day_start).collect::<Vec<_>>())
        .bind(done.iter().map(|d| d.seq).collect::<Vec<_>>())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mark_all_dirty(&self) -> Result<u64> {
        // China-time day of each DataTime: t minus its (Euclidean) remainder past 00:00 UTC+8.
        let done = sqlx::query(
            "WITH s AS (SELECT nextval('dirty_seq') AS seq) \
             INSERT INTO dirty_days (device_id, day_start, seq) \
             SELECT DISTINCT m.device_id, \
                    m.data_time - (((m.data_time + 28800000) % 86400000) + 86400000) % 86400000, s.seq \
             FROM measurements m, s \
             ON CONFLICT (device_id, day_start) DO UPDATE SET seq = excluded.seq",
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn mark_dirty(&self, mn: &str, day_starts: &[i64]) -> Result<u64> {
        if day_starts.is_empty() {
            return Ok(0);
        }
        let days: std::collections::BTreeSet<i64> = day_starts.iter().map(|&t| day_start(t)).collect();
        let days: Vec<i64> = days.into_iter().collect();
        let done = sqlx::query(
            "WITH s AS (SELECT nextval('dirty_seq') AS seq) \
             INSERT INTO dirty_days (device_id, day_start, seq) \
             SELECT d.id, k.day, s.seq FROM devices d, unnest($2::bigint[]) AS k (day), s WHERE d.mn = $1 \
             ON CONFLICT (device_id, day_start) DO UPDATE SET seq = excluded.seq",
        )
        .bind(mn)
        .bind(&days)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn save_evaluation(&self, mn: &str, from: i64, to: i64, ev: &Evaluation) -> Result<()> {
        for a in ev.hours.iter().chain(&ev.days) {
            check_mn("an aggregate", &a.mn, mn)?;
            if a.period == Period::Month {
                return Err(invalid("monthly aggregates are not stored".into()));
            }
            check_in("an aggregate", a.start, from, to)?;
        }
        for e in &ev.emissions {
            check_mn("an emission", &e.mn, mn)?;
            if e.period == Period::Month {
                return Err(invalid("monthly emissions are saved by save_monthly".into()));
            }
            check_in("an emission", e.start, from, to)?;
        }
        for r in &ev.rates {
            check_mn("a rate", &r.mn, mn)?;
            if r.period == Period::Month {
                return Err(invalid("monthly rates are saved by save_monthly".into()));
            }
            check_in("a rate", r.start, from, to)?;
        }
        let kinds = window_kinds();
        check_episodes(mn, from, to, &ev.episodes)?;
        check_findings(mn, from, to, &kinds, &ev.findings)?;

        let mut tx = results_tx(&self.pool, mn).await?;
        for table in ["aggregates", "emissions", "rates"] {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE mn = $1 AND period IN ('hour', 'day') AND start_at >= $2 AND start_at < $3"
            )))
            .bind(mn)
            .bind(from)
            .bind(to)
            .execute(&mut *tx)
            .await?;
        }
        delete_touching(&mut tx, "episodes", mn, from, to, None).await?;
        delete_touching(&mut tx, "findings", mn, from, to, Some(&kinds)).await?;
        let aggregates: Vec<&Aggregate> = ev.hours.iter().chain(&ev.days).collect();
        insert_aggregates(&mut tx, &aggregates).await?;
        insert_emissions(&mut tx, &ev.emissions).await?;
        insert_rates(&mut tx, &ev.rates).await?;
        insert_episodes(&mut tx, &ev.episodes).await?;
        insert_findings(&mut tx, &ev.findings).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn replace_episodes(&self, mn: &str, from: i64, to: i64, episodes: &[Episode]) -> Result<()> {
        check_episodes(mn, from, to, episodes)?;
        let mut tx = results_tx(&self.pool, mn).await?;
        delete_touching(&mut tx, "episodes", mn, from, to, None).await?;
        insert_episodes(&mut tx, episodes).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn replace_findings(
        &self,
        mn: &str,
        from: i64,
        to: i64,
        kinds: Option<&[FindingKind]>,
        findings: &[Finding],
    ) -> Result<()> {
        let kinds = match kinds {
            Some(k) => k.to_vec(),
            None => window_kinds(),
        };
        check_findings(mn, from, to, &kinds, findings)?;
        let mut tx = results_tx(&self.pool, mn).await?;
        delete_touching(&mut tx, "findings", mn, from, to, Some(&kinds)).await?;
        insert_findings(&mut tx, findings).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn save_monthly(
        &self,
        mn: &str,
        start: i64,
        emissions: &[Emission],
        rates: &[Rate],
        findings: &[Finding],
    ) -> Result<()> {
        if month_start(start) != start {
            return Err(invalid(format!("{start} is not the start of a month (China time)")));
        }
        let end = next_month_start(start);
        for e in emissions {
            check_mn("an emission", &e.mn, mn)?;
            check_month("emission", e.period, e.start, start)?;
        }
        for r in rates {
            check_mn("a rate", &r.mn, mn)?;
            check_month("rate", r.period, r.start, start)?;
        }
        for f in findings {
            check_mn("a finding", &f.mn, mn)?;
            if !MONTHLY_FINDING_KINDS.contains(&f.kind) {
                return Err(invalid(format!("a {} finding is not a monthly one", f.kind.name())));
            }
            check_in("a monthly finding", f.start, start, end)?;
        }
        let mut tx = results_tx(&self.pool, mn).await?;
        for table in ["emissions", "rates"] {
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE mn = $1 AND period = 'month' AND start_at = $2"
            )))
            .bind(mn)
            .bind(start)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM findings WHERE mn = $1 AND kind IN ({}) AND start_at >= $2 AND start_at < $3",
            name_list(MONTHLY_FINDING_KINDS.iter().map(|k| k.name()))
        )))
        .bind(mn)
        .bind(start)
        .bind(end)
        .execute(&mut *tx)
        .await?;
        insert_emissions(&mut tx, emissions).await?;
        insert_rates(&mut tx, rates).await?;
        insert_findings(&mut tx, findings).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn aggregates(&self, q: &AggregateQuery) -> Result<Vec<Aggregate>> {
        let mut f = Filter::new(
            "SELECT mn, outlet, factor, period, start_at, mean, converted_mean, min, max, valid_units, records, \
             valid, reason, limit_max, limit_min, exceeds FROM aggregates",
        );
        f.text("mn = ?", q.mn.as_deref());
        f.text("outlet = ?", q.outlet.as_deref());
        f.text("factor = ?", q.factor.as_deref());
        f.text("period = ?", q.period.map(Period::name));
        f.starts_within(q.from, q.to);
        if q.exceeds_only {
            // Matches the partial index aggregates_exceeding.
            f.raw("exceeds");
        }
        let rows: Vec<AggregateRow> =
            f.fetch(&self.pool, &format!("mn, factor, start_at, {PERIOD_ORDER}"), q.limit).await?;
        rows.into_iter()
            .map(|r| {
                Ok(Aggregate {
                    period: period(&r.period)?,
                    valid_units: small(r.valid_units, "valid units")?,
                    records: small(r.records, "records")?,
                    reason: r.reason.as_deref().map(|s| by_name(s, "invalidity")).transpose()?,
                    mn: r.mn,
                    outlet: r.outlet,
                    factor: r.factor,
                    start: r.start_at,
                    mean: r.mean,
                    converted_mean: r.converted_mean,
                    min: r.min,
                    max: r.max,
                    valid: r.valid,
                    limit: r.limit_max,
                    limit_min: r.limit_min,
                    exceeds: r.exceeds,
                })
            })
            .collect()
    }

    async fn episodes(&self, q: &EpisodeQuery) -> Result<Vec<Episode>> {
        let mut f = Filter::new(
            "SELECT mn, outlet, factor, period, start_at, end_at, periods, max_converted, max_multiple, \
             limit_value, open FROM episodes",
        );
        f.text("mn = ?", q.mn.as_deref());
        f.text("outlet = ?", q.outlet.as_deref());
        f.text("factor = ?", q.factor.as_deref());
        f.text("period = ?", q.period.map(Period::name));
        f.starts_within(q.from, q.to);
        let rows: Vec<EpisodeRow> = f.fetch(&self.pool, "mn, factor, start_at, id", q.limit).await?;
        rows.into_iter()
            .map(|r| {
                Ok(Episode {
                    period: period(&r.period)?,
                    periods: small(r.periods, "periods")?,
                    mn: r.mn,
                    outlet: r.outlet,
                    factor: r.factor,
                    start: r.start_at,
                    end: r.end_at,
                    max_converted: r.max_converted,
                    max_multiple: r.max_multiple,
                    limit: r.limit_value,
                    open: r.open,
                })
            })
            .collect()
    }

    async fn findings(&self, q: &FindingQuery) -> Result<Vec<Finding>> {
        let mut f =
            Filter::new("SELECT mn, factor, kind, start_at, end_at, detail, detail_zh, open FROM findings");
        f.text("mn = ?", q.mn.as_deref());
        f.text(
            "mn IN (SELECT d.mn FROM devices d JOIN outlets o ON o.id = d.outlet_id WHERE o.code = ?)",
            q.outlet.as_deref(),
        );
        f.text("factor = ?", q.factor.as_deref());
        f.text("kind = ?", q.kind.map(FindingKind::name));
        match q.open {
            Some(true) => f.raw("open"),
            Some(false) => f.raw("NOT open"),
            None => {}
        }
        f.starts_within(q.from, q.to);
        f.int("end_at > ?", q.ends_after);
        // NULLS FIRST: device-wide findings (no factor) first, as SQLite orders NULL.
        let rows: Vec<FindingRow> =
            f.fetch(&self.pool, "mn, factor NULLS FIRST, start_at, kind, id", q.limit).await?;
        rows.into_iter()
            .map(|r| {
                Ok(Finding {
                    kind: by_name(&r.kind, "finding kind")?,
                    mn: r.mn,
                    factor: r.factor,
                    start: r.start_at,
                    end: r.end_at,
                    detail: r.detail,
                    detail_zh: r.detail_zh,
                    open: r.open,
                })
            })
            .collect()
    }

    async fn emissions(&self, q: &EmissionQuery) -> Result<Vec<Emission>> {
        let mut f =
            Filter::new("SELECT mn, outlet, factor, period, start_at, kg, records, from_cou FROM emissions");
        f.text("mn = ?", q.mn.as_deref());
        f.text("outlet = ?", q.outlet.as_deref());
        f.text("factor = ?", q.factor.as_deref());
        f.text("period = ?", q.period.map(Period::name));
        f.starts_within(q.from, q.to);
        let rows: Vec<EmissionRow> =
            f.fetch(&self.pool, &format!("mn, factor, start_at, {PERIOD_ORDER}"), q.limit).await?;
        rows.into_iter()
            .map(|r| {
                Ok(Emission {
                    period: period(&r.period)?,
                    records: small(r.records, "records")?,
                    mn: r.mn,
                    outlet: r.outlet,
                    factor: r.factor,
                    start: r.start_at,
                    kg: r.kg,
                    from_cou: r.from_cou,
                })
            })
            .collect()
    }

    async fn rates(&self, q: &RateQuery) -> Result<Vec<Rate>> {
        let mut f = Filter::new(
            "SELECT mn, outlet, period, start_at, expected, received, valid, transmission, validity, \
             effective_transmission, compliance, judged_hours, exceeding_hours FROM rates",
        );
        f.text("mn = ?", q.mn.as_deref());
        f.text("outlet = ?", q.outlet.as_deref());
        f.text("period = ?", q.period.map(Period::name));
        f.starts_within(q.from, q.to);
        let rows: Vec<RateRow> =
            f.fetch(&self.pool, &format!("mn, start_at, {PERIOD_ORDER}"), q.limit).await?;
        rows.into_iter()
            .map(|r| {
                Ok(Rate {
                    period: period(&r.period)?,
                    expected: small(r.expected, "expected")?,
                    received: small(r.received, "received")?,
                    valid: small(r.valid, "valid")?,
                    judged_hours: small(r.judged_hours, "judged hours")?,
                    exceeding_hours: small(r.exceeding_hours, "exceeding hours")?,
                    mn: r.mn,
                    outlet: r.outlet,
                    start: r.start_at,
                    transmission: r.transmission,
                    validity: r.validity,
                    effective_transmission: r.effective_transmission,
                    compliance: r.compliance,
                })
            })
            .collect()
    }

    async fn data_hours(&self, from: i64, to: i64) -> Result<Vec<(String, i64)>> {
        // aggregates_time (period, start_at).
        Ok(sqlx::query_as(
            "SELECT DISTINCT mn, start_at FROM aggregates WHERE period = 'hour' AND start_at >= $1 AND start_at < $2 \
             AND records > 0 ORDER BY mn, start_at",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn engine_state(&self, name: &str) -> Result<Option<String>> {
        Ok(sqlx::query_scalar("SELECT value FROM engine_state WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn set_engine_state(&self, name: &str, value: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO engine_state (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn compliance_records(&self, mn: &str, from: i64, to: i64) -> Result<Vec<Record>> {
        self.compliance_records_into(mn, from, to, Vec::new()).await
    }

    /// The latest revision of each record by `DISTINCT ON` over the primary key (device, CN,
    /// DataTime, factor, revision), partitions pruned to the window's months.
    async fn compliance_records_into(
        &self,
        mn: &str,
        from: i64,
        to: i64,
        buf: Vec<Record>,
    ) -> Result<Vec<Record>> {
        let mut out = buf;
        out.clear();
        let Some(device) = sqlx::query_scalar::<_, i64>("SELECT id FROM devices WHERE mn = $1")
            .bind(mn)
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(out);
        };
        let rows: Vec<RecordRow> = sqlx::query_as(
            "SELECT DISTINCT ON (cn, data_time, factor_id) cn, data_time, factor_id, received_at, rtd, avg, cou, \
             zs_rtd, zs_avg, flag FROM measurements \
             WHERE device_id = $1 AND cn IN (2011, 2051, 2061, 2031) AND data_time >= $2 AND data_time < $3 \
             ORDER BY cn, data_time, factor_id, revision DESC",
        )
        .bind(device)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        let mut codes = self.factor_codes().await?;
        out.reserve(rows.len());
        for r in rows {
            let code = match codes.get(&r.factor_id) {
                Some(c) => c.clone(),
                None => {
                    codes = self.reload_factor_codes().await?;
                    codes.get(&r.factor_id).cloned().ok_or_else(|| {
                        StoreError::Corrupt(format!("measurement with unknown factor id {}", r.factor_id))
                    })?
                }
            };
            let Some(&(_, kind)) = KINDS.iter().find(|(c, _)| *c == r.cn) else {
                return Err(StoreError::Corrupt(format!("CN {} selected as a data command", r.cn)));
            };
            // Only the fields the rules read (`compliance::RULE_FIELDS`).
            let mut values = RuleValues::default();
            values.set(RuleNumber::Rtd, r.rtd);
            values.set(RuleNumber::Avg, r.avg);
            values.set(RuleNumber::Cou, r.cou);
            values.set(RuleNumber::ZsRtd, r.zs_rtd);
            values.set(RuleNumber::ZsAvg, r.zs_avg);
            values.set_flag(r.flag.map(ShortText::from));
            out.push(Record {
                kind,
                data_time: r.data_time,
                factor: code,
                values,
                received_at: r.received_at,
            });
        }
        Ok(out)
    }
}

impl PgStore {
    /// factor id → code, shared: every record of a factor points at the same text.
    async fn factor_codes(&self) -> Result<super::FactorCodes> {
        let cached = self.codes.lock().expect("codes lock").clone();
        match cached {
            Some(c) => Ok(c),
            None => self.reload_factor_codes().await,
        }
    }

    async fn reload_factor_codes(&self) -> Result<super::FactorCodes> {
        let rows: Vec<(i32, String)> =
            sqlx::query_as("SELECT id, code FROM factors").fetch_all(&self.pool).await?;
        let map: foldhash::HashMap<i32, Arc<str>> =
            rows.into_iter().map(|(id, c)| (id, Arc::from(c))).collect();
        let map = Arc::new(map);
        *self.codes.lock().expect("codes lock") = Some(map.clone());
        Ok(map)
    }
}
