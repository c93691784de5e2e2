//! `fenhe demo`: a demo city streaming real HJ 212 over TCP into a running fenhe, with nothing to
//! configure. The registry is `fenhe_core::demo::city()`; one simulated data logger per registered
//! device, some with the faults and dialects of the field, plus an unregistered sender and one
//! with a wrong password so the inbox has something to show. One account per role is made on the
//! first run (`fenhe_app::accounts::ensure_demo_accounts`) and printed with its password at start.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use fenhe_core::{OutletKind, Registry};
use fenhe_sim::{Backfill, DeviceSpec, Fleet, FleetConfig, Kind, Scenario, SimConfig};
use indicatif::{ProgressBar, ProgressStyle};

use crate::server::{self, ServerOptions};
use fenhe_core::china_time;

pub struct DemoOptions {
    pub db: String,
    pub hj212_listen: SocketAddr,
    pub http_listen: SocketAddr,
    /// Hours of history to backfill on the first run.
    pub backfill_hours: u32,
    /// Stop after the backfill instead of streaming (for scripted runs).
    pub backfill_only: bool,
}

const HOUR_MS: i64 = 3_600_000;
const MINUTE_MS: i64 = 60_000;

/// MN of a sender the registry does not know.
pub const UNREGISTERED_MN: &str = "141000999900000000000001";

/// The simulated loggers for the demo registry: each device as registered, some with a scenario.
pub fn fleet_specs(r: &Registry, now_ms: i64) -> Vec<DeviceSpec> {
    let hour = now_ms.div_euclid(HOUR_MS) * HOUR_MS;
    r.devices
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let outlet = r.outlet(&d.outlet);
            let seed = 0xF3E0_0000 + i as u64;
            let mut spec = match outlet.map(|o| o.kind) {
                Some(OutletKind::Wastewater) => DeviceSpec::wastewater(d.mn.clone(), seed),
                _ => {
                    let mut s = DeviceSpec::flue_gas(d.mn.clone(), seed);
                    s.kind =
                        Kind::FlueGas { reference_o2: outlet.and_then(|o| o.reference_o2).unwrap_or(8.0) };
                    s
                }
            };
            // Normal operation at about 45 % of the outlet's limits (the built-in levels would put
            // an ultra-low power unit over its NOx limit all day).
            let today = fenhe_core::china_time::date_of(now_ms);
            spec = spec
                .fit_to_limits(0.45, |code| outlet.and_then(|o| o.limit_at(code, today)).and_then(|l| l.max));
            spec.password = d.password.clone();
            spec.minute_interval_min = d.minute_interval_min;
            spec.rtd_interval_s = d.rtd_interval_s;
            spec.send_hourly = d.hourly;
            spec.version = d.protocol.into();
            let water = matches!(spec.kind, Kind::Wastewater);
            let (main, second) = if water { ("w01018", "w21003") } else { ("a21026", "a21002") };
            // Scenarios over the backfilled week, relative to the current hour.
            let scenario = match i % 8 {
                1 => Some(Scenario::Exceedance {
                    factor: main.into(),
                    start_ms: hour - 30 * HOUR_MS,
                    hours: 5.0,
                    multiple: 2.5,
                }),
                2 => Some(Scenario::Outage { start_ms: hour - 3 * HOUR_MS, minutes: 90 }),
                3 => Some(Scenario::ConstantValue {
                    factor: second.into(),
                    start_ms: hour - 50 * HOUR_MS,
                    minutes: 8 * 60,
                }),
                4 => Some(Scenario::Flag { flag: 'C', start_ms: hour - 20 * HOUR_MS, minutes: 30 }),
                5 if !water => {
                    Some(Scenario::StartupShutdown { start_ms: hour - 72 * HOUR_MS, minutes: 6 * 60 })
                }
                6 => Some(Scenario::Flag { flag: 'M', start_ms: hour - 96 * HOUR_MS, minutes: 120 }),
                7 => Some(Scenario::ClockSkew { seconds: 300 }),
                _ => None,
            };
            if let Some(s) = scenario {
                spec = spec.with_scenario(s);
            }
            // Dialects the registry allows for this device.
            match d.crc {
                fenhe_core::CrcPolicy::Modbus => spec = spec.with_scenario(Scenario::ModbusCrc),
                fenhe_core::CrcPolicy::ModbusSwapped => spec = spec.with_scenario(Scenario::ModbusSwappedCrc),
                _ => {}
            }
            if i == 9 {
                spec = spec.with_scenario(Scenario::NoCrlf);
            }
            if i == 11 {
                spec = spec.with_scenario(Scenario::Garbage { every_n_packets: 200 });
            }
            spec
        })
        .collect()
}

