//! The working-day calendar: which China-time days are working days, and deadlines counted in
//! working days (an appeal's "3 working days", a task's extension).
//!
//! Held as data, not rules: China moves working days every year (放假调休), so a Saturday can be
//! a working day and a Thursday a holiday. The State Council publishes each year's arrangement in
//! the November before; `data/workdays-cn.txt` holds the published years and an operator can load
//! more. A year with no line is counted by weekday alone, and [`WorkCalendar::knows_year`] lets a
//! caller say so instead of silently trusting it.

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, Weekday};

const DAY_MS: i64 = 86_400_000;
/// China time is UTC+8 all year (no daylight saving since 1991).
const OFFSET_MS: i64 = 8 * 3_600_000;
/// The bundled arrangement (see the file's header for its sources).
const BUNDLED: &str = include_str!("../data/workdays-cn.txt");
/// A deadline search gives up after this many calendar days (a malformed calendar of holidays
/// only must not loop for ever).
const MAX_SEARCH_DAYS: i64 = 3_660;

/// What a listed day is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayKind {
    /// A public holiday or a rest day moved into a holiday block.
    Holiday,
    /// A weekend day that is worked (调休上班).
    Workday,
}

/// A listed day with its name (`春节`, `国庆节调休`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedDay {
    pub kind: DayKind,
    pub name: String,
}

/// A line of a calendar file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("calendar line {line}: {message}")]
pub struct CalendarError {
    pub line: usize,
    pub message: String,
}

/// Public holidays and make-up working days.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkCalendar {
    days: BTreeMap<Date, ListedDay>,
    years: BTreeSet<i16>,
}

impl WorkCalendar {
    /// The bundled arrangement of the published years.
    pub fn bundled() -> WorkCalendar {
        // The bundled file is part of the source tree and tested below; failing to read it is a
        // build defect, not an input error.
        WorkCalendar::parse(BUNDLED).unwrap_or_default()
    }

