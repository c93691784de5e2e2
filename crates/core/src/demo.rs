//! The demo city: 19 fictional state-owned enterprises of an industrial city like Linfen (coal
//! power, coking, steel, cement, chemicals), their outlets with the limits of
//! shared/reference/compliance-rules.md, and one data logger per outlet. Deterministic, so a
//! re-run of `fenhe demo` finds the same registry.
//!
//! Every name here is invented; any resemblance to a real enterprise is accidental.

use jiff::civil::date;

use crate::registry::{
    Contact, CrcPolicy, Device, Enterprise, Limit, Outlet, OutletKind, Ownership, Protocol, Registry,
};
use crate::uscc;

/// (factor, min, max, effective from (year, month, day))
type LimitRow = (&'static str, Option<f64>, Option<f64>, (i16, i8, i8));

/// A source type and the limits that apply to it.
struct SourceKind {
    source_type: &'static str,
    name_zh: &'static str,
    kind: OutletKind,
    reference_o2: Option<f64>,
    standard: &'static str,
    limits: &'static [LimitRow],
}

const PM: &str = "a34013";
const SO2: &str = "a21026";
const NOX: &str = "a21002";
const COD: &str = "w01018";
const NH3N: &str = "w21003";
const TP: &str = "w21011";
const TN: &str = "w21001";
const PH: &str = "w01001";

const COAL_BOILER_ULTRA_LOW: SourceKind = SourceKind {
    source_type: "coal_boiler",
    name_zh: "燃煤锅炉烟囱",
    kind: OutletKind::FlueGas,
    reference_o2: Some(6.0),
    standard: "超低排放 环发〔2015〕164号",
    limits: &[
        (PM, None, Some(10.0), (2017, 1, 1)),
        (SO2, None, Some(35.0), (2017, 1, 1)),
        (NOX, None, Some(50.0), (2017, 1, 1)),
    ],
};

/// Coke oven chimneys: GB 16171-2012 special limits, tightened by the coking ultra-low opinion —
/// two limits per factor, effective-dated.
const COKE_OVEN: SourceKind = SourceKind {
    source_type: "coke_oven_chimney",
    name_zh: "焦炉烟囱",
    kind: OutletKind::FlueGas,
    reference_o2: Some(8.0),
    standard: "GB 16171-2012 特别排放限值；焦化超低排放",
    limits: &[
        (PM, None, Some(15.0), (2019, 1, 1)),
        (SO2, None, Some(30.0), (2019, 1, 1)),
        (NOX, None, Some(150.0), (2019, 1, 1)),
        (PM, None, Some(10.0), (2025, 1, 1)),
    ],
};

const SINTER_HEAD: SourceKind = SourceKind {
    source_type: "sinter_head",
    name_zh: "烧结机机头",
    kind: OutletKind::FlueGas,
    reference_o2: Some(16.0),
    standard: "钢铁超低排放 环大气〔2019〕35号",
    limits: &[
        (PM, None, Some(10.0), (2019, 4, 28)),
        (SO2, None, Some(35.0), (2019, 4, 28)),
        (NOX, None, Some(50.0), (2019, 4, 28)),
    ],
};

const HOT_ROLLING: SourceKind = SourceKind {
    source_type: "hot_rolling_furnace",
    name_zh: "轧钢加热炉",
    kind: OutletKind::FlueGas,
    reference_o2: Some(8.0),
    standard: "钢铁超低排放 环大气〔2019〕35号",
    limits: &[
        (PM, None, Some(10.0), (2019, 4, 28)),
        (SO2, None, Some(50.0), (2019, 4, 28)),
        (NOX, None, Some(200.0), (2019, 4, 28)),
    ],
};

const CEMENT_KILN: SourceKind = SourceKind {
    source_type: "cement_kiln",
    name_zh: "水泥窑窑尾",
    kind: OutletKind::FlueGas,
    reference_o2: Some(10.0),
    standard: "GB 4915-2013 特别排放限值",
    limits: &[
        (PM, None, Some(20.0), (2015, 7, 1)),
        (SO2, None, Some(100.0), (2015, 7, 1)),
        (NOX, None, Some(320.0), (2015, 7, 1)),
    ],
};

const INDUSTRIAL_BOILER: SourceKind = SourceKind {
    source_type: "industrial_boiler",
    name_zh: "工业锅炉烟囱",
    kind: OutletKind::FlueGas,
    reference_o2: Some(9.0),
    standard: "GB 13271-2014 燃煤锅炉",
    limits: &[
        (PM, None, Some(50.0), (2015, 7, 1)),
        (SO2, None, Some(300.0), (2015, 7, 1)),
        (NOX, None, Some(300.0), (2015, 7, 1)),
    ],
};

const WASTEWATER_GB8978: SourceKind = SourceKind {
    source_type: "industrial_wastewater",
    name_zh: "废水总排口",
    kind: OutletKind::Wastewater,
    reference_o2: None,
    standard: "GB 8978-1996 一级标准",
    limits: &[
        (COD, None, Some(100.0), (2010, 1, 1)),
        (NH3N, None, Some(15.0), (2010, 1, 1)),
        (PH, Some(6.0), Some(9.0), (2010, 1, 1)),
    ],
};

const WASTEWATER_GB18918: SourceKind = SourceKind {
    source_type: "treated_wastewater",
    name_zh: "污水处理站排口",
    kind: OutletKind::Wastewater,
    reference_o2: None,
    standard: "GB 18918-2002 一级A",
    limits: &[
        (COD, None, Some(50.0), (2010, 1, 1)),
        (NH3N, None, Some(5.0), (2010, 1, 1)),
        (TP, None, Some(0.5), (2010, 1, 1)),
        (TN, None, Some(15.0), (2010, 1, 1)),
        (PH, Some(6.0), Some(9.0), (2010, 1, 1)),
    ],
};

/// Factors the data logger of each outlet kind reports.
pub const FLUE_GAS_FACTORS: [&str; 7] =
    ["a34013", "a21026", "a21002", "a19001", "a01012", "a01011", "a00000"];
pub const WASTEWATER_FACTORS: [&str; 6] = ["w01018", "w21003", "w21011", "w21001", "w01001", "w00000"];

struct Ent {
    name: &'static str,
    ownership: Ownership,
    industry: &'static str,
    category: &'static str,
    county: &'static str,
    lon: f64,
    lat: f64,
    outlets: &'static [(&'static SourceKind, u8)],
}

