//! Split uploads (PNUM/PNO) are held within bounds: parts per packet, bytes per device and across
//! the gateway. A part beyond them is recorded as rejected with its reason and not acknowledged.

use std::time::Duration;

use crate::common::*;
use fenhe_core::Verdict;
use hj212::builder::device;

const SHORT: Duration = Duration::from_millis(400);

/// The parts of an 80-factor hourly upload split at 1024 bytes, with their QNs.
fn parts(d: &mut TestDevice) -> Vec<(Vec<u8>, String)> {
    let qn = d.qn();
    let mut b = device::upload(&d.peer(), &qn, "2061", &t(9, 0), true);
    for i in 0..80 {
        b = b.factor(&format!("a{:05}", 21000 + i), [("Avg", format!("{i}.5")), ("Flag", "N".into())]);
    }
    let frames = hj212::split::split(&b, 1024).unwrap();
    assert!(frames.len() >= 3);
    frames
        .into_iter()
        .map(|f| {
            let qn = hj212::parse(&f[6..f.len() - 6], &Default::default()).unwrap().qn.unwrap().to_string();
            (f, qn)
        })
        .collect()
}

async fn split_rejections(h: &Harness, mn: &str) -> Vec<String> {
    eventually("the refused part on record", || async {
        let r: Vec<String> = h
            .frames(mn)
            .await
            .into_iter()
            .filter(|f| f.record.verdict == Verdict::Rejected)
            .filter_map(|f| f.record.reason.filter(|r| r.starts_with("split: ")))
            .collect();
        (!r.is_empty()).then_some(r)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packet_of_too_many_parts_is_refused() {
    let h = start(GatewayConfigExt::with(config(), |c| c.max_split_parts = 2)).await;
    let mut d = h.device(STD).await;
    let ps = parts(&mut d);
    d.send(&ps[0].0).await;
    d.expect_none("an acknowledgement of a part over PNUM's limit", SHORT, |g| g.cn() == "9014").await;
    let r = split_rejections(&h, STD).await;
    assert!(r[0].contains("over the limit of 2 parts"), "{r:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_parts_are_bounded_per_device_and_across_the_gateway() {
    let h = start(GatewayConfigExt::with(config(), |c| c.split_bytes_per_device = 1500)).await;
    let mut d = h.device(STD).await;
    let ps = parts(&mut d);
    d.send(&ps[0].0).await;
    d.expect_ack(&ps[0].1).await;
    d.send(&ps[1].0).await;
    d.expect_none("an acknowledgement past the device's bytes", SHORT, |g| g.cn() == "9014").await;
    let r = split_rejections(&h, STD).await;
    assert!(r[0].contains("would exceed 1500 bytes"), "{r:?}");
    assert!(h.measurements(STD).await.is_empty());
    h.stop().await;

    let h = start(GatewayConfigExt::with(config(), |c| c.split_bytes_total = 1500)).await;
    let mut a = h.device(STD).await;
    let mut b = h.device(OTHER).await;
    let (pa, pb) = (parts(&mut a), parts(&mut b));
    a.send(&pa[0].0).await;
    a.expect_ack(&pa[0].1).await;
    b.send(&pb[0].0).await;
    b.expect_none("an acknowledgement past the gateway's bytes", SHORT, |g| g.cn() == "9014").await;
    let r = split_rejections(&h, OTHER).await;
    assert!(r[0].contains("across the gateway"), "{r:?}");
    // A connection that ends gives back what its parts held.
    drop(a);
    let (f, qn) = &pb[0];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        assert!(tokio::time::Instant::now() < deadline, "the budget did not come back");
        b.send(f).await;
        if b.recv(SHORT).await.is_some_and(|g| g.cn() == "9014" && g.qn().as_deref() == Some(qn.as_str())) {
            break;
        }
    }
    h.stop().await;
}
