//! The ingest transaction on PostgreSQL: a few round trips per batch, however large.
//!
//! 1. Ids: MN → device id and factor code → factor id from the caches (reloaded on a miss;
//!    unknown factor codes are added first, in a statement of their own: a factor row without
//!    measurements is harmless). Partitions for the batch's months (`partitions`).
//! 2. In one transaction: one statement takes a transaction-scoped advisory lock per device the
//!    batch stores measurements of (sorted, so two batches never wait on each other in a
//!    cycle) and the batch's frame ids from `frames_id_seq`; one statement reads the stored
//!    latest revision of every factor of the batch's records; the revision rule of
//!    `fenhe_core` decides; one statement writes frames, measurements, tallies, traffic, latest
//!    DataTimes and dirty marks from `UNNEST`ed arrays; commit.
//!
//! The advisory locks are what makes several ingest nodes safe: a second node's batch with the
//! same device waits until the first committed and then decides on what it stored, so a packet
//! received twice is stored once and a revision numbered once. Frames without measurements take
//! no lock (their traffic and tally rows are upserts that add).

use std::borrow::Cow;
use std::collections::BTreeMap;

use fenhe_core::compliance::time::day_start;
use fenhe_core::revision::{self, Decision, Latest};
use fenhe_core::{ShortText, Values, Verdict};
use foldhash::{HashMap as FastMap, HashMapExt as _, HashSet as FastSet, HashSetExt as _};

use super::PgStore;
use super::partitions::{FRAMES, MEASUREMENTS};
use crate::sqlite::convert::{numeric_cn, reason_kind};
use crate::{IngestItem, ItemOutcome, Result, StoreError};

/// (device id, CN, DataTime, factor id)
type Key = (i64, i32, i64, i32);

/// PostgreSQL text cannot hold NUL; a frame's fields come from the network, so a NUL is kept
/// visible as U+FFFD rather than failing the whole batch.
pub(super) fn pg_text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') { Cow::Owned(s.replace('\0', "\u{FFFD}")) } else { Cow::Borrowed(s) }
}

fn pg_opt(s: Option<&str>) -> Option<Cow<'_, str>> {
    s.map(pg_text)
}

/// The stored latest revision of a factor of a record: `SELECT` of [`LOOKUP`].
#[derive(sqlx::FromRow)]
struct StoredRow {
    device_id: i64,
    cn: i32,
    data_time: i64,
    factor_id: i32,
    revision: i32,
    /// When revision 0 of this factor of the record was received.
    first_received_at: i64,
    rtd: Option<f64>,
    min: Option<f64>,
    avg: Option<f64>,
    max: Option<f64>,
    cou: Option<f64>,
    zs_rtd: Option<f64>,
    zs_min: Option<f64>,
    zs_avg: Option<f64>,
    zs_max: Option<f64>,
    flag: Option<String>,
    eflag: Option<String>,
    sample_time: Option<String>,
}

impl StoredRow {
    fn values(&self) -> Values {
        Values {
            rtd: self.rtd,
            min: self.min,
            avg: self.avg,
            max: self.max,
            cou: self.cou,
            zs_rtd: self.zs_rtd,
            zs_min: self.zs_min,
            zs_avg: self.zs_avg,
            zs_max: self.zs_max,
            flag: self.flag.as_deref().map(ShortText::from),
            eflag: self.eflag.as_deref().map(ShortText::from),
            sample_time: self.sample_time.as_deref().map(ShortText::from),
        }
    }
}

const LOCK_AND_IDS: &str = "SELECT (SELECT count(pg_advisory_xact_lock(k)) FROM \
                              (SELECT k FROM unnest($1::bigint[]) AS k ORDER BY k) AS l), \
                            ARRAY(SELECT nextval('frames_id_seq') FROM generate_series(1, $2::bigint))";

