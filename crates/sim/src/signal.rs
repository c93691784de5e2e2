//! The signal model: what a device measures, as a pure function of its spec and the time.
//!
//! Everything is built from one sample per minute ([`minute`] index = epoch milliseconds / 60 000),
//! computed from stateless hashes of (seed, stream, minute), so any period can be computed on its
//! own and always gives the same numbers: a history answer equals the original upload, and tests
//! can predict every value.
//!
//! Flue gas: a daily load cycle with slow wander drives flow (60–120 m³/s), temperature
//! (120–180 °C) and, inversely, O2 (8–14 %). Converted concentrations wander on their own (SO2
//! 10–25, NOx 80–140, PM 3–8 mg/m³ at the reference O2) and the measured ones follow from O2.
//! Wastewater: a daytime flow peak (20–60 L/s), COD 20–45, NH3-N 0.5–3, TP 0.1–0.4, TN 5–12 mg/L,
//! pH 6.8–8.2. Scenarios ([`crate::Scenario`]) bend these.

use crate::rng::{signed, smooth, unit};
use crate::spec::{
    DAY_MS, DeviceSpec, HOUR_MS, Kind, MINUTE_MS, SHUTDOWN_RAMP_MIN, STARTUP_RAMP_MIN, Scenario,
};

/// Flue-gas factors in packet order: PM, SO2, NOx, O2, temperature, flow.
pub const GAS_CODES: [&str; 6] = ["a34013", "a21026", "a21002", "a19001", "a01012", "a00000"];
/// Wastewater factors in packet order: COD, NH3-N, TP, TN, pH, flow.
pub const WATER_CODES: [&str; 6] = ["w01018", "w21003", "w21011", "w21001", "w01001", "w00000"];

const N: usize = 6;
const FLOW: usize = 5;
const O2: usize = 3;
const PH: usize = 4;

/// O2 at or above which a flue is treated as stopped and concentrations are not converted.
pub const O2_STOPPED: f64 = 19.0;

struct Table {
    codes: [&'static str; N],
    decimals: [u8; N],
    /// Analysers: affected by data-flag scenarios.
    analyser: [bool; N],
    /// Concentrations with an emitted amount (`Cou`, kg).
    mass: [bool; N],
    zero: [f64; N],
    span: [f64; N],
}

const GAS: Table = Table {
    codes: GAS_CODES,
    decimals: [2, 2, 2, 2, 1, 2],
    analyser: [true, true, true, true, false, false],
    mass: [true, true, true, false, false, false],
    zero: [0.0; N],
    span: [20.0, 60.0, 200.0, 20.9, 0.0, 0.0],
};

const WATER: Table = Table {
    codes: WATER_CODES,
    decimals: [2, 3, 3, 2, 2, 2],
    analyser: [true, true, true, true, true, false],
    mass: [true, true, true, true, false, false],
    zero: [0.0, 0.0, 0.0, 0.0, 4.0, 0.0],
    span: [100.0, 5.0, 1.0, 20.0, 9.18, 0.0],
};

/// The typical (middle) converted level of each concentration factor of `kind`, mg/m³ or mg/L,
/// which [`DeviceSpec::fit_to_limits`] scales from.
pub fn typical_levels(kind: Kind) -> &'static [(&'static str, f64)] {
    match kind {
        Kind::FlueGas { .. } => &[("a34013", 5.5), ("a21026", 17.5), ("a21002", 110.0)],
        Kind::Wastewater => &[("w01018", 32.0), ("w21003", 1.6), ("w21011", 0.25), ("w21001", 8.5)],
    }
}

fn table(kind: Kind) -> &'static Table {
    match kind {
        Kind::FlueGas { .. } => &GAS,
        Kind::Wastewater => &WATER,
    }
}

/// Which data a packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// Real-time data (2011): Rtd, ZsRtd, Flag at one instant.
    Realtime,
    /// Minute data (2051) over the device's minute interval.
    Minute,
    /// Hourly data (2061).
    Hour,
    /// Daily data (2031), over a local (UTC+8) day.
    Day,
}

