//! The parsed form of a data segment. Everything borrows from the input; the only allocation is
//! the item vector, sized once per packet (none with [`crate::parse_into`] and a reused buffer).

use std::borrow::Cow;

use crate::codes::{self, FactorInfo};
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

/// Up to eight bytes in one word, first byte lowest.
const fn pack_suffix(s: &[u8]) -> u64 {
    let mut k = 0u64;
    let mut i = 0;
    while i < s.len() {
        k |= (s[i] as u64) << (8 * i);
        i += 1;
    }
    k
}

#[derive(Clone, Copy)]
struct SuffixEntry {
    word: u64,
    len: u8,
    field: Field,
}

/// Multiplier of the perfect hash of the field suffixes of up to eight bytes (the top five bits of
/// the product differ for all seventeen; checked when `SUFFIXES` is built).
const SUFFIX_HASH: u64 = 0x8265_c978_9be6_29db;

static SUFFIXES: [SuffixEntry; 32] = {
    const NAMES: [(&[u8], Field); 17] = [
        (b"Rtd", Field::Rtd),
        (b"Min", Field::Min),
        (b"Avg", Field::Avg),
        (b"Max", Field::Max),
        (b"Cou", Field::Cou),
        (b"ZsRtd", Field::ZsRtd),
        (b"ZsMin", Field::ZsMin),
        (b"ZsAvg", Field::ZsAvg),
        (b"ZsMax", Field::ZsMax),
        (b"Flag", Field::Flag),
        (b"EFlag", Field::EFlag),
        (b"Info", Field::Info),
        (b"SN", Field::Sn),
        (b"RS", Field::Rs),
        (b"RT", Field::Rt),
        (b"Data", Field::Data),
        (b"DayData", Field::DayData),
    ];
    // Empty slots: a length no suffix of up to eight bytes has.
    let mut t = [SuffixEntry { word: 0, len: u8::MAX, field: Field::Other }; 32];
    let mut i = 0;
    while i < NAMES.len() {
        let (name, field) = NAMES[i];
        let word = pack_suffix(name);
        let slot = (word.wrapping_mul(SUFFIX_HASH) >> 59) as usize;
        assert!(t[slot].len == u8::MAX, "SUFFIX_HASH is not a perfect hash of the suffixes");
        t[slot] = SuffixEntry { word, len: name.len() as u8, field };
        i += 1;
    }
    t
};

/// Flag bit A: the sender wants a reply.
pub const FLAG_ACK: u8 = 0b01;
/// Flag bit D: the packet carries PNUM and PNO.
pub const FLAG_SPLIT: u8 = 0b10;

/// The kind of a CP item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
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

    /// [`Field::from_suffix`] of the `len` bytes at the start of `window` (which may go on past
    /// them): a suffix of up to eight bytes is one word, looked up in a perfect hash table with
    /// one compare (no branch per candidate, which the mix of fields would mispredict).
    #[inline(always)]
    pub(crate) fn from_suffix_window(window: &[u8], len: usize) -> Field {
        if len > 8 {
            return match &window[..len] {
                b"SampleTime" => Field::SampleTime,
                b"NightData" => Field::NightData,
                _ => Field::Other,
            };
        }
        let word = match window.first_chunk::<8>() {
            Some(w) => u64::from_le_bytes(*w) & u64::MAX.checked_shr(64 - 8 * len as u32).unwrap_or(0),
            None => pack_suffix(&window[..len]),
        };
        let e = &SUFFIXES[(word.wrapping_mul(SUFFIX_HASH) >> 59) as usize];
        // The length is checked as well: a suffix with NUL bytes packs like a shorter one.
        if e.word == word && usize::from(e.len) == len { e.field } else { Field::Other }
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

/// One `key=value` item of CP in compact form (32 bytes, no lifetime): offsets into the packet's
/// data segment, the field, the factor's row in the code table and the number. A buffer of them
/// can be reused from packet to packet ([`crate::parse_into`]). Read it through [`ItemRef`]
/// ([`Packet::items`]) or with a segment ([`Item::get`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Item {
    /// The number when `HAS_NUMBER` is set (0.0 otherwise).
    number: f64,
    key_at: u32,
    key_len: u32,
    value_at: u32,
    value_len: u32,
    /// Length of the raw factor code at the start of the key (0 for a plain key).
    code_len: u32,
    /// Row of [`codes::factors`] for the factor code, or `NO_FACTOR`.
    factor: u16,
    field: Field,
    flags: u8,
}

