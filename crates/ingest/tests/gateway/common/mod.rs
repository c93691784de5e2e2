//! Test harness: a real gateway on 127.0.0.1:0 over a temporary SQLite file and the real writer,
//! and a scripted data logger speaking HJ 212 over TCP.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use fenhe_core::compliance as cpl;
use fenhe_core::{CrcPolicy, Device, Protocol, Registry};
use fenhe_ingest::{Gateway, GatewayConfig, GatewayHandle};
use fenhe_store::sqlite::SqliteStore;
use fenhe_store::writer::{Writer, WriterConfig, WriterHandle};
use fenhe_store::*;
use hj212::builder::{Peer, device};
use hj212::{DateTime, Event, FrameConfig, Framer, Packet, ParseOptions, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const PW: &str = "123456";
/// Standard-policy device, minute interval 1.
pub const STD: &str = "STD0000000000000000000001";
/// MODBUS-CRC device.
pub const MODBUS: &str = "MOD0000000000000000000001";
/// A second standard device (for tests that need two).
pub const OTHER: &str = "STD0000000000000000000002";

pub fn registry() -> Registry {
    let city = fenhe_core::demo::city();
    let outlet = city.outlets[0].clone();
    let enterprise = city.enterprises.iter().find(|e| e.id == outlet.enterprise).unwrap().clone();
    let dev = |mn: &str, crc| Device {
        mn: mn.into(),
        password: PW.into(),
        outlet: outlet.id.clone(),
        protocol: Protocol::V2017,
        crc,
        max_segment_len: 1024,
        rtd_interval_s: 30,
        minute_interval_min: 1,
        hourly: true,
        factors: vec![],
    };
    Registry {
        enterprises: vec![enterprise],
        outlets: vec![outlet.clone()],
        devices: vec![
            dev(STD, CrcPolicy::Standard),
            dev(MODBUS, CrcPolicy::Modbus),
            dev(OTHER, CrcPolicy::Standard),
        ],
    }
}

/// Short timeouts; no clock check unless a test asks for it.
pub fn config() -> GatewayConfig {
    GatewayConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        command_timeout: Duration::from_millis(500),
        command_retries: 2,
        command_poll: Duration::from_millis(200),
        time_check_on_connect: false,
        shutdown_grace: Duration::from_secs(5),
        ..GatewayConfig::default()
    }
}

/// Small helper to tweak a config inline.
pub struct GatewayConfigExt;
impl GatewayConfigExt {
    pub fn with(mut c: GatewayConfig, f: impl FnOnce(&mut GatewayConfig)) -> GatewayConfig {
        f(&mut c);
        c
    }
}

/// `n` minute uploads in a row from 10:00, as one byte string, with their QNs.
pub fn minutes(d: &mut TestDevice, n: u32) -> (Vec<u8>, Vec<String>) {
    let mut all = Vec::new();
    let mut qns = Vec::new();
    for i in 0..n {
        let (bytes, qn) = d.upload("2051", &t(10 + (i / 60) as u8, (i % 60) as u8), f64::from(i));
        all.extend(bytes);
        qns.push(qn);
    }
    (all, qns)
}

/// A store wrapper whose `write_batch` can be held back or made to fail.
pub struct Gate {
    pub inner: Arc<dyn Store>,
    pub hold: AtomicBool,
    pub fail: AtomicBool,
    pub release: Notify,
    /// `write_batch` calls that are waiting at the gate.
    pub waiting: AtomicUsize,
}

impl Gate {
    pub fn new(inner: Arc<dyn Store>) -> Arc<Gate> {
        Arc::new(Gate {
            inner,
            hold: AtomicBool::new(false),
            fail: AtomicBool::new(false),
            release: Notify::new(),
            waiting: AtomicUsize::new(0),
        })
    }
    pub fn open(&self) {
        self.hold.store(false, Ordering::SeqCst);
        self.release.notify_waiters();
    }
}

