//! The field checks every kind shares: required, one of a list, China-time dates and instants,
//! numbers zero or more, length limits, configured department codes.
//!
//! A machine first runs [`check`] over its [`FieldSpec`]s, which gives the normalised fields and
//! every problem found; then adds its own cross-field problems (an end before its start, the five
//! fields of a major hazard) with [`Checked::problem`], which keeps the first problem of a field
//! only; and [`Checked::finish`] answers either the fields or one [`Refusal::Invalid`] naming every
//! bad field at once. Fields not in the specs are dropped (the API's `action` key, a form's CSRF
//! token), so an item never keeps anything its machine did not check.

use jiff::civil::{Date, DateTime};
use jiff::tz::{TimeZone, offset};

use super::{Context, FieldKind, FieldProblem, FieldSpec, Fields, Problem, Refusal};
use crate::china_time::{DAY_MS, date_of, date_start};

/// At most this many characters in one line of text.
pub const TEXT_MAX: usize = 200;
/// At most this many characters in a long text (measures, evidence, a description).
pub const LONG_TEXT_MAX: usize = 4000;
/// At most this many characters in a list title (the rest is on the item's page).
const TITLE_MAX: usize = 60;

/// Checked fields and the problems found so far.
#[derive(Debug, Default)]
pub(crate) struct Checked {
    pub fields: Fields,
    problems: Vec<FieldProblem>,
    /// The fields' order on the form: problems are answered in it.
    order: Vec<&'static str>,
}

impl Checked {
    /// A normalised value that passed its check.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    pub fn has_problem(&self, name: &str) -> bool {
        self.problems.iter().any(|p| p.field == name)
    }

    /// Record a problem of `name`, unless it already has one (one message per field is enough;
    /// the first is the most basic: a missing value before a date in the wrong order).
    pub fn problem(&mut self, name: &str, problem: Problem) {
        if !self.has_problem(name) {
            self.fields.remove(name);
            self.problems.push(FieldProblem { field: name.to_string(), problem });
        }
    }

    /// Take `value` for `name` after all (a value the field's kind does not know, like the
    /// bureau as a task's lead unit), forgetting the problem its check found.
    pub fn accept(&mut self, name: &str, value: &str) {
        self.problems.retain(|p| p.field != name);
        self.fields.insert(name.to_string(), value.to_string());
    }

    /// The fields, or every problem at once.
    pub fn finish(mut self) -> Result<Fields, Refusal> {
        if self.problems.is_empty() {
            return Ok(self.fields);
        }
        let order = self.order;
        self.problems.sort_by_key(|p| order.iter().position(|n| *n == p.field).unwrap_or(usize::MAX));
        Err(Refusal::Invalid(self.problems))
    }
}

/// Check `input` against `specs`: each field alone. Values are trimmed; blank optional fields
/// are left out.
pub(crate) fn check(specs: &[FieldSpec], input: &Fields, ctx: &Context<'_>) -> Checked {
    let mut out = Checked { order: specs.iter().map(|s| s.name).collect(), ..Checked::default() };
    for spec in specs {
        let value = input.get(spec.name).map(|v| v.trim()).unwrap_or("");
        if value.is_empty() {
            if spec.required {
                out.problem(spec.name, Problem::Missing);
            }
            continue;
        }
        match normalise(spec.kind, value, ctx) {
            Ok(v) => {
                out.fields.insert(spec.name.to_string(), v);
            }
            Err(p) => out.problem(spec.name, p),
        }
    }
    out
}