/// `Item::factor` when the code is not in the table (unknown codes, `SBxxx` facilities, plain keys).
pub(crate) const NO_FACTOR: u16 = u16::MAX;
/// `Item::flags`: the value was converted to a number.
pub(crate) const HAS_NUMBER: u8 = 1;
/// `Item::flags`: the normalised code is the table row's code (a 2005 code was sent), not the raw one.
pub(crate) const CODE_FROM_TABLE: u8 = 2;

impl Item {
    /// A factor field. Offsets are into the data segment; `factor` is a row of [`codes::factors`]
    /// or `NO_FACTOR`.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        key_at: usize,
        key_len: usize,
        value_at: usize,
        value_len: usize,
        code_len: usize,
        factor: u16,
        field: Field,
        flags: u8,
        number: f64,
    ) -> Item {
        Item {
            number,
            key_at: key_at as u32,
            key_len: key_len as u32,
            value_at: value_at as u32,
            value_len: value_len as u32,
            code_len: code_len as u32,
            factor,
            field,
            flags,
        }
    }

    /// The item read against the data segment it was parsed from.
    #[inline]
    pub fn get<'a>(&self, segment: &'a str) -> ItemRef<'a> {
        ItemRef { segment, item: *self }
    }

    pub fn field(&self) -> Field {
        self.field
    }

    /// The value as a number, for numeric fields with a non-empty value.
    #[inline]
    pub fn number(&self) -> Option<f64> {
        (self.flags & HAS_NUMBER != 0).then_some(self.number)
    }

    /// Offset of the key in the data segment.
    pub fn offset(&self) -> u32 {
        self.key_at
    }

    /// Whether this is a factor field (`CODE-Field`), not a plain key.
    #[inline]
    pub fn is_factor(&self) -> bool {
        self.field != Field::Key
    }

    #[inline]
    fn key_range(&self) -> std::ops::Range<usize> {
        self.key_at as usize..(self.key_at + self.key_len) as usize
    }

    #[inline]
    fn raw_code_range(&self) -> std::ops::Range<usize> {
        self.key_at as usize..(self.key_at + self.code_len) as usize
    }
}

/// An [`Item`] with the data segment it points into: what [`Packet::items`] yields.
#[derive(Clone, Copy, PartialEq)]
pub struct ItemRef<'a> {
    segment: &'a str,
    item: Item,
}

impl<'a> ItemRef<'a> {
    /// The key as sent (`w01018-Avg`, `DataTime`).
    #[inline]
    pub fn key(&self) -> &'a str {
        &self.segment[self.item.key_range()]
    }

    /// The exact text of the value.
    #[inline]
    pub fn value(&self) -> &'a str {
        let i = &self.item;
        &self.segment[i.value_at as usize..(i.value_at + i.value_len) as usize]
    }

    /// The factor code as sent, for factor fields.
    #[inline]
    pub fn raw_code(&self) -> Option<&'a str> {
        self.item.is_factor().then(|| &self.segment[self.item.raw_code_range()])
    }

    /// The factor code normalised to HJ 212-2017 (`011` becomes `w01018`), for factor fields.
    #[inline]
    pub fn code(&self) -> Option<&'a str> {
        if !self.item.is_factor() {
            return None;
        }
        Some(if self.item.flags & CODE_FROM_TABLE != 0 {
            codes::factors()[usize::from(self.item.factor)].code
        } else {
            &self.segment[self.item.raw_code_range()]
        })
    }

    /// The factor's row of Appendix B, when the code is in the table (process codes such as
    /// `e10101` find their `e101xx` row).
    #[inline]
    pub fn factor_info(&self) -> Option<&'static FactorInfo> {
        codes::factors().get(usize::from(self.item.factor))
    }

    pub fn field(&self) -> Field {
        self.item.field
    }

    /// The field name as sent: the suffix after `-` for factor fields, the key otherwise.
    #[inline]
    pub fn field_name(&self) -> &'a str {
        let key = self.key();
        if self.item.is_factor() { &key[self.item.code_len as usize + 1..] } else { key }
    }

    /// The value as a number, for numeric fields with a non-empty value.
    #[inline]
    pub fn number(&self) -> Option<f64> {
        self.item.number()
    }

    /// Offset of the key in the data segment.
    pub fn offset(&self) -> u32 {
        self.item.key_at
    }

    /// The compact item.
    pub fn item(&self) -> &Item {
        &self.item
    }
}

impl std::fmt::Debug for ItemRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemRef")
            .field("key", &self.key())
            .field("code", &self.code())
            .field("raw_code", &self.raw_code())
            .field("field", &self.field())
            .field("value", &self.value())
            .field("number", &self.number())
            .field("offset", &self.offset())
            .finish()
    }
}

