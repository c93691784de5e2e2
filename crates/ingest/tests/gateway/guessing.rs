//! Password guessing: failures are counted by address, never by MN; an address over the limit
//! is refused for a while and the bureau gets a security alarm the engine never withdraws.

use std::time::Duration;

use crate::common::*;
use fenhe_store::{AlarmQuery, AlarmStatus};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_blocks_the_address_not_the_device_and_raises_a_security_alarm() {
    let cfg = GatewayConfigExt::with(config(), |c| {
        c.auth_failures_max = 3;
        c.auth_failure_window = Duration::from_secs(600);
        c.auth_block = Duration::from_secs(900);
    });
    let h = start(cfg).await;
    let attacker = [127, 0, 0, 2];
    let mut guess = TestDevice::connect_from(attacker, h.addr, STD, "000000").await;
    let mut all = Vec::new();
    for m in 0..5 {
        all.extend(guess.upload("2051", &t(10, m), 1.0).0);
    }
    guess.send(&all).await;
    assert!(guess.closed_within(Duration::from_secs(5)).await, "the guessing connection is closed");
    // The address is refused from now on, with the right password too.
    let mut again = TestDevice::connect_from(attacker, h.addr, STD, PW).await;
    assert!(again.closed_within(Duration::from_secs(5)).await, "a blocked address is refused");
    // The device itself, from its own address, is served: the MN was never locked out.
    let mut device = h.device(STD).await;
    let (bytes, qn) = device.upload("2051", &t(11, 0), 1.0);
    device.send(&bytes).await;
    device.expect_ack(&qn).await;
    let refused = h.handle.stats().refused_by_reason.get("address_blocked").copied();
    assert!(refused >= Some(2), "{refused:?}");

    let alarm = eventually("the security alarm", || async {
        let all = h.store.alarms(&AlarmQuery::default()).await.unwrap();
        all.into_iter().find(|a| a.draft.key.starts_with("security:"))
    })
    .await;
    assert_eq!(alarm.draft.kind, "security");
    assert_eq!(alarm.status, AlarmStatus::Open);
    assert!(alarm.draft.key.contains("127.0.0.2"), "{}", alarm.draft.key);
    assert!(alarm.draft.detail_en.contains(STD), "{}", alarm.draft.detail_en);
    // The compliance engine reconciling the device's alarms (none of its own now) leaves it open.
    let now = alarm.raised_at + 1;
    h.store.sync_alarms(STD, 0, i64::MAX, &[], now).await.unwrap();
    let after = h.store.alarm(alarm.id).await.unwrap().unwrap();
    assert_eq!((after.status, after.resolution), (AlarmStatus::Open, None));
    h.stop().await;
}
