//! Connecting to PostgreSQL: the URL (with fenhe's own `schema` parameter), one probing
//! connection that says plainly why a server cannot be used, the pool, migrations.

use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

use super::{Ids, PgStore};
use crate::{Migrate, Result, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per process: the ingest writer holds one per batch, the web and the engine the
/// rest.
const MAX_CONNECTIONS: u32 = 10;
/// A statement slower than this is logged as a warning.
const SLOW_STATEMENT: Duration = Duration::from_secs(30);
/// How long opening waits for the server to answer before saying it does not.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `db` names a PostgreSQL database (`postgres://…` or `postgresql://…`).
pub fn is_postgres_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// A schema name fenhe accepts: it is written into SQL, so only letters, digits and `_`,
/// not starting with a digit.
fn valid_schema(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && !b[0].is_ascii_digit()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// `url` without its `schema=NAME` parameter, and that name (`public` when none).
fn split_schema(url: &str) -> Result<(String, String)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), "public".into()));
    };
    let mut schema = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.strip_prefix("schema=") {
            Some(s) => schema = Some(s.to_string()),
            None => rest.push(pair),
        }
    }
    let schema = schema.unwrap_or_else(|| "public".into());
    if !valid_schema(&schema) {
        return Err(StoreError::Open {
            target: crate::shown(url).into_owned(),
            reason: format!(
                "schema {schema:?} in the database URL: use lower-case letters, digits and _ only"
            ),
        });
    }
    let url = if rest.is_empty() { base.to_string() } else { format!("{base}?{}", rest.join("&")) };
    Ok((url, schema))
}

impl PgStore {
    /// Connect to the PostgreSQL database `url` (`postgres://user[:password]@host[:port]/db`,
    /// with sqlx's parameters and fenhe's `schema=NAME`, default `public`; the schema is created
    /// when missing). Does not migrate; see [`crate::Migrate::migrate`] or [`crate::open`].
    pub async fn open(url: &str) -> Result<PgStore> {
        let (url, schema) = split_schema(url)?;
        let opts = PgConnectOptions::from_str(&url)
            .map_err(|e| StoreError::Open {
                target: crate::shown(&url).into_owned(),
                reason: format!("not a PostgreSQL URL fenhe can use: {e}"),
            })?
            .application_name("fenhe")
            .options([("search_path", schema.as_str())])
            // Every statement at TRACE (an ingest batch is a few statements of large arrays);
            // one that takes longer than this is worth a warning even on a loaded machine.
            .log_statements(log::LevelFilter::Trace)
            .log_slow_statements(log::LevelFilter::Warn, SLOW_STATEMENT);
        let target = format!("{}:{}", opts.get_host(), opts.get_port());
        let database = opts.get_database().unwrap_or(opts.get_username()).to_string();
        // One connection first, so that the reason a server cannot be used is said as it is
        // (the pool would retry until its timeout and report only that).
        let mut probe = match tokio::time::timeout(CONNECT_TIMEOUT, opts.connect()).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => return Err(cannot_connect(&target, &database, e)),
            Err(_) => {
                return Err(StoreError::Open {
                    target: target.clone(),
                    reason: format!(
                        "PostgreSQL at {target} did not answer within {} s: check that the host and \
                         port in --db (or FENHE_DB) are right and reachable",
                        CONNECT_TIMEOUT.as_secs()
                    ),
                });
            }
        };
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS {schema}")))
            .execute(&mut probe)
            .await
            .map_err(|e| match e {
                sqlx::Error::Database(d) if d.code().as_deref() == Some("42501") => StoreError::Open {
                    target: target.clone(),
                    reason: format!(
                        "the user {} may not create the schema {schema} in database {database}: create \
                         it as its owner, or grant CREATE on the database",
                        opts.get_username()
                    ),
                },
                other => other.into(),
            })?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(Duration::from_secs(30))
            .connect_lazy_with(opts);
        Ok(PgStore {
            pool,
            schema,
            partitions: Mutex::new(HashSet::new()),
            ids: Mutex::new(Ids::default()),
            codes: Mutex::new(None),
        })
    }

    /// The schema this store's tables are in.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Close the pool, waiting for connections in use to be returned. Afterwards every call
    /// fails.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl Migrate for PgStore {
    async fn migrate(&self) -> Result<()> {
        // sqlx takes an advisory lock for the run: two processes starting together migrate once.
        MIGRATOR.run(&self.pool).await.map_err(|e| StoreError::Migrate(e.to_string()))?;
        self.create_partitions_ahead(fenhe_core::china_time::now_ms()).await
    }
}

