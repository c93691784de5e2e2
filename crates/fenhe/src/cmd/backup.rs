//! `fenhe backup --to FILE`: a checked copy of a SQLite database, safe while `serve` runs. A
//! PostgreSQL database is backed up with PostgreSQL's own tools (docs/DEPLOYMENT.md).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use fenhe_store::sqlite::{BackupReport, SqliteStore};

/// Back up the SQLite database `db` to `to`; with `force`, an existing `to` (and its key file)
/// is replaced. Returns whether the copy passed its checks.
pub async fn run(db: &str, to: &Path, force: bool, out: &mut dyn Write) -> Result<bool> {
    if fenhe_store::postgres::is_postgres_url(db) {
        bail!(
            "fenhe backup copies SQLite databases only; for PostgreSQL ({}) use pg_dump (a logical dump) or \
             pg_basebackup with WAL archiving (point-in-time recovery): see docs/DEPLOYMENT.md, \"Backups\"",
            fenhe_store::shown(db)
        );
    }
    let file = db.strip_prefix("sqlite://").or_else(|| db.strip_prefix("sqlite:")).unwrap_or(db);
    let file = file.split('?').next().unwrap_or(file);
    if file.contains(":memory:") || db.contains("mode=memory") {
        bail!("{db} is an in-memory database: there is no file to back up");
    }
    if !Path::new(file).is_file() {
        bail!("no database at {file}: nothing to back up (give the serving database with --db or FENHE_DB)");
    }
    let key = fenhe_store::secrets::key_path(to);
    for existing in [to, key.as_path()] {
        if existing.exists() {
            if !force {
                bail!("{} exists already; give another --to, or --force to replace it", existing.display());
            }
            std::fs::remove_file(existing)
                .with_context(|| format!("cannot replace {}", existing.display()))?;
        }
    }
    let store = SqliteStore::open(db).await.with_context(|| format!("cannot open the database {file}"))?;
    let report =
        store.backup_to(to).await.with_context(|| format!("backup of {file} to {}", to.display()))?;
    print(&report, out)?;
    Ok(report.verified())
}

fn print(r: &BackupReport, out: &mut dyn Write) -> Result<()> {
    writeln!(out, "备份 backup: {} -> {} ({} bytes)", r.source.display(), r.copy.display(), r.bytes)?;
    match &r.key {
        Some(k) => writeln!(
            out,
            "密钥 seal key copied to {} — keep it with the copy: without it the device passwords in the copy cannot be opened",
            k.display()
        )?,
        None => writeln!(out, "密钥 no seal key beside the source (no sealed device secrets)")?,
    }
    writeln!(out, "integrity_check: {}", r.integrity)?;
    writeln!(out, "table\tsource before\tcopy\tsource after\tcheck")?;
    for t in &r.tables {
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            t.table,
            t.before,
            t.copy,
            t.after,
            if t.consistent() { "ok" } else { "MISMATCH" }
        )?;
    }
    if r.verified() {
        writeln!(out, "备份已校验 the copy opens, passes its integrity check and holds the source's rows")?;
    } else {
        writeln!(out, "备份校验失败 the copy FAILED its check: do not rely on it")?;
    }
    Ok(())
}