fn normalise(kind: FieldKind, value: &str, ctx: &Context<'_>) -> Result<String, Problem> {
    let chars = value.chars().count();
    match kind {
        FieldKind::Text | FieldKind::Enterprise if chars > TEXT_MAX => {
            Err(Problem::TooLong { max: TEXT_MAX })
        }
        FieldKind::LongText if chars > LONG_TEXT_MAX => Err(Problem::TooLong { max: LONG_TEXT_MAX }),
        FieldKind::Text | FieldKind::Enterprise | FieldKind::LongText => Ok(value.to_string()),
        FieldKind::Choice(allowed) => match allowed.iter().find(|a| **a == value) {
            Some(a) => Ok(a.to_string()),
            None => Err(Problem::NotOneOf { allowed: allowed.iter().map(|a| a.to_string()).collect() }),
        },
        FieldKind::Date => parse_date(value).map(date_text).ok_or(Problem::NotADate),
        FieldKind::DateTime => parse_datetime(value).map(datetime_text).ok_or(Problem::NotADate),
        FieldKind::Number => parse_number(value).map(number_text).ok_or(Problem::NotANumber),
        FieldKind::Department => {
            if is_department(value, ctx) {
                Ok(value.to_string())
            } else {
                Err(Problem::UnknownDepartment)
            }
        }
        FieldKind::Departments => {
            let codes: Vec<&str> = value.split(',').map(str::trim).filter(|c| !c.is_empty()).collect();
            if codes.is_empty() || codes.iter().any(|c| !is_department(c, ctx)) {
                return Err(Problem::UnknownDepartment);
            }
            let mut unique: Vec<&str> = Vec::new();
            for c in codes {
                if !unique.contains(&c) {
                    unique.push(c);
                }
            }
            Ok(unique.join(","))
        }
    }
}

fn is_department(code: &str, ctx: &Context<'_>) -> bool {
    ctx.departments.iter().any(|d| d == code)
}

/// A China-time date, `YYYY-MM-DD`.
pub fn parse_date(s: &str) -> Option<Date> {
    let s = s.trim();
    if s.len() != 10 {
        return None;
    }
    s.parse::<Date>().ok()
}

/// A China-time instant, `YYYY-MM-DDTHH:MM` (seconds and a space instead of `T` are accepted),
/// as epoch ms.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim().replacen(' ', "T", 1);
    // A date alone is not an instant: the field asks for the hour of an on-site visit.
    if s.len() < 16 {
        return None;
    }
    let civil: DateTime = s.parse().ok()?;
    china().to_timestamp(civil).ok().map(|t| t.as_millisecond())
}

/// A number zero or more (finite).
pub fn parse_number(s: &str) -> Option<f64> {
    let n: f64 = s.trim().parse().ok()?;
    (n.is_finite() && n >= 0.0).then_some(n)
}

fn number_text(n: f64) -> String {
    // `100` for 100.0, `12.5` for 12.5: the shortest text that reads back as the same number.
    format!("{n}")
}

pub fn date_text(d: Date) -> String {
    d.strftime("%Y-%m-%d").to_string()
}

