//! `fenhe data export`: stored measurements as JSON lines or CSV.

use std::io::Write;

use anyhow::Result;
use fenhe_app::measurement_queries::{self, MeasurementFilter};
use fenhe_store::{Store, StoredMeasurement};
use serde_json::{Map, Value, json};

use fenhe_core::Values;
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
        Format::Csv => write_csv(&rows, out)?,
    }
    Ok(rows.len())
}

/// One row per measurement, one column per field (empty when absent), UTF-8 with a BOM so
/// spreadsheet programs read the Chinese right.
fn write_csv(rows: &[StoredMeasurement], out: &mut dyn Write) -> Result<()> {
    out.write_all("\u{feff}".as_bytes())?;
    let mut w = csv::Writer::from_writer(out);
    let columns = ["mn", "cn", "data_time", "factor", "raw_code", "revision", "received_at"];
    w.write_record(columns.into_iter().chain(Values::field_names()))?;
    for m in rows {
        let v = &m.values;
        let numbers = v.number_fields().map(|(_, x)| x.map(|x| x.to_string()).unwrap_or_default());
        let texts = v.text_fields().map(|(_, t)| t.unwrap_or_default().to_string());
        let record = [
            m.mn.clone(),
            m.cn.clone(),
            china_time::iso(m.data_time),
            m.factor.clone(),
            m.raw_code.clone(),
            m.revision.to_string(),
            china_time::iso(m.received_at),
        ];
        w.write_record(record.into_iter().chain(numbers).chain(texts))?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_a_column_per_field_in_the_standards_order() {
        let m = StoredMeasurement {
            mn: "M1".into(),
            cn: "2051".into(),
            data_time: 1_714_528_800_000,
            factor: "a21026".into(),
            raw_code: "a21026".into(),
            values: Values {
                avg: Some(12.5),
                zs_max: Some(-0.25),
                flag: Some("N".into()),
                sample_time: Some("20240501100000".into()),
                ..Default::default()
            },
            revision: 1,
            received_at: 1_714_528_860_000,
            frame_id: 9,
        };
        let mut out = Vec::new();
        write_csv(&[m], &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\u{feff}mn,cn,data_time,factor,raw_code,revision,received_at,\
             Rtd,Min,Avg,Max,Cou,ZsRtd,ZsMin,ZsAvg,ZsMax,Flag,EFlag,SampleTime\n\
             M1,2051,2024-05-01T10:00:00+08:00,a21026,a21026,1,2024-05-01T10:01:00+08:00,\
             ,,12.5,,,,,,-0.25,N,,20240501100000\n"
        );
    }
}
