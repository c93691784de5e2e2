//! The embedded files: content-hashed addresses cached for a year, gzip when accepted, and the
//! licences reachable by anyone.

use std::io::Read as _;

use axum::http::{StatusCode, header};

use crate::app::TestApp;

/// The addresses of the stylesheet and scripts a page links.
fn asset_urls(page: &str) -> Vec<String> {
    page.split("\"/static/")
        .skip(1)
        .map(|p| format!("/static/{}", &p[..p.find('"').unwrap()]))
        .filter(|u| u != "/static/licenses")
        .collect()
}

#[tokio::test]
async fn pages_link_hashed_assets_that_are_cached_for_a_year() {
    let app = TestApp::builder().build().await;
    let page = app.get("/login").await.text();
    let urls = asset_urls(&page);
    assert!(
        urls.iter().any(|u| u.ends_with("/app.css")) && urls.iter().any(|u| u.ends_with("/app.js")),
        "{urls:?}"
    );
    for url in &urls {
        let r = app.get(url).await;
        assert_eq!(r.status, StatusCode::OK, "{url}");
        assert_eq!(r.headers[header::CACHE_CONTROL], "public, max-age=31536000, immutable", "{url}");
        let want =
            if url.ends_with(".css") { "text/css; charset=utf-8" } else { "text/javascript; charset=utf-8" };
        assert_eq!(r.content_type(), want, "{url}");
        assert!(r.headers.get(header::CONTENT_ENCODING).is_none(), "{url}");
    }
    // Another hash (a page of an older build) is not served the new content.
    let css = urls.iter().find(|u| u.ends_with("/app.css")).unwrap();
    let stale = "/static/0000000000000000/app.css".to_string();
    assert_ne!(css, &stale);
    assert_eq!(app.get(&stale).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn echarts_is_sent_gzipped_to_a_client_that_accepts_it() {
    let app = TestApp::builder().build().await;
    let url = fenhe_web::assets::url("echarts.min.js");
    let plain = app.get(&url).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.body.len(), 1_121_883);
    let r = app.get_with(&url, &[(header::ACCEPT_ENCODING, "gzip, deflate, br")]).await;
    assert_eq!(r.headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(r.headers[header::VARY], "accept-encoding");
    assert!(r.body.len() < 450_000, "{} bytes", r.body.len());
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(r.body.as_slice()).read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, plain.body);
}

#[tokio::test]
async fn the_licences_are_public() {
    let app = TestApp::builder().build().await;
    let page = app.get("/static/licenses").await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    for name in ["Apache ECharts", "htmx", "echarts-NOTICE.txt", "zrender-LICENSE.txt"] {
        assert!(text.contains(name), "{name}");
    }
    let r = app.get("/static/licenses/echarts-LICENSE.txt").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("Apache License"));
    assert_eq!(r.content_type(), "text/plain; charset=utf-8");
    // Only licences: not the other embedded files under another name.
    assert_eq!(app.get("/static/licenses/app.js").await.status, StatusCode::NOT_FOUND);
}
