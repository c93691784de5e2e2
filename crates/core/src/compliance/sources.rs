//! What the rules need to know about each device ([`Source`]), from the registry (live engine and
//! replay with `--registry`) or from the command line (replay of a log with only a permit at hand).

use std::collections::HashMap;

use super::types::{DataKind, Record, Source};
use crate::{Limit, OutletKind, Registry};

/// A `--limit FACTOR=VALUE` that cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LimitArgError {
    #[error("--limit {0:?}: expected FACTOR=VALUE, e.g. a21026=35")]
    Shape(String),
    #[error("--limit {arg:?}: {value:?} is not a positive number")]
    NotPositive { arg: String, value: String },
    #[error("--interval {0:?}: expected MN=MINUTES, e.g. MN=10m")]
    IntervalShape(String),
    #[error(
        "--interval {arg:?}: {value:?} is not a minute-data interval HJ 212 allows (1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or 30 minutes)"
    )]
    IntervalValue { arg: String, value: String },
}

/// The minute-data intervals HJ 212-2017 allows (`MinInterval`, minutes: the divisors of an hour
/// up to 30).
pub const HJ212_MINUTE_INTERVALS: [u32; 11] = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30];

/// A device's minute interval and where it came from (replay reports it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntervalChoice {
    pub minutes: u32,
    /// `registry`, `--interval`, or what the data showed (`usual gap 10 min in 143 of 144 gaps`).
    pub how: String,
}

/// The minute interval of a device known only from its data: the usual (most frequent) gap
/// between consecutive minute DataTimes, in whole minutes (ties: the smaller), snapped to the
/// nearest interval HJ 212 allows (ties: the smaller). The smallest gap would let one stray record
/// halve every hour's coverage, and a sparse log's gap may be no interval at all. One minute when
/// the data has fewer than two minute DataTimes.
pub fn infer_minute_interval(records: &[Record]) -> IntervalChoice {
    let mut times: Vec<i64> =
        records.iter().filter(|r| r.kind == DataKind::Minute).map(|r| r.data_time).collect();
    times.sort_unstable();
    times.dedup();
    let mut counts: std::collections::BTreeMap<i64, usize> = std::collections::BTreeMap::new();
    for w in times.windows(2) {
        let minutes = ((w[1] - w[0]) as f64 / 60_000.0).round() as i64;
        if minutes > 0 {
            *counts.entry(minutes).or_default() += 1;
        }
    }
    let gaps: usize = counts.values().sum();
    // Most frequent; among equals the smaller gap (the map iterates upwards, `max_by_key` keeps
    // the last maximum, so compare on (count, Reverse(gap))).
    let Some((&usual, &n)) = counts.iter().max_by_key(|(g, n)| (**n, std::cmp::Reverse(**g))) else {
        return IntervalChoice { minutes: 1, how: "fewer than two minute records: 1 min assumed".into() };
    };
    let snapped =
        HJ212_MINUTE_INTERVALS.into_iter().min_by_key(|&m| ((i64::from(m) - usual).abs(), m)).unwrap_or(1);
    let mut how = format!("usual gap {usual} min in {n} of {gaps} gaps");
    if i64::from(snapped) != usual {
        how.push_str(&format!(", snapped to {snapped} min (an interval HJ 212 allows)"));
    }
    IntervalChoice { minutes: snapped, how }
}

/// The rule source of every registered device whose outlet is known, by MN.
pub fn from_registry(r: &Registry) -> HashMap<String, Source> {
    let mut out = HashMap::with_capacity(r.devices.len());
    for d in &r.devices {
        let Some(o) = r.outlets.iter().find(|o| o.id == d.outlet) else { continue };
        out.insert(
            d.mn.clone(),
            Source {
                mn: d.mn.clone(),
                outlet: o.id.clone(),
                enterprise: o.enterprise.clone(),
                kind: o.kind,
                source_type: o.source_type.clone(),
                reference_o2: o.reference_o2,
                limits: o.limits.clone(),
                minute_interval_min: d.minute_interval_min.max(1),
                hourly: d.hourly,
                factors: d.factors.clone(),
            },
        );
    }
    out
}

/// Limits and reference O2 given on the command line, for devices the registry does not know.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `(factor, max)` from `--limit FACTOR=VALUE`.
    pub limits: Vec<(String, f64)>,
    /// `--ref-o2 PERCENT`.
    pub reference_o2: Option<f64>,
    /// `--interval MN=MINUTES`: a device's minute interval, over the registry and the data.
    pub intervals: HashMap<String, u32>,
}

impl Overrides {
    /// Parse one `--limit FACTOR=VALUE` (a 2005 code is normalised to its 2017 code).
    pub fn parse_limit(s: &str) -> Result<(String, f64), LimitArgError> {
        let Some((f, v)) = s.split_once('=') else {
            return Err(LimitArgError::Shape(s.to_string()));
        };
        let f = f.trim();
        let code = if hj212::codes::looks_2017(f) {
            f.to_string()
        } else {
            hj212::codes::factor_by_2005(f).map_or_else(|| f.to_string(), |i| i.code.to_string())
        };
        match v.trim().parse::<f64>() {
            Ok(v) if v.is_finite() && v > 0.0 => Ok((code, v)),
            _ => Err(LimitArgError::NotPositive { arg: s.to_string(), value: v.trim().to_string() }),
        }
    }
}

