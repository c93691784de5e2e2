//! Periods chosen by people: `from` and `to` as China-time dates (`2026-11-29`), both days
//! included, as the pages' date pickers send them; the API takes the same, or an instant for an
//! exclusive end. Each failure names the parameter and what was expected.

use fenhe_core::china_time;

/// The start (epoch ms) of the first day, `field` naming the parameter in the error.
pub fn start(field: &str, value: &str) -> Result<i64, String> {
    parse(field, value).map(|(t, _)| t)
}

/// The exclusive end (epoch ms): the start of the day after a date, or an instant as given.
pub fn end(field: &str, value: &str) -> Result<i64, String> {
    parse(field, value).map(|(t, is_date)| if is_date { china_time::next_day_start(t) } else { t })
}

/// The instant, and whether it was a date alone.
fn parse(field: &str, value: &str) -> Result<(i64, bool), String> {
    let v = value.trim();
    china_time::parse(v)
        .map(|t| (t, v.len() == 10))
        .map_err(|_| format!("{field}: {v:?} is not a date (YYYY-MM-DD) or a time (YYYY-MM-DDThh:mm:ss)"))
}

/// `YYYY-MM-DD` of the China-time day holding `t`.
pub fn date_text(t: i64) -> String {
    china_time::date_of(t).to_string()
}

/// A non-empty query value, trimmed (empty form fields mean "not given").
pub fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_include_the_last_day_and_times_end_where_they_say() {
        let day = start("from", "2026-11-29").unwrap();
        assert_eq!(date_text(day), "2026-11-29");
        assert_eq!(end("to", "2026-11-29").unwrap(), day + 86_400_000);
        assert_eq!(end("to", "2026-11-29T08:00:00").unwrap(), day + 8 * 3_600_000);
        let e = start("from", "29/11/2026").unwrap_err();
        assert!(e.starts_with("from:") && e.contains("YYYY-MM-DD"), "{e}");
        assert_eq!(given(&Some("  ".into())), None);
        assert_eq!(given(&Some(" E01 ".into())), Some("E01"));
    }
}
