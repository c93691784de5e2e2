//! The live compliance engine and `fenhe replay` share one implementation: the same data judged
//! incrementally over the store (with a late hour arriving after its day was judged) and replayed
//! offline from the captures gives the same hours, days, episodes, emissions, rates and findings.
//! A second engine run changes nothing, and alarms follow the episodes.

use std::collections::BTreeMap;
use std::process::Command;

use fenhe_core::Registry;
use fenhe_core::china_time as time;
use fenhe_core::compliance::Period;
use fenhe_ingest::capture_judge::{CaptureOptions, judge_capture};
use fenhe_sim::{DeviceSpec, Scenario};
use fenhe_store::{
    AggregateQuery, AlarmQuery, EmissionQuery, EpisodeQuery, FindingQuery, IngestItem, RateQuery,
};
use serde_json::Value;

use crate::common::{self, bin};

const GAS: &str = "CMPGAS000000000000000001";
const WATER: &str = "CMPWATER0000000000000001";
const GAS2: &str = "CMPGAS000000000000000002";

/// 2026-11-01 00:00 China time.
fn day1() -> i64 {
    time::date_start(jiff::civil::date(2026, 11, 1))
}

/// One flue-gas and one wastewater outlet of the demo city, each with a simulated device.
fn setup() -> (Registry, Vec<DeviceSpec>) {
    let (mut registry, gas, water) = common::two_outlets();
    // A permit small enough for two days of NOx to pass it.
    let gas_enterprise = registry.outlets[0].enterprise.clone();
    for e in registry.enterprises.iter_mut().filter(|e| e.id == gas_enterprise) {
        e.permitted_kg_per_year = [("a21002".to_string(), 1_000.0)].into_iter().collect();
    }
    let d1 = day1();
    let specs = vec![
        DeviceSpec::flue_gas(GAS, 11)
            // Across midnight: an episode that spans both days.
            .with_scenario(Scenario::Exceedance {
                factor: "a21026".into(),
                start_ms: d1 + 21 * time::HOUR_MS,
                hours: 5.0,
                multiple: 4.0,
            })
            .with_scenario(Scenario::ConstantValue {
                factor: "a34013".into(),
                start_ms: d1 + 30 * time::HOUR_MS,
                minutes: 180,
            })
            .with_scenario(Scenario::Flag { flag: 'C', start_ms: d1 + 40 * time::HOUR_MS, minutes: 60 })
            // Across the second midnight, which the engine reaches in a later cycle: a stuck
            // analyser that began the day before.
            .with_scenario(Scenario::ConstantValue {
                factor: "a21002".into(),
                start_ms: d1 + 47 * time::HOUR_MS,
                minutes: 180,
            }),
        DeviceSpec::wastewater(WATER, 12)
            .with_scenario(Scenario::Exceedance {
                factor: "w01018".into(),
                start_ms: d1,
                hours: 24.0,
                multiple: 6.0,
            })
            // A maintenance period across the second midnight, begun 10 hours before it (longer
            // than any rule's look-back, so the engine must read back to its stored start).
            .with_scenario(Scenario::Flag { flag: 'M', start_ms: d1 + 38 * time::HOUR_MS, minutes: 840 }),
        // A second stack logger at the gas outlet, offline from 10 hours before the second
        // midnight to 4 hours after it.
        DeviceSpec::flue_gas(GAS2, 13)
            .with_scenario(Scenario::Outage { start_ms: d1 + 38 * time::HOUR_MS, minutes: 840 }),
    ];
    registry.devices = vec![
        common::device_for(&specs[0], &gas),
        common::device_for(&specs[1], &water),
        common::device_for(&specs[2], &gas),
    ];
    (registry, specs)
}

