//! 排口 time series: an outlet's values at minute, hour or day resolution over a period, with
//! what the explorer draws beside them — the limit in force as steps (limits are effective-dated),
//! data-flag bands, invalid periods and exceedance episodes. The downloads are the same series.
//!
//! Minutes are the stored minute records (2051, latest revision) with their flags; their
//! converted value is the device's own (`ZsAvg`/`ZsRtd`) or the minute's O2 conversion, an
//! indication only: compliance converts hourly means (HJ 75), which the hour rows carry.
//! Hours and days are the compliance engine's stored results.

use std::collections::HashMap;

use fenhe_core::access::{self, Action, Actor, Target};
use fenhe_core::china_time::{self, DAY_MS, HOUR_MS, MINUTE_MS};
use fenhe_core::compliance::{Aggregate, Episode, Finding};
use fenhe_core::compliance::{FindingKind, Invalidity, Params, Period, converts_to_reference_o2, factor};
use fenhe_core::{Outlet, Registry};
use fenhe_store::{AggregateQuery, EpisodeQuery, FindingQuery, MeasurementQuery, Store, StoredMeasurement};

use crate::view_error::ViewError;

/// How finely a series is cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    Minute,
    Hour,
    Day,
}

impl Resolution {
    pub const ALL: [Resolution; 3] = [Resolution::Minute, Resolution::Hour, Resolution::Day];

    pub fn name(self) -> &'static str {
        match self {
            Resolution::Minute => "minute",
            Resolution::Hour => "hour",
            Resolution::Day => "day",
        }
    }

    pub fn parse(s: &str) -> Result<Resolution, ViewError> {
        Resolution::ALL.into_iter().find(|r| r.name() == s).ok_or_else(|| {
            ViewError::BadRequest(format!("resolution: {s:?} is not one of minute, hour, day"))
        })
    }

    /// The longest period served at this resolution: a minute series of a month is ~45,000
    /// points a factor, which is what a browser still draws smoothly.
    pub fn max_span_days(self) -> i64 {
        match self {
            Resolution::Minute => 31,
            Resolution::Hour => 366,
            Resolution::Day => 5 * 366,
        }
    }

    /// The period shown when none is asked for, ending now.
    fn default_span_ms(self) -> i64 {
        match self {
            Resolution::Minute => DAY_MS,
            Resolution::Hour => 7 * DAY_MS,
            Resolution::Day => 90 * DAY_MS,
        }
    }

    /// Start of the period of this resolution containing `t`.
    fn floor(self, t: i64) -> i64 {
        match self {
            Resolution::Minute => t.div_euclid(MINUTE_MS) * MINUTE_MS,
            Resolution::Hour => china_time::hour_start(t),
            Resolution::Day => china_time::day_start(t),
        }
    }

    /// The first period start at or after `t`.
    fn ceil(self, t: i64) -> i64 {
        let f = self.floor(t);
        if f == t {
            t
        } else {
            match self {
                Resolution::Minute => f + MINUTE_MS,
                Resolution::Hour => f + HOUR_MS,
                Resolution::Day => f + DAY_MS,
            }
        }
    }
}

/// What a request asks for, as typed (query parameters of the page and the API).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeriesParams {
    pub resolution: Option<String>,
    /// Start, China time unless an offset is given (`2026-11-01`, `2026-11-01T08:00`, RFC 3339).
    pub from: Option<String>,
    /// End (exclusive); a date alone means the end of that day.
    pub to: Option<String>,
    /// One factor code; every factor of the outlet when absent.
    pub factor: Option<String>,
}

/// The period and resolution of a series, checked and aligned to whole periods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub resolution: Resolution,
    pub from: i64,
    pub to: i64,
}

/// A time given as a date alone (`YYYY-MM-DD`).
fn is_date_only(s: &str) -> bool {
    // jiff reads the date of a date-time too, so the length decides.
    let s = s.trim();
    s.len() == 10 && s.parse::<jiff::civil::Date>().is_ok()
}

