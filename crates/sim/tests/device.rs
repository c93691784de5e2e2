//! Simulated devices against a tiny in-test platform on 127.0.0.1.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::*;
use fenhe_sim::wire::{as_history_answer, upload};
use fenhe_sim::{
    Backfill, CancellationToken, Clock, DeviceReport, DeviceSpec, Fleet, FleetConfig, MINUTE_MS, Period,
    Scenario, SimConfig, SimDevice, Stats, values_at,
};
use hj212::builder::platform;
use hj212::{CrcMode, CrcVariant, DateTime, Deviation, Version};

/// Test settings: short back-off, the given clock.
fn cfg(clock: Clock) -> SimConfig {
    SimConfig {
        clock,
        backoff_min: Duration::from_millis(30),
        backoff_max: Duration::from_millis(200),
        ..SimConfig::default()
    }
}

struct Running {
    stop: CancellationToken,
    stats: Arc<Stats>,
    task: tokio::task::JoinHandle<DeviceReport>,
}

impl Running {
    async fn stop(self) -> DeviceReport {
        self.stop.cancel();
        self.task.await.unwrap()
    }
}

fn start(spec: DeviceSpec, cfg: SimConfig, addr: &str) -> Running {
    let dev = SimDevice::new(spec, cfg).unwrap();
    let stats = dev.stats();
    let stop = CancellationToken::new();
    let task = tokio::spawn(dev.run(addr.to_string(), stop.clone()));
    Running { stop, stats, task }
}

/// A one-minute flue-gas device that sends only minute data.
fn minute_device(spec: DeviceSpec) -> DeviceSpec {
    DeviceSpec { minute_interval_min: 1, send_hourly: false, ..spec }
}

/// The upload the device must have sent for `period` at `t`, given the QN it used.
fn expected(spec: &DeviceSpec, period: Period, r: &Received) -> String {
    let qn = r.packet().qn.map(|q| DateTime::parse(q).unwrap().0).unwrap_or(dt(0));
    upload(spec, period, r.data_time(), &qn).segment()
}

async fn wait_for(mut f: impl FnMut() -> bool) {
    for _ in 0..400 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not reached in 20 s");
}

#[tokio::test]
async fn minute_packets_are_deterministic_and_valid() {
    let mut srv = TestServer::start(true).await;
    let spec = minute_device(DeviceSpec::flue_gas(MN, 1));
    // 600×: a simulated minute every 100 ms.
    let dev = start(spec.clone(), cfg(Clock::accelerated(600.0, T0)), &srv.addr);
    let mut times = Vec::new();
    for _ in 0..3 {
        let r = srv.frame_cn("2051").await;
        assert_eq!(r.crc, Some(CrcVariant::Standard));
        assert!(r.bytes.ends_with(b"\r\n"));
        let p = r.packet();
        assert_eq!(p.version, Version::V2017);
        assert_eq!((p.st, p.mn, p.pw, p.flag), (Some("31"), MN, Some(PW), Some(5)));
        assert!(p.deviations.is_empty(), "{:?}", p.deviations);
        assert_eq!(r.segment, expected(&spec, Period::Minute, &r));
        // And the values are the model's.
        let so2 = p.factors().find(|f| f.code == "a21026").unwrap();
        let model = values_at(&spec, r.data_time() / MINUTE_MS);
        let m = model.iter().find(|x| x.code == "a21026").unwrap();
        let zs = m.fields(Period::Minute).into_iter().find(|(k, _)| *k == "ZsAvg").unwrap().1;
        assert_eq!(so2.get(hj212::Field::ZsAvg).unwrap().value(), zs);
        times.push(r.data_time());
    }
    // The first period is the one the device started in (T0 unless the machine is very slow);
    // then every minute without gaps.
    assert!(times[0] == T0 || times[0] == T0 + MINUTE_MS, "{times:?}");
    assert_eq!(times, [times[0], times[0] + MINUTE_MS, times[0] + 2 * MINUTE_MS]);
    wait_for(|| dev.stats.snapshot().packets_acked >= 3).await;
    let rep = dev.stop().await;
    assert_eq!(rep.mn, MN);
    assert_eq!(rep.stats.retries, 0);
    assert_eq!(rep.stats.connected, 0);
}

