//! Retention on SQLite: old raw frames and real-time / minute measurement sets deleted in
//! transactions of at most [`SQLITE_BATCH_ROWS`] rows through the write connection, so a running
//! `serve` (which shares that one connection's lock) waits for one batch at most, never for the
//! whole clean-up. Frames are found through `frames_received_at`; measurement sets device by
//! device and CN, through their primary key's `(device_id, cn, data_time)` prefix.
//!
//! Deleting changes no dirty mark: the aggregates computed from these rows stay as they are.
//! The running tallies (`frame_tally`, `mn_traffic`, `inbox_tally`) keep counting every frame
//! ever received; the inbox shows an entry whose last frame is gone without its bytes.

use async_trait::async_trait;

use super::SqliteStore;
use crate::retention::{
    MINUTE_DATA_CNS, Removal, RetentionCutoffs, RetentionReport, RetentionStore, SQLITE_BATCH_ROWS,
};
use crate::{Result, StoreError};

fn rows(n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative row count {n}")))
}

impl SqliteStore {
    async fn frames_before(&self, before: i64, dry_run: bool) -> Result<u64> {
        if dry_run {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM frames WHERE received_at < ?1")
                .bind(before)
                .fetch_one(&self.read)
                .await?;
            return rows(n);
        }
        let mut total = 0;
        loop {
            let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
            let done = sqlx::query(
                "DELETE FROM frames WHERE id IN \
                 (SELECT id FROM frames WHERE received_at < ?1 ORDER BY received_at LIMIT ?2)",
            )
            .bind(before)
            .bind(SQLITE_BATCH_ROWS)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            total += done;
            if done < SQLITE_BATCH_ROWS.unsigned_abs() {
                return Ok(total);
            }
            // Let the ingest writer, waiting for the connection, take its turn.
            tokio::task::yield_now().await;
        }
    }

    async fn minute_sets_before(&self, before: i64, dry_run: bool) -> Result<u64> {
        let devices: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM devices ORDER BY id").fetch_all(&self.read).await?;
        let mut total = 0;
        for device in devices {
            for cn in MINUTE_DATA_CNS {
                if dry_run {
                    let n: i64 = sqlx::query_scalar(
                        "SELECT count(*) FROM measurement_sets WHERE device_id = ?1 AND cn = ?2 AND data_time < ?3",
                    )
                    .bind(device)
                    .bind(cn)
                    .bind(before)
                    .fetch_one(&self.read)
                    .await?;
                    total += rows(n)?;
                    continue;
                }
                loop {
                    let mut tx = self.write.begin_with("BEGIN IMMEDIATE").await?;
                    let done = sqlx::query(
                        "DELETE FROM measurement_sets WHERE (device_id, cn, data_time, seq) IN \
                         (SELECT device_id, cn, data_time, seq FROM measurement_sets \
                          WHERE device_id = ?1 AND cn = ?2 AND data_time < ?3 ORDER BY data_time LIMIT ?4)",
                    )
                    .bind(device)
                    .bind(cn)
                    .bind(before)
                    .bind(SQLITE_BATCH_ROWS)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    tx.commit().await?;
                    total += done;
                    if done < SQLITE_BATCH_ROWS.unsigned_abs() {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
            }
        }
        Ok(total)
    }
}

#[async_trait]
impl RetentionStore for SqliteStore {
    async fn apply_retention(&self, cut: &RetentionCutoffs, dry_run: bool) -> Result<RetentionReport> {
        let mut report = RetentionReport { dry_run, removed: Vec::new() };
        if let Some(before) = cut.raw_frames_before {
            let n = self.frames_before(before, dry_run).await?;
            if n > 0 {
                report.removed.push(Removal { table: "frames".into(), partition: None, rows: n, before });
            }
        }
        if let Some(before) = cut.minute_data_before {
            let n = self.minute_sets_before(before, dry_run).await?;
            if n > 0 {
                report.removed.push(Removal {
                    table: "measurement_sets".into(),
                    partition: None,
                    rows: n,
                    before,
                });
            }
        }
        Ok(report)
    }
}
