//! The statements of one ingest batch, run on the write connection's raw handle in one call.
//!
//! Through `sqlx`, every statement of a batch was a round trip to the connection's worker thread
//! and every bound value an argument object built on the Tokio side; a batch of 2,048 packets
//! bound some 400,000 of them. Here the write transaction (begun and committed by
//! [`super::SqliteStore::write_batch`] through `sqlx`) is borrowed for the middle of the batch:
//! the look-up of what is stored, the revision decisions and all inserts run on one thread in one
//! call, with values bound straight from the items (`SQLITE_STATIC`, no copies).
//!
//! Statements are prepared per batch and finalized before the handle is given back (a few
//! microseconds each), so nothing here outlives the borrow of the connection.

use std::collections::BTreeMap;
use std::ffi::{CStr, c_int};
use std::ptr::{self, NonNull};

use fenhe_core::{ShortText, Values, Verdict};
use foldhash::{HashMap as FastMap, HashMapExt as _, HashSet as FastSet, HashSetExt as _};
use libsqlite3_sys as ffi;

use super::{Key, reason_kind, small};
use crate::{IngestItem, ItemOutcome, Result, StoreError};

/// Run `f`, which blocks on SQLite, without stalling the other tasks of a multi-threaded
/// runtime's worker.
pub(super) fn blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

const LOOKUP: &str = "SELECT factor_id, revision, rtd, min, avg, max, cou, zs_rtd, zs_min, zs_avg, zs_max, \
                      flag, eflag, sample_time FROM measurements \
                      WHERE device_id = ?1 AND cn = ?2 AND data_time = ?3";
const NEXT_FRAME_ID: &str = "SELECT COALESCE(MAX(id), 0) + 1 FROM frames";
// OR FAIL: a conflict (which the revision logic rules out) fails the statement; the error still
// rolls back the whole transaction.
const INSERT_FRAME: &str = "INSERT OR FAIL INTO frames (id, received_at, peer, mn, cn, verdict, reason, \
                            deviations, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
const INSERT_MEASUREMENT: &str = "INSERT OR FAIL INTO measurements (device_id, cn, data_time, factor_id, \
                                  revision, raw_code, rtd, min, avg, max, cou, zs_rtd, zs_min, zs_avg, zs_max, \
                                  flag, eflag, sample_time, frame_id, received_at) \
                                  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, \
                                  ?16, ?17, ?18, ?19, ?20)";
const UPSERT_TALLY: &str = "INSERT INTO frame_tally (verdict, reason_kind, frames) VALUES (?1, ?2, ?3) \
                            ON CONFLICT (verdict, reason_kind) DO UPDATE SET frames = frames + excluded.frames";
const UPSERT_TRAFFIC: &str = "INSERT INTO mn_traffic (mn, frames, last_frame_at) VALUES (?1, ?2, ?3) \
                              ON CONFLICT (mn) DO UPDATE SET frames = frames + excluded.frames, \
                              last_frame_at = max(last_frame_at, excluded.last_frame_at)";

struct NewMeasurement<'a> {
    key: Key,
    revision: u32,
    raw_code: Option<&'a str>,
    values: &'a Values,
    frame_id: i64,
    received_at: i64,
}

