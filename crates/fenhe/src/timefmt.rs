//! Times on the command line and in outputs: China time (UTC+8, no DST since 1991).

use anyhow::{Result, bail};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

fn china() -> TimeZone {
    // Asia/Shanghai is in the bundled database; the fixed offset is the same since 1991.
    TimeZone::get("Asia/Shanghai").unwrap_or_else(|_| TimeZone::fixed(jiff::tz::offset(8)))
}

/// Parse a time given by an operator: `2026-11-29`, `2026-11-29T08:00[:00]`, `2026-11-29 08:00`,
/// `20261129080000`, or RFC 3339 with an offset. Times without an offset are China time.
/// Returns epoch milliseconds.
pub fn parse(s: &str) -> Result<i64> {
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
    let Some(civil) = civil else {
        bail!("{s:?} is not a time (use YYYY-MM-DD, YYYY-MM-DDThh:mm:ss, YYYYMMDDhhmmss or RFC 3339)");
    };
    Ok(china().to_timestamp(civil)?.as_millisecond())
}

/// `YYYY-MM-DDThh:mm:ss+08:00` for epoch milliseconds.
pub fn iso(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.to_zoned_datetime(china()).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        Err(_) => ms.to_string(),
    }
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let t = parse("2016-08-01T08:58:57").unwrap();
        assert_eq!(iso(t), "2016-08-01T08:58:57+08:00");
        assert_eq!(parse("20160801085857").unwrap(), t);
        assert_eq!(parse("2016-08-01 08:58:57").unwrap(), t);
        assert_eq!(parse("2016-08-01T00:58:57Z").unwrap(), t);
        assert_eq!(iso(parse("2016-08-01").unwrap()), "2016-08-01T00:00:00+08:00");
        assert!(parse("yesterday").is_err());
    }
}
