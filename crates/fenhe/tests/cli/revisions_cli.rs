//! `fenhe revisions`: a late rewrite of stored data is listed beside the value that stands, and
//! approved or rejected by the operator, each decision in the audit log as `cli`.

use std::process::{Command, Output};

use fenhe_core::{FrameRecord, Measurement, Values, Verdict};
use fenhe_store::{AuditQuery, IngestItem};

use crate::common::{self, bin};

const MN: &str = "REVCLI000000000000000001";
/// 2026-10-01 00:00 China time.
const T0: i64 = 1_790_784_000_000;
const MINUTE: i64 = 60_000;

fn fenhe(db: &str, args: &[&str]) -> Output {
    Command::new(bin()).args(args).args(["--db", db]).env_remove("FENHE_DB").output().unwrap()
}

fn ok(db: &str, args: &[&str]) -> String {
    let out = fenhe(db, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn upload(minute: i64, received_at: i64, avg: f64) -> IngestItem {
    let data_time = T0 + minute * MINUTE;
    IngestItem {
        frame: FrameRecord {
            received_at,
            peer: "127.0.0.1:9".into(),
            mn: Some(MN.into()),
            cn: Some("2051".into()),
            bytes: format!("upload {minute} {avg}").into_bytes(),
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
            values: Values { avg: Some(avg), flag: Some("N".into()), ..Default::default() },
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_rewrites_are_listed_approved_and_rejected_with_an_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rev.db");
    let db = db.to_str().unwrap();
    let store = fenhe_store::open(db).await.unwrap();
    let (mut registry, gas, _) = common::two_outlets();
    let spec = fenhe_sim::DeviceSpec::flue_gas(MN, 1);
    registry.devices = vec![common::device_for(&spec, &gas)];
    store.import_registry(&registry).await.unwrap();
    // Two minutes received on time, then both rewritten an hour later (the default window is
    // ten minutes).
    store.write_batch(&[upload(0, T0 + MINUTE, 80.0), upload(1, T0 + 2 * MINUTE, 81.0)]).await.unwrap();
    let late = store
        .write_batch(&[upload(0, T0 + 60 * MINUTE, 20.0), upload(1, T0 + 61 * MINUTE, 21.0)])
        .await
        .unwrap();
    assert!(late.iter().all(|o| o.pending == 1 && o.revisions == 0), "{late:?}");

    let listed: Vec<serde_json::Value> = ok(db, &["revisions", "list", "--format", "json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        (&listed[0]["mn"], &listed[0]["factor"], &listed[0]["status"]),
        (&serde_json::json!(MN), &serde_json::json!("a21026"), &serde_json::json!("pending"))
    );
    assert_eq!(
        (listed[0]["values"]["avg"].as_f64(), listed[0]["stored"]["avg"].as_f64()),
        (Some(20.0), Some(80.0))
    );
    let (first, second) = (listed[0]["id"].as_i64().unwrap(), listed[1]["id"].as_i64().unwrap());
    let text = ok(db, &["revisions", "list"]);
    assert!(text.contains("pending") && text.contains("80") && text.contains("20"), "{text}");

    let approved = ok(db, &["revisions", "approve", &first.to_string()]);
    assert!(approved.contains("approved revision") && approved.contains("revision 1"), "{approved}");
    let rejected = ok(db, &["revisions", "reject", &second.to_string(), "--reason", "sensor replaced"]);
    assert!(rejected.contains("rejected revision"), "{rejected}");
    // A decided revision cannot be decided again; an unknown one is named.
    let again = fenhe(db, &["revisions", "reject", &first.to_string()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already approved"));
    let unknown = fenhe(db, &["revisions", "approve", "999"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("pending revision 999"));

    assert_eq!(ok(db, &["revisions", "list"]).trim(), "没有待审修订 (no pending revisions)");
    let all = ok(db, &["revisions", "list", "--all", "--format", "json"]);
    let statuses: Vec<String> = all
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["status"].to_string())
        .collect();
    assert_eq!(statuses, ["\"approved\"", "\"rejected\""]);

    let q = fenhe_store::MeasurementQuery { mn: Some(MN.into()), latest_only: true, ..Default::default() };
    let stored: Vec<_> =
        store.measurements(&q).await.unwrap().iter().map(|m| (m.values.avg, m.revision)).collect();
    assert_eq!(stored, [(Some(20.0), 1), (Some(81.0), 0)], "approved applies, rejected does not");
    let audit = store
        .audit(&AuditQuery { object_kind: Some("revision".into()), limit: 10, ..Default::default() })
        .await
        .unwrap();
    let actions: Vec<_> = audit.iter().map(|e| (e.entry.action.as_str(), e.entry.actor.as_str())).collect();
    assert_eq!(actions, [("revision.reject", "cli"), ("revision.approve", "cli")]);
    assert_eq!(audit[0].entry.after.as_ref().unwrap()["reason"], "sensor replaced");
}
