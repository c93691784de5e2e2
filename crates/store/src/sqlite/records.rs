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
//! Statements are `raw::Stmt`s prepared on the locked handle; column indexes are checked against
//! each statement's column count once.

use std::ffi::c_int;
use std::ptr::NonNull;
use std::sync::Arc;

use fenhe_core::ShortText;
use fenhe_core::compliance::{DataKind, Record, RuleNumber, RuleValues};
use libsqlite3_sys as ffi;

use super::raw::Stmt;
use super::{SqliteStore, packed};
use crate::{Result, StoreError};

/// The data commands the rules read (numeric CN as stored).
const KINDS: [(i64, DataKind); 4] =
    [(2011, DataKind::Realtime), (2051, DataKind::Minute), (2061, DataKind::Hour), (2031, DataKind::Day)];

const COLUMNS: c_int = 4;

/// See `ResultStore::compliance_records_into`. Sets come in primary-key order (CN, DataTime, seq), so
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
        while st.row()? {
            let id = usize::try_from(st.column_int(0))
                .map_err(|_| StoreError::Corrupt("negative factor id".into()))?;
            if id >= codes.len() {
                codes.resize(id + 1, None);
            }
            codes[id] = st.column_text(1)?.map(Arc::from);
        }
    }
    let device: Option<i64> = {
        let mut st = unsafe { Stmt::prepare(db, "SELECT id FROM devices WHERE mn = ?")? };
        st.text(1, Some(mn))?;
        if st.row()? { Some(st.column_int(0)) } else { None }
    };
    let Some(device) = device else { return Ok(()) };
    let sql = "SELECT m.cn, m.data_time, m.received_at, m.factors \
               FROM measurement_sets m WHERE m.device_id = ? AND m.cn IN (2011, 2051, 2061, 2031) \
               AND m.data_time >= ? AND m.data_time < ? ORDER BY m.cn, m.data_time, m.seq";
    let mut st = unsafe { Stmt::prepare(db, sql)? };
    if st.column_count() != COLUMNS {
        return Err(StoreError::Corrupt("measurement_sets: unexpected columns".into()));
    }
    st.int(1, device)?;
    st.int(2, from)?;
    st.int(3, to)?;
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
    while st.row()? {
        let (cn, data_time, received_at) = (st.column_int(0), st.column_int(1), st.column_int(2));
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
        for e in packed::entries(st.column_blob(3)) {
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
