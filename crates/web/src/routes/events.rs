//! `/events`: server-sent events for the overview and the wall screen — new alarms, alarm state
//! changes, devices coming online or going offline (see [`crate::live_events`] for where they come
//! from). Each stream carries only the events of the session's scope: an enterprise user hears
//! of their own enterprise and nothing else. The first event is `ready`: a client that
//! (re)connects fetches the state afresh on it rather than trusting what it missed; a listener
//! too slow for the buffer gets `resync` for the same reason. A comment every 15 s keeps proxies
//! from closing a quiet stream.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use fenhe_app::auth::{self, Credential};
use fenhe_core::access::{Action, Scope, scope};
use fenhe_core::china_time;
use fenhe_store::Store;
use futures_util::{Stream, StreamExt};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::error::AppError;
use crate::live_events::{EventHub, LiveEvent};
use crate::routes::denied_api;
use crate::session::ApiUser;
use crate::state::{AppState, Live};

/// How often a quiet stream carries a keep-alive comment.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// How often a stream checks that its session or token still signs its holder in: signing out
/// (in another tab), expiry, revocation or deactivation ends the stream within this time.
const RECHECK: Duration = Duration::from_secs(30);

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/events", get(events))
}

async fn events(
    ApiUser(user): ApiUser,
    State(hub): State<Arc<EventHub>>,
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let scope = scope(&user.actor, Action::ViewEnvironment).map_err(denied_api)?;
    let rx = hub.subscribe(store.clone(), live);
    // The stream ends when the server shuts down (the browser's EventSource then reconnects to
    // the next one and is sent `ready`).
    let credential =
        user.session_token.clone().map(Held::Session).or(user.bearer_token.clone().map(Held::Bearer));
    let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let listener = Listener { rx, scope, closed: Box::pin(hub.closed()), store, credential, recheck };
    let ready = Event::default().event("ready").data("{}");
    let stream =
        futures_util::stream::once(async move { Ok(ready) })
            .chain(futures_util::stream::unfold(listener, |mut l| async move {
                l.next().await.map(|e| (Ok(e), l))
            }));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(HEARTBEAT).text("keep-alive")))
}

/// One stream's side of the broadcast.
struct Listener {
    rx: broadcast::Receiver<Arc<LiveEvent>>,
    scope: Scope,
    closed: Pin<Box<dyn Future<Output = ()> + Send>>,
    store: Arc<dyn Store>,
    credential: Option<Held>,
    recheck: tokio::time::Interval,
}

/// The credential the stream was opened with, kept to check it again.
#[derive(Clone)]
enum Held {
    Session(String),
    Bearer(String),
}

/// The stream's holder is still signed in (a store error keeps the stream: it is checked again at
/// the next tick). Free of the listener, whose shutdown future is not `Sync`.
async fn still_signed_in(store: Arc<dyn Store>, credential: Option<Held>) -> bool {
    let credential = match &credential {
        Some(Held::Session(t)) => Credential::Session(t),
        Some(Held::Bearer(t)) => Credential::Bearer(t),
        None => return false,
    };
    auth::still_signed_in(store.as_ref(), credential, china_time::now_ms()).await.unwrap_or(true)
}

impl Listener {
    /// The next event for this listener; `None` once the server shuts down.
    async fn next(&mut self) -> Option<Event> {
        loop {
            let received = tokio::select! {
                r = self.rx.recv() => r,
                _ = &mut self.closed => return None,
                _ = self.recheck.tick() => {
                    if still_signed_in(self.store.clone(), self.credential.clone()).await {
                        continue;
                    }
                    return None;
                }
            };
            match received {
                Ok(e) if in_scope(&self.scope, &e.enterprise) => {
                    let data = serde_json::to_string(e.as_ref()).unwrap_or_else(|_| "{}".into());
                    return Some(Event::default().event(e.kind.name()).data(data));
                }
                Ok(_) => continue,
                // Fell behind the buffer: what was missed is gone, so fetch the state afresh.
                Err(RecvError::Lagged(_)) => return Some(Event::default().event("resync").data("{}")),
                Err(RecvError::Closed) => return None,
            }
        }
    }
}

/// An event of `enterprise` is for this scope. One of no known enterprise (a device the
/// registry no longer has) is for the city's roles only.
fn in_scope(scope: &Scope, enterprise: &str) -> bool {
    match scope {
        Scope::All => true,
        Scope::Enterprise(own) => !enterprise.is_empty() && own == enterprise,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_enterprise_hears_only_of_itself() {
        let own = Scope::Enterprise("E01".into());
        assert!(in_scope(&own, "E01"));
        assert!(!in_scope(&own, "E02") && !in_scope(&own, ""));
        assert!(in_scope(&Scope::All, "E02") && in_scope(&Scope::All, ""));
    }
}
