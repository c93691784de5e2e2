//! The shared first step of every rule: one device's records made canonical (deduplicated, sorted,
//! grouped by factor), so that results never depend on the order the records arrived in.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use foldhash::HashMap as FastMap;

use super::params::Params;
use super::rule_values::{RuleNumber, RuleValues};
use super::types::{DataKind, Record, Source, factor};
use crate::china_time::MINUTE_MS;
use crate::registry::OutletKind;

/// The number a record carries: `Avg`, else `Rtd`; only finite numbers count.
pub(crate) fn value(v: &RuleValues) -> Option<f64> {
    v.avg().filter(|x| x.is_finite()).or(v.rtd().filter(|x| x.is_finite()))
}

/// The device's own reference-O2 value: `ZsAvg`, else `ZsRtd`.
pub(crate) fn zs_value(v: &RuleValues) -> Option<f64> {
    v.zs_avg().filter(|x| x.is_finite()).or(v.zs_rtd().filter(|x| x.is_finite()))
}

/// The value of a record when its flag counts for compliance.
pub(crate) fn valid_value(r: &Record, params: &Params) -> Option<f64> {
    if params.is_valid_flag(r.values.flag()) { value(&r.values) } else { None }
}

/// The flow factor of an outlet kind.
pub(crate) fn flow_factor(kind: OutletKind) -> &'static str {
    match kind {
        OutletKind::FlueGas => factor::GAS_FLOW,
        OutletKind::Wastewater => factor::WATER_FLOW,
    }
}

/// Flue-gas parameters (flow, temperature, pressure, humidity, velocity, O2): measured
/// conditions, not pollutants, so never converted to reference O2.
pub(crate) fn is_gas_parameter(code: &str) -> bool {
    code == factor::GAS_FLOW || code == factor::O2 || code.starts_with("a01")
}

/// Whether `code` is a flue-gas pollutant whose concentration is converted to reference O2.
pub(crate) fn is_converted(src: &Source, code: &str) -> bool {
    converts_to_reference_o2(src.kind, src.reference_o2, code)
}

/// [`is_converted`] for an outlet of `kind` with `reference_o2`: the one rule, shared with the
/// pages that show converted values beside measured ones.
pub fn converts_to_reference_o2(kind: OutletKind, reference_o2: Option<f64>, code: &str) -> bool {
    kind == OutletKind::FlueGas
        && reference_o2.is_some_and(|r| r.is_finite() && r < 21.0)
        && code.starts_with('a')
        && !is_gas_parameter(code)
}

/// Whether `code` is a pollutant with an emitted amount in kg (HJ 212 Appendix B gives 千克 as
/// its amount unit); flows, pH, O2 and the flue-gas parameters are not.
pub(crate) fn is_emitted(code: &str) -> bool {
    code != factor::GAS_FLOW
        && code != factor::WATER_FLOW
        && hj212::codes::factor(code).is_some_and(|f| f.amount_unit_zh == "千克")
}

/// Factors checked for negative values: everything except the flue-gas parameters that may be
/// negative (temperature, pressure: a01xxx).
pub(crate) fn negative_suspect(code: &str) -> bool {
    !code.starts_with("a01")
}

/// Whether two factor codes are equal; records of one factor usually share one allocation, so
/// the pointers are compared before the bytes.
fn same_code(a: &str, b: &str) -> bool {
    (std::ptr::eq(a.as_ptr(), b.as_ptr()) && a.len() == b.len()) || a == b
}

/// A total order on value sets, used only to pick one of two revisions deterministically.
fn cmp_values(a: &RuleValues, b: &RuleValues) -> Ordering {
    let num = |x: Option<f64>, y: Option<f64>| match (x, y) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.total_cmp(&y),
    };
    // The order the full value sets were compared in before records carried only these.
    [RuleNumber::Rtd, RuleNumber::Avg, RuleNumber::Cou, RuleNumber::ZsRtd, RuleNumber::ZsAvg]
        .into_iter()
        .fold(Ordering::Equal, |o, n| o.then_with(|| num(a.get(n), b.get(n))))
        .then_with(|| a.flag().cmp(&b.flag()))
}

/// One device's records in canonical form.
pub(crate) struct Prepared<'a> {
    /// Minute records (2051) per factor, sorted by DataTime, one per DataTime.
    pub minutes: BTreeMap<&'a str, Vec<&'a Record>>,
    /// Device hourly records (2061) per factor, sorted by DataTime.
    pub hours: BTreeMap<&'a str, Vec<&'a Record>>,
    /// Every record (all kinds), one per (kind, factor, DataTime), sorted by DataTime (the order
    /// among records of one DataTime is unspecified).
    pub all: Vec<&'a Record>,
    /// Minute interval in ms (at least one minute).
    pub interval_ms: i64,
}

