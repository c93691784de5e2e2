//! `fenhe bench ingest` end to end, small: a real `fenhe serve` child process, 50 devices, and
//! every acknowledged packet found in the database afterwards. The report's figures are checked
//! against each other (per-second counts, rates, medians), so a phase that measured nothing or a
//! figure computed from the wrong counts fails here.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

use crate::common::bin;

/// Every field of the `--json` report, top level and per phase: the documented output.
const REPORT_FIELDS: [&str; 25] = [
    "devices",
    "connected",
    "failed",
    "first_error",
    "factors",
    "window",
    "packet_bytes",
    "connect_s",
    "connect_latency_p50_ms",
    "connect_latency_p99_ms",
    "server_rss_before_kib",
    "server_rss_idle_kib",
    "memory_per_idle_connection_kib",
    "max",
    "paced_target_per_s",
    "paced",
    "server_peak_rss_kib",
    "sent",
    "acked",
    "stored_minute_frames",
    "stored_measurements",
    "expected_measurements",
    "durable",
    "server_exit_ok",
    "db",
];
const PHASE_FIELDS: [&str; 12] = [
    "seconds",
    "acked",
    "packets_per_s",
    "packets_per_s_median",
    "factor_values_per_s",
    "latency_p50_ms",
    "latency_p99_ms",
    "latency_max_ms",
    "latency_p99_ms_per_5s",
    "server_cpu_pct",
    "bench_cpu_pct",
    "per_second",
];

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap_or_default()
}

fn float(v: &Value, k: &str) -> f64 {
    v[k].as_f64().unwrap_or_else(|| panic!("{k} is not a number in {v}"))
}

#[test]
fn bench_ingest_reports_and_every_ack_is_durable() {
    let (devices, seconds, factors) = (50u64, 3u64, 5u64);
    let out = Command::new(bin())
        .args(["bench", "ingest", "--json"])
        .args(["--devices", &devices.to_string(), "--duration", &seconds.to_string()])
        .args(["--factors", &factors.to_string()])
        .env_remove("FENHE_DB")
        .output()
        .expect("run fenhe bench ingest");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\n{stderr}", out.status);
    let r: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("report is not JSON ({e}):\n{}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(keys(&r), BTreeSet::from(REPORT_FIELDS), "{r}");
    let num = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{k} missing in {r}"));

    // Every device connected, none failed.
    assert_eq!(num("devices"), devices);
    assert_eq!(num("connected"), devices, "{stderr}");
    assert_eq!(num("failed"), 0, "{r}");
    assert!(r["first_error"].is_null(), "{r}");
    assert_eq!(num("factors"), factors);
    assert!(num("packet_bytes") > 0 && num("window") > 0, "{r}");
    assert!(float(&r, "connect_s") > 0.0, "{r}");
    assert!(num("server_rss_idle_kib") > 0, "the server's memory was read: {r}");
    assert!(r["memory_per_idle_connection_kib"].is_number());
    assert!(r["db"].is_null(), "no --keep, no database kept: {r}");

    // Acknowledged is stored: after the drain nothing is outstanding, and the database holds
    // exactly the acknowledged packets with all their values.
    let acked = num("acked");
    assert!(acked > devices, "more than the connect packets: {r}");
    assert!(float(&r, "paced_target_per_s") > 0.0, "{r}");
    assert_eq!(num("sent"), acked, "every packet is acknowledged after the drain: {r}");
    assert_eq!(num("stored_minute_frames"), acked, "{r}");
    assert_eq!(num("stored_measurements"), acked * factors, "{r}");
    assert_eq!(num("expected_measurements"), acked * factors);
    assert_eq!(r["durable"], true);
    assert_eq!(r["server_exit_ok"], true);

    for phase in ["max", "paced"] {
        let p = &r[phase];
        assert_eq!(keys(p), BTreeSet::from(PHASE_FIELDS), "{phase}: {p}");
        assert_eq!(p["seconds"], seconds, "{r}");
        // The phase's count is its per-second counts summed, and it acknowledged something.
        let per_second: Vec<u64> = p["per_second"]
            .as_array()
            .unwrap_or_else(|| panic!("{phase}: per_second is not a list in {p}"))
            .iter()
            .map(|n| n.as_u64().unwrap_or_else(|| panic!("{phase}: {n} in per_second")))
            .collect();
        assert_eq!(per_second.len() as u64, seconds, "{phase}: {p}");
        let phase_acked: u64 = per_second.iter().sum();
        assert!(phase_acked > 0, "{phase}: nothing acknowledged: {p}");
        assert_eq!(p["acked"], phase_acked, "{phase}: {p}");
        // Rates follow from the counts.
        let rate = phase_acked as f64 / seconds as f64;
        assert!((float(p, "packets_per_s") - rate).abs() < 1e-9, "{phase}: {p}");
        assert!((float(p, "factor_values_per_s") - rate * factors as f64).abs() < 1e-6, "{phase}: {p}");
        // Three seconds: the median is the middle one.
        let mut sorted = per_second.clone();
        sorted.sort_unstable();
        assert_eq!(float(p, "packets_per_s_median"), sorted[sorted.len() / 2] as f64, "{phase}: {p}");
        // Latencies were recorded: a round trip through the server's commit takes time.
        assert!(float(p, "latency_p50_ms") > 0.0, "{phase}: no latencies recorded: {p}");
        let windows = p["latency_p99_ms_per_5s"].as_array().map(Vec::len);
        assert_eq!(windows, Some(seconds.div_ceil(5) as usize), "{phase}: {p}");
        // Numbers, not null: serde_json writes a NaN (a division by an empty phase) as null.
        for k in ["latency_p99_ms", "latency_max_ms", "server_cpu_pct", "bench_cpu_pct"] {
            assert!(p[k].is_number(), "{phase}: {k} in {p}");
        }
    }
}