#[async_trait]
impl fenhe_store::IngestStore for Gate {
    async fn write_batch(&self, items: &[IngestItem]) -> Result<Vec<ItemOutcome>> {
        if self.hold.load(Ordering::SeqCst) {
            self.waiting.fetch_add(1, Ordering::SeqCst);
            loop {
                let released = self.release.notified();
                if !self.hold.load(Ordering::SeqCst) {
                    break;
                }
                released.await;
            }
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
        if self.fail.load(Ordering::SeqCst) {
            return Err(StoreError::Unsupported("injected failure".into()));
        }
        self.inner.write_batch(items).await
    }
    async fn measurements(&self, q: &MeasurementQuery) -> Result<Vec<fenhe_store::StoredMeasurement>> {
        self.inner.measurements(q).await
    }
    fn set_ingest_rules(&self, rules: fenhe_store::IngestRules) {
        self.inner.set_ingest_rules(rules)
    }
    async fn pending_revisions(
        &self,
        q: &fenhe_store::RevisionQuery,
    ) -> Result<Vec<fenhe_store::PendingRevision>> {
        self.inner.pending_revisions(q).await
    }
    async fn decide_revision(
        &self,
        id: i64,
        decision: fenhe_store::RevisionDecision,
        by: &str,
        reason: Option<&str>,
        at: i64,
    ) -> Result<fenhe_store::PendingRevision> {
        self.inner.decide_revision(id, decision, by, reason, at).await
    }
    async fn frames(&self, q: &FrameQuery) -> Result<Vec<StoredFrame>> {
        self.inner.frames(q).await
    }
    async fn frame_counts(&self) -> Result<Vec<FrameCount>> {
        self.inner.frame_counts().await
    }
    async fn frame_counts_by_mn(&self, since: i64) -> Result<Vec<fenhe_store::MnFrameCount>> {
        self.inner.frame_counts_by_mn(since).await
    }
    async fn inbox(&self, q: &fenhe_store::InboxQuery) -> Result<Vec<fenhe_store::InboxEntry>> {
        self.inner.inbox(q).await
    }
    async fn inbox_count(&self) -> Result<u64> {
        self.inner.inbox_count().await
    }
    async fn device_activity(&self) -> Result<Vec<DeviceActivity>> {
        self.inner.device_activity().await
    }
    async fn data_times(&self, mn: &str, cn: &str, from: i64, to: i64) -> Result<Vec<i64>> {
        self.inner.data_times(mn, cn, from, to).await
    }
    async fn stored_counts(&self, cn: Option<&str>) -> Result<fenhe_store::StoredCounts> {
        self.inner.stored_counts(cn).await
    }
}

#[async_trait]
impl fenhe_store::RegistryStore for Gate {
    async fn import_registry(&self, r: &Registry) -> Result<ImportSummary> {
        self.inner.import_registry(r).await
    }
    async fn registry(&self) -> Result<Registry> {
        self.inner.registry().await
    }
    async fn record_import(&self, r: &fenhe_store::ImportRecord) -> Result<i64> {
        self.inner.record_import(r).await
    }
    async fn imports(&self, limit: u32) -> Result<Vec<fenhe_store::StoredImport>> {
        self.inner.imports(limit).await
    }
    async fn set_device_password(&self, mn: &str, password: &str) -> Result<bool> {
        self.inner.set_device_password(mn, password).await
    }
}

#[async_trait]
impl fenhe_store::CommandStore for Gate {
    async fn enqueue_command(&self, c: &NewCommand) -> Result<i64> {
        self.inner.enqueue_command(c).await
    }
    async fn open_commands(&self, mn: &str) -> Result<Vec<Command>> {
        self.inner.open_commands(mn).await
    }
    async fn update_command(
        &self,
        id: i64,
        status: CommandStatus,
        qn: Option<&str>,
        attempts: u32,
        detail: Option<&str>,
        at: i64,
    ) -> Result<()> {
        self.inner.update_command(id, status, qn, attempts, detail, at).await
    }
    async fn commands(&self, mn: Option<&str>, limit: u32) -> Result<Vec<Command>> {
        self.inner.commands(mn, limit).await
    }
}

#[async_trait]
impl fenhe_store::ResultStore for Gate {
    async fn dirty_days(&self, limit: u32) -> Result<Vec<fenhe_store::DirtyDay>> {
        self.inner.dirty_days(limit).await
    }
    async fn clear_dirty(&self, done: &[fenhe_store::DirtyDay]) -> Result<()> {
        self.inner.clear_dirty(done).await
    }
    async fn mark_all_dirty(&self) -> Result<u64> {
        self.inner.mark_all_dirty().await
    }
    async fn mark_dirty(&self, mn: &str, day_starts: &[i64]) -> Result<u64> {
        self.inner.mark_dirty(mn, day_starts).await
    }
    async fn save_evaluation(&self, mn: &str, from: i64, to: i64, ev: &cpl::Evaluation) -> Result<()> {
        self.inner.save_evaluation(mn, from, to, ev).await
    }
    async fn replace_episodes(&self, mn: &str, from: i64, to: i64, e: &[cpl::Episode]) -> Result<()> {
        self.inner.replace_episodes(mn, from, to, e).await
    }
    async fn replace_findings(
        &self,
        mn: &str,
        from: i64,
        to: i64,
        kinds: Option<&[cpl::FindingKind]>,
        findings: &[cpl::Finding],
    ) -> Result<()> {
        self.inner.replace_findings(mn, from, to, kinds, findings).await
    }
    async fn save_monthly(
        &self,
        mn: &str,
        month_start: i64,
        emissions: &[cpl::Emission],
        rates: &[cpl::Rate],
        findings: &[cpl::Finding],
    ) -> Result<()> {
        self.inner.save_monthly(mn, month_start, emissions, rates, findings).await
    }
    async fn aggregates(&self, q: &fenhe_store::AggregateQuery) -> Result<Vec<cpl::Aggregate>> {
        self.inner.aggregates(q).await
    }
    async fn episodes(&self, q: &fenhe_store::EpisodeQuery) -> Result<Vec<cpl::Episode>> {
        self.inner.episodes(q).await
    }
    async fn findings(&self, q: &fenhe_store::FindingQuery) -> Result<Vec<cpl::Finding>> {
        self.inner.findings(q).await
    }
    async fn emissions(&self, q: &fenhe_store::EmissionQuery) -> Result<Vec<cpl::Emission>> {
        self.inner.emissions(q).await
    }
    async fn rates(&self, q: &fenhe_store::RateQuery) -> Result<Vec<cpl::Rate>> {
        self.inner.rates(q).await
    }
    async fn data_hours(&self, from: i64, to: i64) -> Result<Vec<(String, i64)>> {
        self.inner.data_hours(from, to).await
    }
    async fn engine_state(&self, name: &str) -> Result<Option<String>> {
        self.inner.engine_state(name).await
    }
    async fn set_engine_state(&self, name: &str, value: &str) -> Result<()> {
        self.inner.set_engine_state(name, value).await
    }
    async fn compliance_records(&self, mn: &str, from: i64, to: i64) -> Result<Vec<cpl::Record>> {
        self.inner.compliance_records(mn, from, to).await
    }
}

#[async_trait]
impl fenhe_store::AlarmStore for Gate {
    async fn alarms_to_reconcile(
        &self,
        window: fenhe_core::alarm::AlarmWindow<'_>,
        keys: &[&str],
    ) -> Result<Vec<fenhe_store::Alarm>> {
        self.inner.alarms_to_reconcile(window, keys).await
    }
    async fn apply_alarm_changes(&self, changes: &[fenhe_core::alarm::AlarmChange]) -> Result<()> {
        self.inner.apply_alarm_changes(changes).await
    }
    async fn alarms(&self, q: &fenhe_store::AlarmQuery) -> Result<Vec<fenhe_store::Alarm>> {
        self.inner.alarms(q).await
    }
    async fn count_alarms(&self, q: &fenhe_store::AlarmQuery) -> Result<u64> {
        self.inner.count_alarms(q).await
    }
    async fn alarm(&self, id: i64) -> Result<Option<fenhe_store::Alarm>> {
        self.inner.alarm(id).await
    }
}

#[async_trait]
impl fenhe_store::LeaseStore for Gate {
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        ttl_ms: i64,
    ) -> Result<Option<fenhe_store::Lease>> {
        self.inner.try_lease(name, holder, now, ttl_ms).await
    }
    async fn release_lease(&self, name: &str, holder: &str) -> Result<bool> {
        self.inner.release_lease(name, holder).await
    }
}

