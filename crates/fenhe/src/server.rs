//! Wiring of a running fenhe: store, single writer, HJ 212 gateway, web listener, metrics, and the
//! job runner (the compliance cycle, the silent-device check and the workflows' escalation,
//! `fenhe_jobs`). `serve` runs it
//! until a signal; `demo` runs it with a simulated city beside it.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};
use fenhe_ingest::{Gateway, GatewayConfig, GatewayHandle};
use fenhe_jobs::{ComplianceCycle, Housekeeping, Runner, SilentDevices, WorkflowEscalation};
use fenhe_store::Store;
use fenhe_store::writer::{Writer, WriterConfig, WriterHandle};
use fenhe_web::{AppState, LiveSnapshot, LiveStatus, OnlineDevice, WebConfig, WebServer};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::info;

/// What to start.
pub struct ServerOptions {
    pub db: String,
    pub hj212_listen: SocketAddr,
    pub http_listen: SocketAddr,
    pub gateway: GatewayConfig,
    pub writer: WriterConfig,
    /// The web side's settings (status page banner, demo mode, secure cookies).
    pub web: WebConfig,
    /// How ingest treats what arrives (the revision window).
    pub ingest_rules: fenhe_store::IngestRules,
    /// The compliance engine's jobs (the cycle and the silent-device check), if wanted.
    pub engine: Option<fenhe_app::engine::EngineOptions>,
    /// The workflows' calendar and deadlines (the web side's and the escalation job's).
    pub workflows: fenhe_app::workflows::WorkflowSettings,
}

/// A running server.
pub struct Running {
    pub store: Arc<dyn Store>,
    pub hj212_addr: SocketAddr,
    pub http_addr: SocketAddr,
    writer: WriterHandle,
    cancel: CancellationToken,
    gateway_task: JoinHandle<fenhe_ingest::Result<()>>,
    web: WebServer,
    /// One task per job (none without the engine).
    job_tasks: Vec<JoinHandle<()>>,
}

/// The process-wide Prometheus recorder (installed once; a second server in the same process,
/// as in tests, shares it).
fn prometheus() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed; /metrics is off");
                None
            }
        })
        .clone()
}

struct GatewayLive {
    gateway: GatewayHandle,
    started_at: i64,
}

impl LiveStatus for GatewayLive {
    fn snapshot(&self) -> LiveSnapshot {
        let s = self.gateway.stats();
        LiveSnapshot {
            started_at: self.started_at,
            connections: s.connections,
            devices_online: s
                .devices_online
                .into_iter()
                .map(|d| OnlineDevice { mn: d.mn, peer: d.peer, since: d.since })
                .collect(),
            frames_by_verdict: s.frames.into_iter().collect(),
            rejected_by_reason: s.rejected.into_iter().collect(),
        }
    }

    fn registry_changed(&self) {
        let gateway = self.gateway.clone();
        tokio::spawn(async move {
            if let Err(e) = gateway.reload_registry().await {
                tracing::warn!(error = %e, "the gateway could not re-read the registry after a change");
            }
        });
    }
}