/// Why the server at `target` cannot be used, said once, with what to do.
fn cannot_connect(target: &str, database: &str, e: sqlx::Error) -> StoreError {
    let reason = match &e {
        sqlx::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => format!(
                "PostgreSQL refused the connection at {target}: is the server running and listening \
                 there? Check the host and port in --db (or FENHE_DB)"
            ),
            _ => format!(
                "cannot reach PostgreSQL at {target}: {io}; check the host and port in --db (or FENHE_DB)"
            ),
        },
        sqlx::Error::Tls(t) => format!("TLS with PostgreSQL at {target} failed: {t}; check sslmode in --db"),
        sqlx::Error::Database(d) => match d.code().as_deref() {
            Some("3D000") => format!(
                "database {database:?} does not exist on {target}: create it (createdb {database}) or \
                 name another in --db"
            ),
            Some("28P01" | "28000") => {
                format!(
                    "PostgreSQL at {target} refused the login: {}; check the user and password in --db",
                    d.message()
                )
            }
            Some("57P03") => {
                format!("PostgreSQL at {target} is starting up or shutting down; try again in a moment")
            }
            Some("53300") => format!(
                "PostgreSQL at {target} has no connection slot free (max_connections): close idle \
                 clients or raise max_connections"
            ),
            _ => format!("PostgreSQL at {target}: {}", d.message()),
        },
        other => format!("cannot connect to PostgreSQL at {target}: {other}"),
    };
    StoreError::Open { target: target.to_string(), reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_parameter_is_fenhes() {
        let (url, schema) = split_schema("postgres://u@h/db?schema=city_a&sslmode=disable").unwrap();
        assert_eq!((url.as_str(), schema.as_str()), ("postgres://u@h/db?sslmode=disable", "city_a"));
        let (url, schema) = split_schema("postgres://u@h/db").unwrap();
        assert_eq!((url.as_str(), schema.as_str()), ("postgres://u@h/db", "public"));
        let (url, _) = split_schema("postgres://u@h/db?schema=x").unwrap();
        assert_eq!(url, "postgres://u@h/db");
        for bad in ["A", "1x", "x;drop", "", "x-y"] {
            let e = split_schema(&format!("postgres://u@h/db?schema={bad}")).unwrap_err();
            assert!(matches!(e, StoreError::Open { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn postgres_urls() {
        assert!(is_postgres_url("postgres://x/y"));
        assert!(is_postgres_url("postgresql://x/y"));
        assert!(!is_postgres_url("./fenhe.db"));
        assert!(!is_postgres_url("sqlite://x.db"));
    }

    #[tokio::test]
    async fn a_refused_connection_is_said_once_with_what_to_do() {
        // A port nothing listens on: bind one, note it, let it go.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let e = match PgStore::open(&format!("postgres://postgres@127.0.0.1:{port}/test")).await {
            Err(e) => e,
            Ok(_) => panic!("nothing listens on {port}"),
        };
        let msg = e.to_string();
        assert!(msg.contains(&format!("refused the connection at 127.0.0.1:{port}")), "{msg}");
        assert!(msg.contains("--db"), "{msg}");
        assert!(std::error::Error::source(&e).is_none(), "the reason is said once");
    }
}
