//! Reading what ingest stored: measurements (unpacked from their sets), frames, counts, the
//! inbox, device activity; and the [`IngestStore`] implementation.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use fenhe_core::{FrameRecord, Verdict};
use foldhash::{HashMap as FastMap, HashMapExt as _};
use sqlx::AssertSqlSafe;

use super::convert::{count, numeric_cn, verdict};
use super::{SqliteStore, ingest_write, packed};
use crate::{
    DeviceActivity, FrameCount, FrameQuery, InboxEntry, InboxQuery, IngestItem, IngestStore, ItemOutcome,
    MeasurementQuery, MnFrameCount, Result, StoreError, StoredCounts, StoredFrame, StoredMeasurement,
};

#[derive(sqlx::FromRow)]
struct FactorRow {
    id: i64,
    code: String,
}

/// A `measurement_sets` row with its device's MN.
#[derive(sqlx::FromRow)]
struct SetRow {
    mn: String,
    cn: i64,
    data_time: i64,
    received_at: i64,
    frame_id: i64,
    factors: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct FrameRow {
    id: i64,
    received_at: i64,
    peer: String,
    mn: Option<String>,
    cn: Option<String>,
    verdict: String,
    reason: Option<String>,
    deviations: String,
    bytes: Vec<u8>,
}

impl FrameRow {
    fn into_frame(self) -> Result<StoredFrame> {
        Ok(StoredFrame {
            id: self.id,
            record: FrameRecord {
                received_at: self.received_at,
                peer: self.peer,
                mn: self.mn,
                cn: self.cn,
                verdict: verdict(&self.verdict)?,
                reason: self.reason,
                deviations: self.deviations,
                bytes: self.bytes,
            },
        })
    }
}

#[derive(sqlx::FromRow)]
struct TallyRow {
    verdict: String,
    reason_kind: String,
    frames: i64,
}

#[derive(sqlx::FromRow)]
struct MnCountRow {
    mn: Option<String>,
    verdict: String,
    n: i64,
}

#[derive(sqlx::FromRow)]
struct InboxRow {
    verdict: String,
    mn: Option<String>,
    n: i64,
    first_seen: i64,
    last_seen: i64,
    peer: String,
    bytes: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct TrafficRow {
    mn: String,
    frames: Option<i64>,
    last_frame_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct LatestRow {
    mn: String,
    cn: i64,
    data_time: i64,
}

#[async_trait]
impl IngestStore for SqliteStore {
    async fn write_batch(&self, items: &[IngestItem]) -> Result<Vec<ItemOutcome>> {
        ingest_write::write_batch(self, items).await
    }

    async fn measurements(&self, q: &MeasurementQuery) -> Result<Vec<StoredMeasurement>> {
        let cn = match q.cn.as_deref().map(numeric_cn) {
            Some(None) => return Ok(Vec::new()), // no such CN is ever stored
            Some(Some(cn)) => Some(cn),
            None => None,
        };
        let mut conn = self.read.acquire().await?;
        let mut codes: FastMap<i64, Arc<str>> = FastMap::new();
        let factors: Vec<FactorRow> =
            sqlx::query_as("SELECT id, code FROM factors").fetch_all(&mut *conn).await?;
        for f in factors {
            codes.insert(f.id, Arc::from(f.code));
        }
        let factor = match &q.factor {
            Some(code) => match codes.iter().find(|(_, c)| ***c == **code) {
                Some((id, _)) => Some(*id),
                None => return Ok(Vec::new()), // a code never stored
            },
            None => None,
        };
        // The sets are selected by their key; factors are filtered, revisions resolved and the
        // result ordered once unpacked.
        let mut sql = String::from(
            "SELECT d.mn, m.cn, m.data_time, m.received_at, m.frame_id, m.factors \
             FROM measurement_sets m JOIN devices d ON d.id = m.device_id WHERE 1 = 1",
        );
        if q.mn.is_some() {
            sql.push_str(" AND d.mn = ?");
        }
        if cn.is_some() {
            sql.push_str(" AND m.cn = ?");
        }
        if q.from.is_some() {
            sql.push_str(" AND m.data_time >= ?");
        }
        if q.to.is_some() {
            sql.push_str(" AND m.data_time < ?");
        }
        let mut query = sqlx::query_as::<_, SetRow>(AssertSqlSafe(sql));
        if let Some(mn) = &q.mn {
            query = query.bind(mn.as_str());
        }
        if let Some(cn) = cn {
            query = query.bind(cn);
        }
        if let Some(from) = q.from {
            query = query.bind(from);
        }
        if let Some(to) = q.to {
            query = query.bind(to);
        }
        let mut out: Vec<(i64, StoredMeasurement)> = Vec::new();
        for r in query.fetch_all(&mut *conn).await? {
            let SetRow { mn, cn, data_time, received_at, frame_id, factors } = r;
            for e in packed::entries(&factors) {
                let e = e?;
                if factor.is_some_and(|f| f != e.factor_id) {
                    continue;
                }
                let code = codes.get(&e.factor_id).ok_or_else(|| {
                    StoreError::Corrupt(format!("measurement with unknown factor id {}", e.factor_id))
                })?;
                out.push((
                    cn,
                    StoredMeasurement {
                        mn: mn.clone(),
                        cn: cn.to_string(),
                        data_time,
                        factor: code.to_string(),
                        raw_code: e.raw_code.unwrap_or(code).to_string(),
                        revision: e.revision,
                        received_at,
                        frame_id,
                        values: e.values(),
                    },
                ));
            }
        }
        out.sort_by(|(ca, a), (cb, b)| {
            (a.data_time, &a.mn, ca, &a.factor, a.revision).cmp(&(
                b.data_time,
                &b.mn,
                cb,
                &b.factor,
                b.revision,
            ))
        });
        if q.latest_only {
            // Sorted, the revisions of a factor of a record are adjacent, the latest last: keep
            // that one in the slot of the first.
            out.dedup_by(|(cn, m), (kept_cn, kept)| {
                let same = (m.data_time, &m.mn, *cn, &m.factor)
                    == (kept.data_time, &kept.mn, *kept_cn, &kept.factor);
                if same {
                    std::mem::swap(m, kept);
                }
                same
            });
        }
        if let Some(limit) = q.limit {
            out.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        }
        Ok(out.into_iter().map(|(_, m)| m).collect())
    }

    async fn frames(&self, q: &FrameQuery) -> Result<Vec<StoredFrame>> {
        let mut sql = String::from(
            "SELECT id, received_at, peer, mn, cn, verdict, reason, deviations, bytes FROM frames WHERE 1 = 1",
        );
        if q.mn.is_some() {
            sql.push_str(" AND mn = ?");
        }
        if let Some(v) = q.verdict {
            sql.push_str(" AND verdict = ?");
            if v != Verdict::Accepted {
                // Lets the planner use the partial index frames_notable.
                sql.push_str(" AND verdict <> 'accepted'");
            }
        }
        if q.from.is_some() {
            sql.push_str(" AND received_at >= ?");
        }
        if q.to.is_some() {
            sql.push_str(" AND received_at < ?");
        }
        if q.after_id.is_some() {
            sql.push_str(" AND id > ?");
        }
        if q.before_id.is_some() {
            sql.push_str(" AND id < ?");
        }
        sql.push_str(if q.newest_first { " ORDER BY id DESC" } else { " ORDER BY id" });
        if q.limit.is_some() {
            sql.push_str(" LIMIT ?");
        }
        let mut query = sqlx::query_as::<_, FrameRow>(AssertSqlSafe(sql));
        if let Some(mn) = &q.mn {
            query = query.bind(mn.as_str());
        }
        if let Some(v) = q.verdict {
            query = query.bind(v.name());
        }
        if let Some(from) = q.from {
            query = query.bind(from);
        }
        if let Some(to) = q.to {
            query = query.bind(to);
        }
        if let Some(after) = q.after_id {
            query = query.bind(after);
        }
        if let Some(before) = q.before_id {
            query = query.bind(before);
        }
        if let Some(limit) = q.limit {
            query = query.bind(i64::from(limit));
        }
        query.fetch_all(&self.read).await?.into_iter().map(FrameRow::into_frame).collect()
    }

    async fn frame_counts(&self) -> Result<Vec<FrameCount>> {
        let rows: Vec<TallyRow> =
            sqlx::query_as("SELECT verdict, reason_kind, frames FROM frame_tally WHERE frames > 0")
                .fetch_all(&self.read)
                .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            out.push(FrameCount {
                verdict: verdict(&r.verdict)?,
                reason_kind: r.reason_kind,
                count: count(r.frames)?,
            });
        }
        out.sort_by(|a, b| (a.verdict, &a.reason_kind).cmp(&(b.verdict, &b.reason_kind)));
        Ok(out)
    }

    async fn frame_counts_by_mn(&self, since: i64) -> Result<Vec<MnFrameCount>> {
        // A range over frames_received_at: the day's frames, not every frame ever stored. Without
        // statistics the planner would rather walk frames_mn whole (it reads `mn IS NOT NULL` as a
        // range), so the index is named; frames without an MN are dropped here instead.
        let rows: Vec<MnCountRow> = sqlx::query_as(
            "SELECT mn, verdict, COUNT(*) AS n FROM frames INDEXED BY frames_received_at \
             WHERE received_at >= ? GROUP BY mn, verdict",
        )
        .bind(since)
        .fetch_all(&self.read)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let Some(mn) = r.mn else { continue };
            out.push(MnFrameCount { mn, verdict: verdict(&r.verdict)?, count: count(r.n)? });
        }
        out.sort_by(|a, b| (&a.mn, a.verdict).cmp(&(&b.mn, b.verdict)));
        Ok(out)
    }

