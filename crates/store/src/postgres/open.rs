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
use crate::secrets::{self, Sealer};
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

/// What fenhe reads of a database URL besides what sqlx does.
#[derive(Debug, PartialEq, Eq)]
struct Url {
    /// The URL for sqlx: without fenhe's own parameters.
    sqlx: String,
    /// `schema=NAME` (default `public`).
    schema: String,
    /// `key=PATH`: the key file device secrets are sealed with (default
    /// `./fenhe-<database>-<schema>.key`).
    key: Option<String>,
}

/// Split fenhe's own parameters (`schema`, `key`) off `url`.
fn split_url(url: &str) -> Result<Url> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut schema = None;
    let mut key = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        if let Some(s) = pair.strip_prefix("schema=") {
            schema = Some(s.to_string());
        } else if let Some(k) = pair.strip_prefix("key=") {
            key = Some(k.to_string());
        } else {
            rest.push(pair);
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
    let sqlx = if rest.is_empty() { base.to_string() } else { format!("{base}?{}", rest.join("&")) };
    Ok(Url { sqlx, schema, key })
}

impl PgStore {
    /// Connect to the PostgreSQL database `url` (`postgres://user[:password]@host[:port]/db`,
    /// with sqlx's parameters and fenhe's own: `schema=NAME`, default `public`, created when
    /// missing; `key=PATH`, the file of the key device secrets are sealed with, default
    /// `./fenhe-<db>-<schema>.key`, created when missing and no secret is sealed yet — every
    /// process sharing the database needs the same key). Does not migrate; see
    /// [`crate::Migrate::migrate`] or [`crate::open`].
    pub async fn open(url: &str) -> Result<PgStore> {
        let Url { sqlx: url, schema, key } = split_url(url)?;
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
        let key = key
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| format!("fenhe-{database}-{schema}.key").into());
        let sealer = key_sealer(&key, &mut probe, &schema).await?;
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
            revision_window_ms: std::sync::atomic::AtomicI64::new(fenhe_core::revision::DEFAULT_WINDOW_MS),
            sealer,
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
        self.seal_plain().await?;
        self.create_partitions_ahead(fenhe_core::china_time::now_ms()).await
    }
}

/// The sealer of the database: the key in `path`, or a new key there when the schema holds no
/// sealed secret yet (a missing key for sealed secrets is an error: they would not open).
async fn key_sealer(path: &std::path::Path, conn: &mut sqlx::PgConnection, schema: &str) -> Result<Sealer> {
    if path.exists() {
        return Sealer::load(path);
    }
    let sealed: Option<bool> = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'devices')",
    )
    .bind(schema)
    .fetch_optional(&mut *conn)
    .await?;
    if sealed == Some(true) {
        let any: Option<i32> = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT 1 FROM {schema}.devices WHERE password LIKE 'sealed:%' LIMIT 1"
        )))
        .fetch_optional(&mut *conn)
        .await?;
        if any.is_some() {
            return Err(StoreError::Secrets(format!(
                "the key file {} is missing, and the device passwords in this database were sealed with it: \
                 give its path with key= in the database URL, or restore it from the backup of this \
                 database (without it the passwords must be set again)",
                path.display()
            )));
        }
    }
    Sealer::create(path)
}

impl PgStore {
    /// Seal the device passwords and 1072 command parameters still stored as plain text, in one
    /// transaction. Run by `migrate`.
    async fn seal_plain(&self) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let devices: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, mn, password FROM devices WHERE password NOT LIKE 'sealed:%' FOR UPDATE",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (id, mn, password) in &devices {
            sqlx::query("UPDATE devices SET password = $1 WHERE id = $2")
                .bind(self.sealer.seal(&secrets::device_owner(mn), password)?)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        let commands: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT id, mn, cp FROM commands WHERE cn = '1072' AND cp NOT LIKE 'sealed:%' FOR UPDATE",
        )
        .fetch_all(&mut *tx)
        .await?;
        for (id, mn, cp) in &commands {
            sqlx::query("UPDATE commands SET cp = $1 WHERE id = $2")
                .bind(self.sealer.seal(&secrets::command_owner(mn), cp)?)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
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
    fn the_schema_and_key_parameters_are_fenhes() {
        let u = split_url("postgres://u@h/db?schema=city_a&sslmode=disable&key=/etc/fenhe/k").unwrap();
        assert_eq!(
            u,
            Url {
                sqlx: "postgres://u@h/db?sslmode=disable".into(),
                schema: "city_a".into(),
                key: Some("/etc/fenhe/k".into())
            }
        );
        let u = split_url("postgres://u@h/db").unwrap();
        assert_eq!((u.sqlx.as_str(), u.schema.as_str(), u.key), ("postgres://u@h/db", "public", None));
        assert_eq!(split_url("postgres://u@h/db?schema=x").unwrap().sqlx, "postgres://u@h/db");
        for bad in ["A", "1x", "x;drop", "", "x-y"] {
            let e = split_url(&format!("postgres://u@h/db?schema={bad}")).unwrap_err();
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