fn parse_time(name: &str, s: &str) -> Result<i64, ViewError> {
    china_time::parse(s).map_err(|_| {
        ViewError::BadRequest(format!(
            "{name}: {s:?} is not a time (use YYYY-MM-DD, YYYY-MM-DDThh:mm[:ss], YYYYMMDDhhmmss or RFC 3339; \
             China time unless an offset is given)"
        ))
    })
}

/// The window `p` asks for at `now`: the resolution (hour by default), `to` (now by default; a
/// date alone counts to the end of that day), `from` (a default span before `to`), aligned to
/// whole periods, `from` before `to` and the span within [`Resolution::max_span_days`].
pub fn window(p: &SeriesParams, now: i64) -> Result<Window, ViewError> {
    let blank =
        |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let resolution = match blank(&p.resolution) {
        Some(r) => Resolution::parse(&r)?,
        None => Resolution::Hour,
    };
    let to = match blank(&p.to) {
        Some(s) if is_date_only(&s) => parse_time("to", &s)?.saturating_add(DAY_MS),
        Some(s) => parse_time("to", &s)?,
        None => now,
    };
    let to = resolution.ceil(to);
    let from = match blank(&p.from) {
        Some(s) => parse_time("from", &s)?,
        None => to.saturating_sub(resolution.default_span_ms()),
    };
    let from = resolution.floor(from);
    if from >= to {
        return Err(ViewError::BadRequest(format!(
            "from ({}) must be before to ({})",
            china_time::iso(from),
            china_time::iso(to)
        )));
    }
    let max = resolution.max_span_days();
    if to - from > max * DAY_MS {
        return Err(ViewError::BadRequest(format!(
            "the period from {} to {} is longer than {max} days, the most served at {} resolution; \
             choose a shorter period or a coarser resolution",
            china_time::iso(from),
            china_time::iso(to),
            resolution.name()
        )));
    }
    Ok(Window { resolution, from, to })
}

/// One point of a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Start of the minute record, hour or day.
    pub t: i64,
    pub mn: String,
    /// Measured: the minute's `Avg` (else `Rtd`), the period's mean.
    pub value: Option<f64>,
    /// At reference O2, for converted factors (`None` otherwise or when not convertible).
    pub converted: Option<f64>,
    /// Hours and days: the lowest and highest minute values.
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Minutes: the flag as sent (`N` when none was).
    pub flag: Option<String>,
    /// Minutes: the flag counts for compliance; periods: the engine judged the period valid.
    pub valid: bool,
    pub reason: Option<Invalidity>,
    pub limit: Option<f64>,
    pub limit_min: Option<f64>,
    /// Periods judged above the limit (minutes are never judged on their own).
    pub exceeds: bool,
}

/// A limit in force over `[from, to)` (clipped to the series' window).
#[derive(Debug, Clone, PartialEq)]
pub struct LimitStep {
    pub from: i64,
    pub to: i64,
    pub max: Option<f64>,
    pub min: Option<f64>,
}

/// A stretch of time to shade: flagged data (`kind` is the flag, `M`, `C`, `D`, `F`, `S`, `T`,
/// `B`) or an exceedance episode (`kind` is `exceedance`).
#[derive(Debug, Clone, PartialEq)]
pub struct Band {
    pub from: i64,
    pub to: i64,
    pub kind: String,
    /// Episodes: the highest converted value and the limit then.
    pub max: Option<f64>,
    pub limit: Option<f64>,
}

/// One factor's series.
#[derive(Debug, Clone, PartialEq)]
pub struct FactorSeries {
    pub factor: String,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub unit_zh: &'static str,
    pub unit_en: &'static str,
    /// Converted to the outlet's reference O2.
    pub converted: bool,
    pub points: Vec<Point>,
    pub limits: Vec<LimitStep>,
    pub flags: Vec<Band>,
    pub episodes: Vec<Band>,
}

