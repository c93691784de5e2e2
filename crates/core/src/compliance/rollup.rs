//! Rates of outlets, enterprises, industries and the whole city, summed from the devices' stored
//! rates: counts are added first and the ratios taken after, so an enterprise's transmission rate
//! is its received records over its expected records, not an average of its outlets' rates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::types::{Period, Rate};
use crate::Registry;

/// What rates are summed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Outlet,
    Enterprise,
    /// The enterprise's industry (`coal_power`, `coking`, …).
    Industry,
    /// Every device.
    City,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Outlet, Scope::Enterprise, Scope::Industry, Scope::City];
    pub fn name(self) -> &'static str {
        match self {
            Scope::Outlet => "outlet",
            Scope::Enterprise => "enterprise",
            Scope::Industry => "industry",
            Scope::City => "city",
        }
    }
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|v| v.name() == s)
    }
}

/// Summed rates of one group over one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupRate {
    pub scope: Scope,
    /// Outlet id, enterprise id, industry, or `city`.
    pub key: String,
    pub period: Period,
    pub start: i64,
    /// Devices whose rates were summed.
    pub devices: u32,
    pub expected: u64,
    pub received: u64,
    pub valid: u64,
    pub transmission: f64,
    pub validity: f64,
    pub effective_transmission: f64,
    pub judged_hours: u64,
    pub exceeding_hours: u64,
    /// Judged periods not exceeding / judged periods; none when nothing was judged.
    pub compliance: Option<f64>,
}

/// The group a device's rate belongs to, or `None` when the registry no longer knows its outlet
/// (its rates are then left out rather than put in a wrong group).
pub fn group_key(r: &Rate, registry: &Registry, scope: Scope) -> Option<String> {
    let outlet = registry.outlet(&r.outlet);
    match scope {
        Scope::Outlet => Some(r.outlet.clone()),
        Scope::Enterprise => outlet.map(|o| o.enterprise.clone()),
        Scope::Industry => {
            outlet.and_then(|o| registry.enterprise(&o.enterprise)).map(|e| e.industry.clone())
        }
        Scope::City => Some("city".to_string()),
    }
}