#[async_trait]
impl fenhe_store::AccountStore for Gate {
    async fn create_user(&self, u: &fenhe_store::NewUser) -> Result<fenhe_store::User> {
        self.inner.create_user(u).await
    }
    async fn user(&self, username: &str) -> Result<Option<fenhe_store::User>> {
        self.inner.user(username).await
    }
    async fn users(&self) -> Result<Vec<fenhe_store::User>> {
        self.inner.users().await
    }
    async fn set_password_hash(&self, username: &str, hash: &str, at: i64) -> Result<bool> {
        self.inner.set_password_hash(username, hash, at).await
    }
    async fn set_user_active(&self, username: &str, active: bool, at: i64) -> Result<bool> {
        self.inner.set_user_active(username, active, at).await
    }
    async fn create_token(&self, t: &fenhe_store::NewToken) -> Result<fenhe_store::ApiToken> {
        self.inner.create_token(t).await
    }
    async fn token(&self, id: i64) -> Result<Option<fenhe_store::ApiToken>> {
        self.inner.token(id).await
    }
    async fn token_by_hash(&self, token_hash: &str) -> Result<Option<fenhe_store::ApiToken>> {
        self.inner.token_by_hash(token_hash).await
    }
    async fn tokens(&self, username: Option<&str>) -> Result<Vec<fenhe_store::ApiToken>> {
        self.inner.tokens(username).await
    }
    async fn touch_token(&self, id: i64, at: i64) -> Result<()> {
        self.inner.touch_token(id, at).await
    }
    async fn revoke_token(&self, id: i64, at: i64) -> Result<bool> {
        self.inner.revoke_token(id, at).await
    }
    async fn departments(&self) -> Result<Vec<fenhe_store::Department>> {
        self.inner.departments().await
    }
    async fn upsert_department(&self, d: &fenhe_store::Department) -> Result<()> {
        self.inner.upsert_department(d).await
    }
    async fn set_demo_password(&self, username: &str, password: &str) -> Result<()> {
        self.inner.set_demo_password(username, password).await
    }
    async fn demo_passwords(&self) -> Result<Vec<(String, String)>> {
        self.inner.demo_passwords().await
    }
}

