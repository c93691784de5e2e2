//! `/screen`: the wall screen for the city's roles; 403 for the others, sign-in for nobody.

use axum::http::StatusCode;
use fenhe_core::access::Role;

use crate::app::TestApp;
use crate::overview::roles;

#[tokio::test]
async fn the_screen_is_for_the_citys_roles_only() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    let r = app.get("/screen").await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/login?next=/screen"));
    for (name, role) in roles() {
        let b = app.signed_in(name, role.clone()).await;
        let r = app.get_as("/screen", &b).await;
        match role {
            Role::Admin | Role::Leader | Role::Bureau => {
                assert_eq!(r.status, StatusCode::OK, "{name}");
                let page = r.text();
                assert!(page.contains("<body class=\"screen\""), "{name}");
                assert!(page.contains("监控指挥大屏") && page.contains("data-rotate=\"10\""), "{name}");
                // A wall display: no navigation, the whole city's enterprises in rotation.
                assert!(!page.contains("class=\"mainnav\""), "{name}");
                assert!(page.contains("\"city_wide\":true"), "{name}");
                assert!(!page.contains("??"), "{name}");
            }
            _ => {
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{name}");
                assert!(!r.text().contains("overview-data"), "{name}");
            }
        }
    }
}

#[tokio::test]
async fn the_rotation_is_asked_for_in_seconds_within_bounds() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    let b = app.signed_in("mayor", Role::Leader).await;
    let page = app.get_as("/screen?rotate=20&lang=en", &b).await.text();
    assert!(page.contains("data-rotate=\"20\"") && page.contains("Command-centre screen"), "{page}");
    assert!(page.contains("<html lang=\"en\""), "{page}");
    for bad in ["/screen?rotate=1", "/screen?rotate=301", "/screen?rotate=ten"] {
        let r = app.get_as(bad, &b).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.text().contains("rotate"), "{bad}: {}", r.text());
    }
}
