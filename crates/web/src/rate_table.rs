//! The rates table of 数据质量 and of `/api/v1/rates`: which rates (scope, period, days), in
//! which order, and the table itself in the page language — one definition, so the page, the
//! CSV and the XLSX hold the same cells in the same order.

use fenhe_app::quality_views::QualityRate;
use fenhe_core::china_time;
use fenhe_core::compliance::{Period, Scope};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::alarm_labels::industry_label;
use crate::alarm_params::FieldError;
use crate::day_range::{self, given};
use crate::i18n::Lang;
use crate::table_export::{Cell, Table};

/// `?scope=&period=&from=&to=&sort=&dir=`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RateParams {
    /// `outlet`, `enterprise` (default), `industry` or `city`.
    pub scope: Option<String>,
    /// `day` (default) or `month`.
    pub period: Option<String>,
    /// First day (YYYY-MM-DD, China time); default: a week ago for days, January for months.
    pub from: Option<String>,
    /// Last day, included (or an exclusive instant); default: today.
    pub to: Option<String>,
    /// Column to sort by: `name` (default), `start`, `devices`, `online`, `expected`, `received`,
    /// `valid`, `transmission`, `validity`, `effective`, `compliance`, `exceeding`, `judged`.
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    pub dir: Option<String>,
}

/// The sortable columns, by their parameter names, in the table's order.
pub const SORTS: [&str; 13] = [
    "name",
    "start",
    "devices",
    "online",
    "expected",
    "received",
    "valid",
    "transmission",
    "validity",
    "effective",
    "compliance",
    "exceeding",
    "judged",
];

/// Which rates, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct RateRequest {
    pub by: Scope,
    pub period: Period,
    /// `[from, to)`, epoch ms; `from` at the start of its day (month, for months).
    pub from: i64,
    pub to: i64,
    pub sort: &'static str,
    pub desc: bool,
}

const DAY: i64 = 86_400_000;

/// What is shown when nothing is asked: the last seven days (today included) by enterprise.
pub fn default_request(now: i64) -> RateRequest {
    let today = china_time::day_start(now);
    RateRequest {
        by: Scope::Enterprise,
        period: Period::Day,
        from: today - 6 * DAY,
        to: today + DAY,
        sort: "name",
        desc: false,
    }
}

impl RateParams {
    /// The request, with defaults relative to `now`, or every value that is wrong.
    pub fn resolve(&self, now: i64) -> Result<RateRequest, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut err = |field: &'static str, key: &'static str, message: String| {
            errors.push(FieldError { field, message, key })
        };
        let by = match given(&self.scope) {
            None => Scope::Enterprise,
            Some(s) => Scope::parse(s).unwrap_or_else(|| {
                err(
                    "scope",
                    "alarms.err.scope",
                    format!("scope: {s:?} is not one of outlet, enterprise, industry, city"),
                );
                Scope::Enterprise
            }),
        };
        let period = match given(&self.period) {
            None | Some("day") => Period::Day,
            Some("month") => Period::Month,
            Some(p) => {
                err("period", "alarms.err.period", format!("period: {p:?} is not day or month"));
                Period::Day
            }
        };
        let today = china_time::day_start(now);
        let default_from = match period {
            Period::Month => china_time::year_start(now),
            _ => today - 6 * DAY,
        };
        let from = match given(&self.from) {
            None => default_from,
            Some(v) => day_range::start("from", v).unwrap_or_else(|e| {
                err("from", "alarms.err.date", e);
                default_from
            }),
        };
        let to = match given(&self.to) {
            None => today + DAY,
            Some(v) => day_range::end("to", v).unwrap_or_else(|e| {
                err("to", "alarms.err.date", e);
                today + DAY
            }),
        };
        // Months are stored at their first day: a period from mid-month includes that month.
        let from =
            if period == Period::Month { china_time::month_start(from) } else { china_time::day_start(from) };
        if to <= from {
            err("to", "alarms.err.order", "to: the period ends before it starts".to_string());
        }
        let sort = match given(&self.sort) {
            None => "name",
            Some(s) => SORTS.iter().copied().find(|k| *k == s).unwrap_or_else(|| {
                err("sort", "alarms.err.sort", format!("sort: {s:?} is not one of {}", SORTS.join(", ")));
                "name"
            }),
        };
        let desc = match given(&self.dir) {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(d) => {
                err("dir", "alarms.err.dir", format!("dir: {d:?} is not asc or desc"));
                false
            }
        };
        if errors.is_empty() { Ok(RateRequest { by, period, from, to, sort, desc }) } else { Err(errors) }
    }
}