impl Period {
    /// The upload's command code.
    pub fn cn(self) -> &'static str {
        match self {
            Period::Realtime => "2011",
            Period::Minute => "2051",
            Period::Hour => "2061",
            Period::Day => "2031",
        }
    }

    /// The period of a history request's command code (2031, 2051, 2061).
    pub fn from_history_cn(cn: &str) -> Option<Period> {
        match cn {
            "2031" => Some(Period::Day),
            "2051" => Some(Period::Minute),
            "2061" => Some(Period::Hour),
            _ => None,
        }
    }

    /// Length in milliseconds, for a device with `minute_interval_min` (0 for real-time).
    pub fn len_ms(self, minute_interval_min: u32) -> i64 {
        match self {
            Period::Realtime => 0,
            Period::Minute => i64::from(minute_interval_min.max(1)) * MINUTE_MS,
            Period::Hour => HOUR_MS,
            Period::Day => DAY_MS,
        }
    }

    /// The start of the period containing `t_ms` (days begin at local midnight, UTC+8).
    pub fn floor(self, minute_interval_min: u32, t_ms: i64) -> i64 {
        const CST: i64 = 8 * HOUR_MS;
        match self {
            Period::Realtime => t_ms,
            Period::Day => (t_ms + CST).div_euclid(DAY_MS) * DAY_MS - CST,
            p => {
                let len = p.len_ms(minute_interval_min);
                t_ms.div_euclid(len) * len
            }
        }
    }
}

/// The values of one factor over one period, rounded as they are sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// HJ 212-2017 factor code.
    pub code: &'static str,
    /// Average (real-time: the instant value, `Rtd`).
    pub avg: f64,
    pub min: f64,
    pub max: f64,
    /// Converted to the reference O2 (`ZsAvg` / `ZsRtd`), flue-gas concentrations only.
    pub zs: Option<f64>,
    /// Emitted amount over the period (`Cou`): kg for concentrations, m³ for flow.
    pub cou: Option<f64>,
    /// Data flag (`N`, `F`, `C`, `M`, …).
    pub flag: char,
    /// Decimals the values are written with.
    pub decimals: u8,
}

impl Reading {
    /// The CP fields for `period`, in the standard's order: `Cou, Min, Avg, Max, ZsAvg, Flag`, or
    /// `Rtd, ZsRtd, Flag` for real-time data.
    pub fn fields(&self, period: Period) -> Vec<(&'static str, String)> {
        let d = usize::from(self.decimals);
        let f = |v: f64| format!("{v:.d$}");
        let mut out = Vec::with_capacity(6);
        if period == Period::Realtime {
            out.push(("Rtd", f(self.avg)));
            if let Some(z) = self.zs {
                out.push(("ZsRtd", f(z)));
            }
        } else {
            if let Some(c) = self.cou {
                out.push(("Cou", format!("{c:.prec$}", prec = cou_decimals(self.code))));
            }
            out.push(("Min", f(self.min)));
            out.push(("Avg", f(self.avg)));
            out.push(("Max", f(self.max)));
            if let Some(z) = self.zs {
                out.push(("ZsAvg", f(z)));
            }
        }
        out.push(("Flag", self.flag.to_string()));
        out
    }
}

fn cou_decimals(code: &str) -> usize {
    if code.ends_with("00000") { 2 } else { 4 }
}

fn round(v: f64, d: usize) -> f64 {
    let p = 10f64.powi(d as i32);
    let r = (v * p).round() / p;
    if r <= 0.0 { 0.0 } else { r }
}

/// Minute data (2051) for the minute period containing epoch minute `minute` (`t_ms / 60 000`).
pub fn values_at(spec: &DeviceSpec, minute: i64) -> Vec<Reading> {
    readings(spec, Period::Minute, minute * MINUTE_MS)
}

/// The data of the `period` containing `t_ms` (real-time: at `t_ms` itself).
pub fn readings(spec: &DeviceSpec, period: Period, t_ms: i64) -> Vec<Reading> {
    if period == Period::Realtime {
        return realtime_at(spec, t_ms);
    }
    let start = period.floor(spec.minute_interval_min, t_ms);
    let n = period.len_ms(spec.minute_interval_min) / MINUTE_MS;
    aggregate(spec, start.div_euclid(MINUTE_MS), n)
}

