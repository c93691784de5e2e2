//! Compliance results, alarms, dirty-day tracking and engine state on SQLite
//! (`migrations/sqlite/0003_compliance.sql`).
//!
//! Replacement is delete-then-insert inside one `BEGIN IMMEDIATE` transaction, so a reader sees
//! either the old rows of a window or the new ones. Every row given is checked to lie in the
//! window it replaces; otherwise a second call could not delete what the first inserted, and
//! saving would not be idempotent.

use std::fmt::Write as _;
use std::sync::LazyLock;

use fenhe_core::compliance::time::{day_start, month_start, next_month_start};
use fenhe_core::compliance::{
    Aggregate, AlarmDraft, Emission, Episode, Evaluation, Finding, FindingKind, Invalidity, Period, Rate,
    Severity,
};
use foldhash::{HashMap as FastMap, HashSet as FastSet, HashSetExt as _};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row, SqliteConnection};

use super::multi_insert::{MultiInsert, SqliteQuery};
use super::{SqliteStore, small};
use crate::{
    AggregateQuery, Alarm, AlarmQuery, AlarmStatus, AlarmSync, DirtyDay, EmissionQuery, EpisodeQuery,
    FindingQuery, MONTHLY_FINDING_KINDS, RESOLUTION_CLEARED, RESOLUTION_WITHDRAWN, RateQuery, Result,
    StoreError,
};

// ---------------------------------------------------------------------------------------------
// Dirty days

/// The dirty marks the writer knows to be in `dirty_days` and not yet taken by the engine, so
/// that a batch re-marks only the device-days it is first to touch: a minute packet rewrote a
/// `dirty_days` page for its device every batch, an estimated 45 of the ~400 pages a paced batch
/// wrote (docs/BENCHMARKS.md, "Sixth pass").
///
/// Sound because every change of the counter by anyone else is seen: a batch takes the next
/// counter value, and the engine takes its dirty days in a write transaction that also advances
/// the counter ([`dirty_days`]), as does [`mark_all_dirty`]. When a batch finds the counter moved
/// by more than its own step, the engine may have read (and will delete) any mark, so it forgets
/// them all and marks every day it touches again, with a seq the engine has not seen. A skipped
/// mark is therefore always one written after the engine's last take, which the engine will read
/// with its newer data.
#[derive(Debug, Default)]
pub(super) struct DirtyMarks {
    /// The counter value of the last batch applied; 0 before any.
    last_seq: i64,
    marked: FastSet<(i64, i64)>,
}

/// Beyond this many remembered marks (a backfill of many device-days with the engine off), start
/// over rather than grow.
const MAX_REMEMBERED: usize = 1 << 20;

/// What a batch marked, to be remembered once its transaction has committed.
#[derive(Debug)]
pub(super) struct NewMarks {
    seq: i64,
    days: Vec<(i64, i64)>,
}

impl DirtyMarks {
    /// Remember what a committed batch marked.
    pub(super) fn apply(&mut self, new: NewMarks) {
        if new.seq <= self.last_seq {
            return; // applied out of order: the next batch sees a gap and starts over
        }
        if new.seq != self.last_seq + 1 || self.marked.len() > MAX_REMEMBERED {
            self.marked.clear();
        }
        self.last_seq = new.seq;
        self.marked.extend(new.days);
    }
}

