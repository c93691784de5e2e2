//! What the rules take and what they give back. Result types are plain rows keyed by device,
//! factor and period start, so the store can keep them and the replay report can print them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::rule_values::RuleValues;
use crate::registry::{Limit, OutletKind};

/// Factor codes the rules need by name.
pub mod factor {
    /// Flue gas flow, m³/s.
    pub const GAS_FLOW: &str = "a00000";
    /// Wastewater flow, L/s.
    pub const WATER_FLOW: &str = "w00000";
    /// O2, % (dry basis).
    pub const O2: &str = "a19001";
    /// pH (judged on its range).
    pub const PH: &str = "w01001";
}

/// Which data command a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataKind {
    /// 2011 real-time data.
    Realtime,
    /// 2051 minute data (interval from the device's registration).
    Minute,
    /// 2061 hourly data sent by the device.
    Hour,
    /// 2031 daily data sent by the device.
    Day,
}

impl DataKind {
    pub fn from_cn(cn: &str) -> Option<DataKind> {
        match cn {
            "2011" => Some(DataKind::Realtime),
            "2051" => Some(DataKind::Minute),
            "2061" => Some(DataKind::Hour),
            "2031" => Some(DataKind::Day),
            _ => None,
        }
    }
    pub fn cn(self) -> &'static str {
        match self {
            DataKind::Realtime => "2011",
            DataKind::Minute => "2051",
            DataKind::Hour => "2061",
            DataKind::Day => "2031",
        }
    }
}

/// The fields of [`crate::Values`] the rules read (HJ 212 field names). `Min`, `Max`, `ZsMin`,
/// `ZsMax`, `EFlag` and `SampleTime` of a minute record are kept by the store and shown in exports
/// but judge nothing: hourly minima and maxima come from the minute values themselves. A
/// [`Record`] carries only these ([`RuleValues`]), so a rule cannot read another field until it
/// is added here, to [`RuleValues`] and to the store's loader.
pub const RULE_FIELDS: [&str; 6] = ["Rtd", "Avg", "ZsRtd", "ZsAvg", "Cou", "Flag"];

/// One stored record (latest revision) as the rules see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub kind: DataKind,
    /// DataTime, epoch ms.
    pub data_time: i64,
    /// HJ 212-2017 factor code (2005 codes already normalised). Shared, not owned: a month of a
    /// device's minute data is hundreds of thousands of records of a handful of codes, and a
    /// loader hands every record of one factor the same allocation.
    pub factor: Arc<str>,
    /// The values as sent, those the rules read ([`RULE_FIELDS`]): a month of a device's minute
    /// data is hundreds of thousands of records, and the other fields judge nothing.
    pub values: RuleValues,
    /// Receipt time, epoch ms (for clock-skew and retention findings).
    pub received_at: i64,
}

/// What the rules need to know about a device and the outlet it measures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    pub mn: String,
    pub outlet: String,
    pub enterprise: String,
    pub kind: OutletKind,
    pub source_type: String,
    /// Reference O2 (%) for flue gas.
    pub reference_o2: Option<f64>,
    /// Effective-dated limits (see [`crate::Outlet::limit_at`]).
    pub limits: Vec<Limit>,
    /// Minute-data interval in minutes (1, 5, 10, …).
    pub minute_interval_min: u32,
    /// Whether the device also sends hourly data (2061).
    pub hourly: bool,
    /// Factors the device is registered to report (expected-record counts use these).
    pub factors: Vec<String>,
}

/// Why a period's mean is not used for judgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Invalidity {
    /// No record at all in the period.
    NoData,
    /// Records, but none with a valid flag.
    NoValidData,
    /// Valid data covers fewer minutes (hours) than the parameter requires.
    InsufficientCoverage,
    /// Measured O2 at or above `o2_not_convertible`: converted value not meaningful.
    NotConvertible,
    /// No O2 (and no device converted value) although the outlet has a reference O2.
    NoOxygen,
}

impl Invalidity {
    pub fn name(self) -> &'static str {
        match self {
            Invalidity::NoData => "no_data",
            Invalidity::NoValidData => "no_valid_data",
            Invalidity::InsufficientCoverage => "insufficient_coverage",
            Invalidity::NotConvertible => "not_convertible",
            Invalidity::NoOxygen => "no_oxygen",
        }
    }
    pub fn description_zh(self) -> &'static str {
        match self {
            Invalidity::NoData => "无数据",
            Invalidity::NoValidData => "无有效数据",
            Invalidity::InsufficientCoverage => "有效数据不足",
            Invalidity::NotConvertible => "氧含量过高，无法折算",
            Invalidity::NoOxygen => "缺少氧含量，无法折算",
        }
    }
}

/// An aggregation period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Hour,
    Day,
    Month,
}

impl Period {
    pub fn name(self) -> &'static str {
        match self {
            Period::Hour => "hour",
            Period::Day => "day",
            Period::Month => "month",
        }
    }
}