/// The latest stored revision of every factor of the records `(device, CN, DataTime)` given.
const LOOKUP: &str = "SELECT DISTINCT ON (m.device_id, m.cn, m.data_time, m.factor_id) \
        m.device_id, m.cn, m.data_time, m.factor_id, m.revision, m.rtd, m.min, m.avg, m.max, m.cou, \
        m.zs_rtd, m.zs_min, m.zs_avg, m.zs_max, m.flag, m.eflag, m.sample_time, \
        COALESCE((SELECT f.received_at FROM measurements f WHERE f.device_id = m.device_id AND f.cn = m.cn \
                  AND f.data_time = m.data_time AND f.factor_id = m.factor_id AND f.revision = 0), \
                 m.received_at) AS first_received_at \
    FROM unnest($1::bigint[], $2::int[], $3::bigint[]) AS k (device_id, cn, data_time) \
    JOIN measurements m ON m.device_id = k.device_id AND m.cn = k.cn AND m.data_time = k.data_time \
    ORDER BY m.device_id, m.cn, m.data_time, m.factor_id, m.revision DESC";

/// Every write of a batch in one statement. Parameters: frames $1–$9, measurements $10–$29,
/// tally $30–$32, traffic $33–$35, latest DataTimes $36–$38, dirty days $39–$40, pending
/// revisions $41–$48, inbox tallies $49–$55.
const WRITE: &str = "WITH \
    f AS (INSERT INTO frames (id, received_at, peer, mn, cn, verdict, reason, deviations, bytes) \
          SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], \
                               $7::text[], $8::text[], $9::bytea[])), \
    m AS (INSERT INTO measurements (device_id, data_time, cn, factor_id, revision, frame_id, received_at, \
                                    rtd, min, avg, max, cou, zs_rtd, zs_min, zs_avg, zs_max, raw_code, flag, \
                                    eflag, sample_time) \
          SELECT * FROM unnest($10::bigint[], $11::bigint[], $12::int[], $13::int[], $14::int[], $15::bigint[], \
                               $16::bigint[], $17::float8[], $18::float8[], $19::float8[], $20::float8[], \
                               $21::float8[], $22::float8[], $23::float8[], $24::float8[], $25::float8[], \
                               $26::text[], $27::text[], $28::text[], $29::text[])), \
    t AS (INSERT INTO frame_tally (verdict, reason_kind, shard, frames) \
          SELECT v, k, (pg_backend_pid() % 16)::smallint, n FROM unnest($30::text[], $31::text[], $32::bigint[]) AS x (v, k, n) \
          ON CONFLICT (verdict, reason_kind, shard) DO UPDATE SET frames = frame_tally.frames + excluded.frames), \
    r AS (INSERT INTO mn_traffic (mn, frames, last_frame_at) \
          SELECT * FROM unnest($33::text[], $34::bigint[], $35::bigint[]) \
          ON CONFLICT (mn) DO UPDATE SET frames = mn_traffic.frames + excluded.frames, \
              last_frame_at = GREATEST(mn_traffic.last_frame_at, excluded.last_frame_at)), \
    l AS (INSERT INTO latest_data (device_id, cn, data_time) \
          SELECT * FROM unnest($36::bigint[], $37::int[], $38::bigint[]) \
          ON CONFLICT (device_id, cn) DO UPDATE SET data_time = GREATEST(latest_data.data_time, excluded.data_time)), \
    s AS (SELECT nextval('dirty_seq') AS seq WHERE cardinality($39::bigint[]) > 0), \
    d AS (INSERT INTO dirty_days (device_id, day_start, seq) \
          SELECT x.device_id, x.day_start, s.seq FROM unnest($39::bigint[], $40::bigint[]) AS x (device_id, day_start), s \
          ON CONFLICT (device_id, day_start) DO UPDATE SET seq = excluded.seq), \
    p AS (INSERT INTO pending_revisions (device_id, cn, data_time, factor_id, raw_code, values_json, frame_id, \
                                         received_at) \
          SELECT d, c, t, f, r, v::jsonb, fr, ra FROM unnest($41::bigint[], $42::int[], $43::bigint[], $44::int[], \
                 $45::text[], $46::text[], $47::bigint[], $48::bigint[]) AS x (d, c, t, f, r, v, fr, ra)), \
    i AS (INSERT INTO inbox_tally (verdict, sender, mn, frames, first_seen, last_seen, last_id) \
          SELECT * FROM unnest($49::text[], $50::text[], $51::text[], $52::bigint[], $53::bigint[], $54::bigint[], \
                               $55::bigint[]) \
          ON CONFLICT (verdict, sender) DO UPDATE SET frames = inbox_tally.frames + excluded.frames, \
              first_seen = LEAST(inbox_tally.first_seen, excluded.first_seen), \
              last_seen = GREATEST(inbox_tally.last_seen, excluded.last_seen), \
              last_id = GREATEST(inbox_tally.last_id, excluded.last_id)) \
    SELECT 1";

