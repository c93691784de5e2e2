//! Transmission, validity and compliance rates.
//!
//! - expected = minute records the device should send in the period: period minutes ÷ interval
//!   × registered factors (the factors seen that day when none are registered);
//! - received / valid = minute records (valid: flag counts and a finite value) of those factors;
//! - transmission = received / expected, validity = valid / expected (both capped at 1: a device
//!   sending more often than registered is not more than complete), effective transmission =
//!   transmission × validity;
//! - compliance = judged periods not exceeding / judged periods, where judged means valid with a
//!   limit. Flue gas is judged on hours; wastewater on daily means, so for water outlets
//!   `judged_hours` / `exceeding_hours` count judged / exceeding **days**.

use std::collections::BTreeSet;

use super::episodes::judged_period;
use super::params::Params;
use super::prepare::{Prepared, valid_value};
use super::types::{Aggregate, Period, Rate, Source};
use crate::china_time::DAY_MS;

/// Judged and exceeding periods among `aggs` (only the period `src.kind` is judged on).
pub(crate) fn judged(src: &Source, aggs: &[&Aggregate]) -> (u32, u32) {
    let period = judged_period(src.kind);
    let judged =
        aggs.iter().filter(|a| a.period == period && a.valid && (a.limit.is_some() || a.limit_min.is_some()));
    judged.fold((0, 0), |(j, e), a| (j + 1, e + u32::from(a.exceeds)))
}

/// A rate row from counts.
#[allow(clippy::too_many_arguments)]
pub(crate) fn rate_from(
    src: &Source,
    period: Period,
    start: i64,
    expected: u32,
    received: u32,
    valid: u32,
    judged_hours: u32,
    exceeding_hours: u32,
) -> Rate {
    let share = |n: u32| if expected == 0 { 0.0 } else { (f64::from(n) / f64::from(expected)).min(1.0) };
    let transmission = share(received);
    let validity = share(valid);
    Rate {
        mn: src.mn.clone(),
        outlet: src.outlet.clone(),
        period,
        start,
        expected,
        received,
        valid,
        transmission,
        validity,
        effective_transmission: transmission * validity,
        compliance: (judged_hours > 0)
            .then(|| f64::from(judged_hours - exceeding_hours.min(judged_hours)) / f64::from(judged_hours)),
        judged_hours,
        exceeding_hours,
    }
}

/// The rates of the day starting at `start`; `aggs` are the day's hourly and daily aggregates.
pub(crate) fn day_rate(
    src: &Source,
    prep: &Prepared<'_>,
    start: i64,
    aggs: &[&Aggregate],
    params: &Params,
) -> Rate {
    let end = start.saturating_add(DAY_MS);
    let factors: BTreeSet<&str> = if src.factors.is_empty() {
        prep.minutes
            .iter()
            .filter(|(_, v)| !super::prepare::slice_in(v, start, end).is_empty())
            .map(|(k, _)| *k)
            .collect()
    } else {
        src.factors.iter().map(String::as_str).collect()
    };
    let per_factor = (DAY_MS / prep.interval_ms.max(1)) as u64;
    let expected = per_factor.saturating_mul(factors.len() as u64).min(u64::from(u32::MAX)) as u32;
    let (mut received, mut valid) = (0u32, 0u32);
    for f in &factors {
        let recs = prep.minutes_in(f, start, end);
        received = received.saturating_add(recs.len().min(u32::MAX as usize) as u32);
        valid = valid.saturating_add(recs.iter().filter(|r| valid_value(r, params).is_some()).count() as u32);
    }
    let (j, e) = judged(src, aggs);
    rate_from(src, Period::Day, start, expected, received, valid, j, e)
}