/// Mark every (device, China-time day) that `rows` ((device id, DataTime) of the new
/// measurements and revisions of one batch) touch and `known` does not hold as marked since the
/// engine's last take, with the next value of the global counter. Called once per batch, inside
/// the batch's transaction; the caller applies the result to `known` after committing.
pub(super) async fn mark_dirty(
    conn: &mut SqliteConnection,
    rows: &[(i64, i64)],
    known: &std::sync::Mutex<DirtyMarks>,
) -> Result<Option<NewMarks>> {
    if rows.is_empty() {
        return Ok(None);
    }
    let mut days = FastSet::with_capacity(8);
    let mut last = (i64::MIN, i64::MIN, i64::MIN); // (device, day start, day end)
    for &(device, t) in rows {
        if device == last.0 && t >= last.1 && t < last.2 {
            continue;
        }
        let start = day_start(t);
        last = (device, start, start + fenhe_core::compliance::time::DAY_MS);
        days.insert((device, start));
    }
    let seq: i64 = sqlx::query_scalar("UPDATE dirty_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq")
        .fetch_one(&mut *conn)
        .await?;
    let days: Vec<(i64, i64)> = {
        let known = known.lock().expect("dirty marks lock");
        if seq == known.last_seq + 1 {
            days.into_iter().filter(|d| !known.marked.contains(d)).collect()
        } else {
            days.into_iter().collect()
        }
    };
    if !days.is_empty() {
        let mut list = String::with_capacity(days.len() * 24 + 2);
        list.push('[');
        for (i, (device, start)) in days.iter().enumerate() {
            if i > 0 {
                list.push(',');
            }
            let _ = write!(list, "[{device},{start}]");
        }
        list.push(']');
        sqlx::query(
            "INSERT INTO dirty_days (device_id, day_start, seq) \
             SELECT k.value ->> 0, k.value ->> 1, ? FROM json_each(?) AS k WHERE true \
             ON CONFLICT (device_id, day_start) DO UPDATE SET seq = excluded.seq",
        )
        .bind(seq)
        .bind(list)
        .execute(&mut *conn)
        .await?;
    }
    Ok(Some(NewMarks { seq, days }))
}

/// Up to `limit` dirty device-days, oldest first. Taken in a write transaction that advances the
/// counter, so that batches after it mark again every day they touch (see [`DirtyMarks`]).
pub(super) async fn dirty_days(s: &SqliteStore, limit: u32) -> Result<Vec<DirtyDay>> {
    let mut tx = s.write.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query("UPDATE dirty_seq SET seq = seq + 1 WHERE id = 1").execute(&mut *tx).await?;
    let rows = sqlx::query(
        "SELECT d.mn, x.day_start, x.seq FROM dirty_days x JOIN devices d ON d.id = x.device_id \
         ORDER BY x.day_start, d.mn LIMIT ?",
    )
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    rows.iter()
        .map(|r| Ok(DirtyDay { mn: r.try_get(0)?, day_start: r.try_get(1)?, seq: r.try_get(2)? }))
        .collect()
}

pub(super) async fn mark_all_dirty(s: &SqliteStore) -> Result<u64> {
    let mut tx = s.write.begin_with("BEGIN IMMEDIATE").await?;
    let seq: i64 = sqlx::query_scalar("UPDATE dirty_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq")
        .fetch_one(&mut *tx)
        .await?;
    // China-time day of each DataTime (UTC+8; DataTimes before 1970 floor correctly too).
    let marked = sqlx::query(
        "INSERT INTO dirty_days (device_id, day_start, seq)          SELECT DISTINCT device_id,                 ((data_time + 28800000) - (((data_time + 28800000) % 86400000) + 86400000) % 86400000)                   - 28800000, ?          FROM measurement_sets WHERE true          ON CONFLICT (device_id, day_start) DO UPDATE SET seq = excluded.seq",
    )
    .bind(seq)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(marked)
}