/// Everything of `items` but the id resolution (`keys`: one per measurement, in order) inside the
/// open write transaction of `db`. On error the caller rolls the transaction back.
pub(super) fn write(
    db: NonNull<ffi::sqlite3>,
    items: &[IngestItem],
    keys: &[Key],
) -> Result<Vec<ItemOutcome>> {
    let db = db.as_ptr();

    // Everything already stored for the (device, CN, DataTime)s of this batch.
    let mut stored: FastMap<Key, (u32, Values)> = FastMap::new();
    if !keys.is_empty() {
        let mut lookup = Stmt::prepare(db, LOOKUP)?;
        let mut seen = FastSet::with_capacity(keys.len() / 4);
        for k in keys {
            if !seen.insert((k.0, k.1, k.2)) {
                continue;
            }
            lookup.int(1, k.0)?;
            lookup.int(2, k.1)?;
            lookup.int(3, k.2)?;
            while lookup.row()? {
                let key: Key = (k.0, k.1, k.2, lookup.column_int(0));
                let rev = small(lookup.column_int(1), "revision")?;
                if stored.get(&key).is_none_or(|(have, _)| rev > *have) {
                    stored.insert(key, (rev, lookup.values_at(2)?));
                }
            }
            lookup.reset();
        }
    }
    let mut latest: FastMap<Key, (u32, &Values)> = FastMap::with_capacity(keys.len());
    latest.extend(stored.iter().map(|(k, (rev, v))| (*k, (*rev, v))));

    let first_id = {
        let mut next = Stmt::prepare(db, NEXT_FRAME_ID)?;
        if !next.row()? {
            return Err(StoreError::Corrupt("no next frame id".into()));
        }
        next.column_int(0)
    };

    let mut outcomes = Vec::with_capacity(items.len());
    let mut verdicts = Vec::with_capacity(items.len());
    let mut rows = Vec::with_capacity(keys.len());
    let mut tally: BTreeMap<(Verdict, &str), i64> = BTreeMap::new();
    let mut traffic: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    let mut keys = keys.iter().copied();
    for (i, item) in items.iter().enumerate() {
        let frame_id = first_id + i as i64;
        let mut out = ItemOutcome { frame_id, ..ItemOutcome::default() };
        for m in &item.measurements {
            let key = keys.next().expect("one key per measurement");
            let revision = match latest.get(&key) {
                None => {
                    out.inserted += 1;
                    0
                }
                Some((_, v)) if v.same_as(&m.values) => {
                    out.duplicates += 1;
                    continue;
                }
                Some((rev, _)) => {
                    out.revisions += 1;
                    rev + 1
                }
            };
            latest.insert(key, (revision, &m.values));
            rows.push(NewMeasurement {
                key,
                revision,
                raw_code: Some(m.raw_code.as_str()).filter(|c| *c != m.factor),
                values: &m.values,
                frame_id,
                received_at: item.frame.received_at,
            });
        }
        let all_duplicates =
            !item.measurements.is_empty() && out.duplicates as usize == item.measurements.len();
        let verdict = if all_duplicates { Verdict::Duplicate } else { item.frame.verdict };
        *tally.entry((verdict, reason_kind(item.frame.reason.as_deref()))).or_default() += 1;
        if let Some(mn) = &item.frame.mn {
            let t = traffic.entry(mn).or_insert((0, i64::MIN));
            t.0 += 1;
            t.1 = t.1.max(item.frame.received_at);
        }
        verdicts.push(verdict);
        outcomes.push(out);
    }

    let mut insert = Stmt::prepare(db, INSERT_FRAME)?;
    for ((item, verdict), out) in items.iter().zip(&verdicts).zip(&outcomes) {
        let r = &item.frame;
        insert.int(1, out.frame_id)?;
        insert.int(2, r.received_at)?;
        insert.text(3, Some(r.peer.as_str()))?;
        insert.text(4, r.mn.as_deref())?;
        insert.text(5, r.cn.as_deref())?;
        insert.text(6, Some(verdict.name()))?;
        insert.text(7, r.reason.as_deref())?;
        insert.text(8, Some(r.deviations.as_str()))?;
        insert.blob(9, &r.bytes)?;
        insert.exec()?;
    }

    // In key order: consecutive inserts land on the same or neighbouring pages.
    rows.sort_unstable_by_key(|m| (m.key, m.revision));
    let mut insert = Stmt::prepare(db, INSERT_MEASUREMENT)?;
    for m in &rows {
        let v = m.values;
        insert.int(1, m.key.0)?;
        insert.int(2, m.key.1)?;
        insert.int(3, m.key.2)?;
        insert.int(4, m.key.3)?;
        insert.int(5, i64::from(m.revision))?;
        insert.text(6, m.raw_code)?;
        for (i, x) in [v.rtd, v.min, v.avg, v.max, v.cou, v.zs_rtd, v.zs_min, v.zs_avg, v.zs_max]
            .into_iter()
            .enumerate()
        {
            insert.real(7 + i as c_int, x)?;
        }
        insert.text(16, v.flag.as_deref())?;
        insert.text(17, v.eflag.as_deref())?;
        insert.text(18, v.sample_time.as_deref())?;
        insert.int(19, m.frame_id)?;
        insert.int(20, m.received_at)?;
        insert.exec()?;
    }

    let mut upsert = Stmt::prepare(db, UPSERT_TALLY)?;
    for ((v, kind), n) in tally {
        upsert.text(1, Some(v.name()))?;
        upsert.text(2, Some(kind))?;
        upsert.int(3, n)?;
        upsert.exec()?;
    }
    let mut upsert = Stmt::prepare(db, UPSERT_TRAFFIC)?;
    for (mn, (n, at)) in traffic {
        upsert.text(1, Some(mn))?;
        upsert.int(2, n)?;
        upsert.int(3, at)?;
        upsert.exec()?;
    }
    Ok(outcomes)
}

/// A prepared statement of `db`, finalized on drop.
struct Stmt {
    db: *mut ffi::sqlite3,
    raw: *mut ffi::sqlite3_stmt,
}

fn error(db: *mut ffi::sqlite3, code: c_int) -> StoreError {
    // SAFETY: `db` is a valid connection handle; the message is copied before any other call.
    let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db)) }.to_string_lossy().into_owned();
    StoreError::Sqlite { code, message }
}

impl Stmt {
    fn prepare(db: *mut ffi::sqlite3, sql: &str) -> Result<Stmt> {
        let mut raw = ptr::null_mut();
        let len = c_int::try_from(sql.len()).expect("short SQL");
        // SAFETY: `db` is a valid, locked connection handle; `sql` outlives the call.
        let rc = unsafe { ffi::sqlite3_prepare_v2(db, sql.as_ptr().cast(), len, &mut raw, ptr::null_mut()) };
        if rc != ffi::SQLITE_OK || raw.is_null() {
            return Err(error(db, rc));
        }
        Ok(Stmt { db, raw })
    }

