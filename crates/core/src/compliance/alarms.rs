//! Alarm drafts: one per exceedance episode and one per finding, with stable keys so the store
//! can raise, update and resolve them.
//!
//! Episode severity, from the worst multiple (C − C0)/C0 (decision, configurable later if the
//! city wants other bands): below 0.5 → warning, below 2 → serious, 2 or more (three times the
//! limit) → critical. Finding severity by kind: offline and the monthly share → serious;
//! suspect data (constant, zero, negative), clock skew, faults, over range, hourly mismatch and
//! the permit share → warning; stale data and the operator's own maintenance / calibration /
//! stopped / manual periods, an unweighted water day and substituted emissions → info.

use super::episodes::judged_period;
use super::types::{AlarmDraft, Episode, Finding, FindingKind, Period, Severity, Source, factor};
use super::wording::{factor_name_en, factor_name_zh, fmt_num, unit};
use crate::china_time::minute_text;

/// Severity of an exceedance with multiple `m`.
pub fn episode_severity(m: f64) -> Severity {
    if m.is_nan() || m < 0.5 {
        Severity::Warning
    } else if m < 2.0 {
        Severity::Serious
    } else {
        Severity::Critical
    }
}

/// Severity of a finding kind.
pub fn finding_severity(kind: FindingKind) -> Severity {
    use FindingKind as K;
    match kind {
        K::Offline | K::MonthlyShare => Severity::Serious,
        K::ConstantValue
        | K::ZeroWhileFlow
        | K::NegativeValue
        | K::ClockSkew
        | K::Fault
        | K::OverRange
        | K::HourlyMismatch
        | K::PermitShare => Severity::Warning,
        K::Stale
        | K::Maintenance
        | K::Calibration
        | K::Stopped
        | K::Manual
        | K::UnweightedDay
        | K::Substituted => Severity::Info,
    }
}

/// One draft per episode, then one per finding, in the order given.
pub fn alarms(src: &Source, episodes: &[Episode], findings: &[Finding]) -> Vec<AlarmDraft> {
    let mut out = Vec::with_capacity(episodes.len() + findings.len());
    for e in episodes {
        out.push(episode_alarm(src, e));
    }
    for f in findings {
        out.push(finding_alarm(src, f));
    }
    out
}

fn episode_alarm(src: &Source, e: &Episode) -> AlarmDraft {
    let (zh, en, u) = (factor_name_zh(&e.factor), factor_name_en(&e.factor), unit(&e.factor));
    let day = e.period == Period::Day || judged_period(src.kind) == Period::Day;
    let (p_zh, p_en, n_zh, n_en) = if day {
        ("日均值", "daily mean", "天", "days")
    } else {
        ("小时均值", "hourly mean", "小时", "hours")
    };
    let converted = e.period == Period::Hour && src.reference_o2.is_some() && e.factor.starts_with('a');
    let (c_zh, c_en) =
        if converted { ("折算浓度", "converted concentration") } else { ("浓度", "concentration") };
    let below = e.max_converted < e.limit;
    let (v, l, m) = (fmt_num(e.max_converted), fmt_num(e.limit), fmt_num(e.max_multiple));
    let (from, to, n) = (minute_text(e.start), minute_text(e.end), e.periods);
    let (title_zh, title_en, verdict_zh, verdict_en) = if e.factor == factor::PH || below {
        (
            format!("{zh}{p_zh}超出范围"),
            format!("{en} {p_en} out of range"),
            format!("{c_zh} {v}{u}，{}限 {l}{u}，偏离 {m} 倍", if below { "下" } else { "上" }),
            format!(
                "{c_en} {v}{u}, {} limit {l}{u}, {m} times beyond it",
                if below { "lower" } else { "upper" }
            ),
        )
    } else {
        (
            format!("{zh}{p_zh}超标"),
            format!("{en} {p_en} above limit"),
            format!("{c_zh} {v}{u}，限值 {l}{u}，超标 {m} 倍"),
            format!("{c_en} {v}{u}, limit {l}{u}, {m} times over the limit"),
        )
    };
    let still_zh = if e.open { "，仍在持续" } else { "" };
    let still_en = if e.open { ", still going on" } else { "" };
    AlarmDraft {
        key: format!("episode:{}:{}:{}", e.mn, e.factor, e.start),
        mn: e.mn.clone(),
        outlet: if e.outlet.is_empty() { src.outlet.clone() } else { e.outlet.clone() },
        factor: Some(e.factor.clone()),
        kind: "exceedance".to_string(),
        severity: episode_severity(e.max_multiple),
        start: e.start,
        end: e.end,
        active: e.open,
        detail_zh: format!("{title_zh}：{verdict_zh}；{from} 至 {to} 共 {n} {n_zh}{still_zh}"),
        detail_en: format!("{title_en}: {verdict_en}; {n} {n_en} from {from} to {to}{still_en}"),
        title_zh,
        title_en,
    }
}

fn finding_alarm(src: &Source, f: &Finding) -> AlarmDraft {
    let (title_zh, title_en) = match &f.factor {
        Some(code) => (
            format!("{}{}", factor_name_zh(code), f.kind.name_zh()),
            format!("{}: {}", factor_name_en(code), f.kind.name_en()),
        ),
        None => (f.kind.name_zh().to_string(), capitalise(f.kind.name_en())),
    };
    let detail_zh = if f.detail_zh.is_empty() { f.detail.clone() } else { f.detail_zh.clone() };
    AlarmDraft {
        key: format!("finding:{}:{}:{}:{}", f.mn, f.kind.name(), f.factor.as_deref().unwrap_or("-"), f.start),
        mn: f.mn.clone(),
        outlet: src.outlet.clone(),
        factor: f.factor.clone(),
        kind: f.kind.name().to_string(),
        severity: finding_severity(f.kind),
        start: f.start,
        end: f.end,
        active: f.open,
        detail_zh,
        detail_en: f.detail.clone(),
        title_zh,
        title_en,
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
}
