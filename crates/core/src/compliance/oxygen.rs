//! Reference-oxygen conversion (折算) of flue-gas pollutant hours.
//!
//! C_ref = C × (21 − O2_ref) / (21 − O2), O2 on a dry basis (HJ 75-2017).
//!
//! Decision: the conversion is applied to the **hourly means**, as HJ 75 does: the hour's mean
//! concentration and the mean of the O2 values measured in the same minutes as the valid
//! pollutant values (the same-minute a19001 records). Whether the hour is "not convertible" is
//! decided on that same hourly mean O2 (≥ `o2_not_convertible`), not minute by minute: a single
//! near-air minute (a purge, a door opened) does not void an hour whose mean is meaningful, and
//! an hour whose mean O2 is near air (shutdown, start-up) is not judged even when a few minutes
//! were below the threshold. The formula is non-linear in O2, so converting minutes and
//! averaging would give a different (and not the regulated) number.
//!
//! When the device sends its own converted values (`ZsAvg`, else `ZsRtd`) for every valid
//! minute of the hour, their mean is the converted mean (the device knows its O2 basis); the
//! O2 test above still applies when O2 is reported. Without device values for every minute, the
//! hour is converted from O2; without any O2 either, it is invalid ([`Invalidity::NoOxygen`]).

use super::params::Params;
use super::prepare::{Prepared, is_converted, mean, record_at, valid_value, zs_value};
use super::types::{Invalidity, Record, Source, factor};
use crate::china_time::HOUR_MS;

/// The converted hourly mean of `code` for the hour starting at `start`, given the hour's valid
/// minute records and their mean.
pub(crate) fn convert_hour(
    src: &Source,
    prep: &Prepared<'_>,
    code: &str,
    start: i64,
    valid: &[(&Record, f64)],
    hour_mean: f64,
    params: &Params,
) -> Result<f64, Invalidity> {
    let Some(reference) = src.reference_o2.filter(|_| is_converted(src, code)) else {
        return Ok(hour_mean);
    };
    let o2_hour = prep.minutes_in(factor::O2, start, start.saturating_add(HOUR_MS));
    let o2 = mean(
        valid
            .iter()
            .filter_map(|(r, _)| record_at(o2_hour, r.data_time))
            .filter_map(|r| valid_value(r, params)),
    );
    if let Some(o2) = o2
        && (o2 >= params.o2_not_convertible || o2 >= 21.0)
    {
        return Err(Invalidity::NotConvertible);
    }
    let zs: Vec<f64> = valid.iter().filter_map(|(r, _)| zs_value(&r.values)).collect();
    if !zs.is_empty() && zs.len() == valid.len() {
        return mean(zs.into_iter()).ok_or(Invalidity::NoOxygen);
    }
    match o2 {
        Some(o2) => Ok(hour_mean * (21.0 - reference) / (21.0 - o2)),
        None => Err(Invalidity::NoOxygen),
    }
}

/// The converted value of the device's hourly record `r` of `code` (value `v`) for the hour
/// starting at `start`: the same decisions as [`convert_hour`] with the hour's O2 taken from the
/// device's hourly O2 record: not convertible at or above `o2_not_convertible`, the device's
/// `ZsAvg` (else `ZsRtd`) when sent, else `v` converted with that O2, else [`Invalidity::NoOxygen`].
pub(crate) fn convert_device_hour(
    src: &Source,
    prep: &Prepared<'_>,
    code: &str,
    start: i64,
    r: &Record,
    v: f64,
    params: &Params,
) -> Result<f64, Invalidity> {
    let Some(reference) = src.reference_o2.filter(|_| is_converted(src, code)) else {
        return Ok(v);
    };
    let o2 = prep.device_hour(factor::O2, start).and_then(|o| valid_value(o, params));
    if let Some(o2) = o2
        && (o2 >= params.o2_not_convertible || o2 >= 21.0)
    {
        return Err(Invalidity::NotConvertible);
    }
    if let Some(zs) = zs_value(&r.values) {
        return Ok(zs);
    }
    match o2 {
        Some(o2) => Ok(v * (21.0 - reference) / (21.0 - o2)),
        None => Err(Invalidity::NoOxygen),
    }
}
