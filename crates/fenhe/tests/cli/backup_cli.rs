//! `fenhe backup`: a SQLite database copied while a writer writes; the copy opens (with its seal
//! key) and holds the rows; an existing file is not overwritten without `--force`; a PostgreSQL
//! URL is pointed at PostgreSQL's own tools.

use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use fenhe_core::{FrameRecord, Measurement, Values, Verdict};
use fenhe_store::IngestItem;

use crate::common::{self, bin};

const MN: &str = "BACKUP00000000000000001";
/// 2026-10-01 00:00 China time.
const T0: i64 = 1_790_784_000_000;
const MINUTE: i64 = 60_000;

fn fenhe(args: &[&str]) -> Output {
    Command::new(bin()).args(args).env_remove("FENHE_DB").output().unwrap()
}

fn upload(minute: i64) -> IngestItem {
    let data_time = T0 + minute * MINUTE;
    IngestItem {
        frame: FrameRecord {
            received_at: data_time + 1000,
            peer: "127.0.0.1:9".into(),
            mn: Some(MN.into()),
            cn: Some("2051".into()),
            bytes: format!("upload {minute}").into_bytes(),
            verdict: Verdict::Accepted,
            reason: None,
            deviations: String::new(),
        },
        measurements: vec![Measurement {
            mn: MN.into(),
            cn: "2051".into(),
            data_time,
            factor: "a21026".into(),
            raw_code: "a21026".into(),
            values: Values { avg: Some(minute as f64), flag: Some("N".into()), ..Default::default() },
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serving_database_is_copied_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("src.db");
    let db = db_path.to_str().unwrap().to_string();
    let store = fenhe_store::open(&db).await.unwrap();
    let (mut registry, gas, _) = common::two_outlets();
    let spec = fenhe_sim::DeviceSpec::flue_gas(MN, 1);
    registry.devices = vec![common::device_for(&spec, &gas)];
    store.import_registry(&registry).await.unwrap();
    store.write_batch(&(0..500).map(upload).collect::<Vec<_>>()).await.unwrap();

    // A writer keeps writing while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU64::new(500));
    let writer = {
        let (store, stop, written) = (store.clone(), stop.clone(), written.clone());
        tokio::spawn(async move {
            let mut minute = 500;
            while !stop.load(Ordering::SeqCst) {
                store.write_batch(&(minute..minute + 20).map(upload).collect::<Vec<_>>()).await.unwrap();
                minute += 20;
                written.store(minute as u64, Ordering::SeqCst);
            }
        })
    };
    let copy = dir.path().join("copy.db");
    let copy_s = copy.to_str().unwrap().to_string();
    let args = ["backup", "--db", &db, "--to", &copy_s].map(String::from);
    let out =
        tokio::task::spawn_blocking(move || Command::new(bin()).args(args).env_remove("FENHE_DB").output())
            .await
            .unwrap()
            .unwrap();
    let during = written.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    writer.await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("integrity_check: ok"), "{text}");
    assert!(!text.contains("MISMATCH"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("frames\t")), "{text}");
    assert!(dir.path().join("copy.db.key").exists(), "the seal key goes with the copy");

    // The copy opens on its own (its sealed device password with the copied key) and has the
    // rows written before the backup started, and no more than were written by its end.
    let copied = fenhe_store::open(&copy_s).await.unwrap();
    let devices = copied.registry().await.unwrap().devices;
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].password, spec.password);
    let counts = copied.stored_counts(None).await.unwrap();
    assert!(counts.accepted_frames >= 500 && counts.accepted_frames <= during + 20, "{counts:?} / {during}");
    assert_eq!(counts.measurement_values, counts.accepted_frames);
    let frame_line = text.lines().find(|l| l.starts_with("frames\t")).unwrap();
    let copy_count: u64 = frame_line.split('\t').nth(2).unwrap().parse().unwrap();
    assert_eq!(copy_count, counts.accepted_frames, "{frame_line}");

    // Not overwritten without --force; replaced with it.
    let again = fenhe(&["backup", "--db", &db, "--to", &copy_s]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    let forced = fenhe(&["backup", "--db", &db, "--to", &copy_s, "--force"]);
    assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
    let recopied = fenhe_store::open(&copy_s).await.unwrap();
    assert_eq!(recopied.stored_counts(None).await.unwrap(), store.stored_counts(None).await.unwrap());
}

#[test]
fn other_databases_are_named_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("x.db");
    let to = to.to_str().unwrap();
    let pg = fenhe(&["backup", "--db", "postgres://u:secret@127.0.0.1:1/db", "--to", to]);
    let e = String::from_utf8_lossy(&pg.stderr);
    assert!(!pg.status.success());
    assert!(e.contains("pg_dump") && e.contains("pg_basebackup") && e.contains("DEPLOYMENT.md"), "{e}");
    assert!(!e.contains("secret"), "{e}");
    let missing = dir.path().join("none.db");
    let none = fenhe(&["backup", "--db", missing.to_str().unwrap(), "--to", to]);
    assert!(!none.status.success());
    assert!(String::from_utf8_lossy(&none.stderr).contains("no database at"));
    assert!(!missing.exists(), "a missing source is not created");
}
