//! `/audit` and `/api/v1/audit`: administrators only (403 for every other role, 401 for a
//! stranger on the API), the filters (who, action, kind, object, period), pages with the total,
//! and each entry's changes by field.

use axum::http::StatusCode;
use fenhe_core::access::Role;
use fenhe_store::NewAuditEntry;

use crate::app::TestApp;

/// 2026-03-02 10:00 China time.
const T0: i64 = 1_772_416_800_000;
const DAY: i64 = 86_400_000;

async fn app_with_entries() -> TestApp {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    let entry = |at: i64, actor: &str, action: &str, kind: &str, id: &str, before, after| NewAuditEntry {
        at,
        actor: actor.into(),
        actor_role: "admin".into(),
        action: action.into(),
        object_kind: kind.into(),
        object_id: id.into(),
        before,
        after,
        peer: "192.0.2.9".into(),
    };
    let entries = [
        entry(
            T0,
            "root",
            "enterprise.update",
            "enterprise",
            "E01",
            Some(serde_json::json!({"name": "旧名", "id": "E01"})),
            Some(serde_json::json!({"name": "新名", "id": "E01"})),
        ),
        entry(
            T0 + DAY,
            "ops",
            "device.update",
            "device",
            "LF01",
            Some(serde_json::json!({"rtd_interval_s": 30})),
            Some(serde_json::json!({"rtd_interval_s": 60})),
        ),
        entry(
            T0 + 2 * DAY,
            "root",
            "limit.add",
            "outlet",
            "E01-DA001",
            Some(serde_json::json!([])),
            Some(serde_json::json!([{"factor": "a21026", "max": 35.0}])),
        ),
    ];
    for e in &entries {
        app.store.append_audit(e).await.unwrap();
    }
    app
}