/// The measurement rows of a batch, column by column.
#[derive(Default)]
struct MeasurementColumns<'a> {
    device_id: Vec<i64>,
    data_time: Vec<i64>,
    cn: Vec<i32>,
    factor_id: Vec<i32>,
    revision: Vec<i32>,
    frame_id: Vec<i64>,
    received_at: Vec<i64>,
    numbers: [Vec<Option<f64>>; 9],
    raw_code: Vec<Option<Cow<'a, str>>>,
    flag: Vec<Option<Cow<'a, str>>>,
    eflag: Vec<Option<Cow<'a, str>>>,
    sample_time: Vec<Option<Cow<'a, str>>>,
}

/// The pending revisions of a batch, column by column.
#[derive(Default)]
struct PendingColumns<'a> {
    device_id: Vec<i64>,
    cn: Vec<i32>,
    data_time: Vec<i64>,
    factor_id: Vec<i32>,
    raw_code: Vec<Option<Cow<'a, str>>>,
    values_json: Vec<String>,
    frame_id: Vec<i64>,
    received_at: Vec<i64>,
}

impl<'a> PendingColumns<'a> {
    fn push(
        &mut self,
        key: Key,
        m: &'a fenhe_core::Measurement,
        frame_id: i64,
        received_at: i64,
    ) -> Result<()> {
        let json = serde_json::to_string(&m.values)
            .map_err(|e| StoreError::Invalid(format!("values of {} {}: {e}", m.mn, m.factor)))?;
        self.device_id.push(key.0);
        self.cn.push(key.1);
        self.data_time.push(key.2);
        self.factor_id.push(key.3);
        self.raw_code.push(Some(m.raw_code.as_str()).filter(|c| *c != m.factor).map(pg_text));
        // JSON escapes NUL, so the text is PostgreSQL's as it is.
        self.values_json.push(json);
        self.frame_id.push(frame_id);
        self.received_at.push(received_at);
        Ok(())
    }
}

/// The inbox tallies a batch adds to, column by column.
#[derive(Default)]
struct InboxColumns<'a> {
    verdict: Vec<&'static str>,
    sender: Vec<String>,
    mn: Vec<Option<Cow<'a, str>>>,
    frames: Vec<i64>,
    first_seen: Vec<i64>,
    last_seen: Vec<i64>,
    last_id: Vec<i64>,
}