/// Sum `rates` (one device's row per period) into groups of `scope`, ordered by key, period and
/// start.
pub fn rollup(rates: &[Rate], registry: &Registry, scope: Scope) -> Vec<GroupRate> {
    let mut groups: BTreeMap<(String, Period, i64), GroupRate> = BTreeMap::new();
    for r in rates {
        let Some(key) = group_key(r, registry, scope) else { continue };
        let g = groups.entry((key.clone(), r.period, r.start)).or_insert_with(|| GroupRate {
            scope,
            key,
            period: r.period,
            start: r.start,
            devices: 0,
            expected: 0,
            received: 0,
            valid: 0,
            transmission: 0.0,
            validity: 0.0,
            effective_transmission: 0.0,
            judged_hours: 0,
            exceeding_hours: 0,
            compliance: None,
        });
        g.devices += 1;
        g.expected += u64::from(r.expected);
        // A device sending more than expected (duplicated intervals) does not lift the group
        // over 100 %: its counts are capped at its own expectation, as its own rates are.
        g.received += u64::from(r.received.min(r.expected));
        g.valid += u64::from(r.valid.min(r.expected));
        g.judged_hours += u64::from(r.judged_hours);
        g.exceeding_hours += u64::from(r.exceeding_hours.min(r.judged_hours));
    }
    groups
        .into_values()
        .map(|mut g| {
            let share = |n: u64, d: u64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
            g.transmission = share(g.received, g.expected);
            // The device rates' meanings (`rates`): validity is valid / received, the effective
            // transmission valid / expected (= transmission × validity).
            g.validity = share(g.valid, g.received);
            g.effective_transmission = share(g.valid, g.expected);
            g.compliance =
                (g.judged_hours > 0).then(|| share(g.judged_hours - g.exceeding_hours, g.judged_hours));
            g
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Enterprise, Outlet, OutletKind, Ownership};

    fn registry() -> Registry {
        let ent = |id: &str, industry: &str| Enterprise {
            id: id.into(),
            name: id.into(),
            uscc: String::new(),
            ownership: Ownership::LocalSoe,
            industry: industry.into(),
            category: None,
            address: String::new(),
            longitude: None,
            latitude: None,
            contacts: vec![],
            permitted_kg_per_year: Default::default(),
        };
        let outlet = |id: &str, e: &str| Outlet {
            id: id.into(),
            enterprise: e.into(),
            name: id.into(),
            kind: OutletKind::FlueGas,
            source_type: String::new(),
            reference_o2: Some(6.0),
            standard: String::new(),
            limits: vec![],
        };
        Registry {
            enterprises: vec![ent("E1", "coking"), ent("E2", "coking"), ent("E3", "steel")],
            outlets: vec![outlet("O1", "E1"), outlet("O2", "E1"), outlet("O3", "E2"), outlet("O4", "E3")],
            devices: vec![],
        }
    }

    fn rate(outlet: &str, expected: u32, received: u32, valid: u32, judged: u32, exceeding: u32) -> Rate {
        Rate {
            mn: format!("M-{outlet}"),
            outlet: outlet.into(),
            period: Period::Day,
            start: 0,
            expected,
            received,
            valid,
            transmission: 0.0,
            validity: 0.0,
            effective_transmission: 0.0,
            compliance: None,
            judged_hours: judged,
            exceeding_hours: exceeding,
        }
    }

    #[test]
    fn counts_are_summed_before_ratios() {
        let r = registry();
        let rates = [
            rate("O1", 1440, 1440, 1440, 24, 0),
            rate("O2", 1440, 720, 360, 12, 6),
            rate("O3", 144, 144, 144, 24, 24),
            rate("O4", 1440, 1440, 1440, 0, 0),
            rate("gone", 1440, 0, 0, 0, 0),
        ];
        let e = rollup(&rates, &r, Scope::Enterprise);
        assert_eq!(e.len(), 3);
        let e1 = &e[0];
        assert_eq!(
            (e1.key.as_str(), e1.devices, e1.expected, e1.received, e1.valid),
            ("E1", 2, 2880, 2160, 1800)
        );
        assert_eq!(e1.transmission, 0.75);
        // Validity 1800 / 2160 = 0.8333, effective transmission 1800 / 2880 = 0.75 × 0.8333 = 0.625.
        assert_eq!(e1.validity, 1800.0 / 2160.0);
        assert_eq!(e1.effective_transmission, 1800.0 / 2880.0);
        // 36 judged hours, 6 exceeding: 30/36, not the mean of 100 % and 50 %.
        assert_eq!(e1.compliance, Some(30.0 / 36.0));
        // Nothing judged: no compliance rate rather than 100 %.
        assert_eq!(e[2].compliance, None);

        let i = rollup(&rates, &r, Scope::Industry);
        let coking = i.iter().find(|g| g.key == "coking").unwrap();
        assert_eq!((coking.devices, coking.judged_hours, coking.exceeding_hours), (3, 60, 30));
        assert_eq!(coking.compliance, Some(0.5));

        let city = rollup(&rates, &r, Scope::City);
        assert_eq!(city.len(), 1);
        // The device whose outlet is gone from the registry still counts for the city.
        assert_eq!(city[0].devices, 5);
        assert_eq!(rollup(&rates, &r, Scope::Outlet).len(), 5);
    }

    #[test]
    fn more_than_expected_does_not_pass_one() {
        let r = registry();
        let g = rollup(&[rate("O1", 100, 130, 120, 1, 3)], &r, Scope::Enterprise);
        assert_eq!(g[0].transmission, 1.0);
        assert_eq!(g[0].validity, 1.0);
        assert_eq!(g[0].compliance, Some(0.0));
    }
}
