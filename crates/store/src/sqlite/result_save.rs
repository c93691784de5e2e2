//! Saving the compliance engine's results on SQLite
//! (`migrations/sqlite/0003_compliance.sql`).
//!
//! Replacement is delete-then-insert inside one `BEGIN IMMEDIATE` transaction, so a reader sees
//! either the old rows of a window or the new ones. Every row given is checked to lie in the
//! window it replaces; otherwise a second call could not delete what the first inserted, and
//! saving would not be idempotent.

use std::fmt::Write as _;
use std::sync::LazyLock;

use fenhe_core::compliance::time::{month_start, next_month_start};
use fenhe_core::compliance::{
    Aggregate, Emission, Episode, Evaluation, Finding, FindingKind, Invalidity, Period, Rate,
};
use sqlx::{AssertSqlSafe, SqliteConnection};

use super::SqliteStore;
use super::convert::name_list;
use super::multi_insert::{MultiInsert, SqliteQuery};
use crate::{MONTHLY_FINDING_KINDS, Result, StoreError};

/// Whether a range `[start, end)` touches the window `[from, to)`: overlaps it, or (for a
/// zero-length range) starts in it.
fn touches(start: i64, end: i64, from: i64, to: i64) -> bool {
    start < to && (end > from || start >= from)
}

/// The SQL form of [`touches`]; binds `from`, `to`, `from`, `from`. The leading `end_at >= ?`
/// lets the (mn, end_at) index skip the device's history before the window.
const TOUCHES: &str = "end_at >= ? AND start_at < ? AND (end_at > ? OR start_at >= ?)";

fn invalid(msg: String) -> StoreError {
    StoreError::Invalid(msg)
}

