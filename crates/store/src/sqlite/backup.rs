//! `fenhe backup` on SQLite: a consistent copy of a database that may be serving, made with
//! `VACUUM INTO` (one read transaction: writers go on, the copy is the state of one instant),
//! then checked — the copy opened on its own, `PRAGMA integrity_check`, and the row counts of
//! the main tables, which must lie between the source's counts taken just before and just after
//! the copy (the copy's instant is between the two). The seal key (`<database>.key`) is copied
//! beside the copy: without it the device passwords in the copy cannot be opened.

use std::path::{Path, PathBuf};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AssertSqlSafe, Connection as _};

use super::SqliteStore;
use crate::secrets::key_path;
use crate::{Result, StoreError};

/// The tables whose rows are counted in the source and the copy.
pub const COUNTED_TABLES: [&str; 13] = [
    "enterprises",
    "outlets",
    "devices",
    "frames",
    "measurement_sets",
    "aggregates",
    "episodes",
    "findings",
    "alarms",
    "users",
    "audit_log",
    "workflow_items",
    "workflow_steps",
];

/// One table's rows: in the source before and after the copy, and in the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCount {
    pub table: &'static str,
    pub before: u64,
    pub copy: u64,
    pub after: u64,
}

impl TableCount {
    /// The copy holds a count the source had at some instant of the copy.
    pub fn consistent(&self) -> bool {
        self.before.min(self.after) <= self.copy && self.copy <= self.before.max(self.after)
    }
}

/// What a backup wrote and what its check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub source: PathBuf,
    pub copy: PathBuf,
    /// The seal key copied beside the copy (`None`: the source has none).
    pub key: Option<PathBuf>,
    pub bytes: u64,
    /// `PRAGMA integrity_check` of the copy: `ok`, or SQLite's list of problems.
    pub integrity: String,
    pub tables: Vec<TableCount>,
}

impl BackupReport {
    /// The copy passed its integrity check and every count is consistent with the source.
    pub fn verified(&self) -> bool {
        self.integrity == "ok" && self.tables.iter().all(TableCount::consistent)
    }
}

fn count(n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative row count {n}")))
}

async fn counts(conn: &mut sqlx::SqliteConnection) -> Result<Vec<u64>> {
    let mut tx = conn.begin().await?;
    let mut out = Vec::with_capacity(COUNTED_TABLES.len());
    for t in COUNTED_TABLES {
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {t}")))
            .fetch_one(&mut *tx)
            .await?;
        out.push(count(n)?);
    }
    tx.rollback().await?;
    Ok(out)
}

fn io(path: &Path, what: &str, e: std::io::Error) -> StoreError {
    StoreError::Invalid(format!("{what} {}: {e}", path.display()))
}

/// Copy the seal key to `to`, readable by its owner only.
fn copy_key(from: &Path, to: &Path) -> Result<()> {
    if to.exists() {
        return Err(StoreError::Invalid(format!("{} exists already; not overwritten", to.display())));
    }
    std::fs::copy(from, to).map_err(|e| io(to, "cannot copy the seal key to", e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| io(to, "cannot make the seal key private:", e))?;
    }
    Ok(())
}

/// `VACUUM INTO target` from `source`, with the source's counts just before and just after.
async fn copy_into(source: &Path, target: &str) -> Result<(Vec<u64>, Vec<u64>)> {
    // A connection of its own: the read pool's are read-only, which VACUUM INTO would carry over
    // to the file it writes; VACUUM INTO itself only reads the source.
    let mut conn = sqlx::SqliteConnection::connect_with(
        &SqliteConnectOptions::new()
            .filename(source)
            .create_if_missing(false)
            .busy_timeout(std::time::Duration::from_secs(10)),
    )
    .await?;
    let before = counts(&mut conn).await?;
    sqlx::query("VACUUM INTO ?1").bind(target).execute(&mut conn).await?;
    let after = counts(&mut conn).await?;
    conn.close().await?;
    Ok((before, after))
}

impl SqliteStore {
    /// Copy this database to the new file `to` (refused if it exists) and check the copy.
    pub async fn backup_to(&self, to: &Path) -> Result<BackupReport> {
        let source: String = sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_one(&self.read)
            .await?;
        if source.is_empty() {
            return Err(StoreError::Invalid("an in-memory database has no file to back up".into()));
        }
        let source = PathBuf::from(source);
        if to.exists() {
            return Err(StoreError::Invalid(format!("{} exists already; not overwritten", to.display())));
        }
        let target = to.to_str().ok_or_else(|| {
            StoreError::Invalid(format!("the backup path {} is not valid UTF-8", to.display()))
        })?;
        // Created empty and private first: VACUUM INTO writes into an empty file, and the copy
        // holds what the database holds.
        super::at_rest::restrict_files(to)?;
        let (before, after) = match copy_into(&source, target).await {
            Ok(counts) => counts,
            Err(e) => {
                // A half-written copy is no backup; it would also block the next attempt.
                let _ = std::fs::remove_file(to);
                return Err(e);
            }
        };

        let key = key_path(&source);
        let key = if key.exists() {
            let copy_key_to = key_path(to);
            copy_key(&key, &copy_key_to)?;
            Some(copy_key_to)
        } else {
            None
        };

        let mut copy = sqlx::SqliteConnection::connect_with(
            &SqliteConnectOptions::new().filename(to).read_only(true).create_if_missing(false),
        )
        .await?;
        let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&mut copy).await?;
        let copied = counts(&mut copy).await?;
        copy.close().await?;
        let tables = COUNTED_TABLES
            .iter()
            .zip(before.iter().zip(copied.iter().zip(after.iter())))
            .map(|(&table, (&before, (&copy, &after)))| TableCount { table, before, copy, after })
            .collect();
        let bytes = std::fs::metadata(to).map_err(|e| io(to, "cannot read the size of", e))?.len();
        Ok(BackupReport {
            source,
            copy: to.to_path_buf(),
            key,
            bytes,
            integrity: problems.join("; "),
            tables,
        })
    }
}
