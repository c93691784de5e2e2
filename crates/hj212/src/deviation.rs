//! Deviations: things real devices do that the standard does not say, always reported by name.

use std::fmt;

macro_rules! deviations {
    ($( $(#[$m:meta])* $v:ident = $bit:expr, $name:expr, $zh:expr, $en:expr; )*) => {
        /// One named departure from the standard.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u8)]
        pub enum Deviation { $( $(#[$m])* $v = $bit, )* }

        impl Deviation {
            pub const ALL: &'static [Deviation] = &[$(Deviation::$v),*];
            /// A stable snake_case name, used in JSON and logs.
            pub fn name(self) -> &'static str {
                match self { $(Deviation::$v => $name,)* }
            }
            /// A short description in Chinese for people.
            pub fn description_zh(self) -> &'static str {
                match self { $(Deviation::$v => $zh,)* }
            }
            /// A short description in English for people.
            pub fn description_en(self) -> &'static str {
                match self { $(Deviation::$v => $en,)* }
            }
        }
    };
}

deviations! {
    /// The CRC was written with lower-case hex digits.
    LowercaseCrc = 0, "lowercase_crc", "CRC 使用小写十六进制", "CRC written in lower-case hex";
    /// No CR LF after the CRC (the next packet or the end of input followed directly).
    MissingCrlf = 1, "missing_crlf", "CRC 后缺少回车换行", "no CR LF after the CRC";
    /// The packet ended with a bare LF or bare CR instead of CR LF.
    BareTerminator = 2, "bare_terminator", "包尾仅有 LF 或 CR", "packet ends with a bare LF or CR";
    /// `**` after the CRC.
    StarsAfterCrc = 3, "stars_after_crc", "CRC 后带有 **", "** after the CRC";
    /// The CRC matched CRC-16/MODBUS, not Appendix A.
    ModbusCrc = 4, "modbus_crc", "CRC 为 MODBUS 算法", "CRC is CRC-16/MODBUS";
    /// The CRC matched CRC-16/MODBUS with its bytes swapped.
    ModbusSwappedCrc = 5, "modbus_swapped_crc", "CRC 为字节交换的 MODBUS 算法", "CRC is byte-swapped CRC-16/MODBUS";
    /// The data segment is longer than the standard's 1024 bytes.
    SegmentOver1024 = 6, "segment_over_1024", "数据段超过 1024 字节", "data segment over 1024 bytes";
    /// DataTime carries milliseconds (17 digits).
    DataTimeMillis = 7, "datatime_milliseconds", "DataTime 带毫秒", "DataTime with milliseconds";
    /// A bare `Flag=N` item inside CP (not attached to a factor).
    FlagInCp = 8, "flag_in_cp", "CP 中出现独立的 Flag 项", "bare Flag item in CP";
    /// A heartbeat command (9021 or 9015), which the standard does not define.
    Heartbeat = 9, "heartbeat", "非标准心跳命令", "non-standard heartbeat command";
    /// A 9014 data reply carrying QnRtn.
    QnRtnIn9014 = 10, "qnrtn_in_9014", "9014 数据应答中带 QnRtn", "9014 data reply carries QnRtn";
    /// A reply (90xx) sent with ST=22 instead of ST=91.
    St22Reply = 11, "st22_reply", "应答使用 ST=22", "reply sent with ST=22";
    /// A factor code found in no code table (kept as sent).
    UnknownFactor = 12, "unknown_factor", "未知监测因子编码", "unknown factor code";
    /// Spaces or tabs around CP items.
    WhitespaceInCp = 13, "whitespace_in_cp", "CP 中有多余空白", "extra whitespace in CP";
    /// A factor field with an empty value.
    EmptyValue = 14, "empty_value", "监测值为空", "empty value";
    /// HJ/T 212-2005 factor codes in a packet that declares a later version.
    Codes2005 = 15, "codes_2005_in_later_version", "新版本报文中使用 2005 编码", "HJ/T 212-2005 codes in a later version";
    /// The version was forced and differs from what the packet declares.
    VersionOverridden = 16, "version_overridden", "强制指定的版本与报文不符", "forced version differs from the packet";
    /// Empty items in CP (`;;` or a trailing `;`).
    EmptyItem = 17, "empty_item", "CP 中有空项", "empty item in CP";
    /// An HJ 212-2025 packet re-sent by the device (`RF=1`).
    Resent = 18, "resent", "补发数据（RF=1）", "re-sent data (RF=1)";
    /// A `,` between two different CP items (`BeginTime=…,EndTime=…`), where the standard puts `;`
    /// (`,` joins only the fields of one factor).
    CommaBetweenItems = 19, "comma_between_items", "不同项目之间用逗号分隔", "comma between different items";
    /// A `;` between two fields of one factor (`a21026-Avg=1;a21026-Flag=N`), where the standard
    /// puts `,`.
    SemicolonWithinFactor = 20, "semicolon_within_factor", "同一因子的字段之间用分号分隔", "semicolon between fields of one factor";
    /// Flag sets the split bit D but the packet carries neither PNUM nor PNO: a whole packet from
    /// a logger that sets the bit carelessly, taken as one packet (refused under
    /// [`ParseOptions::strict`](crate::ParseOptions::strict)).
    SplitBitWithoutParts = 21, "split_bit_without_pnum", "Flag 含拆分位 D 但无 PNUM/PNO", "split bit D set without PNUM/PNO";
}

impl fmt::Display for Deviation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of deviations, held in one word so that recording them never allocates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Deviations(u32);

impl Deviations {
    pub const fn empty() -> Self {
        Deviations(0)
    }
    pub fn insert(&mut self, d: Deviation) {
        self.0 |= 1 << d as u8;
    }
    pub fn contains(self, d: Deviation) -> bool {
        self.0 & (1 << d as u8) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn union(self, other: Deviations) -> Deviations {
        Deviations(self.0 | other.0)
    }
    /// The deviations present, in a stable order.
    pub fn iter(self) -> impl Iterator<Item = Deviation> {
        Deviation::ALL.iter().copied().filter(move |d| self.contains(*d))
    }
    pub fn bits(self) -> u32 {
        self.0
    }
}

impl FromIterator<Deviation> for Deviations {
    fn from_iter<I: IntoIterator<Item = Deviation>>(iter: I) -> Self {
        let mut s = Deviations::empty();
        for d in iter {
            s.insert(d);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_bits_fit() {
        let mut names: Vec<_> = Deviation::ALL.iter().map(|d| d.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Deviation::ALL.len());
        assert!(
            Deviation::ALL.iter().all(|d| !d.description_en().is_empty() && !d.description_zh().is_empty())
        );
        assert!(Deviation::ALL.iter().all(|d| (*d as u8) < 32));
    }

    #[test]
    fn set_operations() {
        let mut s = Deviations::empty();
        assert!(s.is_empty());
        s.insert(Deviation::MissingCrlf);
        s.insert(Deviation::Heartbeat);
        assert!(s.contains(Deviation::Heartbeat));
        assert!(!s.contains(Deviation::ModbusCrc));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![Deviation::MissingCrlf, Deviation::Heartbeat]);
    }
}
