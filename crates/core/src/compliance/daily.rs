//! Daily aggregates (China-time day 00:00–24:00) from the day's hourly aggregates: mean of the
//! valid hourly means, valid with at least `day_min_valid_hours` valid hours. Wastewater daily
//! means are the day's mass over the day's volume (HJ 212-2017 Appendix D formulas 12–14,
//! HJ 356-2019) when `water_flow_weighted` is set.

use super::params::Params;
use super::prepare::{Prepared, limit_at, outside, record_at, valid_value};
use super::types::{Aggregate, Finding, FindingKind, Invalidity, Period, Source, factor};
use super::wording::{factor_name_en, factor_name_zh, fmt_num, unit};
use crate::china_time::{DAY_MS, HOUR_MS};
use crate::registry::OutletKind;

/// Σ C·Q·Δt and Σ Q·Δt over the minute records of water factor `code` in `[from, to)` with a
/// valid concentration and a valid, non-negative flow at the same DataTime (Δt the interval, s).
pub(crate) fn minute_mass_volume(
    prep: &Prepared<'_>,
    code: &str,
    from: i64,
    to: i64,
    params: &Params,
) -> (f64, f64) {
    let flows = prep.minutes_in(factor::WATER_FLOW, from, to);
    let step = prep.interval_ms as f64 / 1000.0;
    let (mut mass, mut volume) = (0.0f64, 0.0f64);
    for r in prep.minutes_in(code, from, to) {
        if let Some(c) = valid_value(r, params)
            && let Some(q) = record_at(flows, r.data_time)
                .and_then(|f| valid_value(f, params))
                .filter(|q| q.is_finite() && *q >= 0.0)
        {
            mass += c * q * step;
            volume += q * step;
        }
    }
    (mass, volume)
}

/// How a water day's mean was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Weighting {
    /// Not a flow-weighted factor (air, pH, the flow itself) or weighting switched off.
    NotWeighted,
    /// Mass over volume of the records with a valid flow.
    ByFlow,
    /// A weighted factor with no valid flow all day: the arithmetic mean of the valid hours.
    NoFlow,
}

/// The day's mass over its volume for water factor `code` (HJ 212-2017 Appendix D formulas 8–14):
/// C_day = Σ C_i·Q_i·Δt_i / Σ Q_i·Δt_i over the records of the day with a valid concentration and
/// a valid, non-negative flow at the same DataTime — minute records (Δt the interval) and, for
/// hours without minute data of `code`, the device's hourly records (Δt one hour, the flow's
/// hourly record). The same records make the day's emission, so the mean equals the day's
/// emission over its volume. Records without a valid flow drop out of both sums; `None` when no
/// record has one (or the volume is zero).
fn mass_over_volume(prep: &Prepared<'_>, code: &str, start: i64, params: &Params) -> Option<f64> {
    let flow = factor::WATER_FLOW;
    let q_of = |r: Option<&super::types::Record>| {
        r.and_then(|f| valid_value(f, params)).filter(|q| q.is_finite() && *q >= 0.0)
    };
    let (mut mass, mut volume) = (0.0f64, 0.0f64);
    let mut h = start;
    while h < start.saturating_add(DAY_MS) {
        if prep.minutes_in(code, h, h + HOUR_MS).is_empty() {
            if let Some(r) = prep.device_hour(code, h)
                && let Some(c) = valid_value(r, params)
                && let Some(q) = q_of(prep.device_hour(flow, h))
            {
                mass += c * q * 3600.0;
                volume += q * 3600.0;
            }
        } else {
            let (m, v) = minute_mass_volume(prep, code, h, h + HOUR_MS, params);
            mass += m;
            volume += v;
        }
        h += HOUR_MS;
    }
    (volume > 0.0 && mass.is_finite() && volume.is_finite()).then(|| mass / volume)
}

/// The daily aggregate of `code` for the day starting at `start`, from that factor's hours of
/// the day (`hours`) and, for water, its records (`prep`), with how its mean was taken.
///
/// Flow weighting (water, not pH, not the flow): the day's mass over the day's volume
/// ([`mass_over_volume`]), not a flow-weighting of hourly means; records without a valid flow
/// drop out of the weighting. Only with no valid flow all day is the mean the arithmetic mean of
/// the valid hours ([`Weighting::NoFlow`], which the caller reports).
///
/// Air days carry `exceeds` = converted daily mean outside the limit, for information only:
/// the regulator judges flue gas on hours. Water days are the judgement.
pub(crate) fn day_aggregate(
    src: &Source,
    prep: &Prepared<'_>,
    code: &str,
    start: i64,
    hours: &[&Aggregate],
    params: &Params,
) -> (Aggregate, Weighting) {
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
    let mut weighting = Weighting::NotWeighted;
    if src.kind == OutletKind::Wastewater
        && params.water_flow_weighted
        && code != factor::PH
        && code != factor::WATER_FLOW
        && !valid.is_empty()
    {
        match mass_over_volume(prep, code, start, params) {
            Some(m) => {
                mean = Some(m);
                weighting = Weighting::ByFlow;
            }
            None => weighting = Weighting::NoFlow,
        }
    }
    let converted_mean = match src.kind {
        OutletKind::FlueGas => arithmetic(|h| h.converted_mean),
        OutletKind::Wastewater => mean,
    };
    let (limit, limit_min) = limit_at(src, code, start);
    let valid_day = reason.is_none();
    let exceeds = valid_day && converted_mean.is_some_and(|c| outside(c, limit, limit_min));
    let agg = Aggregate {
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
    };
    (agg, weighting)
}

/// The finding that says a water day's mean is not flow-weighted (no valid flow all day).
pub(crate) fn unweighted_day(src: &Source, day: &Aggregate) -> Finding {
    let date = crate::china_time::date_of(day.start);
    let v = day.mean.map_or_else(|| "-".to_string(), fmt_num);
    let (u, n) = (unit(&day.factor), day.valid_units);
    Finding {
        mn: src.mn.clone(),
        factor: Some(day.factor.clone()),
        kind: FindingKind::UnweightedDay,
        start: day.start,
        end: day.start.saturating_add(DAY_MS),
        detail: format!(
            "{}: no valid flow on {date}: the daily mean {v}{u} is the arithmetic mean of {n} valid hours, not flow-weighted",
            factor_name_en(&day.factor)
        ),
        detail_zh: format!(
            "{}：{date} 全天无有效流量，日均值 {v}{u} 为 {n} 个有效小时的算术平均值，未按流量加权",
            factor_name_zh(&day.factor)
        ),
        open: false,
    }
}
