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

    let out = fenhe(&["registry", "export", "--format", "json", "--include-secrets", "--db", &db]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let back: fenhe_core::Registry = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(back, city);

    let csv_dir = dir.path().join("csv");
    let out = fenhe(&[
        "registry",
        "export",
        "--format",
        "csv",
        "--include-secrets",
        "--out",
        csv_dir.to_str().unwrap(),
        "--db",
        &db,
    ]);
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
    let out = fenhe(&["registry", "export", "--format", "json", "--include-secrets", "--db", &db2]);
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

#[test]
fn device_send_records_the_real_user_not_dollar_user() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_arg(dir.path());
    let city = fenhe_core::demo::city();
    let file = dir.path().join("city.toml");
    std::fs::write(&file, toml::to_string(&city).unwrap()).unwrap();
    assert!(fenhe(&["registry", "import", file.to_str().unwrap(), "--db", &db]).status.success());
    let mn = &city.devices[0].mn;
    // Anyone can set $USER; the command must name who really ran it.
    let out = Command::new(env!("CARGO_BIN_EXE_fenhe"))
        .args(["device", "send", mn, "1011", "--db", &db])
        .env("USER", "mallory")
        .env("LOGNAME", "mallory")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = Command::new("id").arg("-un").output().unwrap();
    let me = text(&id.stdout).trim().to_string();
    assert_ne!(me, "mallory");
    let out = fenhe(&["device", "commands", "--mn", mn, "--format", "json", "--db", &db]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line: serde_json::Value = serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(line["origin"], format!("operator:{me}"));
}

#[cfg(unix)]
fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn secrets_stay_out_of_exports_and_lists_unless_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_arg(dir.path());
    let city = fenhe_core::demo::city();
    let file = dir.path().join("city.toml");
    std::fs::write(&file, toml::to_string(&city).unwrap()).unwrap();
    assert!(fenhe(&["registry", "import", file.to_str().unwrap(), "--db", &db]).status.success());
    // The database and its key are the owner's only.
    #[cfg(unix)]
    assert_eq!((mode(Path::new(&db)), mode(&dir.path().join("t.db.key"))), (0o600, 0o600));

    let d = &city.devices[0];
    let out = fenhe(&["registry", "export", "--format", "json", "--db", &db]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let back: fenhe_core::Registry = serde_json::from_slice(&out.stdout).unwrap();
    assert!(back.devices.iter().all(|d| d.password.is_empty()), "passwords exported without being asked");
    assert!(!text(&out.stdout).contains(&format!("\"{}\"", d.password)));
    let out = fenhe(&["registry", "export", "--format", "json", "--include-secrets", "--db", &db]);
    let back: fenhe_core::Registry = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(back, city);
    let csv_dir = dir.path().join("csv");
    let out = fenhe(&[
        "registry",
        "export",
        "--format",
        "csv",
        "--include-secrets",
        "--out",
        csv_dir.to_str().unwrap(),
        "--db",
        &db,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    #[cfg(unix)]
    assert_eq!(mode(&csv_dir.join("devices.csv")), 0o600);

    let out = fenhe(&["device", "send", &d.mn, "1072", "NewPW=n3wpass", "--db", &db]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = fenhe(&["device", "commands", "--mn", &d.mn, "--format", "json", "--db", &db]);
    let line: serde_json::Value = serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(line["cp"], "NewPW=******");
    let out =
        fenhe(&["device", "commands", "--mn", &d.mn, "--format", "json", "--include-secrets", "--db", &db]);
    let line: serde_json::Value = serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(line["cp"], "NewPW=n3wpass");
    // The new password is nowhere in the database's files as plain text (its letters cannot occur
    // in the hex of a sealed value; the device passwords' sealing is the store's tests').
    let mut raw = std::fs::read(&db).unwrap();
    raw.extend(std::fs::read(format!("{db}-wal")).unwrap_or_default());
    assert!(!raw.windows(7).any(|w| w == b"n3wpass"), "the new password is in the database file");
}

#[test]
fn device_inbox_pages_with_limit_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let db = db_arg(dir.path());
    // Five strangers, one frame each, a second apart: the newest first in the inbox.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let store = fenhe_store::open(&db).await.unwrap();
        let items: Vec<fenhe_store::IngestItem> = (0..5)
            .map(|i| fenhe_store::IngestItem {
                frame: fenhe_core::FrameRecord {
                    received_at: 1_764_000_000_000 + i * 1000,
                    peer: format!("10.0.0.{i}:4000"),
                    mn: Some(format!("STRANGER{i}")),
                    cn: Some("2051".into()),
                    verdict: fenhe_core::Verdict::Unregistered,
                    reason: Some("auth: unknown MN".into()),
                    deviations: String::new(),
                    bytes: format!("frame {i}").into_bytes(),
                },
                measurements: vec![],
            })
            .collect();
        store.write_batch(&items).await.unwrap();
    });
    let page = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["device", "inbox", "--format", "json", "--db", &db];
        all.extend(args);
        let out = fenhe(&all);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["mn"].as_str().unwrap().to_string()
            })
            .collect()
    };
    assert_eq!(page(&["--limit", "2"]), ["STRANGER4", "STRANGER3"]);
    assert_eq!(page(&["--limit", "2", "--offset", "2"]), ["STRANGER2", "STRANGER1"]);
    assert_eq!(page(&["--limit", "2", "--offset", "4"]), ["STRANGER0"]);
    assert!(page(&["--offset", "5"]).is_empty());
    let out = fenhe(&["device", "inbox", "--limit", "2", "--offset", "2", "--db", &db]);
    assert!(text(&out.stdout).contains("entries 3–4 of 5; next page: --offset 4"), "{}", text(&out.stdout));
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
