//! Retention on PostgreSQL: whole monthly partitions, and only those whose month ends at or
//! before the cut-off, so a partition with rows newer than the cut-off is never touched and the
//! rows of a partially covered month stay until their month is whole.
//!
//! A partition is emptied (`TRUNCATE`) rather than dropped: the disk space comes back at once,
//! as with a drop, but the partition itself stays, because (1) a `measurements` month also holds
//! the hourly and daily values (CN 2061, 2031), which are kept forever and are put back in the
//! same transaction, and (2) every running node remembers which partitions exist
//! (`partitions`) and would fail to insert a late row of that month into a dropped one. The work
//! runs under the advisory lock that partition creation takes.

use async_trait::async_trait;
use fenhe_core::china_time::month_start;
use sqlx::AssertSqlSafe;

use super::PgStore;
use super::partitions::{FRAMES, MEASUREMENTS, PARTITION_LOCK};
use crate::retention::{MINUTE_DATA_CNS, Removal, RetentionCutoffs, RetentionReport, RetentionStore};
use crate::{Result, StoreError};

/// A partition of `table` and its range `[from, to)`.
struct Partition {
    name: String,
    to: i64,
}

/// The bounds of `FOR VALUES FROM (a) TO (b)` as `pg_get_expr` writes them (with or without
/// quotes around the numbers).
fn bounds(expr: &str) -> Option<(i64, i64)> {
    let rest = expr.split_once("FROM (")?.1;
    let (from, rest) = rest.split_once(')')?;
    let to = rest.split_once("TO (")?.1.split_once(')')?.0;
    let number = |s: &str| s.trim().trim_matches('\'').parse::<i64>().ok();
    Some((number(from)?, number(to)?))
}

fn rows(n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative row count {n}")))
}

/// `2011, 2051`: the removed CNs as SQL.
fn minute_cns() -> String {
    MINUTE_DATA_CNS.iter().map(i32::to_string).collect::<Vec<_>>().join(", ")
}

impl PgStore {
    /// The partitions of `table` in this store's schema whose month ends at or before `before`,
    /// oldest first.
    async fn partitions_before(&self, table: &str, before: i64) -> Result<Vec<Partition>> {
        let listed: Vec<(String, String)> = sqlx::query_as(
            "SELECT c.relname::text, pg_get_expr(c.relpartbound, c.oid) \
             FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent \
             JOIN pg_namespace n ON n.oid = p.relnamespace \
             WHERE p.relname = $1 AND n.nspname = $2",
        )
        .bind(table)
        .bind(&self.schema)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for (name, expr) in listed {
            let (_, to) = bounds(&expr).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "partition {name} of {table} has bounds fenhe cannot read: {expr}"
                ))
            })?;
            if to <= before {
                out.push(Partition { name, to });
            }
        }
        out.sort_by_key(|p| p.to);
        Ok(out)
    }

    /// Rows retention removes from `p`: all of a frames partition, the real-time and minute
    /// values of a measurements partition.
    async fn removable(&self, table: &str, p: &Partition, exec: impl sqlx::PgExecutor<'_>) -> Result<u64> {
        let filter =
            if table == MEASUREMENTS { format!(" WHERE cn IN ({})", minute_cns()) } else { String::new() };
        let n: i64 =
            sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM \"{}\"{filter}", p.name)))
                .fetch_one(exec)
                .await?;
        rows(n)
    }

    async fn retain_table(&self, table: &'static str, asked: i64, dry_run: bool) -> Result<Vec<Removal>> {
        let before = month_start(asked);
        let mut out = Vec::new();
        for p in self.partitions_before(table, before).await? {
            let n = if dry_run {
                self.removable(table, &p, &self.pool).await?
            } else {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(PARTITION_LOCK)
                    .execute(&mut *tx)
                    .await?;
                let n = self.removable(table, &p, &mut *tx).await?;
                if n > 0 {
                    if table == MEASUREMENTS {
                        // The hourly and daily values of the month are put back after the
                        // partition is emptied.
                        sqlx::query(AssertSqlSafe(format!(
                            "CREATE TEMP TABLE retention_keep ON COMMIT DROP AS \
                             SELECT * FROM \"{}\" WHERE cn NOT IN ({})",
                            p.name,
                            minute_cns()
                        )))
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(AssertSqlSafe(format!("TRUNCATE \"{}\"", p.name)))
                            .execute(&mut *tx)
                            .await?;
                        sqlx::query(AssertSqlSafe(format!(
                            "INSERT INTO \"{}\" SELECT * FROM retention_keep",
                            p.name
                        )))
                        .execute(&mut *tx)
                        .await?;
                    } else {
                        sqlx::query(AssertSqlSafe(format!("TRUNCATE \"{}\"", p.name)))
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                tx.commit().await?;
                n
            };
            if n > 0 {
                out.push(Removal { table: table.into(), partition: Some(p.name), rows: n, before });
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl RetentionStore for PgStore {
    async fn apply_retention(&self, cut: &RetentionCutoffs, dry_run: bool) -> Result<RetentionReport> {
        let mut report = RetentionReport { dry_run, removed: Vec::new() };
        if let Some(asked) = cut.raw_frames_before {
            report.removed.extend(self.retain_table(FRAMES, asked, dry_run).await?);
        }
        if let Some(asked) = cut.minute_data_before {
            report.removed.extend(self.retain_table(MEASUREMENTS, asked, dry_run).await?);
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::bounds;

    #[test]
    fn partition_bounds_are_read_with_or_without_quotes() {
        assert_eq!(bounds("FOR VALUES FROM ('100') TO ('200')"), Some((100, 200)));
        assert_eq!(bounds("FOR VALUES FROM (-5) TO (7)"), Some((-5, 7)));
        assert_eq!(bounds("DEFAULT"), None);
    }
}