/// An outlet's series over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub outlet: String,
    pub outlet_name: String,
    pub enterprise: String,
    pub reference_o2: Option<f64>,
    pub window: Window,
    pub factors: Vec<FactorSeries>,
}

/// The HJ 212 table's row of a factor code (names and units in both languages), for pages that
/// name factors.
pub fn factor_info(code: &str) -> Option<&'static hj212::codes::FactorInfo> {
    hj212::codes::factor(code)
}

/// The factors of an outlet: those its devices report and those it has limits for, limited ones
/// first (the pollutants judged), each once.
pub fn outlet_factors(registry: &Registry, outlet: &Outlet) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |f: &str| {
        if !out.iter().any(|o| o == f) {
            out.push(f.to_string());
        }
    };
    for l in &outlet.limits {
        add(&l.factor);
    }
    for d in registry.devices.iter().filter(|d| d.outlet == outlet.id) {
        for f in &d.factors {
            add(f);
        }
    }
    out
}

/// The limits of `factor` at `outlet` in force over `[from, to)`, as steps: a limit takes effect
/// at 00:00 China time of its date and holds until the next one of the factor.
pub fn limit_steps(outlet: &Outlet, code: &str, from: i64, to: i64) -> Vec<LimitStep> {
    let mut limits: Vec<_> = outlet.limits.iter().filter(|l| l.factor == code).collect();
    limits.sort_by_key(|l| l.effective_from);
    let mut out = Vec::new();
    for (i, l) in limits.iter().enumerate() {
        let start = china_time::date_start(l.effective_from);
        let end = limits.get(i + 1).map_or(i64::MAX, |n| china_time::date_start(n.effective_from));
        let (a, b) = (start.max(from), end.min(to));
        if a < b {
            out.push(LimitStep { from: a, to: b, max: l.max, min: l.min });
        }
    }
    out
}