/// Senders the platform must refuse: an unknown MN and a known MN with a wrong password.
pub fn intruder_specs(r: &Registry) -> Vec<DeviceSpec> {
    let mut v = vec![DeviceSpec::flue_gas(UNREGISTERED_MN, 99)];
    if let Some(d) = r.devices.last() {
        v.push(DeviceSpec::flue_gas(d.mn.clone(), 98).with_scenario(Scenario::WrongPassword));
    }
    for s in &mut v {
        s.minute_interval_min = 10;
    }
    v
}

/// The address the demo's intruders connect from: 127.0.0.2 when the gateway listens on IPv4
/// loopback (Linux answers every 127/8 address), else the system's choice (then a blocked
/// guesser can refuse the loggers that share its address until the block ends).
fn intruder_ip(gateway: std::net::IpAddr) -> Option<std::net::IpAddr> {
    match gateway {
        std::net::IpAddr::V4(v4) if v4.is_loopback() || v4.is_unspecified() => {
            Some(std::net::IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2)))
        }
        _ => None,
    }
}

/// Demo accounts per line in the start-up table.
const ACCOUNTS_PER_LINE: usize = 4;

/// The demo accounts as a compact table: username and password pairs, several to a line, in the
/// order given (administrator, leader, bureau, departments, enterprises).
fn accounts_table(accounts: &[fenhe_app::accounts::DemoAccount]) -> String {
    let mut t = crate::text_table::Table::new();
    for line in accounts.chunks(ACCOUNTS_PER_LINE) {
        t.row(line.iter().flat_map(|a| [a.username.clone(), format!("{}  ", a.password)]));
    }
    let mut out = String::new();
    t.render("    ", &mut out);
    out
}

/// Minute and hour packets a device sends over `[from, to)`.
fn expected_packets(spec: &DeviceSpec, from: i64, to: i64) -> u64 {
    let span = (to - from).max(0);
    let minutes = span / (i64::from(spec.minute_interval_min.max(1)) * MINUTE_MS);
    let hours = if spec.send_hourly { span / HOUR_MS } else { 0 };
    (minutes + hours) as u64
}

/// Strangers from one address the demo's gateway holds: more than the simulated loggers, which
/// all connect from 127.0.0.1 before their first frame.
const DEMO_STRANGERS_PER_ADDRESS: usize = 256;

