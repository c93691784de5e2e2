//! The compliance engine's records loader on the SQLite C API.
//!
//! `compliance_records` reads every minute value of a device's window: a month of 1-minute data
//! of 8 factors is 345,600 rows. Through sqlx each row becomes an owned `SqliteRow`: one
//! `sqlite3_value_dup` (an allocation) per column, two `Arc` clones and a channel message from
//! the worker thread, which cost several times what SQLite needs to read the row. Here the
//! statement is stepped directly on a read connection locked out of its sqlx worker
//! (`LockedSqliteHandle`, sqlx's documented way to call the C API), and each row is decoded
//! straight into a [`Record`].
//!
//! The `unsafe` is confined to [`Stmt`]: a statement prepared on the locked handle, finalized on
//! drop, read only between a `SQLITE_ROW` step and the next step, column indexes within the
//! statement's column count.

use std::ffi::{CStr, c_int};
use std::ptr::{self, NonNull};
use std::sync::Arc;

use fenhe_core::ShortText;
use fenhe_core::compliance::{DataKind, Record, RuleNumber, RuleValues};
use libsqlite3_sys as ffi;

use super::{SqliteStore, packed};
use crate::{Result, StoreError};

/// A prepared statement on a raw connection handle.
struct Stmt {
    db: NonNull<ffi::sqlite3>,
    raw: NonNull<ffi::sqlite3_stmt>,
}

fn error(db: NonNull<ffi::sqlite3>, rc: c_int, what: &str) -> StoreError {
    // SAFETY: `db` is a live connection handle; sqlite3_errmsg returns a NUL-terminated string
    // owned by SQLite, copied before any further call on the handle.
    let msg = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db.as_ptr())) }.to_string_lossy().into_owned();
    StoreError::Corrupt(format!("sqlite error {rc} in {what}: {msg}"))
}

impl Stmt {
    /// # Safety
    /// `db` must be a live connection handle that nothing else uses until the statement is
    /// dropped.
    unsafe fn prepare(db: NonNull<ffi::sqlite3>, sql: &str) -> Result<Stmt> {
        let mut raw = ptr::null_mut();
        let len = c_int::try_from(sql.len()).map_err(|_| StoreError::Invalid("statement too long".into()))?;
        // SAFETY: the SQL pointer and length describe a valid buffer; `raw` receives the handle.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(db.as_ptr(), sql.as_ptr().cast(), len, &mut raw, ptr::null_mut())
        };
        if rc != ffi::SQLITE_OK {
            return Err(error(db, rc, "prepare"));
        }
        let raw = NonNull::new(raw).ok_or_else(|| StoreError::Invalid("empty statement".into()))?;
        Ok(Stmt { db, raw })
    }

    fn bind_i64(&mut self, idx: c_int, v: i64) -> Result<()> {
        // SAFETY: a live statement; an out-of-range index is reported as an error code.
        let rc = unsafe { ffi::sqlite3_bind_int64(self.raw.as_ptr(), idx, v) };
        if rc != ffi::SQLITE_OK {
            return Err(error(self.db, rc, "bind"));
        }
        Ok(())
    }

    fn bind_text(&mut self, idx: c_int, v: &str) -> Result<()> {
        let len = c_int::try_from(v.len()).map_err(|_| StoreError::Invalid("text too long".into()))?;
        // SAFETY: SQLITE_TRANSIENT makes SQLite copy the text before returning.
        let rc = unsafe {
            ffi::sqlite3_bind_text(self.raw.as_ptr(), idx, v.as_ptr().cast(), len, ffi::SQLITE_TRANSIENT())
        };
        if rc != ffi::SQLITE_OK {
            return Err(error(self.db, rc, "bind"));
        }
        Ok(())
    }

    /// Advance; `true` while a row is available.
    fn step(&mut self) -> Result<bool> {
        // SAFETY: a live statement.
        match unsafe { ffi::sqlite3_step(self.raw.as_ptr()) } {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            rc => Err(error(self.db, rc, "step")),
        }
    }

    fn column_count(&self) -> c_int {
        // SAFETY: a live statement.
        unsafe { ffi::sqlite3_column_count(self.raw.as_ptr()) }
    }

    fn is_null(&self, i: c_int) -> bool {
        // SAFETY: called after `step` returned a row, `i` below the column count (checked by the
        // callers against `column_count` once per statement).
        unsafe { ffi::sqlite3_column_type(self.raw.as_ptr(), i) == ffi::SQLITE_NULL }
    }

    fn i64(&self, i: c_int) -> i64 {
        // SAFETY: as `is_null`.
        unsafe { ffi::sqlite3_column_int64(self.raw.as_ptr(), i) }
    }

    fn blob(&self, i: c_int) -> &[u8] {
        // SAFETY: as `text`: the bytes stay valid until the next step, which needs `&mut self`.
        unsafe {
            let p = ffi::sqlite3_column_blob(self.raw.as_ptr(), i);
            let n = ffi::sqlite3_column_bytes(self.raw.as_ptr(), i);
            if p.is_null() { &[][..] } else { std::slice::from_raw_parts(p.cast(), n.max(0) as usize) }
        }
    }

    fn text(&self, i: c_int) -> Result<Option<&str>> {
        if self.is_null(i) {
            return Ok(None);
        }
        // SAFETY: as `is_null`; sqlite3_column_text then sqlite3_column_bytes is the order the
        // SQLite documentation prescribes, and the pointer stays valid until the next step,
        // which needs `&mut self` while the returned borrow holds `&self`.
        let bytes = unsafe {
            let p = ffi::sqlite3_column_text(self.raw.as_ptr(), i);
            let n = ffi::sqlite3_column_bytes(self.raw.as_ptr(), i);
            if p.is_null() { &[][..] } else { std::slice::from_raw_parts(p, n.max(0) as usize) }
        };
        std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|_| StoreError::Corrupt(format!("column {i} is not UTF-8 text")))
    }
}

