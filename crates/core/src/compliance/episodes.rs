//! Exceedance episodes: maximal runs of consecutive exceeding periods of one factor (hours for
//! flue gas, days for wastewater).

use std::collections::BTreeMap;

use super::prepare::multiple;
use super::types::{Aggregate, Episode, Period, Source};
use crate::china_time::{DAY_MS, HOUR_MS};
use crate::registry::OutletKind;

/// The period on which an outlet kind is judged.
pub(crate) fn judged_period(kind: OutletKind) -> Period {
    match kind {
        OutletKind::FlueGas => Period::Hour,
        OutletKind::Wastewater => Period::Day,
    }
}

pub(crate) fn period_len(period: Period) -> i64 {
    match period {
        Period::Hour => HOUR_MS,
        // China has no DST: every day is 24 h. Months are never episodes.
        Period::Day | Period::Month => DAY_MS,
    }
}

/// Episodes in `aggregates` (any order; only the periods `src.kind` is judged on are used).
///
/// Consecutive means each period starts where the previous one ended: a missing, invalid or
/// non-exceeding period ends the run, and a run may cross midnight. The reported value and
/// multiple are each the maximum over the episode's periods (rules file: they may come from
/// different periods when the limit changes inside the episode); the limit is that of the period
/// with the highest multiple ((C − C0)/C0; for a value below a lower limit such as pH 6,
/// (C0 − C)/C0). `open` is set when the episode contains the latest aggregate of its
/// factor in the input, i.e. nothing later has shown it to be over.
pub fn episodes(src: &Source, aggregates: &[Aggregate]) -> Vec<Episode> {
    let period = judged_period(src.kind);
    let len = period_len(period);
    let mut by_factor: BTreeMap<&str, Vec<&Aggregate>> = BTreeMap::new();
    for a in aggregates.iter().filter(|a| a.period == period) {
        by_factor.entry(a.factor.as_str()).or_default().push(a);
    }
    let mut out = Vec::new();
    for (code, mut aggs) in by_factor {
        aggs.sort_by_key(|a| a.start);
        aggs.dedup_by_key(|a| a.start);
        let latest_end = aggs.last().map_or(i64::MIN, |a| a.start.saturating_add(len));
        let mut run: Option<Episode> = None;
        for a in aggs {
            let judged = a.converted_mean.filter(|_| a.exceeds && a.valid).and_then(|c| {
                let (m, limit) = multiple(c, a.limit, a.limit_min);
                Some((c, m, limit?))
            });
            let Some((c, m, limit)) = judged else {
                out.extend(run.take());
                continue;
            };
            let end = a.start.saturating_add(len);
            match &mut run {
                Some(e) if e.end == a.start => {
                    e.end = end;
                    e.periods += 1;
                    if m > e.max_multiple {
                        e.max_multiple = m;
                        e.limit = limit;
                    }
                    e.max_converted = e.max_converted.max(c);
                }
                _ => {
                    out.extend(run.take());
                    run = Some(Episode {
                        mn: a.mn.clone(),
                        outlet: a.outlet.clone(),
                        factor: code.to_string(),
                        period,
                        start: a.start,
                        end,
                        periods: 1,
                        max_converted: c,
                        max_multiple: m,
                        limit,
                        open: false,
                    });
                }
            }
        }
        out.extend(run.take());
        for e in out.iter_mut().filter(|e| e.factor == code) {
            e.open = e.end == latest_end;
        }
    }
    out
}
