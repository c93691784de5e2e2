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

/// Serve `limits` on port 0; returns the address and the sender that stops the server.
async fn serve_with(
    limits: fenhe_web::serve::ListenerLimits,
) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>, fenhe_web::WebServer, tempfile::TempDir) {
    let (state, dir) = TestApp::builder().listener(limits).state().await;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = fenhe_web::start("127.0.0.1:0".parse().unwrap(), state, async move {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    (server.local_addr(), stop, server, dir)
}

/// Read until the server closes the connection; what it sent. Panics if it is still open after
/// `within` (a generous bound: the limits under test are a second or two).
async fn read_until_closed(s: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    match tokio::time::timeout(within, s.read_to_end(&mut out)).await {
        Ok(Ok(_)) => out,
        // A reset is a close too.
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => out,
        Ok(Err(e)) => panic!("reading: {e}"),
        Err(_) => panic!("the server still holds the connection after {within:?}"),
    }
}

const LONG: Duration = Duration::from_secs(600);

#[tokio::test]
async fn a_request_head_trickled_past_the_header_timeout_is_cut() {
    let limits = fenhe_web::serve::ListenerLimits {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: LONG,
        max_connections: 16,
    };
    let (addr, stop, server, _dir) = serve_with(limits).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    // Half a request head, then nothing: a slowloris client.
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let said = read_until_closed(&mut s, Duration::from_secs(60)).await;
    assert!(!String::from_utf8_lossy(&said).contains("200 OK"), "{}", String::from_utf8_lossy(&said));
    // Others are still served.
    assert!(http_get(addr, "/healthz").await.starts_with("HTTP/1.1 200 OK\r\n"));
    stop.send(()).unwrap();
    server.wait().await.unwrap();
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let limits = fenhe_web::serve::ListenerLimits {
        header_read_timeout: LONG,
        idle_timeout: Duration::from_secs(1),
        max_connections: 16,
    };
    let (addr, stop, server, _dir) = serve_with(limits).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await.unwrap();
    // The answer comes on a connection kept alive; then the server closes it by itself.
    let said = read_until_closed(&mut s, Duration::from_secs(60)).await;
    let said = String::from_utf8_lossy(&said);
    assert!(said.starts_with("HTTP/1.1 200 OK\r\n") && said.ends_with("ok"), "{said}");
    stop.send(()).unwrap();
    server.wait().await.unwrap();
}

#[tokio::test]
async fn connections_past_the_cap_wait_until_one_ends() {
    let limits = fenhe_web::serve::ListenerLimits {
        header_read_timeout: LONG,
        idle_timeout: LONG,
        max_connections: 2,
    };
    let (addr, stop, server, _dir) = serve_with(limits).await;
    // Two connections that send nothing take both slots (each answered once, so both are
    // surely accepted before the third arrives).
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes()).await.unwrap();
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK\r\n"));
        held.push(s);
    }
    let third = tokio::spawn(async move { http_get(addr, "/healthz").await });
    // Not served while the two are held (the kernel holds it in the listen backlog).
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!third.is_finished(), "a third connection was served past a cap of two");
    drop(held.pop());
    let answer =
        tokio::time::timeout(Duration::from_secs(60), third).await.expect("served once a slot is free");
    assert!(answer.unwrap().starts_with("HTTP/1.1 200 OK\r\n"));
    // Shutdown closes the idle connection still held instead of waiting for it.
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), server.wait()).await.expect("stops promptly").unwrap();
    drop(held);
}