/// See [`crate::IngestStore::write_batch`].
pub(super) async fn write_batch(s: &PgStore, items: &[IngestItem]) -> Result<Vec<ItemOutcome>> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let mut cns = Vec::with_capacity(items.iter().map(|i| i.measurements.len()).sum());
    for m in items.iter().flat_map(|i| &i.measurements) {
        let cn = numeric_cn(&m.cn).and_then(|c| i32::try_from(c).ok()).ok_or_else(|| {
            StoreError::Invalid(format!("measurement of {} has a non-numeric CN {:?}", m.mn, m.cn))
        })?;
        cns.push(cn);
    }
    let keys = if cns.is_empty() { Vec::new() } else { s.keys(items, &cns).await? };
    s.ensure_partitions(FRAMES, items.iter().map(|i| i.frame.received_at)).await?;
    s.ensure_partitions(MEASUREMENTS, keys.iter().map(|k| k.2)).await?;

    let mut tx = s.pool.begin().await?;
    let devices: Vec<i64> = {
        let set: FastSet<i64> = keys.iter().map(|k| k.0).collect();
        set.into_iter().collect()
    };
    let (_, mut frame_ids): (i64, Vec<i64>) =
        sqlx::query_as(LOCK_AND_IDS).bind(&devices).bind(items.len() as i64).fetch_one(&mut *tx).await?;
    if frame_ids.len() != items.len() {
        return Err(StoreError::Corrupt(format!("asked {} frame ids, got {}", items.len(), frame_ids.len())));
    }
    frame_ids.sort_unstable();

    // What is stored of the batch's records, after the locks: no other writer of these devices
    // can commit in between.
    let mut stored: FastMap<Key, (u32, Values)> = FastMap::new();
    let mut first_received: FastMap<Key, i64> = FastMap::new();
    if !keys.is_empty() {
        let mut seen = FastSet::with_capacity(keys.len() / 4);
        let (mut d, mut c, mut t) = (Vec::new(), Vec::new(), Vec::new());
        for k in &keys {
            if seen.insert((k.0, k.1, k.2)) {
                d.push(k.0);
                c.push(k.1);
                t.push(k.2);
            }
        }
        let rows: Vec<StoredRow> =
            sqlx::query_as(LOOKUP).bind(&d).bind(&c).bind(&t).fetch_all(&mut *tx).await?;
        for r in rows {
            let revision = u32::try_from(r.revision)
                .map_err(|_| StoreError::Corrupt(format!("negative revision {}", r.revision)))?;
            let key = (r.device_id, r.cn, r.data_time, r.factor_id);
            first_received.insert(key, r.first_received_at);
            stored.insert(key, (revision, r.values()));
        }
    }
    let mut latest: FastMap<Key, (u32, &Values)> = FastMap::with_capacity(keys.len());
    latest.extend(stored.iter().map(|(k, (rev, v))| (*k, (*rev, v))));

    // Decide, item by item, in order.
    let mut outcomes = Vec::with_capacity(items.len());
    let mut verdicts = Vec::with_capacity(items.len());
    let mut rows = MeasurementColumns::default();
    let mut tally: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    let mut traffic: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    let mut newest: BTreeMap<(i64, i32), i64> = BTreeMap::new();
    let mut dirty: std::collections::BTreeSet<(i64, i64)> = Default::default();
    let window_ms = s.revision_window_ms.load(std::sync::atomic::Ordering::Relaxed);
    let mut pending = PendingColumns::default();
    // The inbox's senders: (verdict, sender) → (MN, frames, first seen, last seen, last id).
    type Sender<'a> = (Option<&'a str>, i64, i64, i64, i64);
    let mut inbox: BTreeMap<(&str, String), Sender> = BTreeMap::new();
    let mut key_at = keys.iter().copied();
    for (item, &frame_id) in items.iter().zip(&frame_ids) {
        let mut out = ItemOutcome { frame_id, ..ItemOutcome::default() };
        for m in &item.measurements {
            let key =
                key_at.next().ok_or_else(|| StoreError::Corrupt("a measurement without a key".into()))?;
            let have =
                latest.get(&key).map(|(rev, v)| Latest { revision: *rev, same_values: v.same_as(&m.values) });
            // A record first stored in this batch was first received now.
            let first = first_received.get(&key).copied().unwrap_or(item.frame.received_at);
            let revision = match revision::decide_within(have, first, item.frame.received_at, window_ms) {
                Decision::Pending => {
                    out.pending += 1;
                    pending.push(key, m, frame_id, item.frame.received_at)?;
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
            let (device, cn, data_time, factor) = key;
            rows.device_id.push(device);
            rows.data_time.push(data_time);
            rows.cn.push(cn);
            rows.factor_id.push(factor);
            rows.revision.push(
                i32::try_from(revision).map_err(|_| {
                    StoreError::Invalid(format!("revision {revision} of {} is too high", m.mn))
                })?,
            );
            rows.frame_id.push(frame_id);
            rows.received_at.push(item.frame.received_at);
            for (col, (_, v)) in rows.numbers.iter_mut().zip(m.values.number_fields()) {
                col.push(v);
            }
            rows.raw_code.push(Some(m.raw_code.as_str()).filter(|c| *c != m.factor).map(pg_text));
            rows.flag.push(pg_opt(m.values.flag.as_deref()));
            rows.eflag.push(pg_opt(m.values.eflag.as_deref()));
            rows.sample_time.push(pg_opt(m.values.sample_time.as_deref()));
            let at = newest.entry((device, cn)).or_insert(data_time);
            *at = (*at).max(data_time);
            dirty.insert((device, day_start(data_time)));
        }
        let verdict =
            revision::frame_verdict(item.frame.verdict, item.measurements.len(), out.duplicates as usize);
        *tally.entry((verdict.name(), reason_kind(item.frame.reason.as_deref()))).or_default() += 1;
        if let Some(mn) = &item.frame.mn {
            let t = traffic.entry(mn).or_insert((0, i64::MIN));
            t.0 += 1;
            t.1 = t.1.max(item.frame.received_at);
        }
        if matches!(verdict, Verdict::Unregistered | Verdict::WrongPassword) {
            let f = &item.frame;
            let sender = match &f.mn {
                Some(mn) => format!("mn:{mn}"),
                None => format!("peer:{}", f.peer),
            };
            let e =
                inbox.entry((verdict.name(), sender)).or_insert((f.mn.as_deref(), 0, i64::MAX, i64::MIN, 0));
            e.1 += 1;
            e.2 = e.2.min(f.received_at);
            e.3 = e.3.max(f.received_at);
            e.4 = e.4.max(frame_id);
        }
        verdicts.push(verdict);
        outcomes.push(out);
    }

    let frames = items.iter().map(|i| &i.frame);
    let peer: Vec<Cow<str>> = frames.clone().map(|f| pg_text(&f.peer)).collect();
    let mn: Vec<Option<Cow<str>>> = frames.clone().map(|f| pg_opt(f.mn.as_deref())).collect();
    let cn: Vec<Option<Cow<str>>> = frames.clone().map(|f| pg_opt(f.cn.as_deref())).collect();
    let verdict: Vec<&str> = verdicts.iter().map(|v: &Verdict| v.name()).collect();
    let reason: Vec<Option<Cow<str>>> = frames.clone().map(|f| pg_opt(f.reason.as_deref())).collect();
    let deviations: Vec<Cow<str>> = frames.clone().map(|f| pg_text(&f.deviations)).collect();
    let bytes: Vec<&[u8]> = frames.clone().map(|f| f.bytes.as_slice()).collect();
    let received_at: Vec<i64> = frames.map(|f| f.received_at).collect();
    let [rtd, min, avg, max, cou, zs_rtd, zs_min, zs_avg, zs_max] = &rows.numbers;
    let (tally_v, tally_k, tally_n): (Vec<&str>, Vec<&str>, Vec<i64>) =
        unzip3(tally.into_iter().map(|((v, k), n)| (v, k, n)));
    let (traffic_mn, traffic_n, traffic_at): (Vec<Cow<str>>, Vec<i64>, Vec<i64>) =
        unzip3(traffic.into_iter().map(|(mn, (n, at))| (pg_text(mn), n, at)));
    let (newest_d, newest_c, newest_t): (Vec<i64>, Vec<i32>, Vec<i64>) =
        unzip3(newest.into_iter().map(|((d, c), t)| (d, c, t)));
    let (dirty_d, dirty_t): (Vec<i64>, Vec<i64>) = dirty.into_iter().unzip();
    let mut ib = InboxColumns::default();
    for ((verdict, sender), (mn, n, first, last, id)) in inbox {
        ib.verdict.push(verdict);
        ib.sender.push(pg_text(&sender).into_owned());
        ib.mn.push(pg_opt(mn));
        ib.frames.push(n);
        ib.first_seen.push(first);
        ib.last_seen.push(last);
        ib.last_id.push(id);
    }
    sqlx::query(WRITE)
        .bind(&frame_ids)
        .bind(&received_at)
        .bind(&peer)
        .bind(&mn)
        .bind(&cn)
        .bind(&verdict)
        .bind(&reason)
        .bind(&deviations)
        .bind(&bytes)
        .bind(&rows.device_id)
        .bind(&rows.data_time)
        .bind(&rows.cn)
        .bind(&rows.factor_id)
        .bind(&rows.revision)
        .bind(&rows.frame_id)
        .bind(&rows.received_at)
        .bind(rtd)
        .bind(min)
        .bind(avg)
        .bind(max)
        .bind(cou)
        .bind(zs_rtd)
        .bind(zs_min)
        .bind(zs_avg)
        .bind(zs_max)
        .bind(&rows.raw_code)
        .bind(&rows.flag)
        .bind(&rows.eflag)
        .bind(&rows.sample_time)
        .bind(&tally_v)
        .bind(&tally_k)
        .bind(&tally_n)
        .bind(&traffic_mn)
        .bind(&traffic_n)
        .bind(&traffic_at)
        .bind(&newest_d)
        .bind(&newest_c)
        .bind(&newest_t)
        .bind(&dirty_d)
        .bind(&dirty_t)
        .bind(&pending.device_id)
        .bind(&pending.cn)
        .bind(&pending.data_time)
        .bind(&pending.factor_id)
        .bind(&pending.raw_code)
        .bind(&pending.values_json)
        .bind(&pending.frame_id)
        .bind(&pending.received_at)
        .bind(&ib.verdict)
        .bind(&ib.sender)
        .bind(&ib.mn)
        .bind(&ib.frames)
        .bind(&ib.first_seen)
        .bind(&ib.last_seen)
        .bind(&ib.last_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(outcomes)
}

fn unzip3<A, B, C>(it: impl Iterator<Item = (A, B, C)>) -> (Vec<A>, Vec<B>, Vec<C>) {
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for (x, y, z) in it {
        a.push(x);
        b.push(y);
        c.push(z);
    }
    (a, b, c)
}

impl PgStore {
    /// The key of every measurement of `items` (`cns`: their numeric CNs, in order), resolving
    /// MNs and factor codes through the caches; unknown factor codes are added.
    async fn keys(&self, items: &[IngestItem], cns: &[i32]) -> Result<Vec<Key>> {
        let measurements = || items.iter().flat_map(|i| &i.measurements);
        let mut devices = self.ids.lock().expect("ids lock").devices.clone();
        if devices.as_ref().is_none_or(|d| measurements().any(|m| !d.contains_key(&m.mn))) {
            devices = Some(self.load_devices().await?);
        }
        let devices = devices.unwrap_or_default();
        if let Some(m) = measurements().find(|m| !devices.contains_key(&m.mn)) {
            return Err(StoreError::Invalid(format!("measurement of unregistered MN {}", m.mn)));
        }
        let mut factors = self.ids.lock().expect("ids lock").factors.clone();
        let missing: FastSet<&str> =
            measurements().map(|m| m.factor.as_str()).filter(|f| !factors.contains_key(*f)).collect();
        if !missing.is_empty() {
            let codes: Vec<Cow<str>> = missing.iter().map(|c| pg_text(c)).collect();
            sqlx::query("INSERT INTO factors (code) SELECT unnest($1::text[]) ON CONFLICT (code) DO NOTHING")
                .bind(&codes)
                .execute(&self.pool)
                .await?;
            factors = self.load_factors().await?;
        }
        let mut keys = Vec::with_capacity(cns.len());
        for (m, cn) in measurements().zip(cns) {
            let device = devices.get(&m.mn).copied();
            let factor = factors.get(pg_text(&m.factor).as_ref()).copied();
            match (device, factor) {
                (Some(d), Some(f)) => keys.push((d, *cn, m.data_time, f)),
                _ => return Err(StoreError::Corrupt(format!("no id for {} / {}", m.mn, m.factor))),
            }
        }
        Ok(keys)
    }

    pub(super) async fn load_devices(&self) -> Result<std::sync::Arc<FastMap<String, i64>>> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT mn, id FROM devices").fetch_all(&self.pool).await?;
        let map = std::sync::Arc::new(rows.into_iter().collect::<FastMap<_, _>>());
        self.ids.lock().expect("ids lock").devices = Some(map.clone());
        Ok(map)
    }

    pub(super) async fn load_factors(&self) -> Result<std::sync::Arc<FastMap<String, i32>>> {
        let rows: Vec<(String, i32)> =
            sqlx::query_as("SELECT code, id FROM factors").fetch_all(&self.pool).await?;
        let map = std::sync::Arc::new(rows.into_iter().collect::<FastMap<_, _>>());
        self.ids.lock().expect("ids lock").factors = map.clone();
        Ok(map)
    }
}