/// Iterator over items as [`ItemRef`]s.
#[derive(Clone)]
pub struct Items<'p, 'a> {
    segment: &'a str,
    iter: std::slice::Iter<'p, Item>,
}

impl<'a> Iterator for Items<'_, 'a> {
    type Item = ItemRef<'a>;
    #[inline]
    fn next(&mut self) -> Option<ItemRef<'a>> {
        self.iter.next().map(|i| i.get(self.segment))
    }
    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.iter.size_hint()
    }
}

impl DoubleEndedIterator for Items<'_, '_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        self.iter.next_back().map(|i| i.get(self.segment))
    }
}

impl ExactSizeIterator for Items<'_, '_> {}

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
    /// CP items in the order sent (owned, or the caller's buffer with [`crate::parse_into`]).
    pub(crate) items: Cow<'a, [Item]>,
    /// Header keys the standard does not define (kept as sent, e.g. a 2025 `RF`).
    pub extra_header: Vec<(&'a str, &'a str)>,
    pub deviations: Deviations,
}

impl<'a> Packet<'a> {
    /// Whether the sender asked for a reply (Flag bit A).
    pub fn ack_required(&self) -> bool {
        self.flag.is_some_and(|f| f & FLAG_ACK != 0)
    }

    /// Whether this is one part of a split packet: Flag bit D with PNUM/PNO. (Bit D alone is a
    /// whole packet with [`crate::Deviation::SplitBitWithoutParts`].)
    pub fn is_split(&self) -> bool {
        self.flag.is_some_and(|f| f & FLAG_SPLIT != 0) && (self.pnum.is_some() || self.pno.is_some())
    }

    /// CP items in the order sent.
    #[inline]
    pub fn items(&self) -> Items<'_, 'a> {
        Items { segment: self.segment, iter: self.items.iter() }
    }

    /// The `i`-th CP item.
    pub fn item(&self, i: usize) -> Option<ItemRef<'a>> {
        self.items.get(i).map(|it| it.get(self.segment))
    }

    /// The number of CP items.
    pub fn item_count(&self) -> usize {
        self.items.len()
    }

    /// The compact items (read them with [`Item::get`] and [`Packet::segment`]).
    pub fn raw_items(&self) -> &[Item] {
        &self.items
    }

    /// The first value of a plain CP key (`QnRtn`, `BeginTime`, …).
    pub fn key(&self, name: &str) -> Option<&'a str> {
        // The field first, on the compact item: most items are factor fields.
        let seg = self.segment;
        self.items
            .iter()
            .filter(|i| i.field == Field::Key)
            .map(|i| i.get(seg))
            .find(|i| i.key() == name)
            .map(|i| i.value())
    }

    /// Whether this HJ 212-2025 packet is marked as re-sent (`RF=1`, in the header or in CP).
    pub fn resent(&self) -> bool {
        self.extra_header.iter().any(|(k, v)| *k == "RF" && *v == "1") || self.key("RF") == Some("1")
    }

    /// Factor fields grouped by (normalised) code, in order of first appearance.
    pub fn factors(&self) -> Factors<'_, 'a> {
        Factors { segment: self.segment, items: &self.items, pos: 0 }
    }

    /// Plain CP keys other than DataTime (which is [`Packet::data_time`]), in order.
    pub fn plain_keys(&self) -> impl Iterator<Item = ItemRef<'a>> + '_ {
        self.items().filter(|i| i.field() == Field::Key && i.key() != "DataTime")
    }
}

/// The fields of one factor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FactorGroup<'p, 'a> {
    pub code: &'a str,
    pub raw_code: &'a str,
    segment: &'a str,
    items: &'p [Item],
}

