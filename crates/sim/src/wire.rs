//! The bytes a simulated device sends: uploads built with [`hj212::builder`], split at 1024 bytes,
//! framed in the device's dialect.

use hj212::crc::{crc16, crc16_modbus, hex4};
use hj212::{CrcVariant, DateTime, PacketBuilder, Peer, Version};

use crate::signal::{Period, readings};
use crate::spec::{DeviceSpec, Dialect};

/// The password a device with [`crate::Scenario::WrongPassword`] sends instead of `pw`.
pub fn wrong_password(pw: &str) -> &'static str {
    if pw == "000000" { "999999" } else { "000000" }
}

/// The password the device writes into uploads.
pub fn upload_password(spec: &DeviceSpec) -> &str {
    if spec.wrong_password() { wrong_password(&spec.password) } else { &spec.password }
}

/// The factor code as the device's version writes it (HJ/T 212-2005 devices use the old codes).
pub fn wire_code(version: Version, code: &'static str) -> &'static str {
    if version == Version::V2005 {
        hj212::codes::factor(code).and_then(|f| f.code_2005).unwrap_or(code)
    } else {
        code
    }
}

/// The upload of `period` at `t_ms` (any instant in the period; real-time: the instant itself),
/// with request number `qn` (not written by HJ/T 212-2005 devices) and DataTime from the device's
/// clock. Flag asks for a 9014 when the spec does.
pub fn upload(spec: &DeviceSpec, period: Period, t_ms: i64, qn: &DateTime) -> PacketBuilder {
    let start = period.floor(spec.minute_interval_min, t_ms);
    let time = DateTime::from_unix_millis_cst(start).unwrap_or(*qn);
    let peer = Peer { mn: &spec.mn, pw: upload_password(spec), st: &spec.st, version: spec.version };
    // Real-time data is never acknowledged: it is not re-sent either.
    let ack = spec.wants_ack() && period != Period::Realtime;
    let mut b = hj212::builder::device::upload(&peer, qn, period.cn(), &time, ack);
    for r in readings(spec, period, start) {
        b = b.factor(wire_code(spec.version, r.code), r.fields(period));
    }
    b
}

/// Mark an upload as an answer to a history request: it carries the request's QN, and HJ 212-2025
/// devices mark it re-sent (`RF=1` after DataTime).
pub fn as_history_answer(mut b: PacketBuilder, request_qn: Option<&str>, version: Version) -> PacketBuilder {
    if version != Version::V2005
        && let Some(q) = request_qn
    {
        b.qn = Some(q.to_string());
    }
    if version == Version::V2025 {
        b.cp.insert(1.min(b.cp.len()), vec![("RF".into(), "1".into())]);
    }
    b
}

/// Frame a data segment in `dialect`.
pub fn encode(segment: &[u8], dialect: Dialect) -> Vec<u8> {
    let crc = match dialect.crc {
        CrcVariant::Standard => crc16(segment),
        CrcVariant::Modbus => crc16_modbus(segment),
        CrcVariant::ModbusSwapped => crc16_modbus(segment).swap_bytes(),
    };
    let mut out = Vec::with_capacity(segment.len() + 12);
    out.extend_from_slice(format!("##{:04}", segment.len()).as_bytes());
    out.extend_from_slice(segment);
    out.extend_from_slice(&hex4(crc));
    if dialect.crlf {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// One framed packet and the QN its 9014 will carry (when it wants one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub bytes: Vec<u8>,
    pub qn: Option<String>,
}

/// The frames of `b`: one, or sub-packets when the segment is longer than the standard's 1024
/// bytes, each in `dialect`. `ack` says whether the caller waits for 9014s (each part has its own
/// QN).
pub fn frames(b: &PacketBuilder, dialect: Dialect, ack: bool) -> Vec<Frame> {
    let whole = b.segment();
    if whole.len() <= hj212::frame::STANDARD_MAX_SEGMENT {
        return vec![Frame { bytes: encode(whole.as_bytes(), dialect), qn: b.qn.clone().filter(|_| ack) }];
    }
    match hj212::split::split_standard(b) {
        Ok(parts) => parts
            .into_iter()
            .map(|f| {
                // Each part is `##dddd` + segment + CRC + CR LF.
                let seg = &f[6..f.len() - 6];
                let qn = hj212::parse(seg, &Default::default()).ok().and_then(|p| p.qn.map(str::to_string));
                Frame { bytes: encode(seg, dialect), qn: qn.filter(|_| ack) }
            })
            .collect(),
        // A single item too long to split cannot be sent by the standard; send it whole.
        Err(_) => vec![Frame { bytes: encode(whole.as_bytes(), dialect), qn: b.qn.clone().filter(|_| ack) }],
    }
}

/// Bytes a modem or a confused serial port puts on the line: AT chatter, binary noise, a
/// half-written line. Never contains `#`, so the receiver can resynchronise on the next `##`.
pub(crate) fn garbage(pick: u64, noise: u64) -> Vec<u8> {
    match pick % 4 {
        0 => b"AT+CSQ\r\n+CSQ: 23,99\r\n\r\nOK\r\n".to_vec(),
        1 => noise
            .to_le_bytes()
            .iter()
            .chain(&[0x00, 0xFF, 0x7E, 0x0D])
            .map(|b| if *b == b'#' { b'$' } else { *b })
            .collect(),
        2 => b"+++ATH0\r\nNO CARRIER\r\n".to_vec(),
        _ => b"ST=32;CN=2051;PW=12345".to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{DeviceSpec, Scenario};
    use hj212::{FrameConfig, Framer, ParseOptions};

    const T0: i64 = 1_740_931_200_000;

    fn qn() -> DateTime {
        DateTime::from_unix_millis_cst(T0 + 600_123).unwrap()
    }

    fn decode_one(bytes: &[u8]) -> (String, hj212::Version, Option<hj212::CrcVariant>) {
        let mut f = Framer::new(FrameConfig { crc_mode: hj212::CrcMode::Any, ..Default::default() });
        f.push(bytes);
        f.finish();
        let Some(hj212::Event::Frame(raw)) = f.next() else { panic!("no frame") };
        let variant = raw.crc.variant;
        let p = hj212::decode(
            &raw,
            &FrameConfig { crc_mode: hj212::CrcMode::Any, ..Default::default() },
            &ParseOptions::default(),
        )
        .unwrap();
        (p.segment.to_string(), p.version, variant)
    }

    #[test]
    fn minute_upload_2017() {
        let spec = DeviceSpec::flue_gas("MN1", 1);
        let b = upload(&spec, Period::Minute, T0 + 5, &qn());
        let fs = frames(&b, spec.dialect(), true);
        assert_eq!(fs.len(), 1);
        assert_eq!(fs[0].qn.as_deref(), Some("20250303001000123"));
        let (seg, v, crc) = decode_one(&fs[0].bytes);
        assert_eq!(v, Version::V2017);
        assert_eq!(crc, Some(CrcVariant::Standard));
        assert!(seg.starts_with("QN=20250303001000123;ST=31;CN=2051;PW=123456;MN=MN1;Flag=5;CP=&&DataTime=20250303000000;a34013-Cou="), "{seg}");
        assert!(seg.len() <= 1024);
    }

    #[test]
    fn v2005_codes_and_no_qn() {
        let spec = DeviceSpec::wastewater("MN2", 1).with_version(Version::V2005);
        let b = upload(&spec, Period::Hour, T0, &qn());
        let fs = frames(&b, spec.dialect(), spec.wants_ack());
        assert_eq!(fs[0].qn, None);
        let (seg, v, _) = decode_one(&fs[0].bytes);
        assert_eq!(v, Version::V2005);
        assert!(
            seg.starts_with("ST=32;CN=2061;PW=123456;MN=MN2;CP=&&DataTime=20250303000000;011-Cou="),
            "{seg}"
        );
        for c in ["060-", "101-", "065-", "001-", "B01-"] {
            assert!(seg.contains(c), "{c} in {seg}");
        }
        let g = DeviceSpec::flue_gas("MN3", 1).with_version(Version::V2005);
        let seg = upload(&g, Period::Minute, T0, &qn()).segment();
        for c in [";01-", ";02-", ";03-", ";S01-", ";S03-", ";B02-"] {
            assert!(seg.contains(c), "{c} in {seg}");
        }
    }

    #[test]
    fn dialects() {
        let spec =
            DeviceSpec::flue_gas("MN1", 1).with_scenario(Scenario::ModbusCrc).with_scenario(Scenario::NoCrlf);
        let fs = frames(&upload(&spec, Period::Minute, T0, &qn()), spec.dialect(), true);
        assert!(!fs[0].bytes.ends_with(b"\r\n"));
        let (_, _, crc) = decode_one(&fs[0].bytes);
        assert_eq!(crc, Some(CrcVariant::Modbus));
        let spec = DeviceSpec::flue_gas("MN1", 1).with_scenario(Scenario::ModbusSwappedCrc);
        let fs = frames(&upload(&spec, Period::Minute, T0, &qn()), spec.dialect(), true);
        assert_eq!(decode_one(&fs[0].bytes).2, Some(CrcVariant::ModbusSwapped));
    }

    #[test]
    fn history_answers_2025_are_marked_resent() {
        let spec = DeviceSpec::flue_gas("MN1", 1).with_version(Version::V2025);
        let b = as_history_answer(
            upload(&spec, Period::Minute, T0, &qn()),
            Some("20250303120000000"),
            spec.version,
        );
        let fs = frames(&b, spec.dialect(), true);
        let (seg, v, _) = decode_one(&fs[0].bytes);
        assert_eq!(v, Version::V2025);
        assert!(seg.starts_with("QN=20250303120000000;ST=31;CN=2051;PW=123456;MN=MN1;Flag=9;CP=&&DataTime=20250303000000;RF=1;"), "{seg}");
    }

    #[test]
    fn long_packets_are_split() {
        let spec = DeviceSpec::flue_gas("A".repeat(620), 1);
        let b = upload(&spec, Period::Minute, T0, &qn());
        assert!(b.segment().len() > 1024);
        let fs = frames(&b, spec.dialect(), true);
        assert!(fs.len() >= 2);
        let qns: Vec<_> = fs.iter().map(|f| f.qn.clone().unwrap()).collect();
        assert_ne!(qns[0], qns[1]);
        for f in &fs {
            assert!(f.bytes.len() <= 1024 + 12);
        }
    }

    #[test]
    fn wrong_password_is_used_in_uploads() {
        let spec = DeviceSpec::flue_gas("MN1", 1).with_scenario(Scenario::WrongPassword);
        assert!(upload(&spec, Period::Minute, T0, &qn()).segment().contains(";PW=000000;"));
    }

    #[test]
    fn garbage_has_no_header() {
        for i in 0..8 {
            assert!(!garbage(i, 0x2323_2323_2323_2323).contains(&b'#'));
        }
    }
}
