//! The numbers behind every rule. Each one defaults to the value in compliance-rules.md and can be
//! changed by name (`--param name=value`); every result set carries the parameters that made it.

use serde::{Deserialize, Serialize};

/// Rule parameters. Field names are the names accepted by [`Params::set`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Params {
    /// Data flags whose values count for compliance (HJ 212 `-Flag`; default `N` only).
    pub valid_flags: Vec<String>,
    /// Data flags that declare a shutdown (停运, HJ 212 `F`): their records leave the expected
    /// count of the rates and are reported as stopped time instead of failed monitoring.
    pub shutdown_flags: Vec<String>,
    /// Valid minutes of data needed for a valid hour (HJ 75: 45). Coverage is counted from each
    /// record's interval, so 10-minute records need 5 of 6.
    pub hour_min_valid_minutes: u32,
    /// Valid hours needed for a valid day (20).
    pub day_min_valid_hours: u32,
    /// Measured O2 (%) at or above which reference-oxygen conversion is not meaningful (19).
    pub o2_not_convertible: f64,
    /// Weight water daily means by flow where flow is measured (HJ 356).
    pub water_flow_weighted: bool,
    /// Relative difference between a device's hourly value (2061) and the recomputation above
    /// which the difference is a finding (0.05 = 5 %).
    pub hourly_tolerance: f64,
    /// Absolute difference always tolerated in the same comparison (rounding of small values).
    pub hourly_tolerance_abs: f64,
    /// Offline when no data for more than this many upload intervals (3)…
    pub offline_intervals: f64,
    /// …and at least this many minutes (30).
    pub offline_min_minutes: u32,
    /// Identical consecutive minute records that make a constant-value run (12).
    pub constant_min_minute_records: u32,
    /// Identical consecutive hourly records that make a constant-value run (6).
    pub constant_min_hour_records: u32,
    /// DataTime more than this many minutes after receipt is clock skew (10).
    pub clock_future_minutes: u32,
    /// Data received more than this many days after its DataTime is outside the retention
    /// window and is a finding (0 = no limit).
    pub retention_days: u32,
    /// Shares of the permitted annual total at which a warning is raised (0.8, 1.0).
    pub permit_warn_shares: Vec<f64>,
    /// Steel ultra-low monthly rule: share of valid hours that must be within limits (0.95).
    pub monthly_within_share: f64,
    /// Source types the monthly rule applies to (steel ultra-low outlets).
    pub monthly_rule_source_types: Vec<String>,
    /// Substitute the emission of flue-gas hours without a measured one (HJ 75-2017 §11; off:
    /// the live engine lacks the look-back, see `compliance::substitution`).
    pub substitute_missing: bool,
    /// A gap of at most this many hours looks back `substitute_short_lookback_hours` (24)…
    pub substitute_short_gap_hours: u32,
    /// …valid hours (180)…
    pub substitute_short_lookback_hours: u32,
    /// …a longer gap this many (720), when the quarter's capture is at least…
    pub substitute_long_lookback_hours: u32,
    /// …this share (0.9);
    pub substitute_capture_high: f64,
    /// at least this share (0.75) but below the one above…
    pub substitute_capture_low: f64,
    /// …looks back this many valid hours (2160); below it nothing is substituted.
    pub substitute_capture_low_lookback_hours: u32,
}

impl Params {
    /// Offline when no data for longer than max(`offline_intervals` × the upload interval,
    /// `offline_min_minutes`): the one threshold of the engine's offline finding and of every
    /// page's "online now".
    pub fn offline_threshold_ms(&self, interval_ms: i64) -> i64 {
        let by_intervals = self.offline_intervals * interval_ms as f64;
        let by_minutes = i64::from(self.offline_min_minutes).saturating_mul(60_000);
        (if by_intervals.is_finite() { by_intervals as i64 } else { 0 }).max(by_minutes)
    }
}

