//! `start_with_listeners` over a real socket: the test binds port 0 itself, so the address it
//! connects to is the one the server holds, and shutdown stops the server.

use std::time::Duration;

use fenhe_web::LiveSnapshot;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::app::TestApp;

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test]
async fn serves_on_a_listener_the_caller_bound_and_stops_on_shutdown() {
    let (state, _dir) =
        TestApp::builder().live(LiveSnapshot { connections: 2, ..Default::default() }).state().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = fenhe_web::start_with_listeners(listener, state, async move {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    assert_eq!(server.local_addr(), addr);

    let health = http_get(addr, "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
    assert!(health.ends_with("\r\n\r\nok"), "{health}");
    // The public listener shows a stranger nothing but the sign-in page.
    let status = http_get(addr, "/api/status").await;
    assert!(status.starts_with("HTTP/1.1 401 Unauthorized\r\n"), "{status}");
    let root = http_get(addr, "/").await;
    assert!(
        root.starts_with("HTTP/1.1 303 See Other\r\n") && root.contains("location: /login\r\n"),
        "{root}"
    );

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), server.wait()).await.expect("stops promptly").unwrap();
    assert!(TcpStream::connect(addr).await.is_err(), "the listener is closed after shutdown");
}

#[tokio::test]
async fn start_reports_the_port_it_bound() {
    let (state, _dir) = TestApp::builder().state().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = fenhe_web::start("127.0.0.1:0".parse().unwrap(), state, async move {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    assert_ne!(server.local_addr().port(), 0);
    let health = http_get(server.local_addr(), "/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200 OK\r\n"), "{health}");
    stop.send(()).unwrap();
    server.wait().await.unwrap();
}