pub(super) async fn clear_dirty(s: &SqliteStore, done: &[DirtyDay]) -> Result<()> {
    if done.is_empty() {
        return Ok(());
    }
    let list = json(&done.iter().map(|d| (d.mn.as_str(), d.day_start, d.seq)).collect::<Vec<_>>())?;
    let mut tx = s.write.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query(
        "DELETE FROM dirty_days WHERE (device_id, day_start, seq) IN \
         (SELECT d.id, k.value ->> 1, k.value ->> 2 FROM json_each(?) AS k JOIN devices d ON d.mn = k.value ->> 0)",
    )
    .bind(list)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Saving results

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

/// `'a', 'b'` for an SQL `IN` list of names that come from this program's own enums.
fn name_list(names: impl IntoIterator<Item = &'static str>) -> String {
    let mut s = String::new();
    for n in names {
        if !s.is_empty() {
            s.push_str(", ");
        }
        let _ = write!(s, "'{n}'");
    }
    if s.is_empty() { "NULL".into() } else { s }
}

const ALL_FINDING_KINDS: [FindingKind; 15] = [
    FindingKind::Offline,
    FindingKind::ConstantValue,
    FindingKind::ZeroWhileFlow,
    FindingKind::NegativeValue,
    FindingKind::ClockSkew,
    FindingKind::Stale,
    FindingKind::Maintenance,
    FindingKind::Calibration,
    FindingKind::Fault,
    FindingKind::Stopped,
    FindingKind::Manual,
    FindingKind::OverRange,
    FindingKind::HourlyMismatch,
    FindingKind::MonthlyShare,
    FindingKind::PermitShare,
];

fn window_kinds() -> Vec<FindingKind> {
    ALL_FINDING_KINDS.into_iter().filter(|k| !MONTHLY_FINDING_KINDS.contains(k)).collect()
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
        if e.period != Period::Month || e.start != start {
            return Err(invalid(format!(
                "emission of {} at {} is not of month {start}",
                e.period.name(),
                e.start
            )));
        }
    }
    for r in rates {
        check_mn("a rate", &r.mn, mn)?;
        if r.period != Period::Month || r.start != start {
            return Err(invalid(format!(
                "rate of {} at {} is not of month {start}",
                r.period.name(),
                r.start
            )));
        }
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

// ---------------------------------------------------------------------------------------------
// Queries

enum Arg<'a> {
    Int(i64),
    Text(&'a str),
}

/// A `WHERE` clause built from optional filters, with its arguments in order.
struct Filter<'a> {
    sql: String,
    args: Vec<Arg<'a>>,
}

impl<'a> Filter<'a> {
    fn new(select: &str) -> Filter<'a> {
        Filter { sql: format!("{select} WHERE 1 = 1"), args: Vec::new() }
    }
    fn text(&mut self, cond: &str, v: Option<&'a str>) {
        if let Some(v) = v {
            let _ = write!(self.sql, " AND {cond}");
            self.args.push(Arg::Text(v));
        }
    }
    fn int(&mut self, cond: &str, v: Option<i64>) {
        if let Some(v) = v {
            let _ = write!(self.sql, " AND {cond}");
            self.args.push(Arg::Int(v));
        }
    }
    fn raw(&mut self, cond: &str) {
        let _ = write!(self.sql, " AND {cond}");
    }
    async fn fetch(mut self, s: &SqliteStore, order: &str, limit: Option<u32>) -> Result<Vec<SqliteRow>> {
        let _ = write!(self.sql, " ORDER BY {order}");
        if let Some(l) = limit {
            let _ = write!(self.sql, " LIMIT {l}");
        }
        let mut q = sqlx::query(AssertSqlSafe(self.sql));
        for a in self.args {
            q = match a {
                Arg::Int(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
            };
        }
        Ok(q.fetch_all(&s.read).await?)
    }
}

const PERIOD_ORDER: &str = "CASE period WHEN 'hour' THEN 0 WHEN 'day' THEN 1 ELSE 2 END";

fn period(s: &str) -> Result<Period> {
    match s {
        "hour" => Ok(Period::Hour),
        "day" => Ok(Period::Day),
        "month" => Ok(Period::Month),
        _ => Err(StoreError::Corrupt(format!("unknown period {s:?}"))),
    }
}

/// An enumeration stored by its snake_case (serde) name.
fn by_name<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| StoreError::Corrupt(format!("unknown {what} {s:?}")))
}

