//! A `fenhe serve` process killed with SIGKILL mid-stream and restarted has every packet it
//! acknowledged, and a data logger re-sends the rest: on SQLite, and on PostgreSQL (in a schema
//! of its own on the database of `FENHE_TEST_PG_URL`; skipped when that is unset).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use fenhe_core::registry::{
    CrcPolicy, Device, Enterprise, Outlet, OutletKind, Ownership, Protocol, Registry,
};
use hj212::{DateTime, Event, FrameConfig, Framer, PacketBuilder, ParseOptions, Version};

use crate::common::bin;

pub(crate) const MN: &str = "141000209901000000000000";
pub(crate) const PW: &str = "654321";
const FACTORS: [&str; 4] = ["a21026", "a21002", "a34013", "a19001"];

pub(crate) fn registry() -> Registry {
    Registry {
        enterprises: vec![Enterprise {
            id: "E99".into(),
            name: "崩溃测试焦化".into(),
            uscc: fenhe_core::uscc::complete("91141000MA0H99999").unwrap(),
            ownership: Ownership::LocalSoe,
            industry: "coking".into(),
            category: None,
            address: String::new(),
            longitude: None,
            latitude: None,
            contacts: vec![],
            permitted_kg_per_year: Default::default(),
        }],
        outlets: vec![Outlet {
            id: "E99-DA001".into(),
            enterprise: "E99".into(),
            name: "焦炉烟囱".into(),
            kind: OutletKind::FlueGas,
            source_type: "coke_oven_chimney".into(),
            reference_o2: Some(8.0),
            standard: String::new(),
            limits: vec![],
        }],
        devices: vec![Device {
            mn: MN.into(),
            password: PW.into(),
            outlet: "E99-DA001".into(),
            protocol: Protocol::V2017,
            crc: CrcPolicy::Standard,
            max_segment_len: 1024,
            rtd_interval_s: 30,
            minute_interval_min: 1,
            hourly: false,
            factors: FACTORS.iter().map(|s| s.to_string()).collect(),
        }],
    }
}

/// Start `fenhe serve` with its HJ 212 gateway on `hj212` (port 0 for any) and return it with
/// the port it bound, read from the listening line it prints on stdout.
fn start_server(db: &str, hj212: &str) -> (Child, u16) {
    let mut child = Command::new(bin())
        .args(["serve", "--db", db, "--hj212-listen", hj212])
        .args(["--http-listen", "127.0.0.1:0", "--no-gap-requests", "--frame-rate", "100000"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn fenhe serve");
    let stdout = child.stdout.take().expect("a piped stdout");
    let (tx, rx) = mpsc::channel();
    // Reads stdout to its end, so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if v["event"] == "listening"
                && let Some(addr) = v["hj212"].as_str().and_then(|a| a.parse::<SocketAddr>().ok())
            {
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(30)).expect("the server reports the address it bound");
    (child, addr.port())
}

/// Minute upload `i` minutes after `t0` (epoch ms).
pub(crate) fn minute_packet(t0: i64, i: i64) -> (String, Vec<u8>) {
    let t = DateTime::from_unix_millis_cst(t0 + i * 60_000).unwrap();
    let qn = t.qn();
    let mut b =
        PacketBuilder::new("2051", MN).qn(&qn).st("31").pw(PW).version(Version::V2017, true).data_time(&t);
    for (k, f) in FACTORS.iter().enumerate() {
        let v = 10.0 + k as f64 + (i % 17) as f64 / 10.0;
        b = b.factor(f, [("Avg", format!("{v:.1}")), ("Flag", "N".to_string())]);
    }
    (qn, b.build())
}

fn stored_minutes(db: &str) -> std::collections::BTreeSet<String> {
    let out = Command::new(bin())
        .args(["data", "export", "--mn", MN, "--cn", "2051", "--db", db])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut per_time: std::collections::BTreeMap<String, usize> = Default::default();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        *per_time.entry(v["data_time"].as_str().unwrap().to_string()).or_default() += 1;
    }
    // A minute counts as stored when all its factors are.
    per_time.into_iter().filter(|(_, n)| *n >= FACTORS.len()).map(|(t, _)| t).collect()
}

fn iso(t: &DateTime) -> String {
    t.to_string()
}

#[test]
fn sigkill_loses_nothing_acknowledged_and_the_logger_resends_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    sigkill_scenario(&dir, db.to_str().unwrap());
}

#[test]
fn sigkill_on_postgres_loses_nothing_acknowledged_and_the_logger_resends_the_rest() {
    let Ok(url) = std::env::var("FENHE_TEST_PG_URL") else {
        eprintln!("skipped: FENHE_TEST_PG_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)");
        return;
    };
    let schema = format!("cli_crash_{}_{}", std::process::id(), fenhe_now());
    let sep = if url.contains('?') { '&' } else { '?' };
    let dir = tempfile::tempdir().unwrap();
    // The device secrets' key beside the test's other files, not in the working directory.
    let key = dir.path().join("fenhe.key");
    sigkill_scenario(&dir, &format!("{url}{sep}schema={schema}&key={}", key.display()));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&mut conn)
            .await
            .unwrap();
    });
}

