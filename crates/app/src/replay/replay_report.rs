//! The replay report: the rules' results as tables an auditor can check by hand, in JSON (one
//! document) or CSV (one file per table). Times are China time, `YYYY-MM-DDThh:mm:ss+08:00`.

use std::path::Path;

use fenhe_core::china_time::{self as time, iso};
use fenhe_core::compliance::{Aggregate, Emission, Episode, Evaluation, Finding, Params, Rate};
use serde::Serialize;

use super::capture_records::{FileSummary, NotCounted};
use crate::{AppError, Result};

#[derive(Debug, Serialize)]
pub struct HourRow {
    pub mn: String,
    pub outlet: String,
    pub factor: String,
    pub hour_start: String,
    pub mean: Option<f64>,
    pub converted_mean: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub valid_minutes: u32,
    pub records: u32,
    pub valid: bool,
    pub reason: Option<&'static str>,
    pub limit: Option<f64>,
    pub limit_min: Option<f64>,
    pub exceeds: bool,
}

#[derive(Debug, Serialize)]
pub struct DayRow {
    pub mn: String,
    pub outlet: String,
    pub factor: String,
    pub day_start: String,
    pub mean: Option<f64>,
    pub converted_mean: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub valid_hours: u32,
    pub valid: bool,
    pub reason: Option<&'static str>,
    pub limit: Option<f64>,
    pub limit_min: Option<f64>,
    pub exceeds: bool,
}

#[derive(Debug, Serialize)]
pub struct EpisodeRow {
    pub mn: String,
    pub outlet: String,
    pub factor: String,
    /// `hour` (air) or `day` (water).
    pub period: &'static str,
    pub start: String,
    pub end: String,
    pub hours: i64,
    pub periods: u32,
    pub max_converted: f64,
    pub max_multiple: f64,
    pub limit: f64,
}

#[derive(Debug, Serialize)]
pub struct QualityRow {
    pub mn: String,
    pub factor: Option<String>,
    pub kind: &'static str,
    pub start: String,
    pub end: String,
    pub open: bool,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct EmissionRow {
    pub mn: String,
    pub outlet: String,
    pub factor: String,
    pub period: &'static str,
    pub start: String,
    pub kg: f64,
    pub records: u32,
    pub from_cou: bool,
}

#[derive(Debug, Serialize)]
pub struct RateRow {
    pub mn: String,
    pub outlet: String,
    pub period: &'static str,
    pub start: String,
    pub expected: u32,
    pub received: u32,
    pub valid: u32,
    pub transmission: f64,
    pub validity: f64,
    pub effective_transmission: f64,
    pub compliance: Option<f64>,
    pub judged_hours: u32,
    pub exceeding_hours: u32,
}

/// The window each device was judged over, and what described it.
#[derive(Debug, Serialize)]
pub struct DeviceRow {
    pub mn: String,
    pub outlet: String,
    /// `registry` or `command line`.
    pub described_by: &'static str,
    pub from: String,
    pub to: String,
    /// The end of the interval the device's latest record covers.
    pub until: String,
    /// The instant the device was judged as of: periods ending later are not reported.
    pub as_of: String,
    pub reference_o2: Option<f64>,
    pub minute_interval_min: u32,
    /// Where the interval came from: `registry`, `--interval`, or what the data showed.
    pub interval_from: String,
    pub limits: Vec<LimitRow>,
}

#[derive(Debug, Serialize)]
pub struct LimitRow {
    pub factor: String,
    pub max: Option<f64>,
    pub min: Option<f64>,
    pub effective_from: String,
}

/// What the inputs held.
#[derive(Debug, Serialize)]
pub struct InputSummary {
    pub files: Vec<FileSummary>,
    /// Measurement records identical to one already read.
    pub duplicates: u64,
    /// Records re-sent with different values (the latest counts).
    pub revisions: u64,
    /// Every frame that did not count, with file, offset and reason.
    pub not_counted: Vec<NotCounted>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub parameters: Params,
    pub input: InputSummary,
    /// What replay decided for the user that changes the results: inferred intervals, windows
    /// cut at the rules' limit (`fenhe replay` also prints these on standard error).
    pub notes: Vec<String>,
    pub devices: Vec<DeviceRow>,
    pub hours: Vec<HourRow>,
    pub days: Vec<DayRow>,
    pub episodes: Vec<EpisodeRow>,
    pub quality: Vec<QualityRow>,
    pub emissions: Vec<EmissionRow>,
    pub rates: Vec<RateRow>,
}

impl Report {
    pub fn new(parameters: Params, input: InputSummary) -> Report {
        Report {
            parameters,
            input,
            notes: Vec::new(),
            devices: Vec::new(),
            hours: Vec::new(),
            days: Vec::new(),
            episodes: Vec::new(),
            quality: Vec::new(),
            emissions: Vec::new(),
            rates: Vec::new(),
        }
    }

    /// Add one device's evaluation.
    pub fn add(&mut self, ev: &Evaluation) {
        self.hours.extend(ev.hours.iter().map(hour_row));
        self.days.extend(ev.days.iter().map(day_row));
        self.episodes.extend(ev.episodes.iter().map(episode_row));
        self.quality.extend(ev.findings.iter().map(quality_row));
        self.emissions.extend(ev.emissions.iter().map(emission_row));
        self.rates.extend(ev.rates.iter().map(rate_row));
    }