/// `YYYY-MM-DDTHH:MM`, China time (the form fields keep instants in).
pub fn datetime_text(t: i64) -> String {
    jiff::Timestamp::from_millisecond(t)
        .map(|ts| ts.to_zoned_datetime(china()).strftime("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_else(|_| t.to_string())
}

/// The deadline of a date: 24:00 China time at the end of its day, epoch ms.
pub fn day_end(d: Date) -> i64 {
    date_start(d).saturating_add(DAY_MS)
}

/// [`day_end`] of a date field's text.
pub fn date_deadline(s: &str) -> Option<i64> {
    parse_date(s).map(day_end)
}

/// The China-time date of `now` (what "today" is for a "not before today" check).
pub fn today(now: i64) -> Date {
    date_of(now)
}

/// A short line for lists from a longer text: its first line, cut at [`TITLE_MAX`] characters.
pub fn title_of(text: &str) -> String {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    if first.chars().count() > TITLE_MAX {
        let cut: String = first.chars().take(TITLE_MAX - 1).collect();
        format!("{cut}…")
    } else {
        first.to_string()
    }
}

/// China time is UTC+8 all year; the fixed offset keeps field instants and period arithmetic
/// on the same clock.
fn china() -> TimeZone {
    TimeZone::fixed(offset(8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::WorkCalendar;

    const SPECS: &[FieldSpec] = &[
        FieldSpec { name: "t", kind: FieldKind::Text, required: true },
        FieldSpec { name: "l", kind: FieldKind::LongText, required: false },
        FieldSpec { name: "c", kind: FieldKind::Choice(&["a", "b"]), required: true },
        FieldSpec { name: "d", kind: FieldKind::Date, required: true },
        FieldSpec { name: "dt", kind: FieldKind::DateTime, required: false },
        FieldSpec { name: "n", kind: FieldKind::Number, required: true },
        FieldSpec { name: "dep", kind: FieldKind::Department, required: false },
        FieldSpec { name: "deps", kind: FieldKind::Departments, required: false },
    ];

    fn input(pairs: &[(&str, &str)]) -> Fields {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn run(pairs: &[(&str, &str)]) -> Result<Fields, Refusal> {
        let cal = WorkCalendar::bundled();
        let deps = vec!["fgw".to_string(), "yjj".to_string()];
        let ctx = Context::new(&cal, &deps);
        check(SPECS, &input(pairs), &ctx).finish()
    }

    #[test]
    fn good_fields_are_trimmed_normalised_and_unknown_ones_dropped() {
        let f = run(&[
            ("t", "  title "),
            ("l", ""),
            ("c", "b"),
            ("d", "2026-03-06"),
            ("dt", "2026-03-06 08:05:59"),
            ("n", "12.50"),
            ("dep", "fgw"),
            ("deps", "yjj, fgw,,yjj"),
            ("action", "explain"),
        ])
        .unwrap();
        let want = input(&[
            ("t", "title"),
            ("c", "b"),
            ("d", "2026-03-06"),
            ("dt", "2026-03-06T08:05"),
            ("n", "12.5"),
            ("dep", "fgw"),
            ("deps", "yjj,fgw"),
        ]);
        assert_eq!(f, want);
    }

    #[test]
    fn every_bad_field_is_named_at_once() {
        let long = "字".repeat(TEXT_MAX + 1);
        let err = run(&[
            ("t", &long),
            ("l", &"x".repeat(LONG_TEXT_MAX + 1)),
            ("c", "z"),
            ("d", "2026-02-30"),
            ("dt", "2026-03-06"),
            ("n", "-1"),
            ("dep", "nope"),
            ("deps", "fgw,nope"),
        ])
        .unwrap_err();
        let Refusal::Invalid(problems) = err else { panic!("{err:?}") };
        let named: Vec<(&str, &Problem)> = problems.iter().map(|p| (p.field.as_str(), &p.problem)).collect();
        assert_eq!(
            named,
            vec![
                ("t", &Problem::TooLong { max: TEXT_MAX }),
                ("l", &Problem::TooLong { max: LONG_TEXT_MAX }),
                ("c", &Problem::NotOneOf { allowed: vec!["a".into(), "b".into()] }),
                ("d", &Problem::NotADate),
                ("dt", &Problem::NotADate),
                ("n", &Problem::NotANumber),
                ("dep", &Problem::UnknownDepartment),
                ("deps", &Problem::UnknownDepartment),
            ]
        );
        let missing = run(&[("t", " "), ("n", "NaN")]).unwrap_err();
        let Refusal::Invalid(problems) = missing else { panic!() };
        let named: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(named, vec!["t", "c", "d", "n"]);
        assert_eq!(problems[3].problem, Problem::NotANumber);
    }

    #[test]
    fn a_date_is_due_at_the_end_of_its_china_day() {
        // 2026-03-06 24:00 China time = 2026-03-06T16:00Z.
        let end = date_deadline("2026-03-06").unwrap();
        assert_eq!(jiff::Timestamp::from_millisecond(end).unwrap().to_string(), "2026-03-06T16:00:00Z");
        assert_eq!(today(end - 1), parse_date("2026-03-06").unwrap());
        assert_eq!(today(end), parse_date("2026-03-07").unwrap());
        assert_eq!(datetime_text(parse_datetime("2026-03-06T23:59").unwrap()), "2026-03-06T23:59");
        assert_eq!(date_deadline("20260306"), None);
    }

    #[test]
    fn titles_are_the_first_line_cut_short() {
        assert_eq!(title_of("\n  废气超标  \n第二行"), "废气超标");
        let t = title_of(&"超".repeat(100));
        assert_eq!(t.chars().count(), TITLE_MAX);
        assert!(t.ends_with('…'));
    }
}