const ENTERPRISES: [Ent; 19] = [
    Ent {
        name: "汾河热电有限责任公司",
        ownership: Ownership::CentralSoe,
        industry: "coal_power",
        category: "4·煤电",
        county: "尧都区",
        lon: 111.52,
        lat: 36.08,
        outlets: &[(&COAL_BOILER_ULTRA_LOW, 2)],
    },
    Ent {
        name: "平阳发电有限公司",
        ownership: Ownership::CentralSoe,
        industry: "coal_power",
        category: "4·煤电",
        county: "襄汾县",
        lon: 111.44,
        lat: 35.88,
        outlets: &[(&COAL_BOILER_ULTRA_LOW, 2)],
    },
    Ent {
        name: "霍山能源集团热电公司",
        ownership: Ownership::ProvincialSoe,
        industry: "coal_power",
        category: "4·煤电",
        county: "霍州市",
        lon: 111.75,
        lat: 36.57,
        outlets: &[(&COAL_BOILER_ULTRA_LOW, 1), (&WASTEWATER_GB8978, 1)],
    },
    Ent {
        name: "尧都焦化股份有限公司",
        ownership: Ownership::ProvincialSoe,
        industry: "coking",
        category: "4·焦化",
        county: "尧都区",
        lon: 111.48,
        lat: 36.12,
        outlets: &[(&COKE_OVEN, 2), (&WASTEWATER_GB8978, 1)],
    },
    Ent {
        name: "襄陵煤焦化有限公司",
        ownership: Ownership::LocalSoe,
        industry: "coking",
        category: "4·焦化",
        county: "襄汾县",
        lon: 111.40,
        lat: 35.93,
        outlets: &[(&COKE_OVEN, 2), (&WASTEWATER_GB8978, 1)],
    },
    Ent {
        name: "洪洞焦化集团有限公司",
        ownership: Ownership::ProvincialSoe,
        industry: "coking",
        category: "4·焦化",
        county: "洪洞县",
        lon: 111.67,
        lat: 36.25,
        outlets: &[(&COKE_OVEN, 2), (&WASTEWATER_GB18918, 1)],
    },
    Ent {
        name: "古县新能焦化有限公司",
        ownership: Ownership::LocalSoe,
        industry: "coking",
        category: "4·焦化",
        county: "古县",
        lon: 111.92,
        lat: 36.27,
        outlets: &[(&COKE_OVEN, 1), (&WASTEWATER_GB8978, 1)],
    },
    Ent {
        name: "乡宁煤焦有限公司",
        ownership: Ownership::LocalSoe,
        industry: "coking",
        category: "4·焦化",
        county: "乡宁县",
        lon: 110.85,
        lat: 35.97,
        outlets: &[(&COKE_OVEN, 1), (&WASTEWATER_GB8978, 1)],
    },
    Ent {
        name: "晋南钢铁集团有限公司",
        ownership: Ownership::ProvincialSoe,
        industry: "steel",
        category: "4·钢铁",
        county: "曲沃县",
        lon: 111.47,
        lat: 35.64,
        outlets: &[(&SINTER_HEAD, 2), (&HOT_ROLLING, 1), (&WASTEWATER_GB8978, 1)],
    },
    Ent {
        name: "侯马特钢有限公司",
        ownership: Ownership::LocalSoe,
        industry: "steel",
        category: "4·钢铁",
        county: "侯马市",
        lon: 111.37,
        lat: 35.62,
        outlets: &[(&SINTER_HEAD, 1), (&HOT_ROLLING, 1), (&WASTEWATER_GB8978, 1)],
    },
    Ent {
        name: "翼城钢铁有限公司",
        ownership: Ownership::LocalSoe,
        industry: "steel",
        category: "4·钢铁",
        county: "翼城县",
        lon: 111.72,
        lat: 35.74,
        outlets: &[(&SINTER_HEAD, 1), (&HOT_ROLLING, 1), (&WASTEWATER_GB8978, 1)],
    },
    Ent {
        name: "浮山建材水泥有限公司",
        ownership: Ownership::LocalSoe,
        industry: "cement",
        category: "6·新型建材",
        county: "浮山县",
        lon: 111.85,
        lat: 35.97,
        outlets: &[(&CEMENT_KILN, 1)],
    },
    Ent {
        name: "吉县新型建材有限公司",
        ownership: Ownership::LocalSoe,
        industry: "cement",
        category: "6·新型建材",
        county: "吉县",
        lon: 110.68,
        lat: 36.10,
        outlets: &[(&CEMENT_KILN, 1)],
    },
    Ent {
        name: "汾西煤化工有限公司",
        ownership: Ownership::ProvincialSoe,
        industry: "chemicals",
        category: "6·现代煤化工",
        county: "汾西县",
        lon: 111.56,
        lat: 36.65,
        outlets: &[(&INDUSTRIAL_BOILER, 1), (&WASTEWATER_GB18918, 1)],
    },
    Ent {
        name: "蒲县精细化工有限公司",
        ownership: Ownership::LocalSoe,
        industry: "chemicals",
        category: "6·现代煤化工",
        county: "蒲县",
        lon: 111.10,
        lat: 36.41,
        outlets: &[(&INDUSTRIAL_BOILER, 1), (&WASTEWATER_GB8978, 1)],
    },
    Ent {
        name: "安泽化肥有限公司",
        ownership: Ownership::LocalSoe,
        industry: "chemicals",
        category: "6·现代煤化工",
        county: "安泽县",
        lon: 112.25,
        lat: 36.15,
        outlets: &[(&INDUSTRIAL_BOILER, 1), (&WASTEWATER_GB8978, 1)],
    },
    Ent {
        name: "隰县能源化工有限公司",
        ownership: Ownership::LocalSoe,
        industry: "chemicals",
        category: "N·其他",
        county: "隰县",
        lon: 110.94,
        lat: 36.69,
        outlets: &[(&INDUSTRIAL_BOILER, 1)],
    },
    Ent {
        name: "永和煤电有限公司",
        ownership: Ownership::ProvincialSoe,
        industry: "coal_power",
        category: "4·煤电",
        county: "永和县",
        lon: 110.63,
        lat: 36.76,
        outlets: &[(&COAL_BOILER_ULTRA_LOW, 1)],
    },
    Ent {
        name: "大宁城投水务有限公司",
        ownership: Ownership::LocalSoe,
        industry: "water_treatment",
        category: "N·其他",
        county: "大宁县",
        lon: 110.75,
        lat: 36.46,
        outlets: &[(&WASTEWATER_GB18918, 1)],
    },
];