#[tokio::test]
async fn only_administrators_read_the_audit_log() {
    let app = app_with_entries().await;
    for (name, role) in [
        ("root", Role::Admin),
        ("mayor", Role::Leader),
        ("officer", Role::Bureau),
        ("fgw1", Role::Department { department: "fgw".into() }),
        ("e01", Role::Enterprise { enterprise: "E01".into() }),
    ] {
        let b = app.signed_in(name, role.clone()).await;
        let token = app.token(name).await;
        let want = if role == Role::Admin { StatusCode::OK } else { StatusCode::FORBIDDEN };
        let page = app.get_as("/audit", &b).await;
        assert_eq!(page.status, want, "{name}");
        let api = app.get_bearer("/api/v1/audit", &token).await;
        assert_eq!(api.status, want, "{name}");
        if role != Role::Admin {
            assert_eq!(api.json()["error"]["code"], "forbidden");
            assert!(!page.text().contains("E01-DA001"), "{name}");
            // A malformed filter tells a refused role nothing either.
            assert_eq!(app.get_bearer("/api/v1/audit?from=x", &token).await.status, StatusCode::FORBIDDEN);
            assert_eq!(app.get_as("/audit?from=x", &b).await.status, StatusCode::FORBIDDEN);
        }
    }
    assert_eq!(app.get("/api/v1/audit").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get("/audit").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_api_filters_pages_and_shows_changes_by_field() {
    let app = app_with_entries().await;
    app.add_user("root", Role::Admin).await;
    let token = app.token("root").await;
    let get = |q: &str| {
        let app = &app;
        let token = token.clone();
        let q = q.to_string();
        async move { app.get_bearer(&format!("/api/v1/audit{q}"), &token).await }
    };
    let all = get("").await.json();
    // The three above plus the creation of root and of its token by the command line.
    assert_eq!(all["total"], 5, "{all}");
    let objects = |v: &serde_json::Value| -> Vec<String> {
        v["items"].as_array().unwrap().iter().map(|i| i["object_id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(objects(&get("?actor=root").await.json()), ["E01-DA001", "E01"]);
    assert_eq!(objects(&get("?kind=device").await.json()), ["LF01"]);
    assert_eq!(objects(&get("?action=enterprise.update").await.json()), ["E01"]);
    assert_eq!(objects(&get("?object=E01-DA001").await.json()), ["E01-DA001"]);
    assert_eq!(objects(&get("?from=2026-03-03&to=2026-03-03").await.json()), ["LF01"]);
    assert_eq!(objects(&get("?from=2026-03-02&to=2026-03-03&actor=root").await.json()), ["E01"]);

    let page = get("?per_page=2&page=2&actor=root").await.json();
    assert_eq!(
        (page["total"].as_u64(), page["page"].as_u64(), page["items"].as_array().unwrap().len()),
        (Some(2), Some(2), 0)
    );
    let first = get("?per_page=1&actor=root").await.json();
    assert_eq!(objects(&first), ["E01-DA001"]);
    let second = get("?per_page=1&page=2&actor=root").await.json();
    assert_eq!(objects(&second), ["E01"]);
    let changes = &second["items"][0]["changes"];
    assert_eq!(changes.as_array().unwrap().len(), 1, "{changes}");
    assert_eq!(
        (changes[0]["path"].as_str(), changes[0]["before"].as_str(), changes[0]["after"].as_str()),
        (Some("name"), Some("旧名"), Some("新名"))
    );
    assert_eq!(second["items"][0]["at"], "2026-03-02T10:00:00+08:00");
    assert_eq!(second["items"][0]["before"]["name"], "旧名");

    let bad = get("?from=2026-13-01").await;
    assert!(bad.error(StatusCode::BAD_REQUEST, "bad_request").contains("from"));
    let bad = get("?from=2026-03-04&to=2026-03-01").await;
    assert!(bad.error(StatusCode::BAD_REQUEST, "bad_request").contains("to"));
    get("?per_page=0").await.error(StatusCode::BAD_REQUEST, "bad_request");
}

#[tokio::test]
async fn the_page_filters_pages_and_shows_before_and_after() {
    let app = app_with_entries().await;
    let root = app.signed_in("root", Role::Admin).await;
    let page = app.get_as("/audit?kind=outlet", &root).await.text();
    assert!(page.contains("新增限值") && page.contains("limits") || page.contains("[0].max"), "{page}");
    assert!(!page.contains("LF01"));
    let page = app.get_as("/audit?object=E01", &root).await.text();
    assert!(page.contains("旧名") && page.contains("新名") && page.contains("修改企业"), "{page}");
    assert!(
        page.contains("<option value=\"enterprise\">") && page.contains("value=\"E01\""),
        "the filter keeps its values"
    );
    let none = app.get_as("/audit?actor=nobody", &root).await.text();
    assert!(none.contains("没有符合条件的记录"), "{none}");
    let bad = app.get_as("/audit?from=2026-02-30", &root).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("id=\"e-from\""));
    let en = app.get_as("/audit?object=E01&lang=en", &root).await.text();
    assert!(en.contains("Enterprise changed") && en.contains("Audit log"), "{en}");

    // Pages of fifty: 60 more entries make two pages, the filters kept in the links.
    for i in 0..60 {
        let e = NewAuditEntry {
            at: T0 + i,
            actor: "bulk".into(),
            actor_role: "admin".into(),
            action: "enterprise.update".into(),
            object_kind: "enterprise".into(),
            object_id: format!("B{i:02}"),
            before: None,
            after: None,
            peer: "local".into(),
        };
        app.store.append_audit(&e).await.unwrap();
    }
    let p1 = app.get_as("/audit?actor=bulk", &root).await.text();
    assert!(
        p1.contains("href=\"/audit?actor=bulk&#38;page=2\"")
            || p1.contains("href=\"/audit?actor=bulk&page=2\""),
        "{p1}"
    );
    assert!(p1.contains("B59") && !p1.contains("B09"));
    let p2 = app.get_as("/audit?actor=bulk&page=2", &root).await.text();
    assert!(p2.contains("B09") && p2.contains("B00") && !p2.contains("B59"));
    let beyond = app.get_as("/audit?actor=bulk&page=9", &root).await.text();
    assert!(beyond.contains("B00"), "a page past the end shows the last");
}
