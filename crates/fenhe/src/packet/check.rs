//! `fenhe packet check`: one JSON object per frame, one per line.

use std::io::{self, Write};

use hj212::crc::hex4;
use serde::Serialize;
use serde_json::{Map, Number, Value};

use super::{DecodeOptions, Input, PacketError, Report, Summary, for_each_report};

/// Check every frame of `input`, writing one JSON line per frame to `out`.
pub fn run(input: &Input, opts: &DecodeOptions, out: &mut impl Write) -> Result<Summary, PacketError> {
    for_each_report(input, opts, out, |out, report| write_line(out, report))
}

fn write_line(out: &mut impl Write, report: &Report) -> io::Result<()> {
    serde_json::to_writer(&mut *out, &Line::from(report))?;
    out.write_all(b"\n")
}

/// One line of `check` output. Field order is the documented one.
#[derive(Debug, Serialize)]
pub struct Line<'r> {
    pub ok: bool,
    pub error: Option<ErrorJson<'r>>,
    pub start: u64,
    pub length: u64,
    pub version: Option<&'static str>,
    pub qn: Option<&'r str>,
    pub st: Option<&'r str>,
    pub cn: Option<&'r str>,
    pub pw: Option<&'r str>,
    pub mn: Option<&'r str>,
    pub flag: Option<u8>,
    pub ack_required: bool,
    pub pnum: Option<u32>,
    pub pno: Option<u32>,
    pub data_time: Option<String>,
    pub crc: Option<CrcJson>,
    pub deviations: Vec<&'static str>,
    pub factors: Map<String, Value>,
    pub keys: Map<String, Value>,
}

#[derive(Debug, Serialize)]
pub struct ErrorJson<'r> {
    pub kind: &'static str,
    pub message: &'r str,
    pub offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'r str>,
}

#[derive(Debug, Serialize)]
pub struct CrcJson {
    pub declared: String,
    pub computed: String,
    pub variant: Option<&'static str>,
}

fn hex(v: u16) -> String {
    String::from_utf8_lossy(&hex4(v)).into_owned()
}

impl<'r> From<&'r Report> for Line<'r> {
    fn from(r: &'r Report) -> Self {
        let p = r.packet.as_ref();
        let mut factors = Map::new();
        let mut keys = Map::new();
        if let Some(p) = p {
            for f in &p.factors {
                let mut obj = Map::new();
                obj.insert("raw_code".into(), Value::String(f.raw_code.clone()));
                for field in &f.fields {
                    let v = match field.number {
                        Some(n) if field.field.is_numeric() => number_json(&field.value, n),
                        _ => Value::String(field.value.clone()),
                    };
                    obj.insert(field.name.clone(), v);
                }
                factors.insert(f.code.clone(), Value::Object(obj));
            }
            for (k, v) in &p.keys {
                keys.insert(k.clone(), Value::String(v.clone()));
            }
        }
        Line {
            ok: r.ok(),
            error: r.error.as_ref().map(|e| ErrorJson {
                kind: e.kind.name(),
                message: &e.message,
                offset: e.offset,
                field: e.field.as_deref(),
            }),
            start: r.start,
            length: r.length,
            version: p.map(|p| p.version.name()),
            qn: p.and_then(|p| p.qn.as_deref()),
            st: p.and_then(|p| p.st.as_deref()),
            cn: p.map(|p| p.cn.as_str()),
            pw: p.and_then(|p| p.pw.as_deref()),
            mn: p.map(|p| p.mn.as_str()),
            flag: p.and_then(|p| p.flag),
            ack_required: p.is_some_and(|p| p.ack_required),
            pnum: p.and_then(|p| p.pnum),
            pno: p.and_then(|p| p.pno),
            data_time: p.and_then(|p| p.data_time).map(|t| t.iso8601()),
            crc: r.crc.map(|c| CrcJson {
                declared: hex(c.declared),
                computed: hex(c.computed),
                variant: c.variant.map(|v| v.name()),
            }),
            deviations: r.deviations.iter().map(|d| d.name()).collect(),
            factors,
            keys,
        }
    }
}

/// A numeric value as a JSON number: an integer when it was written as one (`7`), otherwise a
/// decimal (`63.0`, `17.5`), so that `packet build` can write back the same text for the common
/// forms.
pub fn number_json(text: &str, n: f64) -> Value {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) && n.abs() < 9_007_199_254_740_992.0 {
        return Value::from(n as i64);
    }
    Number::from_f64(n).map_or_else(|| Value::String(text.to_string()), Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_kind() {
        assert_eq!(number_json("7", 7.0).to_string(), "7");
        assert_eq!(number_json("-12", -12.0).to_string(), "-12");
        assert_eq!(number_json("63.0", 63.0).to_string(), "63.0");
        assert_eq!(number_json("17.5", 17.5).to_string(), "17.5");
        assert_eq!(number_json("0.50", 0.5).to_string(), "0.5");
        assert_eq!(number_json("+3", 3.0).to_string(), "3.0");
    }
}
