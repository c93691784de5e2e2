//! Multi-row `INSERT`s through sqlx, for the compliance results (the ingest batch has its own
//! path on the C API, see `batch.rs`).

use std::sync::Arc;

use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{AssertSqlSafe, Sqlite, SqliteConnection};

use crate::Result;

/// SQLite's default limit on bound parameters per statement.
const MAX_PARAMS: usize = 32_766;

pub(super) type SqliteQuery = Query<'static, Sqlite, SqliteArguments>;

/// `INSERT … VALUES (…), (…), …` for 1, 2, 4, … rows, so a batch of n rows takes about log n
/// statements from a small set that the connection's statement cache keeps prepared.
pub(super) struct MultiInsert {
    /// `by_pow[k]` inserts `2^k` rows.
    by_pow: Vec<Arc<str>>,
}

impl MultiInsert {
    pub(super) fn new(head: &str, columns: usize, tail: &str) -> MultiInsert {
        let max_rows = (MAX_PARAMS / columns.max(1)).min(1024);
        let row = format!("({})", vec!["?"; columns].join(","));
        let mut by_pow = Vec::new();
        let mut n = 1;
        while n <= max_rows {
            let mut sql = String::with_capacity(head.len() + n * (row.len() + 1) + tail.len());
            sql.push_str(head);
            for i in 0..n {
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&row);
            }
            sql.push_str(tail);
            by_pow.push(Arc::from(sql));
            n *= 2;
        }
        MultiInsert { by_pow }
    }

    pub(super) async fn run<T: Sync>(
        &self,
        conn: &mut SqliteConnection,
        rows: &[T],
        bind: impl Fn(SqliteQuery, &T) -> SqliteQuery + Send + Sync,
    ) -> Result<()> {
        let mut rest = rows;
        while !rest.is_empty() {
            let k = (usize::BITS - 1 - rest.len().leading_zeros()) as usize;
            let k = k.min(self.by_pow.len() - 1);
            let (chunk, tail) = rest.split_at(1 << k);
            let mut q = sqlx::query(AssertSqlSafe(self.by_pow[k].clone()));
            for r in chunk {
                q = bind(q, r);
            }
            q.execute(&mut *conn).await?;
            rest = tail;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        let m = MultiInsert::new("INSERT INTO t (a, b) VALUES ", 2, "");
        assert_eq!(&*m.by_pow[0], "INSERT INTO t (a, b) VALUES (?,?)");
        assert_eq!(&*m.by_pow[1], "INSERT INTO t (a, b) VALUES (?,?),(?,?)");
        assert_eq!(m.by_pow.len(), 11); // 1 … 1024 rows
        let wide = MultiInsert::new("INSERT INTO t VALUES ", 20, "");
        assert!(20 << (wide.by_pow.len() - 1) <= MAX_PARAMS);
    }
}
