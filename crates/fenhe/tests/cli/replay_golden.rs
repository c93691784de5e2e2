//! Golden replay reports for the simulator's scenarios: each scenario's day of uploads, replayed
//! against the registry, must give the report stored under tests/cli/snapshots/. The snapshots are
//! condensed for review: every day, episode, finding and rate, the hours that are invalid or
//! exceed, and what was not counted. A change to a rule shows here as a reviewable diff
//! (`cargo insta review`, or INSTA_UPDATE=always). A partial day shows how replay takes a capture as
//! complete, and what `--as-of` keeps.

use std::fmt::Write as _;
use std::process::Command;

use fenhe_core::Registry;
use fenhe_core::china_time as time;
use fenhe_sim::{DeviceSpec, Scenario};
use hj212::Version;
use serde_json::Value;

use crate::common::{self, bin};

/// 2026-03-02 00:00 China time, a Monday.
fn day() -> i64 {
    time::date_start(jiff::civil::date(2026, 3, 2))
}

fn at(hour: i64, minute: i64) -> i64 {
    day() + hour * time::HOUR_MS + minute * time::MINUTE_MS
}

/// The scenarios, one device each (MNs `GOLD…01`, …).
fn scenarios() -> Vec<(&'static str, DeviceSpec)> {
    let gas = |n: u32| DeviceSpec::flue_gas(format!("GOLD{n:020}"), u64::from(n));
    let water = |n: u32| DeviceSpec::wastewater(format!("GOLD{n:020}"), u64::from(n));
    vec![
        ("normal", gas(1)),
        (
            "exceedance",
            gas(2).with_scenario(Scenario::Exceedance {
                factor: "a21026".into(),
                start_ms: at(9, 0),
                hours: 4.0,
                multiple: 3.0,
            }),
        ),
        ("outage", gas(3).with_scenario(Scenario::Outage { start_ms: at(13, 20), minutes: 150 })),
        (
            "constant",
            gas(4).with_scenario(Scenario::ConstantValue {
                factor: "a34013".into(),
                start_ms: at(3, 0),
                minutes: 240,
            }),
        ),
        ("calibration", gas(5).with_scenario(Scenario::Flag { flag: 'C', start_ms: at(10, 0), minutes: 40 })),
        ("maintenance", gas(6).with_scenario(Scenario::Flag { flag: 'M', start_ms: at(15, 0), minutes: 90 })),
        (
            "startup_shutdown",
            gas(7).with_scenario(Scenario::StartupShutdown { start_ms: at(8, 0), minutes: 180 }),
        ),
        ("hjt212_2005", gas(8).with_version(Version::V2005)),
        ("modbus_crc", gas(9).with_scenario(Scenario::ModbusCrc)),
        ("garbage", gas(10).with_scenario(Scenario::Garbage { every_n_packets: 25 })),
        ("wrong_password", gas(11).with_scenario(Scenario::WrongPassword)),
        (
            "water_exceedance",
            water(12).with_scenario(Scenario::Exceedance {
                factor: "w01018".into(),
                start_ms: at(0, 0),
                hours: 24.0,
                multiple: 3.0,
            }),
        ),
        // Loggers that send only hourly data (2061): judged on it (issue 16).
        (
            "hourly_only_water",
            DeviceSpec {
                send_minute: false,
                ..water(13).with_scenario(Scenario::Exceedance {
                    factor: "w01018".into(),
                    start_ms: at(0, 0),
                    hours: 24.0,
                    multiple: 3.0,
                })
            },
        ),
        (
            "hourly_only_stack",
            DeviceSpec {
                send_minute: false,
                ..gas(14).with_scenario(Scenario::Exceedance {
                    factor: "a21026".into(),
                    start_ms: at(9, 0),
                    hours: 4.0,
                    multiple: 3.0,
                })
            },
        ),
    ]
}