impl<'p, 'a> FactorGroup<'p, 'a> {
    /// The first item of `field`.
    pub fn get(&self, field: Field) -> Option<ItemRef<'a>> {
        self.items.iter().find(|i| i.field == field).map(|i| i.get(self.segment))
    }

    /// The fields in the order sent.
    pub fn fields(&self) -> Items<'p, 'a> {
        Items { segment: self.segment, iter: self.items.iter() }
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Iterator over runs of consecutive items with the same factor code.
pub struct Factors<'p, 'a> {
    segment: &'a str,
    items: &'p [Item],
    pos: usize,
}

impl<'p, 'a> Iterator for Factors<'p, 'a> {
    type Item = FactorGroup<'p, 'a>;
    fn next(&mut self) -> Option<Self::Item> {
        while self.pos < self.items.len() && !self.items[self.pos].is_factor() {
            self.pos += 1;
        }
        let first = self.items.get(self.pos)?.get(self.segment);
        let code = first.code()?;
        let start = self.pos;
        while self.pos < self.items.len()
            && self.items[self.pos].is_factor()
            && self.items[self.pos].get(self.segment).code() == Some(code)
        {
            self.pos += 1;
        }
        Some(FactorGroup {
            code,
            raw_code: first.raw_code().unwrap_or(code),
            segment: self.segment,
            items: &self.items[start..self.pos],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ParseOptions, parse, parse_into};

    const SEG: &[u8] = b"QN=1;ST=32;CN=2011;PW=1;MN=1;Flag=4;CP=&&DataTime=20160801085857;PolId=w01018;011-Rtd=50.2,011-Flag=N;SB1-RS=1;e10101-Rtd= 7 &&";

    #[test]
    fn suffix_window_agrees_with_from_suffix() {
        let names = [
            "Rtd",
            "Min",
            "Avg",
            "Max",
            "Cou",
            "ZsRtd",
            "ZsMin",
            "ZsAvg",
            "ZsMax",
            "Flag",
            "EFlag",
            "SampleTime",
            "Info",
            "SN",
            "RS",
            "RT",
            "Data",
            "DayData",
            "NightData",
            "",
            "R",
            "Rt",
            "Rtd\0",
            "Rtdx",
            "rtd",
            "Sample",
            "SampleTim",
            "SampleTimes",
            "NightDat",
            "DayDat",
            "DayData1",
            "\0\0\0",
            "Flag\0\0\0\0",
        ];
        for n in names {
            for tail in ["", "=1", "=12345678&&", "\0\0\0\0\0\0\0\0\0"] {
                let w = format!("{n}{tail}");
                assert_eq!(
                    Field::from_suffix_window(w.as_bytes(), n.len()),
                    Field::from_suffix(n),
                    "{n:?}{tail:?}"
                );
            }
        }
    }

    #[test]
    fn item_is_compact() {
        assert!(std::mem::size_of::<Item>() <= 32, "{}", std::mem::size_of::<Item>());
    }

    #[test]
    fn item_views() {
        let p = parse(SEG, &ParseOptions::default()).unwrap();
        let items: Vec<_> = p.items().collect();
        assert_eq!(items.len(), 6);
        assert_eq!(
            (items[0].key(), items[0].value(), items[0].code(), items[0].raw_code()),
            ("DataTime", "20160801085857", None, None)
        );
        assert_eq!(items[0].field_name(), "DataTime");
        let rtd = items[2];
        assert_eq!(
            (rtd.key(), rtd.code(), rtd.raw_code(), rtd.field(), rtd.field_name()),
            ("011-Rtd", Some("w01018"), Some("011"), Field::Rtd, "Rtd")
        );
        assert_eq!(
            (rtd.value(), rtd.number(), rtd.factor_info().map(|f| f.code)),
            ("50.2", Some(50.2), Some("w01018"))
        );
        assert_eq!(rtd.offset() as usize, SEG.windows(7).position(|w| w == b"011-Rtd").unwrap());
        assert_eq!((items[3].value(), items[3].number()), ("N", None));
        assert_eq!(
            (items[4].code(), items[4].factor_info(), items[4].number()),
            (Some("SB1"), None, Some(1.0))
        );
        // Trimmed; a process code finds its `xx` row but keeps its own code.
        assert_eq!((items[5].code(), items[5].value(), items[5].number()), (Some("e10101"), "7", Some(7.0)));
        assert_eq!(items[5].factor_info().map(|f| f.code), Some("e101xx"));
        assert_eq!(p.plain_keys().map(|i| i.key()).collect::<Vec<_>>(), ["PolId"]);
        let g: Vec<_> = p.factors().collect();
        assert_eq!((g[0].code, g[0].raw_code, g[0].len()), ("w01018", "011", 2));
        assert_eq!(g[0].fields().map(|i| i.field_name()).collect::<Vec<_>>(), ["Rtd", "Flag"]);
        assert_eq!(p.item(2), Some(rtd));
        assert_eq!(p.raw_items()[2].get(p.segment), rtd);
    }

    #[test]
    fn parse_into_agrees_and_reuses() {
        let owned = parse(SEG, &ParseOptions::default()).unwrap();
        let mut buf = Vec::new();
        for _ in 0..3 {
            let p = parse_into(SEG, &ParseOptions::default(), &mut buf).unwrap();
            assert_eq!(p, owned);
        }
        let cap = buf.capacity();
        assert!(parse_into(b"CN=2011;CP=&&&&", &ParseOptions::default(), &mut buf).is_err());
        let p = parse_into(SEG, &ParseOptions::default(), &mut buf).unwrap();
        assert_eq!(p, owned);
        assert_eq!(buf.capacity(), cap);
    }
}
