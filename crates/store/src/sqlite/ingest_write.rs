//! The ingest transaction: ids resolved from the caches (or reloaded), the batch's statements on
//! the raw handle (`batch`), the dirty marks of the days it changed, one commit.

use super::convert::numeric_cn;
use super::ids::keys_of;
use super::phase_clock::PhaseClock;
use super::raw::blocking;
use super::{SqliteStore, batch, dirty};
use crate::{IngestItem, ItemOutcome, Result, StoreError};

/// See [`crate::IngestStore::write_batch`].
pub(super) async fn write_batch(s: &SqliteStore, items: &[IngestItem]) -> Result<Vec<ItemOutcome>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    // Per measurement, but parsed once per run of equal CNs (a packet's measurements share
    // theirs): this loop and the key loop below are in the writer's serial chain.
    let mut cns = Vec::with_capacity(items.iter().map(|i| i.measurements.len()).sum());
    let mut last_cn: (&str, i64) = ("", 0);
    for m in items.iter().flat_map(|i| &i.measurements) {
        if m.cn != last_cn.0 || last_cn.0.is_empty() {
            let cn = numeric_cn(&m.cn).ok_or_else(|| {
                StoreError::Invalid(format!("measurement of {} has a non-numeric CN {:?}", m.mn, m.cn))
            })?;
            last_cn = (&m.cn, cn);
        }
        cns.push(last_cn.1);
    }

    let phases = PhaseClock::start();
    let mut conn = s.write.acquire().await?;
    let result = write_in(s, items, &cns, &mut conn, phases).await;
    if result.is_err() {
        // A write that failed half-way (a full disk: SQLite may roll back by itself, and then
        // sqlx's own ROLLBACK fails) can leave the connection counted as inside a transaction,
        // and every later `BEGIN IMMEDIATE` refused. Such a connection is closed; the pool opens
        // a fresh one for the next write.
        let _ = sqlx::Connection::ping(&mut *conn).await;
        if sqlx::Connection::is_in_transaction(&*conn) {
            tracing::warn!("the write connection was left inside a transaction; opening a new one");
            conn.close_on_drop();
        }
    }
    result
}

async fn write_in(
    s: &SqliteStore,
    items: &[IngestItem],
    cns: &[i64],
    conn: &mut sqlx::SqliteConnection,
    phases: PhaseClock,
) -> Result<Vec<ItemOutcome>> {
    let mut tx = sqlx::Connection::begin_with(conn, "BEGIN IMMEDIATE").await?;
    let phases = phases.lap("begin");
    let conn = &mut *tx;

    // Resolve ids: one key per measurement, in order. First from the cached maps alone (one
    // look-up per measurement, none per MN but when it changes); only if that misses an id,
    // reload the maps (and add unknown factor codes) inside the transaction.
    let mut new_factors = None;
    let keys = if cns.is_empty() {
        Vec::new()
    } else {
        let (devices, factors) = {
            let ids = s.ids.lock().expect("ids lock");
            (ids.devices.clone(), ids.factors.clone())
        };
        match devices.as_deref().and_then(|d| keys_of(items, cns, d, &factors)) {
            Some(keys) => keys,
            None => {
                let devices = s.device_ids(conn, items).await?;
                let (factors, reloaded) = s.factor_ids(conn, items).await?;
                if reloaded {
                    new_factors = Some(factors.clone());
                }
                keys_of(items, cns, &devices, &factors).ok_or_else(|| {
                    match items.iter().flat_map(|i| &i.measurements).find(|m| !devices.contains_key(&m.mn)) {
                        Some(m) => StoreError::Invalid(format!("measurement of unregistered MN {}", m.mn)),
                        None => {
                            StoreError::Corrupt("a factor code has no id after loading the factors".into())
                        }
                    }
                })?
            }
        }
    };

    // The rest of the batch (look-up of what is stored, revisions, every insert) in one call
    // on the connection's own handle, inside this transaction.
    let phases = phases.lap("ids");
    let outcomes = {
        let mut handle = conn.lock_handle().await?;
        let db = handle.as_raw_handle();
        let window = s.revision_window_ms.load(std::sync::atomic::Ordering::Relaxed);
        blocking(|| batch::write(db, items, &keys, window))?
    };
    let phases = phases.lap("statements");
    // The compliance engine re-evaluates the device-days this batch changed: the items that
    // stored a new measurement or revision (a packet's measurements share MN and DataTime).
    let mut changed = Vec::new();
    let mut at = 0;
    for (item, o) in items.iter().zip(&outcomes) {
        let n = item.measurements.len();
        if o.inserted + o.revisions > 0 {
            changed.extend(keys[at..at + n].iter().map(|k| (k.0, k.2)));
        }
        at += n;
    }
    let marks = dirty::mark_dirty(conn, &changed, &s.dirty).await?;
    let phases = phases.lap("dirty");

    tx.commit().await?;
    phases.lap("commit");
    if let Some(marks) = marks {
        s.dirty.lock().expect("dirty marks lock").apply(marks);
    }
    if let Some(factors) = new_factors {
        s.ids.lock().expect("ids lock").factors = factors;
    }
    Ok(outcomes)
}
