//! Conversions between stored values and the domain's: names of enumerations, counts, JSON
//! columns, canonical CNs.

use std::fmt::Write as _;

use fenhe_core::Verdict;
use fenhe_core::compliance::Period;

use crate::{Result, StoreError};

/// A stored name read back with its enumeration's own `parse`; a name it does not know means the
/// row was not written by this program (`what` names the enumeration in the error).
pub(crate) fn parsed<T>(parse: impl FnOnce(&str) -> Option<T>, s: &str, what: &str) -> Result<T> {
    parse(s).ok_or_else(|| StoreError::Corrupt(format!("unknown {what} {s:?}")))
}

pub(crate) fn verdict(s: &str) -> Result<Verdict> {
    parsed(Verdict::parse, s, "verdict")
}

pub(crate) fn count(n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| StoreError::Corrupt(format!("negative count {n}")))
}

pub(crate) fn small(n: i64, what: &str) -> Result<u32> {
    u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("{what} {n} is out of range")))
}

/// The CN of a measurement as stored: its number, written canonically.
pub(crate) fn numeric_cn(cn: &str) -> Option<i64> {
    // Canonical: digits only, no leading zero (but "0"); checked without formatting the number.
    let b = cn.as_bytes();
    let canonical = !b.is_empty() && b.iter().all(u8::is_ascii_digit) && (b[0] != b'0' || b.len() == 1);
    if canonical { cn.parse().ok() } else { None }
}

/// `crc: checksum mismatch` → `crc`.
pub(crate) fn reason_kind(reason: Option<&str>) -> &str {
    reason.map(|r| r.split(':').next().unwrap_or("").trim()).unwrap_or("")
}

pub(crate) fn json<T: serde::Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Invalid(e.to_string()))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// `'a', 'b'` for an SQL `IN` list of names that come from this program's own enums.
pub(crate) fn name_list(names: impl IntoIterator<Item = &'static str>) -> String {
    let mut s = String::new();
    for n in names {
        if !s.is_empty() {
            s.push_str(", ");
        }
        let _ = write!(s, "'{n}'");
    }
    if s.is_empty() { "NULL".into() } else { s }
}

pub(crate) fn period(s: &str) -> Result<Period> {
    match s {
        "hour" => Ok(Period::Hour),
        "day" => Ok(Period::Day),
        "month" => Ok(Period::Month),
        _ => Err(StoreError::Corrupt(format!("unknown period {s:?}"))),
    }
}

/// An enumeration stored by its snake_case (serde) name.
pub(crate) fn by_name<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| StoreError::Corrupt(format!("unknown {what} {s:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_kinds() {
        assert_eq!(reason_kind(None), "");
        assert_eq!(reason_kind(Some("crc: expected 1A2B, got 0000")), "crc");
        assert_eq!(reason_kind(Some("auth")), "auth");
        assert_eq!(reason_kind(Some(" syntax : x: y")), "syntax");
    }

    #[test]
    fn periods_and_names() {
        assert_eq!(period("day").unwrap(), Period::Day);
        assert!(matches!(period("week"), Err(StoreError::Corrupt(_))));
        let k: fenhe_core::compliance::FindingKind = by_name("monthly_share", "kind").unwrap();
        assert_eq!(k.name(), "monthly_share");
        assert!(by_name::<fenhe_core::compliance::FindingKind>("nope", "kind").is_err());
    }

    #[test]
    fn cns_are_canonical_numbers() {
        assert_eq!(numeric_cn("2011"), Some(2011));
        assert_eq!(numeric_cn("0201"), None);
        assert_eq!(numeric_cn("20a1"), None);
        assert_eq!(numeric_cn("-1"), None);
        assert_eq!(numeric_cn("+1"), None);
        assert_eq!(numeric_cn("0"), Some(0));
        assert_eq!(numeric_cn(""), None);
        assert_eq!(numeric_cn("99999999999999999999"), None);
    }
}
