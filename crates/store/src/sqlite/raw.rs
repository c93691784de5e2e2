//! The one wrapper of raw SQLite statements, for the paths that run on a connection's C handle
//! (the ingest batch, the rules' records loader, the legacy conversion): through sqlx, every
//! statement is a round trip to the connection's worker thread and every value an owned copy,
//! which those paths cannot afford.
//!
//! The `unsafe` is confined here: a statement is prepared on a handle locked out of its sqlx
//! worker (`LockedSqliteHandle`, sqlx's documented way to call the C API), finalized on drop, and
//! read only between a `SQLITE_ROW` step and the next step or reset (which need `&mut self`
//! while a column borrow holds `&self`).

use std::ffi::{CStr, c_int};
use std::ptr::{self, NonNull};

use libsqlite3_sys as ffi;

use crate::{Result, StoreError};

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

/// A prepared statement of a raw connection handle, finalized on drop.
pub(super) struct Stmt {
    db: NonNull<ffi::sqlite3>,
    raw: NonNull<ffi::sqlite3_stmt>,
}

fn error(db: NonNull<ffi::sqlite3>, code: c_int) -> StoreError {
    // SAFETY: `db` is a live connection handle; the message is copied before any other call.
    let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db.as_ptr())) }.to_string_lossy().into_owned();
    StoreError::Database(format!("{message} (SQLite code {code})"))
}

impl Stmt {
    /// # Safety
    /// `db` must be a live connection handle that nothing else uses until the statement is
    /// dropped.
    pub(super) unsafe fn prepare(db: NonNull<ffi::sqlite3>, sql: &str) -> Result<Stmt> {
        let mut raw = ptr::null_mut();
        let len = c_int::try_from(sql.len()).map_err(|_| StoreError::Invalid("statement too long".into()))?;
        // SAFETY: the SQL pointer and length describe a valid buffer; `raw` receives the handle.
        let rc = unsafe {
            ffi::sqlite3_prepare_v2(db.as_ptr(), sql.as_ptr().cast(), len, &mut raw, ptr::null_mut())
        };
        if rc != ffi::SQLITE_OK {
            return Err(error(db, rc));
        }
        let raw = NonNull::new(raw).ok_or_else(|| StoreError::Invalid("empty statement".into()))?;
        Ok(Stmt { db, raw })
    }

    fn check(&self, rc: c_int) -> Result<()> {
        if rc == ffi::SQLITE_OK { Ok(()) } else { Err(error(self.db, rc)) }
    }

    pub(super) fn int(&mut self, i: c_int, v: i64) -> Result<()> {
        // SAFETY: a live statement; an out-of-range index is reported as an error code.
        self.check(unsafe { ffi::sqlite3_bind_int64(self.raw.as_ptr(), i, v) })
    }

    /// Binds without copying: the caller keeps `v` alive until the statement has been stepped
    /// (every call site binds and steps within one borrow).
    pub(super) fn text(&mut self, i: c_int, v: Option<&str>) -> Result<()> {
        let Some(v) = v else {
            // SAFETY: as above.
            return self.check(unsafe { ffi::sqlite3_bind_null(self.raw.as_ptr(), i) });
        };
        let len = c_int::try_from(v.len()).map_err(|_| StoreError::Invalid("text too long".into()))?;
        // SAFETY: as above; SQLITE_STATIC because `v` outlives the step that reads it.
        self.check(unsafe {
            ffi::sqlite3_bind_text(self.raw.as_ptr(), i, v.as_ptr().cast(), len, ffi::SQLITE_STATIC())
        })
    }

    pub(super) fn blob(&mut self, i: c_int, v: &[u8]) -> Result<()> {
        let len = c_int::try_from(v.len()).map_err(|_| StoreError::Invalid("blob too long".into()))?;
        // SAFETY: as for `text`. A zero-length blob is bound as an empty blob, not NULL.
        self.check(unsafe {
            if v.is_empty() {
                ffi::sqlite3_bind_zeroblob(self.raw.as_ptr(), i, 0)
            } else {
                ffi::sqlite3_bind_blob(self.raw.as_ptr(), i, v.as_ptr().cast(), len, ffi::SQLITE_STATIC())
            }
        })
    }

