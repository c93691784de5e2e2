//! China time, the one clock of the platform: period arithmetic (hours, days, months, years at
//! UTC+8 fixed; China has had no DST since 1991), times as operators type them, and times as
//! outputs print them. Every crate takes its China time from here, so the CLI, the reports, the
//! alarm texts and the web pages agree on where a day begins and how an instant reads.
//!
//! Instants are epoch milliseconds (UTC). Printing and parsing go through the `Asia/Shanghai`
//! zone of the bundled database (so a date of the 1986–1991 summers reads as it did then); the
//! period arithmetic uses the fixed offset, which is the same for every instant it is used on.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;

pub const MINUTE_MS: i64 = 60_000;
pub const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;
const OFFSET_MS: i64 = 8 * HOUR_MS;

/// Start of the clock hour containing `t`.
pub fn hour_start(t: i64) -> i64 {
    t.div_euclid(HOUR_MS).saturating_mul(HOUR_MS)
}

/// Start (00:00 China time) of the day containing `t`.
pub fn day_start(t: i64) -> i64 {
    // Saturating: absurd instants (near i64::MIN/MAX) must not overflow.
    t.saturating_add(OFFSET_MS).div_euclid(DAY_MS).saturating_mul(DAY_MS).saturating_sub(OFFSET_MS)
}

/// The China-time calendar date of `t`.
pub fn date_of(t: i64) -> jiff::civil::Date {
    let days = t.saturating_add(OFFSET_MS).div_euclid(DAY_MS);
    // 1970-01-01 plus `days`; saturates on absurd inputs instead of panicking.
    jiff::civil::date(1970, 1, 1)
        .checked_add(jiff::Span::new().days(days.clamp(-3_000_000, 3_000_000)))
        .unwrap_or(jiff::civil::date(1970, 1, 1))
}

/// Start (00:00 China time, epoch ms) of the civil `date`.
pub fn date_start(date: jiff::civil::Date) -> i64 {
    let epoch = jiff::civil::date(1970, 1, 1);
    let days = (date - epoch).get_days() as i64;
    days.saturating_mul(DAY_MS).saturating_sub(OFFSET_MS)
}

/// Start of the calendar month (China time) containing `t`.
pub fn month_start(t: i64) -> i64 {
    let d = date_of(t);
    date_start(d.first_of_month())
}

/// Start of the calendar month after the one containing `t`.
pub fn next_month_start(t: i64) -> i64 {
    let d = date_of(t).first_of_month();
    date_start(d.checked_add(jiff::Span::new().months(1)).unwrap_or(d))
}

/// Start of the calendar year (China time) containing `t`.
pub fn year_start(t: i64) -> i64 {
    date_start(jiff::civil::date(date_of(t).year(), 1, 1))
}

/// Start of the calendar year after the one containing `t`.
pub fn next_year_start(t: i64) -> i64 {
    let first = jiff::civil::date(date_of(t).year(), 1, 1);
    date_start(first.checked_add(jiff::Span::new().years(1)).unwrap_or(first))
}

/// Start of the hour after the one containing `t`.
pub fn next_hour_start(t: i64) -> i64 {
    hour_start(t).saturating_add(HOUR_MS)
}

/// Start of the day after the one containing `t`.
pub fn next_day_start(t: i64) -> i64 {
    day_start(t).saturating_add(DAY_MS)
}

/// A time an operator typed that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a time (use YYYY-MM-DD, YYYY-MM-DDThh:mm:ss, YYYYMMDDhhmmss or RFC 3339)")]
pub struct TimeParseError(pub String);

fn zone() -> TimeZone {
    // Asia/Shanghai is in the bundled database; the fixed offset is the same since 1991.
    TimeZone::get("Asia/Shanghai").unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(8)))
}

/// Parse a time given by an operator: `2026-11-29`, `2026-11-29T08:00[:00]`, `2026-11-29 08:00`,
/// `20261129080000`, or RFC 3339 with an offset. Times without an offset are China time.
/// Returns epoch milliseconds.
pub fn parse(s: &str) -> Result<i64, TimeParseError> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    let civil: Option<DateTime> = if s.len() == 14 && s.bytes().all(|b| b.is_ascii_digit()) {
        DateTime::strptime("%Y%m%d%H%M%S", s).ok()
    } else if s.len() == 10 {
        s.parse::<jiff::civil::Date>().ok().map(|d| d.to_datetime(jiff::civil::Time::midnight()))
    } else {
        s.replacen(' ', "T", 1).parse::<DateTime>().ok()
    };
    civil
        .and_then(|c| zone().to_timestamp(c).ok())
        .map(|t| t.as_millisecond())
        .ok_or_else(|| TimeParseError(s.to_string()))
}

