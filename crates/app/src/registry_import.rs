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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_attempt_is_on_record_and_only_a_valid_one_applies() {
        let dir = tempfile::tempdir().unwrap();
        let store = fenhe_store::open(dir.path().join("import.db").to_str().unwrap()).await.unwrap();

        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "[[devices]]\nmn = \"X\"\n").unwrap();
        let problems = validate(&[bad.as_path()]).unwrap_err();
        assert!(!problems.0.is_empty());
        record_refusal(store.as_ref(), vec!["bad.toml".into()], &problems, 1_000).await.unwrap();
        assert!(store.registry().await.unwrap().devices.is_empty());

        let city = fenhe_core::demo::city();
        let good = dir.path().join("city.toml");
        std::fs::write(&good, registry_files::to_toml(&city).unwrap()).unwrap();
        let registry = validate(&[good.as_path()]).unwrap();
        let summary = import(store.as_ref(), &registry, vec!["city.toml".into()], 2_000).await.unwrap();
        assert_eq!(
            summary,
            format!(
                "imported {} enterprises, {} outlets, {} devices",
                city.enterprises.len(),
                city.outlets.len(),
                city.devices.len()
            )
        );
        assert_eq!(store.registry().await.unwrap().devices.len(), city.devices.len());

        // Newest first: the import, then the refusal with its problems.
        let imports = store.imports(10).await.unwrap();
        let seen: Vec<(i64, bool, usize)> =
            imports.iter().map(|i| (i.record.at, i.record.ok, i.record.problems.len())).collect();
        assert_eq!(seen, [(2_000, true, 0), (1_000, false, problems.0.len())]);
    }
}
