//! An outlet's series as a download: CSV (UTF-8 with a byte-order mark, which is how Excel knows
//! the file is UTF-8 and shows the Chinese right) and XLSX. Both hold exactly the rows of the
//! series asked for — the resolution, period and factor on screen — one row a point, with the
//! column names in the person's language.

use fenhe_app::outlet_series::{Point, Resolution, Series};
use fenhe_core::china_time;
use rust_xlsxwriter::{Format, Workbook, XlsxError};

use crate::i18n::Lang;
use crate::labels;

/// The byte-order mark that starts the CSV.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The column keys of the table, in order.
const COLUMNS: [&str; 13] = [
    "export.outlet",
    "export.factor",
    "export.factor_name",
    "export.unit",
    "export.time",
    "export.measured",
    "export.converted",
    "export.min",
    "export.max",
    "export.limit",
    "export.flag",
    "export.validity",
    "export.exceeds",
];

/// A cell: text or a number (empty when absent).
enum Cell {
    Text(String),
    Number(Option<f64>),
}

fn rows(series: &Series, lang: Lang) -> Vec<Vec<Cell>> {
    let mut out = Vec::new();
    for f in &series.factors {
        let name = labels::factor(lang, &f.factor);
        let unit = labels::unit(lang, &f.factor).to_string();
        for p in &f.points {
            out.push(vec![
                Cell::Text(series.outlet.clone()),
                Cell::Text(f.factor.clone()),
                Cell::Text(name.clone()),
                Cell::Text(unit.clone()),
                Cell::Text(time_text(series.window.resolution, p.t)),
                Cell::Number(p.value),
                Cell::Number(p.converted),
                Cell::Number(p.min),
                Cell::Number(p.max),
                Cell::Number(p.limit),
                Cell::Text(p.flag.as_deref().map(|f| labels::flag(lang, f)).unwrap_or_default()),
                Cell::Text(validity(lang, p)),
                Cell::Text(if p.exceeds { lang.t("export.yes").into() } else { String::new() }),
            ]);
        }
    }
    out
}

/// A point's time as a spreadsheet shows it: to the minute, or the day for daily rows.
fn time_text(r: Resolution, t: i64) -> String {
    match r {
        Resolution::Day => china_time::minute_text(t).chars().take(10).collect(),
        _ => china_time::minute_text(t),
    }
}

fn validity(lang: Lang, p: &Point) -> String {
    if p.valid {
        lang.t("outlet.series.valid").to_string()
    } else {
        match p.reason {
            Some(r) => format!("{}: {}", lang.t("outlet.series.invalid"), labels::invalidity(lang, r)),
            None => lang.t("outlet.series.invalid").to_string(),
        }
    }
}

/// The series as CSV, the BOM first.
pub fn csv(series: &Series, lang: Lang) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(BOM.to_vec());
    w.write_record(COLUMNS.iter().map(|k| lang.t(k)))?;
    for row in rows(series, lang) {
        w.write_record(row.iter().map(|c| match c {
            Cell::Text(s) => s.clone(),
            // Full precision: the file is for further work, not for reading at a glance.
            Cell::Number(v) => v.filter(|v| v.is_finite()).map(|v| v.to_string()).unwrap_or_default(),
        }))?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// The series as an XLSX workbook of one sheet.
pub fn xlsx(series: &Series, lang: Lang) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name(lang.t("export.sheet"))?;
    let bold = Format::new().set_bold();
    for (c, key) in COLUMNS.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, lang.t(key), &bold)?;
    }
    sheet.set_freeze_panes(1, 0)?;
    sheet.set_column_width(2, 16)?;
    sheet.set_column_width(4, 17)?;
    for (r, row) in rows(series, lang).iter().enumerate() {
        let r = r as u32 + 1;
        for (c, cell) in row.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) if !s.is_empty() => {
                    sheet.write_string(r, c, s)?;
                }
                Cell::Number(Some(v)) if v.is_finite() => {
                    sheet.write_number(r, c, *v)?;
                }
                _ => {}
            }
        }
    }
    book.save_to_buffer()
}

/// The download's file name: outlet, factor (when one), resolution and period, e.g.
/// `E01-DA001_a34013_hour_20261122-20261129`.
pub fn file_stem(series: &Series) -> String {
    let day =
        |t: i64| china_time::minute_text(t).chars().filter(char::is_ascii_digit).take(8).collect::<String>();
    let factor = match series.factors.as_slice() {
        [one] => format!("_{}", one.factor),
        _ => String::new(),
    };
    let safe: String =
        series.outlet.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    format!(
        "{safe}{factor}_{}_{}-{}",
        series.window.resolution.name(),
        day(series.window.from),
        day(series.window.to - 1)
    )
}
