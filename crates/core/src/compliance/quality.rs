//! Data-quality findings: platform heuristics, every threshold a parameter.

use std::collections::BTreeMap;

use super::daily::minute_mass_volume;
use super::params::Params;
use super::prepare::{
    Prepared, flow_factor, is_converted, is_emitted, negative_suspect, record_at, valid_value, value,
    zs_value,
};
use super::types::{Aggregate, Finding, FindingKind, Period, Record, Source, factor};
use super::wording::{factor_name_en, factor_name_zh, fmt_minutes, fmt_num, unit};
use crate::china_time::minute_text;
use crate::china_time::{DAY_MS, HOUR_MS, MINUTE_MS, hour_start};
use crate::registry::OutletKind;

struct Ctx<'s, 'p, 'a> {
    src: &'s Source,
    prep: &'p Prepared<'a>,
    params: &'s Params,
    now: i64,
}

impl Ctx<'_, '_, '_> {
    #[allow(clippy::too_many_arguments)]
    fn finding(
        &self,
        factor: Option<&str>,
        kind: FindingKind,
        start: i64,
        end: i64,
        detail: String,
        detail_zh: String,
        open: bool,
    ) -> Finding {
        Finding {
            mn: self.src.mn.clone(),
            factor: factor.map(String::from),
            kind,
            start,
            end: end.max(start),
            detail,
            detail_zh,
            open,
        }
    }
}

/// Every finding the records show (not yet restricted to a window), in no particular order.
/// `hours` are the recomputed hourly aggregates the device's own hourly values are compared with.
pub(crate) fn findings(
    src: &Source,
    prep: &Prepared<'_>,
    hours: &[Aggregate],
    now: i64,
    params: &Params,
) -> Vec<Finding> {
    let cx = Ctx { src, prep, params, now };
    let mut out = Vec::new();
    offline(&cx, &mut out);
    for (code, recs) in &prep.minutes {
        constant(&cx, code, recs, Period::Hour, &mut out);
        runs_of_suspects(&cx, code, recs, &mut out);
        flag_periods(&cx, code, recs, &mut out);
    }
    for (code, recs) in &prep.hours {
        constant(&cx, code, recs, Period::Day, &mut out);
    }
    timing(&cx, &mut out);
    mismatch(&cx, hours, &mut out);
    out
}

/// Gaps in minute data longer than max(offline_intervals × interval, offline_min_minutes), and
/// the silence from the last minute record to `now` (open). A gap is measured from one record's
/// DataTime to the next; the finding starts where the next record was due.
fn offline(cx: &Ctx<'_, '_, '_>, out: &mut Vec<Finding>) {
    let interval = cx.prep.interval_ms;
    let threshold = cx.params.offline_threshold_ms(interval);
    let mut times: Vec<i64> = cx
        .prep
        .all
        .iter()
        .filter(|r| r.kind == super::types::DataKind::Minute)
        .map(|r| r.data_time)
        .collect();
    times.dedup();
    let thr = fmt_minutes(threshold);
    for w in times.windows(2) {
        let (a, b) = (w[0], w[1]);
        let gap = b.saturating_sub(a);
        if gap > threshold {
            let (m, from, to) = (fmt_minutes(gap), minute_text(a), minute_text(b));
            out.push(cx.finding(
                None,
                FindingKind::Offline,
                a.saturating_add(interval),
                b,
                format!(
                    "no minute data for {m} min between the records of {from} and {to} (threshold {thr} min)"
                ),
                format!("{from} 至 {to} 之间 {m} 分钟无分钟数据（阈值 {thr} 分钟）"),
                false,
            ));
        }
    }
    if let Some(&last) = times.last() {
        let silence = cx.now.saturating_sub(last);
        if silence > threshold {
            let (m, from, now) = (fmt_minutes(silence), minute_text(last), minute_text(cx.now));
            out.push(cx.finding(
                None,
                FindingKind::Offline,
                last.saturating_add(interval),
                cx.now,
                format!(
                    "no minute data since the record of {from}: {m} min until {now} (threshold {thr} min)"
                ),
                format!("自 {from} 的记录后无分钟数据，至 {now} 已 {m} 分钟（阈值 {thr} 分钟）"),
                true,
            ));
        }
    }
}