#[tokio::test]
async fn unacknowledged_packet_is_resent_after_reconnect() {
    let mut srv = TestServer::start(false).await;
    let spec = minute_device(DeviceSpec::wastewater(MN, 2));
    let dev = start(spec, cfg(Clock::accelerated(600.0, T0)), &srv.addr);
    let first = srv.frame_cn("2051").await;
    // Stop-and-wait: nothing else comes while the first waits for its 9014, though at 600× four
    // more minutes fall due meanwhile.
    srv.no_frame_for(Duration::from_millis(400), "the first upload is not acknowledged").await;
    srv.close();
    // The platform "crashed" before acknowledging; it comes back acknowledging.
    srv.set_auto_ack(true);
    let again = srv.frame_cn("2051").await;
    assert_ne!(again.conn, first.conn);
    assert_eq!(again.bytes, first.bytes, "the same packet, byte for byte");
    // Then the periods that fell due meanwhile, in order, without gaps.
    let mut t = first.data_time();
    for _ in 0..4 {
        let r = srv.frame_cn("2051").await;
        assert_eq!(r.data_time(), t + MINUTE_MS);
        t = r.data_time();
    }
    wait_for(|| dev.stats.snapshot().packets_acked >= 5).await;
    let rep = dev.stop().await;
    assert!(rep.stats.retries >= 1);
    assert!(rep.stats.connects >= 2 && rep.stats.disconnects >= 1);
}

#[tokio::test]
async fn ack_timeout_retries_then_reconnects() {
    let mut srv = TestServer::start(false).await;
    let spec = minute_device(DeviceSpec::flue_gas(MN, 3));
    let c = SimConfig { ack_timeout: Duration::from_millis(150), retries: 2, ..cfg(Clock::real()) };
    // Start just before a minute boundary of real time would take too long: backfill one minute.
    let now = fenhe_sim::system_now_ms();
    let c = SimConfig { backfill: Some(Backfill { from_ms: now - 3 * MINUTE_MS, to_ms: now }), ..c };
    let dev = start(spec, c, &srv.addr);
    let first = srv.frame_cn("2051").await;
    for _ in 0..2 {
        let r = srv.frame_cn("2051").await;
        assert_eq!((r.conn, &r.bytes), (first.conn, &first.bytes));
    }
    // Retries exhausted: the device drops the connection and starts over with the same packet.
    loop {
        if let Ev::Closed(c) = srv.next(5).await {
            assert_eq!(c, first.conn);
            break;
        }
    }
    let r = srv.frame_cn("2051").await;
    assert_ne!(r.conn, first.conn);
    assert_eq!(r.bytes, first.bytes);
    let rep = dev.stop().await;
    assert!(rep.stats.ack_timeouts >= 1);
    assert!(rep.stats.retries >= 3);
    assert_eq!(rep.stats.packets_acked, 0);
}

#[tokio::test]
async fn history_request_is_answered_with_9011_data_9012() {
    for version in [Version::V2017, Version::V2025] {
        let mut srv = TestServer::start(true).await;
        let spec = DeviceSpec { send_minute: false, send_hourly: false, ..DeviceSpec::flue_gas(MN, 4) }
            .with_version(version);
        let dev = start(spec.clone(), cfg(Clock::accelerated(60.0, T0 + 2 * 3_600_000)), &srv.addr);
        assert!(matches!(srv.next(5).await, Ev::Connected(_)));
        let peer = peer("31", version);
        let q = qn(1);
        srv.send(platform::history(&peer, &q, "2051", &dt(T0), &dt(T0 + 50 * MINUTE_MS)).build());
        let r = srv.frame().await;
        assert_eq!((r.cn().as_str(), r.key("QnRtn").as_deref()), ("9011", Some("1")));
        assert_eq!(r.packet().qn, Some(q.qn().as_str()));
        for k in 0..6 {
            let d = srv.frame().await;
            assert_eq!(d.cn(), "2051");
            assert_eq!(d.data_time(), T0 + k * 10 * MINUTE_MS);
            let p = d.packet();
            assert_eq!(p.qn, Some(q.qn().as_str()), "answers carry the request's QN");
            assert_eq!(p.resent(), version == Version::V2025);
            let want =
                as_history_answer(upload(&spec, Period::Minute, d.data_time(), &q), Some(&q.qn()), version);
            assert_eq!(d.segment, want.segment());
        }
        let r = srv.frame().await;
        assert_eq!((r.cn().as_str(), r.key("ExeRtn").as_deref()), ("9012", Some("1")));
        wait_for(|| dev.stats.snapshot().packets_acked == 6).await;

        // Hourly history.
        srv.send(platform::history(&peer, &qn(2), "2061", &dt(T0), &dt(T0 + 30 * MINUTE_MS)).build());
        assert_eq!(srv.frame().await.cn(), "9011");
        let h = srv.frame().await;
        assert_eq!((h.cn().as_str(), h.data_time()), ("2061", T0));
        assert_eq!(srv.frame().await.key("ExeRtn").as_deref(), Some("1"));

        // The future has no data.
        srv.send(
            platform::history(&peer, &qn(3), "2051", &dt(T0 + 86_400_000), &dt(T0 + 90_000_000)).build(),
        );
        assert_eq!(srv.frame().await.key("QnRtn").as_deref(), Some("1"));
        assert_eq!(srv.frame().await.key("ExeRtn").as_deref(), Some("100"));
        let rep = dev.stop().await;
        assert_eq!(rep.stats.history_sent, 7);
        assert_eq!(rep.stats.commands_answered, 3);
    }
}