    /// Read a calendar file (format in `data/workdays-cn.txt`). Every problem is reported with its
    /// line; a day listed twice is a problem (two notices disagreeing must be resolved by a person).
    pub fn parse(text: &str) -> Result<WorkCalendar, Vec<CalendarError>> {
        let mut cal = WorkCalendar::default();
        let mut errors = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let content = raw.split('#').next().unwrap_or("").trim();
            if content.is_empty() {
                continue;
            }
            if let Err(message) = cal.add_line(content) {
                errors.push(CalendarError { line, message });
            }
        }
        if errors.is_empty() { Ok(cal) } else { Err(errors) }
    }

    /// Add the lines of another file (an operator's year); the same rules as [`WorkCalendar::parse`].
    pub fn extend(&mut self, other: WorkCalendar) -> Result<(), Vec<CalendarError>> {
        let clashes: Vec<CalendarError> = other
            .days
            .keys()
            .filter(|d| self.days.contains_key(d))
            .map(|d| CalendarError { line: 0, message: format!("{d} is already in the calendar") })
            .collect();
        if !clashes.is_empty() {
            return Err(clashes);
        }
        self.days.extend(other.days);
        self.years.extend(other.years);
        Ok(())
    }

    fn add_line(&mut self, content: &str) -> Result<(), String> {
        let mut parts = content.split_whitespace();
        let range = parts.next().ok_or("empty line")?;
        let kind = match parts.next() {
            Some("holiday") => DayKind::Holiday,
            Some("workday") => DayKind::Workday,
            Some(other) => return Err(format!("{other:?} is neither holiday nor workday")),
            None => return Err("missing holiday or workday after the date".into()),
        };
        let name = parts.collect::<Vec<_>>().join(" ");
        let (first, last) = match range.split_once("..") {
            Some((a, b)) => (parse_date(a)?, parse_date(b)?),
            None => {
                let d = parse_date(range)?;
                (d, d)
            }
        };
        if last < first {
            return Err(format!("the range {range} ends before it starts"));
        }
        if first.until(last).map_err(|e| e.to_string())?.get_days() > 31 {
            return Err(format!("the range {range} is longer than a month"));
        }
        let mut d = first;
        while d <= last {
            if self.days.contains_key(&d) {
                return Err(format!("{d} is listed twice"));
            }
            if kind == DayKind::Workday && !is_weekend(d) {
                return Err(format!("{d} is a weekday; only a weekend day can be a make-up working day"));
            }
            self.days.insert(d, ListedDay { kind, name: name.clone() });
            self.years.insert(d.year());
            d = d.tomorrow().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Whether the arrangement of `year` is loaded (otherwise days count by weekday only).
    pub fn knows_year(&self, year: i16) -> bool {
        self.years.contains(&year)
    }

    /// The listed days, in order (for showing the calendar).
    pub fn listed(&self) -> impl Iterator<Item = (Date, &ListedDay)> {
        self.days.iter().map(|(d, l)| (*d, l))
    }

    pub fn is_working_day(&self, d: Date) -> bool {
        match self.days.get(&d) {
            Some(l) => l.kind == DayKind::Workday,
            None => !is_weekend(d),
        }
    }

    /// The deadline of something due `n` working days after `from` (epoch ms): 24:00 China time
    /// at the end of the `n`-th working day after the day of `from`. The day something arrives
    /// does not count, whatever the hour (a request at 16:55 on Friday with 1 working day is due
    /// at the end of Monday). `n = 0` is the end of `from`'s own day. `None` only if no working
    /// day falls in the next ten years (a calendar of holidays only).
    pub fn deadline(&self, from: i64, n: u32) -> Option<i64> {
        let mut d = china_date(from)?;
        let mut left = n;
        let mut searched = 0;
        while left > 0 {
            d = d.tomorrow().ok()?;
            searched += 1;
            if searched > MAX_SEARCH_DAYS {
                return None;
            }
            if self.is_working_day(d) {
                left -= 1;
            }
        }
        day_end_ms(d)
    }

    /// Working days elapsed from `from` to `to` (epoch ms), counted as [`WorkCalendar::deadline`]
    /// counts them: the working days after `from`'s day up to and including `to`'s day. Something
    /// done on its deadline's day took exactly that many working days. 0 when `to` is not after
    /// `from`'s day.
    pub fn working_days_between(&self, from: i64, to: i64) -> u32 {
        let (Some(mut d), Some(end)) = (china_date(from), china_date(to)) else { return 0 };
        let mut n = 0;
        while d < end {
            let Ok(next) = d.tomorrow() else { break };
            d = next;
            if self.is_working_day(d) {
                n += 1;
            }
        }
        n
    }
}

fn parse_date(s: &str) -> Result<Date, String> {
    s.parse::<Date>().map_err(|_| format!("{s:?} is not a date (YYYY-MM-DD)"))
}

fn is_weekend(d: Date) -> bool {
    matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// The China-time date of an instant.
pub fn china_date(t: i64) -> Option<Date> {
    let days = t.checked_add(OFFSET_MS)?.div_euclid(DAY_MS);
    // `try_days`: an instant whose day is beyond jiff's range is no date (`days()` would panic).
    Date::new(1970, 1, 1).ok()?.checked_add(jiff::Span::new().try_days(days).ok()?).ok()
}

/// 24:00 China time at the end of `d`, epoch ms.
fn day_end_ms(d: Date) -> Option<i64> {
    let epoch = Date::new(1970, 1, 1).ok()?;
    let days = epoch.until(d).ok()?.get_days() as i64;
    (days + 1).checked_mul(DAY_MS)?.checked_sub(OFFSET_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        s.parse().unwrap()
    }

    /// Epoch ms of a China-time wall clock.
    fn at(s: &str) -> i64 {
        let dt: jiff::civil::DateTime = s.parse().unwrap();
        jiff::tz::TimeZone::fixed(jiff::tz::offset(8)).to_timestamp(dt).unwrap().as_millisecond()
    }

    #[test]
    fn the_bundled_calendar_reads_and_knows_2026() {
        let parsed = WorkCalendar::parse(BUNDLED).expect("bundled calendar");
        assert_eq!(parsed, WorkCalendar::bundled());
        let c = WorkCalendar::bundled();
        assert!(c.knows_year(2026));
        assert!(!c.knows_year(2030));
        // Spring Festival 2026: 15–23 February off, Saturday 14 and Saturday 28 worked.
        assert!(!c.is_working_day(date("2026-02-16")));
        assert!(c.is_working_day(date("2026-02-14")));
        assert!(c.is_working_day(date("2026-02-28")));
        assert!(c.is_working_day(date("2026-02-24")));
        // Ordinary weekend and weekday.
        assert!(!c.is_working_day(date("2026-03-07")));
        assert!(c.is_working_day(date("2026-03-09")));
        let holidays = c.listed().filter(|(_, l)| l.kind == DayKind::Holiday).count();
        let workdays = c.listed().filter(|(_, l)| l.kind == DayKind::Workday).count();
        assert_eq!((holidays, workdays), (3 + 9 + 3 + 5 + 3 + 3 + 7, 6));
    }

    #[test]
    fn deadlines_skip_weekends_and_holidays_and_count_make_up_days() {
        let c = WorkCalendar::bundled();
        // Friday 16:55 + 1 working day → end of Monday.
        assert_eq!(c.deadline(at("2026-03-06T16:55"), 1), Some(at("2026-03-10T00:00")));
        // Same day for 0.
        assert_eq!(c.deadline(at("2026-03-06T16:55"), 0), Some(at("2026-03-07T00:00")));
        // Submitted on Saturday: Monday is the first working day.
        assert_eq!(c.deadline(at("2026-03-07T10:00"), 1), Some(at("2026-03-10T00:00")));
        // Before the National Day week: Wednesday 30 September + 3 → Thursday 8, Friday 9,
        // Saturday 10 (worked) → due at the end of Saturday 10 October.
        assert_eq!(c.deadline(at("2026-09-30T09:00"), 3), Some(at("2026-10-11T00:00")));
        // Friday 13 February + 1 → Saturday 14 is worked.
        assert_eq!(c.deadline(at("2026-02-13T12:00"), 1), Some(at("2026-02-15T00:00")));
        // + 2 → across the whole Spring Festival to Tuesday 24.
        assert_eq!(c.deadline(at("2026-02-13T12:00"), 2), Some(at("2026-02-25T00:00")));
        // Fifteen working days from Monday 2 March (the day itself does not count): Tuesday 3 to
        // Friday 6, two whole weeks, then Monday 23 March.
        assert_eq!(c.deadline(at("2026-03-02T08:00"), 15), Some(at("2026-03-24T00:00")));
    }

    #[test]
    fn working_days_between_agrees_with_deadline() {
        let c = WorkCalendar::bundled();
        let from = at("2026-09-28T10:00");
        for n in 0..25 {
            let due = c.deadline(from, n).unwrap();
            // Done in the last minute of the deadline's day: exactly n working days (a deadline
            // lands on a working day, or on `from`'s own day for 0).
            assert_eq!(c.working_days_between(from, due - 60_000), n, "n = {n}");
        }
        assert_eq!(c.working_days_between(at("2026-03-06T10:00"), at("2026-03-06T18:00")), 0);
        assert_eq!(c.working_days_between(at("2026-03-06T10:00"), at("2026-03-05T18:00")), 0);
    }

    #[test]
    fn absurd_instants_have_no_deadline_instead_of_a_panic() {
        let c = WorkCalendar::bundled();
        assert_eq!(china_date(i64::MAX), None);
        assert_eq!(c.deadline(i64::MAX, 3), None);
        assert_eq!(c.deadline(i64::MIN, 0), None);
        assert_eq!(c.working_days_between(i64::MIN, i64::MAX), 0);
    }

    #[test]
    fn problems_name_their_line() {
        let text = "# header\n2027-01-01 holiday 元旦\n2027-02-30 holiday x\n2027-01-02 rest\n\
                    2027-01-05 workday 周二\n2027-01-01 holiday again\n2027-03-05..2027-03-01 holiday\n";
        let errs = WorkCalendar::parse(text).unwrap_err();
        let lines: Vec<usize> = errs.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7], "{errs:?}");
        assert!(errs[0].to_string().starts_with("calendar line 3: \"2027-02-30\" is not a date"));
        assert!(errs[2].message.contains("only a weekend day"));
        assert!(errs[3].message.contains("listed twice"));
    }

    #[test]
    fn an_operator_year_extends_the_bundled_one() {
        let mut c = WorkCalendar::bundled();
        let next = WorkCalendar::parse("2027-01-01 holiday 元旦\n").unwrap();
        c.extend(next).unwrap();
        assert!(c.knows_year(2027) && !c.is_working_day(date("2027-01-01")));
        let clash = WorkCalendar::parse("2026-10-01 holiday 国庆节\n").unwrap();
        assert!(c.extend(clash).is_err());
    }
}
