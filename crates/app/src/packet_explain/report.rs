//! What one framer event says, owned, so it outlives the framer's buffer: where it was, whether it
//! was accepted, the CRC verdict, and the packet's fields as far as they could be read.

use hj212::crc::CrcCheck;
use hj212::{DateTime, Deviations, ErrorKind, Event, Field, Packet, Version};

use super::DecodeOptions;

/// One frame, or one run of bytes the framer rejected.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Stream offset of the first byte (leading whitespace excluded).
    pub start: u64,
    /// Bytes, from `##` (or the first rejected byte) to the end of the terminator.
    pub length: u64,
    /// Why the frame was refused; `None` when it was accepted.
    pub error: Option<hj212::Error>,
    /// The CRC verdict; `None` for rejected bytes that were not a frame.
    pub crc: Option<CrcCheck>,
    /// The packet's fields. Present for accepted frames, and for frames refused only for their
    /// CRC when the segment still parses.
    pub packet: Option<PacketReport>,
    pub deviations: Deviations,
    /// The framed reply a platform owes this packet (accepted frames only).
    pub reply: Option<Vec<u8>>,
}

/// The fields of a parsed packet.
#[derive(Debug, Clone, PartialEq)]
pub struct PacketReport {
    pub version: Version,
    pub qn: Option<String>,
    pub st: Option<String>,
    pub cn: String,
    pub pw: Option<String>,
    pub mn: String,
    pub flag: Option<u8>,
    pub ack_required: bool,
    pub is_split: bool,
    pub pnum: Option<u32>,
    pub pno: Option<u32>,
    pub data_time: Option<DateTime>,
    /// Factors by normalised code, in order of first appearance. Fields of one code that were
    /// not adjacent in CP are gathered here.
    pub factors: Vec<FactorReport>,
    /// Plain CP keys other than DataTime, in order.
    pub keys: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FactorReport {
    /// The HJ 212-2017 code.
    pub code: String,
    /// The code as sent (a 2005 code such as `011`, or the same as `code`).
    pub raw_code: String,
    pub fields: Vec<FieldReport>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldReport {
    /// The suffix as sent (`Avg`, `ZsAvg`, `Flag`, …).
    pub name: String,
    pub field: Field,
    /// The exact text of the value.
    pub value: String,
    /// The value as a number, for numeric fields with a non-empty value.
    pub number: Option<f64>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// Decode one framer event. `start` is left at 0 for the caller to fill in (see
    /// `for_each_report`); `length` excludes leading whitespace.
    pub fn from_event(event: Event<'_>, opts: &DecodeOptions) -> Report {
        match event {
            Event::Rejected { error, bytes } => {
                let ws = bytes.iter().take_while(|b| matches!(b, b'\r' | b'\n' | b' ' | b'\t')).count();
                Report {
                    start: 0,
                    length: (bytes.len() - ws) as u64,
                    error: Some(error),
                    crc: None,
                    packet: None,
                    deviations: Deviations::empty(),
                    reply: None,
                }
            }
            Event::Frame(raw) => {
                let mut report = Report {
                    start: raw.offset,
                    length: raw.bytes.len() as u64,
                    error: None,
                    crc: Some(raw.crc),
                    packet: None,
                    deviations: raw.deviations,
                    reply: None,
                };
                match hj212::decode(&raw, &opts.frame, &opts.parse) {
                    Ok(p) => {
                        report.deviations = p.deviations;
                        report.reply = hj212::builder::platform::reply_for(&p).map(|b| b.build());
                        report.packet = Some(PacketReport::from_packet(&p));
                    }
                    Err(e) => {
                        if e.kind == ErrorKind::Crc {
                            // Show what the packet says even though it cannot be trusted.
                            if let Ok(p) = hj212::parse(raw.segment, &opts.parse) {
                                report.deviations = p.deviations.union(raw.deviations);
                                report.packet = Some(PacketReport::from_packet(&p));
                            }
                        }
                        report.error = Some(e);
                    }
                }
                report
            }
        }
    }
}

impl PacketReport {
    pub fn from_packet(p: &Packet<'_>) -> Self {
        let mut factors: Vec<FactorReport> = Vec::new();
        for g in p.factors() {
            let fields = g.fields().map(|i| FieldReport {
                name: i.field_name().to_string(),
                field: i.field(),
                value: i.value().to_string(),
                number: i.number(),
            });
            match factors.iter_mut().find(|f| f.code == g.code) {
                Some(f) => f.fields.extend(fields),
                None => factors.push(FactorReport {
                    code: g.code.to_string(),
                    raw_code: g.raw_code.to_string(),
                    fields: fields.collect(),
                }),
            }
        }
        // `Packet::plain_keys` leaves out DataTime, which is reported as `data_time`.
        let keys = p.plain_keys().map(|i| (i.key().to_string(), i.value().to_string())).collect();
        PacketReport {
            version: p.version,
            qn: p.qn.map(Into::into),
            st: p.st.map(Into::into),
            cn: p.cn.into(),
            pw: p.pw.map(Into::into),
            mn: p.mn.into(),
            flag: p.flag,
            ack_required: p.ack_required(),
            is_split: p.is_split(),
            pnum: p.pnum,
            pno: p.pno,
            data_time: p.data_time,
            factors,
            keys,
        }
    }
}

/// The kind names `check` prints, and a Chinese label for `explain`.
pub fn kind_zh(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Header => "包头错误",
        ErrorKind::Length => "长度错误",
        ErrorKind::Crc => "CRC 校验错误",
        ErrorKind::Syntax => "语法错误",
        ErrorKind::Field => "字段错误",
        ErrorKind::TooLong => "数据段超长",
    }
}