fn registry(specs: &[(&str, DeviceSpec)]) -> Registry {
    let (mut r, gas, water) = common::two_outlets();
    r.devices = specs
        .iter()
        .map(|(_, s)| {
            let mut d = common::device_for(s, if s.st == "32" { &water } else { &gas });
            // The MODBUS device is registered as such: its frames count.
            if s.scenarios.contains(&Scenario::ModbusCrc) {
                d.crc = fenhe_core::CrcPolicy::Modbus;
            }
            d
        })
        .collect();
    r
}

fn condensed(name: &str, r: &Value) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "scenario: {name}");
    let files = &r["input"]["files"][0];
    let _ = writeln!(
        s,
        "input: frames {} accepted {} rejected {} unregistered {} wrong_password {} records {}; duplicates {} revisions {}",
        files["frames"],
        files["accepted"],
        files["rejected"],
        files["unregistered"],
        files["wrong_password"],
        files["records"],
        r["input"]["duplicates"],
        r["input"]["revisions"]
    );
    let list = |key: &str| r[key].as_array().cloned().unwrap_or_default();
    let not_counted: Vec<String> = r["input"]["not_counted"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|n| format!("  {} at {}: {}", n["verdict"], n["offset"], n["reason"]))
        .collect();
    let _ = writeln!(s, "not counted: {}", not_counted.len());
    for line in not_counted.iter().take(5) {
        let _ = writeln!(s, "{line}");
    }
    let _ = writeln!(s, "hours invalid or exceeding:");
    for h in list("hours") {
        if h["valid"] == true && h["exceeds"] == false {
            continue;
        }
        let _ = writeln!(
            s,
            "  {} {} mean={} conv={} minutes={} valid={} reason={} limit={} exceeds={}",
            &h["hour_start"].as_str().unwrap_or("")[11..16],
            h["factor"].as_str().unwrap_or(""),
            round(&h["mean"]),
            round(&h["converted_mean"]),
            h["valid_minutes"],
            h["valid"],
            h["reason"],
            h["limit"],
            h["exceeds"]
        );
    }
    let _ = writeln!(s, "days:");
    for d in list("days") {
        let _ = writeln!(
            s,
            "  {} mean={} conv={} hours={} valid={} reason={} limit={} exceeds={}",
            d["factor"].as_str().unwrap_or(""),
            round(&d["mean"]),
            round(&d["converted_mean"]),
            d["valid_hours"],
            d["valid"],
            d["reason"],
            d["limit"],
            d["exceeds"]
        );
    }
    let _ = writeln!(s, "episodes:");
    for e in list("episodes") {
        let _ = writeln!(
            s,
            "  {} {} → {} periods={} max={} multiple={}",
            e["factor"].as_str().unwrap_or(""),
            e["start"].as_str().unwrap_or(""),
            e["end"].as_str().unwrap_or(""),
            e["periods"],
            round(&e["max_converted"]),
            round(&e["max_multiple"])
        );
    }
    let _ = writeln!(s, "quality:");
    for q in list("quality") {
        let _ = writeln!(
            s,
            "  {} {} {} → {}: {}",
            q["kind"].as_str().unwrap_or(""),
            q["factor"].as_str().unwrap_or("-"),
            q["start"].as_str().unwrap_or(""),
            q["end"].as_str().unwrap_or(""),
            q["detail"].as_str().unwrap_or("")
        );
    }
    let _ = writeln!(s, "emissions (day):");
    for e in list("emissions") {
        if e["period"] == "day" {
            let _ = writeln!(s, "  {} {} kg", e["factor"].as_str().unwrap_or(""), round(&e["kg"]));
        }
    }
    let _ = writeln!(s, "rates:");
    for x in list("rates") {
        let _ = writeln!(
            s,
            "  {} expected={} received={} valid={} transmission={} validity={} effective={} compliance={}",
            x["period"].as_str().unwrap_or(""),
            x["expected"],
            x["received"],
            x["valid"],
            round(&x["transmission"]),
            round(&x["validity"]),
            round(&x["effective_transmission"]),
            round(&x["compliance"])
        );
    }
    s
}