/// Build the demo registry.
pub fn city() -> Registry {
    let mut r = Registry::default();
    for (ei, e) in ENTERPRISES.iter().enumerate() {
        let n = ei + 1;
        let id = format!("E{n:02}");
        let uscc = uscc::complete(&format!("91141000MA0H{n:05}")).unwrap_or_default();
        r.enterprises.push(Enterprise {
            id: id.clone(),
            name: e.name.into(),
            uscc,
            ownership: e.ownership,
            industry: e.industry.into(),
            category: Some(e.category.into()),
            address: format!("山西省临汾市{}", e.county),
            longitude: Some(e.lon),
            latitude: Some(e.lat),
            contacts: vec![Contact {
                name: format!("环保专员{n:02}"),
                role: "环保负责人".into(),
                phone: format!("0357-2{n:06}"),
            }],
            permitted_kg_per_year: Default::default(),
        });
        let mut gas = 0;
        let mut water = 0;
        for (kind, count) in e.outlets {
            for k in 0..*count {
                let (prefix, seq) = match kind.kind {
                    OutletKind::FlueGas => {
                        gas += 1;
                        ("DA", gas)
                    }
                    OutletKind::Wastewater => {
                        water += 1;
                        ("DW", water)
                    }
                };
                let outlet_id = format!("{id}-{prefix}{seq:03}");
                let name =
                    if *count > 1 { format!("{}#{}", k + 1, kind.name_zh) } else { kind.name_zh.to_string() };
                r.outlets.push(Outlet {
                    id: outlet_id.clone(),
                    enterprise: id.clone(),
                    name,
                    kind: kind.kind,
                    source_type: kind.source_type.into(),
                    reference_o2: kind.reference_o2,
                    standard: kind.standard.into(),
                    limits: kind
                        .limits
                        .iter()
                        .map(|(f, min, max, (y, m, d))| Limit {
                            factor: (*f).into(),
                            min: *min,
                            max: *max,
                            effective_from: date(*y, *m, *d),
                        })
                        .collect(),
                });
                let dev_no = r.devices.len() + 1;
                let factors: &[&str] = match kind.kind {
                    OutletKind::FlueGas => &FLUE_GAS_FACTORS,
                    OutletKind::Wastewater => &WASTEWATER_FACTORS,
                };
                r.devices.push(Device {
                    mn: format!("14100020{n:02}{dev_no:02}000000000000"),
                    password: format!("{:06}", 100_000 + dev_no * 7919 % 900_000),
                    outlet: outlet_id,
                    protocol: Protocol::V2017,
                    crc: CrcPolicy::Standard,
                    max_segment_len: 1024,
                    rtd_interval_s: 30,
                    minute_interval_min: 1,
                    hourly: true,
                    factors: factors.iter().map(|f| f.to_string()).collect(),
                });
            }
        }
    }
    // A few loggers speak the dialects a real city has, and the registry says so: an HJ/T
    // 212-2005 logger, an HJ 212-2025 one, and one whose CRC is CRC-16/MODBUS.
    if let Some(d) = r.devices.get_mut(6) {
        d.protocol = Protocol::V2005;
    }
    if let Some(d) = r.devices.get_mut(12) {
        d.crc = CrcPolicy::Modbus;
    }
    if let Some(d) = r.devices.get_mut(20) {
        d.protocol = Protocol::V2025;
    }
    // Permitted annual totals for the main air pollutants, sized from the number of stacks.
    for e in &mut r.enterprises {
        let stacks =
            r.outlets.iter().filter(|o| o.enterprise == e.id && o.kind == OutletKind::FlueGas).count();
        if stacks > 0 {
            let s = stacks as f64;
            e.permitted_kg_per_year.insert(PM.into(), 40_000.0 * s);
            e.permitted_kg_per_year.insert(SO2.into(), 120_000.0 * s);
            e.permitted_kg_per_year.insert(NOX.into(), 400_000.0 * s);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_city_is_sound_and_sized() {
        let r = city();
        assert_eq!(r.validate(), vec![]);
        assert_eq!(r.enterprises.len(), 19);
        assert!((36..=44).contains(&r.outlets.len()), "{} outlets", r.outlets.len());
        assert_eq!(r.devices.len(), r.outlets.len());
        assert!(r.devices.iter().all(|d| d.mn.len() == 24));
    }

    #[test]
    fn coke_oven_pm_limit_tightens() {
        let r = city();
        let o = r.outlets.iter().find(|o| o.source_type == "coke_oven_chimney").unwrap();
        assert_eq!(o.limit_at(PM, date(2024, 12, 31)).unwrap().max, Some(15.0));
        assert_eq!(o.limit_at(PM, date(2025, 1, 1)).unwrap().max, Some(10.0));
        assert_eq!(o.limit_at(SO2, date(2025, 1, 1)).unwrap().max, Some(30.0));
    }

    #[test]
    fn deterministic() {
        assert_eq!(city(), city());
    }
}
