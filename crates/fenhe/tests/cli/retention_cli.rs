//! `fenhe retention`: old raw frames and minute values removed on a SQLite database (the dry run
//! first, which removes nothing), the newer ones and the hourly values kept, the run audited as
//! `cli`; too short a minute-data period refused without `--force`.

use std::process::{Command, Output};

use fenhe_core::{FrameRecord, Measurement, Values, Verdict};
use fenhe_store::{AuditQuery, IngestItem, MeasurementQuery};

use crate::common::{self, bin};

const MN: &str = "RETAIN00000000000000001";
const DAY: i64 = 86_400_000;

fn fenhe(db: &str, args: &[&str]) -> Output {
    Command::new(bin()).args(args).args(["--db", db]).env_remove("FENHE_DB").output().unwrap()
}

fn ok(db: &str, args: &[&str]) -> String {
    let out = fenhe(db, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn upload(at: i64, cn: &str) -> IngestItem {
    IngestItem {
        frame: FrameRecord {
            received_at: at,
            peer: "127.0.0.1:9".into(),
            mn: Some(MN.into()),
            cn: Some(cn.into()),
            bytes: format!("upload {at} {cn}").into_bytes(),
            verdict: Verdict::Accepted,
            reason: None,
            deviations: String::new(),
        },
        measurements: vec![Measurement {
            mn: MN.into(),
            cn: cn.into(),
            data_time: at,
            factor: "a21026".into(),
            raw_code: "a21026".into(),
            values: Values { avg: Some(1.0), flag: Some("N".into()), ..Default::default() },
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_frames_and_minute_data_go_the_rest_stays() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ret.db");
    let db = db.to_str().unwrap();
    let store = fenhe_store::open(db).await.unwrap();
    let (mut registry, gas, _) = common::two_outlets();
    let spec = fenhe_sim::DeviceSpec::flue_gas(MN, 1);
    registry.devices = vec![common::device_for(&spec, &gas)];
    store.import_registry(&registry).await.unwrap();
    let now = fenhe_core::china_time::now_ms();
    let (six_years, four_years, recent) = (now - 6 * 366 * DAY, now - 4 * 366 * DAY, now - 30 * DAY);
    for at in [six_years, four_years, recent] {
        store.write_batch(&[upload(at, "2051"), upload(at + 1, "2061")]).await.unwrap();
    }
    let values = |store: std::sync::Arc<dyn fenhe_store::Store>| async move {
        let q = MeasurementQuery { mn: Some(MN.into()), ..Default::default() };
        let mut v: Vec<(String, i64)> =
            store.measurements(&q).await.unwrap().into_iter().map(|m| (m.cn, m.data_time)).collect();
        v.sort();
        v
    };
    let before = values(store.clone()).await;
    assert_eq!(before.len(), 6);

    let dry = ok(db, &["retention", "--raw-frames", "3y", "--minute-data", "5y", "--dry-run"]);
    assert!(dry.contains("would remove"), "{dry}");
    assert!(dry.lines().any(|l| l.starts_with("frames\t-\t4\t")), "{dry}");
    assert!(dry.lines().any(|l| l.starts_with("measurement_sets\t-\t1\t")), "{dry}");
    assert_eq!(values(store.clone()).await, before, "a dry run removes nothing");
    assert_eq!(store.stored_counts(None).await.unwrap().accepted_frames, 6);

    let real = ok(db, &["retention", "--raw-frames", "3y", "--minute-data", "5y"]);
    assert_eq!(
        real.replace("已删除 removed", "将删除 would remove"),
        dry,
        "the run removes what the dry run said"
    );
    assert_eq!(store.stored_counts(None).await.unwrap().accepted_frames, 2);
    let after = values(store.clone()).await;
    let expected: Vec<(String, i64)> =
        before.into_iter().filter(|(cn, t)| !(cn == "2051" && *t == six_years)).collect();
    assert_eq!(after, expected, "only the six-year-old minute value is gone");

    let audit = store
        .audit(&AuditQuery { action: Some("data.retention".into()), limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1, "the dry run is not audited");
    assert_eq!(audit[0].entry.actor, "cli");
    assert_eq!(audit[0].entry.before.as_ref().unwrap()["minute_data"], "5y");
    assert_eq!(audit[0].entry.after.as_ref().unwrap()["removed"][0]["rows"], 4);

    let again = ok(db, &["retention", "--raw-frames", "3y"]);
    assert!(again.contains("nothing older than the cut-off"), "{again}");
}

#[test]
fn short_or_missing_periods_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("ret.db");
    let db = db.to_str().unwrap();
    let short = fenhe(db, &["retention", "--minute-data", "6m"]);
    assert!(!short.status.success());
    let e = String::from_utf8_lossy(&short.stderr);
    assert!(e.contains("--force") && e.contains("6m"), "{e}");
    assert!(!std::path::Path::new(db).exists(), "refused before the database is opened");
    let none = fenhe(db, &["retention"]);
    assert!(String::from_utf8_lossy(&none.stderr).contains("nothing to do"));
    let bad = fenhe(db, &["retention", "--raw-frames", "3w"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an age"));
    let forced = fenhe(db, &["retention", "--minute-data", "6m", "--force", "--dry-run"]);
    assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
}
