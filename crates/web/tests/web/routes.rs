//! The engineers' routes (`/system`, `/api/status`, `/metrics`, `/healthz`), the fallbacks and
//! the security headers, through [`TestApp`].

use axum::http::{StatusCode, header};
use fenhe_core::access::Role;
use fenhe_web::{LiveSnapshot, OnlineDevice};

use crate::app::TestApp;

const MN: &str = "14100020990100000000000A";

fn live() -> LiveSnapshot {
    LiveSnapshot {
        // 2026-12-02 08:00:00 China time.
        started_at: 1_796_169_600_000,
        connections: 3,
        devices_online: vec![OnlineDevice {
            mn: MN.into(),
            peer: "10.0.0.7:50123".into(),
            since: 1_796_169_660_000,
        }],
        frames_by_verdict: vec![("accepted".into(), 120), ("rejected".into(), 4)],
        rejected_by_reason: vec![("crc".into(), 3), ("length".into(), 1)],
    }
}

#[tokio::test]
async fn the_status_page_renders_live_and_stored_figures() {
    let app = TestApp::builder()
        .registry(fenhe_core::demo::city())
        .live(live())
        .banner("演示数据库 <demo.db>")
        .build()
        .await;
    let admin = app.signed_in("root", Role::Admin).await;
    let r = app.get_as("/system", &admin).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type().starts_with("text/html"), "{}", r.content_type());
    let page = r.text();
    assert!(page.contains("id=\"connections\">3</div>"), "{page}");
    assert!(page.contains("<span id=\"online\">1</span>"), "{page}");
    assert!(page.contains("<span id=\"registered\">40</span>"), "{page}");
    assert!(page.contains("id=\"started\">2026-12-02 08:00:00</div>"), "{page}");
    assert!(
        page.contains("CRC 校验错误 <small class=\"code\">crc</small></td><td class=\"num\">3</td>"),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "<td class=\"mono\">{MN}</td><td class=\"mono\">10.0.0.7:50123</td><td>2026-12-02 08:01:00</td>"
        )),
        "{page}"
    );
    // Banner lines are text, not markup.
    assert!(page.contains("演示数据库 &#60;demo.db&#62;") && !page.contains("<demo.db>"), "{page}");

    let en = app.get_as("/system?lang=en", &admin).await.text();
    assert!(en.contains("CRC mismatch <small class=\"code\">crc</small>"), "{en}");
}

#[tokio::test]
async fn the_status_page_is_for_the_roles_that_see_the_system() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    let bureau = app.signed_in("officer", Role::Bureau).await;
    assert_eq!(app.get_as("/system", &bureau).await.status, StatusCode::OK);
    let leader = app.signed_in("mayor", Role::Leader).await;
    let r = app.get_as("/system", &leader).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains("您的角色无权查看此页面"), "{}", r.text());
    let r = app.get("/system").await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/login?next=/system"));
}

#[tokio::test]
async fn api_status_reports_the_live_and_stored_sides() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).live(live()).build().await;
    app.add_user("officer", Role::Bureau).await;
    let token = app.token("officer").await;
    let r = app.get_bearer("/api/status", &token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type().starts_with("application/json"));
    let v = r.json();
    let registered = app.store.registry().await.unwrap().devices.len();
    assert_eq!((registered, &v["registered_devices"]), (40, &40.into()));
    assert_eq!(v["inbox"], 0);
    assert_eq!(v["stored"], serde_json::json!([]), "a new database has no frames");
    assert_eq!(v["live"]["connections"], 3);
    assert_eq!(v["live"]["started_at"], 1_796_169_600_000i64);
    assert_eq!(v["live"]["devices_online"][0]["mn"], MN);
    assert_eq!(v["live"]["frames_by_verdict"], serde_json::json!([["accepted", 120], ["rejected", 4]]));
    assert_eq!(v["live"]["rejected_by_reason"], serde_json::json!([["crc", 3], ["length", 1]]));
}

#[tokio::test]
async fn healthz_answers_ok() {
    let r = TestApp::builder().build().await.get("/healthz").await;
    assert_eq!((r.status, r.text().as_str()), (StatusCode::OK, "ok"));
}

#[tokio::test]
async fn healthz_answers_503_with_the_reason_while_the_store_cannot_take_data() {
    let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let f = failing.clone();
    let app = TestApp::builder()
        .health(move || {
            f.load(std::sync::atomic::Ordering::SeqCst)
                .then(|| "the store cannot commit: database or disk is full".to_string())
        })
        .build()
        .await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.text(), "unavailable: the store cannot commit: database or disk is full");
    failing.store(false, std::sync::atomic::Ordering::SeqCst);
    let r = app.get("/healthz").await;
    assert_eq!((r.status, r.text().as_str()), (StatusCode::OK, "ok"));
}

#[tokio::test]
async fn metrics_serve_prometheus_text_when_enabled() {
    let app = TestApp::builder()
        .metrics(|| "# TYPE fenhe_frames_total counter\nfenhe_frames_total 7\n".into())
        .build()
        .await;
    app.add_user("root", Role::Admin).await;
    let token = app.token("root").await;
    let r = app.get_bearer("/metrics", &token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type(), "text/plain; version=0.0.4");
    assert!(r.text().contains("fenhe_frames_total 7"));
}

#[tokio::test]
async fn metrics_are_a_404_in_the_error_shape_when_disabled() {
    let app = TestApp::builder().build().await;
    app.add_user("root", Role::Admin).await;
    let r = app.get_bearer("/metrics", &app.token("root").await).await;
    assert_eq!(r.error(StatusCode::NOT_FOUND, "not_found"), "metrics are not enabled");
}

/// A stranger learns nothing; an enterprise's user is refused; the answers are the JSON shape.
#[tokio::test]
async fn status_and_metrics_need_a_role_that_sees_the_system() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).metrics(|| "x 1\n".into()).build().await;
    app.add_user("e01", Role::Enterprise { enterprise: "E01".into() }).await;
    let e01 = app.token("e01").await;
    let e01_browser = app.sign_in("e01").await;
    for path in ["/api/status", "/metrics"] {
        let r = app.get(path).await;
        r.error(StatusCode::UNAUTHORIZED, "unauthorized");
        let r = app.get_bearer(path, "not-a-token").await;
        r.error(StatusCode::UNAUTHORIZED, "unauthorized");
        let r = app.get_bearer(path, &e01).await;
        r.error(StatusCode::FORBIDDEN, "forbidden");
        let r = app.get_as(path, &e01_browser).await;
        r.error(StatusCode::FORBIDDEN, "forbidden");
    }
}

#[tokio::test]
async fn an_unknown_route_is_a_json_404() {
    let r = TestApp::builder().build().await.get("/api/v1/nowhere/E99").await;
    assert_eq!(r.error(StatusCode::NOT_FOUND, "not_found"), "no route for GET /api/v1/nowhere/E99");
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405() {
    let r = TestApp::builder().build().await.post_json("/healthz", &serde_json::json!({"x": 1})).await;
    let message = r.error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
    assert!(message.contains("/healthz"), "{message}");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::builder().build().await;
    for path in ["/", "/login", "/api/status", "/healthz", "/metrics", "/nowhere"] {
        let r = app.get(path).await;
        assert_eq!(r.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
        assert_eq!(r.headers[header::X_FRAME_OPTIONS], "DENY", "{path}");
        assert_eq!(r.headers[header::REFERRER_POLICY], "no-referrer", "{path}");
        let csp = r.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && !csp.contains("'unsafe-eval'"), "{path}: {csp}");
        assert!(!csp.contains("'unsafe-inline'"), "{path}: {csp}");
    }
}