/// Numbers to four decimals, so a last-digit difference in float summation order does not
/// break a golden file while any real change does.
fn round(v: &Value) -> String {
    match v.as_f64() {
        Some(x) => format!("{x:.4}"),
        None => "null".into(),
    }
}

#[test]
fn scenario_reports() {
    let dir = tempfile::tempdir().unwrap();
    let specs = scenarios();
    let reg_file = dir.path().join("registry.toml");
    std::fs::write(&reg_file, toml::to_string(&registry(&specs)).unwrap()).unwrap();
    let reg = registry(&specs);
    for (name, spec) in &specs {
        // Normal operation at 45 % of the outlet's limits, as the demo runs it.
        let outlet = reg
            .outlets
            .iter()
            .find(|o| Some(&o.id) == reg.devices.iter().find(|d| d.mn == spec.mn).map(|d| &d.outlet))
            .unwrap();
        let date = time::date_of(day());
        let spec = spec.clone().fit_to_limits(0.45, |c| outlet.limit_at(c, date).and_then(|l| l.max));
        let capture = dir.path().join(format!("{name}.hj212"));
        std::fs::write(&capture, fenhe_sim::capture(&spec, day(), day() + time::DAY_MS)).unwrap();
        let report = dir.path().join(format!("{name}.json"));
        let out = Command::new(bin())
            .args(["replay", "--registry", reg_file.to_str().unwrap(), "--input", capture.to_str().unwrap()])
            .args(["--out", report.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        insta::assert_snapshot!(*name, condensed(name, &r));
    }
}

/// A capture is complete: eight hours of a day report the day (not valid, from eight valid
/// hours) with every hour of it; `--as-of` keeps only the periods ended by then.
#[test]
fn a_partial_day_and_as_of() {
    let dir = tempfile::tempdir().unwrap();
    let specs = &scenarios()[..1];
    let reg_file = dir.path().join("registry.toml");
    std::fs::write(&reg_file, toml::to_string(&registry(specs)).unwrap()).unwrap();
    let capture = dir.path().join("eight-hours.hj212");
    let (from, to) = (at(8, 0), at(16, 0));
    std::fs::write(&capture, fenhe_sim::capture(&specs[0].1, from, to)).unwrap();
    let replay = |extra: &[&str]| {
        let report = dir.path().join("report.json");
        let out = Command::new(bin())
            .args(["replay", "--registry", reg_file.to_str().unwrap(), "--input", capture.to_str().unwrap()])
            .args(["--out", report.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_str::<Value>(&std::fs::read_to_string(&report).unwrap()).unwrap()
    };
    let hours_of = |r: &Value, factor: &str| -> Vec<(String, bool)> {
        r["hours"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["factor"] == factor)
            .map(|h| (h["hour_start"].as_str().unwrap()[11..13].to_string(), h["valid"] == true))
            .collect()
    };

    let whole = replay(&[]);
    let hours = hours_of(&whole, "a21026");
    assert_eq!(hours.len(), 24);
    let valid: Vec<&str> = hours.iter().filter(|(_, v)| *v).map(|(h, _)| h.as_str()).collect();
    assert_eq!(valid, ["08", "09", "10", "11", "12", "13", "14", "15"]);
    let day = whole["days"].as_array().unwrap().iter().find(|d| d["factor"] == "a21026").unwrap();
    assert_eq!((day["valid_hours"].as_u64(), day["valid"].as_bool()), (Some(8), Some(false)));
    assert_eq!(whole["devices"][0]["as_of"], "2026-03-03T00:00:00+08:00");

    let noon = replay(&["--as-of", "2026-03-02 12:00"]);
    let hours = hours_of(&noon, "a21026");
    assert_eq!(hours.first().map(|h| h.0.as_str()), Some("00"));
    assert_eq!(hours.last().map(|h| h.0.as_str()), Some("11"));
    assert!(noon["days"].as_array().unwrap().is_empty());

    let out = Command::new(bin())
        .args(["replay", "--input", capture.to_str().unwrap(), "--as-of", "noon", "--out"])
        .arg(dir.path().join("x.json"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"noon\" is not a time"));
}

/// Without a registry, a device's minute interval is the usual gap between its records (one stray
/// record does not halve it), reported with where it came from; `--interval MN=…` overrides it.
#[test]
fn interval_inferred_from_the_data_or_given() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = DeviceSpec::flue_gas(format!("GOLD{:020}", 15), 15);
    spec.minute_interval_min = 10;
    let capture = dir.path().join("ten.hj212");
    std::fs::write(&capture, fenhe_sim::capture(&spec, at(0, 0), at(6, 0))).unwrap();
    let replay = |extra: &[&str]| {
        let report = dir.path().join("report.json");
        let out = Command::new(bin())
            .args(["replay", "--input", capture.to_str().unwrap(), "--limit", "a21026=35", "--ref-o2", "6"])
            .args(["--out", report.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        (r, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (r, stderr) = replay(&[]);
    let d = &r["devices"][0];
    assert_eq!(d["minute_interval_min"], 10, "{d}");
    let how = d["interval_from"].as_str().unwrap();
    assert!(how.starts_with("usual gap 10 min in "), "{how}");
    assert!(
        stderr.contains(&format!("note: {}: minute interval 10 min (usual gap 10 min", spec.mn)),
        "{stderr}"
    );
    // Valid hours: six 10-minute records cover 60 minutes.
    let valid = r["hours"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["factor"] == "a21026" && h["valid"] == true)
        .count();
    assert_eq!(valid, 6);
    let (r, stderr) = replay(&["--interval", &format!("{}=5m", spec.mn)]);
    assert_eq!(
        (r["devices"][0]["minute_interval_min"].as_u64(), r["devices"][0]["interval_from"].as_str()),
        (Some(5), Some("--interval"))
    );
    assert!(stderr.contains("minute interval 5 min (--interval)"), "{stderr}");
    // An interval HJ 212 does not allow is refused.
    let out = Command::new(bin())
        .args(["replay", "--input", capture.to_str().unwrap(), "--interval", "X=7m", "--out"])
        .arg(dir.path().join("x.json"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a minute-data interval HJ 212 allows"));
}

/// With `--param substitute_missing=true`, the outage's missing hours count the highest preceding
/// hourly emission (HJ 75-2017 §11), and a `substituted` finding marks each gap.
#[test]
fn substitution_in_replay() {
    let dir = tempfile::tempdir().unwrap();
    let specs: Vec<_> = scenarios().into_iter().filter(|(n, _)| *n == "outage").collect();
    let reg_file = dir.path().join("registry.toml");
    std::fs::write(&reg_file, toml::to_string(&registry(&specs)).unwrap()).unwrap();
    let capture = dir.path().join("outage.hj212");
    std::fs::write(&capture, fenhe_sim::capture(&specs[0].1, day(), day() + time::DAY_MS)).unwrap();
    let replay = |extra: &[&str]| {
        let report = dir.path().join("report.json");
        let out = Command::new(bin())
            .args(["replay", "--registry", reg_file.to_str().unwrap(), "--input", capture.to_str().unwrap()])
            .args(["--out", report.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_str::<Value>(&std::fs::read_to_string(&report).unwrap()).unwrap()
    };
    let so2_day = |r: &Value| {
        r["emissions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["factor"] == "a21026" && e["period"] == "day")
            .unwrap()["kg"]
            .as_f64()
            .unwrap()
    };
    let plain = replay(&[]);
    let substituted = replay(&["--param", "substitute_missing=true"]);
    let marks: Vec<&Value> =
        substituted["quality"].as_array().unwrap().iter().filter(|q| q["kind"] == "substituted").collect();
    assert!(marks.iter().any(|q| q["factor"] == "a21026"), "{marks:?}");
    assert!(so2_day(&substituted) > so2_day(&plain), "{} vs {}", so2_day(&substituted), so2_day(&plain));
    assert!(plain["quality"].as_array().unwrap().iter().all(|q| q["kind"] != "substituted"));
}