/// Same-time lookups into a time-sorted series for a caller walking forward in time.
struct Cursor<'s, 'a> {
    v: &'s [&'a Record],
    i: usize,
}

impl<'s, 'a> Cursor<'s, 'a> {
    fn new(v: &'s [&'a Record]) -> Self {
        Cursor { v, i: 0 }
    }
    /// The record at `t`; `t` must not decrease between calls (else a binary search is used).
    fn at(&mut self, t: i64) -> Option<&'a Record> {
        if self.i > 0 && self.v.get(self.i - 1).is_some_and(|r| r.data_time > t) {
            return record_at(self.v, t);
        }
        while self.v.get(self.i).is_some_and(|r| r.data_time < t) {
            self.i += 1;
        }
        self.v.get(self.i).copied().filter(|r| r.data_time == t)
    }
}

/// Maximal runs of consecutive records (`recs`, time-sorted) for which `value_of` gives a value
/// and `same` accepts the pair with the run's first value; yields (first, last) indexes.
fn runs(
    recs: &[&Record],
    mut value_of: impl FnMut(&Record) -> Option<f64>,
    same: impl Fn(f64, f64) -> bool,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut cur: Option<(usize, f64)> = None;
    for (i, r) in recs.iter().enumerate() {
        match (value_of(r), cur) {
            (Some(v), Some((_, first))) if same(first, v) => {}
            (Some(v), _) => {
                if let Some((s, _)) = cur {
                    out.push((s, i - 1));
                }
                cur = Some((i, v));
            }
            (None, _) => {
                if let Some((s, _)) = cur.take() {
                    out.push((s, i - 1));
                }
            }
        }
    }
    if let Some((s, _)) = cur {
        out.push((s, recs.len() - 1));
    }
    out
}

/// Constant-value runs: at least `constant_min_minute_records` identical consecutive minute
/// values (`period` Hour marks minute data), or `constant_min_hour_records` hourly (2061) values
/// (`period` Day). Only valid-flagged values count; when the device reports a flow, only records
/// whose same-time flow is above zero (the unit runs) do, so a stopped unit's steady zero is not
/// suspect. A record outside these conditions ends the run.
fn constant(cx: &Ctx<'_, '_, '_>, code: &str, recs: &[&Record], period: Period, out: &mut Vec<Finding>) {
    let minutes = period == Period::Hour;
    let (min_len, step, what_en, what_zh) = if minutes {
        (cx.params.constant_min_minute_records, cx.prep.interval_ms, "minute", "分钟")
    } else {
        (cx.params.constant_min_hour_records, HOUR_MS, "hourly", "小时")
    };
    let min_len = min_len.max(2) as usize;
    let flow = flow_factor(cx.src.kind);
    let flows = if minutes { cx.prep.minute_series(flow) } else { cx.prep.hour_series(flow) };
    let mut flow_at = Cursor::new(flows);
    let mut runs_flow = |r: &Record| {
        flows.is_empty()
            || flow_at.at(r.data_time).and_then(|f| valid_value(f, cx.params)).is_some_and(|q| q > 0.0)
    };
    let value_of = |r: &Record| valid_value(r, cx.params).filter(|_| runs_flow(r));
    for (s, e) in runs(recs, value_of, |a, b| a == b) {
        let n = e - s + 1;
        if n < min_len {
            continue;
        }
        let v = valid_value(recs[s], cx.params).unwrap_or(0.0);
        let (from, to) = (minute_text(recs[s].data_time), minute_text(recs[e].data_time));
        let (v, u, thr) = (fmt_num(v), unit(code), min_len);
        out.push(cx.finding(
            Some(code),
            FindingKind::ConstantValue,
            recs[s].data_time,
            recs[e].data_time.saturating_add(step),
            format!(
                "{}: value {v}{u} repeated in {n} consecutive {what_en} records from {from} to {to} (threshold {thr})",
                factor_name_en(code)
            ),
            format!(
                "{}：{from} 至 {to} 连续 {n} 条{what_zh}数据均为 {v}{u}（阈值 {thr} 条）",
                factor_name_zh(code)
            ),
            e + 1 == recs.len(),
        ));
    }
}