/// An hourly or daily aggregate of one factor at one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    pub mn: String,
    pub outlet: String,
    pub factor: String,
    pub period: Period,
    /// Period start, epoch ms.
    pub start: i64,
    /// Mean of valid values (flow-weighted for water days when so configured).
    pub mean: Option<f64>,
    /// Mean at reference O2 (flue gas pollutants), else equal to `mean`.
    pub converted_mean: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Minutes covered by valid records (hours) or valid hours (days).
    pub valid_units: u32,
    /// Records (hours: minute records; days: hours with any data) seen in the period.
    pub records: u32,
    pub valid: bool,
    pub reason: Option<Invalidity>,
    /// Upper limit in force at the period start, if any.
    pub limit: Option<f64>,
    /// Lower limit in force (pH).
    pub limit_min: Option<f64>,
    /// Judged against the limit: only valid periods of judged factors can exceed.
    pub exceeds: bool,
}

/// Consecutive exceeding periods of one factor (hours for air, days for water).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    pub mn: String,
    pub outlet: String,
    pub factor: String,
    pub period: Period,
    /// Start of the first exceeding period.
    pub start: i64,
    /// End (exclusive) of the last exceeding period.
    pub end: i64,
    /// Number of exceeding periods.
    pub periods: u32,
    /// Highest converted mean in the episode.
    pub max_converted: f64,
    /// Highest (C − C0) / C0 over the episode's periods (not necessarily at `max_converted`:
    /// the limit may change inside an episode).
    pub max_multiple: f64,
    /// The limit of the period with the highest multiple.
    pub limit: f64,
    /// The episode's last period is the latest period judged for its factor (evaluate: it ends
    /// at the last complete period before `now`): the exceedance is still going on.
    #[serde(default)]
    pub open: bool,
}

/// Kinds of data-quality finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// No data for longer than the offline threshold.
    Offline,
    /// The same value for at least the configured number of consecutive records.
    ConstantValue,
    /// Concentration zero while flow runs.
    ZeroWhileFlow,
    /// Concentration negative.
    NegativeValue,
    /// DataTime in the future of receipt by more than the tolerance.
    ClockSkew,
    /// Data received after the retention window.
    Stale,
    /// Records flagged maintenance (M).
    Maintenance,
    /// Records flagged calibrating (C).
    Calibration,
    /// Records flagged fault (D) or communication fault (B).
    Fault,
    /// Records flagged stopped (F).
    Stopped,
    /// Records flagged manual input (S).
    Manual,
    /// Records flagged over range (T).
    OverRange,
    /// Device hourly value (2061) differs from the recomputation beyond tolerance.
    HourlyMismatch,
    /// Monthly share of valid hours within limits below the required share (steel ultra-low).
    MonthlyShare,
    /// Emissions reached a warning share of the permitted annual total.
    PermitShare,
    /// A water day's mean is the arithmetic mean of its hours: no valid flow all day to weight by.
    UnweightedDay,
    /// Emission of hours without valid data substituted (HJ 75-2017 §11).
    Substituted,
}

impl FindingKind {
    /// Every kind, in declaration order (for SQL lists and look-ups by name).
    pub const ALL: [FindingKind; 17] = [
        FindingKind::Offline,
        FindingKind::ConstantValue,
        FindingKind::ZeroWhileFlow,
        FindingKind::NegativeValue,
        FindingKind::ClockSkew,
        FindingKind::Stale,
        FindingKind::Maintenance,
        FindingKind::Calibration,
        FindingKind::Fault,
        FindingKind::Stopped,
        FindingKind::Manual,
        FindingKind::OverRange,
        FindingKind::HourlyMismatch,
        FindingKind::MonthlyShare,
        FindingKind::PermitShare,
        FindingKind::UnweightedDay,
        FindingKind::Substituted,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FindingKind::Offline => "offline",
            FindingKind::ConstantValue => "constant_value",
            FindingKind::ZeroWhileFlow => "zero_while_flow",
            FindingKind::NegativeValue => "negative_value",
            FindingKind::ClockSkew => "clock_skew",
            FindingKind::Stale => "stale",
            FindingKind::Maintenance => "maintenance",
            FindingKind::Calibration => "calibration",
            FindingKind::Fault => "fault",
            FindingKind::Stopped => "stopped",
            FindingKind::Manual => "manual",
            FindingKind::OverRange => "over_range",
            FindingKind::HourlyMismatch => "hourly_mismatch",
            FindingKind::MonthlyShare => "monthly_share",
            FindingKind::PermitShare => "permit_share",
            FindingKind::UnweightedDay => "unweighted_day",
            FindingKind::Substituted => "substituted",
        }
    }
    pub fn name_zh(self) -> &'static str {
        match self {
            FindingKind::Offline => "设备离线",
            FindingKind::ConstantValue => "数据恒值",
            FindingKind::ZeroWhileFlow => "有流量时浓度为零",
            FindingKind::NegativeValue => "浓度为负值",
            FindingKind::ClockSkew => "设备时钟偏差",
            FindingKind::Stale => "数据超过保留期",
            FindingKind::Maintenance => "维护期数据",
            FindingKind::Calibration => "校准期数据",
            FindingKind::Fault => "故障期数据",
            FindingKind::Stopped => "停运期数据",
            FindingKind::Manual => "手工输入数据",
            FindingKind::OverRange => "超量程数据",
            FindingKind::HourlyMismatch => "小时数据与分钟数据不一致",
            FindingKind::MonthlyShare => "月达标率不足",
            FindingKind::PermitShare => "排放量接近许可量",
            FindingKind::UnweightedDay => "日均值未按流量加权",
            FindingKind::Substituted => "缺失时段排放量已替代",
        }
    }
    pub fn name_en(self) -> &'static str {
        match self {
            FindingKind::Offline => "device offline",
            FindingKind::ConstantValue => "constant value",
            FindingKind::ZeroWhileFlow => "zero concentration while flow runs",
            FindingKind::NegativeValue => "negative concentration",
            FindingKind::ClockSkew => "device clock skew",
            FindingKind::Stale => "data older than the retention window",
            FindingKind::Maintenance => "maintenance period",
            FindingKind::Calibration => "calibration period",
            FindingKind::Fault => "fault period",
            FindingKind::Stopped => "stopped period",
            FindingKind::Manual => "manually entered data",
            FindingKind::OverRange => "over-range data",
            FindingKind::HourlyMismatch => "device hourly value differs from minute data",
            FindingKind::MonthlyShare => "monthly share of compliant hours too low",
            FindingKind::PermitShare => "emissions near the permitted total",
            FindingKind::UnweightedDay => "daily mean not flow-weighted (no valid flow)",
            FindingKind::Substituted => "emission of missing hours substituted",
        }
    }
}