/// Open the store, start the writer, the gateway and the web listener.
pub async fn start(opts: ServerOptions) -> Result<Running> {
    let metrics = prometheus();
    let store = fenhe_store::open(&opts.db)
        .await
        .with_context(|| format!("cannot open the database {}", fenhe_store::shown(&opts.db)))?;
    store.set_ingest_rules(opts.ingest_rules);
    let writer = Writer::spawn(store.clone(), opts.writer);
    let mut gcfg = opts.gateway;
    gcfg.listen = opts.hj212_listen;
    let gateway = Gateway::bind(gcfg, store.clone(), writer.clone())
        .await
        .with_context(|| format!("cannot start the HJ 212 gateway on {}", opts.hj212_listen))?;
    let hj212_addr = gateway.local_addr();
    let handle = gateway.handle();
    let cancel = CancellationToken::new();
    let gateway_task = gateway.spawn(cancel.clone());

    let live = GatewayLive { gateway: handle.clone(), started_at: fenhe_core::china_time::now_ms() };
    let workflows = Arc::new(opts.workflows);
    let mut state = AppState::new(store.clone(), Arc::new(live))
        .with_config(opts.web)
        .with_workflows(workflows.as_ref().clone());
    if let Some(h) = metrics {
        state = state.with_metrics(Arc::new(move || h.render()));
    }
    let health = writer.health_watch();
    state = state.with_health(Arc::new(move || health.get().problem()));
    let web_cancel = cancel.clone();
    let web =
        match fenhe_web::start(opts.http_listen, state, async move { web_cancel.cancelled().await }).await {
            Ok(web) => web,
            Err(e) => {
                // Do not leave the gateway accepting (and acknowledging) for a server that failed to start.
                cancel.cancel();
                let _ = gateway_task.await;
                writer.shutdown().await;
                return Err(e.into());
            }
        };
    let http_addr = web.local_addr();
    // Leases make each job's slot run once across every process sharing the database.
    let holder = fenhe_jobs::holder_for_this_process();
    let mut runner = Runner::new(store.clone(), holder.clone())
        .with(Housekeeping::new(store.clone()))
        .with(WorkflowEscalation::new(store.clone(), workflows));
    if let Some(e) = opts.engine {
        info!(holder = %holder, every_s = e.interval.as_secs_f64(), "running the compliance jobs");
        runner = runner
            .with(SilentDevices::new(store.clone(), e.clone()))
            .with(ComplianceCycle::new(store.clone(), e));
    }
    let job_tasks = runner.spawn(cancel.clone());
    info!(hj212 = %hj212_addr, http = %http_addr, db = %fenhe_store::shown(&opts.db), "fenhe is running");
    Ok(Running { store, hj212_addr, http_addr, writer, cancel, gateway_task, web, job_tasks })
}

impl Running {
    /// The line `serve` and `demo` print on stdout once both listeners are bound, for a program
    /// that started them on port 0 (tests, `fenhe bench ingest`) to learn the ports without a
    /// race: `{"event":"listening","hj212":"127.0.0.1:40001","http":"127.0.0.1:40002"}`.
    /// A stable contract (README, "Running"): fields may be added, none renamed.
    pub fn listening_line(&self) -> String {
        serde_json::json!({
            "event": "listening",
            "hj212": self.hj212_addr.to_string(),
            "http": self.http_addr.to_string(),
        })
        .to_string()
    }

    /// Stop accepting, let connections commit and acknowledge what they read, then stop the
    /// writer (which writes what is queued) and the web listener.
    pub async fn shutdown(self) -> Result<()> {
        self.cancel.cancel();
        let g = self.gateway_task.await;
        for job in self.job_tasks {
            // A run in progress finishes first (as the engine's cycle did before it was a job).
            let _ = job.await;
        }
        self.writer.shutdown().await;
        let w = self.web.wait().await;
        g.context("gateway task failed")?.context("gateway")?;
        w.context("web listener")?;
        Ok(())
    }

    /// A token that stops the server when cancelled (shared with a simulated fleet in the demo).
    pub fn cancel_token(&self) -> CancellationToken {
        self.cancel.clone()
    }
}

/// Wait for Ctrl-C or SIGTERM.
pub async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_web_listener_that_cannot_bind_stops_the_gateway_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("server.db");
        // Held for the whole test, so the web listener cannot have it.
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http_listen = taken.local_addr().unwrap();
        // The gateway's port must be known beforehand to see it closed again (a failed start
        // returns no address); it is re-bound in this same process at once, not by a child.
        let probe = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hj212_listen = probe.local_addr().unwrap();
        drop(probe);
        let err = start(ServerOptions {
            db: db.to_str().unwrap().to_string(),
            hj212_listen,
            http_listen,
            gateway: GatewayConfig::default(),
            writer: WriterConfig::default(),
            web: WebConfig::default(),
            ingest_rules: Default::default(),
            engine: None,
            workflows: Default::default(),
        })
        .await
        .err()
        .expect("the HTTP port is taken");
        assert!(err.to_string().contains(&format!("cannot listen for HTTP on {http_listen}")), "{err:#}");
        assert!(
            tokio::net::TcpStream::connect(hj212_listen).await.is_err(),
            "the gateway still accepts after a failed start"
        );
    }
}
