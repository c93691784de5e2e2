//! [`RuleValues`]: the part of a record's values the rules read, and nothing else.
//!
//! The engine loads a month of a device's minute data at a time and `fenhe replay` holds every
//! record of a capture in memory, so the size of one record is what a window or a replay costs in
//! memory written (and, for fresh memory, in page faults). A full [`Values`] is nine
//! `Option<f64>` and three texts, 216 bytes; the rules read five numbers and the flag
//! ([`RULE_FIELDS`]). Keeping only those, with one presence bit per number, makes a
//! [`Record`](super::Record) 112 bytes instead of 256 — and a rule that starts reading `Min` or
//! `EFlag` does not compile until that field is added here, the loader reads it and
//! [`RULE_FIELDS`] names it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{ShortText, Values};

use super::types::RULE_FIELDS;

/// A number the rules read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleNumber {
    Rtd = 0,
    Avg = 1,
    ZsRtd = 2,
    ZsAvg = 3,
    Cou = 4,
}

impl RuleNumber {
    pub const ALL: [RuleNumber; 5] =
        [RuleNumber::Rtd, RuleNumber::Avg, RuleNumber::ZsRtd, RuleNumber::ZsAvg, RuleNumber::Cou];

    /// The HJ 212 field a number comes from.
    pub fn from_field(f: hj212::Field) -> Option<RuleNumber> {
        match f {
            hj212::Field::Rtd => Some(RuleNumber::Rtd),
            hj212::Field::Avg => Some(RuleNumber::Avg),
            hj212::Field::Cou => Some(RuleNumber::Cou),
            hj212::Field::ZsRtd => Some(RuleNumber::ZsRtd),
            hj212::Field::ZsAvg => Some(RuleNumber::ZsAvg),
            _ => None,
        }
    }
}

/// The values of a record the rules read: `Rtd`, `Avg`, `ZsRtd`, `ZsAvg`, `Cou` and `Flag`
/// ([`RULE_FIELDS`]). Serialized as the [`Values`] it projects (the other fields absent).
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "Values", into = "Values")]
pub struct RuleValues {
    /// By [`RuleNumber`]; 0.0 where absent, so the derived equality is the equality of the
    /// `Option`s (a present NaN never equals anything, as in [`Values`]).
    numbers: [f64; 5],
    /// Bit `n` set when number `n` is present.
    present: u8,
    flag: Option<ShortText>,
}

impl RuleValues {
    pub fn get(&self, n: RuleNumber) -> Option<f64> {
        let i = n as usize;
        (self.present & (1 << i) != 0).then_some(self.numbers[i])
    }

    pub fn set(&mut self, n: RuleNumber, v: Option<f64>) {
        let i = n as usize;
        match v {
            Some(v) => {
                self.numbers[i] = v;
                self.present |= 1 << i;
            }
            None => {
                self.numbers[i] = 0.0;
                self.present &= !(1 << i);
            }
        }
    }

    /// The same with `n` set (for building values in one expression).
    pub fn with(mut self, n: RuleNumber, v: f64) -> RuleValues {
        self.set(n, Some(v));
        self
    }

    pub fn with_flag(mut self, flag: &str) -> RuleValues {
        self.flag = Some(ShortText::new(flag));
        self
    }

    pub fn rtd(&self) -> Option<f64> {
        self.get(RuleNumber::Rtd)
    }
    pub fn avg(&self) -> Option<f64> {
        self.get(RuleNumber::Avg)
    }
    pub fn cou(&self) -> Option<f64> {
        self.get(RuleNumber::Cou)
    }
    pub fn zs_rtd(&self) -> Option<f64> {
        self.get(RuleNumber::ZsRtd)
    }
    pub fn zs_avg(&self) -> Option<f64> {
        self.get(RuleNumber::ZsAvg)
    }
    pub fn flag(&self) -> Option<&str> {
        self.flag.as_deref()
    }
    pub fn set_flag(&mut self, flag: Option<ShortText>) {
        self.flag = flag;
    }
}