fn json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Invalid(e.to_string()))
}

pub(super) async fn aggregates(s: &SqliteStore, q: &AggregateQuery) -> Result<Vec<Aggregate>> {
    let mut f = Filter::new(
        "SELECT mn, outlet, factor, period, start_at, mean, converted_mean, min, max, valid_units, records, \
         valid, reason, limit_max, limit_min, exceeds FROM aggregates",
    );
    f.text("mn = ?", q.mn.as_deref());
    f.text("outlet = ?", q.outlet.as_deref());
    f.text("factor = ?", q.factor.as_deref());
    f.text("period = ?", q.period.map(Period::name));
    f.int("start_at >= ?", q.from);
    f.int("start_at < ?", q.to);
    if q.exceeds_only {
        f.raw("exceeds = 1");
    }
    let rows = f.fetch(s, &format!("mn, factor, start_at, {PERIOD_ORDER}"), q.limit).await?;
    rows.iter()
        .map(|r| {
            Ok(Aggregate {
                mn: r.try_get(0)?,
                outlet: r.try_get(1)?,
                factor: r.try_get(2)?,
                period: period(r.try_get(3)?)?,
                start: r.try_get(4)?,
                mean: r.try_get(5)?,
                converted_mean: r.try_get(6)?,
                min: r.try_get(7)?,
                max: r.try_get(8)?,
                valid_units: small(r.try_get(9)?, "valid units")?,
                records: small(r.try_get(10)?, "records")?,
                valid: r.try_get(11)?,
                reason: r.try_get::<Option<&str>, _>(12)?.map(|s| by_name(s, "invalidity")).transpose()?,
                limit: r.try_get(13)?,
                limit_min: r.try_get(14)?,
                exceeds: r.try_get(15)?,
            })
        })
        .collect()
}

pub(super) async fn episodes(s: &SqliteStore, q: &EpisodeQuery) -> Result<Vec<Episode>> {
    let mut f = Filter::new(
        "SELECT mn, outlet, factor, period, start_at, end_at, periods, max_converted, max_multiple, \
         limit_value, open FROM episodes",
    );
    f.text("mn = ?", q.mn.as_deref());
    f.text("outlet = ?", q.outlet.as_deref());
    f.text("factor = ?", q.factor.as_deref());
    f.text("period = ?", q.period.map(Period::name));
    f.int("start_at >= ?", q.from);
    f.int("start_at < ?", q.to);
    let rows = f.fetch(s, "mn, factor, start_at, id", q.limit).await?;
    rows.iter()
        .map(|r| {
            Ok(Episode {
                mn: r.try_get(0)?,
                outlet: r.try_get(1)?,
                factor: r.try_get(2)?,
                period: period(r.try_get(3)?)?,
                start: r.try_get(4)?,
                end: r.try_get(5)?,
                periods: small(r.try_get(6)?, "periods")?,
                max_converted: r.try_get(7)?,
                max_multiple: r.try_get(8)?,
                limit: r.try_get(9)?,
                open: r.try_get(10)?,
            })
        })
        .collect()
}

pub(super) async fn findings(s: &SqliteStore, q: &FindingQuery) -> Result<Vec<Finding>> {
    let mut f =
        Filter::new("SELECT mn, factor, kind, start_at, end_at, detail, detail_zh, open FROM findings");
    f.text("mn = ?", q.mn.as_deref());
    f.text(
        "mn IN (SELECT d.mn FROM devices d JOIN outlets o ON o.id = d.outlet_id WHERE o.code = ?)",
        q.outlet.as_deref(),
    );
    f.text("factor = ?", q.factor.as_deref());
    f.text("kind = ?", q.kind.map(FindingKind::name));
    f.int("open = ?", q.open.map(i64::from));
    f.int("start_at >= ?", q.from);
    f.int("start_at < ?", q.to);
    let rows = f.fetch(s, "mn, factor, start_at, kind, id", q.limit).await?;
    rows.iter()
        .map(|r| {
            Ok(Finding {
                mn: r.try_get(0)?,
                factor: r.try_get(1)?,
                kind: by_name(r.try_get(2)?, "finding kind")?,
                start: r.try_get(3)?,
                end: r.try_get(4)?,
                detail: r.try_get(5)?,
                detail_zh: r.try_get(6)?,
                open: r.try_get(7)?,
            })
        })
        .collect()
}

