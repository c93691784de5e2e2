//! A `fenhe serve` child process for the load benchmarks: started on free ports, found by its
//! listening line, measured through /proc (memory, CPU), stopped with SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The addresses in `fenhe serve`'s listening line
/// (`{"event":"listening","hj212":"…","http":"…"}`), if `line` is one.
pub fn listening_line(line: &str) -> Option<(SocketAddr, SocketAddr)> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v["event"] != "listening" {
        return None;
    }
    let addr = |k: &str| v[k].as_str().and_then(|a| a.parse().ok());
    Some((addr("hj212")?, addr("http")?))
}

/// VmRSS and VmHWM of a process, KiB.
pub fn rss_kib(pid: u32) -> Result<(u64, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        s.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

/// User + system CPU time of a process, seconds.
pub fn cpu_s(pid: &str) -> f64 {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the command name (which is in parentheses and may hold spaces).
    let Some(rest) = s.rfind(')').map(|i| &s[i + 2..]) else { return 0.0 };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

pub fn percentile_ms(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

pub struct Server {
    child: Child,
    log: PathBuf,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_tail(&self) -> String {
        let s = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, then wait (the server has a grace period of its own); true when it exited 0.
    pub async fn stop(mut self) -> Result<bool> {
        // SAFETY: kill(2) with the pid of our own child, which we have not reaped yet.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    eprintln!("server exited with {status}; log tail:\n{}", self.log_tail());
                }
                return Ok(status.success());
            }
            if Instant::now() > deadline {
                self.child.kill()?;
                self.child.wait()?;
                eprintln!("server did not stop within 60 s of SIGTERM; killed");
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Start `bin serve --db DB` on port 0 for both listeners with `args` added, its standard output
/// and error in `dir/server.log`; returns once it has said where it listens (hj212, http).
pub async fn start_server(
    bin: &Path,
    db: &Path,
    dir: &Path,
    args: &[String],
) -> Result<(Server, SocketAddr, SocketAddr)> {
    let log = dir.join("server.log");
    let logf = std::fs::File::create(&log).with_context(|| format!("cannot create {}", log.display()))?;
    // Port 0 for both listeners: the server reports what it bound in its listening line.
    let mut child = std::process::Command::new(bin)
        .arg("serve")
        .arg("--db")
        .arg(db)
        .args(["--hj212-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"])
        .args(args)
        .env_remove("FENHE_DB")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(logf.try_clone()?)
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let stdout = child.stdout.take().context("the server's stdout is not piped")?;
    let (tx, rx) = std::sync::mpsc::channel();
    // Copies stdout into the log to its end (so the server never blocks on a full pipe), and
    // passes the listening line on.
    std::thread::spawn(move || {
        use std::io::{BufRead, Write};
        let mut logf = logf;
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(addrs) = listening_line(&line) {
                let _ = tx.send(addrs);
            }
            let _ = writeln!(logf, "{line}");
        }
    });
    let mut server = Server { child, log };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = server.child.try_wait()? {
            bail!("the server exited at startup ({status}):\n{}", server.log_tail());
        }
        if let Ok((hj212, http)) = rx.try_recv() {
            return Ok((server, hj212, http));
        }
        if Instant::now() > deadline {
            let _ = server.child.kill();
            bail!(
                "the server did not report its listening addresses within 60 s (a server binary older than its listening line?):\n{}",
                server.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_listening_line_and_nothing_else() {
        let line = r#"{"event":"listening","hj212":"127.0.0.1:40001","http":"127.0.0.1:40002"}"#;
        let (hj212, http) = listening_line(line).unwrap();
        assert_eq!((hj212.port(), http.port()), (40001, 40002));
        assert!(listening_line("fenhe serving: HJ 212 on 127.0.0.1:9212").is_none());
        assert!(
            listening_line(r#"{"event":"stopped","hj212":"127.0.0.1:1","http":"127.0.0.1:2"}"#).is_none()
        );
    }
}