impl<'a> Prepared<'a> {
    pub fn new(src: &Source, records: &'a [Record]) -> Prepared<'a> {
        // Group by (kind, factor) first, so the sorts below compare integers, not codes. Records
        // come in a repeating order of groups (a loader's rows or an upload's factors: minute by
        // minute, the same factors in the same order), so the group after the previous record's
        // is tried first and the map is asked only when that guess fails: hashing every record's
        // code was a sixth of the rules' time on a month of data.
        let mut index: FastMap<(DataKind, &str), usize> = FastMap::default();
        let mut groups: Vec<((DataKind, &str), Vec<&Record>)> = Vec::new();
        let mut last = 0usize;
        for r in records {
            let key = (r.kind, &*r.factor);
            let guess = if last + 1 < groups.len() { last + 1 } else { 0 };
            let hit = groups.get(guess).is_some_and(|(k, _)| k.0 == key.0 && same_code(k.1, key.1));
            last = if hit {
                guess
            } else {
                *index.entry(key).or_insert_with(|| {
                    groups.push((key, Vec::new()));
                    groups.len() - 1
                })
            };
            groups[last].1.push(r);
        }
        let mut minutes: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
        let mut hours: BTreeMap<&str, Vec<&Record>> = BTreeMap::new();
        let mut all: Vec<&Record> = Vec::with_capacity(records.len());
        for ((kind, code), mut v) in groups {
            // Canonical order; among duplicates of one DataTime, the latest receipt (then the
            // larger value set) comes first and is the one kept.
            v.sort_unstable_by(|a, b| {
                a.data_time
                    .cmp(&b.data_time)
                    .then(b.received_at.cmp(&a.received_at))
                    .then_with(|| cmp_values(&b.values, &a.values))
            });
            v.dedup_by_key(|r| r.data_time);
            all.extend_from_slice(&v);
            match kind {
                DataKind::Minute => {
                    minutes.insert(code, v);
                }
                DataKind::Hour => {
                    hours.insert(code, v);
                }
                _ => {}
            }
        }
        // Users of `all` only group by DataTime, so ties may stay in any order. `all` is one
        // sorted run per group, which the stable sort finds and merges; the unstable one
        // partitions it from scratch.
        all.sort_by_key(|r| r.data_time);
        let interval_ms = i64::from(src.minute_interval_min.max(1)) * MINUTE_MS;
        Prepared { minutes, hours, all, interval_ms }
    }

    /// Minute records of `factor` with DataTime in `[from, to)`.
    pub fn minutes_in(&self, factor: &str, from: i64, to: i64) -> &[&'a Record] {
        slice_in(self.minutes.get(factor).map_or(&[], Vec::as_slice), from, to)
    }

    /// All minute records of `factor`, time-sorted.
    pub fn minute_series(&self, factor: &str) -> &[&'a Record] {
        self.minutes.get(factor).map_or(&[], Vec::as_slice)
    }

    /// The device's hourly record (2061) of `factor` for the clock hour starting at `start`
    /// (HJ 212 dates an hourly record at its hour's start; any DataTime inside the hour counts,
    /// the earliest first).
    pub fn device_hour(&self, factor: &str, start: i64) -> Option<&'a Record> {
        slice_in(self.hour_series(factor), start, start.saturating_add(crate::china_time::HOUR_MS))
            .first()
            .copied()
    }

    /// All device hourly records of `factor`, time-sorted.
    pub fn hour_series(&self, factor: &str) -> &[&'a Record] {
        self.hours.get(factor).map_or(&[], Vec::as_slice)
    }
}

/// The record of a time-sorted slice at exactly `t`.
pub(crate) fn record_at<'a>(v: &[&'a Record], t: i64) -> Option<&'a Record> {
    v.binary_search_by_key(&t, |r| r.data_time).ok().map(|i| v[i])
}

/// The records of a time-sorted slice with DataTime in `[from, to)`.
pub(crate) fn slice_in<'s, 'a>(v: &'s [&'a Record], from: i64, to: i64) -> &'s [&'a Record] {
    let a = v.partition_point(|r| r.data_time < from);
    let b = v.partition_point(|r| r.data_time < to);
    &v[a..b.max(a)]
}

/// Upper and lower limit of `factor` in force at `t` (the China-time date of `t`, as
/// [`crate::Outlet::limit_at`] decides).
pub(crate) fn limit_at(src: &Source, code: &str, t: i64) -> (Option<f64>, Option<f64>) {
    let day = crate::china_time::date_of(t);
    src.limits
        .iter()
        .filter(|l| l.factor == code && l.effective_from <= day)
        .max_by_key(|l| l.effective_from)
        .map_or((None, None), |l| (l.max.filter(|x| x.is_finite()), l.min.filter(|x| x.is_finite())))
}

/// Whether a value lies outside `[min, max]`.
pub(crate) fn outside(v: f64, max: Option<f64>, min: Option<f64>) -> bool {
    max.is_some_and(|m| v > m) || min.is_some_and(|m| v < m)
}

/// Multiple of the limit by which `v` lies outside it: (C − C0)/C0 above the upper limit,
/// (C0 − C)/C0 below the lower one; 0 inside. A limit of zero (or less) gives the plain
/// difference, so the multiple stays finite.
pub(crate) fn multiple(v: f64, max: Option<f64>, min: Option<f64>) -> (f64, Option<f64>) {
    if let Some(m) = max.filter(|&m| v > m) {
        return (if m > 0.0 { (v - m) / m } else { v - m }, Some(m));
    }
    if let Some(m) = min.filter(|&m| v < m) {
        return (if m > 0.0 { (m - v) / m } else { m - v }, Some(m));
    }
    (0.0, max.or(min))
}

/// Arithmetic mean of a non-empty iterator.
pub(crate) fn mean(it: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut s, mut n) = (0.0, 0u32);
    for x in it {
        s += x;
        n += 1;
    }
    (n > 0).then(|| s / f64::from(n))
}