/// The group's name as the table shows it.
pub fn group_name(r: &QualityRate, lang: Lang) -> String {
    match r.rate.scope {
        Scope::Outlet | Scope::Enterprise => match &r.name {
            Some(n) => format!("{} {n}", r.rate.key),
            None => r.rate.key.clone(),
        },
        Scope::Industry | Scope::City => industry_label(&r.rate.key, lang),
    }
}

fn pct(v: f64) -> Option<f64> {
    Some(v * 100.0)
}

/// The value sorted by `sort` (names sort as text, the rest as numbers; a missing compliance
/// or online rate sorts first).
fn sort_value(r: &QualityRate, sort: &str) -> f64 {
    let g = &r.rate;
    match sort {
        "start" => g.start as f64,
        "devices" => f64::from(g.devices),
        "online" => r.online().unwrap_or(-1.0),
        "expected" => g.expected as f64,
        "received" => g.received as f64,
        "valid" => g.valid as f64,
        "transmission" => g.transmission,
        "validity" => g.validity,
        "effective" => g.effective_transmission,
        "compliance" => g.compliance.unwrap_or(-1.0),
        "exceeding" => g.exceeding_hours as f64,
        "judged" => g.judged_hours as f64,
        _ => 0.0,
    }
}

/// Sort `rows` as asked; ties keep name, then period order.
pub fn sort(rows: &mut [QualityRate], req: &RateRequest, lang: Lang) {
    rows.sort_by(|a, b| {
        let primary = if req.sort == "name" {
            group_name(a, lang).cmp(&group_name(b, lang))
        } else {
            sort_value(a, req.sort).total_cmp(&sort_value(b, req.sort))
        };
        let primary = if req.desc { primary.reverse() } else { primary };
        primary.then_with(|| a.rate.key.cmp(&b.rate.key)).then(a.rate.start.cmp(&b.rate.start))
    });
}

/// The message keys of the columns, in order (one per [`SORTS`] entry).
pub const COLUMN_KEYS: [&str; 13] = [
    "quality.col.name",
    "quality.col.start",
    "quality.col.devices",
    "quality.col.online",
    "quality.col.expected",
    "quality.col.received",
    "quality.col.valid",
    "quality.col.transmission",
    "quality.col.validity",
    "quality.col.effective",
    "quality.col.compliance",
    "quality.col.exceeding",
    "quality.col.judged",
];

/// The table of `rows` (already sorted) in `lang`.
pub fn table(rows: &[QualityRate], period: Period, lang: Lang) -> Table {
    let headers = COLUMN_KEYS.iter().map(|k| lang.t(k).to_string()).collect();
    let rows = rows
        .iter()
        .map(|r| {
            let g = &r.rate;
            let start = match period {
                Period::Month => china_time::date_of(g.start).strftime("%Y-%m").to_string(),
                _ => day_range::date_text(g.start),
            };
            vec![
                Cell::Text(group_name(r, lang)),
                Cell::Text(start),
                Cell::int(u64::from(g.devices)),
                Cell::Number { value: r.online().and_then(pct), decimals: 1 },
                Cell::int(g.expected),
                Cell::int(g.received),
                Cell::int(g.valid),
                Cell::Number { value: pct(g.transmission), decimals: 1 },
                Cell::Number { value: pct(g.validity), decimals: 1 },
                Cell::Number { value: pct(g.effective_transmission), decimals: 1 },
                Cell::Number { value: g.compliance.and_then(pct), decimals: 1 },
                Cell::int(g.exceeding_hours),
                Cell::int(g.judged_hours),
            ]
        })
        .collect();
    Table { headers, rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_633_600_000; // 2025-12-02 08:00 China time

    #[test]
    fn defaults_are_the_last_week_by_enterprise() {
        let r = RateParams::default().resolve(NOW).unwrap();
        assert_eq!((r.by, r.period, r.sort, r.desc), (Scope::Enterprise, Period::Day, "name", false));
        assert_eq!(day_range::date_text(r.from), "2025-11-26");
        assert_eq!(day_range::date_text(r.to), "2025-12-03");
    }

    #[test]
    fn months_start_at_their_first_day_and_wrong_values_are_named() {
        let p = RateParams {
            period: Some("month".into()),
            from: Some("2025-03-15".into()),
            to: Some("2025-05-31".into()),
            ..Default::default()
        };
        let r = p.resolve(NOW).unwrap();
        assert_eq!(day_range::date_text(r.from), "2025-03-01");
        let bad = RateParams {
            scope: Some("province".into()),
            period: Some("week".into()),
            sort: Some("colour".into()),
            dir: Some("up".into()),
            ..Default::default()
        };
        let errors = bad.resolve(NOW).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["scope", "period", "sort", "dir"]);
        assert!(errors.iter().all(|e| Lang::En.t(e.key) != "??"), "{errors:?}");
    }
}
