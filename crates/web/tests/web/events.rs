//! `/events`: server-sent events read as a browser reads them, from the real stream over a real
//! store: a new alarm written to the store arrives; an enterprise user hears only of their own
//! enterprise; devices coming online and going offline are announced.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, BodyDataStream};
use axum::http::{Request, StatusCode, header};
use fenhe_core::access::Role;
use fenhe_web::state::Live;
use fenhe_web::{LiveSnapshot, LiveStatus, OnlineDevice};
use futures_util::StreamExt;

use crate::app::{Browser, TestApp};
use crate::overview::{device_of, draft, roles};

const POLL: Duration = Duration::from_millis(50);

/// A stream of events as `EventSource` parses it.
struct EventStream {
    body: BodyDataStream,
    buf: String,
}

impl EventStream {
    async fn open(app: &TestApp, b: &Browser) -> EventStream {
        let req = Request::get("/events")
            .header(header::COOKIE, format!("fenhe_session={}", b.session))
            .body(Body::empty())
            .unwrap();
        let r = app.open(req).await;
        assert_eq!(r.status(), StatusCode::OK);
        let ct = r.headers().get(header::CONTENT_TYPE).unwrap().to_str().unwrap().to_string();
        assert!(ct.starts_with("text/event-stream"), "{ct}");
        EventStream { body: r.into_body().into_data_stream(), buf: String::new() }
    }

    /// The next event (name, data), or `None` when none comes within `within`.
    async fn next(&mut self, within: Duration) -> Option<(String, serde_json::Value)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut name, mut data) = (String::new(), String::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if name.is_empty() {
                    continue; // a keep-alive comment
                }
                return Some((name, serde_json::from_str(&data).expect("JSON data")));
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next()).await.ok()??.ok()?;
            self.buf.push_str(std::str::from_utf8(&chunk).expect("UTF-8 events"));
        }
    }

    /// Events until one named `name` arrives (all of them, that one last).
    async fn until(&mut self, name: &str) -> Vec<(String, serde_json::Value)> {
        let mut seen = Vec::new();
        while let Some(e) = self.next(Duration::from_secs(10)).await {
            let done = e.0 == name;
            seen.push(e);
            if done {
                return seen;
            }
        }
        panic!("no {name} event within 10 s; saw {seen:?}");
    }
}

fn now() -> i64 {
    fenhe_core::china_time::now_ms()
}

#[tokio::test]
async fn a_new_alarm_written_to_the_store_is_announced() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).event_poll(POLL).build().await;
    let officer = app.signed_in("officer", Role::Bureau).await;
    let mut events = EventStream::open(&app, &officer).await;
    let (name, _) = events.next(Duration::from_secs(5)).await.expect("ready");
    assert_eq!(name, "ready");
    // Let the poller take its baseline, then write an alarm as the compliance cycle does.
    tokio::time::sleep(POLL * 4).await;
    let d = device_of("E03");
    let t0 = now() - 3_600_000;
    app.store.sync_alarms(&d.mn, t0, t0 + 86_400_000, &[draft(&d, "exceedance", t0)], now()).await.unwrap();
    let seen = events.until("alarm_raised").await;
    let e = seen.last().unwrap().1.clone();
    assert_eq!(e["enterprise"], "E03");
    assert_eq!(e["mn"], d.mn.as_str());
    assert_eq!(e["alarm_kind"], "exceedance");
    assert!(e["alarm"].as_i64().is_some());

    // Updated: the episode grew (a later end), still open.
    let mut longer = draft(&d, "exceedance", t0);
    longer.end += 3_600_000;
    app.store.sync_alarms(&d.mn, t0, t0 + 86_400_000, &[longer], now()).await.unwrap();
    let seen = events.until("alarm_updated").await;
    assert_eq!(seen.last().unwrap().1["alarm"], e["alarm"]);

    // Resolved: the draft no longer active.
    let mut cleared = draft(&d, "exceedance", t0);
    cleared.active = false;
    app.store.sync_alarms(&d.mn, t0, t0 + 86_400_000, &[cleared], now()).await.unwrap();
    let seen = events.until("alarm_resolved").await;
    assert_eq!(seen.last().unwrap().1["mn"], d.mn.as_str());
}

/// History uploaded late can raise an alarm for an episode that has already ended: it is
/// resolved as it is raised, never open, and announced all the same.
#[tokio::test]
async fn an_alarm_raised_already_resolved_is_announced() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).event_poll(POLL).build().await;
    let officer = app.signed_in("officer", Role::Bureau).await;
    let mut events = EventStream::open(&app, &officer).await;
    assert_eq!(events.next(Duration::from_secs(5)).await.expect("ready").0, "ready");
    tokio::time::sleep(POLL * 4).await;
    let d = device_of("E05");
    let t0 = now() - 6 * 3_600_000;
    let mut past = draft(&d, "exceedance", t0);
    past.active = false;
    app.store.sync_alarms(&d.mn, t0, t0 + 86_400_000, &[past], now()).await.unwrap();
    let seen = events.until("alarm_resolved").await;
    let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"alarm_raised"), "{names:?}");
    assert_eq!(seen.last().unwrap().1["enterprise"], "E05");
}

