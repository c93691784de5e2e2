//! The registry: enterprises, their outlets (排口) with effective-dated limits, and the data loggers
//! that report for each outlet. Plain data plus the rules that decide whether a registry is sound.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::uscc;

/// Who owns an enterprise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ownership {
    /// 中央企业
    CentralSoe,
    /// 省属国企
    ProvincialSoe,
    /// 市属/地方国企
    LocalSoe,
    Private,
    Foreign,
}

impl Ownership {
    pub const ALL: [Ownership; 5] = [
        Ownership::CentralSoe,
        Ownership::ProvincialSoe,
        Ownership::LocalSoe,
        Ownership::Private,
        Ownership::Foreign,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Ownership::CentralSoe => "central_soe",
            Ownership::ProvincialSoe => "provincial_soe",
            Ownership::LocalSoe => "local_soe",
            Ownership::Private => "private",
            Ownership::Foreign => "foreign",
        }
    }
    pub fn name_zh(self) -> &'static str {
        match self {
            Ownership::CentralSoe => "中央企业",
            Ownership::ProvincialSoe => "省属国有企业",
            Ownership::LocalSoe => "市属国有企业",
            Ownership::Private => "民营企业",
            Ownership::Foreign => "外资企业",
        }
    }
    pub fn parse(s: &str) -> Option<Ownership> {
        Ownership::ALL.into_iter().find(|o| o.name() == s || o.name_zh() == s)
    }
}

/// A person to contact at an enterprise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    pub name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub phone: String,
}

/// An enterprise under supervision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enterprise {
    /// Short stable identifier used by outlets and in URLs (e.g. `E01`).
    pub id: String,
    pub name: String,
    /// 统一社会信用代码 (GB 32100-2015), checked.
    pub uscc: String,
    pub ownership: Ownership,
    /// Industry, e.g. `coal_power`, `coking`, `steel`, `cement`, `chemicals`.
    pub industry: String,
    /// The city's "4+6+N" industrial-system category, where one applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default)]
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Contact>,
    /// Permitted annual emission per factor, kg (排污许可量).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub permitted_kg_per_year: BTreeMap<String, f64>,
}

/// What an outlet discharges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutletKind {
    FlueGas,
    Wastewater,
}

impl OutletKind {
    pub fn name(self) -> &'static str {
        match self {
            OutletKind::FlueGas => "flue_gas",
            OutletKind::Wastewater => "wastewater",
        }
    }
    pub fn name_zh(self) -> &'static str {
        match self {
            OutletKind::FlueGas => "废气",
            OutletKind::Wastewater => "废水",
        }
    }
    pub fn parse(s: &str) -> Option<OutletKind> {
        [OutletKind::FlueGas, OutletKind::Wastewater].into_iter().find(|k| k.name() == s || k.name_zh() == s)
    }
}

/// An emission limit for one factor, in force from a date until the next limit for the same
/// factor takes effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// HJ 212-2017 factor code.
    pub factor: String,
    /// Upper limit (mg/m³ at reference O2 for flue gas, mg/L for water).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Lower limit (pH).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// In force from 00:00 China time of this date. A value with a time of day is refused
    /// ([`parse_effective_date`]), never cut to its date.
    #[serde(deserialize_with = "effective_date")]
    pub effective_from: Date,
}

/// A limit's `effective_from`: a plain date `YYYY-MM-DD` (in force from 00:00 China time). A
/// date with a time of day is refused with an error that says so: a limit changing at 08:00
/// cut to its date would judge the hours before the change against the new limit.
pub fn parse_effective_date(s: &str) -> Result<Date, String> {
    let s = s.trim();
    let plain = s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() });
    if !plain {
        return Err(
            if s.len() > 10 && s.as_bytes().get(10).is_some_and(|b| matches!(b, b'T' | b't' | b' ')) {
                format!(
                    "{s:?} has a time of day: limits take effect at 00:00 China time of a date; give YYYY-MM-DD (a limit from another time of day is not supported)"
                )
            } else {
                format!("{s:?} is not a date (YYYY-MM-DD)")
            },
        );
    }
    s.parse::<Date>().map_err(|e| format!("{s:?} is not a date (YYYY-MM-DD): {e}"))
}