pub async fn run(opts: DemoOptions) -> Result<()> {
    let city = fenhe_core::demo::city();
    // Import first (idempotent: a second run updates the same entries and keeps the data), then
    // the accounts, which need the enterprises (a second run keeps them and their passwords).
    let now = china_time::now_ms();
    let accounts = {
        let store = fenhe_store::open(&opts.db)
            .await
            .with_context(|| format!("cannot open {}", fenhe_store::shown(&opts.db)))?;
        store.import_registry(&city).await?;
        fenhe_app::accounts::ensure_demo_accounts(store.as_ref(), now)
            .await
            .context("creating the demo accounts")?
    };
    let backfill_start = now - i64::from(opts.backfill_hours) * HOUR_MS;
    let banner = vec![format!("演示数据库 Demo database: {}", fenhe_store::shown(&opts.db))];
    // The simulator backfills as fast as acknowledgements come: lift the per-connection rate.
    // Its loggers all connect from 127.0.0.1 at once: lift the per-address cap on strangers too.
    let gateway = fenhe_ingest::GatewayConfig {
        frame_rate: 5_000.0,
        frame_burst: 10_000.0,
        max_strangers_per_address: DEMO_STRANGERS_PER_ADDRESS,
        ..Default::default()
    };
    let running = server::start(ServerOptions {
        db: opts.db.clone(),
        hj212_listen: opts.hj212_listen,
        http_listen: opts.http_listen,
        gateway,
        writer: Default::default(),
        // Demo mode: the sign-in page lists the demo's accounts.
        web: fenhe_web::WebConfig { banner, demo: true, ..Default::default() },
        ingest_rules: Default::default(),
        engine: Some(fenhe_app::engine::EngineOptions {
            params: Default::default(),
            interval: std::time::Duration::from_secs(15),
        }),
        workflows: Default::default(),
    })
    .await?;

    // Resume: start the backfill where the stored minute data ends (the oldest device decides).
    let activity = running.store.device_activity().await?;
    let resume_from = city
        .devices
        .iter()
        .map(|d| {
            activity
                .iter()
                .find(|a| a.mn == d.mn)
                .and_then(|a| a.latest.iter().find(|(cn, _)| cn == "2051").map(|(_, t)| *t + MINUTE_MS))
                .unwrap_or(backfill_start)
        })
        .min()
        .unwrap_or(backfill_start)
        .max(backfill_start);
    let specs = fleet_specs(&city, now);
    let expected: u64 = specs
        .iter()
        .filter(|s| s.version != hj212::Version::V2005)
        .map(|s| expected_packets(s, resume_from, now))
        .sum();

    println!("{}", running.listening_line());
    println!("fenhe 演示 demo");
    println!("  HJ 212 网关 gateway : {}", running.hj212_addr);
    println!("  网页 web            : http://{}/ (登录 sign in)", running.http_addr);
    println!("  运行状态 status     : http://{}/system", running.http_addr);
    println!(
        "  指标 metrics        : http://{}/metrics (管理员、生态环境局 admin, bureau)",
        running.http_addr
    );
    println!("  数据库 database     : {}", fenhe_store::shown(&opts.db));
    println!(
        "  登记 registry       : {} 家企业 enterprises, {} 个排口 outlets, {} 台数采仪 data loggers",
        city.enterprises.len(),
        city.outlets.len(),
        city.devices.len()
    );
    println!(
        "  登录 logins         : {} 个演示账号 demo accounts (用户名 密码 username password):",
        accounts.len()
    );
    print!("{}", accounts_table(&accounts));
    println!("  回填 backfill       : {} → {}", china_time::iso(resume_from), china_time::iso(now));

    let cfg = FleetConfig {
        addr: running.hj212_addr.to_string(),
        sim: SimConfig {
            backfill: Some(Backfill { from_ms: resume_from, to_ms: now }),
            ..SimConfig::default()
        },
        ramp_up: Duration::from_millis(500),
    };
    let fleet = Fleet::spawn_with_token(specs, cfg, running.cancel_token().child_token())
        .context("cannot start the simulated data loggers")?;
    // The intruders send their last half hour at once, so the inbox fills from the start.
    // They connect from an address of their own: the password guesser gets its address refused
    // (and a security alarm raised), which must not refuse the city's loggers on 127.0.0.1.
    let intruder_cfg = FleetConfig {
        sim: SimConfig {
            backfill: Some(Backfill { from_ms: now - 30 * MINUTE_MS, to_ms: now }),
            local_ip: intruder_ip(running.hj212_addr.ip()),
            ..SimConfig::default()
        },
        ..FleetConfig::new(running.hj212_addr.to_string())
    };
    let intruders =
        Fleet::spawn_with_token(intruder_specs(&city), intruder_cfg, running.cancel_token().child_token())
            .context("cannot start the simulated intruders")?;

    let bar = ProgressBar::new(expected.max(1));
    bar.set_style(
        ProgressStyle::with_template(
            "  {spinner} 回填 backfill [{bar:40}] {pos}/{len} packets {per_sec} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let stats = fleet.stats().clone();
    // Done when the store holds every backfilling device's minute data up to the start instant
    // (what is stored is what counts, not what was sent).
    let backfilling: Vec<(String, i64)> = city
        .devices
        .iter()
        .map(|d| (d.mn.clone(), now - i64::from(d.minute_interval_min.max(1)) * MINUTE_MS))
        .collect();
    let mut last_check = tokio::time::Instant::now();
    // One signal listener for the whole run, so a Ctrl-C between two polls is not missed.
    let signal = server::wait_for_signal();
    tokio::pin!(signal);
    let interrupted = loop {
        let s = stats.snapshot();
        bar.set_position(s.packets_acked.min(expected));
        bar.set_message(format!("{} connected", s.connected));
        if last_check.elapsed() >= Duration::from_secs(2) {
            last_check = tokio::time::Instant::now();
            let activity = running.store.device_activity().await?;
            let done = backfilling.iter().all(|(mn, until)| {
                activity
                    .iter()
                    .any(|a| &a.mn == mn && a.latest.iter().any(|(cn, t)| cn == "2051" && *t >= *until))
            });
            if done {
                break false;
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
            _ = &mut signal => break true,
        }
    };
    let s = stats.snapshot();
    bar.finish_with_message(format!("done: {} packets acknowledged, {} retried", s.packets_acked, s.retries));

    if !interrupted {
        // Judge the backfilled week now rather than at the engine's next tick, so the results and
        // alarms are there as soon as the addresses are printed.
        let mut out = Vec::new();
        crate::cmd::compliance::run(running.store.as_ref(), &Default::default(), &mut out).await?;
        let open = running
            .store
            .alarms(&fenhe_store::AlarmQuery {
                status: Some(fenhe_store::AlarmStatus::Open),
                ..Default::default()
            })
            .await?
            .len();
        print!("  合规 {}", String::from_utf8_lossy(&out));
        println!("  告警 alarms: {open} open (`fenhe alarms list --db {}`)", fenhe_store::shown(&opts.db));
        // The month of supervision, once, after the alarms it reviews exist.
        let settings = fenhe_app::workflows::WorkflowSettings::default();
        match crate::demo_supervision::seed(running.store.as_ref(), &settings, china_time::now_ms()).await? {
            Some(s) => println!(
                "  督办 supervision: {} 条报警已说明 alarms explained, {} 项整改任务 tasks, {} 项隐患 hazards, {} 个技改项目 retrofits (/tasks)",
                s.alarms_reviewed, s.tasks, s.hazards, s.retrofits
            ),
            None => println!("  督办 supervision: kept from an earlier run (/tasks)"),
        }
    }
    if !interrupted && !opts.backfill_only {
        println!("  实时 streaming in real time — Ctrl-C stops; running `fenhe demo` again resumes.");
        signal.await;
    }
    println!("  stopping: finishing commits and acknowledgements …");
    fleet.stop();
    intruders.stop();
    let _ = fleet.join().await;
    let _ = intruders.join().await;
    running.shutdown().await?;
    println!("  stopped cleanly.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fenhe_core::Protocol;

    #[test]
    fn every_registered_device_is_simulated_as_registered() {
        let city = fenhe_core::demo::city();
        let specs = fleet_specs(&city, 1_764_000_000_000);
        assert_eq!(specs.len(), city.devices.len());
        for (s, d) in specs.iter().zip(&city.devices) {
            assert_eq!(s.mn, d.mn);
            assert_eq!(s.password, d.password);
            assert_eq!(s.version, hj212::Version::from(d.protocol));
            s.validate().unwrap();
        }
        assert!(city.devices.iter().any(|d| d.protocol == Protocol::V2005));
        assert!(specs.iter().any(|s| s.scenarios.iter().any(|c| matches!(c, Scenario::ModbusCrc))));
        let intruders = intruder_specs(&city);
        assert!(city.device(&intruders[0].mn).is_none());
    }
}