#[tokio::test]
async fn an_enterprise_user_hears_only_of_their_own_enterprise() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).event_poll(POLL).build().await;
    let e01 = app.signed_in("e01", Role::Enterprise { enterprise: "E01".into() }).await;
    let mut events = EventStream::open(&app, &e01).await;
    assert_eq!(events.next(Duration::from_secs(5)).await.expect("ready").0, "ready");
    tokio::time::sleep(POLL * 4).await;
    let (mine, theirs) = (device_of("E01"), device_of("E02"));
    let t0 = now() - 3_600_000;
    // Theirs first, in its own poll, then mine: theirs would arrive first if it leaked.
    app.store
        .sync_alarms(&theirs.mn, t0, t0 + 86_400_000, &[draft(&theirs, "offline", t0)], now())
        .await
        .unwrap();
    tokio::time::sleep(POLL * 6).await;
    app.store
        .sync_alarms(&mine.mn, t0, t0 + 86_400_000, &[draft(&mine, "offline", t0)], now())
        .await
        .unwrap();
    let seen = events.until("alarm_raised").await;
    for (name, e) in &seen {
        let text = e.to_string();
        assert!(!text.contains("E02") && !text.contains(&theirs.mn), "{name}: {text}");
    }
    assert_eq!(seen.last().unwrap().1["enterprise"], "E01");
}

#[tokio::test]
async fn the_stream_follows_the_policy() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    app.get("/events").await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    for (name, role) in roles() {
        let b = app.signed_in(name, role.clone()).await;
        if matches!(role, Role::Department { .. }) {
            app.get_as("/events", &b).await.error(StatusCode::FORBIDDEN, "forbidden");
        } else {
            let mut events = EventStream::open(&app, &b).await;
            assert_eq!(events.next(Duration::from_secs(5)).await.expect("ready").0, "ready", "{name}");
        }
    }
}

/// A gateway whose connected devices a test changes.
#[derive(Default)]
struct Gateway(Mutex<LiveSnapshot>);

impl LiveStatus for Gateway {
    fn snapshot(&self) -> LiveSnapshot {
        self.0.lock().unwrap().clone()
    }
    /// The events tests change no registry.
    fn registry_changed(&self) {}
}

#[tokio::test]
async fn devices_coming_online_and_going_offline_are_announced_in_scope() {
    let gateway = Arc::new(Gateway::default());
    let (mut state, dir) =
        TestApp::builder().registry(fenhe_core::demo::city()).event_poll(POLL).state().await;
    state.live = Live(gateway.clone());
    let app = TestApp::over(state, dir);
    let officer = app.signed_in("officer", Role::Bureau).await;
    let e01 = app.signed_in("e01", Role::Enterprise { enterprise: "E01".into() }).await;
    let mut city = EventStream::open(&app, &officer).await;
    let mut own = EventStream::open(&app, &e01).await;
    assert_eq!(city.next(Duration::from_secs(5)).await.unwrap().0, "ready");
    assert_eq!(own.next(Duration::from_secs(5)).await.unwrap().0, "ready");
    tokio::time::sleep(POLL * 4).await;

    let (mine, theirs) = (device_of("E01"), device_of("E02"));
    let online = |mn: &str| OnlineDevice { mn: mn.into(), peer: "10.0.0.9:1".into(), since: now() };
    gateway.0.lock().unwrap().devices_online = vec![online(&theirs.mn)];
    let seen = city.until("device_online").await;
    assert_eq!(seen.last().unwrap().1["mn"], theirs.mn.as_str());
    gateway.0.lock().unwrap().devices_online = vec![online(&mine.mn)];
    let seen = own.until("device_online").await;
    // E01's user never heard of E02's device coming online, and hears of their own.
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].1["mn"], mine.mn.as_str());
    let seen = city.until("device_offline").await;
    assert_eq!(seen.last().unwrap().1["mn"], theirs.mn.as_str());
}

/// Shutting the server down ends every stream (a graceful shutdown waits for open connections,
/// and an overview left open would otherwise hold it forever).
#[tokio::test]
async fn streams_end_when_the_server_shuts_down() {
    let (state, dir) = TestApp::builder().registry(fenhe_core::demo::city()).event_poll(POLL).state().await;
    let hub = state.events.clone();
    let app = TestApp::over(state, dir);
    let officer = app.signed_in("officer", Role::Bureau).await;
    let mut events = EventStream::open(&app, &officer).await;
    assert_eq!(events.next(Duration::from_secs(5)).await.unwrap().0, "ready");
    hub.close();
    let ended = tokio::time::timeout(Duration::from_secs(5), events.body.next()).await;
    assert!(matches!(ended, Ok(None)), "the stream ended: {ended:?}");
}
