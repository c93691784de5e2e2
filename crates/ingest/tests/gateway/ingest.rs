//! Ingest over real TCP: acknowledgement after commit, split packets, duplicates and revisions,
//! authentication, garbage, dialect policy, the connection limit, idle timeout and shutdown.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::common::*;
use fenhe_core::Verdict;
use fenhe_store::writer::WriterConfig;
use fenhe_store::{FrameQuery, MeasurementQuery};
use hj212::builder::device;

const SHORT: Duration = Duration::from_millis(400);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_only_after_commit() {
    let h = start(config()).await;
    let mut d = h.device(STD).await;

    // Held commit: no 9014 until write_batch returns.
    h.gate.hold.store(true, Ordering::SeqCst);
    let (bytes, qn) = d.upload("2051", &t(10, 0), 1.5);
    d.send(&bytes).await;
    eventually("write_batch to be called", || async {
        (h.gate.waiting.load(Ordering::SeqCst) > 0).then_some(())
    })
    .await;
    d.expect_none("9014 before commit", SHORT, |g| g.cn() == "9014").await;
    h.gate.open();
    d.expect_ack(&qn).await;

    // Failed commit: no 9014 at all.
    h.gate.fail.store(true, Ordering::SeqCst);
    let (bytes, qn2) = d.upload("2051", &t(10, 1), 2.5);
    d.send(&bytes).await;
    d.expect_none("9014 after a failed commit", SHORT, |g| g.cn() == "9014").await;
    assert!(h.measurements(STD).await.iter().all(|m| m.data_time != t(10, 1).unix_millis_cst()));
    eventually("the store error to be counted", || async {
        (h.handle.stats().store_errors > 0).then_some(())
    })
    .await;

    // The device re-sends; now it is stored and acknowledged.
    h.gate.fail.store(false, Ordering::SeqCst);
    d.send(&bytes).await;
    d.expect_ack(&qn2).await;
    let ms = h.measurements(STD).await;
    assert_eq!(ms.len(), 2);
    assert!(ms.iter().any(|m| m.data_time == t(10, 1).unix_millis_cst() && m.values.avg == Some(2.5)));

    let stats = h.handle.stats();
    assert_eq!(stats.frames.get("accepted"), Some(&2));
    assert_eq!(stats.devices_online.len(), 1);
    assert_eq!(stats.devices_online[0].mn, STD);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_acks_come_in_order() {
    let h = start(config()).await;
    let mut d = h.device(STD).await;
    let mut all = Vec::new();
    let mut qns = Vec::new();
    for m in 0..20 {
        let (bytes, qn) = d.upload("2051", &t(11, m), f64::from(m));
        all.extend(bytes);
        qns.push(qn);
    }
    d.send(&all).await;
    for qn in &qns {
        let g = d.expect("a 9014", |g| g.cn() == "9014").await;
        assert_eq!(g.qn().as_deref(), Some(qn.as_str()));
    }
    assert_eq!(h.measurements(STD).await.len(), 20);
    h.stop().await;
}

/// With the writer's queue full, a connection keeps reading: frames wait for room in order (the
/// queue's fair wait list), their acks still come in arrival order, and a later revision of the
/// same minute still wins over an earlier one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_writer_queue_keeps_arrival_order() {
    let writer_cfg = WriterConfig { max_batch: 1, max_wait: Duration::ZERO, queue: 1 };
    let h = start_with_writer(config(), writer_cfg).await;
    let mut d = h.device(STD).await;
    h.gate.hold.store(true, Ordering::SeqCst);
    let mut all = Vec::new();
    let mut qns = Vec::new();
    for m in 0..12 {
        // Minutes 0..5, then the same minutes again with new values: revisions.
        let (bytes, qn) = d.upload("2051", &t(12, m % 6), f64::from(m));
        all.extend(bytes);
        qns.push(qn);
    }
    d.send(&all).await;
    eventually("the first batch to wait at the store", || async {
        (h.gate.waiting.load(Ordering::SeqCst) > 0).then_some(())
    })
    .await;
    d.expect_none("an ack before any commit", SHORT, |g| g.cn() == "9014").await;
    h.gate.open();
    for qn in &qns {
        let g = d.expect("a 9014", |g| g.cn() == "9014").await;
        assert_eq!(g.qn().as_deref(), Some(qn.as_str()));
    }
    let latest = h
        .store
        .measurements(&MeasurementQuery { mn: Some(STD.into()), latest_only: true, ..Default::default() })
        .await
        .unwrap();
    let mut values: Vec<f64> = latest.iter().filter_map(|m| m.values.avg).collect();
    values.sort_by(f64::total_cmp);
    assert_eq!(values, vec![6.0, 7.0, 8.0, 9.0, 10.0, 11.0], "the later uploads are the latest revisions");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_packets_merge_into_measurements() {
    let h = start(config()).await;
    let mut d = h.device(STD).await;
    let qn = d.qn();
    let mut b = device::upload(&d.peer(), &qn, "2061", &t(9, 0), true);
    for i in 0..40 {
        b = b.factor(&format!("a{:05}", 21000 + i), [("Avg", format!("{i}.5")), ("Flag", "N".into())]);
    }
    let frames = hj212::split::split(&b, 1024).unwrap();
    assert!(frames.len() >= 2);
    let qns: Vec<String> = frames
        .iter()
        .map(|f| {
            let seg = &f[6..f.len() - 6];
            hj212::parse(seg, &Default::default()).unwrap().qn.unwrap().to_string()
        })
        .collect();
    for f in &frames {
        d.send(f).await;
    }
    for qn in &qns {
        d.expect_ack(qn).await;
    }
    let ms = h.measurements(STD).await;
    assert_eq!(ms.len(), 40);
    assert!(ms.iter().all(|m| m.cn == "2061" && m.data_time == t(9, 0).unix_millis_cst()));
    assert!(ms.iter().any(|m| m.factor == "a21039" && m.values.avg == Some(39.5)));
    // Every part is kept raw; the measurements went with the completing one.
    let frames_stored = h.frames(STD).await;
    assert_eq!(frames_stored.len(), frames.len());
    assert!(frames_stored.iter().all(|f| f.record.verdict == Verdict::Accepted));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_and_revisions() {
    let h = start(config()).await;
    let mut d = h.device(STD).await;
    let (bytes, qn) = d.upload("2051", &t(10, 0), 1.5);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;
    // The same upload again: acknowledged, stored as a duplicate.
    d.send(&bytes).await;
    d.expect_ack(&qn).await;
    // A changed value for the same minute: a revision.
    let (bytes, qn) = d.upload("2051", &t(10, 0), 9.5);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;

    let verdicts: Vec<Verdict> = h.frames(STD).await.iter().map(|f| f.record.verdict).collect();
    assert_eq!(verdicts.iter().filter(|v| **v == Verdict::Duplicate).count(), 1, "{verdicts:?}");
    assert_eq!(verdicts.iter().filter(|v| **v == Verdict::Accepted).count(), 2, "{verdicts:?}");
    let mut ms = h.measurements(STD).await;
    ms.sort_by_key(|m| m.revision);
    assert_eq!(ms.len(), 2);
    assert_eq!((ms[0].revision, ms[0].values.avg), (0, Some(1.5)));
    assert_eq!((ms[1].revision, ms[1].values.avg), (1, Some(9.5)));
    let latest = h
        .store
        .measurements(&MeasurementQuery { mn: Some(STD.into()), latest_only: true, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(latest.len(), 1);
    assert_eq!(latest[0].values.avg, Some(9.5));
    let stats = h.handle.stats();
    assert_eq!(stats.frames.get("duplicate"), Some(&1));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_device_and_wrong_password_go_to_the_inbox() {
    let h = start(config()).await;
    let unknown = "UNKNOWN00000000000000001";
    let mut a = TestDevice::connect(h.addr, unknown, PW).await;
    let (bytes, _) = a.upload("2051", &t(10, 0), 1.0);
    a.send(&bytes).await;
    let mut b = TestDevice::connect(h.addr, STD, "654321").await;
    let (bytes, _) = b.upload("2051", &t(10, 0), 1.0);
    b.send(&bytes).await;
    a.expect_none("an acknowledgement for an unregistered MN", SHORT, |g| g.cn() == "9014").await;
    b.expect_none("an acknowledgement for a wrong password", SHORT, |g| g.cn() == "9014").await;

    let inbox = eventually("both in the inbox", || async {
        let i = h.store.inbox(&fenhe_store::InboxQuery { mn: None, limit: 10, offset: 0 }).await.unwrap();
        (i.len() == 2).then_some(i)
    })
    .await;
    let unreg = inbox.iter().find(|e| e.mn.as_deref() == Some(unknown)).unwrap();
    assert_eq!(unreg.verdict, Verdict::Unregistered);
    let wrong = inbox.iter().find(|e| e.mn.as_deref() == Some(STD)).unwrap();
    assert_eq!(wrong.verdict, Verdict::WrongPassword);
    assert!(h.measurements(unknown).await.is_empty());
    assert!(h.measurements(STD).await.is_empty());
    let f = h.frames(STD).await;
    assert!(f[0].record.reason.as_deref().unwrap().starts_with("auth: "));
    assert_eq!(h.handle.stats().rejected.get("auth"), Some(&2));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_between_frames_keeps_the_connection() {
    let h = start(config()).await;
    let mut d = h.device(STD).await;
    let (good1, qn1) = d.upload("2051", &t(10, 0), 1.0);
    let (good2, qn2) = d.upload("2051", &t(10, 1), 2.0);
    let (mut bad_crc, _) = d.upload("2051", &t(10, 2), 3.0);
    let n = bad_crc.len();
    bad_crc[n - 3] = if bad_crc[n - 3] == b'0' { b'1' } else { b'0' };
    let mut stream = b"AT+CSQ\r\nhello \x00\xff garbage".to_vec();
    stream.extend(&good1);
    stream.extend(b"##12x4junk");
    stream.extend(&bad_crc);
    stream.extend(b"more junk ###");
    stream.extend(&good2);
    d.send(&stream).await;
    d.expect_ack(&qn1).await;
    d.expect_ack(&qn2).await;
    // Nothing for the frame whose CRC failed.
    d.expect_none("a reply to a bad CRC", SHORT, |g| g.cn() == "9014").await;
    // Still connected: another packet is acknowledged.
    let (good3, qn3) = d.upload("2051", &t(10, 3), 4.0);
    d.send(&good3).await;
    d.expect_ack(&qn3).await;

    let all = h.store.frames(&FrameQuery::default()).await.unwrap();
    let rejected: Vec<_> = all.iter().filter(|f| f.record.verdict == Verdict::Rejected).collect();
    assert!(rejected.len() >= 3, "{rejected:?}");
    assert!(rejected.iter().any(|f| f.record.reason.as_deref().unwrap().starts_with("header: ")));
    assert!(rejected.iter().any(|f| f.record.reason.as_deref().unwrap().starts_with("crc: ")));
    assert!(rejected.iter().all(|f| !f.record.bytes.is_empty() && f.record.peer.starts_with("127.0.0.1:")));
    assert_eq!(h.measurements(STD).await.len(), 3);
    h.stop().await;
}

fn modbus_frame(segment: &str) -> Vec<u8> {
    let crc = hj212::crc::crc16_modbus(segment.as_bytes());
    format!("##{:04}{segment}{crc:04X}\r\n", segment.len()).into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modbus_crc_by_device_policy() {
    let h = start(config()).await;
    let mut m = h.device(MODBUS).await;
    let qn = m.qn();
    let seg = device::upload(&m.peer(), &qn, "2051", &t(10, 0), true)
        .factor("w01018", [("Avg", "1.0".into())])
        .segment();
    m.send(&modbus_frame(&seg)).await;
    m.expect_ack(&qn.qn()).await;
    assert_eq!(h.measurements(MODBUS).await.len(), 1);
    let f = h.frames(MODBUS).await;
    assert_eq!(f[0].record.verdict, Verdict::Accepted);
    assert!(f[0].record.deviations.contains("modbus_crc"));

    let mut s = h.device(STD).await;
    let qn = s.qn();
    let seg = device::upload(&s.peer(), &qn, "2051", &t(10, 0), true)
        .factor("w01018", [("Avg", "1.0".into())])
        .segment();
    s.send(&modbus_frame(&seg)).await;
    s.expect_none("an acknowledgement of a MODBUS CRC from a standard device", SHORT, |g| g.cn() == "9014")
        .await;
    let f = eventually("the rejected frame", || async {
        let f = h.frames(STD).await;
        (!f.is_empty()).then_some(f)
    })
    .await;
    assert_eq!(f[0].record.verdict, Verdict::Rejected);
    assert!(f[0].record.reason.as_deref().unwrap().starts_with("crc: "), "{:?}", f[0].record.reason);
    assert!(h.measurements(STD).await.is_empty());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limit_and_idle_timeout() {
    let cfg = GatewayConfigExt::with(config(), |c| {
        c.max_connections = 2;
        c.idle_timeout = Duration::from_millis(1500);
    });
    let h = start(cfg).await;
    let mut a = h.device(STD).await;
    let mut b = h.device(OTHER).await;
    // Both are served.
    let (bytes, qn) = a.upload("2051", &t(10, 0), 1.0);
    a.send(&bytes).await;
    a.expect_ack(&qn).await;
    let (bytes, qn) = b.upload("2051", &t(10, 0), 1.0);
    b.send(&bytes).await;
    b.expect_ack(&qn).await;
    // The third is closed at once and counted.
    let mut c = h.device(STD).await;
    assert!(c.closed_within(Duration::from_secs(1)).await);
    assert_eq!(h.handle.stats().connections_refused, 1);
    assert_eq!(h.handle.stats().connections, 2);
    // Idle connections are closed, which frees their places.
    assert!(a.closed_within(Duration::from_secs(5)).await);
    assert!(b.closed_within(Duration::from_secs(5)).await);
    eventually("connections to be released", || async { (h.handle.stats().connections == 0).then_some(()) })
        .await;
    let mut d = h.device(STD).await;
    let (bytes, qn) = d.upload("2051", &t(10, 1), 1.0);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_acknowledges_what_committed() {
    let h = start(config()).await;
    let mut d = h.device(STD).await;
    h.gate.hold.store(true, Ordering::SeqCst);
    let (bytes, qn) = d.upload("2051", &t(10, 0), 1.0);
    d.send(&bytes).await;
    eventually("write_batch to be called", || async {
        (h.gate.waiting.load(Ordering::SeqCst) > 0).then_some(())
    })
    .await;
    h.cancel.cancel();
    // No new connections once stopping (while the held write keeps the gateway running).
    eventually("the listener to close after cancel", || async {
        tokio::net::TcpStream::connect(h.addr).await.is_err().then_some(())
    })
    .await;
    h.gate.open();
    d.expect_ack(&qn).await;
    assert!(d.closed_within(Duration::from_secs(3)).await);
    let Harness { task, writer, store, .. } = h;
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap().unwrap();
    writer.shutdown().await;
    let ms =
        store.measurements(&MeasurementQuery { mn: Some(STD.into()), ..Default::default() }).await.unwrap();
    assert_eq!(ms.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_reload_admits_new_devices() {
    let h = start(config()).await;
    let new_mn = "NEW0000000000000000000001";
    let mut d = TestDevice::connect(h.addr, new_mn, PW).await;
    let (bytes, qn) = d.upload("2051", &t(10, 0), 1.0);
    d.send(&bytes).await;
    d.expect_none("an acknowledgement before registration", SHORT, |g| g.cn() == "9014").await;

    let mut r = registry();
    let mut dev = r.devices[0].clone();
    dev.mn = new_mn.into();
    r.devices = vec![dev];
    h.store.import_registry(&r).await.unwrap();
    assert_eq!(h.handle.reload_registry().await.unwrap(), 4);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;
    assert_eq!(h.measurements(new_mn).await.len(), 1);
    h.stop().await;
}
