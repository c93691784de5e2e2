//! The parsed form of a data segment. Everything borrows from the input; the only allocation is
//! the item vector, sized once per packet.

use crate::datetime::DateTime;
use crate::deviation::Deviations;

/// Protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// HJ/T 212-2005.
    V2005,
    /// HJ 212-2017.
    V2017,
    /// HJ 212-2025.
    V2025,
}

impl Version {
    pub fn name(self) -> &'static str {
        match self {
            Version::V2005 => "2005",
            Version::V2017 => "2017",
            Version::V2025 => "2025",
        }
    }

    /// The version bits (V5..V0) of Flag.
    pub fn bits(self) -> u8 {
        match self {
            Version::V2005 => 0,
            Version::V2017 => 1,
            Version::V2025 => 2,
        }
    }

    pub fn from_bits(bits: u8) -> Option<Version> {
        match bits {
            0 => Some(Version::V2005),
            1 => Some(Version::V2017),
            2 => Some(Version::V2025),
            _ => None,
        }
    }
}

impl std::str::FromStr for Version {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "2005" => Ok(Version::V2005),
            "2017" => Ok(Version::V2017),
            "2025" => Ok(Version::V2025),
            other => Err(format!("unknown version {other:?} (expected 2005, 2017 or 2025)")),
        }
    }
}

/// How the parser decides the version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VersionMode {
    /// From Flag's version bits; a packet without Flag is HJ/T 212-2005.
    #[default]
    Auto,
    /// Treat every packet as this version (a mismatch with Flag is reported as a deviation).
    Force(Version),
}

/// Flag bit A: the sender wants a reply.
pub const FLAG_ACK: u8 = 0b01;
/// Flag bit D: the packet carries PNUM and PNO.
pub const FLAG_SPLIT: u8 = 0b10;

/// The kind of a CP item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    /// A plain key without a factor code (DataTime, QnRtn, BeginTime, …).
    Key,
    Rtd,
    Min,
    Avg,
    Max,
    Cou,
    ZsRtd,
    ZsMin,
    ZsAvg,
    ZsMax,
    Flag,
    EFlag,
    SampleTime,
    Info,
    Sn,
    /// Facility running state (`SBxxx-RS`).
    Rs,
    /// Facility running time (`SBxxx-RT`).
    Rt,
    Data,
    DayData,
    NightData,
    /// A suffix the standard does not define; kept as sent.
    Other,
}

impl Field {
    pub fn from_suffix(s: &str) -> Field {
        match s {
            "Rtd" => Field::Rtd,
            "Min" => Field::Min,
            "Avg" => Field::Avg,
            "Max" => Field::Max,
            "Cou" => Field::Cou,
            "ZsRtd" => Field::ZsRtd,
            "ZsMin" => Field::ZsMin,
            "ZsAvg" => Field::ZsAvg,
            "ZsMax" => Field::ZsMax,
            "Flag" => Field::Flag,
            "EFlag" => Field::EFlag,
            "SampleTime" => Field::SampleTime,
            "Info" => Field::Info,
            "SN" => Field::Sn,
            "RS" => Field::Rs,
            "RT" => Field::Rt,
            "Data" => Field::Data,
            "DayData" => Field::DayData,
            "NightData" => Field::NightData,
            _ => Field::Other,
        }
    }

    /// Whether the value must be a number.
    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            Field::Rtd
                | Field::Min
                | Field::Avg
                | Field::Max
                | Field::Cou
                | Field::ZsRtd
                | Field::ZsMin
                | Field::ZsAvg
                | Field::ZsMax
                | Field::Rs
                | Field::Rt
                | Field::Data
                | Field::DayData
                | Field::NightData
        )
    }
}

