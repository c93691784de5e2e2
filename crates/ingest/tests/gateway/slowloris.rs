//! Connections that hold a place without completing anything: the frame deadline, the
//! authentication deadline and the caps on strangers (connections not authenticated yet).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

const SHORT: Duration = Duration::from_millis(300);

/// Send `bytes` one at a time, `every` apart, until the gateway closes the connection (true) or
/// `within` passes (false). Reads whatever the gateway sends meanwhile.
async fn trickle(d: &mut TestDevice, bytes: &[u8], every: Duration, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 1024];
    for b in bytes.iter().cycle() {
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        if d.stream.write_all(&[*b]).await.is_err() {
            return true;
        }
        match tokio::time::timeout(every, d.stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            _ => {}
        }
    }
    false
}

fn refused(h: &Harness, reason: &str) -> u64 {
    h.handle.stats().refused_by_reason.get(reason).copied().unwrap_or(0)
}

/// One byte every 50 ms resets no timer that matters: a frame must be complete within the frame
/// deadline of its first byte, even from a device that authenticated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_must_complete_within_its_deadline() {
    let cfg = GatewayConfigExt::with(config(), |c| {
        c.frame_deadline = Duration::from_millis(400);
        c.idle_timeout = Duration::from_secs(60);
        c.auth_deadline = Duration::from_secs(60);
    });
    let h = start(cfg).await;
    let mut d = h.device(STD).await;
    let (bytes, qn) = d.upload("2051", &t(10, 0), 1.0);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;
    let (next, _) = d.upload("2051", &t(10, 1), 2.0);
    assert!(
        trickle(&mut d, &next, Duration::from_millis(50), Duration::from_secs(10)).await,
        "a frame trickled a byte at a time was held open"
    );
    eventually("the close to be counted", || async { (refused(&h, "frame_deadline") == 1).then_some(()) })
        .await;
    // A device that sends whole frames is not affected.
    let mut d = h.device(STD).await;
    for m in 2..5 {
        let (bytes, qn) = d.upload("2051", &t(10, m), 1.0);
        d.send(&bytes).await;
        d.expect_ack(&qn).await;
    }
    h.stop().await;
}

/// A connection that never sends a registered MN with its password is closed after the
/// authentication deadline, however busy it keeps the line; one that authenticated stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_must_authenticate_within_its_deadline() {
    let cfg = GatewayConfigExt::with(config(), |c| {
        c.auth_deadline = Duration::from_millis(500);
        c.idle_timeout = Duration::from_secs(60);
    });
    let h = start(cfg).await;
    let mut device = h.device(STD).await;
    let (bytes, qn) = device.upload("2051", &t(10, 0), 1.0);
    device.send(&bytes).await;
    device.expect_ack(&qn).await;

    // Line breaks only (skipped by the framer, so no frame is ever in progress).
    let mut idle = h.device(STD).await;
    assert!(trickle(&mut idle, b"\r\n", Duration::from_millis(50), Duration::from_secs(10)).await);
    // Whole frames from an MN that is not registered.
    let mut stranger = TestDevice::connect(h.addr, "UNKNOWN00000000000000001", PW).await;
    let mut closed = false;
    for m in 0..200 {
        let (bytes, _) = stranger.upload("2051", &t(11, m % 60), 1.0);
        if stranger.stream.write_all(&bytes).await.is_err()
            || stranger.closed_within(Duration::from_millis(50)).await
        {
            closed = true;
            break;
        }
    }
    assert!(closed, "an unregistered MN kept its connection past the authentication deadline");
    eventually("both closes to be counted", || async { (refused(&h, "auth_deadline") == 2).then_some(()) })
        .await;

    // The device authenticated before the deadline: it is still served after it.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (bytes, qn) = device.upload("2051", &t(10, 1), 1.0);
    device.send(&bytes).await;
    device.expect_ack(&qn).await;
    h.stop().await;
}

/// With every slot taken, a registered device connecting closes the oldest stranger and is
/// served; a stranger connecting closes another stranger, never an authenticated device.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_never_take_a_registered_devices_place() {
    let cfg = GatewayConfigExt::with(config(), |c| c.max_connections = 3);
    let h = start(cfg).await;
    let mut device = h.device(OTHER).await;
    let (bytes, qn) = device.upload("2051", &t(10, 0), 1.0);
    device.send(&bytes).await;
    device.expect_ack(&qn).await;
    let mut s1 = h.device(STD).await;
    let mut s2 = h.device(STD).await;
    eventually("three connections", || async { (h.handle.stats().connections == 3).then_some(()) }).await;

    // Full. A registered device comes: the oldest stranger makes room.
    let mut d = h.device(STD).await;
    let (bytes, qn) = d.upload("2051", &t(10, 0), 1.0);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;
    assert!(s1.closed_within(Duration::from_secs(5)).await);
    assert!(!s2.closed_within(SHORT).await);

    // Another stranger takes s2's place, not a device's.
    let mut s3 = h.device(STD).await;
    assert!(s2.closed_within(Duration::from_secs(5)).await);
    assert!(!s3.closed_within(SHORT).await);
    for (dev, m) in [(&mut device, 1), (&mut d, 2)] {
        let (bytes, qn) = dev.upload("2051", &t(10, m), 1.0);
        dev.send(&bytes).await;
        dev.expect_ack(&qn).await;
    }
    assert_eq!(h.handle.stats().refused_by_reason.get("strangers"), Some(&2));
    h.stop().await;
}

/// Strangers are capped per address (the oldest of that address goes) and as a whole (the oldest
/// of all goes).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_are_capped_per_address_and_overall() {
    let cfg = GatewayConfigExt::with(config(), |c| {
        c.max_strangers = 3;
        c.max_strangers_per_address = 2;
    });
    let h = start(cfg).await;
    let mut opened = 0;
    let mut connect = async |from: [u8; 4]| {
        let d = TestDevice::connect_from(from, h.addr, STD, PW).await;
        opened += 1;
        let n = opened;
        eventually("the connection to be accepted", || async {
            (h.handle.stats().connections_total == n).then_some(())
        })
        .await;
        d
    };
    let mut a1 = connect([127, 0, 0, 1]).await;
    let mut a2 = connect([127, 0, 0, 1]).await;
    let mut a3 = connect([127, 0, 0, 1]).await;
    assert!(a1.closed_within(Duration::from_secs(5)).await, "a third stranger of one address");
    let mut b1 = connect([127, 0, 0, 2]).await;
    assert!(!a2.closed_within(SHORT).await);
    let mut b2 = connect([127, 0, 0, 2]).await;
    assert!(a2.closed_within(Duration::from_secs(5)).await, "a fourth stranger overall");
    for s in [&mut a3, &mut b1, &mut b2] {
        assert!(!s.closed_within(SHORT).await);
    }
    let by = h.handle.stats().refused_by_reason;
    assert_eq!((by.get("per_address"), by.get("strangers")), (Some(&1), Some(&1)), "{by:?}");
    // A stranger that authenticates no longer counts.
    let (bytes, qn) = b1.upload("2051", &t(10, 0), 1.0);
    b1.send(&bytes).await;
    b1.expect_ack(&qn).await;
    let _b3 = connect([127, 0, 0, 2]).await;
    assert!(!b2.closed_within(SHORT).await, "b1 authenticated: .2 has one stranger left before b3");
    h.stop().await;
}
