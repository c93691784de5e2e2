//! The statements of one ingest batch, run on the write connection's raw handle in one call.
//!
//! Through `sqlx`, every statement of a batch was a round trip to the connection's worker thread
//! and every bound value an argument object built on the Tokio side; a batch of 2,048 packets
//! bound some 400,000 of them. Here the write transaction (begun and committed by
//! `ingest_write::write_batch` through `sqlx`) is borrowed for the middle of the batch:
//! the look-up of what is stored, the revision decisions and all inserts run on one thread in one
//! call, with values bound straight from the items (`SQLITE_STATIC`, no copies).
//!
//! Statements (`raw::Stmt`) are prepared per batch and finalized before the handle is given back (a few
//! microseconds each), so nothing here outlives the borrow of the connection.

use std::collections::BTreeMap;
use std::ptr::NonNull;

use fenhe_core::revision::{self, Decision, Latest};
use fenhe_core::{Measurement, Values, Verdict};
use foldhash::{HashMap as FastMap, HashMapExt as _, HashSet as FastSet, HashSetExt as _};
use libsqlite3_sys as ffi;

use super::convert::reason_kind;
use super::ids::Key;
use super::packed;
use super::raw::Stmt;
use crate::{IngestItem, ItemOutcome, Result, StoreError};

const LOOKUP: &str = "SELECT seq, factors, received_at FROM measurement_sets \
                      WHERE device_id = ?1 AND cn = ?2 AND data_time = ?3";
const NEXT_FRAME_ID: &str = "SELECT COALESCE(MAX(id), 0) + 1 FROM frames";
// OR FAIL: a conflict (which the revision logic rules out) fails the statement; the error still
// rolls back the whole transaction.
const INSERT_FRAME: &str = "INSERT OR FAIL INTO frames (id, received_at, peer, mn, cn, verdict, reason, \
                            deviations, bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
pub(super) const INSERT_SET: &str = "INSERT OR FAIL INTO measurement_sets (device_id, cn, data_time, seq, frame_id, \
                          received_at, n, factors) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
const INSERT_PENDING: &str = "INSERT INTO pending_revisions (device_id, cn, data_time, factor_id, raw_code, \
                              values_json, frame_id, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
const UPSERT_TALLY: &str = "INSERT INTO frame_tally (verdict, reason_kind, frames) VALUES (?1, ?2, ?3) \
                            ON CONFLICT (verdict, reason_kind) DO UPDATE SET frames = frames + excluded.frames";
const UPSERT_TRAFFIC: &str = "INSERT INTO mn_traffic (mn, frames, last_frame_at) VALUES (?1, ?2, ?3) \
                              ON CONFLICT (mn) DO UPDATE SET frames = frames + excluded.frames, \
                              last_frame_at = max(last_frame_at, excluded.last_frame_at)";

/// One `measurement_sets` row to insert: the new factors and revisions one item brought for
/// one (device, CN, DataTime), packed into `packed_bytes[range]`.
struct NewSet {
    key: (i64, i64, i64),
    seq: i64,
    n: i64,
    range: std::ops::Range<usize>,
    frame_id: i64,
    received_at: i64,
}