    pub fn write_json(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        crate::private_file::write(path, text.as_bytes()).map_err(AppError::file(path))
    }

    /// One CSV file per table in `dir` (created if missing), UTF-8 with a BOM so spreadsheet
    /// programs read the Chinese right; the parameters as `name,value` rows.
    pub fn write_csv(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(AppError::file(dir))?;
        write_table(dir, "hours", &self.hours)?;
        write_table(dir, "days", &self.days)?;
        write_table(dir, "episodes", &self.episodes)?;
        write_table(dir, "quality", &self.quality)?;
        write_table(dir, "emissions", &self.emissions)?;
        write_table(dir, "rates", &self.rates)?;
        write_table(dir, "not_counted", &self.input.not_counted)?;
        #[derive(Serialize)]
        struct Note<'a> {
            note: &'a str,
        }
        let notes: Vec<Note<'_>> = self.notes.iter().map(|n| Note { note: n }).collect();
        write_table(dir, "notes", &notes)?;
        let params = serde_json::to_value(&self.parameters)?;
        let rows: Vec<(String, String)> = params
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let v = match v {
                            serde_json::Value::Array(a) => a.iter().map(plain).collect::<Vec<_>>().join(","),
                            other => plain(other),
                        };
                        (k.clone(), v)
                    })
                    .collect()
            })
            .unwrap_or_default();
        #[derive(Serialize)]
        struct Param {
            name: String,
            value: String,
        }
        let rows: Vec<Param> = rows.into_iter().map(|(name, value)| Param { name, value }).collect();
        write_table(dir, "parameters", &rows)
    }
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn write_table<T: Serialize>(dir: &Path, name: &str, rows: &[T]) -> Result<()> {
    let path = dir.join(format!("{name}.csv"));
    let mut file = crate::private_file::create(&path).map_err(AppError::file(&path))?;
    std::io::Write::write_all(&mut file, "\u{feff}".as_bytes()).map_err(AppError::file(&path))?;
    let mut w = csv::Writer::from_writer(file);
    for r in rows {
        w.serialize(r).map_err(|source| AppError::Csv { path: path.clone(), source })?;
    }
    w.flush().map_err(AppError::file(&path))?;
    Ok(())
}

pub fn hour_row(a: &Aggregate) -> HourRow {
    HourRow {
        mn: a.mn.clone(),
        outlet: a.outlet.clone(),
        factor: a.factor.clone(),
        hour_start: iso(a.start),
        mean: a.mean,
        converted_mean: a.converted_mean,
        min: a.min,
        max: a.max,
        valid_minutes: a.valid_units,
        records: a.records,
        valid: a.valid,
        reason: a.reason.map(|r| r.name()),
        limit: a.limit,
        limit_min: a.limit_min,
        exceeds: a.exceeds,
    }
}

pub fn day_row(a: &Aggregate) -> DayRow {
    DayRow {
        mn: a.mn.clone(),
        outlet: a.outlet.clone(),
        factor: a.factor.clone(),
        day_start: iso(a.start),
        mean: a.mean,
        converted_mean: a.converted_mean,
        min: a.min,
        max: a.max,
        valid_hours: a.valid_units,
        valid: a.valid,
        reason: a.reason.map(|r| r.name()),
        limit: a.limit,
        limit_min: a.limit_min,
        exceeds: a.exceeds,
    }
}

pub fn episode_row(e: &Episode) -> EpisodeRow {
    EpisodeRow {
        mn: e.mn.clone(),
        outlet: e.outlet.clone(),
        factor: e.factor.clone(),
        period: e.period.name(),
        start: iso(e.start),
        end: iso(e.end),
        hours: (e.end - e.start) / time::HOUR_MS,
        periods: e.periods,
        max_converted: e.max_converted,
        max_multiple: e.max_multiple,
        limit: e.limit,
    }
}

pub fn quality_row(f: &Finding) -> QualityRow {
    QualityRow {
        mn: f.mn.clone(),
        factor: f.factor.clone(),
        kind: f.kind.name(),
        start: iso(f.start),
        end: iso(f.end),
        open: f.open,
        detail: f.detail.clone(),
    }
}

pub fn emission_row(e: &Emission) -> EmissionRow {
    EmissionRow {
        mn: e.mn.clone(),
        outlet: e.outlet.clone(),
        factor: e.factor.clone(),
        period: e.period.name(),
        start: iso(e.start),
        kg: e.kg,
        records: e.records,
        from_cou: e.from_cou,
    }
}

pub fn rate_row(r: &Rate) -> RateRow {
    RateRow {
        mn: r.mn.clone(),
        outlet: r.outlet.clone(),
        period: r.period.name(),
        start: iso(r.start),
        expected: r.expected,
        received: r.received,
        valid: r.valid,
        transmission: r.transmission,
        validity: r.validity,
        effective_transmission: r.effective_transmission,
        compliance: r.compliance,
        judged_hours: r.judged_hours,
        exceeding_hours: r.exceeding_hours,
    }
}
