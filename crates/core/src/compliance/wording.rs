//! Names and numbers in finding and alarm texts (their times come from `crate::china_time`).

use hj212::codes::{Lang, factor};

/// Chinese name of a factor (the code itself when the table does not know it).
pub(crate) fn factor_name_zh(code: &str) -> String {
    factor(code).map_or_else(|| code.to_string(), |f| f.name(Lang::Zh).to_string())
}

/// English name of a factor.
pub(crate) fn factor_name_en(code: &str) -> String {
    factor(code).map_or_else(|| code.to_string(), |f| f.name(Lang::En).to_string())
}

/// Unit symbol of a factor's value with a leading space (`" mg/m³"`), empty for dimensionless
/// factors (pH) and unknown codes.
pub(crate) fn unit(code: &str) -> String {
    match factor(code).map(|f| f.unit(Lang::En)) {
        Some(u) if !u.is_empty() && u != "dimensionless" => format!(" {u}"),
        _ => String::new(),
    }
}

/// A number for people: two decimals (four below 0.1), trailing zeros dropped.
pub(crate) fn fmt_num(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    let decimals = if x == 0.0 || x.abs() >= 0.1 { 2 } else { 4 };
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if s == "-0" { "0".to_string() } else { s }
}

/// Minutes, for durations in texts.
pub(crate) fn fmt_minutes(ms: i64) -> String {
    fmt_num(ms as f64 / 60_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_names() {
        assert_eq!(fmt_num(52.3), "52.3");
        assert_eq!(fmt_num(35.0), "35");
        assert_eq!(fmt_num(0.494), "0.49");
        assert_eq!(fmt_num(0.01234), "0.0123");
        assert_eq!(fmt_num(-0.0), "0");
        assert_eq!(fmt_num(f64::NAN), "NaN");
        assert_eq!(factor_name_zh("a21026"), "二氧化硫");
        assert_eq!(unit("a21026"), " mg/m³");
        assert_eq!(unit("w01001"), "");
    }
}
