//! A `WHERE` clause built from optional filters, with its arguments numbered as PostgreSQL wants
//! them (`$1`, `$2`, …): each condition is written with one `?`, replaced by the next number.

use std::fmt::Write as _;

use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, FromRow, PgPool};

use crate::Result;

enum Arg<'a> {
    Int(i64),
    Text(&'a str),
    Texts(&'a [String]),
}

pub(super) struct Filter<'a> {
    sql: String,
    args: Vec<Arg<'a>>,
}

impl<'a> Filter<'a> {
    pub(super) fn new(select: &str) -> Filter<'a> {
        Filter { sql: format!("{select} WHERE true"), args: Vec::new() }
    }

    fn push(&mut self, cond: &str, arg: Arg<'a>) {
        self.args.push(arg);
        let n = self.args.len();
        let _ = write!(self.sql, " AND {}", cond.replacen('?', &format!("${n}"), 1));
    }

    pub(super) fn text(&mut self, cond: &str, v: Option<&'a str>) {
        if let Some(v) = v {
            self.push(cond, Arg::Text(v));
        }
    }

    pub(super) fn int(&mut self, cond: &str, v: Option<i64>) {
        if let Some(v) = v {
            self.push(cond, Arg::Int(v));
        }
    }

    /// A condition on a list of texts (`state = ANY(?)`), bound as a `text[]`; none when the
    /// list is empty.
    pub(super) fn texts(&mut self, cond: &str, v: &'a [String]) {
        if !v.is_empty() {
            self.push(cond, Arg::Texts(v));
        }
    }

    /// Rows whose `start_at` is within `[from, to)`, each bound optional.
    pub(super) fn starts_within(&mut self, from: Option<i64>, to: Option<i64>) {
        self.int("start_at >= ?", from);
        self.int("start_at < ?", to);
    }

    pub(super) fn raw(&mut self, cond: &str) {
        let _ = write!(self.sql, " AND {cond}");
    }

    pub(super) async fn fetch<T>(self, pool: &PgPool, order: &str, limit: Option<u32>) -> Result<Vec<T>>
    where
        T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        self.fetch_page(pool, order, limit, None).await
    }

    /// The rows, ordered by `order`, at most `limit`, after skipping `offset`.
    pub(super) async fn fetch_page<T>(
        mut self,
        pool: &PgPool,
        order: &str,
        limit: Option<u32>,
        offset: Option<u32>,
    ) -> Result<Vec<T>>
    where
        T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        let _ = write!(self.sql, " ORDER BY {order}");
        if let Some(l) = limit {
            let _ = write!(self.sql, " LIMIT {l}");
        }
        if let Some(o) = offset {
            let _ = write!(self.sql, " OFFSET {o}");
        }
        let mut q = sqlx::query_as::<_, T>(AssertSqlSafe(self.sql));
        for a in self.args {
            q = match a {
                Arg::Int(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::Texts(v) => q.bind(v),
            };
        }
        Ok(q.fetch_all(pool).await?)
    }

    /// How many rows match (the select must be a `SELECT count(*) …`).
    pub(super) async fn count(self, pool: &PgPool) -> Result<i64> {
        let mut q = sqlx::query_scalar::<_, i64>(AssertSqlSafe(self.sql));
        for a in self.args {
            q = match a {
                Arg::Int(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::Texts(v) => q.bind(v),
            };
        }
        Ok(q.fetch_one(pool).await?)
    }
}