/// `t` in `zone` with `format` (strftime), or `None` for an instant out of range.
fn format_in(zone: TimeZone, t: i64, format: &str) -> Option<String> {
    let ts = jiff::Timestamp::from_millisecond(t).ok()?;
    Some(ts.to_zoned_datetime(zone).strftime(format).to_string())
}

fn format(t: i64, format: &str) -> Option<String> {
    format_in(zone(), t, format)
}

/// `YYYY-MM-DDThh:mm:ss+08:00` for epoch milliseconds (the number itself when out of range):
/// the form of every machine-readable output.
pub fn iso(t: i64) -> String {
    format(t, "%Y-%m-%dT%H:%M:%S%:z").unwrap_or_else(|| t.to_string())
}

/// `YYYY-MM-DD hh:mm:ss` (the number itself when out of range): the form of pages for people.
pub fn seconds_text(t: i64) -> String {
    format(t, "%Y-%m-%d %H:%M:%S").unwrap_or_else(|| t.to_string())
}

/// `YYYY-MM-DD HH:MM` (`@{t}ms` when out of range): the form of finding and alarm texts. At the
/// fixed offset, like the period arithmetic whose periods these texts name.
pub fn minute_text(t: i64) -> String {
    format_in(TimeZone::fixed(jiff::tz::offset(8)), t, "%Y-%m-%d %H:%M").unwrap_or_else(|| format!("@{t}ms"))
}

/// Now, in epoch milliseconds (the system clock: the one function here that is not pure).
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_forms() {
        let t = parse("2016-08-01T08:58:57").unwrap();
        assert_eq!(iso(t), "2016-08-01T08:58:57+08:00");
        assert_eq!(parse("20160801085857").unwrap(), t);
        assert_eq!(parse("2016-08-01 08:58:57").unwrap(), t);
        assert_eq!(parse(" 2016-08-01T00:58:57Z ").unwrap(), t);
        assert_eq!(iso(parse("2016-08-01").unwrap()), "2016-08-01T00:00:00+08:00");
        assert_eq!(parse("yesterday"), Err(TimeParseError("yesterday".into())));
        assert!(parse("2016-13-01").is_err());
    }

    #[test]
    fn output_forms() {
        // 2026-11-29 08:30:15 China time.
        let t = 1_795_912_215_000;
        assert_eq!(iso(t), "2026-11-29T08:30:15+08:00");
        assert_eq!(seconds_text(t), "2026-11-29 08:30:15");
        assert_eq!(minute_text(t), "2026-11-29 08:30");
        assert_eq!(minute_text(i64::MAX), format!("@{}ms", i64::MAX));
        assert_eq!(iso(i64::MAX), i64::MAX.to_string());
        // A summer of daylight saving time (1988) reads as it did then.
        let summer = parse("1988-07-01T12:00:00").unwrap();
        assert_eq!(iso(summer), "1988-07-01T12:00:00+09:00");
        assert_eq!(minute_text(summer), "1988-07-01 11:00");
    }

    #[test]
    fn next_periods() {
        let t = 1_795_912_200_000;
        assert_eq!(next_hour_start(t), hour_start(t) + HOUR_MS);
        assert_eq!(next_day_start(t), day_start(t) + DAY_MS);
        assert_eq!(next_day_start(day_start(t)), day_start(t) + DAY_MS);
    }

    #[test]
    fn years_in_china_time() {
        // 2026-01-01 00:30 China time is still 2025 in UTC.
        let t = date_start(jiff::civil::date(2026, 1, 1)) + 1_800_000;
        assert_eq!(date_of(year_start(t)), jiff::civil::date(2026, 1, 1));
        assert_eq!(date_of(next_year_start(t)), jiff::civil::date(2027, 1, 1));
        assert_eq!(year_start(t - 3_600_000), date_start(jiff::civil::date(2025, 1, 1)));
    }

    #[test]
    fn periods_in_china_time() {
        // 2026-11-29 08:30 at UTC+8 = 00:30 UTC.
        let t = 1_795_912_200_000;
        assert_eq!(hour_start(t), 1_795_910_400_000);
        // 00:00 China time on 2026-11-29 = 2026-11-28 16:00 UTC.
        assert_eq!(day_start(t), 1_795_881_600_000);
        assert_eq!(date_of(t), jiff::civil::date(2026, 11, 29));
        assert_eq!(date_start(jiff::civil::date(2026, 11, 29)), day_start(t));
        assert_eq!(date_of(month_start(t)), jiff::civil::date(2026, 11, 1));
        assert_eq!(date_of(next_month_start(t)), jiff::civil::date(2026, 12, 1));
        // 23:59 China time stays in its day.
        assert_eq!(day_start(day_start(t) + DAY_MS - 1), day_start(t));
    }
}
