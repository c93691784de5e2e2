//! The record of registry import attempts (`imports`), refused ones included.

use super::SqliteStore;
use super::convert::from_json;
use crate::{ImportRecord, Result, StoreError, StoredImport};

#[derive(sqlx::FromRow)]
struct ImportRow {
    id: i64,
    at: i64,
    files: String,
    ok: bool,
    summary: String,
    problems: String,
}

pub(super) async fn record(s: &SqliteStore, r: &ImportRecord) -> Result<i64> {
    let json = |v: &Vec<String>| serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()));
    Ok(sqlx::query_scalar(
        "INSERT INTO imports (at, files, ok, summary, problems) VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(r.at)
    .bind(json(&r.files)?)
    .bind(i64::from(r.ok))
    .bind(&r.summary)
    .bind(json(&r.problems)?)
    .fetch_one(&s.write)
    .await?)
}

pub(super) async fn list(s: &SqliteStore, limit: u32) -> Result<Vec<StoredImport>> {
    let rows: Vec<ImportRow> =
        sqlx::query_as("SELECT id, at, files, ok, summary, problems FROM imports ORDER BY id DESC LIMIT ?")
            .bind(i64::from(limit))
            .fetch_all(&s.read)
            .await?;
    rows.into_iter()
        .map(|r| {
            Ok(StoredImport {
                id: r.id,
                record: ImportRecord {
                    at: r.at,
                    files: from_json(&r.files, "imports.files")?,
                    ok: r.ok,
                    summary: r.summary,
                    problems: from_json(&r.problems, "imports.problems")?,
                },
            })
        })
        .collect()
}
