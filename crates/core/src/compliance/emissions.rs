//! Emission quantities (排放量): kg per minute record = measured concentration (NOT the
//! reference-O2 value) × flow × seconds × 1e-6 (flue gas: mg/m³ × m³/s; water: mg/L × L/s), or
//! the device's own `-Cou` (kg) when it sends one. Hours and days sum the records; months sum
//! days ([`super::monthly`]). An hour without minute data of the pollutant counts the device's
//! hourly record (2061) instead: its `Cou`, else its value × the hourly flow × 3600 s.
//!
//! Only records whose flag counts for compliance contribute (for the pollutant and for the
//! flow), and a negative concentration counts as zero. Substitution for missing periods (HJ 75
//! §11) is not applied: the totals are what valid data measured.

use super::params::Params;
use super::prepare::{Prepared, flow_factor, record_at, valid_value};
use super::types::{Emission, Period, Record, Source};
use crate::china_time::HOUR_MS;

/// The emission of pollutant `code` in the hour starting at `start`, when any record
/// contributed.
pub(crate) fn hour_emission(
    src: &Source,
    prep: &Prepared<'_>,
    code: &str,
    start: i64,
    params: &Params,
) -> Option<Emission> {
    let seconds = prep.interval_ms as f64 / 1000.0;
    let flow = flow_factor(src.kind);
    let (mut kg, mut records, mut from_cou) = (0.0, 0u32, false);
    let end = start.saturating_add(HOUR_MS);
    let flows = prep.minutes_in(flow, start, end);
    let minutes = prep.minutes_in(code, start, end);
    if minutes.is_empty()
        && let Some(r) = prep.device_hour(code, start)
    {
        return device_hour_emission(src, prep, code, start, r, params);
    }
    for r in minutes {
        if !params.is_valid_flag(r.values.flag()) {
            continue;
        }
        if let Some(cou) = r.values.cou().filter(|c| c.is_finite()) {
            kg += cou.max(0.0);
            from_cou = true;
            records += 1;
            continue;
        }
        let Some(c) = valid_value(r, params) else { continue };
        let q = record_at(flows, r.data_time).and_then(|f| valid_value(f, params));
        if let Some(q) = q.filter(|q| *q >= 0.0) {
            kg += c.max(0.0) * q * seconds * 1e-6;
            records += 1;
        }
    }
    (records > 0).then(|| Emission {
        mn: src.mn.clone(),
        outlet: src.outlet.clone(),
        factor: code.to_string(),
        period: Period::Hour,
        start,
        kg,
        records,
        from_cou,
    })
}

/// The emission of an hour without minute data of `code`, from the device's hourly record `r`:
/// its `Cou` (kg) when sent, else its value × the hour's mean flow (the flow's hourly record)
/// × 3600 s × 1e-6. Only a valid-flagged record (and flow) counts.
fn device_hour_emission(
    src: &Source,
    prep: &Prepared<'_>,
    code: &str,
    start: i64,
    r: &Record,
    params: &Params,
) -> Option<Emission> {
    if !params.is_valid_flag(r.values.flag()) {
        return None;
    }
    let (kg, from_cou) = match r.values.cou().filter(|c| c.is_finite()) {
        Some(cou) => (cou.max(0.0), true),
        None => {
            let c = valid_value(r, params)?;
            let q = prep
                .device_hour(flow_factor(src.kind), start)
                .and_then(|f| valid_value(f, params))
                .filter(|q| *q >= 0.0)?;
            (c.max(0.0) * q * (HOUR_MS as f64 / 1000.0) * 1e-6, false)
        }
    };
    Some(Emission {
        mn: src.mn.clone(),
        outlet: src.outlet.clone(),
        factor: code.to_string(),
        period: Period::Hour,
        start,
        kg,
        records: 1,
        from_cou,
    })
}

/// Sum of emissions of one factor (any order) into one row of `period` starting at `start`.
pub(crate) fn total(src: &Source, code: &str, period: Period, start: i64, parts: &[&Emission]) -> Emission {
    let mut parts = parts.to_vec();
    parts.sort_by_key(|e| e.start);
    Emission {
        mn: src.mn.clone(),
        outlet: src.outlet.clone(),
        factor: code.to_string(),
        period,
        start,
        kg: parts.iter().map(|e| e.kg).sum(),
        records: parts.iter().fold(0u32, |n, e| n.saturating_add(e.records)),
        from_cou: parts.iter().any(|e| e.from_cou),
    }
}