    fn check(&self, rc: c_int) -> Result<()> {
        if rc == ffi::SQLITE_OK { Ok(()) } else { Err(error(self.db, rc)) }
    }

    fn int(&mut self, i: c_int, v: i64) -> Result<()> {
        // SAFETY: `raw` is a live statement of `db`.
        self.check(unsafe { ffi::sqlite3_bind_int64(self.raw, i, v) })
    }

    fn real(&mut self, i: c_int, v: Option<f64>) -> Result<()> {
        // SAFETY: as above.
        self.check(unsafe {
            match v {
                Some(v) => ffi::sqlite3_bind_double(self.raw, i, v),
                None => ffi::sqlite3_bind_null(self.raw, i),
            }
        })
    }

    /// Binds without copying: the caller keeps `v` alive until the statement has been stepped
    /// (every call site binds and steps within one borrow).
    fn text(&mut self, i: c_int, v: Option<&str>) -> Result<()> {
        let Some(v) = v else {
            // SAFETY: as above.
            return self.check(unsafe { ffi::sqlite3_bind_null(self.raw, i) });
        };
        let len = c_int::try_from(v.len()).map_err(|_| StoreError::Invalid("text too long".into()))?;
        // SAFETY: as above; SQLITE_STATIC because `v` outlives the step that reads it.
        self.check(unsafe {
            ffi::sqlite3_bind_text(self.raw, i, v.as_ptr().cast(), len, ffi::SQLITE_STATIC())
        })
    }

    fn blob(&mut self, i: c_int, v: &[u8]) -> Result<()> {
        let len = c_int::try_from(v.len()).map_err(|_| StoreError::Invalid("frame too long".into()))?;
        // SAFETY: as for `text`. A zero-length blob is bound as an empty blob, not NULL.
        self.check(unsafe {
            if v.is_empty() {
                ffi::sqlite3_bind_zeroblob(self.raw, i, 0)
            } else {
                ffi::sqlite3_bind_blob(self.raw, i, v.as_ptr().cast(), len, ffi::SQLITE_STATIC())
            }
        })
    }

    /// Step a statement that returns no rows, then reset it for the next bindings.
    fn exec(&mut self) -> Result<()> {
        // SAFETY: as above.
        let rc = unsafe { ffi::sqlite3_step(self.raw) };
        if rc == ffi::SQLITE_DONE || rc == ffi::SQLITE_ROW {
            self.reset();
            return Ok(());
        }
        let e = error(self.db, rc);
        self.reset();
        Err(e)
    }

    /// The next row, if any. After `false` or an error, [`Stmt::reset`] before binding again.
    fn row(&mut self) -> Result<bool> {
        // SAFETY: as above.
        match unsafe { ffi::sqlite3_step(self.raw) } {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            rc => Err(error(self.db, rc)),
        }
    }

    fn reset(&mut self) {
        // SAFETY: as above. The error of a failed step is reported by that step.
        unsafe { ffi::sqlite3_reset(self.raw) };
    }

    fn column_int(&self, i: c_int) -> i64 {
        // SAFETY: called only while the statement is on a row.
        unsafe { ffi::sqlite3_column_int64(self.raw, i) }
    }

    fn column_real(&self, i: c_int) -> Option<f64> {
        // SAFETY: as above.
        unsafe {
            match ffi::sqlite3_column_type(self.raw, i) {
                ffi::SQLITE_NULL => None,
                _ => Some(ffi::sqlite3_column_double(self.raw, i)),
            }
        }
    }

    fn column_text(&self, i: c_int) -> Result<Option<String>> {
        // SAFETY: as above; the text pointer is valid until the next step/reset, and is copied.
        unsafe {
            if ffi::sqlite3_column_type(self.raw, i) == ffi::SQLITE_NULL {
                return Ok(None);
            }
            let p = ffi::sqlite3_column_text(self.raw, i);
            let n = usize::try_from(ffi::sqlite3_column_bytes(self.raw, i)).unwrap_or(0);
            if p.is_null() {
                return Ok(Some(String::new()));
            }
            let bytes = std::slice::from_raw_parts(p, n);
            String::from_utf8(bytes.to_vec())
                .map(Some)
                .map_err(|e| StoreError::Corrupt(format!("measurement text: {e}")))
        }
    }

    fn values_at(&self, at: c_int) -> Result<Values> {
        Ok(Values {
            rtd: self.column_real(at),
            min: self.column_real(at + 1),
            avg: self.column_real(at + 2),
            max: self.column_real(at + 3),
            cou: self.column_real(at + 4),
            zs_rtd: self.column_real(at + 5),
            zs_min: self.column_real(at + 6),
            zs_avg: self.column_real(at + 7),
            zs_max: self.column_real(at + 8),
            flag: self.column_text(at + 9)?.map(ShortText::from),
            eflag: self.column_text(at + 10)?.map(ShortText::from),
            sample_time: self.column_text(at + 11)?.map(ShortText::from),
        })
    }
}

impl Drop for Stmt {
    fn drop(&mut self) {
        // SAFETY: `raw` was prepared on `db` and is finalized exactly once.
        unsafe { ffi::sqlite3_finalize(self.raw) };
    }
}