impl Drop for Stmt {
    fn drop(&mut self) {
        // SAFETY: the statement was prepared on `db` and is finalized exactly once.
        unsafe {
            ffi::sqlite3_finalize(self.raw.as_ptr());
        }
    }
}

/// The data commands the rules read (numeric CN as stored).
const KINDS: [(i64, DataKind); 4] =
    [(2011, DataKind::Realtime), (2051, DataKind::Minute), (2061, DataKind::Hour), (2031, DataKind::Day)];

const COLUMNS: c_int = 4;

/// See `Store::compliance_records_into`. Sets come in primary-key order (CN, DataTime, seq), so
/// all revisions of one record are in adjacent sets; records are given per (CN, DataTime) in
/// factor id order, each with its latest revision.
///
/// The rows are stepped on a blocking thread of their own (with the read connection locked out
/// of its worker), so the caller's task stays free: the engine saves one window's results while
/// the next window loads. `out` is cleared and filled, keeping its capacity: a window is a month
/// of a device's minute data (~90 MB of records), and memory of that size freed and asked for
/// again comes back from the kernel as fresh zeroed pages, a fault per page.
pub(super) async fn compliance_records_into(
    s: &SqliteStore,
    mn: &str,
    from: i64,
    to: i64,
    mut out: Vec<Record>,
) -> Result<Vec<Record>> {
    let mut conn = s.read.acquire().await?;
    let mn = mn.to_string();
    let rt = tokio::runtime::Handle::current();
    let task = tokio::task::spawn_blocking(move || {
        rt.block_on(async move {
            let mut handle = conn.lock_handle().await?;
            out.clear();
            // SAFETY: the handle is locked out of its worker thread for as long as `handle`
            // lives, which outlives every statement `read_rows` prepares.
            unsafe { read_rows(handle.as_raw_handle(), &mn, from, to, &mut out)? };
            Ok(out)
        })
    });
    task.await.map_err(|e| StoreError::Corrupt(format!("the records loader stopped: {e}")))?
}