#[async_trait]
impl fenhe_store::SessionStore for Gate {
    async fn create_session(&self, s: &fenhe_store::Session) -> Result<()> {
        self.inner.create_session(s).await
    }
    async fn session(&self, token_hash: &str) -> Result<Option<fenhe_store::Session>> {
        self.inner.session(token_hash).await
    }
    async fn touch_session(&self, token_hash: &str, last_seen_at: i64, expires_at: i64) -> Result<bool> {
        self.inner.touch_session(token_hash, last_seen_at, expires_at).await
    }
    async fn delete_session(&self, token_hash: &str) -> Result<bool> {
        self.inner.delete_session(token_hash).await
    }
    async fn delete_user_sessions(&self, username: &str, except: Option<&str>) -> Result<u64> {
        self.inner.delete_user_sessions(username, except).await
    }
    async fn delete_expired_sessions(&self, now: i64) -> Result<u64> {
        self.inner.delete_expired_sessions(now).await
    }
}

#[async_trait]
impl fenhe_store::SignInStore for Gate {
    async fn record_sign_in(&self, a: &fenhe_store::SignInAttempt) -> Result<()> {
        self.inner.record_sign_in(a).await
    }
    async fn sign_in_failures(
        &self,
        username: &str,
        address: &str,
        since: i64,
    ) -> Result<fenhe_core::sign_in_throttle::RecentFailures> {
        self.inner.sign_in_failures(username, address, since).await
    }
    async fn forget_sign_ins(&self, before: i64) -> Result<u64> {
        self.inner.forget_sign_ins(before).await
    }
}

#[async_trait]
impl fenhe_store::AuditStore for Gate {
    async fn append_audit(&self, e: &fenhe_store::NewAuditEntry) -> Result<i64> {
        self.inner.append_audit(e).await
    }
    async fn audit(&self, q: &fenhe_store::AuditQuery) -> Result<Vec<fenhe_store::AuditEntry>> {
        self.inner.audit(q).await
    }
    async fn audit_count(&self, q: &fenhe_store::AuditQuery) -> Result<u64> {
        self.inner.audit_count(q).await
    }
}