/// The series of outlet `id` that `p` asks for. `export` asks under the download action (the
/// CSV and XLSX files) rather than the viewing one.
pub async fn series(
    store: &dyn Store,
    actor: &Actor,
    id: &str,
    p: &SeriesParams,
    export: bool,
    now: i64,
) -> Result<Series, ViewError> {
    let action = if export { Action::ExportEnvironment } else { Action::ViewEnvironment };
    access::scope(actor, action)?;
    let registry = store.registry().await?;
    let outlet = registry.outlet(id).ok_or_else(ViewError::not_found)?;
    access::authorize(actor, action, Target::Enterprise(&outlet.enterprise))?;
    let window = window(p, now)?;
    let all = outlet_factors(&registry, outlet);
    let factors: Vec<String> = match p.factor.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
        Some(f) if all.iter().any(|a| a == f) => vec![f.to_string()],
        Some(f) => {
            return Err(ViewError::BadRequest(format!(
                "factor: {f:?} is not measured at outlet {id} (its factors: {})",
                all.join(", ")
            )));
        }
        None => all,
    };
    let mns: Vec<String> = registry.devices.iter().filter(|d| d.outlet == id).map(|d| d.mn.clone()).collect();
    let params = Params::default();
    let mut out = Vec::with_capacity(factors.len());
    let mut o2: HashMap<String, HashMap<i64, f64>> = HashMap::new();
    let mut periods = DeviceRows::default();
    for code in &factors {
        let converted = converts_to_reference_o2(outlet.kind, outlet.reference_o2, code);
        let mut fs = FactorSeries {
            factor: code.clone(),
            name_zh: "",
            name_en: "",
            unit_zh: "",
            unit_en: "",
            converted,
            points: Vec::new(),
            limits: limit_steps(outlet, code, window.from, window.to),
            flags: Vec::new(),
            episodes: Vec::new(),
        };
        if let Some(info) = hj212::codes::factor(code) {
            (fs.name_zh, fs.name_en, fs.unit_zh, fs.unit_en) =
                (info.name_zh, info.name_en, info.unit_zh, info.unit_en);
        }
        for mn in &mns {
            match window.resolution {
                Resolution::Minute => {
                    let rows = minutes(store, mn, code, window).await?;
                    let interval = registry.device(mn).map_or(1, |d| i64::from(d.minute_interval_min.max(1)));
                    if converted && !o2.contains_key(mn) {
                        let values = minutes(store, mn, factor::O2, window)
                            .await?
                            .into_iter()
                            .filter(|m| params.is_valid_flag(m.values.flag.as_deref()))
                            .filter_map(|m| measured(&m).map(|v| (m.data_time, v)))
                            .collect();
                        o2.insert(mn.clone(), values);
                    }
                    let o2_of = o2.get(mn);
                    let reference = outlet.reference_o2.unwrap_or(21.0);
                    fs.flags.extend(flag_bands(&rows, &params, interval * MINUTE_MS));
                    for m in rows {
                        let value = measured(&m);
                        let converted = if converted {
                            zs(&m).or_else(|| {
                                let o2 = *o2_of?.get(&m.data_time)?;
                                (o2 < params.o2_not_convertible && o2 < 21.0)
                                    .then(|| value.map(|v| v * (21.0 - reference) / (21.0 - o2)))
                                    .flatten()
                            })
                        } else {
                            None
                        };
                        let flag = m.values.flag.as_deref().unwrap_or("N").to_string();
                        let (limit, limit_min) = limit_at(outlet, code, m.data_time);
                        fs.points.push(Point {
                            t: m.data_time,
                            mn: mn.clone(),
                            value,
                            converted,
                            min: None,
                            max: None,
                            valid: params.is_valid_flag(Some(&flag)),
                            flag: Some(flag),
                            reason: None,
                            limit,
                            limit_min,
                            exceeds: false,
                        });
                    }
                }
                Resolution::Hour | Resolution::Day => {
                    let (aggregates, findings) = periods.load(store, mn, &factors, window).await?;
                    for a in aggregates.iter().filter(|a| &a.factor == code) {
                        fs.points.push(Point {
                            t: a.start,
                            mn: a.mn.clone(),
                            value: a.mean,
                            converted: if converted { a.converted_mean } else { None },
                            min: a.min,
                            max: a.max,
                            flag: None,
                            valid: a.valid,
                            reason: a.reason,
                            limit: a.limit,
                            limit_min: a.limit_min,
                            exceeds: a.exceeds,
                        });
                    }
                    fs.flags.extend(finding_bands(findings, code, window));
                }
            }
            for e in periods.episodes(store, mn, &factors, window).await?.iter().filter(|e| &e.factor == code)
            {
                fs.episodes.push(Band {
                    from: e.start.max(window.from),
                    to: e.end.min(window.to),
                    kind: "exceedance".into(),
                    max: Some(e.max_converted),
                    limit: Some(e.limit),
                });
            }
        }
        fs.points.sort_by(|a, b| (a.t, &a.mn).cmp(&(b.t, &b.mn)));
        out.push(fs);
    }
    Ok(Series {
        outlet: outlet.id.clone(),
        outlet_name: outlet.name.clone(),
        enterprise: outlet.enterprise.clone(),
        reference_o2: outlet.reference_o2,
        window,
        factors: out,
    })
}

/// The limit (upper, lower) of `code` in force at `t`.
fn limit_at(outlet: &Outlet, code: &str, t: i64) -> (Option<f64>, Option<f64>) {
    outlet.limit_at(code, china_time::date_of(t)).map_or((None, None), |l| (l.max, l.min))
}

/// The minute records (latest revision) of one factor of a device within the window.
async fn minutes(
    store: &dyn Store,
    mn: &str,
    code: &str,
    w: Window,
) -> Result<Vec<StoredMeasurement>, ViewError> {
    let q = MeasurementQuery {
        mn: Some(mn.to_string()),
        cn: Some("2051".into()),
        factor: Some(code.to_string()),
        from: Some(w.from),
        to: Some(w.to),
        latest_only: true,
        limit: None,
    };
    Ok(store.measurements(&q).await?)
}

