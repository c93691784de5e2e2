//! `fenhe bench compliance`: the compliance engine's three speed targets (issue 4), measured
//! in-process on SQLite.
//!
//! 1. Full recomputation: a fresh database gets a registry of N flue-gas outlets (one device
//!    each, 1-minute data, K factors including O2 and flow, limits), then D days of minute data
//!    written with `Store::write_batch` in large batches (timed apart). Every device-day is then
//!    dirty; one `run_cycle` judges them all and is timed, split into loading, evaluating, saving
//!    and re-deriving episodes, months and alarms.
//! 2. Incremental: a second database with a city of M outlets and a base history (judged once,
//!    untimed); then, C times, one new minute for every device and one timed `run_cycle`.
//! 3. Replay: simulated devices' uploads (`fenhe_sim::capture`, 1-minute and hourly data) for a
//!    number of days, one capture file per device; then `fenhe replay`'s path end to end on this
//!    thread: read, judge, de-duplicate, evaluate, build the report, write it as JSON.
//!
//! Method and figures are in docs/BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use fenhe_core::china_time as time;
use fenhe_core::compliance::Params;
use fenhe_core::{CrcPolicy, Device, Limit, Measurement, OutletKind, Protocol, Registry, Values, Verdict};
use fenhe_core::{FrameRecord, Outlet};
use fenhe_ingest::capture_judge::CaptureOptions;
use fenhe_store::{IngestItem, Store};
use serde::Serialize;

use super::ComplianceArgs;
use fenhe_app::engine::{self, CycleReport};
use fenhe_app::replay::{self, ReplayRequest};
use fenhe_core::compliance::Overrides;

/// Factors of the generated outlets, in order: `--factors K` takes the first K.
const FACTORS: [&str; 10] = [
    "a34013", // particulate matter, mg/m³
    "a21026", // SO2
    "a21002", // NOx
    "a19001", // O2, %
    "a00000", // flue gas flow, m³/s
    "a01012", // temperature, °C
    "a01011", // velocity, m/s
    "a01013", // pressure, kPa
    "a01014", // humidity, %
    "a21005", // CO
];
/// Pollutants with limits (and a device-converted ZsAvg).
const POLLUTANTS: [(&str, f64); 3] = [("a34013", 10.0), ("a21026", 35.0), ("a21002", 50.0)];
const PASSWORD: &str = "123456";
/// 2026-03-01 00:00 China time: the generated month.
fn month_start() -> i64 {
    time::date_start(jiff::civil::date(2026, 3, 1))
}
/// Measurements per `write_batch` call while generating.
const BATCH_ITEMS: usize = 4_096;

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub full: Option<FullReport>,
    pub incremental: Option<IncrementalReport>,
    pub replay: Option<ReplayReport>,
}

#[derive(Debug, Serialize)]
pub struct FullReport {
    pub outlets: usize,
    pub factors: usize,
    pub days: u32,
    /// Minute values written (outlets × factors × days × 1440).
    pub values: u64,
    pub generate_s: f64,
    pub db_bytes_after_generate: u64,
    pub db_bytes_after_engine: u64,
    pub engine: CycleFigures,
    pub values_per_s: f64,
}

#[derive(Debug, Serialize)]
pub struct CycleFigures {
    pub seconds: f64,
    pub devices: usize,
    pub device_days: usize,
    pub records_loaded: usize,
    pub hours: usize,
    pub episodes: usize,
    pub findings: usize,
    pub alarms_raised: u32,
    pub load_s: f64,
    /// CPU time of `evaluate`, on a blocking thread beside the other steps.
    pub evaluate_s: f64,
    /// Time the cycle waited for evaluations (the part not hidden behind the other steps).
    pub evaluate_wait_s: f64,
    pub save_s: f64,
    pub derive_s: f64,
    pub dirty_s: f64,
    /// Wall time not in any of the steps above (permit shares, grouping).
    pub other_s: f64,
}