impl Default for Params {
    fn default() -> Params {
        Params {
            valid_flags: vec!["N".to_string()],
            shutdown_flags: vec!["F".to_string()],
            hour_min_valid_minutes: 45,
            day_min_valid_hours: 20,
            o2_not_convertible: 19.0,
            water_flow_weighted: true,
            hourly_tolerance: 0.05,
            hourly_tolerance_abs: 0.05,
            offline_intervals: 3.0,
            offline_min_minutes: 30,
            constant_min_minute_records: 12,
            constant_min_hour_records: 6,
            clock_future_minutes: 10,
            retention_days: 0,
            permit_warn_shares: vec![0.8, 1.0],
            monthly_within_share: 0.95,
            monthly_rule_source_types: ["sinter_head", "pellet", "steel_ultra_low"]
                .map(String::from)
                .to_vec(),
            substitute_missing: false,
            substitute_short_gap_hours: 24,
            substitute_short_lookback_hours: 180,
            substitute_long_lookback_hours: 720,
            substitute_capture_high: 0.9,
            substitute_capture_low: 0.75,
            substitute_capture_low_lookback_hours: 2160,
        }
    }
}

/// A `--param name=value` that could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("unknown parameter {0:?} (known: {known})", known = Params::NAMES.join(", "))]
    Unknown(String),
    #[error("parameter {name}: {value:?} is not {expected}")]
    Invalid { name: String, value: String, expected: &'static str },
    #[error("{0:?} is not name=value")]
    Syntax(String),
}

impl Params {
    /// Every parameter name, in declaration order.
    pub const NAMES: [&'static str; 24] = [
        "valid_flags",
        "shutdown_flags",
        "hour_min_valid_minutes",
        "day_min_valid_hours",
        "o2_not_convertible",
        "water_flow_weighted",
        "hourly_tolerance",
        "hourly_tolerance_abs",
        "offline_intervals",
        "offline_min_minutes",
        "constant_min_minute_records",
        "constant_min_hour_records",
        "clock_future_minutes",
        "retention_days",
        "permit_warn_shares",
        "monthly_within_share",
        "monthly_rule_source_types",
        "substitute_missing",
        "substitute_short_gap_hours",
        "substitute_short_lookback_hours",
        "substitute_long_lookback_hours",
        "substitute_capture_high",
        "substitute_capture_low",
        "substitute_capture_low_lookback_hours",
    ];

    /// Apply `name=value`. Lists are comma-separated (`valid_flags=N,S`).
    pub fn apply(&mut self, assignment: &str) -> Result<(), ParamError> {
        let Some((name, value)) = assignment.split_once('=') else {
            return Err(ParamError::Syntax(assignment.to_string()));
        };
        self.set(name.trim(), value.trim())
    }

