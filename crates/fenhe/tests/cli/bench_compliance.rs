//! `fenhe bench compliance` end to end at a tiny size: every generated value is judged, each
//! incremental cycle judges one day per device, and the replay accepts every frame.

use std::process::Command;

#[test]
fn bench_compliance_reports_consistent_counts() {
    let out = Command::new(env!("CARGO_BIN_EXE_fenhe"))
        .args([
            "bench",
            "compliance",
            "--outlets",
            "3",
            "--factors",
            "8",
            "--days",
            "2",
            "--city-outlets",
            "2",
            "--city-days",
            "1",
            "--cycles",
            "2",
            "--replay-devices",
            "2",
            "--replay-days",
            "1",
            "--json",
        ])
        .env_remove("FENHE_DB")
        .output()
        .expect("run fenhe bench compliance");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\n{stderr}", out.status);
    let r: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("report is not JSON ({e}):\n{}", String::from_utf8_lossy(&out.stdout)));
    let num = |v: &serde_json::Value, k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k} missing in {v}"));

    let full = &r["full"];
    assert_eq!(num(full, "values"), 3 * 8 * 2 * 1440, "{r}");
    let e = &full["engine"];
    assert_eq!(num(e, "devices"), 3, "{r}");
    assert_eq!(num(e, "device_days"), 6, "{r}");
    // The whole window is read (plus the empty day of context before it).
    assert_eq!(num(e, "records_loaded"), 3 * 8 * 2 * 1440, "{r}");
    assert_eq!(num(e, "hours"), 3 * 8 * 48, "every factor's every hour: {r}");
    assert!(num(e, "episodes") > 0, "the generated data exceeds now and then: {r}");
    assert!(e["seconds"].as_f64().unwrap() > 0.0);
    assert!(num(full, "db_bytes_after_generate") > 0);

    let inc = &r["incremental"];
    assert_eq!(num(inc, "history_values"), 2 * 8 * (1440 + 14 * 60 + 30), "{r}");
    let cycles = inc["cycles"].as_array().unwrap();
    assert_eq!(cycles.len(), 2);
    for c in cycles {
        assert_eq!(num(c, "devices"), 2, "{r}");
        assert_eq!(num(c, "device_days"), 2, "{r}");
        // Each cycle judges the day the new minute fell in: 14 whole hours of it.
        assert_eq!(num(c, "hours"), 2 * 8 * 14, "{r}");
    }

    let rp = &r["replay"];
    // 1440 minute and 24 hourly packets of 6 factors per device-day.
    assert_eq!(num(rp, "frames"), 2 * (1440 + 24), "{r}");
    assert_eq!(num(rp, "records"), 2 * (1440 + 24) * 6, "{r}");
    assert_eq!(num(rp, "hours"), 2 * 6 * 24, "{r}");
    assert_eq!(num(rp, "days_judged"), 2 * 6, "{r}");
    assert!(rp["records_per_s"].as_f64().unwrap() > 0.0);
}