#[async_trait]
impl fenhe_store::WorkflowStore for Gate {
    async fn create_item(&self, item: &fenhe_store::NewItem) -> Result<i64> {
        self.inner.create_item(item).await
    }
    async fn item(&self, kind: &str, id: i64) -> Result<Option<fenhe_store::Item>> {
        self.inner.item(kind, id).await
    }
    async fn items_by_id(&self, kind: &str, ids: &[i64]) -> Result<Vec<fenhe_store::Item>> {
        self.inner.items_by_id(kind, ids).await
    }
    async fn steps(&self, kind: &str, id: i64) -> Result<Vec<fenhe_store::Step>> {
        self.inner.steps(kind, id).await
    }
    async fn items(&self, q: &fenhe_store::ItemQuery) -> Result<Vec<fenhe_store::Item>> {
        self.inner.items(q).await
    }
    async fn count_items(&self, q: &fenhe_store::ItemQuery) -> Result<u64> {
        self.inner.count_items(q).await
    }
    async fn apply_step(
        &self,
        kind: &str,
        id: i64,
        change: &fenhe_store::ItemChange,
    ) -> Result<fenhe_store::StepOutcome> {
        self.inner.apply_step(kind, id, change).await
    }
    async fn mark_escalated(&self, kind: &str, id: i64, at: i64) -> Result<()> {
        self.inner.mark_escalated(kind, id, at).await
    }
    async fn put_file(
        &self,
        name: &str,
        content_type: &str,
        enterprise: &str,
        bytes: &[u8],
        now: i64,
    ) -> Result<fenhe_store::StoredFile> {
        self.inner.put_file(name, content_type, enterprise, bytes, now).await
    }
    async fn file_info(&self, sha256: &str) -> Result<Option<fenhe_store::StoredFile>> {
        self.inner.file_info(sha256).await
    }
    async fn file(&self, sha256: &str) -> Result<Option<(fenhe_store::StoredFile, Vec<u8>)>> {
        self.inner.file(sha256).await
    }
}

#[async_trait]
impl fenhe_store::Migrate for Gate {
    async fn migrate(&self) -> Result<()> {
        self.inner.migrate().await
    }
}

pub struct Harness {
    pub _dir: tempfile::TempDir,
    /// The store the gateway uses (the gate over SQLite).
    pub store: Arc<dyn Store>,
    pub gate: Arc<Gate>,
    pub writer: WriterHandle,
    pub addr: SocketAddr,
    pub handle: GatewayHandle,
    pub cancel: CancellationToken,
    pub task: JoinHandle<fenhe_ingest::Result<()>>,
}

/// Start a gateway over a fresh database holding [`registry`].
pub async fn start(cfg: GatewayConfig) -> Harness {
    start_with_writer(cfg, WriterConfig { max_wait: Duration::from_millis(1), ..WriterConfig::default() })
        .await
}

/// [`start`] with the writer configured as given (a small queue, to fill it).
pub async fn start_with_writer(cfg: GatewayConfig, writer_cfg: WriterConfig) -> Harness {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FENHE_TEST_LOG").unwrap_or_else(|_| "off".into()),
        )
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fenhe.db");
    let sqlite = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    sqlite.migrate().await.unwrap();
    let r = registry();
    sqlite.import_registry(&r).await.unwrap();
    let gate = Gate::new(Arc::new(sqlite));
    let store: Arc<dyn Store> = gate.clone();
    let writer = Writer::spawn(store.clone(), writer_cfg);
    let gateway = Gateway::bind(cfg, store.clone(), writer.clone()).await.unwrap();
    let addr = gateway.local_addr();
    let handle = gateway.handle();
    let cancel = CancellationToken::new();
    let task = gateway.spawn(cancel.clone());
    Harness { _dir: dir, store, gate, writer, addr, handle, cancel, task }
}

impl Harness {
    pub async fn device(&self, mn: &str) -> TestDevice {
        TestDevice::connect(self.addr, mn, PW).await
    }

    pub async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task).await.unwrap().unwrap().unwrap();
        self.writer.shutdown().await;
    }

    pub async fn frames(&self, mn: &str) -> Vec<StoredFrame> {
        self.store.frames(&FrameQuery { mn: Some(mn.into()), ..Default::default() }).await.unwrap()
    }

    pub async fn measurements(&self, mn: &str) -> Vec<StoredMeasurement> {
        self.store
            .measurements(&MeasurementQuery { mn: Some(mn.into()), ..Default::default() })
            .await
            .unwrap()
    }
}

/// Poll `f` until it returns `Some`, for at most 5 s.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A data logger under test control.
pub struct TestDevice {
    pub stream: TcpStream,
    framer: Framer,
    pub mn: String,
    pub pw: String,
    seq: u32,
}

/// A received packet, owned.
#[derive(Debug, Clone)]
pub struct Got {
    pub segment: String,
}

impl Got {
    pub fn packet(&self) -> Packet<'_> {
        hj212::parse(self.segment.as_bytes(), &ParseOptions::default()).unwrap()
    }
    pub fn cn(&self) -> String {
        self.packet().cn.to_string()
    }
    pub fn qn(&self) -> Option<String> {
        self.packet().qn.map(Into::into)
    }
    pub fn key(&self, k: &str) -> Option<String> {
        self.packet().key(k).map(Into::into)
    }
}