#[tokio::test]
async fn set_time_corrects_a_skewed_clock() {
    let mut srv = TestServer::start(true).await;
    let spec = DeviceSpec { send_minute: false, send_hourly: false, ..DeviceSpec::flue_gas(MN, 5) }
        .with_scenario(Scenario::ClockSkew { seconds: 3600 });
    let dev = start(spec, cfg(Clock::real()), &srv.addr);
    assert!(matches!(srv.next(5).await, Ev::Connected(_)));
    let peer = peer("31", Version::V2017);

    let device_time =
        |r: &Received| DateTime::parse(&r.key("SystemTime").unwrap()).unwrap().0.unix_millis_cst();
    srv.send(platform::get_time(&peer, &qn(1), None).build());
    assert_eq!(srv.reply().await.key("QnRtn").as_deref(), Some("1"));
    let t = srv.reply().await;
    assert_eq!(t.cn(), "1011");
    let off = device_time(&t) - fenhe_sim::system_now_ms();
    assert!((3_595_000..3_605_000).contains(&off), "device is {off} ms ahead");
    assert_eq!(srv.reply().await.key("ExeRtn").as_deref(), Some("1"));

    // A wrong password is refused.
    let bad = hj212::Peer { pw: "000000", ..peer.clone() };
    srv.send(platform::set_time(&bad, &qn(2), None, &dt(fenhe_sim::system_now_ms())).build());
    assert_eq!(srv.reply().await.key("QnRtn").as_deref(), Some("3"));

    srv.send(platform::set_time(&peer, &qn(3), None, &dt(fenhe_sim::system_now_ms())).build());
    assert_eq!(srv.reply().await.key("QnRtn").as_deref(), Some("1"));
    assert_eq!(srv.reply().await.key("ExeRtn").as_deref(), Some("1"));

    srv.send(platform::get_time(&peer, &qn(4), None).build());
    srv.reply().await;
    let off = device_time(&srv.reply().await) - fenhe_sim::system_now_ms();
    assert!(off.abs() < 3000, "device still {off} ms off");
    dev.stop().await;
}