impl CycleFigures {
    fn from(r: &CycleReport, elapsed: Duration) -> CycleFigures {
        let t = &r.timings;
        // Evaluation overlaps the other steps; only the wait for it adds to the wall time.
        let steps = t.load + t.evaluate_wait + t.save + t.derive + t.dirty;
        CycleFigures {
            seconds: elapsed.as_secs_f64(),
            devices: r.devices,
            device_days: r.device_days,
            records_loaded: r.records,
            hours: r.hours,
            episodes: r.episodes,
            findings: r.findings,
            alarms_raised: r.alarms.raised,
            load_s: t.load.as_secs_f64(),
            evaluate_s: t.evaluate.as_secs_f64(),
            evaluate_wait_s: t.evaluate_wait.as_secs_f64(),
            save_s: t.save.as_secs_f64(),
            derive_s: t.derive.as_secs_f64(),
            dirty_s: t.dirty.as_secs_f64(),
            other_s: elapsed.saturating_sub(steps).as_secs_f64(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct IncrementalReport {
    pub outlets: usize,
    pub factors: usize,
    /// Whole days of base history before the day the new minutes arrive in.
    pub history_days: u32,
    pub history_values: u64,
    pub generate_s: f64,
    /// The untimed cycle that judged the base history.
    pub base_cycle_s: f64,
    pub cycles: Vec<CycleFigures>,
    pub median_s: f64,
    pub max_s: f64,
}

#[derive(Debug, Serialize)]
pub struct ReplayReport {
    pub devices: usize,
    pub days: u32,
    pub capture_bytes: u64,
    pub frames: u64,
    /// Measurement records in accepted frames (what `fenhe replay` reports as records).
    pub records: u64,
    pub generate_s: f64,
    pub seconds: f64,
    pub records_per_s: f64,
    pub read_s: f64,
    pub judge_s: f64,
    pub dedup_s: f64,
    pub evaluate_s: f64,
    pub report_s: f64,
    pub write_json_s: f64,
    pub hours: usize,
    pub days_judged: usize,
    pub episodes: usize,
    pub report_bytes: u64,
}

pub fn run(a: ComplianceArgs) -> Result<ExitCode> {
    if a.outlets == 0 || a.factors == 0 || a.days == 0 {
        bail!("--outlets, --factors and --days must be at least 1");
    }
    if a.factors > FACTORS.len() {
        bail!("--factors {}: at most {}", a.factors, FACTORS.len());
    }
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!(
            "fenhe-bench-compliance-{}-{}",
            std::process::id(),
            fenhe_core::china_time::now_ms()
        )),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    eprintln!("fenhe bench compliance: working in {}", dir.display());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let only = |part: &str| a.only.is_empty() || a.only.iter().any(|o| o == part);
    let result = (|| -> Result<BenchReport> {
        let full = if only("full") { Some(rt.block_on(full(&a, &dir))?) } else { None };
        let incremental = if only("incremental") { Some(rt.block_on(incremental(&a, &dir))?) } else { None };
        let replay = if only("replay") { Some(replay_bench(&a, &dir)?) } else { None };
        Ok(BenchReport { full, incremental, replay })
    })();
    if !a.keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = result?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    Ok(ExitCode::SUCCESS)
}

/// `n` flue-gas outlets of one enterprise (the demo city's first), one 1-minute device each.
fn registry(prefix: &str, n: usize, codes: &[&str], hourly: bool) -> Result<Registry> {
    let city = fenhe_core::demo::city();
    let template =
        city.outlets.iter().find(|o| o.kind == OutletKind::FlueGas).context("no flue-gas outlet")?.clone();
    let enterprise =
        city.enterprises.iter().find(|e| e.id == template.enterprise).context("no enterprise")?.clone();
    let from = jiff::civil::date(2020, 1, 1);
    let mut outlets = Vec::with_capacity(n);
    let mut devices = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("{prefix}-DA{i:04}");
        outlets.push(Outlet {
            id: id.clone(),
            name: format!("{prefix} outlet {i}"),
            reference_o2: Some(6.0),
            limits: POLLUTANTS
                .iter()
                .filter(|(f, _)| codes.contains(f))
                .map(|(f, max)| Limit {
                    factor: (*f).into(),
                    max: Some(*max),
                    min: None,
                    effective_from: from,
                })
                .collect(),
            ..template.clone()
        });
        devices.push(Device {
            mn: mn(prefix, i),
            password: PASSWORD.into(),
            outlet: id,
            protocol: Protocol::V2017,
            crc: CrcPolicy::Standard,
            max_segment_len: 4096,
            rtd_interval_s: 30,
            minute_interval_min: 1,
            hourly,
            factors: codes.iter().map(|c| c.to_string()).collect(),
        });
    }
    let r = Registry { enterprises: vec![enterprise], outlets, devices };
    let problems = r.validate();
    if !problems.is_empty() {
        bail!("generated registry is invalid: {}", problems[0]);
    }
    Ok(r)
}

fn mn(prefix: &str, i: usize) -> String {
    let mut s = format!("{prefix}{i:0w$}", w = 24 - prefix.len());
    s.truncate(24);
    s
}

/// A cheap deterministic hash (SplitMix64) for the signal.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit(seed: u64) -> f64 {
    (mix(seed) >> 11) as f64 / (1u64 << 53) as f64
}

fn round(v: f64, decimals: i32) -> f64 {
    let p = 10f64.powi(decimals);
    (v * p).round() / p
}

/// The values of factor `k` of device `dev` for the minute starting at `t`: a smooth daily cycle
/// plus noise; about one hour in 97 per device, the pollutants run at 1.5–3× their limits (so
/// there are exceeding hours and episodes to judge and store).
fn values(dev: usize, k: usize, code: &str, t: i64) -> Values {
    let minute = (t / time::MINUTE_MS) as u64;
    let hour = minute / 60;
    let seed = (dev as u64) << 40 ^ (k as u64) << 32 ^ minute;
    let phase = ((minute % 1440) as f64 / 1440.0 * std::f64::consts::TAU).sin();
    let noise = unit(seed) - 0.5;
    let (avg, decimals) = match code {
        "a19001" => (10.0 + 1.5 * phase + noise, 2),
        "a00000" => (90.0 + 20.0 * phase + 4.0 * noise, 2),
        "a01012" => (150.0 + 15.0 * phase + 2.0 * noise, 1),
        "a01011" => (12.0 + 2.0 * phase + 0.5 * noise, 2),
        "a01013" => (101.0 + 0.3 * noise, 2),
        "a01014" => (8.0 + noise, 2),
        "a21005" => (30.0 + 10.0 * phase + 4.0 * noise, 2),
        _ => {
            let limit = POLLUTANTS.iter().find(|(f, _)| *f == code).map_or(50.0, |(_, l)| *l);
            let exceed = mix((dev as u64) << 32 ^ hour).is_multiple_of(97);
            let level = if exceed { 1.5 + 1.5 * unit(seed ^ 7) } else { 0.5 + 0.15 * phase + 0.1 * noise };
            (limit * level * 0.8, 2)
        }
    };
    let spread = avg.abs() * 0.02;
    let zs = POLLUTANTS.iter().any(|(f, _)| *f == code);
    Values {
        avg: Some(round(avg, decimals)),
        min: Some(round(avg - spread, decimals)),
        max: Some(round(avg + spread, decimals)),
        zs_avg: zs.then(|| round(avg * 1.25, decimals)),
        flag: Some("N".into()),
        ..Default::default()
    }
}

/// One device's minute packet at `t` as the gateway would store it (the frame's bytes are left
/// empty: nothing in the engine reads them, and the frames table would be as large as the rest).
fn minute_item(mn: &str, dev: usize, codes: &[&str], t: i64) -> IngestItem {
    IngestItem {
        frame: FrameRecord {
            received_at: t + time::MINUTE_MS + 5_000,
            peer: "bench".into(),
            mn: Some(mn.to_string()),
            cn: Some("2051".into()),
            bytes: Vec::new(),
            verdict: Verdict::Accepted,
            reason: None,
            deviations: String::new(),
        },
        measurements: codes
            .iter()
            .enumerate()
            .map(|(k, code)| Measurement {
                mn: mn.to_string(),
                cn: "2051".into(),
                data_time: t,
                factor: (*code).into(),
                raw_code: (*code).into(),
                values: values(dev, k, code, t),
            })
            .collect(),
    }
}

/// Write every device's minutes in `[from, to)` (day by day, all devices per day) in batches of
/// [`BATCH_ITEMS`] packets. Returns the values written.
async fn generate(store: &dyn Store, r: &Registry, codes: &[&str], from: i64, to: i64) -> Result<u64> {
    let mut batch = Vec::with_capacity(BATCH_ITEMS);
    let mut values = 0u64;
    let started = Instant::now();
    let mut day = from;
    while day < to {
        let day_end = (day + time::DAY_MS).min(to);
        for (dev, d) in r.devices.iter().enumerate() {
            let mut t = day;
            while t < day_end {
                batch.push(minute_item(&d.mn, dev, codes, t));
                if batch.len() == BATCH_ITEMS {
                    values += flush(store, &mut batch).await?;
                }
                t += time::MINUTE_MS;
            }
        }
        values += flush(store, &mut batch).await?;
        eprintln!(
            "    {} written: {values} values, {:.0} values/s",
            fenhe_core::china_time::iso(day),
            values as f64 / started.elapsed().as_secs_f64()
        );
        day = day_end;
    }
    Ok(values)
}

async fn flush(store: &dyn Store, batch: &mut Vec<IngestItem>) -> Result<u64> {
    if batch.is_empty() {
        return Ok(0);
    }
    let out = store.write_batch(batch).await?;
    let inserted: u64 = out.iter().map(|o| u64::from(o.inserted)).sum();
    let expected: u64 = batch.iter().map(|i| i.measurements.len() as u64).sum();
    if inserted != expected {
        bail!("write_batch inserted {inserted} of {expected} measurements");
    }
    batch.clear();
    Ok(inserted)
}

/// Record `params` as the ones the stored results come from, as a running engine has, so the
/// timed cycle judges the dirty days only (a first cycle would mark every device-day dirty).
async fn record_params(store: &dyn Store, params: &Params) -> Result<()> {
    store.set_engine_state(engine::PARAMS_STATE, &serde_json::to_string(params)?).await?;
    Ok(())
}

/// Bytes of an SQLite database with its WAL and shared-memory files.
pub(super) fn db_bytes(db: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", db.display())).ok())
        .map(|m| m.len())
        .sum()
}

/// A new database at `db` (an earlier file there is removed first).
pub(super) async fn open(db: &Path) -> Result<std::sync::Arc<dyn Store>> {
    let _ = std::fs::remove_file(db);
    let s = db.display().to_string();
    fenhe_store::open(&s).await.with_context(|| format!("cannot open {s}"))
}

async fn full(a: &ComplianceArgs, dir: &Path) -> Result<FullReport> {
    let codes = &FACTORS[..a.factors];
    let db = dir.join("full.db");
    eprintln!(
        "  full recomputation: {} outlets × {} factors × {} days of 1-minute data into {}",
        a.outlets,
        a.factors,
        a.days,
        db.display()
    );
    let from = month_start();
    let to = from + i64::from(a.days) * time::DAY_MS;
    let t = Instant::now();
    let (store, values) = if a.reuse && db.exists() {
        // The data of an earlier run with the same options (--keep --dir): judge it all again.
        let s = db.display().to_string();
        let store = fenhe_store::open(&s).await.with_context(|| format!("cannot open {s}"))?;
        let marked = store.mark_all_dirty().await?;
        eprintln!("  reusing {s}: {marked} device-days marked dirty");
        (store, (a.outlets * a.factors) as u64 * u64::from(a.days) * 1440)
    } else {
        let store = open(&db).await?;
        store.import_registry(&registry("BFULL", a.outlets, codes, false)?).await?;
        let registry = store.registry().await?;
        let values = generate(store.as_ref(), &registry, codes, from, to).await?;
        (store, values)
    };
    let registry = store.registry().await?;
    let params = Params::default();
    record_params(store.as_ref(), &params).await?;
    let generate_s = t.elapsed().as_secs_f64();
    let db_bytes_after_generate = db_bytes(&db);
    eprintln!(
        "  generated {values} values in {generate_s:.1} s ({:.1} MB); judging every device-day",
        db_bytes_after_generate as f64 / 1e6
    );
    let now = to + time::MINUTE_MS;
    let t = Instant::now();
    let r = engine::run_cycle(store.as_ref(), &registry, &params, now).await?;
    let engine = CycleFigures::from(&r, t.elapsed());
    if r.device_days != a.outlets * a.days as usize {
        bail!("the engine judged {} device-days, expected {}", r.device_days, a.outlets * a.days as usize);
    }
    let values_per_s = values as f64 / engine.seconds;
    eprintln!("  engine: {:.2} s, {:.0} values/s", engine.seconds, values_per_s);
    drop(store);
    Ok(FullReport {
        outlets: a.outlets,
        factors: a.factors,
        days: a.days,
        values,
        generate_s,
        db_bytes_after_generate,
        db_bytes_after_engine: db_bytes(&db),
        engine,
        values_per_s,
    })
}

async fn incremental(a: &ComplianceArgs, dir: &Path) -> Result<IncrementalReport> {
    let codes = &FACTORS[..a.factors];
    let db = dir.join("city.db");
    // The history runs from the first of the month through 14:29 of the day after the whole days,
    // so each new minute lands in a day that already holds most of its data.
    let from = month_start();
    let mut next = from + i64::from(a.city_days) * time::DAY_MS + 14 * time::HOUR_MS + 30 * time::MINUTE_MS;
    eprintln!(
        "  incremental: {} outlets, base history {} days + 14.5 hours, {} cycles",
        a.city_outlets, a.city_days, a.cycles
    );
    let store = open(&db).await?;
    store.import_registry(&registry("BCITY", a.city_outlets, codes, false)?).await?;
    let registry = store.registry().await?;
    let t = Instant::now();
    let history_values = generate(store.as_ref(), &registry, codes, from, next).await?;
    let generate_s = t.elapsed().as_secs_f64();
    let params = Params::default();
    record_params(store.as_ref(), &params).await?;
    let t = Instant::now();
    let base = engine::run_cycle(store.as_ref(), &registry, &params, next + 30_000).await?;
    let base_cycle_s = t.elapsed().as_secs_f64();
    eprintln!(
        "  base history: {history_values} values in {generate_s:.1} s, judged in {base_cycle_s:.1} s ({} device-days)",
        base.device_days
    );
    let mut cycles = Vec::new();
    for _ in 0..a.cycles {
        let mut batch: Vec<IngestItem> =
            registry.devices.iter().enumerate().map(|(i, d)| minute_item(&d.mn, i, codes, next)).collect();
        flush(store.as_ref(), &mut batch).await?;
        next += time::MINUTE_MS;
        let t = Instant::now();
        let r = engine::run_cycle(store.as_ref(), &registry, &params, next + 30_000).await?;
        let c = CycleFigures::from(&r, t.elapsed());
        if r.device_days != a.city_outlets {
            bail!("the cycle judged {} device-days, expected {}", r.device_days, a.city_outlets);
        }
        eprintln!(
            "    cycle: {:.3} s ({} device-days, {} records)",
            c.seconds, c.device_days, c.records_loaded
        );
        cycles.push(c);
    }
    drop(store);
    let mut secs: Vec<f64> = cycles.iter().map(|c| c.seconds).collect();
    secs.sort_by(f64::total_cmp);
    Ok(IncrementalReport {
        outlets: a.city_outlets,
        factors: a.factors,
        history_days: a.city_days,
        history_values,
        generate_s,
        base_cycle_s,
        median_s: secs.get(secs.len() / 2).copied().unwrap_or(0.0),
        max_s: secs.last().copied().unwrap_or(0.0),
        cycles,
    })
}

fn replay_bench(a: &ComplianceArgs, dir: &Path) -> Result<ReplayReport> {
    let n = a.replay_devices;
    let codes = fenhe_sim::signal::GAS_CODES;
    let reg = registry("BREPLAY", n, &codes, true)?;
    eprintln!("  replay: {n} simulated devices × {} days of 1-minute and hourly data", a.replay_days);
    let from = month_start();
    let to = from + i64::from(a.replay_days) * time::DAY_MS;
    let t = Instant::now();
    let mut inputs: Vec<PathBuf> = Vec::with_capacity(n);
    let mut capture_bytes = 0u64;
    for (i, d) in reg.devices.iter().enumerate() {
        let mut spec = fenhe_sim::DeviceSpec::flue_gas(d.mn.clone(), 1000 + i as u64);
        spec.password = PASSWORD.into();
        spec.minute_interval_min = 1;
        let bytes = fenhe_sim::capture(&spec, from, to);
        capture_bytes += bytes.len() as u64;
        let path = dir.join(format!("capture-{i:04}.hj212"));
        std::fs::write(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        inputs.push(path);
    }
    // Beside the captures, so `fenhe replay --registry` can replay them by hand (profiling).
    let reg_path = dir.join("registry.json");
    std::fs::write(&reg_path, fenhe_app::registry_files::to_json(&reg)?)
        .with_context(|| format!("writing {}", reg_path.display()))?;
    let generate_s = t.elapsed().as_secs_f64();
    eprintln!("  captures: {:.1} MB in {generate_s:.1} s; replaying", capture_bytes as f64 / 1e6);
    let req = ReplayRequest {
        registry: Some(reg),
        inputs,
        params: Params::default(),
        overrides: Overrides::default(),
        capture: CaptureOptions::default(),
        as_of: None,
    };
    let out = dir.join("replay-report.json");
    let t = Instant::now();
    let (report, timings) = replay::replay_timed(&req)?;
    let tw = Instant::now();
    report.write_json(&out)?;
    let write_json = tw.elapsed();
    let seconds = t.elapsed().as_secs_f64();
    let records: u64 = report.input.files.iter().map(|f| f.records).sum();
    let frames: u64 = report.input.files.iter().map(|f| f.frames).sum();
    let accepted: u64 = report.input.files.iter().map(|f| f.accepted).sum();
    if accepted != frames {
        bail!("replay accepted {accepted} of {frames} frames");
    }
    let records_per_s = records as f64 / seconds;
    eprintln!("  replay: {records} records in {seconds:.2} s, {records_per_s:.0} records/s");
    Ok(ReplayReport {
        devices: n,
        days: a.replay_days,
        capture_bytes,
        frames,
        records,
        generate_s,
        seconds,
        records_per_s,
        read_s: timings.read.io.as_secs_f64(),
        judge_s: timings.read.judge.as_secs_f64(),
        dedup_s: timings.read.dedup.as_secs_f64(),
        evaluate_s: timings.evaluate.as_secs_f64(),
        report_s: timings.report.as_secs_f64(),
        write_json_s: write_json.as_secs_f64(),
        hours: report.hours.len(),
        days_judged: report.days.len(),
        episodes: report.episodes.len(),
        report_bytes: std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0),
    })
}

fn print_cycle(label: &str, c: &CycleFigures) {
    println!(
        "{label}: {:.3} s — load {:.3} s, evaluate {:.3} s (waited for {:.3} s), save {:.3} s, \
         episodes/months/alarms {:.3} s, dirty marks {:.3} s, other {:.3} s",
        c.seconds, c.load_s, c.evaluate_s, c.evaluate_wait_s, c.save_s, c.derive_s, c.dirty_s, c.other_s
    );
    println!(
        "  {} devices, {} device-days, {} records loaded, {} hours, {} episodes, {} findings, {} alarms raised",
        c.devices, c.device_days, c.records_loaded, c.hours, c.episodes, c.findings, c.alarms_raised
    );
}

fn print_text(r: &BenchReport) {
    if let Some(f) = &r.full {
        println!(
            "full recomputation: {} outlets × {} factors × {} days = {} values (generated in {:.1} s; \
             database {:.0} MB, {:.0} MB after the engine)",
            f.outlets,
            f.factors,
            f.days,
            f.values,
            f.generate_s,
            f.db_bytes_after_generate as f64 / 1e6,
            f.db_bytes_after_engine as f64 / 1e6
        );
        print_cycle("  engine", &f.engine);
        println!("  {:.0} values/s (target: the whole month in ≤ 60 s)", f.values_per_s);
    }
    if let Some(i) = &r.incremental {
        println!(
            "incremental: {} outlets × {} factors, {} days of history ({} values, generated in {:.1} s, judged in {:.1} s)",
            i.outlets, i.factors, i.history_days, i.history_values, i.generate_s, i.base_cycle_s
        );
        for (n, c) in i.cycles.iter().enumerate() {
            print_cycle(&format!("  cycle {}", n + 1), c);
        }
        println!("  median {:.3} s, max {:.3} s (target ≤ 1 s)", i.median_s, i.max_s);
    }
    if let Some(p) = &r.replay {
        println!(
            "replay: {} devices × {} days: {} frames, {} records, {:.1} MB of captures (generated in {:.1} s)",
            p.devices,
            p.days,
            p.frames,
            p.records,
            p.capture_bytes as f64 / 1e6,
            p.generate_s
        );
        println!(
            "  {:.2} s end to end, {:.0} records/s (target ≥ 1,000,000) — read {:.3} s, judge {:.3} s, \
             de-duplicate {:.3} s, evaluate {:.3} s, report rows {:.3} s, write JSON {:.3} s",
            p.seconds,
            p.records_per_s,
            p.read_s,
            p.judge_s,
            p.dedup_s,
            p.evaluate_s,
            p.report_s,
            p.write_json_s
        );
        println!(
            "  {} hours, {} days, {} episodes; report {:.1} MB",
            p.hours,
            p.days_judged,
            p.episodes,
            p.report_bytes as f64 / 1e6
        );
    }
}
