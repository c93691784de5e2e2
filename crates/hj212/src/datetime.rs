//! Civil date-times as the standard writes them (`YYYYMMDDhhmmss`, optionally `zzz` milliseconds).
//! Devices send local time; in China that is UTC+8 without daylight saving.

use std::fmt;

/// A validated local date-time. Ordering is chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub millis: u16,
}

fn is_leap(y: u16) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

pub(crate) fn days_in_month(y: u16, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// The value of a run of ASCII decimal digits (`None` if any byte is not one). Callers pass a
/// few digits (a date field, the frame's four-digit length), so it cannot overflow.
#[inline]
pub(crate) fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

impl DateTime {
    /// 2000-01-01 00:00:00.000: a valid time to send where a clock reads outside the years
    /// 0–9999 that [`DateTime::from_unix_millis_cst`] can express.
    pub const Y2000: DateTime =
        DateTime { year: 2000, month: 1, day: 1, hour: 0, minute: 0, second: 0, millis: 0 };

    /// Parse `YYYYMMDDhhmmss` or `YYYYMMDDhhmmsszzz`. Returns the value and whether milliseconds
    /// were present, or a message saying what is wrong.
    pub fn parse(s: &str) -> Result<(DateTime, bool), String> {
        let b = s.as_bytes();
        if b.len() != 14 && b.len() != 17 {
            return Err(format!("expected 14 digits YYYYMMDDhhmmss, found {} characters", b.len()));
        }
        if !b.iter().all(u8::is_ascii_digit) {
            return Err("contains a character that is not a digit".into());
        }
        let d = |r: std::ops::Range<usize>| digits(&b[r]).unwrap_or(0);
        let dt = DateTime {
            year: d(0..4) as u16,
            month: d(4..6) as u8,
            day: d(6..8) as u8,
            hour: d(8..10) as u8,
            minute: d(10..12) as u8,
            second: d(12..14) as u8,
            millis: if b.len() == 17 { d(14..17) as u16 } else { 0 },
        };
        dt.validate()?;
        Ok((dt, b.len() == 17))
    }

    pub fn new(year: u16, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Result<Self, String> {
        let dt = DateTime { year, month, day, hour, minute, second, millis: 0 };
        dt.validate()?;
        Ok(dt)
    }

    fn validate(&self) -> Result<(), String> {
        if !(1..=12).contains(&self.month) {
            return Err(format!("month {} is not 01–12", self.month));
        }
        if self.day == 0 || self.day > days_in_month(self.year, self.month) {
            return Err(format!("day {} does not exist in {:04}-{:02}", self.day, self.year, self.month));
        }
        if self.hour > 23 || self.minute > 59 || self.second > 59 {
            return Err(format!("time {:02}:{:02}:{:02} is not valid", self.hour, self.minute, self.second));
        }
        Ok(())
    }

    /// `YYYYMMDDhhmmss`, as the standard writes it.
    pub fn compact(&self) -> String {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `YYYYMMDDhhmmsszzz`, the QN form.
    pub fn qn(&self) -> String {
        format!("{}{:03}", self.compact(), self.millis)
    }

    /// ISO 8601 with China's offset: `YYYY-MM-DDThh:mm:ss+08:00`.
    pub fn iso8601(&self) -> String {
        self.to_string()
    }

    /// Days since 1970-01-01 of the civil date (proleptic Gregorian).
    pub fn days_from_epoch(&self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Milliseconds since the Unix epoch, reading this as UTC+8 local time.
    pub fn unix_millis_cst(&self) -> i64 {
        let secs = self.days_from_epoch() * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
            - 8 * 3600;
        secs * 1000 + i64::from(self.millis)
    }

    /// The inverse of [`DateTime::unix_millis_cst`].
    pub fn from_unix_millis_cst(ms: i64) -> Option<DateTime> {
        let local = ms + 8 * 3600 * 1000;
        let days = local.div_euclid(86_400_000);
        let rem = local.rem_euclid(86_400_000);
        // Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        if !(0..=9999).contains(&year) {
            return None;
        }
        Some(DateTime {
            year: year as u16,
            month: month as u8,
            day: day as u8,
            hour: (rem / 3_600_000) as u8,
            minute: (rem / 60_000 % 60) as u8,
            second: (rem / 1000 % 60) as u8,
            millis: (rem % 1000) as u16,
        })
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+08:00",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn y2000_is_a_valid_time_that_round_trips() {
        assert_eq!(DateTime::new(2000, 1, 1, 0, 0, 0), Ok(DateTime::Y2000));
        assert_eq!(DateTime::from_unix_millis_cst(DateTime::Y2000.unix_millis_cst()), Some(DateTime::Y2000));
        assert_eq!(DateTime::Y2000.qn(), "20000101000000000");
    }

    #[test]
    fn parses_and_formats() {
        let (dt, ms) = DateTime::parse("20160801085857").unwrap();
        assert!(!ms);
        assert_eq!(dt.to_string(), "2016-08-01T08:58:57+08:00");
        assert_eq!(dt.compact(), "20160801085857");
        let (dt, ms) = DateTime::parse("20160801085857223").unwrap();
        assert!(ms);
        assert_eq!(dt.millis, 223);
        assert_eq!(dt.qn(), "20160801085857223");
    }

    #[test]
    fn rejects_impossible_dates() {
        assert!(DateTime::parse("20230229000000").is_err());
        assert!(DateTime::parse("20240229000000").is_ok());
        assert!(DateTime::parse("20241301000000").is_err());
        assert!(DateTime::parse("20240101240000").is_err());
        assert!(DateTime::parse("2024010100000").is_err());
        assert!(DateTime::parse("2024010100000x").is_err());
    }

    #[test]
    fn epoch_conversion() {
        let (dt, _) = DateTime::parse("19700101080000").unwrap();
        assert_eq!(dt.unix_millis_cst(), 0);
    }

    proptest! {
        #[test]
        fn epoch_round_trip(ms in 0i64..253_402_000_000_000) {
            let dt = DateTime::from_unix_millis_cst(ms).unwrap();
            prop_assert_eq!(dt.unix_millis_cst(), ms);
            let (back, _) = DateTime::parse(&dt.qn()).unwrap();
            prop_assert_eq!(back, dt);
        }
    }
}