/// A minute's measured value: `Avg`, else `Rtd` (finite only), as the rules read it.
fn measured(m: &StoredMeasurement) -> Option<f64> {
    m.values.avg.filter(|v| v.is_finite()).or(m.values.rtd.filter(|v| v.is_finite()))
}

/// The device's own converted value: `ZsAvg`, else `ZsRtd`.
fn zs(m: &StoredMeasurement) -> Option<f64> {
    m.values.zs_avg.filter(|v| v.is_finite()).or(m.values.zs_rtd.filter(|v| v.is_finite()))
}

/// Runs of consecutive minute records with the same flag that does not count for compliance,
/// each as a band from its first record to the end of its last (`interval` later).
fn flag_bands(rows: &[StoredMeasurement], params: &Params, interval: i64) -> Vec<Band> {
    let mut out: Vec<Band> = Vec::new();
    for m in rows {
        let flag = m.values.flag.as_deref().unwrap_or("N");
        if params.is_valid_flag(Some(flag)) {
            continue;
        }
        match out.last_mut() {
            Some(b) if b.kind == flag && b.to >= m.data_time => b.to = m.data_time + interval,
            _ => out.push(Band {
                from: m.data_time,
                to: m.data_time + interval,
                kind: flag.to_string(),
                max: None,
                limit: None,
            }),
        }
    }
    out
}

/// The flag a finding of flagged data stands for (fault covers D and B; D is drawn).
fn finding_flag(kind: FindingKind) -> Option<&'static str> {
    Some(match kind {
        FindingKind::Maintenance => "M",
        FindingKind::Calibration => "C",
        FindingKind::Fault => "D",
        FindingKind::Stopped => "F",
        FindingKind::Manual => "S",
        FindingKind::OverRange => "T",
        _ => return None,
    })
}

/// Hours and days: the engine's findings of flagged data (of this factor or the whole device)
/// touching the window, as bands: reading a year of minutes to find them would be far slower.
fn finding_bands(findings: &[Finding], code: &str, w: Window) -> Vec<Band> {
    findings
        .iter()
        .filter(|f| f.end > w.from && f.factor.as_deref().is_none_or(|f| f == code))
        .filter_map(|f| {
            finding_flag(f.kind).map(|flag| Band {
                from: f.start.max(w.from),
                to: f.end.min(w.to),
                kind: flag.to_string(),
                max: None,
                limit: None,
            })
        })
        .collect()
}

/// The devices' stored results over the window, read once per device for all the factors asked
/// for (one query per table and device, not per factor: a year of hours of ten factors is ~88,000
/// rows, and reading them factor by factor walked the device's whole year ten times).
#[derive(Default)]
struct DeviceRows {
    periods: HashMap<String, (Vec<Aggregate>, Vec<Finding>)>,
    episodes: HashMap<String, Vec<Episode>>,
}

impl DeviceRows {
    /// The device's hour or day aggregates and its findings touching the window.
    async fn load(
        &mut self,
        store: &dyn Store,
        mn: &str,
        factors: &[String],
        w: Window,
    ) -> Result<&(Vec<Aggregate>, Vec<Finding>), ViewError> {
        if !self.periods.contains_key(mn) {
            let period = if w.resolution == Resolution::Day { Period::Day } else { Period::Hour };
            let q = AggregateQuery {
                mn: Some(mn.to_string()),
                factor: one_factor(factors),
                period: Some(period),
                from: Some(w.from),
                to: Some(w.to),
                ..Default::default()
            };
            let aggregates = store.aggregates(&q).await?;
            let q = FindingQuery {
                mn: Some(mn.to_string()),
                ends_after: Some(w.from),
                to: Some(w.to),
                ..Default::default()
            };
            let findings = store.findings(&q).await?;
            self.periods.insert(mn.to_string(), (aggregates, findings));
        }
        Ok(&self.periods[mn])
    }

