//! `TestApp`: the router over a fresh SQLite store in a temporary directory, driven without a
//! socket (`tower::ServiceExt::oneshot`). A test states only what differs from the default: a
//! registry, a live snapshot, a metrics renderer, banner lines.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use fenhe_core::registry::Registry;
use fenhe_store::Store;
use fenhe_web::{AppState, LiveSnapshot, MetricsRender, WebConfig};
use serde::Serialize;
use tower::ServiceExt;

/// Responses larger than this are a bug in a test of these routes.
const BODY_LIMIT: usize = 4 << 20;

pub struct TestApp {
    router: Router,
    /// The store behind the router, for a test to seed or to read what a request changed.
    pub store: Arc<dyn Store>,
    // Held so the database outlives the test.
    _dir: tempfile::TempDir,
}

#[derive(Default)]
pub struct TestAppBuilder {
    registry: Option<Registry>,
    live: LiveSnapshot,
    metrics: Option<MetricsRender>,
    banner: Vec<String>,
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(Request::get(path).body(Body::empty()).expect("a valid request")).await
    }

    pub async fn post_json(&self, path: &str, body: &impl Serialize) -> TestResponse {
        let body = serde_json::to_vec(body).expect("a serialisable body");
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .expect("a valid request");
        self.send(req).await
    }

    pub async fn send(&self, req: Request<Body>) -> TestResponse {
        let r = self.router.clone().oneshot(req).await.expect("the router is infallible");
        let status = r.status();
        let headers = r.headers().clone();
        let body = axum::body::to_bytes(r.into_body(), BODY_LIMIT).await.expect("a readable body").to_vec();
        TestResponse { status, headers, body }
    }
}

impl TestAppBuilder {
    pub fn registry(mut self, r: Registry) -> Self {
        self.registry = Some(r);
        self
    }

    pub fn live(mut self, live: LiveSnapshot) -> Self {
        self.live = live;
        self
    }

    pub fn metrics(mut self, render: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.metrics = Some(Arc::new(render));
        self
    }

    pub fn banner(mut self, line: &str) -> Self {
        self.banner.push(line.to_string());
        self
    }

    /// The state for these settings over a new store (for a test that serves it itself).
    pub async fn state(self) -> (AppState, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("web.db");
        let store = fenhe_store::open(path.to_str().expect("a UTF-8 path")).await.expect("a new store");
        if let Some(r) = &self.registry {
            store.import_registry(r).await.expect("the registry imports");
        }
        let mut state =
            AppState::new(store, Arc::new(self.live)).with_config(WebConfig { banner: self.banner });
        if let Some(m) = self.metrics {
            state = state.with_metrics(m);
        }
        (state, dir)
    }

    pub async fn build(self) -> TestApp {
        let (state, dir) = self.state().await;
        TestApp { store: state.store.clone(), router: fenhe_web::router(state), _dir: dir }
    }
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl TestResponse {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("a UTF-8 body")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn content_type(&self) -> &str {
        self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// Assert the shared JSON error body and return its message.
    pub fn error(&self, status: StatusCode, code: &str) -> String {
        assert_eq!(self.status, status, "{}", String::from_utf8_lossy(&self.body));
        assert!(self.content_type().starts_with("application/json"), "{}", self.content_type());
        let v = self.json();
        assert_eq!(v["error"]["code"], code, "{v}");
        v["error"]["message"].as_str().expect("a message").to_string()
    }
}
