//! Reading what ingest stored on PostgreSQL, and the [`IngestStore`] implementation.

use std::collections::HashMap;

use async_trait::async_trait;
use fenhe_core::{FrameRecord, ShortText, Values, Verdict};

use super::filter::Filter;
use super::{PgStore, ingest_write};
use crate::sqlite::convert::{count, numeric_cn, verdict};
use crate::{
    DeviceActivity, FrameCount, FrameQuery, InboxEntry, InboxQuery, IngestItem, IngestStore, ItemOutcome,
    MeasurementQuery, MnFrameCount, Result, StoredCounts, StoredFrame, StoredMeasurement,
};

#[derive(sqlx::FromRow)]
struct MeasurementRow {
    mn: String,
    cn: i32,
    data_time: i64,
    factor: String,
    raw_code: Option<String>,
    revision: i32,
    received_at: i64,
    frame_id: i64,
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

impl MeasurementRow {
    fn into_measurement(self) -> Result<StoredMeasurement> {
        Ok(StoredMeasurement {
            raw_code: self.raw_code.unwrap_or_else(|| self.factor.clone()),
            revision: crate::sqlite::convert::small(i64::from(self.revision), "revision")?,
            mn: self.mn,
            cn: self.cn.to_string(),
            data_time: self.data_time,
            factor: self.factor,
            received_at: self.received_at,
            frame_id: self.frame_id,
            values: Values {
                rtd: self.rtd,
                min: self.min,
                avg: self.avg,
                max: self.max,
                cou: self.cou,
                zs_rtd: self.zs_rtd,
                zs_min: self.zs_min,
                zs_avg: self.zs_avg,
                zs_max: self.zs_max,
                flag: self.flag.map(ShortText::from),
                eflag: self.eflag.map(ShortText::from),
                sample_time: self.sample_time.map(ShortText::from),
            },
        })
    }
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
struct InboxRow {
    verdict: String,
    mn: Option<String>,
    n: i64,
    first_seen: i64,
    last_seen: i64,
    peer: String,
    bytes: Vec<u8>,
}

#[async_trait]
impl IngestStore for PgStore {
    /// No: a PostgreSQL connection is a socket registered with the runtime that opened it, so a
    /// writer on a runtime of its own put connections into the shared pool that died with that
    /// runtime (a read after the writer's shutdown failed with "A Tokio 1.x context was found,
    /// but it is being shutdown"). Its awaits are network round trips, which a thread of its own
    /// does not shorten.
    fn writer_on_own_thread(&self) -> bool {
        false
    }

    async fn write_batch(&self, items: &[IngestItem]) -> Result<Vec<ItemOutcome>> {
        ingest_write::write_batch(self, items).await
    }

    async fn measurements(&self, q: &MeasurementQuery) -> Result<Vec<StoredMeasurement>> {
        let cn = match q.cn.as_deref().map(numeric_cn) {
            Some(None) => return Ok(Vec::new()), // no such CN is ever stored
            Some(Some(cn)) => match i32::try_from(cn) {
                Ok(cn) => Some(i64::from(cn)),
                Err(_) => return Ok(Vec::new()),
            },
            None => None,
        };
        // Served by the primary key (device, CN, DataTime, …) when a device is named; by
        // partition pruning on DataTime otherwise.
        let mut f = Filter::new(
            "SELECT d.mn, m.cn, m.data_time, f.code AS factor, m.raw_code, m.revision, m.received_at, \
             m.frame_id, m.rtd, m.min, m.avg, m.max, m.cou, m.zs_rtd, m.zs_min, m.zs_avg, m.zs_max, m.flag, \
             m.eflag, m.sample_time \
             FROM measurements m JOIN devices d ON d.id = m.device_id JOIN factors f ON f.id = m.factor_id",
        );
        f.text("d.mn = ?", q.mn.as_deref());
        f.int("m.cn = ?::int", cn);
        f.text("f.code = ?", q.factor.as_deref());
        f.int("m.data_time >= ?", q.from);
        f.int("m.data_time < ?", q.to);
        if q.latest_only {
            f.raw(
                "m.revision = (SELECT max(x.revision) FROM measurements x WHERE x.device_id = m.device_id \
                 AND x.cn = m.cn AND x.data_time = m.data_time AND x.factor_id = m.factor_id)",
            );
        }
        let rows: Vec<MeasurementRow> =
            f.fetch(&self.pool, "m.data_time, d.mn, m.cn, f.code, m.revision", q.limit).await?;
        rows.into_iter().map(MeasurementRow::into_measurement).collect()
    }

    async fn frames(&self, q: &FrameQuery) -> Result<Vec<StoredFrame>> {
        let mut f = Filter::new(
            "SELECT id, received_at, peer, mn, cn, verdict, reason, deviations, bytes FROM frames",
        );
        f.text("mn = ?", q.mn.as_deref());
        if let Some(v) = q.verdict {
            f.text("verdict = ?", Some(v.name()));
            if v != Verdict::Accepted {
                // Matches the partial index frames_notable.
                f.raw("verdict <> 'accepted'");
            }
        }
        f.int("received_at >= ?", q.from);
        f.int("received_at < ?", q.to);
        f.int("id > ?", q.after_id);
        f.int("id < ?", q.before_id);
        let order = if q.newest_first { "id DESC" } else { "id" };
        let rows: Vec<FrameRow> = f.fetch(&self.pool, order, q.limit).await?;
        rows.into_iter().map(FrameRow::into_frame).collect()
    }

    async fn frame_counts(&self) -> Result<Vec<FrameCount>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT verdict, reason_kind, sum(frames)::bigint FROM frame_tally GROUP BY verdict, reason_kind \
             HAVING sum(frames) > 0",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (v, kind, n) in rows {
            out.push(FrameCount { verdict: verdict(&v)?, reason_kind: kind, count: count(n)? });
        }
        out.sort_by(|a, b| (a.verdict, &a.reason_kind).cmp(&(b.verdict, &b.reason_kind)));
        Ok(out)
    }