/// Everything of `items` but the id resolution (`keys`: one per measurement, in order) inside the
/// open write transaction of `db`; a change to a record first received more than `window_ms`
/// before its frame is kept as a pending revision. On error the caller rolls the transaction back.
pub(super) fn write(
    db: NonNull<ffi::sqlite3>,
    items: &[IngestItem],
    keys: &[Key],
    window_ms: i64,
) -> Result<Vec<ItemOutcome>> {
    // Everything already stored for the (device, CN, DataTime)s of this batch: the newest
    // revision of each factor, and the next `seq` of each (device, CN, DataTime); and when each
    // factor was first received (its revision 0).
    let mut stored: FastMap<Key, (u32, Values)> = FastMap::new();
    let mut first_received: FastMap<Key, i64> = FastMap::new();
    let mut next_seq: FastMap<(i64, i64, i64), i64> = FastMap::new();
    if !keys.is_empty() {
        let mut lookup = prepare(db, LOOKUP)?;
        let mut seen = FastSet::with_capacity(keys.len() / 4);
        for k in keys {
            if !seen.insert((k.0, k.1, k.2)) {
                continue;
            }
            lookup.int(1, k.0)?;
            lookup.int(2, k.1)?;
            lookup.int(3, k.2)?;
            while lookup.row()? {
                let seq = lookup.column_int(0);
                let next = next_seq.entry((k.0, k.1, k.2)).or_insert(0);
                *next = (*next).max(seq + 1);
                let received_at = lookup.column_int(2);
                for e in packed::entries(lookup.column_blob(1)) {
                    let e = e?;
                    let key: Key = (k.0, k.1, k.2, e.factor_id);
                    if e.revision == 0 {
                        first_received.insert(key, received_at);
                    }
                    if stored.get(&key).is_none_or(|(have, _)| e.revision > *have) {
                        stored.insert(key, (e.revision, e.values()));
                    }
                }
            }
            lookup.reset();
        }
    }
    let mut latest: FastMap<Key, (u32, &Values)> = FastMap::with_capacity(keys.len());
    latest.extend(stored.iter().map(|(k, (rev, v))| (*k, (*rev, v))));

    let first_id = {
        let mut next = prepare(db, NEXT_FRAME_ID)?;
        if !next.row()? {
            return Err(StoreError::Corrupt("no next frame id".into()));
        }
        next.column_int(0)
    };

    let mut outcomes = Vec::with_capacity(items.len());
    let mut verdicts = Vec::with_capacity(items.len());
    let mut sets: Vec<NewSet> = Vec::with_capacity(items.len());
    let mut packed_bytes: Vec<u8> = Vec::with_capacity(keys.len() * 48);
    let mut tally: BTreeMap<(Verdict, &str), i64> = BTreeMap::new();
    let mut traffic: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    let mut pending: Vec<(Key, &Measurement, i64, i64)> = Vec::new();
    let mut keys = keys.iter().copied();
    for (i, item) in items.iter().enumerate() {
        let frame_id = first_id + i as i64;
        let mut out = ItemOutcome { frame_id, ..ItemOutcome::default() };
        // The set this item is filling: a packet's measurements share (device, CN, DataTime), so
        // one set per item, unless an item mixes them.
        let mut open: Option<NewSet> = None;
        for m in &item.measurements {
            let key = keys.next().expect("one key per measurement");
            let stored =
                latest.get(&key).map(|(rev, v)| Latest { revision: *rev, same_values: v.same_as(&m.values) });
            // A record first stored in this batch was first received now.
            let first = first_received.get(&key).copied().unwrap_or(item.frame.received_at);
            let revision = match revision::decide_within(stored, first, item.frame.received_at, window_ms) {
                Decision::Pending => {
                    out.pending += 1;
                    pending.push((key, m, frame_id, item.frame.received_at));
                    continue;
                }
                Decision::New => {
                    out.inserted += 1;
                    0
                }
                Decision::Duplicate => {
                    out.duplicates += 1;
                    continue;
                }
                Decision::Revision(n) => {
                    out.revisions += 1;
                    n
                }
            };
            latest.insert(key, (revision, &m.values));
            let record = (key.0, key.1, key.2);
            if open.as_ref().is_some_and(|s| s.key != record) {
                sets.extend(open.take());
            }
            let set = open.get_or_insert_with(|| {
                let next = next_seq.entry(record).or_insert(0);
                let seq = *next;
                *next += 1;
                let at = packed_bytes.len();
                NewSet {
                    key: record,
                    seq,
                    n: 0,
                    range: at..at,
                    frame_id,
                    received_at: item.frame.received_at,
                }
            });
            let raw_code = Some(m.raw_code.as_str()).filter(|c| *c != m.factor);
            packed::push(&mut packed_bytes, key.3, revision, raw_code, &m.values);
            set.n += 1;
            set.range.end = packed_bytes.len();
        }
        sets.extend(open);
        let verdict =
            revision::frame_verdict(item.frame.verdict, item.measurements.len(), out.duplicates as usize);
        *tally.entry((verdict, reason_kind(item.frame.reason.as_deref()))).or_default() += 1;
        if let Some(mn) = &item.frame.mn {
            let t = traffic.entry(mn).or_insert((0, i64::MIN));
            t.0 += 1;
            t.1 = t.1.max(item.frame.received_at);
        }
        verdicts.push(verdict);
        outcomes.push(out);
    }

    let mut insert = prepare(db, INSERT_FRAME)?;
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
    sets.sort_unstable_by_key(|s| (s.key, s.seq));
    let mut insert = prepare(db, INSERT_SET)?;
    for s in &sets {
        insert_set(
            &mut insert,
            s.key,
            s.seq,
            (s.frame_id, s.received_at),
            s.n,
            &packed_bytes[s.range.clone()],
        )?;
    }

    if !pending.is_empty() {
        let mut insert = prepare(db, INSERT_PENDING)?;
        for (key, m, frame_id, received_at) in &pending {
            let json = serde_json::to_string(&m.values)
                .map_err(|e| StoreError::Invalid(format!("values of {} {}: {e}", m.mn, m.factor)))?;
            insert.int(1, key.0)?;
            insert.int(2, key.1)?;
            insert.int(3, key.2)?;
            insert.int(4, key.3)?;
            insert.text(5, Some(m.raw_code.as_str()).filter(|c| *c != m.factor))?;
            insert.text(6, Some(json.as_str()))?;
            insert.int(7, *frame_id)?;
            insert.int(8, *received_at)?;
            insert.exec()?;
        }
    }

    let mut upsert = prepare(db, UPSERT_TALLY)?;
    for ((v, kind), n) in tally {
        upsert.text(1, Some(v.name()))?;
        upsert.text(2, Some(kind))?;
        upsert.int(3, n)?;
        upsert.exec()?;
    }
    let mut upsert = prepare(db, UPSERT_TRAFFIC)?;
    for (mn, (n, at)) in traffic {
        upsert.text(1, Some(mn))?;
        upsert.int(2, n)?;
        upsert.int(3, at)?;
        upsert.exec()?;
    }
    Ok(outcomes)
}

/// Insert one `measurement_sets` row with `insert`, a statement prepared from [`INSERT_SET`]:
/// `key` (device id, CN, DataTime), `seq`, `frame` (frame id, received at), `n` factors packed in
/// `factors`.
pub(super) fn insert_set(
    insert: &mut Stmt,
    key: (i64, i64, i64),
    seq: i64,
    frame: (i64, i64),
    n: i64,
    factors: &[u8],
) -> Result<()> {
    insert.int(1, key.0)?;
    insert.int(2, key.1)?;
    insert.int(3, key.2)?;
    insert.int(4, seq)?;
    insert.int(5, frame.0)?;
    insert.int(6, frame.1)?;
    insert.int(7, n)?;
    insert.blob(8, factors)?;
    insert.exec()
}

/// Prepare `sql` on `db`, the write connection's handle that [`write`] holds locked for the
/// whole batch.
fn prepare(db: NonNull<ffi::sqlite3>, sql: &str) -> Result<Stmt> {
    // SAFETY: `write`'s caller hands a handle locked out of its worker for the whole call, and
    // every statement is dropped before `write` returns.
    unsafe { Stmt::prepare(db, sql) }
}