    async fn inbox(&self, q: &InboxQuery) -> Result<Vec<InboxEntry>> {
        // The latest frame of an entry gives its peer and bytes; a frame no longer stored leaves
        // the entry without them rather than hiding it.
        let rows: Vec<InboxRow> = sqlx::query_as(
            "SELECT t.verdict, t.mn, t.frames AS n, t.first_seen, t.last_seen, \
                    COALESCE(f.peer, '') AS peer, COALESCE(f.bytes, X'') AS bytes \
             FROM inbox_tally t LEFT JOIN frames f ON f.id = t.last_id \
             WHERE NOT (t.verdict = 'unregistered' AND t.mn IS NOT NULL \
                        AND EXISTS (SELECT 1 FROM devices d WHERE d.mn = t.mn)) \
               AND (?1 IS NULL OR t.mn = ?1) \
             ORDER BY t.last_seen DESC, t.last_id DESC LIMIT ?2 OFFSET ?3",
        )
        .bind(q.mn.as_deref())
        .bind(i64::from(q.limit))
        .bind(i64::try_from(q.offset).unwrap_or(i64::MAX))
        .fetch_all(&self.read)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(InboxEntry {
                    verdict: verdict(&r.verdict)?,
                    mn: r.mn,
                    count: count(r.n)?,
                    first_seen: r.first_seen,
                    last_seen: r.last_seen,
                    last_peer: r.peer,
                    last_frame: r.bytes,
                })
            })
            .collect()
    }

    async fn inbox_count(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM inbox_tally t \
             WHERE NOT (t.verdict = 'unregistered' AND t.mn IS NOT NULL \
                        AND EXISTS (SELECT 1 FROM devices d WHERE d.mn = t.mn))",
        )
        .fetch_one(&self.read)
        .await?;
        count(n)
    }

    async fn device_activity(&self) -> Result<Vec<DeviceActivity>> {
        let mut tx = self.read.begin().await?;
        let mut out = Vec::new();
        let mut at: HashMap<String, usize> = HashMap::new();
        let traffic: Vec<TrafficRow> = sqlx::query_as(
            "SELECT d.mn, t.frames, t.last_frame_at FROM devices d \
             LEFT JOIN mn_traffic t ON t.mn = d.mn ORDER BY d.mn",
        )
        .fetch_all(&mut *tx)
        .await?;
        for r in traffic {
            at.insert(r.mn.clone(), out.len());
            out.push(DeviceActivity {
                mn: r.mn,
                frames: count(r.frames.unwrap_or(0))?,
                last_frame_at: r.last_frame_at,
                latest: Vec::new(),
            });
        }
        // The CNs of each device by skip-scan over the primary key, then the newest DataTime of
        // each: a few index seeks per device however many rows there are.
        let latest: Vec<LatestRow> = sqlx::query_as(
            "WITH RECURSIVE c (device_id, cn) AS ( \
                 SELECT d.id, (SELECT MIN(m.cn) FROM measurement_sets m WHERE m.device_id = d.id) FROM devices d \
                 UNION ALL \
                 SELECT c.device_id, (SELECT MIN(m.cn) FROM measurement_sets m \
                                      WHERE m.device_id = c.device_id AND m.cn > c.cn) \
                 FROM c WHERE c.cn IS NOT NULL) \
             SELECT d.mn, c.cn, (SELECT MAX(m.data_time) FROM measurement_sets m \
                                 WHERE m.device_id = c.device_id AND m.cn = c.cn) AS data_time \
             FROM c JOIN devices d ON d.id = c.device_id WHERE c.cn IS NOT NULL ORDER BY d.mn, c.cn",
        )
        .fetch_all(&mut *tx)
        .await?;
        for r in latest {
            if let Some(&i) = at.get(&r.mn) {
                out[i].latest.push((r.cn.to_string(), r.data_time));
            }
        }
        tx.rollback().await?;
        for a in &mut out {
            a.latest.sort();
        }
        Ok(out)
    }

    async fn data_times(&self, mn: &str, cn: &str, from: i64, to: i64) -> Result<Vec<i64>> {
        let Some(cn) = numeric_cn(cn) else {
            return Ok(Vec::new());
        };
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT m.data_time FROM measurement_sets m \
             WHERE m.device_id = (SELECT id FROM devices WHERE mn = ?) AND m.cn = ? \
             AND m.data_time >= ? AND m.data_time < ? ORDER BY m.data_time",
        )
        .bind(mn)
        .bind(cn)
        .bind(from)
        .bind(to)
        .fetch_all(&self.read)
        .await?)
    }

    async fn stored_counts(&self, cn: Option<&str>) -> Result<StoredCounts> {
        let numeric = match cn.map(numeric_cn) {
            Some(None) => return Ok(StoredCounts::default()), // no such CN is ever stored
            Some(Some(n)) => Some(n),
            None => None,
        };
        // One read transaction: both counts of the same state.
        let mut tx = self.read.begin().await?;
        let frames: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM frames WHERE verdict = 'accepted' AND (?1 IS NULL OR cn = ?1)",
        )
        .bind(cn)
        .fetch_one(&mut *tx)
        .await?;
        let values: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(n), 0) FROM measurement_sets WHERE ?1 IS NULL OR cn = ?1",
        )
        .bind(numeric)
        .fetch_one(&mut *tx)
        .await?;
        tx.rollback().await?;
        Ok(StoredCounts { accepted_frames: count(frames)?, measurement_values: count(values)? })
    }
}