    /// Set one parameter by name.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ParamError> {
        let invalid =
            |expected| ParamError::Invalid { name: name.to_string(), value: value.to_string(), expected };
        let uint = || value.parse::<u32>().map_err(|_| invalid("a whole number"));
        let share = || match value.parse::<f64>() {
            Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
            _ => Err(invalid("a non-negative number")),
        };
        let boolean = || match value {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(invalid("true or false")),
        };
        let list = || value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
        match name {
            "valid_flags" => self.valid_flags = list(),
            "shutdown_flags" => self.shutdown_flags = list(),
            "hour_min_valid_minutes" => self.hour_min_valid_minutes = uint()?,
            "day_min_valid_hours" => self.day_min_valid_hours = uint()?,
            "o2_not_convertible" => self.o2_not_convertible = share()?,
            "water_flow_weighted" => self.water_flow_weighted = boolean()?,
            "substitute_missing" => self.substitute_missing = boolean()?,
            "substitute_short_gap_hours" => self.substitute_short_gap_hours = uint()?,
            "substitute_short_lookback_hours" => self.substitute_short_lookback_hours = uint()?,
            "substitute_long_lookback_hours" => self.substitute_long_lookback_hours = uint()?,
            "substitute_capture_high" => self.substitute_capture_high = share()?,
            "substitute_capture_low" => self.substitute_capture_low = share()?,
            "substitute_capture_low_lookback_hours" => self.substitute_capture_low_lookback_hours = uint()?,
            "hourly_tolerance" => self.hourly_tolerance = share()?,
            "hourly_tolerance_abs" => self.hourly_tolerance_abs = share()?,
            "offline_intervals" => self.offline_intervals = share()?,
            "offline_min_minutes" => self.offline_min_minutes = uint()?,
            "constant_min_minute_records" => self.constant_min_minute_records = uint()?,
            "constant_min_hour_records" => self.constant_min_hour_records = uint()?,
            "clock_future_minutes" => self.clock_future_minutes = uint()?,
            "retention_days" => self.retention_days = uint()?,
            "permit_warn_shares" => {
                let mut v = Vec::new();
                for s in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    match s.parse::<f64>() {
                        Ok(x) if x.is_finite() && x > 0.0 => v.push(x),
                        _ => return Err(invalid("a comma-separated list of positive numbers")),
                    }
                }
                v.sort_by(f64::total_cmp);
                self.permit_warn_shares = v;
            }
            "monthly_within_share" => self.monthly_within_share = share()?,
            "monthly_rule_source_types" => self.monthly_rule_source_types = list(),
            _ => return Err(ParamError::Unknown(name.to_string())),
        }
        Ok(())
    }

    /// Whether a data flag declares a shutdown (no flag: no).
    pub fn is_shutdown_flag(&self, flag: Option<&str>) -> bool {
        flag.is_some_and(|f| self.shutdown_flags.iter().any(|s| s == f))
    }

    /// Whether a data flag counts as valid. A record without a flag is taken as `N` (HJ 212: the
    /// flag is optional and `N` is the normal state).
    pub fn is_valid_flag(&self, flag: Option<&str>) -> bool {
        let flag = flag.unwrap_or("N").as_bytes();
        // Byte loop rather than `==`: flags are one or two bytes, and this runs for every value
        // of every rule, where a libc memcmp call per comparison shows in profiles.
        self.valid_flags.iter().any(|f| {
            let f = f.as_bytes();
            f.len() == flag.len() && f.iter().zip(flag).all(|(a, b)| a == b)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_rules_file() {
        let p = Params::default();
        assert_eq!(p.hour_min_valid_minutes, 45);
        assert_eq!(p.day_min_valid_hours, 20);
        assert_eq!(p.o2_not_convertible, 19.0);
        assert!(p.is_valid_flag(Some("N")));
        assert!(p.is_valid_flag(None));
        for f in ["F", "M", "S", "D", "C", "T", "B"] {
            assert!(!p.is_valid_flag(Some(f)), "{f}");
        }
    }

    #[test]
    fn set_by_name() {
        let mut p = Params::default();
        p.apply("hour_min_valid_minutes=40").unwrap();
        p.apply("valid_flags = N, S").unwrap();
        p.apply("permit_warn_shares=1,0.9").unwrap();
        assert_eq!(p.hour_min_valid_minutes, 40);
        assert_eq!(p.valid_flags, ["N", "S"]);
        assert_eq!(p.permit_warn_shares, [0.9, 1.0]);
        assert!(matches!(p.apply("nope=1"), Err(ParamError::Unknown(_))));
        assert!(matches!(p.apply("day_min_valid_hours=x"), Err(ParamError::Invalid { .. })));
        assert!(matches!(p.apply("day_min_valid_hours"), Err(ParamError::Syntax(_))));
        let msg = p.apply("o2_not_convertible=-1").unwrap_err().to_string();
        assert!(msg.contains("o2_not_convertible"), "{msg}");
    }

    #[test]
    fn every_name_is_settable() {
        let json = serde_json::to_value(Params::default()).unwrap();
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        let mut names = Params::NAMES.map(String::from).to_vec();
        names.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, names);
    }
}
