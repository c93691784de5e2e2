//! Month results (from stored or just-computed day results) and the annual permit check.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::emissions::total;
use super::params::Params;
use super::rates::rate_from;
use super::types::{Aggregate, Emission, Finding, FindingKind, Period, Rate, Source};
use super::wording::{factor_name_en, factor_name_zh, fmt_num};
use crate::Enterprise;
use crate::china_time::minute_text;
use crate::china_time::{HOUR_MS, date_of, month_start as month_of, next_month_start};

/// What [`monthly`] gives back for one device and month.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Monthly {
    /// One row per factor with day emissions in the month.
    pub emissions: Vec<Emission>,
    /// One row when any day rate falls in the month.
    pub rates: Vec<Rate>,
    /// The monthly share finding(s) (steel ultra-low rule), one per factor below the share.
    pub findings: Vec<Finding>,
}

/// Month results for the month containing `month_start`.
///
/// - emissions: sum of the day emissions in the month, per factor;
/// - rates: expected / received / valid and the judged and exceeding periods summed over the day
///   rates (so `hours` are needed only for the monthly share rule below);
/// - findings: for `src.source_type` in `monthly_rule_source_types`, per factor, a
///   [`FindingKind::MonthlyShare`] when valid hours within limits / valid judged hours is below
///   `monthly_within_share`. The finding spans the month and is `open` while the hours given do
///   not reach the month's end (the share is still provisional).
///
/// Inputs are taken in any order; rows of other periods or outside the month are ignored.
pub fn monthly(
    src: &Source,
    hours: &[Aggregate],
    day_emissions: &[Emission],
    day_rates: &[Rate],
    month_start: i64,
    params: &Params,
) -> Monthly {
    let start = month_of(month_start);
    let end = next_month_start(start);
    let inside = |t: i64| t >= start && t < end;
    let mut out = Monthly::default();

    let mut by_factor: BTreeMap<&str, Vec<&Emission>> = BTreeMap::new();
    for e in day_emissions.iter().filter(|e| e.period == Period::Day && inside(e.start)) {
        by_factor.entry(e.factor.as_str()).or_default().push(e);
    }
    out.emissions =
        by_factor.into_iter().map(|(f, parts)| total(src, f, Period::Month, start, &parts)).collect();

    let month_hours: Vec<&Aggregate> =
        hours.iter().filter(|h| h.period == Period::Hour && inside(h.start)).collect();
    let rates: Vec<&Rate> = day_rates.iter().filter(|r| r.period == Period::Day && inside(r.start)).collect();
    if !rates.is_empty() {
        let sum = |f: fn(&Rate) -> u32| rates.iter().fold(0u32, |n, r| n.saturating_add(f(r)));
        // The days' judged periods add up to the month's (hours and days partition the month),
        // and the month then covers the same days as its transmission counts.
        let (j, e) = (sum(|r| r.judged_hours), sum(|r| r.exceeding_hours));
        out.rates.push(rate_from(
            src,
            Period::Month,
            start,
            sum(|r| r.expected),
            sum(|r| r.received),
            sum(|r| r.valid),
            j,
            e,
        ));
    }

    if params.monthly_rule_source_types.contains(&src.source_type) {
        let mut per: BTreeMap<&str, (u32, u32, i64)> = BTreeMap::new();
        for h in &month_hours {
            let slot = per.entry(h.factor.as_str()).or_insert((0, 0, i64::MIN));
            slot.2 = slot.2.max(h.start.saturating_add(HOUR_MS));
            if h.valid && (h.limit.is_some() || h.limit_min.is_some()) {
                slot.0 += 1;
                slot.1 += u32::from(h.exceeds);
            }
        }
        for (f, (judged, exceeding, last_end)) in per {
            if judged == 0 {
                continue;
            }
            let within = judged - exceeding.min(judged);
            let share = f64::from(within) / f64::from(judged);
            if share >= params.monthly_within_share {
                continue;
            }
            let pct = |x: f64| fmt_num(x * 100.0);
            out.findings.push(Finding {
                mn: src.mn.clone(),
                factor: Some(f.to_string()),
                kind: FindingKind::MonthlyShare,
                start,
                end,
                detail: format!(
                    "{} in {}: {within} of {judged} valid hours within limits ({} %), below the required {} %",
                    factor_name_en(f),
                    date_of(start).strftime("%Y-%m"),
                    pct(share),
                    pct(params.monthly_within_share),
                ),
                detail_zh: format!(
                    "{} {} 有效小时 {judged} 个，达标 {within} 个（{} %），低于要求的 {} %",
                    factor_name_zh(f),
                    date_of(start).strftime("%Y年%m月"),
                    pct(share),
                    pct(params.monthly_within_share),
                ),
                open: last_end < end,
            });
        }
    }
    out
}

/// Start of the China-time year containing `t` and of the next one.
fn year_bounds(t: i64) -> (i64, i64) {
    (crate::china_time::year_start(t), crate::china_time::next_year_start(t))
}

/// Findings for year-to-date emissions (`kg_by_factor`, kg since `year_start`) that reached a
/// share in `permit_warn_shares` of the enterprise's permitted annual total.
///
/// One finding per factor, for the highest share reached, so its alarm keeps one identity and
/// escalates (80 % → 100 %) instead of piling up; `mn` is the enterprise id (the finding is the
/// enterprise's, not a device's), `start`/`end` the China-time year, `open` true (the year's
/// total can only grow).
pub fn permit_findings(
    enterprise: &Enterprise,
    year_start: i64,
    kg_by_factor: &BTreeMap<String, f64>,
    params: &Params,
) -> Vec<Finding> {
    let (start, end) = year_bounds(year_start);
    let mut out = Vec::new();
    for (f, &kg) in kg_by_factor {
        let Some(&permitted) = enterprise.permitted_kg_per_year.get(f) else { continue };
        if !(permitted.is_finite() && permitted > 0.0 && kg.is_finite()) {
            continue;
        }
        let share = kg / permitted;
        let reached = params
            .permit_warn_shares
            .iter()
            .copied()
            .filter(|s| s.is_finite() && share >= *s)
            .reduce(f64::max);
        let Some(reached) = reached else { continue };
        let pct = |x: f64| fmt_num(x * 100.0);
        out.push(Finding {
            mn: enterprise.id.clone(),
            factor: Some(f.clone()),
            kind: FindingKind::PermitShare,
            start,
            end,
            detail: format!(
                "{}: {} kg emitted since {} is {} % of the permitted {} kg per year (warning at {} %)",
                factor_name_en(f),
                fmt_num(kg),
                minute_text(start),
                pct(share),
                fmt_num(permitted),
                pct(reached),
            ),
            detail_zh: format!(
                "{}：自 {} 起累计排放 {} kg，占年许可排放量 {} kg 的 {} %（预警线 {} %）",
                factor_name_zh(f),
                minute_text(start),
                fmt_num(kg),
                fmt_num(permitted),
                pct(share),
                pct(reached),
            ),
            open: true,
        });
    }
    out
}
