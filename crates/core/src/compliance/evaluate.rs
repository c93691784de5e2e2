//! `evaluate`: every rule over one device's records for a window of whole days. The live engine
//! and `fenhe replay` both call it, so it depends only on the set of records, never on their
//! order or on how the data is cut into windows.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::daily::{Weighting, day_aggregate, unweighted_day};
use super::emissions::{hour_emission, total};
use super::episodes::{episodes, judged_period};
use super::hourly::hour_aggregate;
use super::monthly::monthly;
use super::params::Params;
use super::prepare::{Prepared, is_emitted, slice_in};
use super::quality::findings;
use super::rates::day_rate;
use super::substitution::substitute;
use super::types::{Aggregate, Emission, Evaluation, Finding, Period, Record, Source};
use crate::china_time::{DAY_MS, HOUR_MS, day_start, hour_start, month_start, next_month_start};

/// The periods to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Start of the first day (00:00 China time, epoch ms).
    pub from: i64,
    /// End (exclusive) of the last day (00:00 China time of the day after).
    pub to: i64,
    /// The evaluation instant (live: the wall clock; replay: the end of the last day the captures
    /// touch, or `--as-of`). Only periods that ended by then are produced.
    pub now: i64,
}

/// The longest window evaluated (about ten years); a longer one is cut at its start's end.
pub const MAX_WINDOW_DAYS: i64 = 3660;

