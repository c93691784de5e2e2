//! Shared by the modules of this binary: the path of the `fenhe` executable, and (for the
//! compliance and replay tests) a small registry cut from the demo city and devices matching
//! simulated data loggers.

use fenhe_core::{Device, OutletKind, Protocol, Registry};
use fenhe_sim::DeviceSpec;
use hj212::Version;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_fenhe")
}

/// The demo city's first flue-gas outlet with a reference O2 and its first wastewater outlet,
/// with their enterprises and no devices: `(registry, gas outlet id, water outlet id)`.
pub fn two_outlets() -> (Registry, String, String) {
    let city = fenhe_core::demo::city();
    let gas =
        city.outlets.iter().find(|o| o.kind == OutletKind::FlueGas && o.reference_o2.is_some()).unwrap();
    let water = city.outlets.iter().find(|o| o.kind == OutletKind::Wastewater).unwrap();
    let mut enterprises: Vec<_> = city
        .enterprises
        .iter()
        .filter(|e| e.id == gas.enterprise || e.id == water.enterprise)
        .cloned()
        .collect();
    enterprises.dedup_by(|a, b| a.id == b.id);
    let r = Registry { enterprises, outlets: vec![gas.clone(), water.clone()], devices: vec![] };
    (r, gas.id.clone(), water.id.clone())
}

/// The registration of a simulated logger at `outlet`, as the simulator sends.
pub fn device_for(spec: &DeviceSpec, outlet: &str) -> Device {
    Device {
        mn: spec.mn.clone(),
        password: spec.password.clone(),
        outlet: outlet.into(),
        protocol: match spec.version {
            Version::V2005 => Protocol::V2005,
            Version::V2025 => Protocol::V2025,
            _ => Protocol::V2017,
        },
        crc: Default::default(),
        max_segment_len: 1024,
        rtd_interval_s: spec.rtd_interval_s,
        minute_interval_min: spec.minute_interval_min,
        hourly: spec.send_hourly,
        factors: spec.kind.factors().iter().map(|c| c.to_string()).collect(),
    }
}
