//! `fenhe calendar due`: the deadline of something due a number of working days after an
//! instant, on the bundled working-day calendar (plus an operator's years), for operators
//! checking a deadline and for tests. The rules are `fenhe_core::calendar::WorkCalendar`'s: the
//! day of receipt does not count, and a deadline falls at the end of its day, China time.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, anyhow, bail};
use fenhe_core::calendar::{WorkCalendar, china_date};
use fenhe_core::china_time;

/// How the deadline is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DueFormat {
    /// `YYYY-MM-DD 24:00`: the deadline's own day, as a notice writes it.
    Text,
    /// The instant in RFC 3339 at +08:00 (`2026-02-26T00:00:00+08:00` for the end of the 25th).
    Iso,
}

/// The bundled calendar, extended by the years of `file`.
pub fn load(file: Option<&Path>) -> Result<WorkCalendar> {
    let mut calendar = WorkCalendar::bundled();
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let extra = WorkCalendar::parse(&text).map_err(|errs| problems(path, &errs))?;
        calendar.extend(extra).map_err(|errs| problems(path, &errs))?;
    }
    Ok(calendar)
}

fn problems(path: &Path, errs: &[fenhe_core::calendar::CalendarError]) -> anyhow::Error {
    let lines: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    anyhow!("{}: {}", path.display(), lines.join("; "))
}

/// Print the deadline of `working_days` working days after `from` (a date or a date and time,
/// China time unless an offset is given). Warns on standard error when a year it crosses is not
/// in the calendar (those days count by weekday alone).
pub fn due(
    calendar: &WorkCalendar,
    from: &str,
    working_days: u32,
    format: DueFormat,
    out: &mut dyn Write,
    warn: &mut dyn Write,
) -> Result<()> {
    let start = china_time::parse(from)?;
    let Some(deadline) = calendar.deadline(start, working_days) else {
        bail!("no working day falls in the ten years after {from}: the calendar lists holidays only");
    };
    let (Some(first), Some(last)) = (china_date(start), china_date(deadline.saturating_sub(1))) else {
        bail!("{from} is out of the calendar's range");
    };
    for year in first.year()..=last.year() {
        if !calendar.knows_year(year) {
            writeln!(
                warn,
                "warning: the calendar has no holidays for {year}; its days are counted by weekday \
                 alone (add the year with --calendar FILE)"
            )?;
        }
    }
    match format {
        DueFormat::Text => writeln!(out, "{} 24:00", last.strftime("%Y-%m-%d"))?,
        DueFormat::Iso => writeln!(out, "{}", china_time::iso(deadline))?,
    }
    Ok(())
}