/// Real-time data at `t_ms`: the minute samples interpolated, with a little jitter.
pub fn realtime_at(spec: &DeviceSpec, t_ms: i64) -> Vec<Reading> {
    let m = t_ms.div_euclid(MINUTE_MS);
    let frac = t_ms.rem_euclid(MINUTE_MS) as f64 / MINUTE_MS as f64;
    let a = minute(spec, m);
    let b = minute(spec, m + 1);
    let sec = t_ms.div_euclid(1000);
    let v: [f64; N] = std::array::from_fn(|i| {
        if a.lo[i] == a.hi[i] {
            // A stuck analyser does not move.
            a.v[i]
        } else {
            let x = a.v[i] + (b.v[i] - a.v[i]) * frac;
            x + signed(spec.seed, 90 + i as u64, sec) * (a.hi[i] - a.lo[i]) * 0.25
        }
    });
    // An instant has one value: it is the mean, low and high alike.
    (0..N).map(|i| reading(spec.kind, i, [v[i]; 3], v[O2], None, a.flag[i])).collect()
}

/// Factor `i`'s reading from its unrounded mean, low and high (`[avg, min, max]`) and the mean O2:
/// each value written with the factor's decimals, the converted one computed before rounding.
fn reading(
    kind: Kind,
    i: usize,
    [avg, min, max]: [f64; 3],
    o2: f64,
    cou: Option<f64>,
    flag: char,
) -> Reading {
    let tab = table(kind);
    let d = usize::from(tab.decimals[i]);
    Reading {
        code: tab.codes[i],
        avg: round(avg, d),
        min: round(min, d),
        max: round(max, d),
        zs: converted(kind, i, avg, o2).map(|z| round(z, d)),
        cou,
        flag,
        decimals: tab.decimals[i],
    }
}

/// The converted value of factor `i`, for flue-gas concentrations.
fn converted(kind: Kind, i: usize, v: f64, o2: f64) -> Option<f64> {
    match kind {
        Kind::FlueGas { reference_o2 } if GAS.mass[i] => {
            Some(if o2 < O2_STOPPED { v * (21.0 - reference_o2) / (21.0 - o2) } else { v })
        }
        _ => None,
    }
}

fn aggregate(spec: &DeviceSpec, m0: i64, n: i64) -> Vec<Reading> {
    let tab = table(spec.kind);
    let mut sum = [0.0; N];
    let mut lo = [f64::INFINITY; N];
    let mut hi = [f64::NEG_INFINITY; N];
    let mut cou = [0.0; N];
    let mut flags: [Vec<(char, u32)>; N] = Default::default();
    for m in m0..m0 + n {
        let s = minute(spec, m);
        let flow = s.v[FLOW];
        for i in 0..N {
            sum[i] += s.v[i];
            lo[i] = lo[i].min(s.lo[i]);
            hi[i] = hi[i].max(s.hi[i]);
            if tab.mass[i] {
                // mg/m³ × m³/s × s, or mg/L × L/s × s: mg, sent as kg.
                cou[i] += s.v[i] * flow * 60.0 / 1e6;
            }
            match flags[i].iter_mut().find(|(c, _)| *c == s.flag[i]) {
                Some((_, k)) => *k += 1,
                None => flags[i].push((s.flag[i], 1)),
            }
        }
        cou[FLOW] += match spec.kind {
            Kind::FlueGas { .. } => flow * 60.0,
            Kind::Wastewater => flow * 60.0 / 1000.0,
        };
    }
    let avg: Vec<f64> = sum.iter().map(|s| s / n as f64).collect();
    (0..N)
        .map(|i| {
            let cou = (tab.mass[i] || i == FLOW).then(|| round(cou[i], cou_decimals(tab.codes[i])));
            reading(spec.kind, i, [avg[i], lo[i], hi[i]], avg[O2], cou, majority(&flags[i]))
        })
        .collect()
}

/// The most frequent flag; a tie goes to a flag other than `N`.
fn majority(counts: &[(char, u32)]) -> char {
    counts.iter().max_by_key(|(c, k)| (*k, *c != 'N')).map(|(c, _)| *c).unwrap_or('N')
}

/// One minute's values of every factor, with the spread seen within the minute.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub v: [f64; N],
    pub lo: [f64; N],
    pub hi: [f64; N],
    pub flag: [char; N],
}

