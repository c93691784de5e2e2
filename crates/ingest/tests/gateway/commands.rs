//! The platform talking back: history after an outage, clock checks, operator commands,
//! refusals and timeouts.

use std::time::Duration;

use crate::common::*;
use fenhe_ingest::{ORIGIN_CLOCK, ORIGIN_GAP, queue_command};
use fenhe_store::{Command, CommandStatus};
use hj212::DateTime;
use hj212::builder::device;

async fn command_where(h: &Harness, mn: &str, pred: impl Fn(&Command) -> bool) -> Command {
    eventually("the command's final status", || async {
        h.store.commands(Some(mn), 50).await.unwrap().into_iter().find(|c| pred(c) && c.status.is_final())
    })
    .await
}

fn now_cst() -> DateTime {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    DateTime::from_unix_millis_cst(ms).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_request_after_an_outage() {
    let h = start(config()).await;
    let mut d = h.device(STD).await;
    let (bytes, qn) = d.upload("2051", &t(10, 0), 1.0);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;
    let (bytes, qn) = d.upload("2051", &t(10, 5), 6.0);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;

    let req = d.expect("a 2051 history request", |g| g.cn() == "2051").await;
    assert_eq!(req.key("BeginTime").as_deref(), Some("20240501100100"));
    assert_eq!(req.key("EndTime").as_deref(), Some("20240501100400"));
    assert_eq!(req.packet().pw, Some(PW));
    d.request_reply(&req, 1).await;
    for m in 1..=4 {
        let (bytes, qn) = d.upload("2051", &t(10, m), f64::from(m) + 1.0);
        d.send(&bytes).await;
        d.expect_ack(&qn).await;
    }
    d.exe_result(&req, 1).await;

    let c = command_where(&h, STD, |c| c.new.origin == ORIGIN_GAP).await;
    assert_eq!(c.status, CommandStatus::Done, "{c:?}");
    assert_eq!(c.new.cn, "2051");
    assert_eq!(c.new.cp, "BeginTime=20240501100100;EndTime=20240501100400");
    assert_eq!(c.qn, req.qn());
    let mut times: Vec<i64> = h.measurements(STD).await.iter().map(|m| m.data_time).collect();
    times.sort();
    let want: Vec<i64> = (0..=5).map(|m| t(10, m).unix_millis_cst()).collect();
    assert_eq!(times, want);
    // The history answers do not look like another gap.
    d.expect_none("a second history request", Duration::from_millis(400), |g| g.cn() == "2051").await;
    h.stop().await;
}

/// An upload dated 2099 is acknowledged and stored (evidence), the device's clock is set, and it
/// does not hide later gaps: gap detection keeps to DataTimes within the clock tolerance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_time_in_2099_is_stored_and_does_not_stop_gap_detection() {
    let h = start(config()).await;
    let mut d = h.device(STD).await;
    let (bytes, qn) = d.upload("2051", &t(10, 0), 1.0);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;
    let (bytes, qn) = d.upload("2051", &DateTime::new(2099, 1, 1, 0, 0, 0).unwrap(), 9.0);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;
    let set = d.expect("a 1012 setting the clock", |g| g.cn() == "1012").await;
    d.request_reply(&set, 1).await;
    d.exe_result(&set, 1).await;
    let (bytes, qn) = d.upload("2051", &t(10, 5), 6.0);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;
    let req = d.expect("a 2051 history request", |g| g.cn() == "2051").await;
    assert_eq!(req.key("BeginTime").as_deref(), Some("20240501100100"));
    assert_eq!(req.key("EndTime").as_deref(), Some("20240501100400"));
    let stored: Vec<i64> = h.measurements(STD).await.iter().map(|m| m.data_time).collect();
    assert!(
        stored.contains(&DateTime::new(2099, 1, 1, 0, 0, 0).unwrap().unix_millis_cst()),
        "kept as evidence"
    );
    let clock = command_where(&h, STD, |c| c.new.origin == ORIGIN_CLOCK).await;
    assert_eq!(clock.new.cn, "1012");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gap_detection_is_seeded_from_the_store() {
    // A first gateway stores 10:00; a second one, started later, sees 10:03 as a gap.
    let h = start(config()).await;
    let mut d = h.device(STD).await;
    let (bytes, qn) = d.upload("2051", &t(10, 0), 1.0);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;
    drop(d);
    let store = h.store.clone();
    let writer = h.writer.clone();
    h.cancel.cancel();
    h.task.await.unwrap().unwrap();
    let gw = fenhe_ingest::Gateway::bind(config(), store.clone(), writer.clone()).await.unwrap();
    let addr = gw.local_addr();
    let cancel = tokio_util::sync::CancellationToken::new();
    let task = gw.spawn(cancel.clone());
    let mut d = TestDevice::connect(addr, STD, PW).await;
    let (bytes, qn) = d.upload("2051", &t(10, 3), 1.0);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;
    let req = d.expect("a 2051 history request", |g| g.cn() == "2051").await;
    assert_eq!(req.key("BeginTime").as_deref(), Some("20240501100100"));
    assert_eq!(req.key("EndTime").as_deref(), Some("20240501100200"));
    cancel.cancel();
    task.await.unwrap().unwrap();
    writer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_check_on_connect_sets_a_skewed_clock() {
    let mut cfg = config();
    cfg.time_check_on_connect = true;
    let h = start(cfg).await;

    // A device whose clock is an hour slow.
    let mut d = h.device(STD).await;
    let (bytes, qn) = d.upload("2011", &t(10, 0), 1.0);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;
    let req = d.expect("a 1011 time request", |g| g.cn() == "1011").await;
    d.request_reply(&req, 1).await;
    let slow = DateTime::from_unix_millis_cst(now_cst().unix_millis_cst() - 3_600_000).unwrap();
    d.send(&device::time_upload(&req.packet(), &slow).build()).await;
    d.exe_result(&req, 1).await;

    let set = d.expect("a 1012 set-time request", |g| g.cn() == "1012").await;
    let sent = DateTime::parse(&set.key("SystemTime").unwrap()).unwrap().0;
    assert!((sent.unix_millis_cst() - now_cst().unix_millis_cst()).abs() < 5_000, "{sent}");
    d.request_reply(&set, 1).await;
    d.exe_result(&set, 1).await;

    let get = command_where(&h, STD, |c| c.new.cn == "1011").await;
    assert_eq!(get.status, CommandStatus::Done);
    assert_eq!(get.new.origin, ORIGIN_CLOCK);
    assert!(get.detail.as_deref().unwrap().contains("SystemTime="), "{get:?}");
    let set = command_where(&h, STD, |c| c.new.cn == "1012").await;
    assert_eq!(set.status, CommandStatus::Done);
    assert_eq!(set.new.origin, ORIGIN_CLOCK);

    // A device that asks for calibration (1013) gets 9013, then a 1012.
    let qn = d.qn();
    let req = device::time_calibration_request(&d.peer(), &qn, None).build();
    d.send(&req).await;
    d.expect("a 9013", |g| g.cn() == "9013" && g.qn() == Some(qn.qn())).await;
    let set = d.expect("a 1012 after the calibration request", |g| g.cn() == "1012").await;
    d.request_reply(&set, 1).await;
    d.exe_result(&set, 1).await;
    eventually("two clock corrections", || async {
        let c = h.store.commands(Some(STD), 50).await.unwrap();
        (c.iter().filter(|c| c.new.cn == "1012" && c.status == CommandStatus::Done).count() == 2)
            .then_some(())
    })
    .await;

    // A device whose clock is right is left alone.
    let mut o = h.device(OTHER).await;
    let (bytes, qn) = o.upload("2011", &t(10, 0), 1.0);
    o.send(&bytes).await;
    o.expect_ack(&qn).await;
    let req = o.expect("a 1011 time request", |g| g.cn() == "1011").await;
    o.request_reply(&req, 1).await;
    o.send(&device::time_upload(&req.packet(), &now_cst()).build()).await;
    o.exe_result(&req, 1).await;
    command_where(&h, OTHER, |c| c.new.cn == "1011").await;
    o.expect_none("a 1012 for a correct clock", Duration::from_millis(600), |g| g.cn() == "1012").await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_command_reaches_a_connected_device() {
    let h = start(config()).await;
    let mut d = h.device(STD).await;
    let (bytes, qn) = d.upload("2011", &t(10, 0), 1.0);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;

    // Queued through the store only, as `fenhe device send` in another process does.
    let id = queue_command(&*h.store, STD, "1062", &[("RtdInterval", "60")]).await.unwrap();
    let req = d.expect("the 1062 command", |g| g.cn() == "1062").await;
    assert_eq!(req.key("RtdInterval").as_deref(), Some("60"));
    assert!(req.packet().ack_required());
    d.request_reply(&req, 1).await;
    d.exe_result(&req, 1).await;
    let c = command_where(&h, STD, |c| c.id == id).await;
    assert_eq!(c.status, CommandStatus::Done);
    assert_eq!(c.attempts, 1);

    // Refused: QnRtn=3 (wrong PW).
    let id = h.handle.queue_command(STD, "1064", &[("MinInterval", "5")]).await.unwrap();
    let req = d.expect("the 1064 command", |g| g.cn() == "1064").await;
    d.request_reply(&req, 3).await;
    let c = command_where(&h, STD, |c| c.id == id).await;
    assert_eq!(c.status, CommandStatus::Failed);
    assert!(c.detail.as_deref().unwrap().contains("wrong PW"), "{c:?}");

    // Execution failed: ExeRtn=2.
    let id = h.handle.queue_command(STD, "3011", &[("PolId", "w01018")]).await.unwrap();
    let req = d.expect("the 3011 command", |g| g.cn() == "3011").await;
    d.request_reply(&req, 1).await;
    d.exe_result(&req, 2).await;
    let c = command_where(&h, STD, |c| c.id == id).await;
    assert_eq!(c.status, CommandStatus::Failed);

    // No answer: re-sent with the same QN, then timed out.
    let id = h.handle.queue_command(STD, "1061", &[]).await.unwrap();
    let first = d.expect("the 1061 command", |g| g.cn() == "1061").await;
    for _ in 0..2 {
        let again = d.expect("a re-send", |g| g.cn() == "1061").await;
        assert_eq!(again.qn(), first.qn());
    }
    let c = command_where(&h, STD, |c| c.id == id).await;
    assert_eq!(c.status, CommandStatus::TimedOut);
    assert_eq!(c.attempts, 3);

    // Answered with an upload of the same CN, then 9012.
    let id = h.handle.queue_command(STD, "1063", &[]).await.unwrap();
    let req = d.expect("the 1063 command", |g| g.cn() == "1063").await;
    d.request_reply(&req, 1).await;
    let mut answer = hj212::PacketBuilder::new("1063", STD).st("32").pw(PW).key("MinInterval", "10");
    answer.qn = req.qn();
    answer.flag = Some(4);
    d.send(&answer.build()).await;
    d.exe_result(&req, 1).await;
    let c = command_where(&h, STD, |c| c.id == id).await;
    assert_eq!(c.status, CommandStatus::Done);
    assert!(c.detail.as_deref().unwrap().contains("MinInterval=10"), "{c:?}");

    let stats = h.handle.stats();
    assert!(stats.commands.get("done").copied().unwrap_or(0) >= 2);
    assert_eq!(stats.commands.get("timed_out"), Some(&1));
    h.stop().await;
}

/// A confirmed 1072 changes the password in the registry and the gateway: the device's uploads
/// with the new password are accepted, the old one is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_is_adopted() {
    let h = start(config()).await;
    let mut d = h.device(STD).await;
    let (bytes, qn) = d.upload("2051", &t(10, 0), 1.0);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;

    let id = queue_command(&*h.store, STD, "1072", &[("NewPW", "777888")]).await.unwrap();
    let req = d.expect("the 1072 command", |g| g.cn() == "1072").await;
    assert_eq!(req.key("NewPW").as_deref(), Some("777888"));
    d.request_reply(&req, 1).await;
    d.exe_result(&req, 1).await;
    let c = command_where(&h, STD, |c| c.id == id).await;
    assert_eq!(c.status, CommandStatus::Done, "{c:?}");
    assert!(c.detail.as_deref().unwrap().contains("registry password updated"), "{c:?}");
    let reg = h.store.registry().await.unwrap();
    assert_eq!(reg.devices.iter().find(|x| x.mn == STD).unwrap().password, "777888");

    d.pw = "777888".into();
    let (bytes, qn) = d.upload("2051", &t(10, 1), 2.0);
    d.send(&bytes).await;
    d.expect_ack(&qn).await;
    d.pw = PW.into();
    let (bytes, qn) = d.upload("2051", &t(10, 2), 3.0);
    d.send(&bytes).await;
    d.expect_none("an ack for the old password", Duration::from_millis(400), |g| g.qn() == Some(qn.clone()))
        .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_wait_for_the_device_to_connect() {
    let h = start(config()).await;
    // Queued by another process (`fenhe device send`): the gateway learns of it by polling.
    let id = queue_command(&*h.store, OTHER, "1062", &[("RtdInterval", "30")]).await.unwrap();
    // Another device is connected and uploading through several command polls: the gateway is
    // live and acknowledging, yet the command is not sent to it, nor marked as sent.
    let mut std_dev = h.device(STD).await;
    for m in 0..4 {
        let (bytes, qn) = std_dev.upload("2051", &t(10, m), 1.0);
        std_dev.send(&bytes).await;
        std_dev.expect_ack(&qn).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    std_dev
        .expect_none("OTHER's command on STD's connection", Duration::from_millis(300), |g| g.cn() == "1062")
        .await;
    let c = h.store.commands(Some(OTHER), 10).await.unwrap();
    assert_eq!((c[0].id, c[0].status, c[0].attempts), (id, CommandStatus::Queued, 0));
    // Its own device connects: the command goes out to it, once.
    let mut d = h.device(OTHER).await;
    let (bytes, _) = d.upload("2011", &t(10, 0), 1.0);
    d.send(&bytes).await;
    let req = d.expect("the queued command", |g| g.cn() == "1062").await;
    assert_eq!(req.packet().mn, OTHER);
    d.request_reply(&req, 1).await;
    d.exe_result(&req, 1).await;
    let c = command_where(&h, OTHER, |c| c.id == id).await;
    assert_eq!((c.status, c.attempts), (CommandStatus::Done, 1));
    d.expect_none("the command a second time", Duration::from_millis(400), |g| g.cn() == "1062").await;
    std_dev
        .expect_none("the command on STD's connection", Duration::from_millis(1), |g| g.cn() == "1062")
        .await;
    assert!(queue_command(&*h.store, OTHER, "9011", &[]).await.is_err());
    assert!(queue_command(&*h.store, OTHER, "1062", &[("a;b", "1")]).await.is_err());
    h.stop().await;
}
