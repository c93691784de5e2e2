//! `registry import`: files validated, every attempt kept on record (a refused one with its
//! problems), and a valid registry applied.

use std::path::Path;

use fenhe_core::Registry;
use fenhe_store::{ImportRecord, Store};

use crate::registry_files::{self, Problems};

/// Load and validate the files: the registry, or every problem found.
pub fn validate(paths: &[&Path]) -> Result<Registry, Problems> {
    registry_files::load_files(paths)
}

/// Keep a refused import on record with every problem, not only printed.
pub async fn record_refusal(
    store: &dyn Store,
    files: Vec<String>,
    problems: &Problems,
    now: i64,
) -> fenhe_store::Result<()> {
    store
        .record_import(&ImportRecord {
            at: now,
            files,
            ok: false,
            summary: format!("{} problem(s); nothing was imported", problems.0.len()),
            problems: problems.0.iter().map(|p| p.to_string()).collect(),
        })
        .await?;
    Ok(())
}

/// Apply a valid registry and record the import; returns its summary
/// (`imported N enterprises, N outlets, N devices`).
pub async fn import(
    store: &dyn Store,
    registry: &Registry,
    files: Vec<String>,
    now: i64,
) -> fenhe_store::Result<String> {
    let s = store.import_registry(registry).await?;
    let summary =
        format!("imported {} enterprises, {} outlets, {} devices", s.enterprises, s.outlets, s.devices);
    store
        .record_import(&ImportRecord { at: now, files, ok: true, summary: summary.clone(), problems: vec![] })
        .await?;
    Ok(summary)
}
