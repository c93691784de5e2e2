//! `fenhe packet build`: JSON objects of the shape `check` prints, to framed packets.
//!
//! Fields read: `qn`, `st`, `cn` (required), `pw`, `mn` (required), `flag`, `pnum`, `pno`,
//! `data_time`, `keys`, `factors` (and `version`, only to recognise a 2005 QN carried in CP).
//! Everything else (`ok`, `crc`, `deviations`, …) is ignored, so `check` output can be edited and
//! fed back. CP is written as DataTime, then the plain keys, then the factors, each in the order
//! given; a factor's fields are joined with `,`, everything else with `;`.
//!
//! `check` → `build` gives back the same bytes for conformant packets written that way, with
//! these limits: numbers come back in their shortest form (`12.30` → `12.3`, `007` → `7`; `63.0`
//! and `7` are kept), a DataTime with milliseconds loses them, fields of one factor that were not
//! adjacent are gathered, a field or key sent twice keeps its last value, `;` between the fields
//! of one factor becomes `,`, plain keys sent after factors move before them, and header keys the
//! standard does not define (a 2025 `RF`) are not in `check`'s output.

use std::io::Write;

use hj212::{DateTime, PacketBuilder, ParseOptions};
use serde_json::{Map, Number, Value};

use super::{Input, PacketError};

/// Build every object of `input` and write the framed packets to `out`. Nothing is written
/// unless every object builds. Returns the number of frames written.
pub fn run(input: &Input, split_at: usize, out: &mut impl Write) -> Result<usize, PacketError> {
    let text = input.read_to_string()?;
    let frames = build_all(&text, split_at).map_err(|(line, message)| PacketError::Input {
        name: input.name(),
        line,
        message,
    })?;
    for f in &frames {
        out.write_all(f).map_err(PacketError::Write)?;
    }
    Ok(frames.len())
}

/// Build every JSON object in `text` (one object, pretty-printed or not, or one per line). An
/// error carries the 1-based line where the offending object starts.
pub fn build_all(text: &str, split_at: usize) -> Result<Vec<Vec<u8>>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut frames = Vec::new();
    loop {
        let before = stream.byte_offset();
        let rest = &text[before..];
        // Errors name the line where the object starts; serde's message adds the exact place.
        let line = line_of(text, before + rest.len() - rest.trim_start().len());
        let value = match stream.next() {
            None => break,
            Some(Err(e)) => return Err((line, format!("invalid JSON: {e}"))),
            Some(Ok(v)) => v,
        };
        let b = builder_from_json(&value).map_err(|m| (line, m))?;
        let segment = b.segment();
        hj212::parse(segment.as_bytes(), &ParseOptions::default())
            .map_err(|e| (line, format!("the packet would be rejected: {e}")))?;
        frames.extend(hj212::split::split(&b, split_at).map_err(|e| (line, e.to_string()))?);
    }
    Ok(frames)
}

fn line_of(text: &str, offset: usize) -> usize {
    1 + text.as_bytes()[..offset].iter().filter(|b| **b == b'\n').count()
}

