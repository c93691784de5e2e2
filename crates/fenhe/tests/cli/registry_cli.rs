//! `fenhe registry import/export` and `fenhe data|device` against a real SQLite file.

use std::path::Path;
use std::process::{Command, Output};

fn fenhe(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fenhe")).args(args).output().expect("run fenhe")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn db_arg(dir: &Path) -> String {
    dir.join("t.db").display().to_string()
}

#[test]
fn import_then_export_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_arg(dir.path());
    let city = fenhe_core::demo::city();
    let file = dir.path().join("city.toml");
    std::fs::write(&file, toml::to_string(&city).unwrap()).unwrap();
    let out = fenhe(&["registry", "import", file.to_str().unwrap(), "--db", &db]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("imported 19 enterprises, 40 outlets, 40 devices"),
        "{}",
        text(&out.stderr)
    );

    let out = fenhe(&["registry", "export", "--format", "json", "--db", &db]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let back: fenhe_core::Registry = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(back, city);

    let csv_dir = dir.path().join("csv");
    let out =
        fenhe(&["registry", "export", "--format", "csv", "--out", csv_dir.to_str().unwrap(), "--db", &db]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The CSV lists import into a fresh database and give the same registry.
    let db2 = dir.path().join("t2.db").display().to_string();
    let files: Vec<String> = ["enterprises.csv", "outlets.csv", "devices.csv"]
        .iter()
        .map(|f| csv_dir.join(f).display().to_string())
        .collect();
    let mut args = vec!["registry", "import"];
    args.extend(files.iter().map(|s| s.as_str()));
    args.extend(["--db", &db2]);
    let out = fenhe(&args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = fenhe(&["registry", "export", "--format", "json", "--db", &db2]);
    let back: fenhe_core::Registry = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(back, city);

    let out = fenhe(&["device", "list", "--format", "json", "--db", &db]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 40);
}

#[test]
fn import_reports_every_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_arg(dir.path());
    let ent = dir.path().join("enterprises.csv");
    std::fs::write(
        &ent,
        "id,name,uscc,ownership,industry\n\
         E01,甲焦化,91350100M000100Y43,provincial_soe,coking\n\
         E02,乙钢铁,91350100M000100Y44,state,steel\n",
    )
    .unwrap();
    let dev = dir.path().join("devices.csv");
    std::fs::write(&dev, "mn,password,outlet\nM1,123456,nowhere\n").unwrap();
    let out = fenhe(&["registry", "import", ent.to_str().unwrap(), dev.to_str().unwrap(), "--db", &db]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("enterprises.csv:3: ownership: \"state\" is not one of"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");

    // Fix the ownership: now the semantic problems appear, with file and line.
    std::fs::write(
        &ent,
        "id,name,uscc,ownership,industry\n\
         E01,甲焦化,91350100M000100Y43,provincial_soe,coking\n\
         E02,乙钢铁,91350100M000100Y44,local_soe,steel\n",
    )
    .unwrap();
    let out = fenhe(&["registry", "import", ent.to_str().unwrap(), dev.to_str().unwrap(), "--db", &db]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("enterprises.csv:3: enterprises[1].uscc:"), "{err}");
    assert!(err.contains("check character"), "{err}");
    assert!(err.contains("devices.csv:2: devices[0].outlet: no outlet has id \"nowhere\""), "{err}");

    let out = fenhe(&["registry", "export", "--format", "json", "--db", &db]);
    let back: fenhe_core::Registry = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(back, fenhe_core::Registry::default(), "a file with errors must change nothing");

    // Both refused attempts are on record, with their problems.
    let out = fenhe(&["registry", "imports", "--format", "json", "--db", &db]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let attempts: Vec<serde_json::Value> =
        text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(attempts.len(), 2);
    assert_eq!(attempts[0]["ok"], false);
    let problems = attempts[0]["problems"].as_array().unwrap();
    assert!(
        problems.iter().any(|p| p.as_str().unwrap().contains("devices.csv:2: devices[0].outlet")),
        "{problems:?}"
    );
    assert!(
        attempts[1]["problems"].as_array().unwrap().iter().any(|p| p.as_str().unwrap().contains("ownership"))
    );
}

#[test]
fn device_send_refuses_unknown_devices() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_arg(dir.path());
    let out = fenhe(&["device", "send", "NOPE", "1011", "--db", &db]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no registered device has MN NOPE"));
}

/// A limit from a time of day is refused by `registry import` (TOML and CSV) and `replay`, with
/// the value and why, never cut to its date; nothing is imported.
#[test]
fn a_limit_with_a_time_of_day_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_arg(dir.path());
    let city = fenhe_core::demo::city();
    let from = city.outlets.iter().flat_map(|o| &o.limits).next().unwrap().effective_from.to_string();
    let toml_text = toml::to_string(&city).unwrap();
    let timed = toml_text.replacen(&format!("\"{from}\""), &format!("\"{from}T08:00\""), 1);
    assert_ne!(timed, toml_text);
    let file = dir.path().join("city.toml");
    std::fs::write(&file, &timed).unwrap();
    for args in [
        vec!["registry", "import", file.to_str().unwrap(), "--db", &db],
        vec![
            "replay",
            "--registry",
            file.to_str().unwrap(),
            "--input",
            file.to_str().unwrap(),
            "--out",
            "x.json",
        ],
    ] {
        let out = fenhe(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(&format!("\"{from}T08:00\" has a time of day")), "{args:?}: {err}");
    }
    let out = fenhe(&["registry", "export", "--format", "json", "--db", &db]);
    let back: fenhe_core::Registry = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert!(back.outlets.is_empty(), "nothing imported");
}
