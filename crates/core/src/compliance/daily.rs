//! Daily aggregates (China-time day 00:00–24:00) from the day's hourly aggregates: mean of the
//! valid hourly means, valid with at least `day_min_valid_hours` valid hours. Wastewater daily
//! means are flow-weighted (HJ 356-2019) when `water_flow_weighted` is set.

use super::params::Params;
use super::prepare::{limit_at, outside};
use super::types::{Aggregate, Invalidity, Period, Source, factor};
use crate::registry::OutletKind;

/// The daily aggregate of `code` for the day starting at `start`, from that factor's hours of
/// the day (`hours`) and, for water, the flow factor's hours (`flow_hours`).
///
/// Flow weighting (water, not pH): Σ C_h·Q_h / Σ Q_h over the valid hours, with Q_h the valid
/// hourly mean flow (w00000) of the same hour. It is used only when every valid hour of the
/// factor has a valid, non-negative flow and the total flow is positive; otherwise the day falls
/// back to the arithmetic mean (a weighted mean over part of the day would silently drop hours).
///
/// Air days carry `exceeds` = converted daily mean outside the limit, for information only:
/// the regulator judges flue gas on hours. Water days are the judgement.
pub(crate) fn day_aggregate(
    src: &Source,
    code: &str,
    start: i64,
    hours: &[&Aggregate],
    flow_hours: &[&Aggregate],
    params: &Params,
) -> Aggregate {
    let valid: Vec<&Aggregate> = hours.iter().copied().filter(|h| h.valid && h.mean.is_some()).collect();
    let with_data = hours.iter().filter(|h| h.records > 0).count() as u32;
    let n = valid.len() as u32;
    let reason = if with_data == 0 {
        Some(Invalidity::NoData)
    } else if n == 0 {
        Some(Invalidity::NoValidData)
    } else if n < params.day_min_valid_hours {
        Some(Invalidity::InsufficientCoverage)
    } else {
        None
    };
    let arithmetic = |f: fn(&Aggregate) -> Option<f64>| {
        let v: Vec<f64> = valid.iter().filter_map(|h| f(h)).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let mut mean = arithmetic(|h| h.mean);
    if src.kind == OutletKind::Wastewater
        && params.water_flow_weighted
        && code != factor::PH
        && code != factor::WATER_FLOW
        && !valid.is_empty()
    {
        let flow_of = |t: i64| {
            flow_hours
                .iter()
                .find(|f| f.start == t && f.valid)
                .and_then(|f| f.mean)
                .filter(|q| q.is_finite() && *q >= 0.0)
        };
        let pairs: Vec<(f64, f64)> =
            valid.iter().filter_map(|h| Some((h.mean?, flow_of(h.start)?))).collect();
        let total: f64 = pairs.iter().map(|(_, q)| q).sum();
        if pairs.len() == valid.len() && total > 0.0 && total.is_finite() {
            mean = Some(pairs.iter().map(|(c, q)| c * q).sum::<f64>() / total);
        }
    }
    let converted_mean = match src.kind {
        OutletKind::FlueGas => arithmetic(|h| h.converted_mean),
        OutletKind::Wastewater => mean,
    };
    let (limit, limit_min) = limit_at(src, code, start);
    let valid_day = reason.is_none();
    let exceeds = valid_day && converted_mean.is_some_and(|c| outside(c, limit, limit_min));
    Aggregate {
        mn: src.mn.clone(),
        outlet: src.outlet.clone(),
        factor: code.to_string(),
        period: Period::Day,
        start,
        mean,
        converted_mean,
        min: valid.iter().filter_map(|h| h.min).reduce(f64::min),
        max: valid.iter().filter_map(|h| h.max).reduce(f64::max),
        valid_units: n,
        records: with_data,
        valid: valid_day,
        reason,
        limit,
        limit_min,
        exceeds,
    }
}