pub(super) fn check_mn(what: &str, row_mn: &str, mn: &str) -> Result<()> {
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

/// A row of [`save_monthly`] must be the month row starting at `month_start`.
fn check_month(what: &str, period: Period, start: i64, month_start: i64) -> Result<()> {
    if period != Period::Month || start != month_start {
        return Err(invalid(format!("{what} of {} at {start} is not of month {month_start}", period.name())));
    }
    Ok(())
}

/// The finding kinds a window's evaluation replaces: every kind but the monthly ones.
fn window_kinds() -> Vec<FindingKind> {
    FindingKind::ALL.into_iter().filter(|k| !MONTHLY_FINDING_KINDS.contains(k)).collect()
}

struct Inserts {
    aggregate: MultiInsert,
    episode: MultiInsert,
    finding: MultiInsert,
    emission: MultiInsert,
    rate: MultiInsert,
}

static INSERTS: LazyLock<Inserts> = LazyLock::new(|| Inserts {
    aggregate: MultiInsert::new(
        "INSERT INTO aggregates (mn, period, start_at, factor, outlet, mean, converted_mean, min, max, \
         valid_units, records, valid, reason, limit_max, limit_min, exceeds) VALUES ",
        16,
        "",
    ),
    episode: MultiInsert::new(
        "INSERT INTO episodes (mn, factor, period, start_at, end_at, outlet, periods, max_converted, \
         max_multiple, limit_value, open) VALUES ",
        11,
        "",
    ),
    finding: MultiInsert::new(
        "INSERT INTO findings (mn, factor, kind, start_at, end_at, detail, detail_zh, open) VALUES ",
        8,
        "",
    ),
    emission: MultiInsert::new(
        "INSERT INTO emissions (mn, period, start_at, factor, outlet, kg, records, from_cou) VALUES ",
        8,
        "",
    ),
    rate: MultiInsert::new(
        "INSERT INTO rates (mn, period, start_at, outlet, expected, received, valid, transmission, validity, \
         effective_transmission, compliance, judged_hours, exceeding_hours) VALUES ",
        13,
        "",
    ),
});

fn bind_aggregate(q: SqliteQuery, a: &&Aggregate) -> SqliteQuery {
    q.bind(a.mn.as_str())
        .bind(a.period.name())
        .bind(a.start)
        .bind(a.factor.as_str())
        .bind(a.outlet.as_str())
        .bind(a.mean)
        .bind(a.converted_mean)
        .bind(a.min)
        .bind(a.max)
        .bind(i64::from(a.valid_units))
        .bind(i64::from(a.records))
        .bind(a.valid)
        .bind(a.reason.map(Invalidity::name))
        .bind(a.limit)
        .bind(a.limit_min)
        .bind(a.exceeds)
}

fn bind_episode(q: SqliteQuery, e: &Episode) -> SqliteQuery {
    q.bind(e.mn.as_str())
        .bind(e.factor.as_str())
        .bind(e.period.name())
        .bind(e.start)
        .bind(e.end)
        .bind(e.outlet.as_str())
        .bind(i64::from(e.periods))
        .bind(e.max_converted)
        .bind(e.max_multiple)
        .bind(e.limit)
        .bind(e.open)
}

fn bind_finding(q: SqliteQuery, f: &&Finding) -> SqliteQuery {
    q.bind(f.mn.as_str())
        .bind(f.factor.as_deref())
        .bind(f.kind.name())
        .bind(f.start)
        .bind(f.end)
        .bind(f.detail.as_str())
        .bind(f.detail_zh.as_str())
        .bind(f.open)
}

fn bind_emission(q: SqliteQuery, e: &Emission) -> SqliteQuery {
    q.bind(e.mn.as_str())
        .bind(e.period.name())
        .bind(e.start)
        .bind(e.factor.as_str())
        .bind(e.outlet.as_str())
        .bind(e.kg)
        .bind(i64::from(e.records))
        .bind(e.from_cou)
}

fn bind_rate(q: SqliteQuery, r: &Rate) -> SqliteQuery {
    q.bind(r.mn.as_str())
        .bind(r.period.name())
        .bind(r.start)
        .bind(r.outlet.as_str())
        .bind(i64::from(r.expected))
        .bind(i64::from(r.received))
        .bind(i64::from(r.valid))
        .bind(r.transmission)
        .bind(r.validity)
        .bind(r.effective_transmission)
        .bind(r.compliance)
        .bind(i64::from(r.judged_hours))
        .bind(i64::from(r.exceeding_hours))
}

async fn delete_touching(
    conn: &mut SqliteConnection,
    table: &str,
    mn: &str,
    from: i64,
    to: i64,
    kinds: Option<&[FindingKind]>,
) -> Result<()> {
    let mut sql = format!("DELETE FROM {table} WHERE mn = ? AND {TOUCHES}");
    if let Some(kinds) = kinds {
        let _ = write!(sql, " AND kind IN ({})", name_list(kinds.iter().map(|k| k.name())));
    }
    sqlx::query(AssertSqlSafe(sql)).bind(mn).bind(from).bind(to).bind(from).bind(from).execute(conn).await?;
    Ok(())
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

pub(super) async fn save_evaluation(
    s: &SqliteStore,
    mn: &str,
    from: i64,
    to: i64,
    ev: &Evaluation,
) -> Result<()> {
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

    let mut tx = s.write.begin_with("BEGIN IMMEDIATE").await?;
    let conn = &mut *tx;
    for table in ["aggregates", "emissions", "rates"] {
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE mn = ? AND period IN ('hour', 'day') AND start_at >= ? AND start_at < ?"
        )))
        .bind(mn)
        .bind(from)
        .bind(to)
        .execute(&mut *conn)
        .await?;
    }
    delete_touching(conn, "episodes", mn, from, to, None).await?;
    delete_touching(conn, "findings", mn, from, to, Some(&kinds)).await?;

    let ins = &*INSERTS;
    let aggregates: Vec<&Aggregate> = ev.hours.iter().chain(&ev.days).collect();
    ins.aggregate.run(conn, &aggregates, bind_aggregate).await?;
    ins.emission.run(conn, &ev.emissions, bind_emission).await?;
    ins.rate.run(conn, &ev.rates, bind_rate).await?;
    ins.episode.run(conn, &ev.episodes, bind_episode).await?;
    let findings: Vec<&Finding> = ev.findings.iter().collect();
    ins.finding.run(conn, &findings, bind_finding).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn replace_episodes(
    s: &SqliteStore,
    mn: &str,
    from: i64,
    to: i64,
    episodes: &[Episode],
) -> Result<()> {
    check_episodes(mn, from, to, episodes)?;
    let mut tx = s.write.begin_with("BEGIN IMMEDIATE").await?;
    delete_touching(&mut tx, "episodes", mn, from, to, None).await?;
    INSERTS.episode.run(&mut tx, episodes, bind_episode).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn replace_findings(
    s: &SqliteStore,
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
    let mut tx = s.write.begin_with("BEGIN IMMEDIATE").await?;
    delete_touching(&mut tx, "findings", mn, from, to, Some(&kinds)).await?;
    let findings: Vec<&Finding> = findings.iter().collect();
    INSERTS.finding.run(&mut tx, &findings, bind_finding).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn save_monthly(
    s: &SqliteStore,
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
    let mut tx = s.write.begin_with("BEGIN IMMEDIATE").await?;
    let conn = &mut *tx;
    for table in ["emissions", "rates"] {
        sqlx::query(AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE mn = ? AND period = 'month' AND start_at = ?"
        )))
        .bind(mn)
        .bind(start)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(AssertSqlSafe(format!(
        "DELETE FROM findings WHERE mn = ? AND kind IN ({}) AND start_at >= ? AND start_at < ?",
        name_list(MONTHLY_FINDING_KINDS.iter().map(|k| k.name()))
    )))
    .bind(mn)
    .bind(start)
    .bind(end)
    .execute(&mut *conn)
    .await?;
    INSERTS.emission.run(conn, emissions, bind_emission).await?;
    INSERTS.rate.run(conn, rates, bind_rate).await?;
    let findings: Vec<&Finding> = findings.iter().collect();
    INSERTS.finding.run(conn, &findings, bind_finding).await?;
    tx.commit().await?;
    Ok(())
}