fn effective_date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
    struct Visit;
    impl serde::de::Visitor<'_> for Visit {
        type Value = Date;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a date YYYY-MM-DD")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Date, E> {
            parse_effective_date(s).map_err(E::custom)
        }
    }
    d.deserialize_str(Visit)
}

/// A discharge point (排口).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outlet {
    /// Stable identifier (e.g. `E01-DA001`, the permit's outlet number).
    pub id: String,
    /// The enterprise's `id`.
    pub enterprise: String,
    pub name: String,
    pub kind: OutletKind,
    /// Source type, e.g. `coke_oven_chimney`, `sinter_head`, `coal_boiler`.
    pub source_type: String,
    /// Reference O2 (%) for converted concentrations; flue gas only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_o2: Option<f64>,
    /// The emission standard that applies (e.g. `GB 16171-2012 special`).
    #[serde(default)]
    pub standard: String,
    #[serde(default)]
    pub limits: Vec<Limit>,
}

impl Outlet {
    /// The limit for `factor` in force on `day`.
    pub fn limit_at(&self, factor: &str, day: Date) -> Option<&Limit> {
        self.limits
            .iter()
            .filter(|l| l.factor == factor && l.effective_from <= day)
            .max_by_key(|l| l.effective_from)
    }
}

/// The CRC computations a device may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CrcPolicy {
    #[default]
    Standard,
    Modbus,
    ModbusSwapped,
    Any,
}

impl From<CrcPolicy> for hj212::CrcMode {
    fn from(p: CrcPolicy) -> Self {
        match p {
            CrcPolicy::Standard => hj212::CrcMode::Standard,
            CrcPolicy::Modbus => hj212::CrcMode::Modbus,
            CrcPolicy::ModbusSwapped => hj212::CrcMode::ModbusSwapped,
            CrcPolicy::Any => hj212::CrcMode::Any,
        }
    }
}

impl CrcPolicy {
    pub fn name(self) -> &'static str {
        hj212::CrcMode::from(self).name()
    }
    pub fn parse(s: &str) -> Option<CrcPolicy> {
        [CrcPolicy::Standard, CrcPolicy::Modbus, CrcPolicy::ModbusSwapped, CrcPolicy::Any]
            .into_iter()
            .find(|p| p.name() == s)
    }
}

/// Protocol version a device speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Protocol {
    #[serde(rename = "2005")]
    V2005,
    #[default]
    #[serde(rename = "2017")]
    V2017,
    #[serde(rename = "2025")]
    V2025,
}

impl From<Protocol> for hj212::Version {
    fn from(p: Protocol) -> Self {
        match p {
            Protocol::V2005 => hj212::Version::V2005,
            Protocol::V2017 => hj212::Version::V2017,
            Protocol::V2025 => hj212::Version::V2025,
        }
    }
}

impl Protocol {
    pub fn name(self) -> &'static str {
        hj212::Version::from(self).name()
    }
    pub fn parse(s: &str) -> Option<Protocol> {
        match s {
            "2005" => Some(Protocol::V2005),
            "2017" => Some(Protocol::V2017),
            "2025" => Some(Protocol::V2025),
            _ => None,
        }
    }
}

fn default_max_len() -> u32 {
    1024
}
fn default_rtd() -> u32 {
    30
}
fn default_minute() -> u32 {
    1
}
fn default_true() -> bool {
    true
}

/// A data logger (数采仪).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// MN: the device identifier it sends in every packet.
    pub mn: String,
    /// PW: the access password.
    pub password: String,
    /// The outlet's `id`.
    pub outlet: String,
    #[serde(default)]
    pub protocol: Protocol,
    /// Dialect policy: which CRC computations are accepted from this device.
    #[serde(default)]
    pub crc: CrcPolicy,
    /// Dialect policy: longest data segment accepted (1024 by the standard).
    #[serde(default = "default_max_len")]
    pub max_segment_len: u32,
    /// Expected real-time interval, seconds.
    #[serde(default = "default_rtd")]
    pub rtd_interval_s: u32,
    /// Expected minute-data interval, minutes (1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or 30).
    #[serde(default = "default_minute")]
    pub minute_interval_min: u32,
    /// Whether the device uploads hourly data (2061).
    #[serde(default = "default_true")]
    pub hourly: bool,
    /// Factors it reports (2017 codes).
    #[serde(default)]
    pub factors: Vec<String>,
}

