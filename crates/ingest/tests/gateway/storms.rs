//! History-request storms: gaps coalesce into few requests and operators go first.

use std::time::Duration;

use crate::common::*;
use fenhe_ingest::ORIGIN_GAP;
use fenhe_store::{Command, CommandStatus};

fn minute(i: u32) -> hj212::DateTime {
    t(10 + (i / 60) as u8, (i % 60) as u8)
}

/// The minutes `[first, last]` a history request asks for, as offsets from 10:00.
fn asked(c: &Command) -> (u32, u32) {
    let at = |key: &str| {
        let v = c.new.cp.split(';').find_map(|i| i.strip_prefix(key)?.strip_prefix('=')).unwrap();
        let ms = hj212::DateTime::parse(v).unwrap().0.unix_millis_cst();
        ((ms - t(10, 0).unix_millis_cst()) / 60_000) as u32
    };
    (at("BeginTime"), at("EndTime"))
}

/// Every other minute of an hour is missing: 30 gaps. They become at most four open history
/// requests that together ask for every missing minute; an operator's command queued behind them
/// is sent as soon as the request in flight is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_requests_coalesce_and_operators_go_first() {
    let cfg = GatewayConfigExt::with(config(), |c| {
        // The first request stays in flight unanswered for the whole test.
        c.command_timeout = Duration::from_secs(60);
    });
    let h = start(cfg).await;
    let mut d = h.device(STD).await;
    let mut all = Vec::new();
    let mut qns = Vec::new();
    for i in (0..=60).step_by(2) {
        let (bytes, qn) = d.upload("2051", &minute(i), f64::from(i));
        all.extend(bytes);
        qns.push(qn);
    }
    d.send(&all).await;
    for qn in &qns {
        d.expect_ack(qn).await;
    }
    let missing: Vec<u32> = (1..60).step_by(2).collect();
    let gap_requests = || async {
        let all = h.store.commands(Some(STD), 1000).await.unwrap();
        all.into_iter().filter(|c| c.new.origin == ORIGIN_GAP).collect::<Vec<_>>()
    };
    let open = eventually("every missing minute to be asked for", || async {
        let open: Vec<Command> = gap_requests().await.into_iter().filter(|c| !c.status.is_final()).collect();
        let covered = missing.iter().all(|m| open.iter().any(|c| (asked(c).0..=asked(c).1).contains(m)));
        covered.then_some(open)
    })
    .await;
    assert!(
        open.len() <= 4,
        "{} history requests open: {:?}",
        open.len(),
        open.iter().map(asked).collect::<Vec<_>>()
    );
    // Those merged into wider ones say so.
    let merged = gap_requests().await.into_iter().filter(|c| c.status == CommandStatus::Cancelled).count();
    assert!(merged > 0);

    // The request in flight (sent, unanswered) is refused by the device; next comes the operator's.
    let in_flight = d.expect("the history request in flight", |g| g.cn() == "2051").await;
    h.handle.queue_command(STD, "1011", &[]).await.unwrap();
    d.request_reply(&in_flight, 2).await;
    let next = d.expect("the next request", |g| g.qn() != in_flight.qn()).await;
    assert_eq!(next.cn(), "1011", "an automatic request went before the operator's: {}", next.segment);
    let queued = gap_requests().await.into_iter().filter(|c| c.status == CommandStatus::Queued).count();
    assert!(queued > 0, "the operator's command must have had requests to overtake");
    h.stop().await;
}