    async fn frame_counts_by_mn(&self, since: i64) -> Result<Vec<MnFrameCount>> {
        // frames_received_at holds mn and verdict: an index-only scan of the day's frames.
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT mn, verdict, count(*) FROM frames WHERE received_at >= $1 AND mn IS NOT NULL \
             GROUP BY mn, verdict",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (mn, v, n) in rows {
            out.push(MnFrameCount { mn, verdict: verdict(&v)?, count: count(n)? });
        }
        out.sort_by(|a, b| (&a.mn, a.verdict).cmp(&(&b.mn, b.verdict)));
        Ok(out)
    }

    async fn inbox(&self, q: &InboxQuery) -> Result<Vec<InboxEntry>> {
        // Pages of inbox_tally_recent; each entry's latest frame by the frames' primary key (a
        // frame no longer stored leaves the entry without its peer and bytes, not hidden).
        let rows: Vec<InboxRow> = sqlx::query_as(
            "SELECT t.verdict, t.mn, t.frames AS n, t.first_seen, t.last_seen, \
                    COALESCE(f.peer, '') AS peer, COALESCE(f.bytes, '\\x'::bytea) AS bytes \
             FROM inbox_tally t LEFT JOIN frames f ON f.id = t.last_id \
             WHERE NOT (t.verdict = 'unregistered' AND t.mn IS NOT NULL \
                        AND EXISTS (SELECT 1 FROM devices d WHERE d.mn = t.mn)) \
               AND ($1::text IS NULL OR t.mn = $1) \
             ORDER BY t.last_seen DESC, t.last_id DESC LIMIT $2 OFFSET $3",
        )
        .bind(q.mn.as_deref())
        .bind(i64::from(q.limit))
        .bind(i64::try_from(q.offset).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
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
            "SELECT count(*) FROM inbox_tally t \
             WHERE NOT (t.verdict = 'unregistered' AND t.mn IS NOT NULL \
                        AND EXISTS (SELECT 1 FROM devices d WHERE d.mn = t.mn))",
        )
        .fetch_one(&self.pool)
        .await?;
        count(n)
    }

    fn set_ingest_rules(&self, rules: crate::IngestRules) {
        self.revision_window_ms.store(rules.revision_window_ms, std::sync::atomic::Ordering::Relaxed);
    }

    async fn pending_revisions(&self, q: &crate::RevisionQuery) -> Result<Vec<crate::PendingRevision>> {
        super::revisions::list(self, q).await
    }

    async fn decide_revision(
        &self,
        id: i64,
        decision: crate::RevisionDecision,
        by: &str,
        reason: Option<&str>,
        at: i64,
    ) -> Result<crate::PendingRevision> {
        super::revisions::decide(self, id, decision, by, reason, at).await
    }

    async fn device_activity(&self) -> Result<Vec<DeviceActivity>> {
        // One snapshot for both queries.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        let traffic: Vec<(String, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT d.mn, t.frames, t.last_frame_at FROM devices d \
             LEFT JOIN mn_traffic t ON t.mn = d.mn ORDER BY d.mn",
        )
        .fetch_all(&mut *tx)
        .await?;
        let latest: Vec<(String, i32, i64)> = sqlx::query_as(
            "SELECT d.mn, l.cn, l.data_time FROM latest_data l JOIN devices d ON d.id = l.device_id \
             ORDER BY d.mn, l.cn",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.rollback().await?;
        let mut out = Vec::with_capacity(traffic.len());
        let mut at: HashMap<String, usize> = HashMap::new();
        for (mn, frames, last_frame_at) in traffic {
            at.insert(mn.clone(), out.len());
            out.push(DeviceActivity {
                mn,
                frames: count(frames.unwrap_or(0))?,
                last_frame_at,
                latest: Vec::new(),
            });
        }
        for (mn, cn, t) in latest {
            if let Some(&i) = at.get(&mn) {
                out[i].latest.push((cn.to_string(), t));
            }
        }
        for a in &mut out {
            a.latest.sort();
        }
        Ok(out)
    }

    async fn data_times(&self, mn: &str, cn: &str, from: i64, to: i64) -> Result<Vec<i64>> {
        let Some(cn) = numeric_cn(cn).and_then(|c| i32::try_from(c).ok()) else {
            return Ok(Vec::new());
        };
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT m.data_time FROM measurements m \
             WHERE m.device_id = (SELECT id FROM devices WHERE mn = $1) AND m.cn = $2 \
             AND m.data_time >= $3 AND m.data_time < $4 ORDER BY m.data_time",
        )
        .bind(mn)
        .bind(cn)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn stored_counts(&self, cn: Option<&str>) -> Result<StoredCounts> {
        let numeric = match cn.map(numeric_cn) {
            Some(None) => return Ok(StoredCounts::default()),
            Some(Some(n)) => match i32::try_from(n) {
                Ok(n) => Some(n),
                Err(_) => return Ok(StoredCounts::default()),
            },
            None => None,
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        let frames: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM frames WHERE verdict = 'accepted' AND ($1::text IS NULL OR cn = $1)",
        )
        .bind(cn)
        .fetch_one(&mut *tx)
        .await?;
        let values: i64 =
            sqlx::query_scalar("SELECT count(*) FROM measurements WHERE $1::int IS NULL OR cn = $1")
                .bind(numeric)
                .fetch_one(&mut *tx)
                .await?;
        tx.rollback().await?;
        Ok(StoredCounts { accepted_frames: count(frames)?, measurement_values: count(values)? })
    }
}