/// Import the registry into `db`, then: stream uploads, SIGKILL the server mid-stream, check
/// every acknowledged packet is stored; restart, let a simulated logger backfill, kill and
/// restart again, and check the logger's re-sends complete the two hours.
fn sigkill_scenario(dir: &tempfile::TempDir, db: &str) {
    let reg = dir.path().join("registry.toml");
    std::fs::write(&reg, toml::to_string(&registry()).unwrap()).unwrap();
    let out =
        Command::new(bin()).args(["registry", "import", reg.to_str().unwrap(), "--db", db]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let (mut server, port) = start_server(db, "127.0.0.1:0");

    // Phase 1: stream uploads as fast as the socket takes them, collecting the QNs acknowledged.
    let now = fenhe_now();
    let t0 = (now - 3 * 86_400_000) / 60_000 * 60_000;
    let n = 3000i64;
    let packets: Vec<(String, Vec<u8>)> = (0..n).map(|i| minute_packet(t0, i)).collect();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_nodelay(true).unwrap();
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let mut rd = stream.try_clone().unwrap();
        let acked = acked.clone();
        std::thread::spawn(move || {
            let mut framer = Framer::new(FrameConfig::default());
            let mut buf = [0u8; 4096];
            while let Ok(k) = rd.read(&mut buf) {
                if k == 0 {
                    break;
                }
                framer.push(&buf[..k]);
                while let Some(ev) = framer.next() {
                    if let Event::Frame(raw) = ev
                        && let Ok(p) = hj212::decode(&raw, &FrameConfig::default(), &ParseOptions::default())
                        && p.cn == "9014"
                        && let Some(qn) = p.qn
                    {
                        acked.lock().unwrap().push(qn.to_string());
                    }
                }
            }
        })
    };
    let writer = std::thread::spawn(move || {
        for (_, bytes) in &packets {
            if stream.write_all(bytes).is_err() {
                break;
            }
        }
        stream
    });
    // Kill while packets are still arriving.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 400 {
        assert!(Instant::now() < deadline, "no acknowledgements");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let _ = writer.join();
    let _ = reader.join();
    let acked: Vec<String> = acked.lock().unwrap().clone();
    assert!(acked.len() >= 400);
    assert!((acked.len() as i64) < n, "the kill must come mid-stream");

    // Every acknowledged packet is in the database, read by a fresh process.
    let stored = stored_minutes(db);
    for qn in &acked {
        let (t, _) = DateTime::parse(qn).unwrap();
        let t = DateTime { millis: 0, ..t };
        assert!(stored.contains(&iso(&t)), "acknowledged {qn} but not stored");
    }

    // Phase 2: a simulated logger backfilling two hours; the server dies under it and comes back.
    let (mut server, port) = start_server(db, "127.0.0.1:0");
    let from = (now - 4 * 3_600_000) / 3_600_000 * 3_600_000;
    let to = from + 2 * 3_600_000;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut spec = fenhe_sim::DeviceSpec::flue_gas(MN, 7);
    spec.password = PW.into();
    spec.minute_interval_min = 1;
    spec.send_hourly = false;
    let cfg = fenhe_sim::FleetConfig {
        addr: format!("127.0.0.1:{port}"),
        sim: fenhe_sim::SimConfig {
            backfill: Some(fenhe_sim::Backfill { from_ms: from, to_ms: to }),
            ack_timeout: Duration::from_secs(2),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_millis(500),
            ..Default::default()
        },
        ramp_up: Duration::ZERO,
    };
    let fleet = rt.block_on(async { fenhe_sim::Fleet::spawn(vec![spec], cfg) }).unwrap();
    let stats = fleet.stats().clone();
    let deadline = Instant::now() + Duration::from_secs(60);
    while stats.snapshot().packets_acked < 30 {
        assert!(Instant::now() < deadline, "the simulator got no acknowledgements");
        std::thread::sleep(Duration::from_millis(10));
    }
    server.kill().unwrap();
    server.wait().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // Back on the same port, as a logger reconnects to the address it knows: the port our own
    // server held until the kill, not one handed over from a dropped listener.
    let (mut server, again) = start_server(db, &format!("127.0.0.1:{port}"));
    assert_eq!(again, port);
    let expected: Vec<String> =
        (0..120).map(|i| iso(&DateTime::from_unix_millis_cst(from + i * 60_000).unwrap())).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let stored = stored_minutes(db);
        let missing: Vec<&String> = expected.iter().filter(|t| !stored.contains(*t)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after restart, still missing {} minutes, e.g. {}",
            missing.len(),
            missing[0]
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    rt.block_on(fleet.shutdown());
    // A clean stop this time.
    let _ = Command::new("kill").args(["-TERM", &server.id().to_string()]).status();
    let status = server.wait().unwrap();
    assert!(status.success(), "serve exited with {status}");
}

fn fenhe_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}
