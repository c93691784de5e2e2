//! Dirty device-days on SQLite: which (device, China-time day)s changed since the compliance
//! engine last took them (`dirty_days`, `dirty_seq` of `migrations/sqlite/0003_compliance.sql`),
//! marked by the writer's batches, by new rule parameters and by the silent-device check.

use std::fmt::Write as _;

use fenhe_core::compliance::time::day_start;
use foldhash::{HashSet as FastSet, HashSetExt as _};
use sqlx::SqliteConnection;

use super::SqliteStore;
use super::convert::json;
use crate::{DirtyDay, Result};

#[derive(sqlx::FromRow)]
struct DirtyRow {
    mn: String,
    day_start: i64,
    seq: i64,
}

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
    let rows: Vec<DirtyRow> = sqlx::query_as(
        "SELECT d.mn, x.day_start, x.seq FROM dirty_days x JOIN devices d ON d.id = x.device_id \
         ORDER BY x.day_start, d.mn LIMIT ?",
    )
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(|r| DirtyDay { mn: r.mn, day_start: r.day_start, seq: r.seq }).collect())
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

/// Mark days of one device dirty outside any batch (the silent-device check). The counter
/// advances in the same transaction, as in [`mark_all_dirty`]: the marks get a seq no take has
/// read (so a clear of an older read leaves them), and the writer's next batch sees the counter
/// moved by more than its own step and forgets what it remembers (see [`DirtyMarks`]).
pub(super) async fn mark_days_dirty(s: &SqliteStore, mn: &str, day_starts: &[i64]) -> Result<u64> {
    if day_starts.is_empty() {
        return Ok(0);
    }
    let days: std::collections::BTreeSet<i64> = day_starts.iter().map(|&t| day_start(t)).collect();
    let list = json(&days)?;
    let mut tx = s.write.begin_with("BEGIN IMMEDIATE").await?;
    let seq: i64 = sqlx::query_scalar("UPDATE dirty_seq SET seq = seq + 1 WHERE id = 1 RETURNING seq")
        .fetch_one(&mut *tx)
        .await?;
    let marked = sqlx::query(
        "INSERT INTO dirty_days (device_id, day_start, seq) \
         SELECT d.id, k.value, ? FROM devices d, json_each(?) AS k WHERE d.mn = ? \
         ON CONFLICT (device_id, day_start) DO UPDATE SET seq = excluded.seq",
    )
    .bind(seq)
    .bind(list)
    .bind(mn)
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
