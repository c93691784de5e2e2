//! The alarm list's filters as the page's form and the API's query send them, checked once for
//! both: every value a string, so a wrong one is named in the answer (an inline message on the
//! page, a 400 from the API) rather than refused by the extractor without saying where.

use fenhe_app::alarm_views::AlarmFilter;
use fenhe_core::alarm::AlarmStatus;
use fenhe_core::compliance::{FindingKind, Severity};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::day_range::{self, given};

/// `?enterprise=&outlet=&kind=&severity=&status=&from=&to=`.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlarmParams {
    /// Enterprise id (`E01`).
    pub enterprise: Option<String>,
    /// Outlet id (`E01-DA001`).
    pub outlet: Option<String>,
    /// `exceedance` or a finding kind (`offline`, `constant_value`, …).
    pub kind: Option<String>,
    /// At least this severe: `info`, `warning`, `serious`, `critical`.
    pub severity: Option<String>,
    /// `open` or `resolved`.
    pub status: Option<String>,
    /// Alarms whose period reaches into the period from this day (YYYY-MM-DD, China time) …
    pub from: Option<String>,
    /// … to this day, included (or an exclusive instant, YYYY-MM-DDThh:mm:ss).
    pub to: Option<String>,
}

/// A value that could not be read: the parameter, what was wrong (for the API, in English with
/// the value), and the message key a page shows beside the field in its language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
    pub key: &'static str,
}

/// Every kind name an alarm may have.
pub fn kind_names() -> impl Iterator<Item = &'static str> {
    std::iter::once("exceedance").chain(FindingKind::ALL.iter().map(|k| k.name()))
}

impl AlarmParams {
    /// The filter, or every value that is wrong.
    pub fn filter(&self) -> Result<AlarmFilter, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut err = |field: &'static str, key: &'static str, message: String| {
            errors.push(FieldError { field, message, key })
        };
        let kind = given(&self.kind).map(str::to_string);
        if let Some(k) = &kind
            && !kind_names().any(|n| n == k)
        {
            let names: Vec<&str> = kind_names().collect();
            err("kind", "alarms.err.kind", format!("kind: {k:?} is not one of {}", names.join(", ")));
        }
        let min_severity = given(&self.severity).and_then(|s| {
            Severity::parse(s).or_else(|| {
                err(
                    "severity",
                    "alarms.err.severity",
                    format!("severity: {s:?} is not one of info, warning, serious, critical"),
                );
                None
            })
        });
        let status = given(&self.status).and_then(|s| {
            AlarmStatus::parse(s).or_else(|| {
                err("status", "alarms.err.status", format!("status: {s:?} is not open or resolved"));
                None
            })
        });
        let from = given(&self.from)
            .and_then(|v| day_range::start("from", v).map_err(|e| err("from", "alarms.err.date", e)).ok());
        let to = given(&self.to)
            .and_then(|v| day_range::end("to", v).map_err(|e| err("to", "alarms.err.date", e)).ok());
        if let (Some(f), Some(t)) = (from, to)
            && t <= f
        {
            err("to", "alarms.err.order", "to: the period ends before it starts".to_string());
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(AlarmFilter {
            enterprise: given(&self.enterprise).map(str::to_string),
            outlet: given(&self.outlet).map(str::to_string),
            kind,
            min_severity,
            status,
            from,
            to,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_values_make_the_filter_and_empty_ones_are_absent() {
        let p = AlarmParams {
            enterprise: Some("E01".into()),
            outlet: Some("".into()),
            kind: Some("offline".into()),
            severity: Some("serious".into()),
            status: Some("open".into()),
            from: Some("2026-11-01".into()),
            to: Some("2026-11-01".into()),
        };
        let f = p.filter().unwrap();
        assert_eq!(f.enterprise.as_deref(), Some("E01"));
        assert_eq!(f.outlet, None);
        assert_eq!(f.min_severity, Some(Severity::Serious));
        assert_eq!(f.to.unwrap() - f.from.unwrap(), 86_400_000);
    }

    #[test]
    fn every_wrong_value_is_named() {
        let p = AlarmParams {
            kind: Some("fire".into()),
            severity: Some("huge".into()),
            status: Some("closed".into()),
            from: Some("yesterday".into()),
            ..Default::default()
        };
        let errors = p.filter().unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["kind", "severity", "status", "from"]);
        // The API's message names the value; the page's key is in the catalogue.
        assert!(errors[1].message.contains("\"huge\""), "{:?}", errors[1]);
        assert!(errors.iter().all(|e| crate::i18n::Lang::Zh.t(e.key) != "??"), "{errors:?}");
        let p = AlarmParams {
            from: Some("2026-11-02".into()),
            to: Some("2026-11-01".into()),
            ..Default::default()
        };
        assert_eq!(p.filter().unwrap_err()[0].field, "to");
    }
}
