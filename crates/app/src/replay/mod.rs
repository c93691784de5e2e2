//! `fenhe replay`: the engine's rules over captured byte streams, offline.
//!
//! A capture is taken as complete: what a device did not send in it, it did not send. So every
//! hour and day the captures touch is judged — as of the end of the last day they touch, or as of
//! `as_of` when given (then only the periods ended by that instant) — and a capture that ends
//! mid-day reports its day, not valid, from the hours it has.

pub mod capture_records;
pub mod replay_report;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fenhe_core::Registry;
use fenhe_core::china_time::{self as time, iso};
use fenhe_core::compliance::{self, DataKind, Overrides, Params, Record, Source, Window, sources as source};
use fenhe_ingest::capture_judge::CaptureOptions;

use crate::{AppError, Result};
use capture_records::Captured;
use replay_report::{DeviceRow, InputSummary, LimitRow, Report};

/// What `fenhe replay` was asked.
#[derive(Debug, Clone)]
pub struct ReplayRequest {
    pub registry: Option<Registry>,
    pub inputs: Vec<PathBuf>,
    pub params: Params,
    pub overrides: Overrides,
    pub capture: CaptureOptions,
    /// Judge as of this instant (epoch ms): only the periods ended by then. `None`: as of the end
    /// of the last day the captures touch, so every period they touch is judged.
    pub as_of: Option<i64>,
}

/// The instant up to which a device's data speaks: the end of the interval its latest record
/// covers (reported beside the instant it was judged as of).
pub fn data_until(src: &Source, records: &[Record]) -> Option<i64> {
    records
        .iter()
        .map(|r| {
            r.data_time.saturating_add(match r.kind {
                DataKind::Realtime => 0,
                DataKind::Minute => i64::from(src.minute_interval_min.max(1)) * time::MINUTE_MS,
                DataKind::Hour => time::HOUR_MS,
                DataKind::Day => time::DAY_MS,
            })
        })
        .max()
}

/// The whole China-time days holding `records`.
pub fn days_of(records: &[Record]) -> Option<(i64, i64)> {
    let first = records.iter().map(|r| r.data_time).min()?;
    let last = records.iter().map(|r| r.data_time).max()?;
    Some((time::day_start(first), time::day_start(last) + time::DAY_MS))
}

/// The instant a device's window `[.., to)` is judged as of: the window's end, or `as_of` when it
/// comes earlier (a later one has nothing more to judge: the captures say nothing past `to`).
fn judged_as_of(to: i64, as_of: Option<i64>) -> i64 {
    as_of.map_or(to, |t| t.min(to))
}

/// Where a replay spent its time (for `fenhe bench compliance`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReplayTimings {
    pub read: capture_records::ReadTimings,
    /// `compliance::evaluate` over every device.
    pub evaluate: Duration,
    /// Turning the evaluations into report rows.
    pub report: Duration,
}

/// Judge every device in the captures and build the report.
pub fn replay(req: &ReplayRequest) -> Result<Report> {
    replay_timed(req).map(|(r, _)| r)
}

/// [`replay`], with the time of each step.
pub fn replay_timed(req: &ReplayRequest) -> Result<(Report, ReplayTimings)> {
    if req.inputs.is_empty() {
        return Err(AppError::NoInput);
    }
    let empty = Registry::default();
    let registry = req.registry.as_ref().unwrap_or(&empty);
    let (captured, read) =
        capture_records::read_timed(&req.inputs, registry, &req.capture).map_err(AppError::Captures)?;
    let mut timings = ReplayTimings { read, ..Default::default() };
    let report = report(req, registry, captured, &mut timings);
    Ok((report, timings))
}

fn report(
    req: &ReplayRequest,
    registry: &Registry,
    captured: Captured,
    timings: &mut ReplayTimings,
) -> Report {
    let Captured { files, not_counted, records, duplicates, revisions } = captured;
    let known = source::from_registry(registry);
    let mut report =
        Report::new(req.params.clone(), InputSummary { files, duplicates, revisions, not_counted });
    for (mn, recs) in &records {
        let (mut src, described_by) = match known.get(mn) {
            Some(s) => (s.clone(), "registry"),
            None => (source::from_data(mn, recs, &req.overrides), "command line"),
        };
        let interval = match (req.overrides.interval_of(mn), described_by) {
            (Some(c), _) => c,
            (None, "registry") => {
                source::IntervalChoice { minutes: src.minute_interval_min, how: "registry".into() }
            }
            (None, _) => source::infer_minute_interval(recs),
        };
        src.minute_interval_min = interval.minutes;
        if described_by != "registry" || interval.how == "--interval" {
            report.notes.push(format!("{mn}: minute interval {} min ({})", interval.minutes, interval.how));
        }
        let (Some((from, to)), Some(until)) = (days_of(recs), data_until(&src, recs)) else { continue };
        // The rules judge at most MAX_WINDOW_DAYS from the first day; say so rather than cut quietly.
        let limit = from.saturating_add(compliance::MAX_WINDOW_DAYS * time::DAY_MS);
        let to = if to > limit {
            report.notes.push(format!(
                "{mn}: the captures span {} days from {} to {}; only the first {} days are judged (to {}): replay the rest separately",
                (to - from) / time::DAY_MS,
                iso(from),
                iso(to),
                compliance::MAX_WINDOW_DAYS,
                iso(limit)
            ));
            limit
        } else {
            to
        };
        let as_of = judged_as_of(to, req.as_of);
        let t = Instant::now();
        let ev = compliance::evaluate(&src, recs, Window { from, to, now: as_of }, &req.params);
        timings.evaluate += t.elapsed();
        let t = Instant::now();
        report.devices.push(DeviceRow {
            mn: mn.clone(),
            outlet: src.outlet.clone(),
            described_by,
            from: iso(from),
            to: iso(to),
            until: iso(until),
            as_of: iso(as_of),
            reference_o2: src.reference_o2,
            minute_interval_min: src.minute_interval_min,
            interval_from: interval.how,
            limits: src
                .limits
                .iter()
                .map(|l| LimitRow {
                    factor: l.factor.clone(),
                    max: l.max,
                    min: l.min,
                    effective_from: l.effective_from.to_string(),
                })
                .collect(),
        });
        report.add(&ev);
        timings.report += t.elapsed();
    }
    report
}

#[cfg(test)]
mod tests;