pub fn t(h: u8, m: u8) -> DateTime {
    DateTime::new(2024, 5, 1, h, m, 0).unwrap()
}

impl TestDevice {
    pub async fn connect(addr: SocketAddr, mn: &str, pw: &str) -> TestDevice {
        Self::over(TcpStream::connect(addr).await.unwrap(), mn, pw)
    }

    /// Connect from a loopback address of its own (`127.0.0.x`), for per-address limits.
    pub async fn connect_from(from: [u8; 4], addr: SocketAddr, mn: &str, pw: &str) -> TestDevice {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from((from, 0))).unwrap();
        Self::over(socket.connect(addr).await.unwrap(), mn, pw)
    }

    fn over(stream: TcpStream, mn: &str, pw: &str) -> TestDevice {
        TestDevice {
            stream,
            framer: Framer::new(FrameConfig::default()),
            mn: mn.into(),
            pw: pw.into(),
            seq: 0,
        }
    }

    pub fn peer(&self) -> Peer<'_> {
        Peer { mn: &self.mn, pw: &self.pw, st: "32", version: Version::V2017 }
    }

    /// A fresh QN for a device packet.
    pub fn qn(&mut self) -> DateTime {
        self.seq += 1;
        DateTime {
            millis: (self.seq % 1000) as u16,
            ..DateTime::new(2024, 5, 1, 12, 0, (self.seq / 1000 % 60) as u8).unwrap()
        }
    }

    /// A minute upload (2051) at `time` with one factor, asking for an acknowledgement.
    pub fn upload(&mut self, cn: &str, time: &DateTime, value: f64) -> (Vec<u8>, String) {
        let qn = self.qn();
        let b = device::upload(&self.peer(), &qn, cn, time, true)
            .factor("w01018", [("Avg", format!("{value}")), ("Flag", "N".into())]);
        (b.build(), qn.qn())
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    /// The next packet from the gateway within `within`; `None` on timeout or end of stream.
    pub async fn recv(&mut self, within: Duration) -> Option<Got> {
        let deadline = tokio::time::Instant::now() + within;
        let mut buf = [0u8; 4096];
        loop {
            if let Some(ev) = self.framer.next() {
                match ev {
                    Event::Frame(raw) => {
                        assert!(raw.crc.accepted, "gateway sent a bad CRC");
                        return Some(Got { segment: String::from_utf8(raw.segment.to_vec()).unwrap() });
                    }
                    Event::Rejected { error, .. } => panic!("gateway sent garbage: {error}"),
                }
            }
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Err(_) => return None,
                Ok(Ok(0)) | Ok(Err(_)) => return None,
                Ok(Ok(n)) => self.framer.push(&buf[..n]),
            }
        }
    }

    /// Skip packets until one matches, within 5 s.
    pub async fn expect(&mut self, what: &str, pred: impl Fn(&Got) -> bool) -> Got {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.recv(left).await {
                Some(g) if pred(&g) => return g,
                Some(_) => {}
                None => panic!("{}: no {what} within 5 s", self.mn),
            }
        }
    }

    /// The 9014 for the upload with QN `qn`.
    pub async fn expect_ack(&mut self, qn: &str) -> Got {
        self.expect(&format!("9014 for {qn}"), |g| g.cn() == "9014" && g.qn().as_deref() == Some(qn)).await
    }

    /// Assert that nothing matching arrives within `within`.
    pub async fn expect_none(&mut self, what: &str, within: Duration, pred: impl Fn(&Got) -> bool) {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            match self.recv(left).await {
                Some(g) if pred(&g) => panic!("{}: unexpected {what}: {}", self.mn, g.segment),
                Some(_) => {}
                None => return,
            }
        }
    }

    /// Whether the gateway closes the connection within `within`.
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let mut buf = [0u8; 1024];
        let deadline = tokio::time::Instant::now() + within;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Answer a platform request: 9011 with `qn_rtn`.
    pub async fn request_reply(&mut self, req: &Got, qn_rtn: u32) {
        let bytes = device::request_reply(&req.packet(), qn_rtn).build();
        self.send(&bytes).await;
    }

    /// Answer a platform request: 9012 with `exe_rtn`.
    pub async fn exe_result(&mut self, req: &Got, exe_rtn: u32) {
        let bytes = device::exe_result(&req.packet(), exe_rtn).build();
        self.send(&bytes).await;
    }
}