    /// Step a statement that returns no rows, then reset it for the next bindings.
    pub(super) fn exec(&mut self) -> Result<()> {
        // SAFETY: a live statement.
        let rc = unsafe { ffi::sqlite3_step(self.raw.as_ptr()) };
        if rc == ffi::SQLITE_DONE || rc == ffi::SQLITE_ROW {
            self.reset();
            return Ok(());
        }
        let e = error(self.db, rc);
        self.reset();
        Err(e)
    }

    /// The next row, if any. After `false` or an error, [`Stmt::reset`] before binding again.
    pub(super) fn row(&mut self) -> Result<bool> {
        // SAFETY: a live statement.
        match unsafe { ffi::sqlite3_step(self.raw.as_ptr()) } {
            ffi::SQLITE_ROW => Ok(true),
            ffi::SQLITE_DONE => Ok(false),
            rc => Err(error(self.db, rc)),
        }
    }

    pub(super) fn reset(&mut self) {
        // SAFETY: a live statement. The error of a failed step is reported by that step.
        unsafe { ffi::sqlite3_reset(self.raw.as_ptr()) };
    }

    pub(super) fn column_count(&self) -> c_int {
        // SAFETY: a live statement.
        unsafe { ffi::sqlite3_column_count(self.raw.as_ptr()) }
    }

    pub(super) fn is_null(&self, i: c_int) -> bool {
        // SAFETY: called while the statement is on a row, `i` below the column count.
        unsafe { ffi::sqlite3_column_type(self.raw.as_ptr(), i) == ffi::SQLITE_NULL }
    }

    pub(super) fn column_int(&self, i: c_int) -> i64 {
        // SAFETY: as `is_null`.
        unsafe { ffi::sqlite3_column_int64(self.raw.as_ptr(), i) }
    }

    pub(super) fn column_real(&self, i: c_int) -> Option<f64> {
        if self.is_null(i) {
            return None;
        }
        // SAFETY: as `is_null`.
        Some(unsafe { ffi::sqlite3_column_double(self.raw.as_ptr(), i) })
    }

    /// The bytes of a BLOB column, valid until the next step or reset (empty for NULL).
    pub(super) fn column_blob(&self, i: c_int) -> &[u8] {
        // SAFETY: as `is_null`; the pointer and length describe SQLite's copy of the value,
        // which lives until the statement moves, and `&self` keeps it from moving meanwhile.
        unsafe {
            let p = ffi::sqlite3_column_blob(self.raw.as_ptr(), i);
            let n = usize::try_from(ffi::sqlite3_column_bytes(self.raw.as_ptr(), i)).unwrap_or(0);
            if p.is_null() || n == 0 { &[] } else { std::slice::from_raw_parts(p.cast(), n) }
        }
    }

    /// The text of a TEXT column (`None` for NULL), valid until the next step or reset.
    pub(super) fn column_text(&self, i: c_int) -> Result<Option<&str>> {
        if self.is_null(i) {
            return Ok(None);
        }
        // SAFETY: as `column_blob`; sqlite3_column_text then sqlite3_column_bytes is the order
        // the SQLite documentation prescribes.
        let bytes = unsafe {
            let p = ffi::sqlite3_column_text(self.raw.as_ptr(), i);
            let n = usize::try_from(ffi::sqlite3_column_bytes(self.raw.as_ptr(), i)).unwrap_or(0);
            if p.is_null() { &[][..] } else { std::slice::from_raw_parts(p, n) }
        };
        std::str::from_utf8(bytes)
            .map(Some)
            .map_err(|_| StoreError::Corrupt(format!("column {i} is not UTF-8 text")))
    }
}

impl Drop for Stmt {
    fn drop(&mut self) {
        // SAFETY: the statement was prepared on `db` and is finalized exactly once.
        unsafe { ffi::sqlite3_finalize(self.raw.as_ptr()) };
    }
}
