//! What a SQLite database keeps from other users of the machine: its files readable by their
//! owner only, and device secrets sealed with a key in `<database>.key` (see `crate::secrets`).

use std::path::Path;

use sqlx::SqlitePool;

use crate::secrets::{self, Sealer};
use crate::{Result, StoreError};

/// The database file and its companions (`-wal`, `-shm`, `-journal`) readable and writable by
/// their owner only. A missing database file is created so, before SQLite opens it: SQLite gives
/// the files it creates beside a database the database's own permissions. Files that exist with
/// wider permissions (from an older version) are narrowed.
pub(super) fn restrict_files(db: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        let io = |path: &Path, source: std::io::Error| StoreError::Open {
            target: path.display().to_string(),
            reason: format!("cannot make {} private to its owner: {source}", path.display()),
        };
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(db)
            .map_err(|e| io(db, e))?;
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            let p = std::path::PathBuf::from(p);
            if let Ok(m) = std::fs::metadata(&p)
                && m.permissions().mode() & 0o077 != 0
                && let Err(e) = std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
            {
                // Another user's file, read by this one: say so, do not refuse to read it.
                tracing::warn!(file = %p.display(), error = %e, "cannot make a database file private to its owner");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = db;
    Ok(())
}

/// The sealer of the database file `db`: the key in `<db>.key`, or a new key there when the
/// database holds no sealed secret yet. A missing key for a database with sealed secrets is an
/// error, not a new key: the secrets would not open with it.
pub(super) async fn sealer(db: &Path, pool: &SqlitePool) -> Result<Sealer> {
    let key = secrets::key_path(db);
    if key.exists() {
        return Sealer::load(&key);
    }
    let has_devices: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'devices'")
            .fetch_optional(pool)
            .await?;
    if has_devices.is_some() {
        let sealed: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM devices WHERE password LIKE 'sealed:%' LIMIT 1")
                .fetch_optional(pool)
                .await?;
        if sealed.is_some() {
            return Err(StoreError::Secrets(format!(
                "the key file {} is missing, and the device passwords in this database were sealed with \
                 it: restore it from the backup of this database (without it the passwords must be set \
                 again)",
                key.display()
            )));
        }
    }
    Sealer::create(&key)
}

/// Seal the device passwords and 1072 command parameters still stored as plain text (by a
/// version before sealing), in one transaction. Run by `migrate`.
pub(super) async fn seal_plain(pool: &SqlitePool, sealer: &Sealer) -> Result<()> {
    let mut tx = pool.begin().await?;
    let devices: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, mn, password FROM devices WHERE password NOT LIKE 'sealed:%'")
            .fetch_all(&mut *tx)
            .await?;
    for (id, mn, password) in &devices {
        sqlx::query("UPDATE devices SET password = ? WHERE id = ?")
            .bind(sealer.seal(&secrets::device_owner(mn), password)?)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    let commands: Vec<(i64, String, String, String)> =
        sqlx::query_as("SELECT id, mn, cn, cp FROM commands WHERE cp NOT LIKE 'sealed:%'")
            .fetch_all(&mut *tx)
            .await?;
    let mut sealed_commands = 0usize;
    for (id, mn, cn, cp) in &commands {
        if !secrets::command_is_secret(cn) {
            continue;
        }
        sqlx::query("UPDATE commands SET cp = ? WHERE id = ?")
            .bind(sealer.seal(&secrets::command_owner(mn), cp)?)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sealed_commands += 1;
    }
    tx.commit().await?;
    if !devices.is_empty() || sealed_commands > 0 {
        tracing::info!(
            devices = devices.len(),
            commands = sealed_commands,
            "sealed device secrets stored as plain text"
        );
    }
    Ok(())
}