fn fenhe(args: &[&str]) -> String {
    let out = Command::new(bin()).args(args).env_remove("FENHE_DB").output().unwrap();
    assert!(
        out.status.success(),
        "fenhe {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Store a capture the way the gateway would (same judgement, same write path).
async fn ingest(db: &str, registry: &Registry, bytes: &[u8]) {
    let store = fenhe_store::open(db).await.unwrap();
    let items: Vec<IngestItem> = judge_capture(bytes, registry, &CaptureOptions::default())
        .into_iter()
        .map(|mut f| {
            // Received when the period ended, as a punctual data logger sends it (a capture has
            // no receipt times).
            f.record.received_at =
                f.measurements.iter().map(|m| m.data_time + 600_000).max().unwrap_or(day1());
            IngestItem { frame: f.record, measurements: f.measurements }
        })
        .collect();
    assert!(!items.is_empty());
    store.write_batch(&items).await.unwrap();
}

/// Rows keyed by (mn, factor, start, period) with the compared fields, from the store and from
/// the replay report, so the two can be compared whole.
type Rows = BTreeMap<String, String>;

fn num(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.9}")).unwrap_or_else(|| "null".into())
}

fn json_num(v: &Value) -> String {
    num(v.as_f64())
}

fn fenhe_iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .unwrap()
        .to_zoned_datetime(jiff::tz::TimeZone::fixed(jiff::tz::offset(8)))
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

fn iso_ms(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

#[test]
fn live_engine_equals_replay_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db").display().to_string();
    let (registry, specs) = setup();
    let reg_file = dir.path().join("registry.toml");
    std::fs::write(&reg_file, toml::to_string(&registry).unwrap()).unwrap();
    fenhe(&["registry", "import", reg_file.to_str().unwrap(), "--db", &db]);

    // Arrival: day 1 without its 10:00 hour, the engine runs; then the late hour and day 2, the
    // engine runs; then day 3, the engine runs.
    let d1 = day1();
    let (late_from, late_to) = (d1 + 10 * time::HOUR_MS, d1 + 11 * time::HOUR_MS);
    let end = d1 + 3 * time::DAY_MS;
    let mut first = Vec::new();
    let mut second = Vec::new();
    let mut third = Vec::new();
    for s in &specs {
        first.extend(fenhe_sim::capture(s, d1, late_from));
        first.extend(fenhe_sim::capture(s, late_to, d1 + time::DAY_MS));
        second.extend(fenhe_sim::capture(s, late_from, late_to));
        second.extend(fenhe_sim::capture(s, d1 + time::DAY_MS, d1 + 2 * time::DAY_MS));
        third.extend(fenhe_sim::capture(s, d1 + 2 * time::DAY_MS, end));
    }
    let a = dir.path().join("a.hj212");
    let b = dir.path().join("b.hj212");
    let c = dir.path().join("c.hj212");
    std::fs::write(&a, &first).unwrap();
    std::fs::write(&b, &second).unwrap();
    std::fs::write(&c, &third).unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(ingest(&db, &registry, &first));
    fenhe(&["compliance", "run", "--db", &db]);
    let missing = rt.block_on(stored_hours(&db, GAS, late_from, late_to));
    assert!(!missing.is_empty(), "the missing hour is judged, as without data");
    assert!(missing.values().all(|v| v.contains("no_data")), "{missing:?}");
    rt.block_on(ingest(&db, &registry, &second));
    fenhe(&["compliance", "run", "--db", &db]);
    // The late hour re-opened: it is judged now, for the same factors.
    let late = rt.block_on(stored_hours(&db, GAS, late_from, late_to));
    assert!(late.keys().eq(missing.keys()), "{missing:?} then {late:?}");
    assert!(late.values().all(|v| !v.contains("no_data")), "{late:?}");
    rt.block_on(ingest(&db, &registry, &third));
    fenhe(&["compliance", "run", "--db", &db]);

    let report = dir.path().join("r.json");
    fenhe(&[
        "replay",
        "--registry",
        reg_file.to_str().unwrap(),
        "--input",
        a.to_str().unwrap(),
        "--input",
        b.to_str().unwrap(),
        "--input",
        c.to_str().unwrap(),
        "--out",
        report.to_str().unwrap(),
    ]);
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();

    let live = rt.block_on(live_rows(&db, d1, end));
    let offline = replay_rows(&r, d1, end);
    let only_live: Vec<_> = live.iter().filter(|(k, _)| !offline.contains_key(*k)).collect();
    let only_offline: Vec<_> = offline.iter().filter(|(k, _)| !live.contains_key(*k)).collect();
    assert!(
        only_live.is_empty() && only_offline.is_empty(),
        "live only: {only_live:#?}\nreplay only: {only_offline:#?}"
    );
    for (k, v) in &offline {
        assert_eq!(live.get(k), Some(v), "{k}");
    }
    // The scenarios are visible: an SO2 episode across midnight, a water COD day episode, the
    // constant dust run and the calibration hour.
    let eps: Vec<&String> = offline.keys().filter(|k| k.starts_with("episode")).collect();
    assert!(eps.iter().any(|k| k.contains("a21026")), "{eps:?}");
    assert!(eps.iter().any(|k| k.contains("w01018")), "{eps:?}");
    let kinds: Vec<&String> = offline.keys().filter(|k| k.starts_with("finding")).collect();
    assert!(kinds.iter().any(|k| k.contains("constant_value")), "{kinds:?}");
    assert!(kinds.iter().any(|k| k.contains("calibration")), "{kinds:?}");
    // The runs across the second midnight came out whole, though judged in two cycles.
    let second_midnight = d1 + 2 * time::DAY_MS;
    for (kind, mn) in [("constant_value", GAS), ("maintenance", WATER), ("offline", GAS2)] {
        let across: Vec<_> = offline
            .iter()
            .filter(|(k, v)| {
                k.contains(kind) && k.contains(mn) && {
                    let start: i64 = k.rsplit(' ').next().unwrap().parse().unwrap();
                    let end: i64 = v.split(' ').next().unwrap().parse().unwrap();
                    start < second_midnight && end > second_midnight
                }
            })
            .collect();
        assert!(!across.is_empty(), "no {kind} finding across the second midnight: {kinds:?}");
    }

    // Live, the days of silence since the capture count: the month expects more than came.
    let month = rt.block_on(async {
        let store = fenhe_store::open(&db).await.unwrap();
        let q = RateQuery { mn: Some(GAS.into()), period: Some(Period::Month), ..Default::default() };
        store.rates(&q).await.unwrap()
    });
    assert!(month[0].expected > month[0].received && month[0].transmission < 0.5, "{month:?}");

    // Idempotent: another run finds nothing to do and changes nothing.
    let out = fenhe(&["compliance", "run", "--db", &db]);
    assert!(out.contains("0 device-day(s)"), "{out}");
    assert_eq!(rt.block_on(live_rows(&db, d1, end)), live);

    // Rates summed per enterprise and for the city: counts add up, ratios are taken after.
    // (The capture's three days; live, the days of silence since then have rates too.)
    let range = ["--from", "2026-11-01", "--to", "2026-11-04"];
    let ents = fenhe(
        &[&["compliance", "rates", "--db", &db, "--by", "enterprise", "--format", "json"][..], &range]
            .concat(),
    );
    let ents: Vec<Value> = ents.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let city = fenhe(
        &[&["compliance", "rates", "--db", &db, "--by", "city", "--format", "json"][..], &range].concat(),
    );
    let city: Vec<Value> = city.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(city.len(), 3, "{city:?}"); // three days
    for c in &city {
        let same_day: Vec<&Value> = ents.iter().filter(|e| e["start"] == c["start"]).collect();
        let sum = |k: &str| same_day.iter().map(|e| e[k].as_u64().unwrap()).sum::<u64>();
        assert_eq!(c["expected"].as_u64().unwrap(), sum("expected"));
        assert_eq!(c["judged_hours"].as_u64().unwrap(), sum("judged_hours"));
        let t = c["received"].as_f64().unwrap() / c["expected"].as_f64().unwrap();
        assert!((c["transmission"].as_f64().unwrap() - t).abs() < 1e-12);
    }

    // New parameters re-judge everything: with 61 minutes required no hour is valid; back to
    // the defaults, the results are what they were.
    let out = fenhe(&["compliance", "run", "--db", &db, "--param", "hour_min_valid_minutes=61"]);
    assert!(out.contains("re-judging"), "{out}");
    let strict = rt.block_on(stored_hours(&db, GAS, d1, d1 + time::HOUR_MS));
    assert!(!strict.is_empty(), "the first hour is judged again");
    assert!(strict.values().all(|v| v == "insufficient_coverage" || v == "no_data"), "{strict:?}");
    let out = fenhe(&["compliance", "run", "--db", &db]);
    assert!(out.contains("re-judging"), "{out}");
    assert_eq!(rt.block_on(live_rows(&db, d1, end)), live);

    // Alarms: one per episode, with Chinese titles.
    let alarms = fenhe(&["alarms", "list", "--db", &db, "--kind", "exceedance", "--format", "json"]);
    let alarms: Vec<Value> = alarms.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // One standing alarm per episode; the NOx episode that the missing 10:00 hour had cut in two
    // became one when the hour arrived, so the alarm of its second half was withdrawn (kept).
    let standing: Vec<&Value> = alarms.iter().filter(|a| a["resolution"] != "withdrawn").collect();
    assert_eq!(standing.len(), eps.len(), "{alarms:?}");
    let late = d1 + 11 * time::HOUR_MS;
    assert!(
        alarms.iter().any(|a| a["resolution"] == "withdrawn" && a["start"] == fenhe_iso(late)),
        "{alarms:?}"
    );
    assert!(
        alarms
            .iter()
            .any(|a| a["factor"] == "a21026" && a["title_zh"].as_str().unwrap().contains("二氧化硫"))
    );
    // The permit: the enterprise's NOx passed its whole annual total.
    let gas_enterprise = &registry.outlets[0].enterprise;
    let permits = fenhe(&["alarms", "list", "--db", &db, "--kind", "permit_share", "--format", "json"]);
    let permits: Vec<Value> = permits.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(permits.len(), 1, "{permits:?}");
    assert_eq!(&permits[0]["mn"], gas_enterprise);
    assert!(permits[0]["detail_zh"].as_str().unwrap().contains("预警线 100 %"), "{permits:?}");
    let rt_alarms = rt.block_on(async {
        let store = fenhe_store::open(&db).await.unwrap();
        store.alarms(&AlarmQuery::default()).await.unwrap()
    });
    assert!(rt_alarms.len() >= alarms.len());
}

async fn stored_hours(db: &str, mn: &str, from: i64, to: i64) -> Rows {
    let store = fenhe_store::open(db).await.unwrap();
    let q = AggregateQuery {
        mn: Some(mn.into()),
        period: Some(Period::Hour),
        from: Some(from),
        to: Some(to),
        ..Default::default()
    };
    store
        .aggregates(&q)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.factor.clone(), a.reason.map(|r| r.name()).unwrap_or("valid").to_string()))
        .collect()
}