pub(super) async fn emissions(s: &SqliteStore, q: &EmissionQuery) -> Result<Vec<Emission>> {
    let mut f =
        Filter::new("SELECT mn, outlet, factor, period, start_at, kg, records, from_cou FROM emissions");
    f.text("mn = ?", q.mn.as_deref());
    f.text("outlet = ?", q.outlet.as_deref());
    f.text("factor = ?", q.factor.as_deref());
    f.text("period = ?", q.period.map(Period::name));
    f.int("start_at >= ?", q.from);
    f.int("start_at < ?", q.to);
    let rows = f.fetch(s, &format!("mn, factor, start_at, {PERIOD_ORDER}"), q.limit).await?;
    rows.iter()
        .map(|r| {
            Ok(Emission {
                mn: r.try_get(0)?,
                outlet: r.try_get(1)?,
                factor: r.try_get(2)?,
                period: period(r.try_get(3)?)?,
                start: r.try_get(4)?,
                kg: r.try_get(5)?,
                records: small(r.try_get(6)?, "records")?,
                from_cou: r.try_get(7)?,
            })
        })
        .collect()
}

pub(super) async fn rates(s: &SqliteStore, q: &RateQuery) -> Result<Vec<Rate>> {
    let mut f = Filter::new(
        "SELECT mn, outlet, period, start_at, expected, received, valid, transmission, validity, \
         effective_transmission, compliance, judged_hours, exceeding_hours FROM rates",
    );
    f.text("mn = ?", q.mn.as_deref());
    f.text("outlet = ?", q.outlet.as_deref());
    f.text("period = ?", q.period.map(Period::name));
    f.int("start_at >= ?", q.from);
    f.int("start_at < ?", q.to);
    let rows = f.fetch(s, &format!("mn, start_at, {PERIOD_ORDER}"), q.limit).await?;
    rows.iter()
        .map(|r| {
            Ok(Rate {
                mn: r.try_get(0)?,
                outlet: r.try_get(1)?,
                period: period(r.try_get(2)?)?,
                start: r.try_get(3)?,
                expected: small(r.try_get(4)?, "expected")?,
                received: small(r.try_get(5)?, "received")?,
                valid: small(r.try_get(6)?, "valid")?,
                transmission: r.try_get(7)?,
                validity: r.try_get(8)?,
                effective_transmission: r.try_get(9)?,
                compliance: r.try_get(10)?,
                judged_hours: small(r.try_get(11)?, "judged hours")?,
                exceeding_hours: small(r.try_get(12)?, "exceeding hours")?,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Alarms

const ALARM_COLUMNS: &str = "id, key, mn, outlet, factor, kind, severity, start_at, end_at, active, title_zh, \
                             title_en, detail_zh, detail_en, status, resolution, raised_at, updated_at, resolved_at";

fn alarm_from_row(r: &SqliteRow) -> Result<Alarm> {
    let severity: &str = r.try_get(6)?;
    let status: &str = r.try_get(14)?;
    Ok(Alarm {
        id: r.try_get(0)?,
        draft: AlarmDraft {
            key: r.try_get(1)?,
            mn: r.try_get(2)?,
            outlet: r.try_get(3)?,
            factor: r.try_get(4)?,
            kind: r.try_get(5)?,
            severity: Severity::parse(severity)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown severity {severity:?}")))?,
            start: r.try_get(7)?,
            end: r.try_get(8)?,
            active: r.try_get(9)?,
            title_zh: r.try_get(10)?,
            title_en: r.try_get(11)?,
            detail_zh: r.try_get(12)?,
            detail_en: r.try_get(13)?,
        },
        status: AlarmStatus::parse(status)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown alarm status {status:?}")))?,
        resolution: r.try_get(15)?,
        raised_at: r.try_get(16)?,
        updated_at: r.try_get(17)?,
        resolved_at: r.try_get(18)?,
    })
}

/// Write every field of `d` and the lifecycle columns to alarm `id`.
async fn write_alarm(
    conn: &mut SqliteConnection,
    id: i64,
    d: &AlarmDraft,
    status: AlarmStatus,
    resolution: Option<&str>,
    resolved_at: Option<i64>,
    now: i64,
) -> Result<()> {
    sqlx::query(
        "UPDATE alarms SET outlet = ?, factor = ?, kind = ?, severity = ?, start_at = ?, end_at = ?, active = ?, \
         title_zh = ?, title_en = ?, detail_zh = ?, detail_en = ?, status = ?, resolution = ?, \
         updated_at = ?, resolved_at = ? WHERE id = ?",
    )
    .bind(d.outlet.as_str())
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
    .bind(status.name())
    .bind(resolution)
    .bind(now)
    .bind(resolved_at)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn sync_alarms(
    s: &SqliteStore,
    mn: &str,
    from: i64,
    to: i64,
    drafts: &[AlarmDraft],
    now: i64,
) -> Result<AlarmSync> {
    for d in drafts {
        check_mn("an alarm", &d.mn, mn)?;
    }
    let keys = json(&drafts.iter().map(|d| d.key.as_str()).collect::<Vec<_>>())?;
    let mut tx = s.write.begin_with("BEGIN IMMEDIATE").await?;
    let conn = &mut *tx;
    let mut stored: FastMap<String, Alarm> = FastMap::default();
    for r in sqlx::query(AssertSqlSafe(format!(
        "SELECT {ALARM_COLUMNS} FROM alarms WHERE key IN (SELECT value FROM json_each(?))"
    )))
    .bind(keys.as_str())
    .fetch_all(&mut *conn)
    .await?
    {
        let a = alarm_from_row(&r)?;
        stored.insert(a.draft.key.clone(), a);
    }

    let mut sync = AlarmSync::default();
    for d in drafts {
        let Some(a) = stored.get_mut(&d.key) else {
            let (status, resolution, resolved_at) = if d.active {
                (AlarmStatus::Open, None, None)
            } else {
                (AlarmStatus::Resolved, Some(RESOLUTION_CLEARED), Some(now))
            };
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO alarms (key, mn, outlet, factor, kind, severity, start_at, end_at, active, title_zh, \
                 title_en, detail_zh, detail_en, status, resolution, raised_at, updated_at, resolved_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )
            .bind(d.key.as_str())
            .bind(d.mn.as_str())
            .bind(d.outlet.as_str())
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
            .bind(status.name())
            .bind(resolution)
            .bind(now)
            .bind(now)
            .bind(resolved_at)
            .fetch_one(&mut *conn)
            .await?;
            sync.raised += 1;
            if !d.active {
                sync.resolved += 1;
            }
            let alarm = Alarm {
                id,
                draft: d.clone(),
                status,
                resolution: resolution.map(String::from),
                raised_at: now,
                updated_at: now,
                resolved_at,
            };
            stored.insert(d.key.clone(), alarm);
            continue;
        };
        let (status, resolution, resolved_at) = match (a.status, d.active) {
            (AlarmStatus::Open, true) if a.draft == *d => continue,
            (AlarmStatus::Open, true) => {
                sync.updated += 1;
                (AlarmStatus::Open, None, None)
            }
            (AlarmStatus::Open, false) => {
                sync.resolved += 1;
                (AlarmStatus::Resolved, Some(RESOLUTION_CLEARED.to_string()), Some(now))
            }
            (AlarmStatus::Resolved, true) => {
                sync.raised += 1;
                (AlarmStatus::Open, None, None)
            }
            // A withdrawn alarm whose episode or finding is produced again, over: cleared.
            (AlarmStatus::Resolved, false) if a.resolution.as_deref() == Some(RESOLUTION_WITHDRAWN) => {
                sync.updated += 1;
                (AlarmStatus::Resolved, Some(RESOLUTION_CLEARED.to_string()), a.resolved_at)
            }
            (AlarmStatus::Resolved, false) if a.draft == *d => continue,
            (AlarmStatus::Resolved, false) => {
                sync.updated += 1;
                (AlarmStatus::Resolved, a.resolution.clone(), a.resolved_at)
            }
        };
        write_alarm(conn, a.id, d, status, resolution.as_deref(), resolved_at, now).await?;
        *a = Alarm { draft: d.clone(), status, resolution, updated_at: now, resolved_at, ..a.clone() };
    }

    let withdrawn = sqlx::query(
        "UPDATE alarms SET status = 'resolved', resolution = ?, active = 0, resolved_at = ?, updated_at = ? \
         WHERE mn = ? AND status = 'open' AND start_at >= ? AND start_at < ? \
         AND key NOT IN (SELECT value FROM json_each(?))",
    )
    .bind(RESOLUTION_WITHDRAWN)
    .bind(now)
    .bind(now)
    .bind(mn)
    .bind(from)
    .bind(to)
    .bind(keys.as_str())
    .execute(&mut *conn)
    .await?;
    sync.resolved += withdrawn.rows_affected() as u32;
    // An alarm that had cleared but whose episode or finding revised data no longer produces
    // (merged into another, or gone): its record says so too.
    let revised = sqlx::query(
        "UPDATE alarms SET resolution = ?, updated_at = ? \
         WHERE mn = ? AND status = 'resolved' AND resolution = ? AND start_at >= ? AND start_at < ? \
         AND key NOT IN (SELECT value FROM json_each(?))",
    )
    .bind(RESOLUTION_WITHDRAWN)
    .bind(now)
    .bind(mn)
    .bind(RESOLUTION_CLEARED)
    .bind(from)
    .bind(to)
    .bind(keys.as_str())
    .execute(&mut *conn)
    .await?;
    sync.updated += revised.rows_affected() as u32;
    tx.commit().await?;
    Ok(sync)
}

pub(super) async fn alarms(s: &SqliteStore, q: &AlarmQuery) -> Result<Vec<Alarm>> {
    let mut f = Filter::new(&format!("SELECT {ALARM_COLUMNS} FROM alarms"));
    f.text("mn = ?", q.mn.as_deref());
    f.text("status = ?", q.status.map(AlarmStatus::name));
    f.text("kind = ?", q.kind.as_deref());
    if let Some(min) = q.min_severity {
        let names = name_list(Severity::ALL.into_iter().filter(|v| *v >= min).map(Severity::name));
        f.raw(&format!("severity IN ({names})"));
    }
    let rows = f.fetch(s, "raised_at DESC, id DESC", q.limit).await?;
    rows.iter().map(alarm_from_row).collect()
}

// ---------------------------------------------------------------------------------------------
// Engine state and records

pub(super) async fn engine_state(s: &SqliteStore, name: &str) -> Result<Option<String>> {
    Ok(sqlx::query_scalar("SELECT value FROM engine_state WHERE name = ?")
        .bind(name)
        .fetch_optional(&s.read)
        .await?)
}

pub(super) async fn set_engine_state(s: &SqliteStore, name: &str, value: &str) -> Result<()> {
    sqlx::query("INSERT INTO engine_state (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
        .bind(name)
        .bind(value)
        .execute(&s.write)
        .await?;
    Ok(())
}
