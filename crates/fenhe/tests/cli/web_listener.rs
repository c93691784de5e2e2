//! The web listener beside the gateway in one `fenhe serve`: idle HTTP clients cannot take the
//! descriptors a data logger needs to connect, however many they open.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hj212::{Event, FrameConfig, Framer, ParseOptions};

use crate::common::bin;
use crate::crash_recovery::{minute_packet, registry};

/// The open-file limit the server runs under (soft and hard): less than the HTTP clients.
const NOFILE: u32 = 1100;
/// Idle HTTP connections opened against it.
const HTTP_CLIENTS: usize = 1100;

/// Make sure this test process may hold its own end of every connection.
#[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
fn allow_descriptors(n: u64) {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit read or write only the struct we own.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        if (lim.rlim_cur as u64) < n && (lim.rlim_max as u64) >= n {
            lim.rlim_cur = n as libc::rlim_t;
            assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        }
    }
}

/// Whether a 9014 acknowledgement for `qn` arrives on `s` within `within`.
fn acknowledged(s: &mut TcpStream, qn: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut framer = Framer::new(FrameConfig::default());
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return false,
            Ok(k) => framer.push(&buf[..k]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                continue;
            }
            Err(_) => return false,
        }
        while let Some(ev) = framer.next() {
            if let Event::Frame(raw) = ev
                && let Ok(p) = hj212::decode(&raw, &FrameConfig::default(), &ParseOptions::default())
                && p.cn == "9014"
                && p.qn == Some(qn)
            {
                return true;
            }
        }
    }
    false
}

#[test]
fn idle_http_connections_cannot_stop_the_gateway_accepting_a_device() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fd.db");
    let reg = dir.path().join("registry.toml");
    std::fs::write(&reg, toml::to_string(&registry()).unwrap()).unwrap();
    let out = Command::new(bin())
        .args(["registry", "import", reg.to_str().unwrap(), "--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // The server under a limit of 1100 descriptors (soft and hard, so it cannot raise it), with
    // timeouts long enough that the idle clients stay for the whole test: the cap and the
    // descriptor reserve are under test here, not the timeouts.
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {NOFILE} && exec \"$0\" \"$@\""))
        .arg(bin())
        .args(["serve", "--db", db.to_str().unwrap(), "--hj212-listen", "127.0.0.1:0"])
        .args(["--http-listen", "127.0.0.1:0", "--no-gap-requests", "--no-time-check", "--no-engine"])
        .args(["--max-connections", "50", "--http-header-timeout-s", "600", "--http-idle-timeout-s", "600"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn fenhe serve");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            if v["event"] == "listening" {
                let addr = |k: &str| v[k].as_str().and_then(|a| a.parse::<SocketAddr>().ok());
                let _ = tx.send((addr("hj212"), addr("http")));
            }
        }
    });
    let (hj212, http) = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok((Some(g), Some(h))) => (g, h),
        other => {
            let _ = child.kill();
            panic!("the server did not report its addresses: {other:?}");
        }
    };

    allow_descriptors(HTTP_CLIENTS as u64 + 256);
    let mut idle = Vec::with_capacity(HTTP_CLIENTS);
    for _ in 0..HTTP_CLIENTS {
        // Connections past the server's cap complete in the kernel's backlog; all of them count.
        match TcpStream::connect_timeout(&http, Duration::from_secs(10)) {
            Ok(s) => idle.push(s),
            Err(_) => break,
        }
    }
    assert!(idle.len() >= 1000, "only {} HTTP connections opened", idle.len());
    // Give the server time to accept all it will (it accepts in a loop; nothing to wait on).
    std::thread::sleep(Duration::from_secs(2));

    // A data logger connects and uploads: it is acknowledged.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let (qn, bytes) = minute_packet((now - 3_600_000) / 60_000 * 60_000, 0);
    let mut logger =
        TcpStream::connect_timeout(&hj212, Duration::from_secs(10)).expect("the gateway accepts");
    logger.write_all(&bytes).unwrap();
    let ok = acknowledged(&mut logger, &qn, Duration::from_secs(30));
    drop(idle);
    let _ = child.kill();
    let _ = child.wait();
    assert!(ok, "no acknowledgement while {HTTP_CLIENTS} idle HTTP connections were open");
}