/// Zero concentration while flow runs (pollutants) and negative values (all but the flue-gas
/// parameters that may legitimately be negative), as runs of consecutive valid minute records.
fn runs_of_suspects(cx: &Ctx<'_, '_, '_>, code: &str, recs: &[&Record], out: &mut Vec<Finding>) {
    let flow = flow_factor(cx.src.kind);
    let flows = cx.prep.minute_series(flow);
    let flow_at = |r: &Record| record_at(flows, r.data_time).and_then(|f| valid_value(f, cx.params));
    let (name_en, name_zh, u) = (factor_name_en(code), factor_name_zh(code), unit(code));
    if is_emitted(code) {
        let mut cursor = Cursor::new(flows);
        let zero = |r: &Record| {
            let v = valid_value(r, cx.params).filter(|v| *v == 0.0)?;
            cursor.at(r.data_time).and_then(|f| valid_value(f, cx.params)).filter(|q| *q > 0.0).map(|_| v)
        };
        for (s, e) in runs(recs, zero, |_, _| true) {
            let n = e - s + 1;
            let q = recs[s..=e].iter().filter_map(|r| flow_at(r)).fold(f64::NAN, f64::max);
            let (from, to, q, fu) =
                (minute_text(recs[s].data_time), minute_text(recs[e].data_time), fmt_num(q), unit(flow));
            out.push(cx.finding(
                Some(code),
                FindingKind::ZeroWhileFlow,
                recs[s].data_time,
                recs[e].data_time.saturating_add(cx.prep.interval_ms),
                format!("{name_en}: concentration 0 in {n} minute records from {from} to {to} while flow ran (up to {q}{fu})"),
                format!("{name_zh}：{from} 至 {to} 有流量（最高 {q}{fu}）时 {n} 条分钟数据浓度为 0"),
                e + 1 == recs.len(),
            ));
        }
    }
    if negative_suspect(code) {
        let negative = |r: &Record| valid_value(r, cx.params).filter(|v| *v < 0.0);
        for (s, e) in runs(recs, negative, |_, _| true) {
            let n = e - s + 1;
            let low = recs[s..=e].iter().filter_map(|r| valid_value(r, cx.params)).fold(f64::NAN, f64::min);
            let (from, to, low) =
                (minute_text(recs[s].data_time), minute_text(recs[e].data_time), fmt_num(low));
            out.push(cx.finding(
                Some(code),
                FindingKind::NegativeValue,
                recs[s].data_time,
                recs[e].data_time.saturating_add(cx.prep.interval_ms),
                format!(
                    "{name_en}: negative values in {n} minute records from {from} to {to} (lowest {low}{u})"
                ),
                format!("{name_zh}：{from} 至 {to} 有 {n} 条分钟数据为负值（最低 {low}{u}）"),
                e + 1 == recs.len(),
            ));
        }
    }
}

/// The finding kind of a data flag, with the flag's meaning.
fn flag_kind(flag: &str) -> Option<(FindingKind, &'static str, &'static str)> {
    Some(match flag {
        "M" => (FindingKind::Maintenance, "maintenance", "维护"),
        "C" => (FindingKind::Calibration, "calibration", "校准"),
        "D" => (FindingKind::Fault, "fault", "故障"),
        "B" => (FindingKind::Fault, "communication fault", "通讯异常"),
        "F" => (FindingKind::Stopped, "stopped", "停运"),
        "S" => (FindingKind::Manual, "manual input", "手工输入"),
        "T" => (FindingKind::OverRange, "over range", "超量程"),
        _ => return None,
    })
}