impl Overrides {
    /// Parse one `--interval MN=MINUTES` (`10`, `10m` or `10min`), an interval HJ 212 allows.
    pub fn parse_interval(s: &str) -> Result<(String, u32), LimitArgError> {
        let Some((mn, v)) = s.split_once('=') else {
            return Err(LimitArgError::IntervalShape(s.to_string()));
        };
        let (mn, v) = (mn.trim(), v.trim());
        if mn.is_empty() {
            return Err(LimitArgError::IntervalShape(s.to_string()));
        }
        let digits = v.trim_end_matches("min").trim_end_matches('m').trim();
        match digits.parse::<u32>() {
            Ok(m) if HJ212_MINUTE_INTERVALS.contains(&m) => Ok((mn.to_string(), m)),
            _ => Err(LimitArgError::IntervalValue { arg: s.to_string(), value: v.to_string() }),
        }
    }

    /// The interval `--interval` gives `mn`, with how it was chosen.
    pub fn interval_of(&self, mn: &str) -> Option<IntervalChoice> {
        self.intervals.get(mn).map(|&minutes| IntervalChoice { minutes, how: "--interval".into() })
    }
}

/// A source for a device known only from its data: kind from its factor codes (w… is water),
/// minute interval from `--interval` or inferred from the data ([`infer_minute_interval`]),
/// limits and reference O2 from the command line (in force from any date).
pub fn from_data(mn: &str, records: &[Record], o: &Overrides) -> Source {
    let water = records.iter().any(|r| r.factor.starts_with('w'))
        && !records.iter().any(|r| r.factor.starts_with('a'));
    let step_min = o.interval_of(mn).unwrap_or_else(|| infer_minute_interval(records)).minutes;
    let codes: std::collections::BTreeSet<&str> = records.iter().map(|r| &*r.factor).collect();
    let factors: Vec<String> = codes.into_iter().map(str::to_string).collect();
    let epoch = jiff::civil::date(1970, 1, 1);
    Source {
        mn: mn.to_string(),
        outlet: String::new(),
        enterprise: String::new(),
        kind: if water { OutletKind::Wastewater } else { OutletKind::FlueGas },
        source_type: String::new(),
        reference_o2: if water { None } else { o.reference_o2 },
        limits: o
            .limits
            .iter()
            .map(|(f, v)| Limit { factor: f.clone(), max: Some(*v), min: None, effective_from: epoch })
            .collect(),
        minute_interval_min: step_min,
        hourly: records.iter().any(|r| r.kind == DataKind::Hour),
        factors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_on_the_command_line() {
        assert_eq!(Overrides::parse_limit("a21026=35"), Ok(("a21026".into(), 35.0)));
        // The 2005 code of SO2 is normalised to its 2017 code.
        assert_eq!(Overrides::parse_limit("02=35"), Ok(("a21026".into(), 35.0)));
        assert_eq!(Overrides::parse_limit("a21026"), Err(LimitArgError::Shape("a21026".into())));
        assert!(matches!(Overrides::parse_limit("a21026=-1"), Err(LimitArgError::NotPositive { .. })));
        assert_eq!(Overrides::parse_interval("MN1=10m"), Ok(("MN1".into(), 10)));
        assert_eq!(Overrides::parse_interval("MN1 = 5"), Ok(("MN1".into(), 5)));
        assert!(matches!(Overrides::parse_interval("MN1=7m"), Err(LimitArgError::IntervalValue { .. })));
        assert!(matches!(Overrides::parse_interval("10m"), Err(LimitArgError::IntervalShape(_))));
    }

    fn minute_at(min: i64) -> Record {
        Record {
            kind: DataKind::Minute,
            data_time: min * 60_000,
            factor: "a21026".into(),
            values: Default::default(),
            received_at: 0,
        }
    }

    #[test]
    fn interval_is_the_usual_gap_snapped_to_hj212() {
        // Every 10 minutes for a day, plus one stray record at minute 3: 145 DataTimes, 144 gaps:
        // 3 and 7 once each, 10 the other 142 times. The smallest gap (3 min) would have counted
        // each record for 3 minutes and left every hour short of coverage.
        let mut r: Vec<Record> = (0..144).map(|i| minute_at(i * 10)).collect();
        r.push(minute_at(3));
        let c = infer_minute_interval(&r);
        assert_eq!(c.minutes, 10, "{c:?}");
        assert_eq!(c.how, "usual gap 10 min in 142 of 144 gaps");
        // A sparse log whose usual gap is 7 minutes: snapped to 6 (nearest allowed).
        let r: Vec<Record> = (0..20).map(|i| minute_at(i * 7)).collect();
        let c = infer_minute_interval(&r);
        assert_eq!(c.minutes, 6);
        assert!(c.how.ends_with("snapped to 6 min (an interval HJ 212 allows)"), "{}", c.how);
        // 45 minutes: between 30 (15 away) and nothing above; snapped to 30.
        let r: Vec<Record> = (0..5).map(|i| minute_at(i * 45)).collect();
        assert_eq!(infer_minute_interval(&r).minutes, 30);
        assert_eq!(infer_minute_interval(&[minute_at(0)]).minutes, 1);
        // --interval overrides the data.
        let mut o = Overrides::default();
        o.intervals.insert("M".into(), 5);
        assert_eq!(from_data("M", &r, &o).minute_interval_min, 5);
    }

    #[test]
    fn registered_devices_only() {
        let r = crate::demo::city();
        let sources = from_registry(&r);
        assert_eq!(sources.len(), r.devices.iter().filter(|d| r.outlet(&d.outlet).is_some()).count());
        let d = &r.devices[0];
        assert_eq!(sources[&d.mn].outlet, d.outlet);
    }
}
