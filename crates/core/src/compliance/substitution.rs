//! Substitution of the emission of missing hours (HJ 75-2017 §11, as the rules file gives it;
//! every number a parameter): a flue-gas pollutant's hour without a measured emission, outside a
//! declared shutdown, counts the highest hourly emission of the preceding valid hours —
//! `substitute_short_lookback_hours` (180) valid hours for a gap of at most
//! `substitute_short_gap_hours` (24) hours, `substitute_long_lookback_hours` (720) for a longer
//! one, when the quarter's capture (valid hours / hours evaluated so far in the calendar
//! quarter, declared shutdown hours left out) is at
//! least `substitute_capture_high` (0.9); `substitute_capture_low_lookback_hours` (2160) when it
//! is at least `substitute_capture_low` (0.75); below that nothing is substituted and the
//! finding says so.
//!
//! Off by default (`substitute_missing`): the live engine evaluates a window with a day of
//! context, not the months of look-back this needs, so only `fenhe replay` (which holds every
//! hour of its captures) applies it today; the engine would take the look-back from its stored
//! hourly emissions.
//!
//! A substituted hour is an hourly [`Emission`] with `records` 0 (nothing measured it), and each
//! gap a [`FindingKind::Substituted`] finding with the value, the look-back and the capture, so
//! every report that lists findings marks the hours.

use std::collections::BTreeMap;

use super::params::Params;
use super::prepare::Prepared;
use super::types::{Aggregate, Emission, Finding, FindingKind, Period, Source};
use super::wording::{factor_name_en, factor_name_zh, fmt_num};
use crate::china_time::{HOUR_MS, date_of, date_start, minute_text};
use crate::registry::OutletKind;

/// Substituted hourly emissions and the findings that mark them, for the hours of `hours`
/// (one factor's or many, any order) given the measured hourly emissions `measured`.
pub(crate) fn substitute(
    src: &Source,
    prep: &Prepared<'_>,
    hours: &[Aggregate],
    measured: &[Emission],
    params: &Params,
) -> (Vec<Emission>, Vec<Finding>) {
    let (mut out, mut found) = (Vec::new(), Vec::new());
    if !params.substitute_missing || src.kind != OutletKind::FlueGas {
        return (out, found);
    }
    let kg: BTreeMap<(&str, i64), f64> = measured
        .iter()
        .filter(|e| e.period == Period::Hour && e.records > 0)
        .map(|e| ((e.factor.as_str(), e.start), e.kg))
        .collect();
    let mut by_factor: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for h in hours.iter().filter(|h| h.period == Period::Hour && super::prepare::is_emitted(&h.factor)) {
        by_factor.entry(h.factor.as_str()).or_default().push(h.start);
    }
    for (code, mut starts) in by_factor {
        starts.sort_unstable();
        starts.dedup();
        let shutdown = |t: i64| {
            prep.minutes_in(code, t, t + HOUR_MS)
                .iter()
                .chain(prep.device_hour(code, t).as_ref())
                .any(|r| params.is_shutdown_flag(r.values.flag()))
        };
        // (start, measured kg) of the factor's hours in time order; None = missing.
        let series: Vec<(i64, Option<f64>)> =
            starts.iter().map(|&t| (t, kg.get(&(code, t)).copied())).collect();
        let mut i = 0;
        while i < series.len() {
            if series[i].1.is_some() || shutdown(series[i].0) {
                i += 1;
                continue;
            }
            // A gap: consecutive missing hours (a shutdown hour ends it).
            let mut j = i;
            while j + 1 < series.len()
                && series[j + 1].1.is_none()
                && series[j + 1].0 == series[j].0 + HOUR_MS
                && !shutdown(series[j + 1].0)
            {
                j += 1;
            }
            let (gap_start, gap_end) = (series[i].0, series[j].0 + HOUR_MS);
            let gap_hours = (j - i + 1) as u32;
            // Capture in the quarter up to the gap: valid (measured) hours over hours.
            let q = quarter_start(gap_start);
            let in_quarter: Vec<&(i64, Option<f64>)> =
                series[..i].iter().filter(|(t, k)| *t >= q && (k.is_some() || !shutdown(*t))).collect();
            let valid_q = in_quarter.iter().filter(|(_, k)| k.is_some()).count();
            let capture = if in_quarter.is_empty() { 0.0 } else { valid_q as f64 / in_quarter.len() as f64 };
            let lookback = if capture >= params.substitute_capture_high {
                if gap_hours <= params.substitute_short_gap_hours {
                    params.substitute_short_lookback_hours
                } else {
                    params.substitute_long_lookback_hours
                }
            } else if capture >= params.substitute_capture_low {
                params.substitute_capture_low_lookback_hours
            } else {
                0
            };
            let highest = series[..i]
                .iter()
                .rev()
                .filter_map(|(_, k)| *k)
                .take(lookback as usize)
                .fold(None, |m: Option<f64>, k| Some(m.map_or(k, |m| m.max(k))));
            let (from, to, pct) = (minute_text(gap_start), minute_text(gap_end), fmt_num(capture * 100.0));
            let (detail, detail_zh) = match highest {
                Some(v) => {
                    for t in series[i..=j].iter().map(|(t, _)| *t) {
                        out.push(Emission {
                            mn: src.mn.clone(),
                            outlet: src.outlet.clone(),
                            factor: code.to_string(),
                            period: Period::Hour,
                            start: t,
                            kg: v,
                            records: 0,
                            from_cou: false,
                        });
                    }
                    let v = fmt_num(v);
                    (
                        format!(
                            "{}: {gap_hours} h without a measured emission from {from} to {to}, substituted with {v} kg/h, the highest of the preceding {lookback} valid hours (quarter's capture {pct} %, HJ 75-2017 §11)",
                            factor_name_en(code)
                        ),
                        format!(
                            "{}：{from} 至 {to} 共 {gap_hours} 小时无实测排放量，按前 {lookback} 个有效小时的最大小时排放量 {v} kg/h 替代（本季度数据捕集率 {pct} %，HJ 75-2017 第 11 章）",
                            factor_name_zh(code)
                        ),
                    )
                }
                None => (
                    format!(
                        "{}: {gap_hours} h without a measured emission from {from} to {to}, not substituted: {} (quarter's capture {pct} %)",
                        factor_name_en(code),
                        if lookback == 0 {
                            "capture below the substitution threshold"
                        } else {
                            "no valid hour before the gap"
                        }
                    ),
                    format!(
                        "{}：{from} 至 {to} 共 {gap_hours} 小时无实测排放量，未替代：{}（本季度数据捕集率 {pct} %）",
                        factor_name_zh(code),
                        if lookback == 0 {
                            "数据捕集率低于替代要求"
                        } else {
                            "缺失时段前无有效小时"
                        }
                    ),
                ),
            };
            found.push(Finding {
                mn: src.mn.clone(),
                factor: Some(code.to_string()),
                kind: FindingKind::Substituted,
                start: gap_start,
                end: gap_end,
                detail,
                detail_zh,
                open: false,
            });
            i = j + 1;
        }
    }
    (out, found)
}

/// Start of the China-time calendar quarter containing `t`.
fn quarter_start(t: i64) -> i64 {
    let d = date_of(t);
    let first_month = (d.month() - 1) / 3 * 3 + 1;
    jiff::civil::Date::new(d.year(), first_month, 1).map_or(t, date_start)
}