/// The source's running level at minute `m`: 1 running, 0 stopped, in between while ramping; and
/// whether it is fully stopped.
fn running(spec: &DeviceSpec, m: i64) -> (f64, bool, bool) {
    let mut r: f64 = 1.0;
    let mut stopped = false;
    let mut starting = false;
    for s in &spec.scenarios {
        if let Scenario::StartupShutdown { start_ms, minutes } = s {
            let d = m - start_ms.div_euclid(MINUTE_MS);
            let off = i64::from(*minutes);
            if d < 0 {
                continue;
            } else if d < SHUTDOWN_RAMP_MIN {
                r = r.min(1.0 - (d + 1) as f64 / SHUTDOWN_RAMP_MIN as f64);
                stopped |= d + 1 == SHUTDOWN_RAMP_MIN;
            } else if d < SHUTDOWN_RAMP_MIN + off {
                r = 0.0;
                stopped = true;
            } else if d < SHUTDOWN_RAMP_MIN + off + STARTUP_RAMP_MIN {
                r = r.min((d - SHUTDOWN_RAMP_MIN - off) as f64 / STARTUP_RAMP_MIN as f64);
                stopped |= d == SHUTDOWN_RAMP_MIN + off;
                starting = true;
            }
        }
    }
    (r, stopped, starting)
}

/// Envelope of an episode: 0 outside, ramping to 1 over `ramp` minutes at each end.
fn envelope(m: i64, start_ms: i64, len_min: i64) -> f64 {
    let d = m - start_ms.div_euclid(MINUTE_MS);
    if d < 0 || d >= len_min {
        return 0.0;
    }
    let ramp = (len_min / 4).clamp(1, 10) as f64;
    let up = ((d + 1) as f64 / ramp).min(1.0);
    let down = ((len_min - d) as f64 / ramp).min(1.0);
    up.min(down)
}

fn index_of(spec: &DeviceSpec, code: &str) -> Option<usize> {
    table(spec.kind).codes.iter().position(|c| *c == code)
}

/// The sample of minute `m` with every scenario applied.
pub(crate) fn minute(spec: &DeviceSpec, m: i64) -> Sample {
    let mut s = minute_unfrozen(spec, m);
    for sc in &spec.scenarios {
        if let Scenario::ConstantValue { factor, start_ms, minutes } = sc {
            let first = start_ms.div_euclid(MINUTE_MS);
            if (first..first + i64::from(*minutes)).contains(&m)
                && let Some(i) = index_of(spec, factor)
            {
                let stuck = minute_unfrozen(spec, first).v[i];
                s.v[i] = stuck;
                s.lo[i] = stuck;
                s.hi[i] = stuck;
            }
        }
    }
    s
}

