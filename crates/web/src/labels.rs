//! Names for people of the codes the enterprise and outlet pages show: states, industries,
//! "4+6+N" categories, factors, flags, invalid-period reasons, alarm kinds and severities. Codes
//! the catalogue does not know show as they are (the registry is configuration and may hold
//! industries this build has never heard of).

use fenhe_app::enterprise_views::State;
use fenhe_app::outlet_series::factor_info;
use fenhe_core::compliance::Invalidity;

use crate::i18n::Lang;

pub fn state(lang: Lang, s: State) -> &'static str {
    lang.t(match s {
        State::Compliant => "state.compliant",
        State::Exceeding => "state.exceeding",
        State::Offline => "state.offline",
        State::NoData => "state.no_data",
    })
}

/// The CSS class of a state's tag.
pub fn state_class(s: State) -> &'static str {
    match s {
        State::Compliant => "state-ok",
        State::Exceeding => "state-bad",
        State::Offline => "state-warn",
        State::NoData => "state-none",
    }
}

pub fn industry(lang: Lang, code: &str) -> String {
    lang.try_t(&format!("industry.{code}")).map_or_else(|| code.to_string(), str::to_string)
}

pub fn category(lang: Lang, category: &str) -> String {
    lang.try_t(&format!("category.{category}")).map_or_else(|| category.to_string(), str::to_string)
}

/// A factor's name (the HJ 212 table's), or its code.
pub fn factor(lang: Lang, code: &str) -> String {
    match factor_info(code) {
        Some(f) if lang.is_english() => f.name_en.to_string(),
        Some(f) => f.name_zh.to_string(),
        None => code.to_string(),
    }
}

/// A factor's unit of concentration, or nothing.
pub fn unit(lang: Lang, code: &str) -> &'static str {
    match factor_info(code) {
        Some(f) if lang.is_english() => f.unit_en,
        Some(f) => f.unit_zh,
        None => "",
    }
}

pub fn invalidity(lang: Lang, r: Invalidity) -> &'static str {
    if lang.is_english() {
        match r {
            Invalidity::NoData => "no data",
            Invalidity::NoValidData => "no valid data",
            Invalidity::InsufficientCoverage => "insufficient valid data",
            Invalidity::NotConvertible => "O2 too high to convert",
            Invalidity::NoOxygen => "no O2 to convert with",
        }
    } else {
        r.description_zh()
    }
}

/// A data flag of HJ 212 (`N`, `M`, …).
pub fn flag(lang: Lang, f: &str) -> String {
    lang.try_t(&format!("flag.{f}")).map_or_else(|| f.to_string(), str::to_string)
}

/// A number for a table: up to three decimals, trailing zeros dropped; `—` for none.
pub fn num(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => {
            let s = format!("{v:.3}");
            let s = s.trim_end_matches('0').trim_end_matches('.');
            if s == "-0" { "0".into() } else { s.to_string() }
        }
        _ => "—".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_plainly() {
        assert_eq!(num(Some(12.0)), "12");
        assert_eq!(num(Some(12.3456)), "12.346");
        assert_eq!(num(Some(-0.0001)), "0");
        assert_eq!(num(None), "—");
        assert_eq!(num(Some(f64::NAN)), "—");
    }

    #[test]
    fn unknown_codes_show_as_they_are() {
        assert_eq!(industry(Lang::En, "coking"), "Coking");
        assert_eq!(industry(Lang::Zh, "coking"), "焦化");
        assert_eq!(industry(Lang::En, "space_mining"), "space_mining");
        assert_eq!(factor(Lang::Zh, "a21026"), "二氧化硫");
        assert_eq!(factor(Lang::En, "zz999"), "zz999");
    }
}