/// Evaluate one device over `window`.
///
/// `records` are the device's latest revisions in any order and of any kind (duplicates of one
/// kind, factor and DataTime are resolved to the latest receipt); they may include context up to
/// a day before `window.from` (runs, gaps, offline) and later records, but only periods inside
/// the window produce results, and only those that ended by `window.now`.
///
/// - hours: every factor registered (`src.factors`) for every complete hour, plus every factor
///   with minute or device hourly data on a day for every complete hour of that day (an hour
///   without minute data of a factor is judged on the device's hourly record, when sent);
/// - days: the same factors for every complete day, from that day's hours;
/// - episodes: from the window's hours (flue gas) or days (water); `open` only when the
///   episode reaches the last complete period before `now`;
/// - findings: those intersecting the window, plus month findings;
/// - emissions: per hour and day (pollutants with data), and per month for months intersecting
///   the window, from this window's days (so a month row covers the days evaluated here; the
///   live engine calls [`monthly`] on the stored days for the whole month);
/// - rates: per complete day, and per month as for emissions.
pub fn evaluate(src: &Source, records: &[Record], window: Window, params: &Params) -> Evaluation {
    let derived = super::derived::with_nox(records);
    let prep = Prepared::new(src, derived.as_deref().unwrap_or(records));
    let Window { from, now, .. } = window;
    let first_day = day_start(from);
    let to = window.to.min(first_day.saturating_add(MAX_WINDOW_DAYS * DAY_MS));

    let mut hours: Vec<Aggregate> = Vec::new();
    let mut days: Vec<Aggregate> = Vec::new();
    let mut emissions: Vec<Emission> = Vec::new();
    let mut rates = Vec::new();
    let mut day_findings = Vec::new();
    let mut closed_days: Vec<i64> = Vec::new();
    let mut d = first_day;
    while d < to {
        let d_end = d.saturating_add(DAY_MS);
        let mut factors: BTreeSet<&str> = src.factors.iter().map(String::as_str).collect();
        factors
            .extend(prep.minutes.iter().filter(|(_, v)| !slice_in(v, d, d_end).is_empty()).map(|(k, _)| *k));
        factors.extend(prep.hours.iter().filter(|(_, v)| !slice_in(v, d, d_end).is_empty()).map(|(k, _)| *k));
        let first_hour = hours.len();
        let first_emission = emissions.len();
        for f in &factors {
            let mut h = d;
            while h < d_end {
                if h >= from && h < to && h.saturating_add(HOUR_MS) <= now {
                    hours.push(hour_aggregate(src, &prep, f, h, params));
                    if is_emitted(f) {
                        emissions.extend(hour_emission(src, &prep, f, h, params));
                    }
                }
                let next = h.saturating_add(HOUR_MS);
                if next <= h {
                    break;
                }
                h = next;
            }
        }
        if d >= from && d_end <= to && d_end <= now {
            let mut by_factor: BTreeMap<&str, Vec<&Aggregate>> = BTreeMap::new();
            for h in &hours[first_hour..] {
                by_factor.entry(h.factor.as_str()).or_default().push(h);
            }
            let first_day_agg = days.len();
            for (f, hs) in &by_factor {
                let (day, weighting) = day_aggregate(src, &prep, f, d, hs, params);
                if weighting == Weighting::NoFlow {
                    day_findings.push(unweighted_day(src, &day));
                }
                days.push(day);
            }
            let mut per: BTreeMap<&str, Vec<&Emission>> = BTreeMap::new();
            for e in &emissions[first_emission..] {
                per.entry(e.factor.as_str()).or_default().push(e);
            }
            let day_emissions: Vec<Emission> =
                per.into_iter().map(|(f, parts)| total(src, f, Period::Day, d, &parts)).collect();
            let aggs: Vec<&Aggregate> = hours[first_hour..].iter().chain(&days[first_day_agg..]).collect();
            rates.push(day_rate(src, &prep, d, &aggs, &[], params));
            closed_days.push(d);
            emissions.extend(day_emissions);
        }
        if d_end <= d {
            break;
        }
        d = d_end;
    }

    // Substitution (off by default) needs every hour first: a gap's length decides its look-back.
    let (substituted, marks) = substitute(src, &prep, &hours, &emissions, params);
    if !substituted.is_empty() {
        emissions.extend(substituted);
        let mut per: BTreeMap<(&str, i64), Vec<&Emission>> = BTreeMap::new();
        for e in emissions.iter().filter(|e| e.period == Period::Hour) {
            let d = day_start(e.start);
            if closed_days.binary_search(&d).is_ok() {
                per.entry((e.factor.as_str(), d)).or_default().push(e);
            }
        }
        let totals: Vec<Emission> =
            per.into_iter().map(|((f, d), parts)| total(src, f, Period::Day, d, &parts)).collect();
        emissions.retain(|e| e.period != Period::Day);
        emissions.extend(totals);
    }
    day_findings.extend(marks);

    let judged = match judged_period(src.kind) {
        Period::Hour => &hours,
        _ => &days,
    };
    let last_end = match judged_period(src.kind) {
        Period::Hour => hour_start(now),
        _ => day_start(now),
    };
    let mut eps = episodes(src, judged);
    for e in &mut eps {
        e.open = e.open && e.end >= last_end;
    }

    let intersects = |f: &Finding| f.start < to && (f.end > from || (f.end == f.start && f.start >= from));
    let mut found: Vec<Finding> =
        findings(src, &prep, &hours, now, params).into_iter().filter(intersects).collect();
    found.extend(day_findings);

    let day_emissions: Vec<Emission> =
        emissions.iter().filter(|e| e.period == Period::Day).cloned().collect();
    let mut m = month_start(from);
    while m < to {
        let month = monthly(src, &hours, &day_emissions, &rates, m, params);
        emissions.extend(month.emissions);
        rates.extend(month.rates);
        found.extend(month.findings.into_iter().filter(intersects));
        let next = next_month_start(m);
        if next <= m {
            break;
        }
        m = next;
    }

    hours.sort_by(|a, b| (a.factor.as_str(), a.start).cmp(&(b.factor.as_str(), b.start)));
    days.sort_by(|a, b| (a.factor.as_str(), a.start).cmp(&(b.factor.as_str(), b.start)));
    eps.sort_by(|a, b| (a.factor.as_str(), a.start).cmp(&(b.factor.as_str(), b.start)));
    found.sort_by(|a, b| {
        (a.factor.as_deref(), a.start, a.kind, a.end).cmp(&(b.factor.as_deref(), b.start, b.kind, b.end))
    });
    emissions
        .sort_by(|a, b| (a.factor.as_str(), a.period, a.start).cmp(&(b.factor.as_str(), b.period, b.start)));
    rates.sort_by_key(|r| (r.period, r.start));
    Evaluation { hours, days, episodes: eps, findings: found, emissions, rates }
}
