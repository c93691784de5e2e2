//! Alarm and finding words in the page language: kinds, severities, states, resolutions,
//! factors and industries. Shared by the overview, the alarm pages, data quality and the exports,
//! so one kind has one name everywhere.

use fenhe_core::alarm::AlarmStatus;
use fenhe_core::compliance::{FindingKind, Severity};

use crate::i18n::Lang;

/// An alarm kind (`exceedance` or a finding's name) for people; an unknown name shows as itself.
pub fn kind_label(kind: &str, lang: Lang) -> String {
    if kind == "exceedance" {
        return lang.t("alarm.kind.exceedance").to_string();
    }
    // Raised by the gateway (password guessing), not by the compliance engine.
    if kind == fenhe_core::alarm::SECURITY_KIND {
        return lang.t("alarm.kind.security").to_string();
    }
    match FindingKind::ALL.iter().find(|k| k.name() == kind) {
        Some(k) => finding_label(*k, lang).to_string(),
        None => kind.to_string(),
    }
}

pub fn finding_label(k: FindingKind, lang: Lang) -> &'static str {
    if lang.is_english() { k.name_en() } else { k.name_zh() }
}

pub fn severity_label(s: Severity, lang: Lang) -> &'static str {
    match (s, lang.is_english()) {
        (s, false) => s.name_zh(),
        (Severity::Info, true) => "Info",
        (Severity::Warning, true) => "Warning",
        (Severity::Serious, true) => "Serious",
        (Severity::Critical, true) => "Critical",
    }
}

pub fn status_label(s: AlarmStatus, lang: Lang) -> &'static str {
    match s {
        AlarmStatus::Open => lang.t("alarms.status.open"),
        AlarmStatus::Resolved => lang.t("alarms.status.resolved"),
    }
}

/// Why an alarm was resolved (`cleared`, `withdrawn`).
pub fn resolution_label(r: &str, lang: Lang) -> String {
    match r {
        fenhe_core::alarm::RESOLUTION_CLEARED => lang.t("alarms.resolution.cleared").to_string(),
        fenhe_core::alarm::RESOLUTION_WITHDRAWN => lang.t("alarms.resolution.withdrawn").to_string(),
        other => other.to_string(),
    }
}

/// A factor code with its common name, where we know it (`a21026` → `SO2 (a21026)`).
pub fn factor_label(code: &str) -> String {
    let name = match code {
        "a34013" => "颗粒物 PM",
        "a21026" => "SO₂",
        "a21002" => "NOx",
        "a19001" => "O₂",
        "w01018" => "COD",
        "w21003" => "NH₃-N",
        "w21011" => "TP",
        "w21001" => "TN",
        "w01001" => "pH",
        _ => return code.to_string(),
    };
    format!("{name} ({code})")
}

/// An industry code of the registry for people; an unknown one shows as itself.
pub fn industry_label(code: &str, lang: Lang) -> String {
    match code {
        "city" => lang.t("quality.city").to_string(),
        _ => crate::labels::industry(lang, code),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_named_in_the_page_language() {
        assert_eq!(kind_label("offline", Lang::Zh), "设备离线");
        assert_eq!(kind_label("offline", Lang::En), "device offline");
        assert_eq!(kind_label("exceedance", Lang::Zh), "超标");
        assert_eq!(kind_label("security", Lang::Zh), "安全告警");
        assert_eq!(kind_label("security", Lang::En), "Security");
        assert_eq!(kind_label("something_new", Lang::En), "something_new");
    }

    #[test]
    fn states_severities_and_industries_have_both_languages() {
        assert_eq!(status_label(AlarmStatus::Open, Lang::Zh), "未关闭");
        assert_eq!(status_label(AlarmStatus::Resolved, Lang::En), "Resolved");
        assert_eq!(severity_label(Severity::Critical, Lang::Zh), "紧急");
        assert_eq!(severity_label(Severity::Critical, Lang::En), "Critical");
        assert_eq!(resolution_label("withdrawn", Lang::En), "withdrawn (data revised)");
        assert_eq!(industry_label("coking", Lang::Zh), "焦化");
        assert_eq!(industry_label("unknown_x", Lang::Zh), "unknown_x");
        assert_eq!(factor_label("a21026"), "SO₂ (a21026)");
    }
}
