//! Code tables from the standard: monitoring factors (Appendix B, with the HJ/T 212-2005 codes),
//! system codes (table 5), command codes (table 9), data flags (table 8), request replies (table 7)
//! and execution results (table 6).

/// One monitoring factor from Appendix B.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactorInfo {
    /// The 2017 code, e.g. `w01018`. Process codes keep the table's `xx` device suffix (`e101xx`).
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    /// Unit of concentration (or of the value itself).
    pub unit_zh: &'static str,
    pub unit_en: &'static str,
    /// Unit of the emitted amount (`-Cou`), empty where the table gives none.
    pub amount_unit_zh: &'static str,
    pub amount_unit_en: &'static str,
    /// The HJ/T 212-2005 code, where there was one.
    pub code_2005: Option<&'static str>,
    /// The table's default data type, e.g. `N5.1`.
    pub data_type: &'static str,
}

impl FactorInfo {
    pub fn name(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Zh => self.name_zh,
            Lang::En => self.name_en,
        }
    }
    pub fn unit(&self, lang: Lang) -> &'static str {
        match lang {
            Lang::Zh => self.unit_zh,
            Lang::En => self.unit_en,
        }
    }
}

/// Language of human-readable names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

include!(concat!(env!("OUT_DIR"), "/factors.rs"));

/// All factors of Appendix B, sorted by 2017 code.
pub fn factors() -> &'static [FactorInfo] {
    FACTORS
}

/// Look up a 2017 factor code. Process codes with a device number (`e10101`) find their table row
/// (`e101xx`).
pub fn factor(code: &str) -> Option<&'static FactorInfo> {
    if let Ok(i) = FACTORS.binary_search_by(|f| f.code.cmp(code)) {
        return Some(&FACTORS[i]);
    }
    let b = code.as_bytes();
    if b.len() == 6 && matches!(b[0], b'e' | b'g') && b[4].is_ascii_digit() && b[5].is_ascii_digit() {
        let mut generic = [0u8; 6];
        generic[..4].copy_from_slice(&b[..4]);
        generic[4..].copy_from_slice(b"xx");
        let generic = std::str::from_utf8(&generic).ok()?;
        return FACTORS.binary_search_by(|f| f.code.cmp(generic)).ok().map(|i| &FACTORS[i]);
    }
    None
}

/// Look up an HJ/T 212-2005 factor code (`011`, `B02`, `S01`, …).
pub fn factor_by_2005(code: &str) -> Option<&'static FactorInfo> {
    FACTORS_2005.binary_search_by(|(c, _)| (*c).cmp(code)).ok().map(|i| &FACTORS[FACTORS_2005[i].1 as usize])
}

/// Whether `code` has the shape of a 2017 code (lower-case letter and five characters), as opposed
/// to a 2005 code (two or three characters, or an upper-case letter and two digits).
pub fn looks_2017(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 6 && b[0].is_ascii_lowercase()
}

