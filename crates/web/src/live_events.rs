//! What `/events` announces: new alarms, alarm state changes, devices coming online or going
//! offline — one broadcast per process, filled by a poller.
//!
//! Why a poller: alarms are written by the compliance cycle, which may run in another process on
//! the same database (the job runner's lease decides which), so no in-process call can announce
//! them all; the store is the one place that sees every change. The poller reads the open alarms
//! every few seconds (a small query: open alarms are few) and compares them with its previous
//! read — a new id is `alarm_raised`, a changed `updated_at` `alarm_updated`, an id gone
//! `alarm_resolved` — and compares the gateway's live list of connected devices the same way
//! (`device_online` / `device_offline`). It runs only while someone listens: the first subscriber
//! starts it and it stops when the last has gone. Its first read is a baseline, not events: a
//! client that (re)connects is sent `ready` and fetches the state afresh instead.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fenhe_core::alarm::AlarmStatus;
use fenhe_store::{Alarm, AlarmQuery, Store};
use serde::Serialize;
use tokio::sync::{broadcast, watch};

use crate::state::Live;

/// How often the poller reads the store when none is configured.
pub const DEFAULT_POLL: Duration = Duration::from_secs(3);
/// Events kept for a slow listener before it is told to fetch the state afresh.
const BUFFER: usize = 256;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    AlarmRaised,
    AlarmUpdated,
    AlarmResolved,
    DeviceOnline,
    DeviceOffline,
}

impl EventKind {
    /// The SSE event name (`event:` line).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::AlarmRaised => "alarm_raised",
            EventKind::AlarmUpdated => "alarm_updated",
            EventKind::AlarmResolved => "alarm_resolved",
            EventKind::DeviceOnline => "device_online",
            EventKind::DeviceOffline => "device_offline",
        }
    }
}

/// One announcement. `enterprise` decides who may receive it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LiveEvent {
    pub kind: EventKind,
    pub enterprise: String,
    pub outlet: Option<String>,
    pub mn: String,
    /// The alarm's id and kind (`exceedance` or a finding's name), for alarm events.
    pub alarm: Option<i64>,
    pub alarm_kind: Option<String>,
    pub title_zh: String,
    pub title_en: String,
    /// When the poller saw it, epoch ms.
    pub at: i64,
}

/// The per-process broadcast of [`LiveEvent`]s and the poller that fills it.
pub struct EventHub {
    tx: broadcast::Sender<Arc<LiveEvent>>,
    poll: Duration,
    /// Whether the poller runs; changed only under this lock, with the subscription, so a
    /// subscriber never joins a poller that is about to stop.
    running: Mutex<bool>,
    /// Set when the server shuts down: every stream ends, so the graceful shutdown, which
    /// waits for open connections, is not held up by listeners that never hang up.
    closing: watch::Sender<bool>,
}

impl std::fmt::Debug for EventHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventHub").field("poll", &self.poll).finish()
    }
}

impl EventHub {
    pub fn new(poll: Duration) -> EventHub {
        let (tx, _) = broadcast::channel(BUFFER);
        EventHub { tx, poll, running: Mutex::new(false), closing: watch::Sender::new(false) }
    }

    /// End every stream and the poller (the server is shutting down).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once [`EventHub::close`] was called.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.closing.subscribe();
        async move {
            // An error means the hub is gone, which ends the streams as well.
            let _ = rx.wait_for(|c| *c).await;
        }
    }

    /// A receiver of every event from now on; starts the poller if it is not running. Must be
    /// called within a Tokio runtime.
    pub fn subscribe(
        self: &Arc<Self>,
        store: Arc<dyn Store>,
        live: Live,
    ) -> broadcast::Receiver<Arc<LiveEvent>> {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let rx = self.tx.subscribe();
        if !*running {
            *running = true;
            let hub = self.clone();
            tokio::spawn(async move { hub.run(store, live).await });
        }
        rx
    }

    async fn run(self: Arc<Self>, store: Arc<dyn Store>, live: Live) {
        let mut poller = Poller::default();
        // The baseline: what exists when the first listener came is not news.
        if let Err(e) = poller.read(store.as_ref(), &live).await {
            tracing::warn!(error = %e, "live events: the first read failed");
        }
        let closed = self.closed();
        tokio::pin!(closed);
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.poll) => {}
                _ = &mut closed => {
                    *self.running.lock().unwrap_or_else(|p| p.into_inner()) = false;
                    return;
                }
            }
            {
                let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
                if self.tx.receiver_count() == 0 {
                    *running = false;
                    return;
                }
            }
            match poller.read(store.as_ref(), &live).await {
                Ok(events) => {
                    for e in events {
                        // No receiver between the check and now: nothing to do.
                        let _ = self.tx.send(Arc::new(e));
                    }
                }
                // A failed read (the database busy, a migration) is retried at the next tick.
                Err(e) => tracing::warn!(error = %e, "live events: reading the store failed"),
            }
        }
    }
}