/// The whole registry, as imported and exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    #[serde(default)]
    pub enterprises: Vec<Enterprise>,
    #[serde(default)]
    pub outlets: Vec<Outlet>,
    #[serde(default)]
    pub devices: Vec<Device>,
}

/// Which list an entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Section {
    Enterprises,
    Outlets,
    Devices,
}

impl Section {
    pub fn name(self) -> &'static str {
        match self {
            Section::Enterprises => "enterprises",
            Section::Outlets => "outlets",
            Section::Devices => "devices",
        }
    }
}

/// One problem found in a registry: the entry (section and index), the field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub section: Section,
    pub index: usize,
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}].{}: {}", self.section.name(), self.index, self.field, self.message)
    }
}

const MINUTE_INTERVALS: [u32; 11] = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30];

/// What is wrong with a row's `id`, if anything: it must not be blank, nor the id of an earlier
/// row of its section (`seen`, to which it is added; `noun` names those rows).
fn id_problem<'a>(seen: &mut HashSet<&'a str>, id: &'a str, noun: &str) -> Option<String> {
    if id.trim().is_empty() {
        Some("is empty".into())
    } else if !seen.insert(id) {
        Some(format!("{id:?} is used by another {noun}"))
    } else {
        None
    }
}

impl Registry {
    /// Every problem in the registry, in order. Empty means it is sound.
    pub fn validate(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut push = |section, index, field: &str, message: String| {
            out.push(Problem { section, index, field: field.to_string(), message })
        };

        let mut ent_ids = HashSet::new();
        let mut usccs = HashSet::new();
        for (i, e) in self.enterprises.iter().enumerate() {
            let s = Section::Enterprises;
            if let Some(m) = id_problem(&mut ent_ids, &e.id, "enterprise") {
                push(s, i, "id", m);
            }
            if e.name.trim().is_empty() {
                push(s, i, "name", "is empty".into());
            }
            if let Err(m) = uscc::validate(&e.uscc) {
                push(s, i, "uscc", format!("{:?} is not a valid unified social credit code: {m}", e.uscc));
            } else if !usccs.insert(e.uscc.as_str()) {
                push(s, i, "uscc", format!("{} is used by another enterprise", e.uscc));
            }
            if e.industry.trim().is_empty() {
                push(s, i, "industry", "is empty".into());
            }
            if let Some(lon) = e.longitude
                && !(-180.0..=180.0).contains(&lon)
            {
                push(s, i, "longitude", format!("{lon} is outside −180…180"));
            }
            if let Some(lat) = e.latitude
                && !(-90.0..=90.0).contains(&lat)
            {
                push(s, i, "latitude", format!("{lat} is outside −90…90"));
            }
            for (code, kg) in &e.permitted_kg_per_year {
                if hj212::codes::factor(code).is_none() {
                    push(s, i, "permitted_kg_per_year", format!("{code:?} is not an HJ 212 factor code"));
                }
                if !kg.is_finite() || *kg < 0.0 {
                    push(s, i, "permitted_kg_per_year", format!("{code}: {kg} is not a non-negative amount"));
                }
            }
        }

        let mut outlet_ids = HashSet::new();
        for (i, o) in self.outlets.iter().enumerate() {
            let s = Section::Outlets;
            if let Some(m) = id_problem(&mut outlet_ids, &o.id, "outlet") {
                push(s, i, "id", m);
            }
            if !ent_ids.contains(o.enterprise.as_str()) {
                push(s, i, "enterprise", format!("no enterprise has id {:?}", o.enterprise));
            }
            if o.name.trim().is_empty() {
                push(s, i, "name", "is empty".into());
            }
            match (o.kind, o.reference_o2) {
                (OutletKind::FlueGas, Some(r)) if !(0.0..21.0).contains(&r) => {
                    push(s, i, "reference_o2", format!("{r} % is not below 21 %"));
                }
                (OutletKind::Wastewater, Some(_)) => {
                    push(s, i, "reference_o2", "applies to flue gas outlets only".into());
                }
                _ => {}
            }
            let mut seen = HashSet::new();
            for (j, l) in o.limits.iter().enumerate() {
                // Each problem names the limit's own field, so a form can show it beside that field.
                let field = |name: &str| format!("limits[{j}].{name}");
                if hj212::codes::factor(&l.factor).is_none() {
                    push(s, i, &field("factor"), format!("{:?} is not an HJ 212 factor code", l.factor));
                }
                if l.max.is_none() && l.min.is_none() {
                    push(s, i, &field("max"), "has neither max nor min".into());
                }
                if let (Some(lo), Some(hi)) = (l.min, l.max)
                    && lo > hi
                {
                    push(s, i, &field("min"), format!("min {lo} is above max {hi}"));
                }
                if l.max.is_some_and(|v| !v.is_finite() || v < 0.0) {
                    push(s, i, &field("max"), "max must be a non-negative number".into());
                }
                if l.min.is_some_and(|v| !v.is_finite()) {
                    push(s, i, &field("min"), "min must be a number".into());
                }
                if !seen.insert((l.factor.as_str(), l.effective_from)) {
                    push(
                        s,
                        i,
                        &field("effective_from"),
                        format!("a second limit for {} from {}", l.factor, l.effective_from),
                    );
                }
            }
        }

        let mut mns = HashSet::new();
        for (i, d) in self.devices.iter().enumerate() {
            let s = Section::Devices;
            if d.mn.is_empty() || d.mn.len() > 24 || !d.mn.bytes().all(|c| c.is_ascii_alphanumeric()) {
                push(s, i, "mn", format!("{:?} is not 1–24 letters and digits", d.mn));
            } else if !mns.insert(d.mn.as_str()) {
                push(s, i, "mn", format!("{} is used by another device", d.mn));
            }
            if d.password.is_empty() || d.password.contains([';', '=', '&', ',']) {
                push(s, i, "password", "must be non-empty without ; = & ,".into());
            }
            if !outlet_ids.contains(d.outlet.as_str()) {
                push(s, i, "outlet", format!("no outlet has id {:?}", d.outlet));
            }
            if !(1024..=9999).contains(&d.max_segment_len) {
                push(s, i, "max_segment_len", format!("{} is not within 1024…9999", d.max_segment_len));
            }
            if !(30..=3600).contains(&d.rtd_interval_s) {
                push(s, i, "rtd_interval_s", format!("{} s is not within 30…3600", d.rtd_interval_s));
            }
            if !MINUTE_INTERVALS.contains(&d.minute_interval_min) {
                push(
                    s,
                    i,
                    "minute_interval_min",
                    format!("{} is not one of 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30", d.minute_interval_min),
                );
            }
            for f in &d.factors {
                if hj212::codes::factor(f).is_none() {
                    push(s, i, "factors", format!("{f:?} is not an HJ 212 factor code"));
                }
            }
        }
        out
    }

