//! Hourly aggregates from minute data (HJ 75-2017): mean of the valid minute values within the
//! clock hour, valid when valid data covers `hour_min_valid_minutes`. An hour without minute
//! data of the factor is judged on the device's own hourly record (2061) when it sent one: a
//! device that sends only hourly data (many water analysers, some stacks) is judged on it.

use super::oxygen::{convert_device_hour, convert_hour};
use super::params::Params;
use super::prepare::{Prepared, limit_at, outside, valid_value, value};
use super::types::{Aggregate, Invalidity, Period, Record, Source};
use crate::china_time::HOUR_MS;
use crate::registry::OutletKind;

/// The aggregate of factor `code` over the clock hour starting at `start`.
///
/// Coverage counts each valid record's interval (`src.minute_interval_min`), capped at 60. Air
/// hours exceed when valid and the converted mean is above the limit in force at the hour's
/// start; water hours carry the limit but never exceed (water is judged on daily means).
pub(crate) fn hour_aggregate(
    src: &Source,
    prep: &Prepared<'_>,
    code: &str,
    start: i64,
    params: &Params,
) -> Aggregate {
    let recs = prep.minutes_in(code, start, start.saturating_add(HOUR_MS));
    if recs.is_empty()
        && let Some(r) = prep.device_hour(code, start)
    {
        return device_hour_aggregate(src, prep, code, start, r, params);
    }
    let valid: Vec<(&Record, f64)> =
        recs.iter().filter_map(|r| valid_value(r, params).map(|v| (*r, v))).collect();
    let interval = u64::from(src.minute_interval_min.max(1));
    let coverage = (valid.len() as u64).saturating_mul(interval).min(60) as u32;
    let n = valid.len() as f64;
    let mean = (!valid.is_empty()).then(|| valid.iter().map(|(_, v)| v).sum::<f64>() / n);
    let min = valid.iter().map(|(_, v)| *v).reduce(f64::min);
    let max = valid.iter().map(|(_, v)| *v).reduce(f64::max);
    let mut reason = if recs.is_empty() {
        Some(Invalidity::NoData)
    } else if valid.is_empty() {
        Some(Invalidity::NoValidData)
    } else if coverage < params.hour_min_valid_minutes {
        Some(Invalidity::InsufficientCoverage)
    } else {
        None
    };
    let converted_mean = mean.and_then(|m| match convert_hour(src, prep, code, start, &valid, m, params) {
        Ok(c) if c.is_finite() => Some(c),
        Ok(_) => {
            reason.get_or_insert(Invalidity::NotConvertible);
            None
        }
        Err(e) => {
            reason.get_or_insert(e);
            None
        }
    });
    let records = recs.len().min(u32::MAX as usize) as u32;
    finish(src, code, start, Measured { mean, converted_mean, min, max, coverage, records, reason })
}

/// What an hour measured, before it is held against the limit.
struct Measured {
    mean: Option<f64>,
    converted_mean: Option<f64>,
    min: Option<f64>,
    max: Option<f64>,
    coverage: u32,
    records: u32,
    reason: Option<Invalidity>,
}

/// The hour's row: the limit in force at its start, and whether it exceeds it.
fn finish(src: &Source, code: &str, start: i64, m: Measured) -> Aggregate {
    let (limit, limit_min) = limit_at(src, code, start);
    let valid_hour = m.reason.is_none();
    let exceeds = valid_hour
        && src.kind == OutletKind::FlueGas
        && m.converted_mean.is_some_and(|c| outside(c, limit, limit_min));
    Aggregate {
        mn: src.mn.clone(),
        outlet: src.outlet.clone(),
        factor: code.to_string(),
        period: Period::Hour,
        start,
        mean: m.mean,
        converted_mean: m.converted_mean,
        min: m.min,
        max: m.max,
        valid_units: m.coverage,
        records: m.records,
        valid: valid_hour,
        reason: m.reason,
        limit,
        limit_min,
        exceeds,
    }
}

/// The hour judged on the device's hourly record `r` (no minute data of `code` in the hour): the
/// record covers its clock hour (60 minutes when its flag is valid, none otherwise), its `Avg`
/// (else `Rtd`) is the hour's mean, minimum and maximum, and its converted value is its `ZsAvg`
/// (else `ZsRtd`), else its value converted with the O2 of the same hour's record, as for minute
/// data ([`convert_device_hour`]).
fn device_hour_aggregate(
    src: &Source,
    prep: &Prepared<'_>,
    code: &str,
    start: i64,
    r: &Record,
    params: &Params,
) -> Aggregate {
    let flag_valid = params.is_valid_flag(r.values.flag());
    let v = value(&r.values);
    let mut reason = match v {
        Some(_) if flag_valid => None,
        _ => Some(Invalidity::NoValidData),
    };
    let converted_mean = v.and_then(|m| match convert_device_hour(src, prep, code, start, r, m, params) {
        Ok(c) if c.is_finite() => Some(c),
        Ok(_) => {
            reason.get_or_insert(Invalidity::NotConvertible);
            None
        }
        Err(e) => {
            reason.get_or_insert(e);
            None
        }
    });
    let (mean, coverage) = if flag_valid { (v, 60) } else { (None, 0) };
    let converted_mean = converted_mean.filter(|_| flag_valid);
    finish(
        src,
        code,
        start,
        Measured { mean, converted_mean, min: mean, max: mean, coverage, records: 1, reason },
    )
}