#[tokio::test]
async fn settings_commands_apply() {
    let mut srv = TestServer::start(true).await;
    let spec = DeviceSpec { send_hourly: false, ..DeviceSpec::wastewater(MN, 6) };
    let dev = start(spec, cfg(Clock::accelerated(120.0, T0)), &srv.addr);
    assert!(matches!(srv.next(5).await, Ev::Connected(_)));
    let peer = peer("32", Version::V2017);

    srv.send(platform::get_interval(&peer, &qn(1), true).build());
    assert_eq!(srv.reply().await.cn(), "9011");
    let r = srv.reply().await;
    assert_eq!((r.cn().as_str(), r.key("MinInterval").as_deref()), ("1063", Some("10")));
    assert_eq!(srv.reply().await.cn(), "9012");

    srv.send(platform::set_min_interval(&peer, &qn(2), 1).build());
    srv.send(platform::set_password(&peer, &qn(3), "654321").build());
    for _ in 0..2 {
        assert_eq!(srv.reply().await.key("QnRtn").as_deref(), Some("1"));
        assert_eq!(srv.reply().await.key("ExeRtn").as_deref(), Some("1"));
    }
    // Now minute data every minute, with the new password.
    let a = srv.frame_cn("2051").await;
    let b = srv.frame_cn("2051").await;
    assert_eq!(b.data_time() - a.data_time(), MINUTE_MS);
    assert_eq!(b.packet().pw, Some("654321"));

    // The old password no longer works; an unknown command is refused.
    srv.send(platform::set_timeout(&peer, &qn(4), 5, 1).build());
    assert_eq!(srv.reply().await.key("QnRtn").as_deref(), Some("3"));
    let newp = hj212::Peer { pw: "654321", ..peer.clone() };
    srv.send(platform::set_timeout(&newp, &qn(5), 5, 1).build());
    assert_eq!(srv.reply().await.key("QnRtn").as_deref(), Some("1"));
    assert_eq!(srv.reply().await.key("ExeRtn").as_deref(), Some("1"));
    srv.send(platform::control(&newp, &qn(6), "2041", &[]).build());
    assert_eq!(srv.reply().await.key("QnRtn").as_deref(), Some("2"));
    dev.stop().await;
}

#[tokio::test]
async fn realtime_starts_and_stops_on_command() {
    let mut srv = TestServer::start(true).await;
    let spec = DeviceSpec { send_minute: false, send_hourly: false, ..DeviceSpec::flue_gas(MN, 7) };
    // 60×: a 30-second real-time interval every half second.
    let dev = start(spec, cfg(Clock::accelerated(60.0, T0)), &srv.addr);
    assert!(matches!(srv.next(5).await, Ev::Connected(_)));
    let peer = peer("31", Version::V2017);
    srv.send(platform::start_realtime(&peer, &qn(1), false).build());
    assert_eq!(srv.frame().await.key("QnRtn").as_deref(), Some("1"));
    for _ in 0..3 {
        let r = srv.frame_cn("2011").await;
        let p = r.packet();
        assert!(!p.ack_required());
        let so2 = p.factors().find(|f| f.code == "a21026").unwrap();
        assert!(so2.get(hj212::Field::Rtd).is_some() && so2.get(hj212::Field::ZsRtd).is_some());
    }
    srv.send(platform::stop_realtime(&peer, &qn(2), false).build());
    assert_eq!(srv.reply().await.cn(), "9013");
    let n = dev.stats.snapshot().realtime_sent;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(dev.stats.snapshot().realtime_sent <= n + 1);
    dev.stop().await;
}

#[tokio::test]
async fn v2005_device_sends_old_codes_without_qn_or_flag() {
    let mut srv = TestServer::start(true).await;
    let spec = minute_device(DeviceSpec::wastewater(MN, 8)).with_version(Version::V2005);
    let dev = start(spec.clone(), cfg(Clock::accelerated(600.0, T0)), &srv.addr);
    let mut last = None;
    for _ in 0..3 {
        let r = srv.frame_cn("2051").await;
        let p = r.packet();
        assert_eq!(p.version, Version::V2005);
        assert_eq!((p.qn, p.flag), (None, None));
        assert!(r.segment.starts_with("ST=32;CN=2051;PW=123456;MN="), "{}", r.segment);
        let raw: Vec<_> = p.factors().map(|f| f.raw_code).collect();
        assert_eq!(raw, ["011", "060", "101", "065", "001", "B01"]);
        let codes: Vec<_> = p.factors().map(|f| f.code).collect();
        assert_eq!(codes, ["w01018", "w21003", "w21011", "w21001", "w01001", "w00000"]);
        if let Some(t) = last {
            assert_eq!(r.data_time(), t + MINUTE_MS);
        }
        last = Some(r.data_time());
        assert_eq!(r.segment, expected(&spec, Period::Minute, &r));
    }
    let rep = dev.stop().await;
    // Nothing to acknowledge, nothing re-sent.
    assert_eq!((rep.stats.packets_acked, rep.stats.retries), (0, 0));
}