/// # Safety
/// `db` must be a live connection handle that nothing else uses until this returns.
unsafe fn read_rows(
    db: NonNull<ffi::sqlite3>,
    mn: &str,
    from: i64,
    to: i64,
    out: &mut Vec<Record>,
) -> Result<()> {
    // One shared code per factor id: every record of a factor points at the same text.
    let mut codes: Vec<Option<Arc<str>>> = Vec::new();
    {
        let mut st = unsafe { Stmt::prepare(db, "SELECT id, code FROM factors")? };
        if st.column_count() != 2 {
            return Err(StoreError::Corrupt("factors: unexpected columns".into()));
        }
        while st.step()? {
            let id =
                usize::try_from(st.i64(0)).map_err(|_| StoreError::Corrupt("negative factor id".into()))?;
            if id >= codes.len() {
                codes.resize(id + 1, None);
            }
            codes[id] = st.text(1)?.map(Arc::from);
        }
    }
    let device: Option<i64> = {
        let mut st = unsafe { Stmt::prepare(db, "SELECT id FROM devices WHERE mn = ?")? };
        st.bind_text(1, mn)?;
        if st.step()? { Some(st.i64(0)) } else { None }
    };
    let Some(device) = device else { return Ok(()) };
    let sql = "SELECT m.cn, m.data_time, m.received_at, m.factors \
               FROM measurement_sets m WHERE m.device_id = ? AND m.cn IN (2011, 2051, 2061, 2031) \
               AND m.data_time >= ? AND m.data_time < ? ORDER BY m.cn, m.data_time, m.seq";
    let mut st = unsafe { Stmt::prepare(db, sql)? };
    if st.column_count() != COLUMNS {
        return Err(StoreError::Corrupt("measurement_sets: unexpected columns".into()));
    }
    st.bind_i64(1, device)?;
    st.bind_i64(2, from)?;
    st.bind_i64(3, to)?;
    // The latest revision of each factor of the (CN, DataTime) being read:
    // (factor id, revision, received at, values the rules read).
    let mut group: Vec<(i64, u32, i64, RuleValues)> = Vec::new();
    let mut at: Option<(i64, i64)> = None;
    let mut kind = (0i64, DataKind::Minute);
    let flush = |group: &mut Vec<(i64, u32, i64, RuleValues)>,
                 kind: DataKind,
                 data_time: i64,
                 out: &mut Vec<Record>|
     -> Result<()> {
        group.sort_unstable_by_key(|g| g.0);
        for (factor_id, _, received_at, values) in group.drain(..) {
            let code = usize::try_from(factor_id)
                .ok()
                .and_then(|i| codes.get(i))
                .and_then(Option::as_ref)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!("measurement with unknown factor id {factor_id}"))
                })?;
            out.push(Record { kind, data_time, factor: code.clone(), values, received_at });
        }
        Ok(())
    };
    while st.step()? {
        let (cn, data_time, received_at) = (st.i64(0), st.i64(1), st.i64(2));
        if at != Some((cn, data_time)) {
            if let Some((_, t)) = at {
                flush(&mut group, kind.1, t, out)?;
            }
            if cn != kind.0 {
                let Some(&k) = KINDS.iter().find(|(c, _)| *c == cn) else {
                    return Err(StoreError::Corrupt(format!("CN {cn} selected as a data command")));
                };
                kind = k;
            }
            at = Some((cn, data_time));
        }
        for e in packed::entries(st.blob(3)) {
            let e = e?;
            // Only the fields the rules read (`compliance::RULE_FIELDS`).
            let mut values = RuleValues::default();
            values.set(RuleNumber::Rtd, e.rtd());
            values.set(RuleNumber::Avg, e.avg());
            values.set(RuleNumber::Cou, e.cou());
            values.set(RuleNumber::ZsRtd, e.zs_rtd());
            values.set(RuleNumber::ZsAvg, e.zs_avg());
            values.set_flag(e.flag.map(ShortText::new));
            match group.iter_mut().find(|g| g.0 == e.factor_id) {
                // A later revision of the same record.
                Some(g) if e.revision > g.1 => *g = (e.factor_id, e.revision, received_at, values),
                Some(_) => {}
                None => group.push((e.factor_id, e.revision, received_at, values)),
            }
        }
    }
    if let Some((_, t)) = at {
        flush(&mut group, kind.1, t, out)?;
    }
    Ok(())
}
