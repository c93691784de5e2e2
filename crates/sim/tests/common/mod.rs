//! A tiny HJ 212 platform for tests: accepts connections on 127.0.0.1:0, frames and records what
//! arrives, acknowledges uploads with 9014 when told to, and sends whatever a test asks.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hj212::builder::platform;
use hj212::{
    CrcMode, CrcVariant, Deviations, Event, FrameConfig, Framer, Packet, ParseOptions, Peer, Version,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// 2025-03-03 00:00:00 in China.
pub const T0: i64 = 1_740_931_200_000;
pub const MN: &str = "SIMTEST00000000000000001";
pub const PW: &str = "123456";

/// A frame as the platform received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub conn: usize,
    pub bytes: Vec<u8>,
    pub segment: String,
    pub crc: Option<CrcVariant>,
    pub deviations: Deviations,
}

impl Received {
    pub fn packet(&self) -> Packet<'_> {
        hj212::parse(self.segment.as_bytes(), &ParseOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", self.segment))
    }
    pub fn cn(&self) -> String {
        self.packet().cn.to_string()
    }
    /// DataTime as epoch milliseconds.
    pub fn data_time(&self) -> i64 {
        self.packet().data_time.expect("DataTime").unix_millis_cst()
    }
    pub fn key(&self, k: &str) -> Option<String> {
        self.packet().key(k).map(str::to_string)
    }
}

#[derive(Debug)]
pub enum Ev {
    Connected(usize),
    Frame(Received),
    /// Bytes the framer skipped.
    Garbage(usize, Vec<u8>),
    Closed(usize),
}

enum Cmd {
    Send(Vec<u8>),
    Close,
}

pub struct TestServer {
    pub addr: String,
    pub auto_ack: Arc<AtomicBool>,
    events: mpsc::UnboundedReceiver<Ev>,
    conns: Arc<std::sync::Mutex<Vec<mpsc::UnboundedSender<Cmd>>>>,
}

impl TestServer {
    pub async fn start(auto_ack: bool) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, events) = mpsc::unbounded_channel();
        let auto = Arc::new(AtomicBool::new(auto_ack));
        let conns: Arc<std::sync::Mutex<Vec<mpsc::UnboundedSender<Cmd>>>> = Arc::default();
        let (a, c) = (auto.clone(), conns.clone());
        tokio::spawn(async move {
            let mut id = 0;
            while let Ok((stream, _)) = listener.accept().await {
                let (ctx, crx) = mpsc::unbounded_channel();
                c.lock().unwrap().push(ctx);
                tokio::spawn(connection(id, stream, tx.clone(), crx, a.clone()));
                id += 1;
            }
        });
        TestServer { addr, auto_ack: auto, events, conns }
    }

    pub fn set_auto_ack(&self, on: bool) {
        self.auto_ack.store(on, Ordering::SeqCst);
    }

    /// The next event, failing the test after `secs` seconds.
    pub async fn next(&mut self, secs: u64) -> Ev {
        tokio::time::timeout(Duration::from_secs(secs), self.events.recv())
            .await
            .expect("timed out waiting for the device")
            .expect("server gone")
    }

    /// Fails the test if a frame arrives within `d`: for what a device must not send. Other
    /// events (connections, garbage) are passed over.
    pub async fn no_frame_for(&mut self, d: Duration, what: &str) {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Err(_) => return,
                Ok(None) => panic!("server gone"),
                Ok(Some(Ev::Frame(r))) => panic!("{what}, yet got {}", r.segment),
                Ok(Some(_)) => {}
            }
        }
    }

    /// The next frame, skipping other events.
    pub async fn frame(&mut self) -> Received {
        loop {
            if let Ev::Frame(r) = self.next(20).await {
                return r;
            }
        }
    }

    /// The next frame with command code `cn`.
    pub async fn frame_cn(&mut self, cn: &str) -> Received {
        loop {
            let r = self.frame().await;
            if r.cn() == cn {
                return r;
            }
        }
    }

    /// The next frame that is not a data upload (2011/2051/2061/2031).
    pub async fn reply(&mut self) -> Received {
        loop {
            let r = self.frame().await;
            if !matches!(r.cn().as_str(), "2011" | "2051" | "2061" | "2031") {
                return r;
            }
        }
    }

    /// Send bytes on the newest connection.
    pub fn send(&self, bytes: Vec<u8>) {
        let conns = self.conns.lock().unwrap();
        conns.last().expect("no connection").send(Cmd::Send(bytes)).unwrap();
    }

    /// Close the newest connection.
    pub fn close(&self) {
        let conns = self.conns.lock().unwrap();
        let _ = conns.last().expect("no connection").send(Cmd::Close);
    }
}

async fn connection(
    id: usize,
    stream: tokio::net::TcpStream,
    tx: mpsc::UnboundedSender<Ev>,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    auto_ack: Arc<AtomicBool>,
) {
    let _ = tx.send(Ev::Connected(id));
    let (mut rd, mut wr) = stream.into_split();
    let cfg = FrameConfig { crc_mode: CrcMode::Any, ..Default::default() };
    let mut framer = Framer::new(cfg);
    let mut buf = vec![0u8; 8192];
    loop {
        tokio::select! {
            cmd = cmds.recv() => match cmd {
                Some(Cmd::Send(b)) => { let _ = wr.write_all(&b).await; }
                Some(Cmd::Close) | None => break,
            },
            r = rd.read(&mut buf) => {
                let n = match r { Ok(0) | Err(_) => break, Ok(n) => n };
                framer.push(&buf[..n]);
                let mut acks = Vec::new();
                while let Some(ev) = framer.next() {
                    match ev {
                        Event::Frame(raw) => {
                            let segment = String::from_utf8_lossy(raw.segment).into_owned();
                            if auto_ack.load(Ordering::SeqCst)
                                && let Ok(p) = hj212::decode(&raw, &cfg, &ParseOptions::default())
                                && let Some(r) = platform::reply_for(&p)
                            {
                                acks.push(r.build());
                            }
                            let _ = tx.send(Ev::Frame(Received {
                                conn: id,
                                bytes: raw.bytes.to_vec(),
                                segment,
                                crc: raw.crc.variant,
                                deviations: raw.deviations,
                            }));
                        }
                        Event::Rejected { bytes, .. } => {
                            let _ = tx.send(Ev::Garbage(id, bytes.to_vec()));
                        }
                    }
                }
                for a in acks {
                    let _ = wr.write_all(&a).await;
                }
            }
        }
    }
    let _ = tx.send(Ev::Closed(id));
}

pub fn peer(st: &'static str, version: Version) -> Peer<'static> {
    Peer { mn: MN, pw: PW, st, version }
}

/// A QN for a platform request.
pub fn qn(n: u16) -> hj212::DateTime {
    hj212::DateTime { year: 2025, month: 3, day: 3, hour: 12, minute: 0, second: 0, millis: n }
}

pub fn dt(ms: i64) -> hj212::DateTime {
    hj212::DateTime::from_unix_millis_cst(ms).unwrap()
}