/// A data-quality finding over a time range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub mn: String,
    /// The factor concerned, or none for device-wide findings (offline, clock skew).
    pub factor: Option<String>,
    pub kind: FindingKind,
    pub start: i64,
    /// End (exclusive). For a condition still present at the end of the evaluated data, the end
    /// of the last evidence.
    pub end: i64,
    /// What was seen, in English, with the numbers (e.g. `value 12.3 repeated 15 times`).
    pub detail: String,
    /// The same in Chinese, with the same numbers (alarm texts use it).
    #[serde(default)]
    pub detail_zh: String,
    /// Whether the condition is still present at the end of the evaluated window.
    pub open: bool,
}

/// Emission quantity of one factor over a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Emission {
    pub mn: String,
    pub outlet: String,
    pub factor: String,
    pub period: Period,
    pub start: i64,
    pub kg: f64,
    /// Records that contributed.
    pub records: u32,
    /// Whether the device's own cumulative (`-Cou`) values were used.
    pub from_cou: bool,
}

/// Transmission and compliance rates of a device over a day or month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub mn: String,
    pub outlet: String,
    pub period: Period,
    pub start: i64,
    /// Records expected from the device's interval (24 a day for a factor sent only hourly) ×
    /// registered factors, less the records of a declared shutdown (flag F).
    pub expected: u32,
    /// Records received outside a declared shutdown.
    pub received: u32,
    /// Received records whose flag counts and that carry a number.
    pub valid: u32,
    /// received / expected (传输率).
    pub transmission: f64,
    /// valid / received (有效率).
    pub validity: f64,
    /// valid / expected = transmission × validity (传输有效率).
    pub effective_transmission: f64,
    /// Judged (valid, limited) hours not exceeding / judged hours; none when nothing was judged.
    pub compliance: Option<f64>,
    pub judged_hours: u32,
    pub exceeding_hours: u32,
}

/// Everything the rules produce for one device over a window.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Evaluation {
    pub hours: Vec<Aggregate>,
    pub days: Vec<Aggregate>,
    pub episodes: Vec<Episode>,
    pub findings: Vec<Finding>,
    pub emissions: Vec<Emission>,
    pub rates: Vec<Rate>,
}

/// How serious an alarm is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Serious,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [Severity::Info, Severity::Warning, Severity::Serious, Severity::Critical];
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Serious => "serious",
            Severity::Critical => "critical",
        }
    }
    pub fn name_zh(self) -> &'static str {
        match self {
            Severity::Info => "提示",
            Severity::Warning => "预警",
            Severity::Serious => "严重",
            Severity::Critical => "紧急",
        }
    }
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.name() == s)
    }
}

/// The alarm an episode or finding raises, as the rules see it now. The store keeps one alarm
/// per `key`: raised the first time, updated while the condition grows, resolved when `active`
/// turns false; the record stays for review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlarmDraft {
    /// Stable identity: `episode:{mn}:{factor}:{start}` or `finding:{mn}:{kind}:{factor}:{start}`.
    pub key: String,
    pub mn: String,
    pub outlet: String,
    pub factor: Option<String>,
    /// `exceedance` or a [`FindingKind`] name.
    pub kind: String,
    pub severity: Severity,
    pub start: i64,
    pub end: i64,
    /// The condition is still present (episode or finding open at the end of the data).
    pub active: bool,
    pub title_zh: String,
    pub title_en: String,
    pub detail_zh: String,
    pub detail_en: String,
}