    pub fn enterprise(&self, id: &str) -> Option<&Enterprise> {
        self.enterprises.iter().find(|e| e.id == id)
    }
    pub fn outlet(&self, id: &str) -> Option<&Outlet> {
        self.outlets.iter().find(|o| o.id == id)
    }
    pub fn device(&self, mn: &str) -> Option<&Device> {
        self.devices.iter().find(|d| d.mn == mn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Registry {
        Registry {
            enterprises: vec![Enterprise {
                id: "E01".into(),
                name: "示例焦化有限公司".into(),
                uscc: "91350100M000100Y43".into(),
                ownership: Ownership::ProvincialSoe,
                industry: "coking".into(),
                category: Some("4".into()),
                address: "临汾".into(),
                longitude: Some(111.5),
                latitude: Some(36.1),
                contacts: vec![],
                permitted_kg_per_year: BTreeMap::from([("a21026".into(), 120_000.0)]),
            }],
            outlets: vec![Outlet {
                id: "E01-DA001".into(),
                enterprise: "E01".into(),
                name: "1#焦炉烟囱".into(),
                kind: OutletKind::FlueGas,
                source_type: "coke_oven_chimney".into(),
                reference_o2: Some(8.0),
                standard: "GB 16171-2012 special".into(),
                limits: vec![
                    Limit {
                        factor: "a21026".into(),
                        max: Some(50.0),
                        min: None,
                        effective_from: "2020-01-01".parse().unwrap(),
                    },
                    Limit {
                        factor: "a21026".into(),
                        max: Some(30.0),
                        min: None,
                        effective_from: "2024-07-01".parse().unwrap(),
                    },
                ],
            }],
            devices: vec![Device {
                mn: "88888880000001".into(),
                password: "123456".into(),
                outlet: "E01-DA001".into(),
                protocol: Protocol::V2017,
                crc: CrcPolicy::Standard,
                max_segment_len: 1024,
                rtd_interval_s: 30,
                minute_interval_min: 1,
                hourly: true,
                factors: vec!["a21026".into(), "a19001".into()],
            }],
        }
    }

    #[test]
    fn sample_is_sound() {
        assert_eq!(sample().validate(), vec![]);
    }

    #[test]
    fn limit_problems_name_the_limit_field() {
        let mut r = sample();
        r.outlets[0].limits[1].min = Some(40.0);
        r.outlets[0].limits[0].effective_from = r.outlets[0].limits[1].effective_from;
        let p: Vec<String> = r.validate().iter().map(|p| p.to_string()).collect();
        assert!(p.iter().any(|s| s.starts_with("outlets[0].limits[1].min: min 40 is above max 30")), "{p:?}");
        assert!(p.iter().any(|s| s.starts_with("outlets[0].limits[1].effective_from")), "{p:?}");
    }

    #[test]
    fn effective_dated_limits() {
        let r = sample();
        let o = &r.outlets[0];
        assert_eq!(o.limit_at("a21026", "2024-06-30".parse().unwrap()).unwrap().max, Some(50.0));
        assert_eq!(o.limit_at("a21026", "2024-07-01".parse().unwrap()).unwrap().max, Some(30.0));
        assert!(o.limit_at("a21026", "2019-12-31".parse().unwrap()).is_none());
        // A time of day is refused, never cut to its date (in files as in JSON).
        assert_eq!(parse_effective_date(" 2024-07-01 "), Ok(jiff::civil::date(2024, 7, 1)));
        for timed in ["2024-07-01T08:00", "2024-07-01 08:00:00", "2024-07-01T00:00:00+08:00"] {
            let e = parse_effective_date(timed).unwrap_err();
            assert!(e.contains("has a time of day"), "{e}");
        }
        assert!(parse_effective_date("2024-7-1").unwrap_err().contains("is not a date"));
        let json = r#"{"factor":"a21026","max":30,"effective_from":"2024-07-01T08:00"}"#;
        let e = serde_json::from_str::<Limit>(json).unwrap_err().to_string();
        assert!(e.contains("has a time of day"), "{e}");
        assert!(o.limit_at("a21002", "2024-07-01".parse().unwrap()).is_none());
    }

    #[test]
    fn problems_name_section_index_and_field() {
        let mut r = sample();
        r.enterprises[0].uscc = "91350100M000100Y44".into();
        r.devices[0].outlet = "nope".into();
        r.devices[0].minute_interval_min = 7;
        r.outlets[0].limits[0].factor = "zz".into();
        let p: Vec<String> = r.validate().iter().map(|p| p.to_string()).collect();
        assert!(
            p.iter().any(|s| s.starts_with("enterprises[0].uscc") && s.contains("check character")),
            "{p:?}"
        );
        assert!(p.iter().any(|s| s.starts_with("devices[0].outlet")), "{p:?}");
        assert!(p.iter().any(|s| s.starts_with("devices[0].minute_interval_min")), "{p:?}");
        assert!(p.iter().any(|s| s.starts_with("outlets[0].limits[0].factor")), "{p:?}");
    }

    #[test]
    fn json_shape() {
        let r = sample();
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["devices"][0]["mn"], "88888880000001");
        assert_eq!(j["devices"][0]["protocol"], "2017");
        assert_eq!(j["outlets"][0]["kind"], "flue_gas");
        assert_eq!(j["outlets"][0]["limits"][0]["effective_from"], "2020-01-01");
        let back: Registry = serde_json::from_value(j).unwrap();
        assert_eq!(back, r);
    }
}
