//! `TestApp`: the router over a fresh SQLite store in a temporary directory, driven without a
//! socket (`tower::ServiceExt::oneshot`). A test states only what differs from the default: a
//! registry, a live snapshot, a metrics renderer, banner lines, demo mode, secure cookies. It
//! makes users and API tokens through `fenhe_app`, and signs in as a browser does (the sign-in
//! form's CSRF cookie and field, then the session cookie).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use fenhe_app::accounts::{NewAccount, create_token, create_user};
use fenhe_app::audit::Caller;
use fenhe_core::access::Role;
use fenhe_core::registry::Registry;
use fenhe_store::Store;
use fenhe_web::{AppState, LiveSnapshot, LiveStatus, MetricsRender, WebConfig};
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
    /// A live status of the test's own (instead of the fixed snapshot), to observe what the
    /// web side tells the gateway.
    live_status: Option<Arc<dyn LiveStatus>>,
    metrics: Option<MetricsRender>,
    banner: Vec<String>,
    demo: bool,
    secure_cookies: bool,
    event_poll: Option<std::time::Duration>,
    listener: fenhe_web::serve::ListenerLimits,
}

/// A browser's session: its cookie and the CSRF token its pages carry.
#[derive(Debug, Clone)]
pub struct Browser {
    pub session: String,
    pub csrf: String,
}

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery";

/// The value of `name="…" value="…"` in a page (the forms' hidden fields).
pub fn hidden(page: &str, name: &str) -> Option<String> {
    let at = page.find(&format!("name=\"{name}\" value=\""))?;
    let rest = &page[at + name.len() + 15..];
    Some(rest[..rest.find('"')?].to_string())
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder::default()
    }

    /// The router over a state a test made (from [`TestAppBuilder::state`]) and changed.
    pub fn over(state: AppState, dir: tempfile::TempDir) -> TestApp {
        TestApp { store: state.store.clone(), router: fenhe_web::router(state), _dir: dir }
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

    /// GET with these request headers.
    pub async fn get_with(&self, path: &str, headers: &[(header::HeaderName, &str)]) -> TestResponse {
        let mut b = Request::get(path);
        for (k, v) in headers {
            b = b.header(k, *v);
        }
        self.send(b.body(Body::empty()).expect("a valid request")).await
    }

    /// GET as a signed-in browser.
    pub async fn get_as(&self, path: &str, b: &Browser) -> TestResponse {
        self.get_with(path, &[(header::COOKIE, &format!("fenhe_session={}", b.session))]).await
    }

    /// GET with `Authorization: Bearer`.
    pub async fn get_bearer(&self, path: &str, token: &str) -> TestResponse {
        self.get_with(path, &[(header::AUTHORIZATION, &format!("Bearer {token}"))]).await
    }

    /// POST a form (`fields` urlencoded) with a `Cookie` header, if any.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)], cookie: Option<&str>) -> TestResponse {
        let body = serde_urlencoded::to_string(fields).expect("encodable fields");
        let mut b = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        self.send(b.body(Body::from(body)).expect("a valid request")).await
    }

    /// Create a user with [`PASSWORD`], as the command line would.
    pub async fn add_user(&self, username: &str, role: Role) {
        let new = NewAccount {
            username: username.into(),
            display_name: String::new(),
            role,
            password: PASSWORD.into(),
        };
        create_user(self.store.as_ref(), &Caller::cli(now()), &new).await.expect("the user is created");
    }

    /// A new API token of `username`.
    pub async fn token(&self, username: &str) -> String {
        create_token(self.store.as_ref(), &Caller::cli(now()), username, "test").await.expect("a token").token
    }

    /// Open the sign-in form: its CSRF token (the field and the cookie hold the same).
    pub async fn login_form(&self) -> String {
        let r = self.get("/login").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let field = hidden(&r.text(), "csrf").expect("a csrf field");
        assert_eq!(r.cookie("fenhe_login_csrf").as_deref(), Some(field.as_str()));
        field
    }

    /// Post the sign-in form as a browser that opened it.
    pub async fn post_login(&self, username: &str, password: &str, next: &str) -> TestResponse {
        let csrf = self.login_form().await;
        let fields =
            [("csrf", csrf.as_str()), ("username", username), ("password", password), ("next", next)];
        self.post_form("/login", &fields, Some(&format!("fenhe_login_csrf={csrf}"))).await
    }

    /// Sign in with [`PASSWORD`] and read the session's CSRF token from a page.
    pub async fn sign_in(&self, username: &str) -> Browser {
        let r = self.post_login(username, PASSWORD, "/").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
        let session = r.cookie("fenhe_session").expect("a session cookie");
        let mut b = Browser { session, csrf: String::new() };
        let page = self.get_as("/account/password", &b).await.text();
        b.csrf = hidden(&page, "csrf").expect("the page carries the session's token");
        b
    }

    /// A user of `role` signed in.
    pub async fn signed_in(&self, username: &str, role: Role) -> Browser {
        self.add_user(username, role).await;
        self.sign_in(username).await
    }

    /// Send a request and hand back the response with its body unread (a stream, e.g. `/events`).
    pub async fn open(&self, req: Request<Body>) -> axum::response::Response {
        self.router.clone().oneshot(req).await.expect("the router is infallible")
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

    pub fn live_status(mut self, live: Arc<dyn LiveStatus>) -> Self {
        self.live_status = Some(live);
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

    pub fn demo(mut self) -> Self {
        self.demo = true;
        self
    }

    /// Read the store for live events this often.
    pub fn event_poll(mut self, every: std::time::Duration) -> Self {
        self.event_poll = Some(every);
        self
    }

    pub fn secure_cookies(mut self) -> Self {
        self.secure_cookies = true;
        self
    }

    /// The HTTP listener's limits (for the tests over TCP).
    pub fn listener(mut self, limits: fenhe_web::serve::ListenerLimits) -> Self {
        self.listener = limits;
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
        let config = WebConfig {
            banner: self.banner,
            demo: self.demo,
            secure_cookies: self.secure_cookies,
            listener: self.listener,
        };
        let live: Arc<dyn LiveStatus> = match self.live_status {
            Some(l) => l,
            None => Arc::new(self.live),
        };
        let mut state = AppState::new(store, live).with_config(config);
        if let Some(m) = self.metrics {
            state = state.with_metrics(m);
        }
        if let Some(every) = self.event_poll {
            state = state.with_event_poll(every);
        }
        (state, dir)
    }

    pub async fn build(self) -> TestApp {
        let (state, dir) = self.state().await;
        TestApp::over(state, dir)
    }
}

pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

fn now() -> i64 {
    fenhe_core::china_time::now_ms()
}

impl TestResponse {
    /// The `Set-Cookie` header for `name`, whole (`name=value; Path=/; …`).
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_string)
    }

    /// The value a `Set-Cookie` gives cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let whole = self.set_cookie(name)?;
        let value = whole.split(';').next()?.split_once('=')?.1;
        Some(value.to_string())
    }

    /// Where a redirect points.
    pub fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

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
