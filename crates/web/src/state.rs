//! What every handler can reach: the store, the live gateway's counters, the Prometheus
//! renderer and the web configuration. Handlers take the narrowest piece they need through
//! axum's `FromRef` (e.g. `State<Arc<dyn Store>>`), so a route's signature says what it touches.

use std::sync::Arc;

use axum::extract::FromRef;
use fenhe_app::workflows::WorkflowSettings;
use fenhe_store::Store;
use serde::Serialize;

/// A device connected right now.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OnlineDevice {
    pub mn: String,
    pub peer: String,
    /// Epoch ms of the first authenticated frame on this connection.
    pub since: i64,
}

/// What the running gateway knows that the store does not (live connections and counters).
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
pub struct LiveSnapshot {
    pub started_at: i64,
    pub connections: u64,
    pub devices_online: Vec<OnlineDevice>,
    /// Frames since start by verdict name.
    pub frames_by_verdict: Vec<(String, u64)>,
    /// Rejected frames since start by reason kind.
    pub rejected_by_reason: Vec<(String, u64)>,
}

/// Source of [`LiveSnapshot`]s (implemented by the binary over the gateway's stats), and the
/// gateway's ear for registry changes.
pub trait LiveStatus: Send + Sync + 'static {
    fn snapshot(&self) -> LiveSnapshot;
    /// The registry's devices changed (a device saved, a registry imported through the web): the
    /// gateway beside this process re-reads the devices it authenticates against, so a device
    /// registered or given a new password is answered without a restart. Returns at once; the
    /// reload runs on its own.
    fn registry_changed(&self);
}

/// A fixed snapshot is a live status too: a web process without a gateway beside it, and tests,
/// show it as it is.
impl LiveStatus for LiveSnapshot {
    fn snapshot(&self) -> LiveSnapshot {
        self.clone()
    }
    /// No gateway here: nothing to reload.
    fn registry_changed(&self) {}
}

/// Renders the Prometheus text exposition (the binary passes its exporter's handle).
pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

/// The `/metrics` renderer, absent when no recorder could be installed.
#[derive(Clone, Default)]
pub struct Metrics(pub Option<MetricsRender>);

/// Says why the store cannot take data right now, or `None` while it can (the binary passes the
/// writer's health); `/healthz` answers 503 with that reason.
pub type HealthProbe = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// The `/healthz` probe, absent when nothing beside the web side can fail (a web-only process).
#[derive(Clone, Default)]
pub struct Health(pub Option<HealthProbe>);

/// The live gateway, as a sub-state.
#[derive(Clone)]
pub struct Live(pub Arc<dyn LiveStatus>);

/// Settings of the web side that do not change while it runs.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// Lines shown under the status page's title (addresses, demo notes).
    pub banner: Vec<String>,
    /// Mark the session cookie `Secure` (the site is served over HTTPS, directly or behind a
    /// proxy); off for plain-HTTP loopback and demo use, where a browser would drop it.
    pub secure_cookies: bool,
    /// Demo mode (`fenhe demo`): the sign-in page lists the demo's accounts and passwords.
    pub demo: bool,
    /// The HTTP listener's limits (timeouts, connections).
    pub listener: crate::serve::ListenerLimits,
}

/// The state of the router; cheap to clone (every field is shared).
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub live: Live,
    pub metrics: Metrics,
    pub health: Health,
    pub config: Arc<WebConfig>,
    /// The live events of `/events` (see [`crate::live_events`]).
    pub events: Arc<crate::live_events::EventHub>,
    /// The overview's figures of the last few seconds, by scope.
    pub overview_cache: Arc<crate::overview_cache::OverviewCache>,
    /// The workflows' calendar and deadlines (alarm reviews, tasks, hazards, retrofits).
    pub workflows: Arc<WorkflowSettings>,
}

impl AppState {
    /// State over a store and a live source, without metrics and with the default configuration.
    pub fn new(store: Arc<dyn Store>, live: Arc<dyn LiveStatus>) -> Self {
        Self {
            store,
            live: Live(live),
            metrics: Metrics(None),
            health: Health(None),
            config: Arc::new(WebConfig::default()),
            events: Arc::new(crate::live_events::EventHub::default()),
            overview_cache: Arc::new(crate::overview_cache::OverviewCache::default()),
            workflows: Arc::new(WorkflowSettings::default()),
        }
    }

    /// Count the workflows' deadlines with these settings (a calendar with more years, another
    /// number of working days to explain an alarm).
    pub fn with_workflows(mut self, settings: WorkflowSettings) -> Self {
        self.workflows = Arc::new(settings);
        self
    }

    /// Serve `/metrics` with this renderer.
    pub fn with_metrics(mut self, render: MetricsRender) -> Self {
        self.metrics = Metrics(Some(render));
        self
    }

    /// Answer `/healthz` from this probe.
    pub fn with_health(mut self, probe: HealthProbe) -> Self {
        self.health = Health(Some(probe));
        self
    }

    /// Read the store for live events this often (tests use a short period).
    pub fn with_event_poll(mut self, every: std::time::Duration) -> Self {
        self.events = Arc::new(crate::live_events::EventHub::new(every));
        self
    }

    pub fn with_config(mut self, config: WebConfig) -> Self {
        self.config = Arc::new(config);
        self
    }
}

impl FromRef<AppState> for Arc<dyn Store> {
    fn from_ref(s: &AppState) -> Self {
        s.store.clone()
    }
}

impl FromRef<AppState> for Live {
    fn from_ref(s: &AppState) -> Self {
        s.live.clone()
    }
}

impl FromRef<AppState> for Metrics {
    fn from_ref(s: &AppState) -> Self {
        s.metrics.clone()
    }
}

impl FromRef<AppState> for Health {
    fn from_ref(s: &AppState) -> Self {
        s.health.clone()
    }
}

impl FromRef<AppState> for Arc<WebConfig> {
    fn from_ref(s: &AppState) -> Self {
        s.config.clone()
    }
}

impl FromRef<AppState> for Arc<crate::overview_cache::OverviewCache> {
    fn from_ref(s: &AppState) -> Self {
        s.overview_cache.clone()
    }
}

impl FromRef<AppState> for Arc<crate::live_events::EventHub> {
    fn from_ref(s: &AppState) -> Self {
        s.events.clone()
    }
}

impl FromRef<AppState> for Arc<WorkflowSettings> {
    fn from_ref(s: &AppState) -> Self {
        s.workflows.clone()
    }
}