/// Runs of consecutive minute records whose flags mean the same kind of period (D and B are
/// both faults).
fn flag_periods(cx: &Ctx<'_, '_, '_>, code: &str, recs: &[&Record], out: &mut Vec<Finding>) {
    let kind_of = |r: &Record| r.values.flag().and_then(flag_kind).map(|k| k.0);
    let mut i = 0;
    while i < recs.len() {
        let Some(kind) = kind_of(recs[i]) else {
            i += 1;
            continue;
        };
        let mut j = i;
        while j + 1 < recs.len() && kind_of(recs[j + 1]) == Some(kind) {
            j += 1;
        }
        let mut flags: Vec<&str> = recs[i..=j].iter().filter_map(|r| r.values.flag()).collect();
        flags.sort_unstable();
        flags.dedup();
        let en: Vec<String> =
            flags.iter().filter_map(|f| flag_kind(f).map(|k| format!("{f} ({})", k.1))).collect();
        let zh: Vec<String> =
            flags.iter().filter_map(|f| flag_kind(f).map(|k| format!("{f}（{}）", k.2))).collect();
        let n = j - i + 1;
        let (from, to) = (minute_text(recs[i].data_time), minute_text(recs[j].data_time));
        out.push(cx.finding(
            Some(code),
            kind,
            recs[i].data_time,
            recs[j].data_time.saturating_add(cx.prep.interval_ms),
            format!(
                "{}: {n} minute records flagged {} from {from} to {to}",
                factor_name_en(code),
                en.join(", ")
            ),
            format!("{}：{from} 至 {to} 有 {n} 条分钟数据标记为 {}", factor_name_zh(code), zh.join("、")),
            j + 1 == recs.len(),
        ));
        i = j + 1;
    }
}

/// One DataTime of the device: (DataTime, largest lead over receipt, largest delay of receipt).
type Group = (i64, i64, i64);

/// Clock skew (DataTime more than `clock_future_minutes` after receipt) and stale data (received
/// more than `retention_days` after its DataTime), device-wide, as runs of consecutive DataTimes
/// (any data kind) showing the condition.
fn timing(cx: &Ctx<'_, '_, '_>, out: &mut Vec<Finding>) {
    let tolerance = i64::from(cx.params.clock_future_minutes).saturating_mul(MINUTE_MS);
    let retention = i64::from(cx.params.retention_days).saturating_mul(DAY_MS);
    let ahead = |r: &Record| r.data_time.saturating_sub(r.received_at);
    let late = |r: &Record| r.received_at.saturating_sub(r.data_time);
    let mut groups: Vec<Group> = Vec::new();
    for r in &cx.prep.all {
        match groups.last_mut() {
            Some(g) if g.0 == r.data_time => {
                g.1 = g.1.max(ahead(r));
                g.2 = g.2.max(late(r));
            }
            _ => groups.push((r.data_time, ahead(r), late(r))),
        }
    }
    let mut emit = |kind: FindingKind, test: &dyn Fn(&Group) -> Option<i64>| {
        let mut i = 0;
        while i < groups.len() {
            if test(&groups[i]).is_none() {
                i += 1;
                continue;
            }
            let mut j = i;
            let mut worst = test(&groups[i]).unwrap_or(0);
            while j + 1 < groups.len() {
                match test(&groups[j + 1]) {
                    Some(w) => worst = worst.max(w),
                    None => break,
                }
                j += 1;
            }
            let n = j - i + 1;
            let (from, to) = (minute_text(groups[i].0), minute_text(groups[j].0));
            let (detail, detail_zh) = if kind == FindingKind::ClockSkew {
                let (w, tol) = (fmt_minutes(worst), fmt_minutes(tolerance));
                (
                    format!(
                        "DataTime up to {w} min ahead of receipt in {n} uploads from {from} to {to} (tolerance {tol} min)"
                    ),
                    format!("{from} 至 {to} 的 {n} 个数据时间比接收时间最多超前 {w} 分钟（容差 {tol} 分钟）"),
                )
            } else {
                let (d, keep) = (fmt_num(worst as f64 / DAY_MS as f64), cx.params.retention_days);
                (
                    format!(
                        "data of {n} DataTimes from {from} to {to} received up to {d} days late (retention {keep} days)"
                    ),
                    format!("{from} 至 {to} 的 {n} 个时间点数据最迟在 {d} 天后才接收（保留期 {keep} 天）"),
                )
            };
            out.push(cx.finding(
                None,
                kind,
                groups[i].0,
                groups[j].0.saturating_add(cx.prep.interval_ms),
                detail,
                detail_zh,
                j + 1 == groups.len(),
            ));
            i = j + 1;
        }
    };
    emit(FindingKind::ClockSkew, &|g| (g.1 > tolerance).then_some(g.1));
    if retention > 0 {
        emit(FindingKind::Stale, &|g| (g.2 > retention).then_some(g.2));
    }
}

