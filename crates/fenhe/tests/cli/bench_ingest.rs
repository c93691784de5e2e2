//! `fenhe bench ingest` end to end, small: a real `fenhe serve` child process, 50 devices, and
//! every acknowledged packet found in the database afterwards.

use std::process::Command;

#[test]
fn bench_ingest_reports_and_every_ack_is_durable() {
    let out = Command::new(env!("CARGO_BIN_EXE_fenhe"))
        .args(["bench", "ingest", "--devices", "50", "--duration", "3", "--factors", "5", "--json"])
        .env_remove("FENHE_DB")
        .output()
        .expect("run fenhe bench ingest");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\n{stderr}", out.status);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("report is not JSON ({e}):\n{}", String::from_utf8_lossy(&out.stdout)));
    let num = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} missing in {r}"));
    assert_eq!(num("devices"), 50);
    assert_eq!(num("connected"), 50, "{stderr}");
    assert_eq!(num("failed"), 0, "{r}");
    let acked = num("acked");
    assert!(acked > 50, "more than the connect packets: {r}");
    assert!(r["paced_target_per_s"].as_f64().unwrap() > 0.0, "{r}");
    assert_eq!(num("sent"), acked, "every packet is acknowledged after the drain: {r}");
    assert_eq!(num("stored_minute_frames"), acked, "{r}");
    assert_eq!(num("stored_measurements"), acked * 5, "{r}");
    assert_eq!(num("expected_measurements"), acked * 5);
    assert_eq!(r["durable"], true);
    assert_eq!(r["server_exit_ok"], true);
    for phase in ["max", "paced"] {
        let p = &r[phase];
        assert_eq!(p["seconds"], 3, "{r}");
        assert!(p["packets_per_s"].as_f64().unwrap() > 0.0, "{r}");
        assert!(p["latency_p99_ms"].as_f64().unwrap() >= p["latency_p50_ms"].as_f64().unwrap());
    }
    assert!(r["memory_per_idle_connection_kib"].is_number());
}
