//! `fenhe demo` end to end: a demo city over real TCP into a fresh database, then the same
//! database inspected by the CLI as an operator would.

use std::process::Command;

use crate::common::bin;

fn json_lines(args: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new(bin()).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn demo_backfills_the_city_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let db = db.to_str().unwrap();
    let run = || {
        Command::new(bin())
            .args(["demo", "--db", db, "--hours", "5", "--backfill-only"])
            .args(["--hj212-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"])
            .env("RUST_LOG", "error")
            .output()
            .unwrap()
    };
    let out = run();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("19 家企业 enterprises, 40 个排口 outlets, 40 台数采仪 data loggers"),
        "{stdout}"
    );
    assert!(stdout.contains("stopped cleanly"), "{stdout}");
    // The listening line names the ports the demo bound in place of the 0s it was given.
    let listening = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["event"] == "listening")
        .unwrap_or_else(|| panic!("no listening line in {stdout}"));
    for side in ["hj212", "http"] {
        let addr: std::net::SocketAddr = listening[side].as_str().unwrap().parse().unwrap();
        assert_ne!(addr.port(), 0, "{listening}");
    }

    // Every registered logger has minute data stored up to the end of the backfill.
    let devices = json_lines(&["device", "list", "--format", "json", "--db", db]);
    assert_eq!(devices.len(), 40);
    for d in &devices {
        let latest = d["latest"].as_array().unwrap();
        assert!(latest.iter().any(|l| l["cn"] == "2051"), "no minute data for {}", d["mn"]);
    }

    // The unregistered sender and the wrong password are in the inbox, not in the data.
    let inbox = json_lines(&["device", "inbox", "--format", "json", "--db", db]);
    assert!(inbox.iter().any(|e| e["verdict"] == "unregistered"), "{inbox:?}");
    assert!(inbox.iter().any(|e| e["verdict"] == "wrong_password"), "{inbox:?}");

    // The platform asked for the history an outage left out, and the device answered.
    let commands = json_lines(&["device", "commands", "--format", "json", "--db", db]);
    assert!(
        commands.iter().any(|c| c["origin"] == "platform:gap" && c["status"] == "done"),
        "no completed gap request among {} commands",
        commands.len()
    );
    // And checked the loggers' clocks, correcting the one that is five minutes off.
    assert!(commands.iter().any(|c| c["cn"] == "1012" && c["status"] == "done"), "no 1012 done");

    // The MODBUS-CRC logger is accepted under its registered policy: it has data.
    let modbus = &devices[12];
    assert_eq!(modbus["crc"], "modbus");
    assert!(!modbus["latest"].as_array().unwrap().is_empty());

    // The backfill was judged before the demo stopped (by the engine's cycles while it ran, or by
    // the final one): the loggers with data have their hours stored.
    assert!(stdout.contains("compliance:"), "{stdout}");
    let hours = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        let store = fenhe_store::open(db).await.unwrap();
        let q = fenhe_store::AggregateQuery {
            period: Some(fenhe_core::compliance::Period::Hour),
            ..Default::default()
        };
        store.aggregates(&q).await.unwrap()
    });
    let mut judged: Vec<&str> = hours.iter().map(|h| h.mn.as_str()).collect();
    judged.dedup();
    assert!(judged.len() >= 36, "{} devices have hours", judged.len());
    assert!(hours.len() >= 36 * 4, "{} hour rows", hours.len());
    // Alarms list (whatever the scenarios raised in five hours) is readable.
    json_lines(&["alarms", "list", "--format", "json", "--db", db]);

    // Running again resumes: nothing to backfill but the minutes since, and no data is lost.
    let before: u64 = devices.iter().map(|d| d["frames"].as_u64().unwrap()).sum();
    let out = run();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = json_lines(&["device", "list", "--format", "json", "--db", db]);
    let after: u64 = again.iter().map(|d| d["frames"].as_u64().unwrap()).sum();
    assert!(after >= before);
}