/// A packet builder from one JSON object.
pub fn builder_from_json(v: &Value) -> Result<PacketBuilder, String> {
    let obj = v.as_object().ok_or_else(|| format!("expected a JSON object, found {}", kind(v)))?;
    let cn = req_str(obj, "cn")?;
    let mn = req_str(obj, "mn")?;
    let mut b = PacketBuilder::new(header_value("cn", cn)?, header_value("mn", mn)?);
    b.st = opt_str(obj, "st")?.map(|s| header_value("st", s)).transpose()?.map(Into::into);
    b.pw = opt_str(obj, "pw")?.map(|s| header_value("pw", s)).transpose()?.map(Into::into);
    b.flag = opt_int(obj, "flag", u8::MAX.into())?.map(|f| f as u8);
    b.pnum = opt_int(obj, "pnum", u32::MAX.into())?.map(|n| n as u32);
    b.pno = opt_int(obj, "pno", u32::MAX.into())?.map(|n| n as u32);

    let keys = keys(obj)?;
    if let Some(qn) = opt_str(obj, "qn")? {
        // HJ/T 212-2005 replies carry QN inside CP, and `check` reports it as `qn` too.
        let v2005 = match obj.get("version").and_then(Value::as_str) {
            Some(v) => v == "2005",
            None => b.flag.is_none(),
        };
        if !(v2005 && keys.iter().any(|(k, v)| k == "QN" && v == qn)) {
            b.qn = Some(header_value("qn", qn)?.into());
        }
    }
    if let Some(t) = opt_str(obj, "data_time")? {
        b = b.data_time(&parse_data_time(t)?);
    }
    for (k, v) in keys {
        b = b.key(k, v);
    }
    if let Some(factors) = obj.get("factors").filter(|v| !v.is_null()) {
        let factors = factors
            .as_object()
            .ok_or_else(|| format!("\"factors\" must be an object, found {}", kind(factors)))?;
        for (code, fields) in factors {
            let (prefix, fields) = factor(code, fields)?;
            b = b.factor(&prefix, fields.iter().map(|(f, v)| (f.as_str(), v.clone())));
        }
    }
    Ok(b)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn req_str<'v>(obj: &'v Map<String, Value>, name: &str) -> Result<&'v str, String> {
    opt_str(obj, name)?.ok_or_else(|| format!("missing field \"{name}\""))
}

fn opt_str<'v>(obj: &'v Map<String, Value>, name: &str) -> Result<Option<&'v str>, String> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(format!("\"{name}\" must be a string, found {}", kind(v))),
    }
}

fn opt_int(obj: &Map<String, Value>, name: &str, max: u64) -> Result<Option<u64>, String> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n <= max => Ok(Some(n)),
            _ => Err(format!("\"{name}\" must be an integer from 0 to {max}, found {v}")),
        },
    }
}

/// A header value must not break the `KEY=VALUE;` structure.
fn header_value<'s>(name: &str, v: &'s str) -> Result<&'s str, String> {
    if v.contains([';', '=']) || v.contains("&&") {
        return Err(format!("\"{name}\" {v:?} contains ';', '=' or '&&'"));
    }
    Ok(v)
}

/// A CP key or value must not break the `KEY=VALUE;…` structure.
fn cp_text(what: &str, v: &str) -> Result<(), String> {
    if v.contains([';', ',', '=']) || v.contains("&&") {
        return Err(format!("{what} {v:?} contains ';', ',', '=' or '&&'"));
    }
    Ok(())
}

fn keys(obj: &Map<String, Value>) -> Result<Vec<(String, String)>, String> {
    let Some(keys) = obj.get("keys").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let keys = keys.as_object().ok_or_else(|| format!("\"keys\" must be an object, found {}", kind(keys)))?;
    keys.iter()
        .map(|(k, v)| {
            if k.is_empty() || k.contains('-') {
                return Err(format!("key {k:?} is not a plain CP key (factor fields go in \"factors\")"));
            }
            cp_text("key", k)?;
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => number_text(n),
                other => return Err(format!("value of key {k:?} must be a string, found {}", kind(other))),
            };
            cp_text(&format!("value of key {k:?}:"), &v)?;
            Ok((k.clone(), v))
        })
        .collect()
}

