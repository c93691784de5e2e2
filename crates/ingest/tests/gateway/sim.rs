//! Interoperability with the simulated data loggers of fenhe-sim: a device that goes offline
//! for a while is asked for the missing minutes when it comes back, and answers them.

use std::time::Duration;

use crate::common::*;
use fenhe_sim::{Clock, DeviceSpec, MINUTE_MS, Scenario, SimConfig, SimDevice};
use fenhe_store::MeasurementQuery;
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_outage_is_backfilled_by_history_requests() {
    let h = start(config()).await;
    let mn = "SIM000000000000000000001";
    let mut r = registry();
    let mut dev = r.devices[0].clone();
    dev.mn = mn.into();
    r.devices = vec![dev];
    h.store.import_registry(&r).await.unwrap();
    h.handle.reload_registry().await.unwrap();

    let start = t(10, 0).unix_millis_cst();
    let mut spec = DeviceSpec::wastewater(mn, 7)
        .with_scenario(Scenario::Outage { start_ms: start + 10 * MINUTE_MS, minutes: 15 });
    spec.minute_interval_min = 1;
    spec.send_hourly = false;
    spec.password = PW.into();
    // Ten simulated minutes a second.
    let cfg = SimConfig {
        clock: Clock::accelerated(600.0, start),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        ..SimConfig::default()
    };
    let stop = CancellationToken::new();
    let device = SimDevice::new(spec, cfg).unwrap();
    let run = tokio::spawn(device.run(h.addr.to_string(), stop.clone()));

    // Every minute from 10:01 to 10:35 ends up stored, the outage included.
    let want: Vec<i64> = (1..=35).map(|m| start + m * MINUTE_MS).collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let q = MeasurementQuery {
            mn: Some(mn.into()),
            cn: Some("2051".into()),
            factor: Some("w01018".into()),
            latest_only: true,
            ..Default::default()
        };
        let have: Vec<i64> = h.store.measurements(&q).await.unwrap().iter().map(|m| m.data_time).collect();
        if want.iter().all(|t| have.contains(t)) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "minutes still missing; have {have:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let gap = h
        .store
        .commands(Some(mn), 20)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.new.origin == fenhe_ingest::ORIGIN_GAP)
        .expect("a history request");
    assert_eq!(gap.new.cn, "2051");
    stop.cancel();
    let _ = run.await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_clock_skew_is_corrected() {
    let mut cfg = config();
    cfg.time_check_on_connect = true;
    let h = start(cfg).await;
    let mn = "SIM000000000000000000002";
    let mut r = registry();
    let mut dev = r.devices[0].clone();
    dev.mn = mn.into();
    r.devices = vec![dev];
    h.store.import_registry(&r).await.unwrap();
    h.handle.reload_registry().await.unwrap();

    let mut spec = DeviceSpec::flue_gas(mn, 9).with_scenario(Scenario::ClockSkew { seconds: 300 });
    spec.password = PW.into();
    spec.send_realtime = true;
    spec.rtd_interval_s = 1;
    let stop = CancellationToken::new();
    let device = SimDevice::new(spec, SimConfig::default()).unwrap();
    let run = tokio::spawn(device.run(h.addr.to_string(), stop.clone()));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let cmds = h.store.commands(Some(mn), 20).await.unwrap();
        let done =
            |cn: &str| cmds.iter().any(|c| c.new.cn == cn && c.status == fenhe_store::CommandStatus::Done);
        if done("1011") && done("1012") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "clock not corrected: {cmds:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    let _ = run.await;
    h.stop().await;
}
