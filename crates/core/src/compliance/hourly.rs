//! Hourly aggregates from minute data (HJ 75-2017): mean of the valid minute values within the
//! clock hour, valid when valid data covers `hour_min_valid_minutes`.

use super::oxygen::convert_hour;
use super::params::Params;
use super::prepare::{Prepared, limit_at, outside, valid_value};
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
    let (limit, limit_min) = limit_at(src, code, start);
    let valid_hour = reason.is_none();
    let exceeds = valid_hour
        && src.kind == OutletKind::FlueGas
        && converted_mean.is_some_and(|c| outside(c, limit, limit_min));
    Aggregate {
        mn: src.mn.clone(),
        outlet: src.outlet.clone(),
        factor: code.to_string(),
        period: Period::Hour,
        start,
        mean,
        converted_mean,
        min,
        max,
        valid_units: coverage,
        records: recs.len().min(u32::MAX as usize) as u32,
        valid: valid_hour,
        reason,
        limit,
        limit_min,
        exceeds,
    }
}
