//! What strangers send is kept for diagnosis within bounds: a run of garbage is one short
//! record, and each address has a budget.

use crate::common::*;
use fenhe_core::Verdict;
use fenhe_store::FrameQuery;

fn db_bytes(h: &Harness) -> u64 {
    ["fenhe.db", "fenhe.db-wal"]
        .iter()
        .map(|f| std::fs::metadata(h._dir.path().join(f)).map(|m| m.len()).unwrap_or(0))
        .sum()
}

/// 32 MB of garbage before a device's first frame grow the database by well under 1 MB (it grew
/// by 54 MB when garbage was kept whole): the run is kept as a few records of its first 256
/// bytes, its length and the peer; the frame after it is stored and acknowledged as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_garbage_is_kept_as_a_few_short_records() {
    let h = start(GatewayConfigExt::with(config(), |c| c.frame_rate = 0.0)).await;
    let before = db_bytes(&h);
    let mut d = h.device(STD).await;
    let chunk = b"garbage without a frame header, sent by nobody we know; ".repeat(1024);
    let total = 32 * 1024 * 1024;
    let mut sent = 0;
    while sent < total {
        d.send(&chunk).await;
        sent += chunk.len();
    }
    let (bytes, qn) = d.upload("2051", &t(10, 0), 1.0);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;

    let frames = h.store.frames(&FrameQuery::default()).await.unwrap();
    let runs: Vec<_> = frames.iter().filter(|f| f.record.verdict == Verdict::Rejected).collect();
    // A record per second of the flood at most (a run going on is recorded once a second).
    assert!(!runs.is_empty() && runs.len() <= 64, "{} records", runs.len());
    let mut total = 0;
    for run in &runs {
        assert_eq!(run.record.bytes.len(), 256);
        assert!(run.record.peer.starts_with("127.0.0.1:"));
        let reason = run.record.reason.as_deref().unwrap();
        let n = reason.split("a run of ").nth(1).and_then(|r| r.split(' ').next()?.parse::<usize>().ok());
        total += n.unwrap_or_else(|| panic!("no length in {reason}"));
    }
    // Up to the whitespace the framer skipped between two records of the flood.
    assert!(total <= sent && sent - total < 2 * runs.len(), "runs of {total} bytes in all for {sent} sent");
    // The database and its WAL: pages of the few rows written (a WAL frame is a whole page).
    let grown = db_bytes(&h).saturating_sub(before);
    assert!(grown < 512 * 1024, "the database grew by {grown} bytes");
    h.stop().await;
}

/// Past its address's budget, nothing more a stranger sends is stored that day; it is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_records_are_kept_within_a_budget_per_address() {
    let h = start(GatewayConfigExt::with(config(), |c| {
        c.stranger_bytes_per_address = 4096;
        // All 40 may be open at once: none is to be closed before it is read.
        c.max_strangers_per_address = 64;
    }))
    .await;
    for i in 0..40u8 {
        let mut s = TestDevice::connect(h.addr, "UNKNOWN00000000000000001", PW).await;
        let (bytes, _) = s.upload("2051", &t(10, i), 1.0);
        s.send(&bytes).await;
        s.send(b"and some garbage\r\n").await;
        drop(s);
    }
    let not_stored = eventually("the records over budget to be counted", || async {
        let n = h.handle.stats().not_stored.get("address_budget").copied().unwrap_or(0);
        let stored = h.store.frames(&FrameQuery::default()).await.unwrap().len() as u64;
        (n + stored == 80).then_some(n)
    })
    .await;
    assert!(not_stored > 0);
    let kept: usize =
        h.store.frames(&FrameQuery::default()).await.unwrap().iter().map(|f| f.record.bytes.len()).sum();
    assert!(kept <= 4096, "{kept} bytes kept");
    h.stop().await;
}
