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

/// A source for a device known only from its data: kind from its factor codes (w… is water),
/// minute interval from the smallest step between its minute records, limits and reference O2
/// from the command line (in force from any date).
pub fn from_data(mn: &str, records: &[Record], o: &Overrides) -> Source {
    let water = records.iter().any(|r| r.factor.starts_with('w'))
        && !records.iter().any(|r| r.factor.starts_with('a'));
    let mut minute_times: Vec<i64> =
        records.iter().filter(|r| r.kind == DataKind::Minute).map(|r| r.data_time).collect();
    minute_times.sort_unstable();
    minute_times.dedup();
    let step_min = minute_times
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 0)
        .min()
        .map(|ms| (ms / 60_000).clamp(1, 60) as u32)
        .unwrap_or(1);
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
