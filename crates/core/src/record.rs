//! What ingest records: every frame as it arrived, with its verdict, and the measurements an
//! accepted upload carries.

use serde::{Deserialize, Serialize};

use crate::ShortText;

/// What happened to a received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Stored as measurements (or a reply/heartbeat understood).
    Accepted,
    /// Refused by the codec (framing, CRC, syntax, field).
    Rejected,
    /// Every measurement in it was already stored with the same values.
    Duplicate,
    /// From an MN the registry does not know.
    Unregistered,
    /// From a known MN with the wrong PW.
    WrongPassword,
}

impl Verdict {
    pub const ALL: [Verdict; 5] = [
        Verdict::Accepted,
        Verdict::Rejected,
        Verdict::Duplicate,
        Verdict::Unregistered,
        Verdict::WrongPassword,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Rejected => "rejected",
            Verdict::Duplicate => "duplicate",
            Verdict::Unregistered => "unregistered",
            Verdict::WrongPassword => "wrong_password",
        }
    }
    pub fn parse(s: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.name() == s)
    }
}

/// A received frame (or run of skipped bytes), kept raw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameRecord {
    /// Receipt time, Unix epoch milliseconds.
    pub received_at: i64,
    /// Remote address, `ip:port`.
    pub peer: String,
    /// MN, when one could be read.
    pub mn: Option<String>,
    /// CN, when one could be read.
    pub cn: Option<String>,
    /// The bytes exactly as received.
    pub bytes: Vec<u8>,
    pub verdict: Verdict,
    /// Why it was not accepted: `kind: message` (kind as in hj212::ErrorKind names, or `auth`).
    pub reason: Option<String>,
    /// Named deviations, comma-separated.
    pub deviations: String,
}

/// The values of one factor in one upload.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Values {
    pub rtd: Option<f64>,
    pub min: Option<f64>,
    pub avg: Option<f64>,
    pub max: Option<f64>,
    pub cou: Option<f64>,
    pub zs_rtd: Option<f64>,
    pub zs_min: Option<f64>,
    pub zs_avg: Option<f64>,
    pub zs_max: Option<f64>,
    pub flag: Option<ShortText>,
    pub eflag: Option<ShortText>,
    pub sample_time: Option<ShortText>,
}

impl Values {
    /// Every numeric field by name, present or not, in the standard's order.
    pub fn number_fields(&self) -> [(&'static str, Option<f64>); 9] {
        [
            ("Rtd", self.rtd),
            ("Min", self.min),
            ("Avg", self.avg),
            ("Max", self.max),
            ("Cou", self.cou),
            ("ZsRtd", self.zs_rtd),
            ("ZsMin", self.zs_min),
            ("ZsAvg", self.zs_avg),
            ("ZsMax", self.zs_max),
        ]
    }

    /// Every text field by name, present or not, in the standard's order.
    pub fn text_fields(&self) -> [(&'static str, Option<&str>); 3] {
        [
            ("Flag", self.flag.as_deref()),
            ("EFlag", self.eflag.as_deref()),
            ("SampleTime", self.sample_time.as_deref()),
        ]
    }

    /// The names of [`Values::number_fields`] then [`Values::text_fields`]: the columns of a
    /// table with one column per field.
    pub fn field_names() -> impl Iterator<Item = &'static str> {
        let blank = Values::default();
        let numbers = blank.number_fields().map(|(k, _)| k);
        let texts = blank.text_fields().map(|(k, _)| k);
        numbers.into_iter().chain(texts)
    }

    /// `(field name, number)` pairs present, in the standard's order.
    pub fn numbers(&self) -> impl Iterator<Item = (&'static str, f64)> + '_ {
        self.number_fields().into_iter().filter_map(|(k, v)| v.map(|v| (k, v)))
    }

    /// `(field name, text)` pairs present.
    pub fn texts(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        self.text_fields().into_iter().filter_map(|(k, v)| v.map(|v| (k, v)))
    }

    /// Whether two value sets are the same upload (numbers compared exactly).
    pub fn same_as(&self, other: &Values) -> bool {
        self == other
    }
}

/// One device × command × DataTime × factor record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub mn: String,
    /// 2011, 2051, 2061 or 2031.
    pub cn: String,
    /// DataTime, Unix epoch milliseconds (the device's local time read as UTC+8).
    pub data_time: i64,
    /// HJ 212-2017 factor code.
    pub factor: String,
    /// The code as sent (a 2005 code, when it was one).
    pub raw_code: String,
    pub values: Values,
}

/// Commands whose uploads are stored as measurements.
pub const DATA_COMMANDS: [&str; 4] = ["2011", "2051", "2061", "2031"];

/// The values of one factor's fields in an upload.
pub fn values(g: &hj212::FactorGroup<'_, '_>) -> Values {
    let mut v = Values::default();
    for it in g.fields() {
        use hj212::Field as F;
        let text = || Some(it.value()).filter(|s| !s.is_empty()).map(ShortText::new);
        match it.field() {
            F::Rtd => v.rtd = it.number(),
            F::Min => v.min = it.number(),
            F::Avg => v.avg = it.number(),
            F::Max => v.max = it.number(),
            F::Cou => v.cou = it.number(),
            F::ZsRtd => v.zs_rtd = it.number(),
            F::ZsMin => v.zs_min = it.number(),
            F::ZsAvg => v.zs_avg = it.number(),
            F::ZsMax => v.zs_max = it.number(),
            F::Flag => v.flag = text(),
            F::EFlag => v.eflag = text(),
            F::SampleTime => v.sample_time = text(),
            _ => {}
        }
    }
    v
}

/// The measurements an upload carries (empty for other commands).
pub fn measurements(p: &hj212::Packet<'_>) -> Vec<Measurement> {
    if !DATA_COMMANDS.contains(&p.cn) {
        return Vec::new();
    }
    let Some(dt) = p.data_time else {
        return Vec::new();
    };
    let data_time = dt.unix_millis_cst();
    p.factors()
        .map(|g| {
            let v = values(&g);
            Measurement {
                mn: p.mn.to_string(),
                cn: p.cn.to_string(),
                data_time,
                factor: g.code.to_string(),
                raw_code: g.raw_code.to_string(),
                values: v,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_to_measurements() {
        let seg = b"QN=20160801085857223;ST=32;CN=2051;PW=123456;MN=M1;Flag=5;CP=&&DataTime=20160801085800;a21026-Avg=12.5,a21026-ZsAvg=20.1,a21026-Flag=N;011-Avg=30&&";
        let p = hj212::parse(seg, &hj212::ParseOptions::default()).unwrap();
        let m = measurements(&p);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].factor, "a21026");
        assert_eq!(m[0].values.avg, Some(12.5));
        assert_eq!(m[0].values.zs_avg, Some(20.1));
        assert_eq!(m[0].values.flag.as_deref(), Some("N"));
        assert_eq!(m[1].factor, "w01018");
        assert_eq!(m[1].raw_code, "011");
        // 2016-08-01 08:58 at UTC+8 is 00:58 UTC.
        assert_eq!(m[0].data_time, 1_470_013_080_000);
    }

    #[test]
    fn non_data_commands_carry_none() {
        let p =
            hj212::parse(b"QN=1;ST=91;CN=9014;PW=1;MN=M1;Flag=4;CP=&&&&", &hj212::ParseOptions::default())
                .unwrap();
        assert!(measurements(&p).is_empty());
    }
}