#[tokio::test]
async fn dialect_devices() {
    let cases = [
        (Scenario::ModbusCrc, Some(CrcVariant::Modbus), CrcMode::Modbus),
        (Scenario::ModbusSwappedCrc, Some(CrcVariant::ModbusSwapped), CrcMode::ModbusSwapped),
    ];
    for (sc, variant, mode) in cases {
        let mut srv = TestServer::start(true).await;
        let spec = minute_device(DeviceSpec::flue_gas(MN, 9))
            .with_scenario(sc.clone())
            .with_scenario(Scenario::NoCrlf);
        let dev = start(spec, cfg(Clock::accelerated(600.0, T0)), &srv.addr);
        let r = srv.frame_cn("2051").await;
        assert_eq!(r.crc, variant, "{sc:?}");
        let mut f = hj212::Framer::new(Default::default());
        f.push(&r.bytes);
        f.finish();
        let Some(hj212::Event::Frame(raw)) = f.next() else { panic!() };
        assert!(raw.check(CrcMode::Standard).is_err(), "fails the standard CRC");
        assert!(hj212::crc::check(raw.segment, raw.crc.declared, mode).accepted, "matches {}", mode.name());
        assert!(!hj212::crc::check(raw.segment, raw.crc.declared, CrcMode::Standard).accepted);
        assert!(!r.bytes.ends_with(b"\r\n"));
        assert!(raw.deviations.contains(Deviation::MissingCrlf));
        // The platform's acknowledgements are understood all the same.
        wait_for(|| dev.stats.snapshot().packets_acked >= 2).await;
        dev.stop().await;
    }
}

#[tokio::test]
async fn garbage_between_frames() {
    let mut srv = TestServer::start(true).await;
    let spec =
        minute_device(DeviceSpec::flue_gas(MN, 10)).with_scenario(Scenario::Garbage { every_n_packets: 2 });
    let dev = start(spec, cfg(Clock::accelerated(600.0, T0)), &srv.addr);
    let (mut frames, mut garbage) = (0, 0);
    while frames < 6 {
        match srv.next(10).await {
            Ev::Frame(r) => {
                assert_eq!(r.crc, Some(CrcVariant::Standard));
                r.packet();
                frames += 1;
            }
            Ev::Garbage(_, bytes) => {
                assert!(!bytes.is_empty());
                garbage += 1;
            }
            _ => {}
        }
    }
    assert!(garbage >= 2, "{garbage} garbage bursts");
    let rep = dev.stop().await;
    assert!(rep.stats.garbage_sent >= 3);
    assert!(rep.stats.packets_acked >= 5);
}

#[tokio::test]
async fn wrong_password_device() {
    let mut srv = TestServer::start(true).await;
    let spec = minute_device(DeviceSpec::flue_gas(MN, 11)).with_scenario(Scenario::WrongPassword);
    let dev = start(spec, cfg(Clock::accelerated(600.0, T0)), &srv.addr);
    let r = srv.frame_cn("2051").await;
    assert_eq!(r.packet().pw, Some("000000"));
    dev.stop().await;
}

#[tokio::test]
async fn outage_then_history_request() {
    let mut srv = TestServer::start(true).await;
    let out_start = T0 + 3 * MINUTE_MS;
    let spec = minute_device(DeviceSpec::flue_gas(MN, 12))
        .with_scenario(Scenario::Outage { start_ms: out_start, minutes: 3 });
    // 300×: a simulated minute every 200 ms.
    let dev = start(spec.clone(), cfg(Clock::accelerated(300.0, T0)), &srv.addr);
    let mut seen = Vec::new();
    let mut closed = false;
    while seen.last().is_none_or(|t| *t < T0 + 7 * MINUTE_MS) {
        match srv.next(10).await {
            Ev::Frame(r) if r.cn() == "2051" => seen.push(r.data_time()),
            Ev::Closed(_) => closed = true,
            _ => {}
        }
    }
    assert!(closed, "the device disconnects during the outage");
    let minutes: Vec<i64> = seen.iter().map(|t| (t - T0) / MINUTE_MS).collect();
    // Periods ending at minutes 3, 4 and 5 fell in the outage and were never sent.
    assert_eq!(minutes, [0, 1, 5, 6, 7]);

    let peer = peer("31", Version::V2017);
    srv.send(
        platform::history(&peer, &qn(1), "2051", &dt(T0 + 2 * MINUTE_MS), &dt(T0 + 4 * MINUTE_MS)).build(),
    );
    assert_eq!(srv.reply().await.key("QnRtn").as_deref(), Some("1"));
    let mut got = BTreeSet::new();
    loop {
        let r = srv.frame().await;
        match r.cn().as_str() {
            "9012" => {
                assert_eq!(r.key("ExeRtn").as_deref(), Some("1"));
                break;
            }
            "2051" if r.packet().qn == Some(qn(1).qn().as_str()) => {
                let want = as_history_answer(
                    upload(&spec, Period::Minute, r.data_time(), &qn(1)),
                    Some(&qn(1).qn()),
                    spec.version,
                );
                assert_eq!(r.segment, want.segment());
                got.insert((r.data_time() - T0) / MINUTE_MS);
            }
            _ => {}
        }
    }
    assert_eq!(got.into_iter().collect::<Vec<_>>(), [2, 3, 4]);
    dev.stop().await;
}