fn minute_unfrozen(spec: &DeviceSpec, m: i64) -> Sample {
    let seed = spec.seed;
    let tab = table(spec.kind);
    let hour = (m + 8 * 60).rem_euclid(24 * 60) as f64 / 60.0;
    let day_wave = |peak: f64| (std::f64::consts::TAU * (hour - peak + 6.0) / 24.0).sin();
    let (r, stopped, starting) = running(spec, m);
    let w = |stream: u64| signed(seed, stream, m);
    let mut v = [0.0; N];
    match spec.kind {
        Kind::FlueGas { reference_o2 } => {
            let load = (0.55
                + 0.18 * day_wave(14.0)
                + 0.15 * smooth(seed, 1, m, 120)
                + 0.06 * smooth(seed, 2, m, 23))
            .clamp(0.0, 1.0);
            let flow = (60.0 + 58.0 * load + 1.0 * w(3)).clamp(60.0, 120.0);
            let o2 = (14.0 - 6.0 * load + 0.25 * w(4)).clamp(8.0, 14.0);
            let temp = (120.0 + 56.0 * load + 1.5 * smooth(seed, 5, m, 60) + 0.4 * w(6)).clamp(120.0, 180.0);
            let zs_pm = (5.5 + 1.8 * smooth(seed, 10, m, 200) + 0.4 * w(11)).clamp(3.0, 8.0);
            let zs_so2 = (17.5 + 5.5 * smooth(seed, 12, m, 90) + 1.2 * w(13)).clamp(10.0, 25.0);
            let zs_nox = (110.0 + 22.0 * smooth(seed, 14, m, 150) + 12.0 * (load - 0.55) + 3.0 * w(15))
                .clamp(80.0, 140.0);
            let to_measured = (21.0 - o2) / (21.0 - reference_o2);
            // Start-up and shutdown: the flue fills with ambient air, flow falls to a draught and
            // SO2/NOx peak while burners are lit.
            let peak = if r < 1.0 && !stopped {
                1.0 + 1.5 * 4.0 * r * (1.0 - r) * f64::from(u8::from(starting))
            } else {
                1.0
            };
            let ambient_o2 = 20.6 + 0.2 * w(7);
            v[0] = r * zs_pm * to_measured + (1.0 - r) * (0.5 + 0.2 * unit(seed, 16, m));
            v[1] = r * zs_so2 * to_measured * peak + (1.0 - r) * (1.0 + 0.5 * unit(seed, 17, m));
            v[2] = r * zs_nox * to_measured * peak + (1.0 - r) * (3.0 + unit(seed, 18, m));
            v[O2] = r * o2 + (1.0 - r) * ambient_o2;
            v[4] = r * temp + (1.0 - r) * (45.0 + 2.0 * w(8));
            v[FLOW] = r * flow + (1.0 - r) * (1.0 + 0.3 * unit(seed, 9, m));
        }
        Kind::Wastewater => {
            let load =
                (0.5 + 0.3 * day_wave(15.0) + 0.15 * smooth(seed, 1, m, 180) + 0.05 * w(2)).clamp(0.0, 1.0);
            v[0] =
                (32.0 + 9.0 * smooth(seed, 10, m, 240) + 4.0 * (load - 0.5) + 1.0 * w(11)).clamp(20.0, 45.0);
            v[1] = (1.6 + 1.0 * smooth(seed, 12, m, 300) + 0.08 * w(13)).clamp(0.5, 3.0);
            v[2] = (0.25 + 0.12 * smooth(seed, 14, m, 300) + 0.01 * w(15)).clamp(0.1, 0.4);
            v[3] = (8.5 + 3.0 * smooth(seed, 16, m, 360) + 0.2 * w(17)).clamp(5.0, 12.0);
            v[PH] = (7.5 + 0.6 * smooth(seed, 18, m, 480) + 0.04 * w(19)).clamp(6.8, 8.2);
            v[FLOW] = r * (20.0 + 40.0 * load + 0.5 * w(3)).clamp(20.0, 60.0);
        }
    }

    // The outlet's own level (a fitted spec), before scenarios bend it.
    if !spec.scale.is_empty() {
        for (i, x) in v.iter_mut().enumerate() {
            if tab.mass[i] {
                *x *= spec.scale_of(tab.codes[i]);
            }
        }
    }

    // Spread within the minute (before episodes, which scale it along).
    let mut rel = [0.0; N];
    for (i, x) in rel.iter_mut().enumerate() {
        *x = 0.03 * unit(seed, 50 + i as u64, m);
    }

    let mut flag = [if stopped { 'F' } else { 'N' }; N];
    for sc in &spec.scenarios {
        match sc {
            Scenario::Exceedance { factor, start_ms, hours, multiple } => {
                let e = envelope(m, *start_ms, (hours * 60.0).round() as i64);
                if e > 0.0
                    && let Some(i) = index_of(spec, factor)
                {
                    if matches!(spec.kind, Kind::Wastewater) && i == PH {
                        v[i] = (v[i] + (multiple - 1.0) * e).clamp(0.0, 14.0);
                    } else {
                        v[i] *= 1.0 + (multiple - 1.0) * e;
                        if matches!(spec.kind, Kind::FlueGas { .. }) && i == O2 {
                            v[i] = v[i].min(20.9);
                        }
                    }
                }
            }
            Scenario::Flag { flag: f, start_ms, minutes } => {
                let first = start_ms.div_euclid(MINUTE_MS);
                let len = i64::from(*minutes);
                let d = m - first;
                if (0..len).contains(&d) {
                    for i in (0..N).filter(|i| tab.analyser[*i]) {
                        flag[i] = *f;
                        if *f == 'C' {
                            let target = if d < len / 2 { tab.zero[i] } else { tab.span[i] };
                            v[i] = target + 0.005 * tab.span[i] * unit(seed, 60 + i as u64, m);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    let mut lo = [0.0; N];
    let mut hi = [0.0; N];
    for i in 0..N {
        let sp = if matches!(spec.kind, Kind::Wastewater) && i == PH {
            0.05 * rel[i] / 0.03
        } else {
            v[i].abs() * rel[i]
        };
        lo[i] = (v[i] - sp).max(0.0);
        hi[i] = v[i] + sp;
    }
    Sample { v, lo, hi, flag }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::DeviceSpec;

    /// 2025-03-03 00:00 CST.
    const T0: i64 = 1_740_931_200_000;

    fn get<'a>(r: &'a [Reading], code: &str) -> &'a Reading {
        r.iter().find(|x| x.code == code).unwrap()
    }

    #[test]
    fn t0_is_local_midnight() {
        let dt = hj212::DateTime::from_unix_millis_cst(T0).unwrap();
        assert_eq!(dt.compact(), "20250303000000");
    }

    #[test]
    fn flue_gas_ranges() {
        for seed in [1u64, 2, 3, 42, 9999] {
            let spec = DeviceSpec::flue_gas("G", seed);
            let mut seen_low_o2 = false;
            for k in 0..(3 * 144) {
                let r = values_at(&spec, T0 / MINUTE_MS + k * 10);
                let zs = |c| get(&r, c).zs.unwrap();
                assert!((10.0..=25.0).contains(&zs("a21026")), "SO2 {}", zs("a21026"));
                assert!((80.0..=140.0).contains(&zs("a21002")), "NOx {}", zs("a21002"));
                assert!((3.0..=8.0).contains(&zs("a34013")), "PM {}", zs("a34013"));
                let o2 = get(&r, "a19001").avg;
                assert!((8.0..=14.0).contains(&o2), "O2 {o2}");
                seen_low_o2 |= o2 < 10.0;
                let t = get(&r, "a01012").avg;
                assert!((120.0..=180.0).contains(&t), "temp {t}");
                let q = get(&r, "a00000").avg;
                assert!((60.0..=120.0).contains(&q), "flow {q}");
                for x in &r {
                    assert!(x.min <= x.avg && x.avg <= x.max, "{x:?}");
                    assert_eq!(x.flag, 'N');
                }
                assert!(get(&r, "a19001").cou.is_none() && get(&r, "a01012").cou.is_none());
                assert!(get(&r, "a21026").cou.unwrap() > 0.0);
            }
            assert!(seen_low_o2 || seed != 42);
        }
    }

    #[test]
    fn wastewater_ranges() {
        for seed in [1u64, 5, 77] {
            let spec = DeviceSpec::wastewater("W", seed);
            for k in 0..(3 * 144) {
                let r = values_at(&spec, T0 / MINUTE_MS + k * 10);
                let a = |c| get(&r, c).avg;
                assert!((20.0..=45.0).contains(&a("w01018")));
                assert!((0.5..=3.0).contains(&a("w21003")));
                assert!((0.1..=0.4).contains(&a("w21011")));
                assert!((5.0..=12.0).contains(&a("w21001")));
                assert!(a("w21001") > a("w21003"));
                assert!((6.8..=8.2).contains(&a("w01001")));
                assert!((20.0..=60.0).contains(&a("w00000")));
                assert!(r.iter().all(|x| x.zs.is_none()));
            }
        }
    }

    #[test]
    fn deterministic_and_seed_dependent() {
        let a = DeviceSpec::flue_gas("G", 7);
        let m = T0 / MINUTE_MS + 555;
        assert_eq!(values_at(&a, m), values_at(&a, m));
        // Any minute of the period gives the period's values.
        assert_eq!(values_at(&a, m), values_at(&a, m - m % 10 + 9));
        let b = DeviceSpec::flue_gas("G", 8);
        assert_ne!(values_at(&a, m), values_at(&b, m));
        assert_eq!(realtime_at(&a, T0 + 12_345), realtime_at(&a, T0 + 12_345));
    }

    #[test]
    fn converted_follows_o2() {
        let spec = DeviceSpec::flue_gas("G", 3);
        for k in 0..50 {
            let r = values_at(&spec, T0 / MINUTE_MS + k * 10);
            let o2 = get(&r, "a19001").avg;
            for c in ["a21026", "a21002", "a34013"] {
                let x = get(&r, c);
                let expect = x.avg * (21.0 - 8.0) / (21.0 - o2);
                assert!((x.zs.unwrap() - expect).abs() <= 0.01 + expect * 0.002, "{c}: {x:?} o2 {o2}");
            }
        }
    }

    #[test]
    fn flow_and_o2_are_anticorrelated() {
        let spec = DeviceSpec::flue_gas("G", 11);
        let xs: Vec<(f64, f64)> = (0..1440)
            .map(|k| {
                let r = values_at(&spec, T0 / MINUTE_MS + k * 10);
                (get(&r, "a00000").avg, get(&r, "a19001").avg)
            })
            .collect();
        let n = xs.len() as f64;
        let (mx, my) = (xs.iter().map(|p| p.0).sum::<f64>() / n, xs.iter().map(|p| p.1).sum::<f64>() / n);
        let cov: f64 = xs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
        let vx: f64 = xs.iter().map(|(x, _)| (x - mx).powi(2)).sum();
        let vy: f64 = xs.iter().map(|(_, y)| (y - my).powi(2)).sum();
        let corr = cov / (vx * vy).sqrt();
        assert!(corr < -0.8, "correlation {corr}");
    }

    #[test]
    fn hourly_sums_cou_and_spans_minutes() {
        let spec = DeviceSpec::wastewater("W", 4);
        let h = readings(&spec, Period::Hour, T0 + 5 * HOUR_MS + 1234);
        let mins: Vec<Vec<Reading>> =
            (0..6).map(|k| readings(&spec, Period::Minute, T0 + 5 * HOUR_MS + k * 600_000)).collect();
        for (i, hr) in h.iter().enumerate() {
            let lo = mins.iter().map(|m| m[i].min).fold(f64::INFINITY, f64::min);
            let hi = mins.iter().map(|m| m[i].max).fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(hr.min, lo);
            assert_eq!(hr.max, hi);
            let avg = mins.iter().map(|m| m[i].avg).sum::<f64>() / 6.0;
            assert!((hr.avg - avg).abs() < 0.01, "{} {avg}", hr.avg);
            if let Some(c) = hr.cou {
                let sum: f64 = mins.iter().map(|m| m[i].cou.unwrap()).sum();
                assert!((c - sum).abs() <= 0.01 + sum * 1e-3, "{c} {sum}");
            }
        }
        let d = readings(&spec, Period::Day, T0 + 3);
        assert!(d[5].cou.unwrap() > 1000.0, "a day of 20–60 L/s is thousands of m³");
    }

    #[test]
    fn exceedance_raises_converted_value() {
        let base = DeviceSpec::flue_gas("G", 5);
        let start = T0 + 2 * HOUR_MS;
        let exc = base.clone().with_scenario(Scenario::Exceedance {
            factor: "a21026".into(),
            start_ms: start,
            hours: 2.0,
            multiple: 4.0,
        });
        // Before and after: unchanged.
        assert_eq!(values_at(&base, start / MINUTE_MS - 10), values_at(&exc, start / MINUTE_MS - 10));
        assert_eq!(values_at(&base, start / MINUTE_MS + 130), values_at(&exc, start / MINUTE_MS + 130));
        // The plateau: four times the normal level, over any emission limit of 35 mg/m³.
        for k in 2..10 {
            let m = start / MINUTE_MS + k * 10;
            let (b, e) = (values_at(&base, m), values_at(&exc, m));
            let (zb, ze) = (get(&b, "a21026").zs.unwrap(), get(&e, "a21026").zs.unwrap());
            assert!(ze >= 4.0 * 10.0 && ze >= 3.98 * zb, "{ze} vs {zb}");
            assert_eq!(get(&b, "a21002"), get(&e, "a21002"));
        }
        // An hour mostly in the episode is above the multiple too.
        let h = readings(&exc, Period::Hour, start + HOUR_MS);
        assert!(get(&h, "a21026").zs.unwrap() > 35.0);
    }

    #[test]
    fn constant_value_repeats_exactly() {
        let start = T0 + 3 * HOUR_MS;
        let spec = DeviceSpec::wastewater("W", 6).with_scenario(Scenario::ConstantValue {
            factor: "w01018".into(),
            start_ms: start,
            minutes: 120,
        });
        let first = get(&values_at(&spec, start / MINUTE_MS), "w01018").clone();
        assert_eq!(first.min, first.avg);
        assert_eq!(first.max, first.avg);
        for k in 1..12 {
            let r = values_at(&spec, start / MINUTE_MS + k * 10);
            let x = get(&r, "w01018");
            assert_eq!((x.avg, x.min, x.max, x.flag), (first.avg, first.min, first.max, 'N'));
            assert_eq!(x.fields(Period::Minute)[1..4], first.fields(Period::Minute)[1..4]);
        }
        let after = values_at(&spec, start / MINUTE_MS + 130);
        assert_ne!(get(&after, "w01018").min, get(&after, "w01018").max);
        // Other factors keep moving.
        let a = values_at(&spec, start / MINUTE_MS);
        let b = values_at(&spec, start / MINUTE_MS + 60);
        assert_ne!(get(&a, "w21003").avg, get(&b, "w21003").avg);
    }

    #[test]
    fn shutdown_and_startup() {
        let start = T0 + 10 * HOUR_MS;
        let spec = DeviceSpec::flue_gas("G", 8)
            .with_scenario(Scenario::StartupShutdown { start_ms: start, minutes: 120 });
        // Fully stopped from 30 minutes after the start for 120 minutes.
        for k in 3..15 {
            let r = values_at(&spec, start / MINUTE_MS + k * 10);
            let o2 = get(&r, "a19001");
            assert!(o2.avg >= 19.0 && o2.min >= 19.0, "O2 {o2:?}");
            assert!(get(&r, "a00000").avg < 2.0);
            assert!(r.iter().all(|x| x.flag == 'F'), "{r:?}");
            // No conversion at ambient O2.
            let so2 = get(&r, "a21026");
            assert_eq!(so2.zs, Some(so2.avg));
        }
        // Start-up ramp ends 60 minutes later; after it everything is normal again.
        let after = values_at(&spec, start / MINUTE_MS + 30 + 120 + 60);
        assert!(after.iter().all(|x| x.flag == 'N'));
        assert!(get(&after, "a19001").avg <= 14.0);
        // During the ramp, O2 is in between and flags are normal.
        let ramp = values_at(&spec, start / MINUTE_MS + 30 + 120 + 30);
        let o2 = get(&ramp, "a19001").avg;
        assert!(o2 > 14.0 && o2 < 19.0, "{o2}");
        // Wastewater: no flow while stopped.
        let w = DeviceSpec::wastewater("W", 8)
            .with_scenario(Scenario::StartupShutdown { start_ms: start, minutes: 60 });
        let r = values_at(&w, start / MINUTE_MS + 40);
        assert_eq!(get(&r, "w00000").avg, 0.0);
        assert_eq!(get(&r, "w00000").flag, 'F');
    }

    #[test]
    fn calibration_and_maintenance_flags() {
        let start = T0 + HOUR_MS;
        let spec = DeviceSpec::flue_gas("G", 9)
            .with_scenario(Scenario::Flag { flag: 'C', start_ms: start, minutes: 20 })
            .with_scenario(Scenario::Flag { flag: 'M', start_ms: start + HOUR_MS, minutes: 30 });
        let zero = values_at(&spec, start / MINUTE_MS);
        let span = values_at(&spec, start / MINUTE_MS + 10);
        assert_eq!(get(&zero, "a21026").flag, 'C');
        assert!(get(&zero, "a21026").avg < 1.0);
        assert!(get(&span, "a21026").avg > 59.0);
        // Flow and temperature are not analysers.
        assert_eq!(get(&zero, "a00000").flag, 'N');
        assert_eq!(get(&zero, "a01012").flag, 'N');
        let m = values_at(&spec, start / MINUTE_MS + 70);
        assert_eq!(get(&m, "a21002").flag, 'M');
        // An hour with 30 maintenance minutes of 60: a tie goes to the flag.
        let h = readings(&spec, Period::Hour, start + HOUR_MS);
        assert_eq!(get(&h, "a21002").flag, 'M');
        let h = readings(&spec, Period::Hour, start);
        assert_eq!(get(&h, "a21002").flag, 'N', "20 calibration minutes of 60");
    }

    #[test]
    fn fields_are_formatted() {
        let spec = DeviceSpec::flue_gas("G", 1);
        let r = values_at(&spec, T0 / MINUTE_MS);
        let so2 = get(&r, "a21026").fields(Period::Minute);
        let names: Vec<_> = so2.iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["Cou", "Min", "Avg", "Max", "ZsAvg", "Flag"]);
        assert!(so2[2].1.split('.').nth(1).unwrap().len() == 2);
        let rt = realtime_at(&spec, T0 + 30_000);
        let names: Vec<_> = get(&rt, "a21026").fields(Period::Realtime).iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["Rtd", "ZsRtd", "Flag"]);
        let names: Vec<_> = get(&rt, "a19001").fields(Period::Realtime).iter().map(|(k, _)| *k).collect();
        assert_eq!(names, ["Rtd", "Flag"]);
    }

    #[test]
    fn period_floors() {
        assert_eq!(Period::Day.floor(10, T0 + 5 * HOUR_MS), T0);
        assert_eq!(Period::Day.floor(10, T0 - 1), T0 - DAY_MS);
        assert_eq!(Period::Minute.floor(10, T0 + 599_999), T0);
        assert_eq!(Period::Hour.floor(10, T0 + HOUR_MS + 5), T0 + HOUR_MS);
    }
}