macro_rules! table {
    ($(#[$m:meta])* $fn:ident, $ty:ty, { $($k:pat => ($zh:expr, $en:expr)),* $(,)? }) => {
        $(#[$m])*
        pub fn $fn(code: $ty, lang: Lang) -> Option<&'static str> {
            let (zh, en) = match code {
                $($k => ($zh, $en),)*
                _ => return None,
            };
            Some(match lang { Lang::Zh => zh, Lang::En => en })
        }
    };
}

table!(
    /// System codes (ST), table 5.
    system_name, &str, {
    "21" => ("地表水质量监测", "surface water quality"),
    "22" => ("空气质量监测", "air quality"),
    "23" => ("声环境质量监测", "acoustic environment quality"),
    "24" => ("地下水质量监测", "groundwater quality"),
    "25" => ("土壤质量监测", "soil quality"),
    "26" => ("海水质量监测", "seawater quality"),
    "27" => ("挥发性有机物监测", "volatile organic compounds"),
    "31" => ("大气环境污染源", "air pollution source"),
    "32" => ("地表水体环境污染源", "surface water pollution source"),
    "33" => ("地下水体环境污染源", "groundwater pollution source"),
    "34" => ("海洋环境污染源", "marine pollution source"),
    "35" => ("土壤环境污染源", "soil pollution source"),
    "36" => ("声环境污染源", "noise source"),
    "37" => ("振动环境污染源", "vibration source"),
    "38" => ("放射性环境污染源", "radioactive source"),
    "39" => ("工地扬尘污染源", "construction dust source"),
    "41" => ("电磁环境污染源", "electromagnetic source"),
    "51" => ("烟气排放过程监控", "flue gas process monitoring"),
    "52" => ("污水排放过程监控", "wastewater process monitoring"),
    "91" => ("系统交互", "system interaction"),
});

table!(
    /// Command codes (CN), table 9, plus the heartbeats some devices send.
    command_name, &str, {
    "1000" => ("设置超时时间及重发次数", "set timeout and retry count"),
    "1011" => ("提取/上传现场机时间", "get / upload device time"),
    "1012" => ("设置现场机时间", "set device time"),
    "1013" => ("现场机时间校准请求", "device time calibration request"),
    "1061" => ("提取/上传实时数据间隔", "get / upload real-time interval"),
    "1062" => ("设置实时数据间隔", "set real-time interval"),
    "1063" => ("提取/上传分钟数据间隔", "get / upload minute interval"),
    "1064" => ("设置分钟数据间隔", "set minute interval"),
    "1072" => ("设置现场机密码", "set device password"),
    "2011" => ("污染物实时数据", "pollutant real-time data"),
    "2012" => ("停止察看污染物实时数据", "stop real-time data"),
    "2021" => ("设备运行状态数据", "facility running status"),
    "2022" => ("停止察看设备运行状态", "stop facility status"),
    "2031" => ("污染物日历史数据", "pollutant daily data"),
    "2041" => ("设备运行时间日历史数据", "facility daily running time"),
    "2051" => ("污染物分钟数据", "pollutant minute data"),
    "2061" => ("污染物小时数据", "pollutant hourly data"),
    "2081" => ("数采仪开机时间", "data logger start-up time"),
    "3011" => ("零点校准量程校准", "zero and span calibration"),
    "3012" => ("即时采样", "immediate sampling"),
    "3013" => ("启动清洗/反吹", "start cleaning / back-blowing"),
    "3014" => ("比对采样", "comparison sampling"),
    "3015" => ("超标留样", "keep exceedance sample"),
    "3016" => ("设置采样时间周期", "set sampling period"),
    "3017" => ("提取/上传采样时间周期", "get / upload sampling period"),
    "3018" => ("提取/上传出样时间", "get / upload sample output time"),
    "3019" => ("提取/上传设备唯一标识", "get / upload instrument ID"),
    "3020" => ("提取/上传现场机信息", "get / upload device information"),
    "3021" => ("设置现场机参数", "set device parameters"),
    "9011" => ("请求应答", "request reply"),
    "9012" => ("执行结果", "execution result"),
    "9013" => ("通知应答", "notification reply"),
    "9014" => ("数据应答", "data reply"),
    "9015" => ("心跳（非标准）", "heartbeat (non-standard)"),
    "9021" => ("心跳（非标准）", "heartbeat (non-standard)"),
});

table!(
    /// Data flags (`-Flag`), table 8.
    data_flag_meaning, &str, {
    "N" => ("仪器工作正常", "instrument normal"),
    "F" => ("仪器停运", "instrument stopped"),
    "M" => ("仪器维护期间数据", "maintenance"),
    "S" => ("手工输入的设定值", "manually entered value"),
    "D" => ("仪器故障", "instrument fault"),
    "C" => ("仪器校准", "calibration"),
    "T" => ("超测量上限", "above measuring range"),
    "B" => ("仪器与数采仪通讯异常", "instrument communication failure"),
});

table!(
    /// Request reply codes (`QnRtn`), table 7.
    qn_rtn_meaning, &str, {
    "1" => ("准备执行请求", "ready to execute"),
    "2" => ("请求被拒绝", "request refused"),
    "3" => ("PW 错误", "wrong PW"),
    "4" => ("MN 错误", "wrong MN"),
    "5" => ("ST 错误", "wrong ST"),
    "6" => ("Flag 错误", "wrong Flag"),
    "7" => ("QN 错误", "wrong QN"),
    "8" => ("CN 错误", "wrong CN"),
    "9" => ("CRC 校验错误", "CRC error"),
    "100" => ("未知错误", "unknown error"),
});

table!(
    /// Execution results (`ExeRtn`), table 6.
    exe_rtn_meaning, &str, {
    "1" => ("执行成功", "succeeded"),
    "2" => ("执行失败，原因不明", "failed, reason unknown"),
    "3" => ("命令请求条件错误", "bad request conditions"),
    "4" => ("通讯超时", "communication timeout"),
    "5" => ("系统繁忙不能执行", "system busy"),
    "6" => ("系统故障", "system fault"),
    "100" => ("没有数据", "no data"),
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_complete() {
        assert!(FACTORS.windows(2).all(|w| w[0].code < w[1].code));
        assert!(FACTORS.len() > 370, "{} factors", FACTORS.len());
        assert!(FACTORS.iter().all(|f| !f.name_en.is_empty()));
    }

    #[test]
    fn lookups() {
        let cod = factor("w01018").unwrap();
        assert_eq!(cod.name_zh, "化学需氧量");
        assert_eq!(cod.unit_zh, "毫克/升");
        assert_eq!(cod.code_2005, Some("011"));
        assert_eq!(factor_by_2005("011").unwrap().code, "w01018");
        assert_eq!(factor_by_2005("B02").unwrap().code, "a00000");
        assert_eq!(factor_by_2005("S01").unwrap().code, "a19001");
        assert_eq!(factor_by_2005("02").unwrap().code, "a21026");
        assert_eq!(factor("e10101").unwrap().code, "e101xx");
        assert!(factor("zz9999").is_none());
        assert!(factor_by_2005("XYZ").is_none());
    }

    #[test]
    fn meanings() {
        assert_eq!(data_flag_meaning("C", Lang::En), Some("calibration"));
        assert_eq!(command_name("2051", Lang::Zh), Some("污染物分钟数据"));
        assert_eq!(system_name("91", Lang::Zh), Some("系统交互"));
        assert_eq!(qn_rtn_meaning("3", Lang::En), Some("wrong PW"));
        assert_eq!(exe_rtn_meaning("100", Lang::Zh), Some("没有数据"));
        assert!(data_flag_meaning("Q", Lang::Zh).is_none());
    }
}
