//! `/api/v1`'s frame: the OpenAPI document (generated from the routes, so it lists every one),
//! who may read it, `/api/v1/me`, and the answers a program gets without a session or token.

use axum::http::StatusCode;
use fenhe_core::access::Role;

use crate::app::TestApp;

#[tokio::test]
async fn the_openapi_document_is_3_1_and_every_path_in_it_is_served() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    app.add_user("root", Role::Admin).await;
    let token = app.token("root").await;
    let r = app.get_bearer("/api/v1/openapi.json", &token).await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{doc}");
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.contains_key("/api/v1/me"), "{paths:?}");
    // A described path that the router does not serve would answer 404 with "no route".
    for (path, item) in paths {
        if item.get("get").is_none() || path.contains('{') {
            continue;
        }
        let r = app.get_bearer(path, &token).await;
        assert_ne!(r.status, StatusCode::NOT_FOUND, "{path} is described but not served: {}", r.text());
        assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer", "{schemes}");
}

#[tokio::test]
async fn a_stranger_gets_the_json_401_not_the_document() {
    let app = TestApp::builder().build().await;
    for path in ["/api/v1/openapi.json", "/api/v1/me"] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(r.json()["error"]["code"], "unauthorized", "{path}");
    }
    let r = app.get_bearer("/api/v1/me", "not-a-token").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn me_says_who_the_caller_is_and_how() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    app.add_user("e01", Role::Enterprise { enterprise: "E01".into() }).await;
    let token = app.token("e01").await;
    let me = app.get_bearer("/api/v1/me", &token).await.json();
    assert_eq!(me["username"], "e01");
    assert_eq!(me["role"], "enterprise");
    assert_eq!(me["enterprise"], "E01");
    assert_eq!(me["by_token"], true);
    let browser = app.signed_in("officer", Role::Bureau).await;
    let me = app.get_as("/api/v1/me", &browser).await.json();
    assert_eq!((me["role"].as_str(), me["by_token"].as_bool()), (Some("bureau"), Some(false)));
}
