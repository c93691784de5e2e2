//! Monthly partitions of `frames` (by receipt) and `measurements` (by DataTime), China-time
//! months like every period of the engine. A partition is created before the first row of its
//! month is written: the current and next month at every start (`create_partitions_ahead`), and
//! any other month (a backfill, a logger with a wrong clock) when a batch brings it. Creation
//! runs in a transaction of its own under an advisory lock, so that two processes never race on
//! one name; the partitions known to exist are remembered.

use std::collections::BTreeSet;

use fenhe_core::china_time::{date_of, month_start, next_month_start};
use sqlx::AssertSqlSafe;

use super::PgStore;
use crate::Result;

/// The partitioned tables.
pub(super) const FRAMES: &str = "frames";
pub(super) const MEASUREMENTS: &str = "measurements";

/// The advisory lock key under which partitions are created (and dropped by retention).
pub(super) const PARTITION_LOCK: i64 = 0x6665_6e68_6570_6172; // "fenhepar"

/// `measurements_p202407`: the partition of `table` for the month starting at `start`. Years
/// beyond four digits or before year 0 keep their sign and digits (`measurements_p-00011201`).
pub(super) fn partition_name(table: &str, start: i64) -> String {
    let d = date_of(start);
    format!("{table}_p{:04}{:02}", d.year(), d.month())
}

impl PgStore {
    /// Make sure `table` has a partition for the month of every instant of `instants`.
    pub(super) async fn ensure_partitions(
        &self,
        table: &'static str,
        instants: impl IntoIterator<Item = i64>,
    ) -> Result<()> {
        let months: BTreeSet<i64> = instants.into_iter().map(month_start).collect();
        let missing: Vec<i64> = {
            let known = self.partitions.lock().expect("partitions lock");
            months.into_iter().filter(|m| !known.contains(&(table, *m))).collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(PARTITION_LOCK).execute(&mut *tx).await?;
        for &start in &missing {
            let end = next_month_start(start);
            let name = partition_name(table, start);
            sqlx::query(AssertSqlSafe(format!(
                "CREATE TABLE IF NOT EXISTS \"{name}\" PARTITION OF {table} FOR VALUES FROM ({start}) TO ({end})"
            )))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        self.partitions.lock().expect("partitions lock").extend(missing.into_iter().map(|m| (table, m)));
        Ok(())
    }

    /// The partitions of the month of `now` and of the next, for both tables: live traffic
    /// then never waits for a partition to be created.
    pub(super) async fn create_partitions_ahead(&self, now: i64) -> Result<()> {
        let months = [now, next_month_start(now)];
        self.ensure_partitions(FRAMES, months).await?;
        self.ensure_partitions(MEASUREMENTS, months).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_named_by_china_month() {
        // 2024-06-30 16:00 UTC is 2024-07-01 00:00 in China.
        assert_eq!(partition_name("frames", 1_719_763_200_000), "frames_p202407");
        assert_eq!(partition_name("measurements", month_start(0)), "measurements_p197001");
    }
}
