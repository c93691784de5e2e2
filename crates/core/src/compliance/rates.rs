//! Transmission, validity and compliance rates.
//!
//! - expected = records the device should send in the period for each factor: period minutes ÷
//!   interval of minute records, or 24 a day for a factor the device sent only hourly records
//!   (2061) of that day, for the registered factors (the factors seen that day when none are
//!   registered); records of a declared shutdown (`shutdown_flags`, default F) leave the expected
//!   count, and their time is reported as the `stopped` findings, not as failed monitoring
//!   (periods an accepted alarm explanation marks as shutdown will leave it too, with the
//!   explanation workflow: [`day_rate`] takes them as `declared_shutdown`);
//! - received = records of those factors outside a declared shutdown; valid = received whose flag
//!   counts and whose value is a finite number;
//! - transmission = received / expected, validity = valid / received, effective transmission
//!   (传输有效率) = transmission × validity = valid / expected (each capped at 1: a device sending
//!   more often than registered is not more than complete);
//! - compliance = judged periods not exceeding / judged periods, where judged means valid with a
//!   limit. Flue gas is judged on hours; wastewater on daily means, so for water outlets
//!   `judged_hours` / `exceeding_hours` count judged / exceeding **days**.

use std::collections::BTreeSet;

use super::episodes::judged_period;
use super::params::Params;
use super::prepare::{Prepared, slice_in, valid_value};
use super::types::{Aggregate, Period, Rate, Record, Source};
use crate::china_time::{DAY_MS, HOUR_MS};

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
    let share = |n: u32, of: u32| if of == 0 { 0.0 } else { (f64::from(n) / f64::from(of)).min(1.0) };
    let transmission = share(received, expected);
    let validity = share(valid, received);
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
        effective_transmission: share(valid, expected),
        compliance: (judged_hours > 0)
            .then(|| f64::from(judged_hours - exceeding_hours.min(judged_hours)) / f64::from(judged_hours)),
        judged_hours,
        exceeding_hours,
    }
}

/// Spans a declared shutdown covers beyond the records' own flags (accepted alarm explanations
/// marking shutdown, issue 18): `[start, end)` ranges; none until that workflow supplies them.
pub(crate) type DeclaredShutdown<'s> = &'s [(i64, i64)];

/// The rates of the day starting at `start`; `aggs` are the day's hourly and daily aggregates.
pub(crate) fn day_rate(
    src: &Source,
    prep: &Prepared<'_>,
    start: i64,
    aggs: &[&Aggregate],
    declared_shutdown: DeclaredShutdown<'_>,
    params: &Params,
) -> Rate {
    let end = start.saturating_add(DAY_MS);
    let factors: BTreeSet<&str> = if src.factors.is_empty() {
        let mut f: BTreeSet<&str> = BTreeSet::new();
        for m in [&prep.minutes, &prep.hours] {
            f.extend(m.iter().filter(|(_, v)| !slice_in(v, start, end).is_empty()).map(|(k, _)| *k));
        }
        f
    } else {
        src.factors.iter().map(String::as_str).collect()
    };
    let minutes_a_day = (DAY_MS / prep.interval_ms.max(1)) as u64;
    let shut = |r: &Record| {
        params.is_shutdown_flag(r.values.flag())
            || declared_shutdown.iter().any(|&(a, b)| r.data_time >= a && r.data_time < b)
    };
    let (mut expected, mut received, mut valid) = (0u64, 0u64, 0u64);
    for f in &factors {
        let minutes = prep.minutes_in(f, start, end);
        let hours = slice_in(prep.hour_series(f), start, end);
        // A factor the device sent only hourly records of that day is expected hourly.
        let (recs, per_day) = if minutes.is_empty() && !hours.is_empty() {
            (hours, DAY_MS / HOUR_MS)
        } else {
            (minutes, minutes_a_day as i64)
        };
        let down = recs.iter().filter(|r| shut(r)).count() as u64;
        expected += (per_day as u64).saturating_sub(down);
        received += recs.len() as u64 - down;
        valid += recs.iter().filter(|r| !shut(r) && valid_value(r, params).is_some()).count() as u64;
    }
    let c = |n: u64| n.min(u64::from(u32::MAX)) as u32;
    let (j, e) = judged(src, aggs);
    rate_from(src, Period::Day, start, c(expected), c(received), c(valid), j, e)
}