/// Device hourly values (2061) against the hour recomputed from minute data (authoritative),
/// where the recomputed hour is valid: `Avg` (else `Rtd`) against the recomputed mean and, for a
/// converted factor, `ZsAvg` (else `ZsRtd`) against the recomputed converted mean. For a water
/// pollutant the device may average the hour arithmetically (HJ 212-2017 Appendix D formula 16)
/// or by mass over volume (formula 13): a value matching either is no mismatch. A difference
/// beyond max(hourly_tolerance × |recomputed|, hourly_tolerance_abs) is a finding. An hour without
/// minute data is judged on the device's record itself and compared with nothing.
fn mismatch(cx: &Ctx<'_, '_, '_>, hours: &[Aggregate], out: &mut Vec<Finding>) {
    let index: BTreeMap<(&str, i64), &Aggregate> = hours
        .iter()
        .filter(|h| h.period == Period::Hour)
        .map(|h| ((h.factor.as_str(), h.start), h))
        .collect();
    let weighted = |code: &str| {
        cx.src.kind == OutletKind::Wastewater && code != factor::PH && code != factor::WATER_FLOW
    };
    for (code, recs) in &cx.prep.hours {
        for r in recs {
            let h = hour_start(r.data_time);
            if !cx.params.is_valid_flag(r.values.flag())
                || cx.prep.minutes_in(code, h, h.saturating_add(HOUR_MS)).is_empty()
            {
                continue;
            }
            let Some(agg) = index.get(&(*code, h)).filter(|a| a.valid) else { continue };
            let mut checks: Vec<(&str, &str, f64, Vec<f64>)> = Vec::new();
            if let (Some(device), Some(mean)) = (value(&r.values), agg.mean) {
                let mut accepted = vec![mean];
                if weighted(code) {
                    let (m, v) = minute_mass_volume(cx.prep, code, h, h.saturating_add(HOUR_MS), cx.params);
                    if v > 0.0 && (m / v).is_finite() {
                        accepted.push(m / v);
                    }
                }
                checks.push(("hourly value", "小时值", device, accepted));
            }
            if is_converted(cx.src, code)
                && let (Some(device), Some(conv)) = (zs_value(&r.values), agg.converted_mean)
            {
                checks.push(("converted hourly value", "小时折算值", device, vec![conv]));
            }
            for (what_en, what_zh, device, accepted) in checks {
                let tol = |x: f64| (cx.params.hourly_tolerance * x.abs()).max(cx.params.hourly_tolerance_abs);
                if accepted.iter().any(|&x| (device - x).abs() <= tol(x)) {
                    continue;
                }
                let recomputed = accepted[0];
                let (tolerance, diff) = (tol(recomputed), (device - recomputed).abs());
                if diff.is_nan() {
                    continue;
                }
                let (t, u) = (minute_text(h), unit(code));
                let (d, rc, df, tl) =
                    (fmt_num(device), fmt_num(recomputed), fmt_num(diff), fmt_num(tolerance));
                out.push(cx.finding(
                    Some(code),
                    FindingKind::HourlyMismatch,
                    h,
                    h.saturating_add(HOUR_MS),
                    format!(
                        "{}: device {what_en} {d}{u} for {t} differs from {rc}{u} recomputed from minute data by {df} (tolerance {tl})",
                        factor_name_en(code)
                    ),
                    format!(
                        "{}：{t} 设备{what_zh} {d}{u}，分钟数据重算值 {rc}{u}，相差 {df}（容差 {tl}）",
                        factor_name_zh(code)
                    ),
                    false,
                ));
            }
        }
    }
}
