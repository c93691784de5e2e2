//! `fenhe data export`: stored measurements as JSON lines or CSV.

use std::io::Write;

use anyhow::Result;
use fenhe_app::measurement_queries::{self, MeasurementFilter};
use fenhe_store::{Store, StoredMeasurement};
use serde_json::{Map, Value, json};

use fenhe_core::china_time;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

pub struct ExportArgs {
    pub filter: MeasurementFilter,
    pub format: Format,
}

fn fields(m: &StoredMeasurement) -> Map<String, Value> {
    let mut f = Map::new();
    for (k, v) in m.values.numbers() {
        f.insert(k.into(), json!(v));
    }
    for (k, v) in m.values.texts() {
        f.insert(k.into(), json!(v));
    }
    f
}

/// Write the measurements; returns how many were written.
pub async fn export(store: &dyn Store, args: &ExportArgs, out: &mut dyn Write) -> Result<usize> {
    let rows = measurement_queries::measurements(store, &args.filter).await?;
    match args.format {
        Format::Json => {
            for m in &rows {
                let line = json!({
                    "mn": m.mn,
                    "cn": m.cn,
                    "data_time": china_time::iso(m.data_time),
                    "factor": m.factor,
                    "raw_code": m.raw_code,
                    "fields": fields(m),
                    "received_at": china_time::iso(m.received_at),
                    "revision": m.revision,
                });
                writeln!(out, "{line}")?;
            }
        }
        Format::Csv => {
            // UTF-8 with BOM so spreadsheet programs read the Chinese right.
            out.write_all("\u{feff}".as_bytes())?;
            let mut w = csv::Writer::from_writer(out);
            w.write_record([
                "mn",
                "cn",
                "data_time",
                "factor",
                "raw_code",
                "revision",
                "received_at",
                "Rtd",
                "Min",
                "Avg",
                "Max",
                "Cou",
                "ZsRtd",
                "ZsMin",
                "ZsAvg",
                "ZsMax",
                "Flag",
                "EFlag",
                "SampleTime",
            ])?;
            for m in &rows {
                let v = &m.values;
                let n = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
                let t = |x: &Option<fenhe_core::ShortText>| x.as_deref().unwrap_or_default().to_string();
                w.write_record([
                    m.mn.clone(),
                    m.cn.clone(),
                    china_time::iso(m.data_time),
                    m.factor.clone(),
                    m.raw_code.clone(),
                    m.revision.to_string(),
                    china_time::iso(m.received_at),
                    n(v.rtd),
                    n(v.min),
                    n(v.avg),
                    n(v.max),
                    n(v.cou),
                    n(v.zs_rtd),
                    n(v.zs_min),
                    n(v.zs_avg),
                    n(v.zs_max),
                    t(&v.flag),
                    t(&v.eflag),
                    t(&v.sample_time),
                ])?;
            }
            w.flush()?;
        }
    }
    Ok(rows.len())
}