#[tokio::test]
async fn backfill_one_day_with_accelerated_clock() {
    let mut srv = TestServer::start(true).await;
    let spec = DeviceSpec::wastewater(MN, 13);
    let c = SimConfig { backfill: Some(Backfill::last_days(1, T0)), ..cfg(Clock::accelerated(600.0, T0)) };
    let dev = start(spec.clone(), c, &srv.addr);
    let stats = dev.stats.clone();
    wait_for(|| stats.snapshot().backfills_done == 1).await;
    let (mut minutes, mut hours) = (BTreeSet::new(), BTreeSet::new());
    while minutes.len() < 144 || hours.len() < 24 {
        let r = srv.frame().await;
        match r.cn().as_str() {
            "2051" => minutes.insert(r.data_time()),
            "2061" => hours.insert(r.data_time()),
            _ => false,
        };
        if r.data_time() == T0 - 3_600_000 && r.cn() == "2061" {
            assert_eq!(r.segment, expected(&spec, Period::Hour, &r));
        }
    }
    assert_eq!(minutes.first(), Some(&(T0 - 86_400_000)));
    assert_eq!(minutes.last(), Some(&(T0 - 10 * MINUTE_MS)));
    assert_eq!(hours.last(), Some(&(T0 - 3_600_000)));
    let s = stats.snapshot();
    assert!(s.packets_acked >= 168, "{s:?}");
    assert_eq!(s.retries, 0);
    // Then it goes live: the present period comes when the clock reaches its end (T0's, unless
    // the backfill took longer than a simulated ten minutes).
    let live = srv.frame_cn("2051").await;
    assert!(live.data_time() >= T0 && !minutes.contains(&live.data_time()));
    dev.stop().await;
}

#[tokio::test]
async fn fleet_runs_counts_and_stops() {
    let mut srv = TestServer::start(true).await;
    let mut fc = FleetConfig::new(srv.addr.clone());
    fc.sim = cfg(Clock::accelerated(600.0, T0));
    fc.ramp_up = Duration::from_millis(100);
    let specs = DeviceSpec::mixed_fleet(4, 1, T0);
    let fleet = Fleet::spawn(specs, fc).unwrap();
    assert_eq!(fleet.len(), 4);
    let stats = fleet.stats().clone();
    wait_for(|| stats.snapshot().connected == 4 && stats.snapshot().packets_acked >= 8).await;
    let mut mns = BTreeSet::new();
    while mns.len() < 4 {
        mns.insert(srv.frame().await.packet().mn.to_string());
    }
    let reports = fleet.shutdown().await;
    assert_eq!(reports.len(), 4);
    let s = stats.snapshot();
    assert_eq!(s.connected, 0);
    assert_eq!(s.connects, 4);
    assert_eq!(reports.iter().map(|r| r.stats.packets_sent).sum::<u64>(), s.packets_sent);
}

#[tokio::test]
async fn connection_refused_is_retried() {
    // A port that was just free: nobody listens.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    let dev = start(DeviceSpec::flue_gas(MN, 14), cfg(Clock::real()), &addr);
    let stats = dev.stats.clone();
    wait_for(|| stats.snapshot().connect_errors >= 3).await;
    let rep = dev.stop().await;
    assert_eq!(rep.stats.connects, 0);
}