impl Default for EventHub {
    fn default() -> Self {
        EventHub::new(DEFAULT_POLL)
    }
}

/// The previous read, to compare the next one with.
#[derive(Default)]
struct Poller {
    /// `None` until the first read: the baseline.
    alarms: Option<HashMap<i64, Alarm>>,
    /// The newest alarm id seen, so that an alarm raised already resolved is announced too.
    newest: Option<i64>,
    online: Option<HashSet<String>>,
}

/// The newest alarms read each poll to find those raised already resolved (a late upload of a
/// past episode): more than a city's engine raises between two polls.
const RECENT_ALARMS: u32 = 200;

impl Poller {
    /// Read the store and the live list; the changes since the previous read.
    async fn read(&mut self, store: &dyn Store, live: &Live) -> fenhe_store::Result<Vec<LiveEvent>> {
        let registry = store.registry().await?;
        let enterprise_of_outlet =
            |outlet: &str| registry.outlet(outlet).map(|o| o.enterprise.clone()).unwrap_or_default();
        let now = fenhe_core::china_time::now_ms();
        let open: HashMap<i64, Alarm> = store
            .alarms(&AlarmQuery { status: Some(AlarmStatus::Open), ..Default::default() })
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        // Open alarms show only what is open now: history uploaded late (补传) can raise an
        // alarm whose episode has already ended, which is resolved as it is raised.
        let mut recent =
            store.alarms(&AlarmQuery { limit: Some(RECENT_ALARMS), ..Default::default() }).await?;
        recent.sort_by_key(|a| a.id);
        let newest = recent.last().map(|a| a.id).into_iter().chain(open.keys().copied()).max();
        let online: HashSet<String> = live.0.snapshot().devices_online.into_iter().map(|d| d.mn).collect();

        let mut events = Vec::new();
        let alarm_event = |kind: EventKind, a: &Alarm| LiveEvent {
            kind,
            enterprise: enterprise_of_outlet(&a.draft.outlet),
            outlet: Some(a.draft.outlet.clone()),
            mn: a.draft.mn.clone(),
            alarm: Some(a.id),
            alarm_kind: Some(a.draft.kind.clone()),
            title_zh: a.draft.title_zh.clone(),
            title_en: a.draft.title_en.clone(),
            at: now,
        };
        if let Some(before) = &self.alarms {
            let mut ids: Vec<&i64> = open.keys().collect();
            ids.sort_unstable();
            for id in ids {
                let a = &open[id];
                match before.get(id) {
                    None => events.push(alarm_event(EventKind::AlarmRaised, a)),
                    Some(b) if b.updated_at != a.updated_at => {
                        events.push(alarm_event(EventKind::AlarmUpdated, a))
                    }
                    Some(_) => {}
                }
            }
            let mut gone: Vec<&Alarm> = before.values().filter(|b| !open.contains_key(&b.id)).collect();
            gone.sort_by_key(|a| a.id);
            events.extend(gone.into_iter().map(|a| alarm_event(EventKind::AlarmResolved, a)));
            let seen = self.newest.unwrap_or(i64::MIN);
            for a in recent.iter().filter(|a| a.id > seen && !open.contains_key(&a.id)) {
                events.push(alarm_event(EventKind::AlarmRaised, a));
                events.push(alarm_event(EventKind::AlarmResolved, a));
            }
        }
        if let Some(before) = &self.online {
            let device_event = |kind: EventKind, mn: &str| {
                let outlet = registry.device(mn).map(|d| d.outlet.clone());
                LiveEvent {
                    kind,
                    enterprise: outlet.as_deref().map(enterprise_of_outlet).unwrap_or_default(),
                    outlet,
                    mn: mn.to_string(),
                    alarm: None,
                    alarm_kind: None,
                    title_zh: String::new(),
                    title_en: String::new(),
                    at: now,
                }
            };
            let mut came: Vec<&String> = online.difference(before).collect();
            came.sort();
            events.extend(came.into_iter().map(|mn| device_event(EventKind::DeviceOnline, mn)));
            let mut went: Vec<&String> = before.difference(&online).collect();
            went.sort();
            events.extend(went.into_iter().map(|mn| device_event(EventKind::DeviceOffline, mn)));
        }
        self.alarms = Some(open);
        self.newest = newest.or(self.newest);
        self.online = Some(online);
        Ok(events)
    }
}