async fn live_rows(db: &str, from: i64, to: i64) -> Rows {
    let store = fenhe_store::open(db).await.unwrap();
    let mut rows = Rows::new();
    for mn in [GAS, WATER, GAS2] {
        let q = AggregateQuery { mn: Some(mn.into()), from: Some(from), to: Some(to), ..Default::default() };
        for a in store.aggregates(&q).await.unwrap() {
            rows.insert(
                format!("{:?} {} {} {}", a.period, a.mn, a.factor, a.start),
                format!(
                    "{} {} {} {} {} {} {:?} {} {}",
                    num(a.mean),
                    num(a.converted_mean),
                    num(a.min),
                    num(a.max),
                    a.valid_units,
                    a.valid,
                    a.reason.map(|r| r.name()),
                    num(a.limit),
                    a.exceeds
                ),
            );
        }
        let q = EpisodeQuery { mn: Some(mn.into()), from: Some(from), to: Some(to), ..Default::default() };
        for e in store.episodes(&q).await.unwrap() {
            rows.insert(
                format!("episode {} {} {}", e.mn, e.factor, e.start),
                format!(
                    "{} {} {} {}",
                    e.end,
                    e.periods,
                    num(Some(e.max_converted)),
                    num(Some(e.max_multiple))
                ),
            );
        }
        let q = EmissionQuery { mn: Some(mn.into()), from: Some(from), to: Some(to), ..Default::default() };
        for e in store.emissions(&q).await.unwrap() {
            rows.insert(
                format!("emission {:?} {} {} {}", e.period, e.mn, e.factor, e.start),
                num(Some(e.kg)),
            );
        }
        let q = RateQuery { mn: Some(mn.into()), from: Some(from), to: Some(to), ..Default::default() };
        for r in store.rates(&q).await.unwrap() {
            // Live, the month runs on to today with the devices silent since the capture: its
            // expected count is the live engine's alone (checked apart).
            if r.period == Period::Month {
                continue;
            }
            rows.insert(
                format!("rate {:?} {} {}", r.period, r.mn, r.start),
                format!("{} {} {} {}", r.expected, r.received, r.valid, num(r.compliance)),
            );
        }
        let q = FindingQuery { mn: Some(mn.into()), from: Some(from), to: Some(to), ..Default::default() };
        for f in store.findings(&q).await.unwrap() {
            // Live, the device has been silent since the capture ended: that finding is the
            // live engine's alone.
            if f.kind.name() == "offline" && f.end > to {
                continue;
            }
            rows.insert(
                format!(
                    "finding {} {} {} {}",
                    f.mn,
                    f.kind.name(),
                    f.factor.as_deref().unwrap_or("-"),
                    f.start
                ),
                format!("{} {}", f.end, f.detail),
            );
        }
    }
    rows
}

