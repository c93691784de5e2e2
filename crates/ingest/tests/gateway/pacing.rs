//! A connection over its frame rate is paced, not refused.

use std::time::{Duration, Instant};

use crate::common::*;

/// A logger re-uploading history (补传) pipelines 500 packets at once. Over its rate the gateway
/// stops reading its socket until the rate allows more, so TCP flow control slows the logger and
/// every packet is stored and acknowledged: a logger that drops a packet after three unanswered
/// sends would otherwise lose data at the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipelined_re_upload_is_paced_and_every_packet_is_stored() {
    let cfg = GatewayConfigExt::with(config(), |c| {
        c.frame_rate = 400.0;
        c.frame_burst = 20.0;
    });
    let h = start(cfg).await;
    let mut d = h.device(STD).await;
    let (all, qns) = minutes(&mut d, 500);
    let began = Instant::now();
    d.send(&all).await;
    for qn in &qns {
        d.expect_ack(qn).await;
    }
    // Paced: 480 frames beyond the burst at 400 a second take at least 1.2 s (a lower bound only,
    // which a loaded machine cannot break).
    assert!(began.elapsed() >= Duration::from_millis(1150), "not paced: {:?}", began.elapsed());
    assert_eq!(h.measurements(STD).await.len(), 500);
    let stats = h.handle.stats();
    assert_eq!(stats.frames.get("accepted"), Some(&500));
    assert!(stats.rejected.is_empty(), "{:?}", stats.rejected);
    h.stop().await;
}
