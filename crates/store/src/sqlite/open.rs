//! Opening the SQLite database: the write and read pools, the checkpoint task, migrations, and
//! saying plainly why a database cannot be opened.

use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::dirty::DirtyMarks;
use super::ids::Ids;
use super::{DEFAULT_PATH, SqliteStore, at_rest, checkpoint, legacy};
use crate::{Migrate, Result, StoreError};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Connections in the read pool of a file database.
const READ_CONNECTIONS: u32 = 4;

impl SqliteStore {
    /// Open (creating if missing) the database `db`: a plain path, `sqlite://path[?…]` or
    /// `sqlite::memory:`. Does not migrate; see [`crate::Migrate::migrate`] or [`crate::open`].
    pub async fn open(db: &str) -> Result<SqliteStore> {
        if db.trim().is_empty() {
            return Err(StoreError::Invalid(format!("empty database path (the default is {DEFAULT_PATH})")));
        }
        let rest = db.strip_prefix("sqlite://").or_else(|| db.strip_prefix("sqlite:"));
        let memory = rest.unwrap_or(db).starts_with(":memory:") || db.contains("mode=memory");
        let base = match rest {
            Some(_) => SqliteConnectOptions::from_str(db)?,
            None if db == ":memory:" => SqliteConnectOptions::from_str("sqlite::memory:")?,
            None => SqliteConnectOptions::new().filename(db),
        }
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
        if !memory {
            check_directory(base.get_filename())?;
            at_rest::restrict_files(base.get_filename())?;
        }

        let write_opts = base
            .clone()
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            // Keep the hot pages of the big tables in memory (256 MiB): a batch touches the newest
            // leaf page of every device it holds in measurements and in frames_mn, some 20,000
            // pages (80 MB) at 10,000 devices, and these must not be read back every batch.
            .pragma("cache_size", "-262144")
            // Do not let the WAL file stay larger than 256 MiB after a checkpoint (the checkpoint
            // task restarts it from 192 MiB).
            .pragma("journal_size_limit", "268435456")
            // Checkpoints run on a connection of their own (`checkpoint`); this is the backstop
            // should that stop (100 000 pages, ~400 MB). A checkpoint started here runs in the
            // committing call.
            .pragma("wal_autocheckpoint", "100000")
            .pragma("temp_store", "MEMORY")
            .optimize_on_close(true, None);
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            // The one write connection lives as long as the store: its statement cache stays
            // warm, and an in-memory database would vanish with its last connection.
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(write_opts)
            .await
            .map_err(|e| cannot_open(db, e))?;
        let sealer = if memory {
            crate::secrets::Sealer::ephemeral()?
        } else {
            at_rest::sealer(base.get_filename(), &write).await?
        };
        let checkpointer = if memory {
            None
        } else {
            let opts = base.clone().synchronous(SqliteSynchronous::Full);
            Some(checkpoint::Checkpointer::start(opts, write.clone()).await?)
        };
        let read = if memory {
            // Separate connections to a shared-cache memory database lock each other at table
            // level instead of using WAL snapshots; read through the single connection instead.
            write.clone()
        } else {
            let read_opts = base.pragma("query_only", "ON").pragma("cache_size", "-16384");
            SqlitePoolOptions::new().max_connections(READ_CONNECTIONS).connect_with(read_opts).await?
        };
        Ok(SqliteStore {
            write,
            read,
            ids: Mutex::new(Ids::default()),
            dirty: Mutex::new(DirtyMarks::default()),
            checkpointer,
            sealer,
        })
    }

    /// Close both pools, waiting for connections in use to be returned. Afterwards every call
    /// fails. Dropping the store without closing is safe too: whatever was committed is durable.
    pub async fn close(&self) {
        if let Some(c) = &self.checkpointer {
            c.stop();
        }
        self.write.close().await;
        self.read.close().await;
    }
}

#[async_trait]
impl Migrate for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.write).await.map_err(|e| StoreError::Migrate(e.to_string()))?;
        legacy::convert(&self.write).await?;
        at_rest::seal_plain(&self.write, &self.sealer).await?;
        Ok(())
    }
}

/// SQLite creates a missing database file but not its directory, and then says only "unable to
/// open database file": say which directory is missing instead.
fn check_directory(file: &Path) -> Result<()> {
    let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) else { return Ok(()) };
    let reason = if !dir.exists() {
        format!("the directory {} does not exist; create it or pass another --db", dir.display())
    } else if !dir.is_dir() {
        format!("{} is not a directory; pass another --db", dir.display())
    } else {
        return Ok(());
    };
    Err(StoreError::Open { target: file.display().to_string(), reason })
}

fn cannot_open(db: &str, e: sqlx::Error) -> StoreError {
    match StoreError::from(e) {
        StoreError::Database(reason) => StoreError::Open { target: db.to_string(), reason },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("no/such/x.db");
        let e = check_directory(&file).unwrap_err();
        let want = format!(
            "the directory {} does not exist; create it or pass another --db",
            dir.path().join("no/such").display()
        );
        assert_eq!(e.to_string(), want);
        assert!(std::error::Error::source(&e).is_none(), "the reason is said once");
        assert!(check_directory(&dir.path().join("x.db")).is_ok());
        assert!(check_directory(Path::new("x.db")).is_ok(), "the current directory");
        let not_dir = dir.path().join("plain");
        std::fs::write(&not_dir, b"").unwrap();
        let e = check_directory(&not_dir.join("x.db")).unwrap_err();
        assert!(e.to_string().ends_with("is not a directory; pass another --db"), "{e}");
    }
}