fn replay_rows(r: &Value, from: i64, to: i64) -> Rows {
    let mut rows = Rows::new();
    let inside = |s: &Value| {
        let t = iso_ms(s.as_str().unwrap());
        (t >= from && t < to).then_some(t)
    };
    for (table, period, units) in [("hours", "Hour", "valid_minutes"), ("days", "Day", "valid_hours")] {
        let key = if period == "Hour" { "hour_start" } else { "day_start" };
        for h in r[table].as_array().unwrap() {
            let Some(start) = inside(&h[key]) else { continue };
            rows.insert(
                format!("{period} {} {} {start}", h["mn"].as_str().unwrap(), h["factor"].as_str().unwrap()),
                format!(
                    "{} {} {} {} {} {} {:?} {} {}",
                    json_num(&h["mean"]),
                    json_num(&h["converted_mean"]),
                    json_num(&h["min"]),
                    json_num(&h["max"]),
                    h[units],
                    h["valid"],
                    h["reason"].as_str(),
                    json_num(&h["limit"]),
                    h["exceeds"]
                ),
            );
        }
    }
    for e in r["episodes"].as_array().unwrap() {
        let Some(start) = inside(&e["start"]) else { continue };
        rows.insert(
            format!("episode {} {} {start}", e["mn"].as_str().unwrap(), e["factor"].as_str().unwrap()),
            format!(
                "{} {} {} {}",
                iso_ms(e["end"].as_str().unwrap()),
                e["periods"],
                json_num(&e["max_converted"]),
                json_num(&e["max_multiple"])
            ),
        );
    }
    for e in r["emissions"].as_array().unwrap() {
        let Some(start) = inside(&e["start"]) else { continue };
        let period = match e["period"].as_str().unwrap() {
            "hour" => "Hour",
            "day" => "Day",
            _ => "Month",
        };
        rows.insert(
            format!(
                "emission {period} {} {} {start}",
                e["mn"].as_str().unwrap(),
                e["factor"].as_str().unwrap()
            ),
            json_num(&e["kg"]),
        );
    }
    for x in r["rates"].as_array().unwrap() {
        let Some(start) = inside(&x["start"]) else { continue };
        if x["period"] != "day" {
            continue;
        }
        let period = "Day";
        rows.insert(
            format!("rate {period} {} {start}", x["mn"].as_str().unwrap()),
            format!("{} {} {} {}", x["expected"], x["received"], x["valid"], json_num(&x["compliance"])),
        );
    }
    for f in r["quality"].as_array().unwrap() {
        let Some(start) = inside(&f["start"]) else { continue };
        rows.insert(
            format!(
                "finding {} {} {} {start}",
                f["mn"].as_str().unwrap(),
                f["kind"].as_str().unwrap(),
                f["factor"].as_str().unwrap_or("-")
            ),
            format!("{} {}", iso_ms(f["end"].as_str().unwrap()), f["detail"].as_str().unwrap()),
        );
    }
    rows
}