    /// The device's episodes touching the window (at every resolution).
    async fn episodes(
        &mut self,
        store: &dyn Store,
        mn: &str,
        factors: &[String],
        w: Window,
    ) -> Result<&[Episode], ViewError> {
        if !self.episodes.contains_key(mn) {
            let q = EpisodeQuery {
                mn: Some(mn.to_string()),
                factor: one_factor(factors),
                to: Some(w.to),
                ..Default::default()
            };
            let rows = store.episodes(&q).await?.into_iter().filter(|e| e.end > w.from).collect();
            self.episodes.insert(mn.to_string(), rows);
        }
        Ok(&self.episodes[mn])
    }
}

/// The factor to filter on in the store when one alone is asked for.
fn one_factor(factors: &[String]) -> Option<String> {
    match factors {
        [one] => Some(one.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        china_time::parse(s).unwrap()
    }

    fn params(res: &str, from: &str, to: &str) -> SeriesParams {
        let o = |s: &str| (!s.is_empty()).then(|| s.to_string());
        SeriesParams { resolution: o(res), from: o(from), to: o(to), factor: None }
    }

    #[test]
    fn windows_are_aligned_and_dates_count_whole_days() {
        let now = at("2026-11-29T08:30:15");
        let w = window(&params("", "", ""), now).unwrap();
        assert_eq!(w.resolution, Resolution::Hour);
        assert_eq!((w.from, w.to), (at("2026-11-22T09:00"), at("2026-11-29T09:00")));
        let w = window(&params("day", "2026-11-01", "2026-11-30"), now).unwrap();
        assert_eq!((w.from, w.to), (at("2026-11-01"), at("2026-12-01")));
        let w = window(&params("minute", "2026-11-29T08:00:30", "2026-11-29T09:00"), now).unwrap();
        assert_eq!((w.from, w.to), (at("2026-11-29T08:00"), at("2026-11-29T09:00")));
    }

    #[test]
    fn bad_windows_say_what_is_wrong() {
        let now = at("2026-11-29T08:30:15");
        let msg = |p: SeriesParams| match window(&p, now) {
            Err(ViewError::BadRequest(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(msg(params("week", "", "")).contains("resolution: \"week\""));
        assert!(msg(params("", "yesterday", "")).starts_with("from: \"yesterday\" is not a time"));
        assert!(msg(params("", "", "2026-13-01")).starts_with("to: "));
        assert!(msg(params("", "2026-11-29", "2026-11-28")).contains("must be before"));
        let long = msg(params("minute", "2026-10-01", "2026-11-15"));
        assert!(long.contains("longer than 31 days") && long.contains("minute"), "{long}");
        assert!(window(&params("minute", "2026-10-30", "2026-11-29"), now).is_ok());
        assert!(window(&params("hour", "2025-11-01", "2026-11-01"), now).is_ok());
    }

    #[test]
    fn limits_step_at_their_effective_dates() {
        let reg = fenhe_core::demo::city();
        let coke = reg.outlets.iter().find(|o| o.source_type == "coke_oven_chimney").unwrap();
        let steps = limit_steps(coke, "a34013", at("2024-12-30"), at("2025-01-03"));
        assert_eq!(steps.len(), 2, "{steps:?}");
        assert_eq!(
            (steps[0].from, steps[0].to, steps[0].max),
            (at("2024-12-30"), at("2025-01-01"), Some(15.0))
        );
        assert_eq!(
            (steps[1].from, steps[1].to, steps[1].max),
            (at("2025-01-01"), at("2025-01-03"), Some(10.0))
        );
        assert!(limit_steps(coke, "a19001", at("2024-12-30"), at("2025-01-03")).is_empty());
    }
}