impl From<&Values> for RuleValues {
    fn from(v: &Values) -> RuleValues {
        let mut r = RuleValues { flag: v.flag.clone(), ..RuleValues::default() };
        r.set(RuleNumber::Rtd, v.rtd);
        r.set(RuleNumber::Avg, v.avg);
        r.set(RuleNumber::Cou, v.cou);
        r.set(RuleNumber::ZsRtd, v.zs_rtd);
        r.set(RuleNumber::ZsAvg, v.zs_avg);
        r
    }
}

impl From<Values> for RuleValues {
    fn from(v: Values) -> RuleValues {
        RuleValues::from(&v)
    }
}

impl From<RuleValues> for Values {
    fn from(r: RuleValues) -> Values {
        Values {
            rtd: r.rtd(),
            avg: r.avg(),
            cou: r.cou(),
            zs_rtd: r.zs_rtd(),
            zs_avg: r.zs_avg(),
            flag: r.flag,
            ..Values::default()
        }
    }
}

impl fmt::Debug for RuleValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (n, name) in RuleNumber::ALL.into_iter().zip(RULE_FIELDS) {
            if let Some(v) = self.get(n) {
                m.entry(&name, &v);
            }
        }
        if let Some(flag) = self.flag() {
            m.entry(&"Flag", &flag);
        }
        m.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::Record;

    #[test]
    fn projects_the_rule_fields_and_back() {
        let full = Values {
            rtd: Some(1.5),
            min: Some(0.5),
            avg: Some(-2.0),
            max: Some(9.0),
            cou: Some(3.25),
            zs_rtd: None,
            zs_min: Some(4.0),
            zs_avg: Some(0.0),
            zs_max: Some(7.0),
            flag: Some("N".into()),
            eflag: Some("E1".into()),
            sample_time: Some("20240501100000".into()),
        };
        let r = RuleValues::from(&full);
        assert_eq!(
            (r.rtd(), r.avg(), r.cou(), r.zs_rtd(), r.zs_avg()),
            (Some(1.5), Some(-2.0), Some(3.25), None, Some(0.0))
        );
        assert_eq!(r.flag(), Some("N"));
        let back = Values::from(r.clone());
        assert_eq!(
            back,
            Values {
                rtd: Some(1.5),
                avg: Some(-2.0),
                cou: Some(3.25),
                zs_avg: Some(0.0),
                flag: Some("N".into()),
                ..Values::default()
            }
        );
        // Serialized as the Values it projects.
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(json, serde_json::to_string(&back).unwrap());
        assert_eq!(serde_json::from_str::<RuleValues>(&json).unwrap(), r);
    }

    #[test]
    fn absent_is_not_zero() {
        let zero = RuleValues::default().with(RuleNumber::Avg, 0.0);
        assert_ne!(zero, RuleValues::default());
        assert_eq!(zero.avg(), Some(0.0));
        let mut cleared = zero.clone();
        cleared.set(RuleNumber::Avg, None);
        assert_eq!(cleared, RuleValues::default());
        assert_eq!(format!("{zero:?}"), r#"{"Avg": 0.0}"#);
    }

    #[test]
    fn field_order_matches_rule_fields() {
        let fields = [
            hj212::Field::Rtd,
            hj212::Field::Avg,
            hj212::Field::ZsRtd,
            hj212::Field::ZsAvg,
            hj212::Field::Cou,
        ];
        for ((n, f), name) in RuleNumber::ALL.into_iter().zip(fields).zip(RULE_FIELDS) {
            assert_eq!(RuleNumber::from_field(f), Some(n));
            assert_eq!(hj212::Field::from_suffix(name), f);
        }
        assert_eq!(RULE_FIELDS[5], "Flag");
    }

    #[test]
    fn a_record_stays_small() {
        // What a month of minute data costs in memory: see the module comment.
        assert!(std::mem::size_of::<Record>() <= 112, "{}", std::mem::size_of::<Record>());
    }
}