fn fenhe_fails(args: &[&str]) -> String {
    let out = Command::new(bin()).args(args).env_remove("FENHE_DB").output().unwrap();
    assert!(!out.status.success(), "fenhe {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Replay without a registry (a log and a permit), CSV tables, and clear errors for bad input.
#[test]
fn replay_with_limits_only_csv_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_, specs) = setup();
    let cap = dir.path().join("gas.log");
    std::fs::write(&cap, fenhe_sim::capture(&specs[0], day1(), day1() + time::DAY_MS)).unwrap();
    let cap = cap.to_str().unwrap();
    let out = dir.path().join("tables");
    let out_s = out.to_str().unwrap();
    fenhe(&[
        "replay", "--input", cap, "--limit", "02=35", "--ref-o2", "8", "--out", out_s, "--format", "csv",
    ]);
    for t in ["hours", "days", "episodes", "quality", "emissions", "rates", "not_counted", "parameters"] {
        let text = std::fs::read_to_string(out.join(format!("{t}.csv"))).unwrap();
        assert!(text.starts_with('\u{feff}'), "{t}.csv has no BOM");
    }
    let hours = std::fs::read_to_string(out.join("hours.csv")).unwrap();
    // The 2005 code 02 is SO2's: its hours carry the limit, the other factors none.
    assert!(hours.lines().any(|l| l.contains(",a21026,") && l.contains(",35.0,")), "{hours}");
    let days = std::fs::read_to_string(out.join("days.csv")).unwrap();
    assert_eq!(days.lines().count(), 1 + 6, "{days}");
    let params = std::fs::read_to_string(out.join("parameters.csv")).unwrap();
    assert!(params.contains("hour_min_valid_minutes,45"), "{params}");

    let e = fenhe_fails(&["replay", "--input", "/nonexistent/x.log", "--out", "r.json"]);
    assert!(e.contains("/nonexistent/x.log"), "{e}");
    let e =
        fenhe_fails(&["replay", "--input", cap, "--param", "hour_min_valid_minutes=x", "--out", "r.json"]);
    assert!(e.contains("hour_min_valid_minutes") && e.contains("whole number"), "{e}");
    let e = fenhe_fails(&["replay", "--input", cap, "--limit", "a21026", "--out", "r.json"]);
    assert!(e.contains("FACTOR=VALUE"), "{e}");
    let e = fenhe_fails(&["replay", "--input", cap, "--ref-o2", "21", "--out", "r.json"]);
    assert!(e.contains("--ref-o2"), "{e}");
}