/// One `key=value` item of CP.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Item<'a> {
    /// The key as sent (`w01018-Avg`, `DataTime`).
    pub key: &'a str,
    /// The factor code normalised to HJ 212-2017 (`011` becomes `w01018`), for factor fields.
    pub code: Option<&'a str>,
    /// The factor code as sent.
    pub raw_code: Option<&'a str>,
    pub field: Field,
    /// The exact text of the value.
    pub value: &'a str,
    /// The value as a number, for numeric fields with a non-empty value.
    pub number: Option<f64>,
    /// Offset of the key in the data segment.
    pub offset: u32,
}

impl<'a> Item<'a> {
    /// The field name as sent: the suffix after `-` for factor fields, the key otherwise.
    pub fn field_name(&self) -> &'a str {
        match self.raw_code {
            Some(c) => &self.key[c.len() + 1..],
            None => self.key,
        }
    }
}

/// A parsed data segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet<'a> {
    /// The whole data segment.
    pub segment: &'a str,
    pub version: Version,
    pub qn: Option<&'a str>,
    pub st: Option<&'a str>,
    pub cn: &'a str,
    pub pw: Option<&'a str>,
    pub mn: &'a str,
    pub flag: Option<u8>,
    pub pnum: Option<u32>,
    pub pno: Option<u32>,
    /// DataTime from CP, when present.
    pub data_time: Option<DateTime>,
    /// CP items in the order sent.
    pub items: Vec<Item<'a>>,
    /// Header keys the standard does not define (kept as sent, e.g. a 2025 `RF`).
    pub extra_header: Vec<(&'a str, &'a str)>,
    pub deviations: Deviations,
}

impl<'a> Packet<'a> {
    /// Whether the sender asked for a reply (Flag bit A).
    pub fn ack_required(&self) -> bool {
        self.flag.is_some_and(|f| f & FLAG_ACK != 0)
    }

    /// Whether this is one part of a split packet (Flag bit D).
    pub fn is_split(&self) -> bool {
        self.flag.is_some_and(|f| f & FLAG_SPLIT != 0)
    }

    /// The first value of a plain CP key (`QnRtn`, `BeginTime`, …).
    pub fn key(&self, name: &str) -> Option<&'a str> {
        self.items.iter().find(|i| i.field == Field::Key && i.key == name).map(|i| i.value)
    }

    /// Whether this HJ 212-2025 packet is marked as re-sent (`RF=1`, in the header or in CP).
    pub fn resent(&self) -> bool {
        self.extra_header.iter().any(|(k, v)| *k == "RF" && *v == "1") || self.key("RF") == Some("1")
    }

    /// Factor fields grouped by (normalised) code, in order of first appearance.
    pub fn factors(&self) -> Factors<'_, 'a> {
        Factors { items: &self.items, pos: 0 }
    }

    /// Plain CP keys other than DataTime, in order.
    pub fn plain_keys(&self) -> impl Iterator<Item = &Item<'a>> {
        self.items.iter().filter(|i| i.field == Field::Key)
    }
}

/// The fields of one factor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FactorGroup<'p, 'a> {
    pub code: &'a str,
    pub raw_code: &'a str,
    pub fields: &'p [Item<'a>],
}

impl<'a> FactorGroup<'_, 'a> {
    pub fn get(&self, field: Field) -> Option<&Item<'a>> {
        self.fields.iter().find(|i| i.field == field)
    }
}

/// Iterator over runs of consecutive items with the same factor code.
pub struct Factors<'p, 'a> {
    items: &'p [Item<'a>],
    pos: usize,
}

impl<'p, 'a> Iterator for Factors<'p, 'a> {
    type Item = FactorGroup<'p, 'a>;
    fn next(&mut self) -> Option<Self::Item> {
        while self.pos < self.items.len() && self.items[self.pos].code.is_none() {
            self.pos += 1;
        }
        let first = self.items.get(self.pos)?;
        let code = first.code?;
        let start = self.pos;
        while self.pos < self.items.len() && self.items[self.pos].code == Some(code) {
            self.pos += 1;
        }
        Some(FactorGroup {
            code,
            raw_code: first.raw_code.unwrap_or(code),
            fields: &self.items[start..self.pos],
        })
    }
}