/// The key prefix and the `(field, value)` pairs of one factor.
fn factor(code: &str, fields: &Value) -> Result<(String, Vec<(String, String)>), String> {
    if code.is_empty() || code.contains('-') {
        return Err(format!("factor code {code:?} is empty or contains '-'"));
    }
    cp_text("factor code", code)?;
    let fields = fields
        .as_object()
        .ok_or_else(|| format!("factor {code:?} must be an object of fields, found {}", kind(fields)))?;
    let prefix = match fields.get("raw_code") {
        None | Some(Value::Null) => code.to_string(),
        Some(Value::String(raw)) if raw.is_empty() => code.to_string(),
        Some(Value::String(raw)) => {
            if raw.contains('-') {
                return Err(format!("raw_code {raw:?} of factor {code:?} contains '-'"));
            }
            cp_text("raw_code", raw)?;
            raw.clone()
        }
        Some(v) => return Err(format!("raw_code of factor {code:?} must be a string, found {}", kind(v))),
    };
    let mut out = Vec::new();
    for (name, v) in fields {
        if name == "raw_code" {
            continue;
        }
        if name.is_empty() {
            return Err(format!("factor {code:?} has a field with an empty name"));
        }
        cp_text(&format!("field name of factor {code:?}:"), name)?;
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => number_text(n),
            other => {
                return Err(format!("{code}-{name} must be a number or a string, found {}", kind(other)));
            }
        };
        cp_text(&format!("value of {code}-{name}:"), &text)?;
        out.push((name.clone(), text));
    }
    if out.is_empty() {
        return Err(format!("factor {code:?} has no fields"));
    }
    Ok((prefix, out))
}

/// A JSON number as HJ 212 text, in its shortest form and never with an exponent. A JSON
/// integer stays an integer (`7`); a JSON decimal stays a decimal (`63.0`, `17.5`).
pub fn number_text(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let v = n.as_f64().unwrap_or(0.0);
    // Rust prints the shortest decimal that reads back to the same value, without exponent.
    let mut s = format!("{v}");
    if !s.contains('.') {
        s.push_str(".0");
    }
    s
}

/// `YYYY-MM-DDThh:mm:ss+08:00` (as `check` prints it) or `YYYYMMDDhhmmss`.
pub fn parse_data_time(s: &str) -> Result<DateTime, String> {
    let b = s.as_bytes();
    let compact = if b.len() == 14 {
        s.to_string()
    } else if s.is_ascii()
        && b.len() == 25
        && (b[4], b[7], b[10], b[13], b[16]) == (b'-', b'-', b'T', b':', b':')
        && &s[19..] == "+08:00"
    {
        [&s[0..4], &s[5..7], &s[8..10], &s[11..13], &s[14..16], &s[17..19]].concat()
    } else {
        return Err(format!(
            "\"data_time\" {s:?} is neither YYYY-MM-DDThh:mm:ss+08:00 nor YYYYMMDDhhmmss (China time)"
        ));
    };
    DateTime::parse(&compact).map(|(t, _)| t).map_err(|m| format!("\"data_time\" {s:?}: {m}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> String {
        number_text(&serde_json::from_str::<Number>(s).unwrap())
    }

    #[test]
    fn numbers_in_shortest_form() {
        assert_eq!(num("7"), "7");
        assert_eq!(num("-7"), "-7");
        assert_eq!(num("63.0"), "63.0");
        assert_eq!(num("12.30"), "12.3");
        assert_eq!(num("1e-7"), "0.0000001");
        assert_eq!(num("1.5e3"), "1500.0");
        assert_eq!(num("18446744073709551615"), "18446744073709551615");
    }

    #[test]
    fn data_time_forms() {
        let t = parse_data_time("2016-08-01T08:00:00+08:00").unwrap();
        assert_eq!(t.compact(), "20160801080000");
        assert_eq!(parse_data_time("20160801080000").unwrap(), t);
        assert!(parse_data_time("2016-08-01T08:00:00Z").is_err());
        assert!(parse_data_time("2016-08-01T08:00:00+00:00").is_err());
        assert!(parse_data_time("20161301080000").is_err());
        assert!(parse_data_time("２０16-08-01T08:00:00+08:00").is_err());
    }

    #[test]
    fn errors_name_the_line() {
        let (line, msg) =
            build_all("{\"cn\":\"2011\",\"mn\":\"1\"}\n\n{\"cn\":\"2011\"}\n", 1024).unwrap_err();
        assert_eq!(line, 3);
        assert!(msg.contains("missing field \"mn\""), "{msg}");
        let (line, msg) = build_all("{\"cn\":\"2011\",\"mn\":\"1\"}\n{\"cn\":\n", 1024).unwrap_err();
        assert_eq!(line, 2);
        assert!(msg.starts_with("invalid JSON"), "{msg}");
    }
}
