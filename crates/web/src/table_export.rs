//! A table as people see it on a page, written as CSV (UTF-8 with a byte-order mark, so Excel
//! opens Chinese text right) or XLSX: the downloads hold exactly the cells the page shows.

use rust_xlsxwriter::{Format, Workbook, XlsxError};

/// A cell: text, or a number shown with `decimals` places (none when missing: an empty cell).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number { value: Option<f64>, decimals: usize },
}

impl Cell {
    pub fn int(v: u64) -> Cell {
        Cell::Number { value: Some(v as f64), decimals: 0 }
    }
    /// The cell as the page shows it.
    pub fn shown(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Number { value: Some(v), decimals } => format!("{v:.decimals$}"),
            Cell::Number { value: None, .. } => String::new(),
        }
    }
    pub fn is_number(&self) -> bool {
        matches!(self, Cell::Number { .. })
    }
}

/// Headers and rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// One CSV field, quoted when it holds a separator, a quote or a line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// The table as CSV: a UTF-8 byte-order mark, then CRLF-separated lines (RFC 4180).
pub fn csv(t: &Table) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    let line = |cells: Vec<String>| cells.iter().map(|c| csv_field(c)).collect::<Vec<_>>().join(",") + "\r\n";
    out.push_str(&line(t.headers.clone()));
    for r in &t.rows {
        out.push_str(&line(r.iter().map(Cell::shown).collect()));
    }
    out.into_bytes()
}

/// The table as an XLSX workbook of one sheet named `sheet`; numbers stay numbers, shown with
/// the page's decimals.
pub fn xlsx(t: &Table, sheet: &str) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name(sheet)?;
    let bold = Format::new().set_bold();
    for (c, h) in t.headers.iter().enumerate() {
        let col = u16::try_from(c).unwrap_or(u16::MAX);
        ws.write_string_with_format(0, col, h, &bold)?;
        ws.set_column_width(col, if c == 0 { 28 } else { 14 })?;
    }
    let formats: Vec<Format> = (0..=4)
        .map(|d| {
            Format::new().set_num_format(if d == 0 { "0".into() } else { format!("0.{}", "0".repeat(d)) })
        })
        .collect();
    for (r, row) in t.rows.iter().enumerate() {
        let at = u32::try_from(r + 1).unwrap_or(u32::MAX);
        for (c, cell) in row.iter().enumerate() {
            let col = u16::try_from(c).unwrap_or(u16::MAX);
            match cell {
                Cell::Text(s) => {
                    ws.write_string(at, col, s)?;
                }
                Cell::Number { value: Some(v), decimals } => {
                    ws.write_number_with_format(at, col, *v, &formats[(*decimals).min(4)])?;
                }
                Cell::Number { value: None, .. } => {}
            }
        }
    }
    ws.set_freeze_panes(1, 0)?;
    book.save_to_buffer()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        Table {
            headers: vec!["名称".into(), "传输率（%）".into()],
            rows: vec![
                vec![Cell::Text("甲, \"乙\"".into()), Cell::Number { value: Some(98.456), decimals: 1 }],
                vec![Cell::Text("丙".into()), Cell::Number { value: None, decimals: 1 }],
            ],
        }
    }

    #[test]
    fn csv_has_a_bom_quotes_what_needs_it_and_shows_the_pages_numbers() {
        let text = String::from_utf8(csv(&table())).unwrap();
        assert_eq!(text, "\u{feff}名称,传输率（%）\r\n\"甲, \"\"乙\"\"\",98.5\r\n丙,\r\n");
    }

    #[test]
    fn xlsx_is_a_zip_workbook() {
        let bytes = xlsx(&table(), "rates").unwrap();
        assert_eq!(&bytes[..2], b"PK");
    }
}
