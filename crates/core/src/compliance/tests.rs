//! Hand-computed cases, one per rule and edge, and the order/window properties of `evaluate`.

use std::collections::BTreeMap;

use super::*;
use crate::Limit;
use crate::china_time::{DAY_MS, HOUR_MS, MINUTE_MS, date_start};
use crate::registry::OutletKind;

const SO2: &str = "a21026";
const O2: &str = "a19001";
const FLOW: &str = "a00000";
const COD: &str = "w01018";
const WFLOW: &str = "w00000";
const PH: &str = "w01001";

/// 2026-11-28 00:00 China time.
fn t0() -> i64 {
    date_start(jiff::civil::date(2026, 11, 28))
}

fn at(minutes: i64) -> i64 {
    t0() + minutes * MINUTE_MS
}

fn limit(factor: &str, max: Option<f64>, min: Option<f64>, from: &str) -> Limit {
    Limit { factor: factor.into(), max, min, effective_from: from.parse().unwrap() }
}

fn air() -> Source {
    Source {
        mn: "M1".into(),
        outlet: "O1".into(),
        enterprise: "E1".into(),
        kind: OutletKind::FlueGas,
        source_type: "coal_boiler".into(),
        reference_o2: Some(6.0),
        limits: vec![limit(SO2, Some(35.0), None, "2026-01-01")],
        minute_interval_min: 1,
        hourly: false,
        factors: vec![SO2.into()],
    }
}

fn water() -> Source {
    Source {
        kind: OutletKind::Wastewater,
        source_type: "sewage".into(),
        reference_o2: None,
        limits: vec![
            limit(COD, Some(50.0), None, "2026-01-01"),
            limit(PH, Some(9.0), Some(6.0), "2026-01-01"),
        ],
        factors: vec![COD.into(), PH.into(), WFLOW.into()],
        ..air()
    }
}

fn rec(kind: DataKind, t: i64, factor: &str, v: f64) -> Record {
    Record {
        kind,
        data_time: t,
        factor: factor.into(),
        values: RuleValues::default().with(RuleNumber::Avg, v).with_flag("N"),
        received_at: t.saturating_add(MINUTE_MS),
    }
}

fn minute(t: i64, factor: &str, v: f64) -> Record {
    rec(DataKind::Minute, t, factor, v)
}

fn flagged(mut r: Record, flag: &str) -> Record {
    r.values.set_flag(Some(flag.into()));
    r
}

/// `n` minute records of `factor` from `start`, every `step` minutes, value `v`.
fn series(start: i64, n: i64, step: i64, factor: &str, v: f64) -> Vec<Record> {
    (0..n).map(|i| minute(start + i * step * MINUTE_MS, factor, v)).collect()
}

fn day_window(days: i64) -> Window {
    Window { from: t0(), to: t0() + days * DAY_MS, now: t0() + days * DAY_MS }
}

fn hour<'a>(e: &'a Evaluation, factor: &str, start: i64) -> &'a Aggregate {
    e.hours.iter().find(|h| h.factor == factor && h.start == start).expect("hour")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * (1.0 + a.abs().max(b.abs()))
}

// ---------------------------------------------------------------- hours

#[test]
fn hour_needs_45_valid_minutes() {
    let p = Params::default();
    let mut s = air();
    s.reference_o2 = None;
    let mut r = series(at(0), 44, 1, SO2, 10.0);
    r.extend(series(at(60), 45, 1, SO2, 20.0));
    let e = evaluate(&s, &r, day_window(1), &p);
    let h0 = hour(&e, SO2, at(0));
    assert_eq!(
        (h0.valid, h0.reason, h0.valid_units, h0.records),
        (false, Some(Invalidity::InsufficientCoverage), 44, 44)
    );
    assert_eq!(h0.mean, Some(10.0), "the mean is still shown");
    assert!(!h0.exceeds);
    let h1 = hour(&e, SO2, at(60));
    assert_eq!((h1.valid, h1.reason, h1.valid_units), (true, None, 45));
    assert_eq!(h1.converted_mean, Some(20.0), "no reference O2: converted = measured");
    // Registered factors get every complete hour, with NoData where nothing came.
    assert_eq!(e.hours.len(), 24);
    assert_eq!(hour(&e, SO2, at(120)).reason, Some(Invalidity::NoData));
}

#[test]
fn ten_minute_records_need_five_of_six() {
    let p = Params::default();
    let mut s = air();
    s.reference_o2 = None;
    s.minute_interval_min = 10;
    let mut r = series(at(0), 4, 10, SO2, 10.0);
    r.extend(series(at(60), 5, 10, SO2, 10.0));
    r.extend(series(at(120), 6, 10, SO2, 10.0));
    let e = evaluate(&s, &r, day_window(1), &p);
    assert_eq!((hour(&e, SO2, at(0)).valid_units, hour(&e, SO2, at(0)).valid), (40, false));
    assert_eq!((hour(&e, SO2, at(60)).valid_units, hour(&e, SO2, at(60)).valid), (50, true));
    assert_eq!((hour(&e, SO2, at(120)).valid_units, hour(&e, SO2, at(120)).valid), (60, true));
}

#[test]
fn every_invalid_flag_is_excluded() {
    let p = Params::default();
    let mut s = air();
    s.reference_o2 = None;
    for flag in ["F", "M", "S", "D", "C", "T", "B"] {
        // 45 N minutes at 10 and one flagged minute at 1000: still valid, mean 10.
        let mut r = series(at(0), 45, 1, SO2, 10.0);
        r.push(flagged(minute(at(50), SO2, 1000.0), flag));
        let e = evaluate(&s, &r, day_window(1), &p);
        let h = hour(&e, SO2, at(0));
        assert_eq!((h.mean, h.valid_units, h.records, h.valid), (Some(10.0), 45, 46, true), "{flag}");
        // 44 N minutes and 16 flagged ones: not enough valid coverage.
        let mut r = series(at(0), 44, 1, SO2, 10.0);
        r.extend(series(at(44), 16, 1, SO2, 10.0).into_iter().map(|x| flagged(x, flag)));
        let e = evaluate(&s, &r, day_window(1), &p);
        assert_eq!(hour(&e, SO2, at(0)).reason, Some(Invalidity::InsufficientCoverage), "{flag}");
        // Only flagged data: no valid data at all.
        let r: Vec<_> = series(at(0), 60, 1, SO2, 10.0).into_iter().map(|x| flagged(x, flag)).collect();
        let e = evaluate(&s, &r, day_window(1), &p);
        assert_eq!(hour(&e, SO2, at(0)).reason, Some(Invalidity::NoValidData), "{flag}");
    }
    // No flag at all counts as N; a configured extra valid flag counts.
    let mut r = series(at(0), 60, 1, SO2, 10.0);
    r.iter_mut().for_each(|x| x.values.set_flag(None));
    assert!(hour(&evaluate(&s, &r, day_window(1), &p), SO2, at(0)).valid);
    let r: Vec<_> = series(at(0), 60, 1, SO2, 10.0).into_iter().map(|x| flagged(x, "S")).collect();
    let mut p2 = p.clone();
    p2.apply("valid_flags=N,S").unwrap();
    assert!(hour(&evaluate(&s, &r, day_window(1), &p2), SO2, at(0)).valid);
}

#[test]
fn rtd_when_no_avg_and_nan_is_not_a_value() {
    let mut s = air();
    s.reference_o2 = None;
    let mut r = series(at(0), 60, 1, SO2, 10.0);
    for x in &mut r[..30] {
        x.values.set(RuleNumber::Avg, None);
        x.values.set(RuleNumber::Rtd, Some(20.0));
    }
    r[59].values.set(RuleNumber::Avg, Some(f64::NAN));
    let e = evaluate(&s, &r, day_window(1), &Params::default());
    let h = hour(&e, SO2, at(0));
    assert_eq!(h.valid_units, 59);
    assert!(close(h.mean.unwrap(), (30.0 * 20.0 + 29.0 * 10.0) / 59.0));
}

// ---------------------------------------------------------------- oxygen

#[test]
fn converted_from_same_minute_oxygen_hourly_means() {
    let p = Params::default();
    // SO2 30 mg/m³, O2 alternating 9 % and 11 % (mean 10 %), reference 6 %.
    let mut r = series(at(0), 60, 1, SO2, 30.0);
    r.extend((0..60).map(|i| minute(at(i), O2, if i % 2 == 0 { 9.0 } else { 11.0 })));
    let e = evaluate(&air(), &r, day_window(1), &p);
    let h = hour(&e, SO2, at(0));
    // 30 × (21 − 6) / (21 − 10) = 40.909…: hourly means, not the mean of minute conversions.
    assert!(close(h.converted_mean.unwrap(), 30.0 * 15.0 / 11.0), "{h:?}");
    assert!(h.exceeds, "40.9 > 35");
    // The O2 hour itself is a parameter: never converted.
    assert_eq!(hour(&e, O2, at(0)).converted_mean, Some(10.0));
    assert!(!hour(&e, O2, at(0)).exceeds);
}

#[test]
fn oxygen_at_19_is_not_convertible() {
    let p = Params::default();
    for (o2, convertible) in [(19.0, false), (18.9, true)] {
        let mut r = series(at(0), 60, 1, SO2, 30.0);
        r.extend(series(at(0), 60, 1, O2, o2));
        let e = evaluate(&air(), &r, day_window(1), &p);
        let h = hour(&e, SO2, at(0));
        assert_eq!(h.valid, convertible, "{o2}");
        if convertible {
            assert!(close(h.converted_mean.unwrap(), 30.0 * 15.0 / (21.0 - 18.9)));
            assert!(h.exceeds);
        } else {
            assert_eq!(
                (h.reason, h.converted_mean, h.exceeds),
                (Some(Invalidity::NotConvertible), None, false)
            );
            assert_eq!(h.mean, Some(30.0));
        }
    }
    // Decided on the hourly mean: one near-air minute does not void the hour…
    let mut r = series(at(0), 60, 1, SO2, 30.0);
    r.extend((0..60).map(|i| minute(at(i), O2, if i == 0 { 20.5 } else { 10.0 })));
    assert!(hour(&evaluate(&air(), &r, day_window(1), &p), SO2, at(0)).valid);
    // …and an hour whose mean is near air is not judged even though some minutes were lower.
    let mut r = series(at(0), 60, 1, SO2, 30.0);
    r.extend((0..60).map(|i| minute(at(i), O2, if i < 10 { 15.0 } else { 20.0 })));
    assert_eq!(
        hour(&evaluate(&air(), &r, day_window(1), &p), SO2, at(0)).reason,
        Some(Invalidity::NotConvertible)
    );
}

#[test]
fn device_converted_values_win_and_no_oxygen_is_invalid() {
    let p = Params::default();
    let mut r = series(at(0), 60, 1, SO2, 30.0);
    r.iter_mut().for_each(|x| x.values.set(RuleNumber::ZsAvg, Some(33.0)));
    let e = evaluate(&air(), &r, day_window(1), &p);
    assert_eq!(hour(&e, SO2, at(0)).converted_mean, Some(33.0));
    // ZsRtd when there is no ZsAvg.
    let mut r = series(at(0), 60, 1, SO2, 30.0);
    r.iter_mut().for_each(|x| x.values.set(RuleNumber::ZsRtd, Some(36.0)));
    let e = evaluate(&air(), &r, day_window(1), &p);
    assert!(hour(&e, SO2, at(0)).exceeds);
    // Neither device values nor O2.
    let r = series(at(0), 60, 1, SO2, 30.0);
    let e = evaluate(&air(), &r, day_window(1), &p);
    assert_eq!(hour(&e, SO2, at(0)).reason, Some(Invalidity::NoOxygen));
    assert!(!hour(&e, SO2, at(0)).valid);
}

#[test]
fn codes_normalised_from_2005_are_plain_2017_codes() {
    // A record that arrived as 2005 code "02" (SO2) is stored as a21026 and treated as such.
    let r: Vec<Record> =
        series(at(0), 60, 1, "a21026", 40.0).into_iter().chain(series(at(0), 60, 1, "a19001", 6.0)).collect();
    let e = evaluate(&air(), &r, day_window(1), &Params::default());
    assert_eq!(hour(&e, SO2, at(0)).converted_mean, Some(40.0));
    assert!(hour(&e, SO2, at(0)).exceeds);
}

// ---------------------------------------------------------------- limits and episodes

fn so2_hours(hours: &[(i64, f64)]) -> Vec<Record> {
    let mut r = Vec::new();
    for &(h, v) in hours {
        r.extend(series(at(h * 60), 60, 1, SO2, v));
        r.extend(series(at(h * 60), 60, 1, O2, 6.0));
    }
    r
}

#[test]
fn limit_change_mid_day_applies_from_the_dates_first_hour() {
    let mut s = air();
    // 35 until 2026-11-28, 30 from 2026-11-29 (the second day of the window).
    s.limits.push(limit(SO2, Some(30.0), None, "2026-11-29"));
    let r = so2_hours(&[(23, 32.0), (24, 32.0), (25, 32.0)]);
    let e = evaluate(&s, &r, day_window(2), &Params::default());
    assert_eq!((hour(&e, SO2, at(23 * 60)).limit, hour(&e, SO2, at(23 * 60)).exceeds), (Some(35.0), false));
    assert_eq!((hour(&e, SO2, at(24 * 60)).limit, hour(&e, SO2, at(24 * 60)).exceeds), (Some(30.0), true));
    assert_eq!(e.episodes.len(), 1);
    assert_eq!((e.episodes[0].start, e.episodes[0].periods), (at(24 * 60), 2));
}

#[test]
fn episode_spans_midnight_and_breaks_on_a_gap() {
    // Hours 22, 23 (day 1), 0, 1 (day 2) exceed; 3 exceeds after a missing hour 2.
    let r = so2_hours(&[(22, 40.0), (23, 52.3), (24, 45.0), (25, 36.0), (27, 70.0)]);
    let e = evaluate(&air(), &r, day_window(2), &Params::default());
    assert_eq!(e.episodes.len(), 2, "{:?}", e.episodes);
    let a = &e.episodes[0];
    assert_eq!((a.start, a.end, a.periods), (at(22 * 60), at(26 * 60), 4));
    assert!(close(a.max_converted, 52.3) && a.limit == 35.0);
    assert!(close(a.max_multiple, (52.3 - 35.0) / 35.0));
    assert!(!a.open);
    let b = &e.episodes[1];
    assert_eq!((b.start, b.periods), (at(27 * 60), 1));
    // `episodes` over the hours gives the same.
    let again = episodes(&air(), &e.hours);
    assert_eq!(
        again.iter().map(|e| (e.start, e.end)).collect::<Vec<_>>(),
        [(a.start, a.end), (b.start, b.end)]
    );
}

#[test]
fn episode_open_only_when_it_reaches_now() {
    let r = so2_hours(&[(0, 40.0), (1, 40.0)]);
    let w = Window { from: t0(), to: t0() + DAY_MS, now: at(2 * 60 + 30) };
    let e = evaluate(&air(), &r, w, &Params::default());
    assert_eq!(e.hours.iter().filter(|h| h.factor == SO2).count(), 2, "only ended hours");
    assert!(e.days.is_empty(), "the day has not ended");
    assert!(e.episodes[0].open);
    let w = Window { now: at(3 * 60 + 30), ..w };
    let e = evaluate(&air(), &r, w, &Params::default());
    assert!(!e.episodes[0].open, "hour 2 had no data: over");
}

#[test]
fn late_minute_flips_an_hour() {
    let p = Params::default();
    let mut s = air();
    s.reference_o2 = None;
    let mut r = series(at(0), 44, 1, SO2, 40.0);
    let before = evaluate(&s, &r, day_window(1), &p);
    assert!(!hour(&before, SO2, at(0)).valid);
    assert!(before.episodes.is_empty());
    r.insert(0, minute(at(59), SO2, 40.0));
    let after = evaluate(&s, &r, day_window(1), &p);
    assert!(hour(&after, SO2, at(0)).valid && hour(&after, SO2, at(0)).exceeds);
    assert_eq!(after.episodes.len(), 1);
    // A revision of that minute (same key, later receipt) replaces it.
    let mut rev = minute(at(59), SO2, 40.0);
    rev.values.set_flag(Some("M".into()));
    rev.received_at += HOUR_MS;
    r.push(rev);
    assert!(!hour(&evaluate(&s, &r, day_window(1), &p), SO2, at(0)).valid);
}

// ---------------------------------------------------------------- days and water

#[test]
fn day_needs_20_valid_hours_and_air_day_is_informational() {
    let p = Params::default();
    let hours: Vec<(i64, f64)> = (0..20).map(|h| (h, if h == 0 { 60.0 } else { 30.0 })).collect();
    let e = evaluate(&air(), &so2_hours(&hours), day_window(1), &p);
    let d = e.days.iter().find(|d| d.factor == SO2).unwrap();
    assert_eq!((d.valid, d.valid_units, d.records), (true, 20, 20));
    assert!(close(d.converted_mean.unwrap(), (60.0 + 19.0 * 30.0) / 20.0));
    assert!(!d.exceeds, "31.5 ≤ 35");
    assert_eq!((d.min, d.max), (Some(30.0), Some(60.0)));
    let e = evaluate(&air(), &so2_hours(&hours[..19]), day_window(1), &p);
    let d = e.days.iter().find(|d| d.factor == SO2).unwrap();
    assert_eq!((d.valid, d.reason), (false, Some(Invalidity::InsufficientCoverage)));
}

fn water_hours(hours: &[(i64, f64, f64, f64)]) -> Vec<Record> {
    let mut r = Vec::new();
    for &(h, cod, flow, ph) in hours {
        r.extend(series(at(h * 60), 60, 1, COD, cod));
        r.extend(series(at(h * 60), 60, 1, WFLOW, flow));
        r.extend(series(at(h * 60), 60, 1, PH, ph));
    }
    r
}

#[test]
fn water_day_is_flow_weighted_and_ph_judged_on_range() {
    let p = Params::default();
    // 12 hours COD 40 at 1 L/s, 12 hours COD 70 at 3 L/s: weighted (480 + 2520) / 48 = 62.5,
    // arithmetic 55. pH 9.5 for 12 h and 8.5 for 12 h: mean 9.0, inside [6, 9].
    let hours: Vec<_> =
        (0..24).map(|h| if h < 12 { (h, 40.0, 1.0, 9.5) } else { (h, 70.0, 3.0, 8.5) }).collect();
    let e = evaluate(&water(), &water_hours(&hours), day_window(1), &p);
    let cod = e.days.iter().find(|d| d.factor == COD).unwrap();
    assert!(close(cod.mean.unwrap(), 62.5));
    assert_eq!(cod.converted_mean, cod.mean);
    assert!(cod.exceeds);
    assert!(e.hours.iter().all(|h| !h.exceeds), "water hours are not judged");
    assert_eq!(hour(&e, COD, at(12 * 60)).limit, Some(50.0));
    let ph = e.days.iter().find(|d| d.factor == PH).unwrap();
    assert!(close(ph.mean.unwrap(), 9.0), "pH is not flow-weighted");
    assert!(!ph.exceeds);
    assert_eq!(e.episodes.len(), 1);
    assert_eq!((e.episodes[0].factor.as_str(), e.episodes[0].period), (COD, Period::Day));
    // Without weighting: 55, still above 50.
    let mut p2 = p.clone();
    p2.apply("water_flow_weighted=false").unwrap();
    let e = evaluate(&water(), &water_hours(&hours), day_window(1), &p2);
    assert!(close(e.days.iter().find(|d| d.factor == COD).unwrap().mean.unwrap(), 55.0));
    // pH below 6 exceeds.
    let hours: Vec<_> = (0..24).map(|h| (h, 10.0, 1.0, 5.5)).collect();
    let e = evaluate(&water(), &water_hours(&hours), day_window(1), &p);
    let ph = e.days.iter().find(|d| d.factor == PH).unwrap();
    assert!(ph.exceeds);
    let ep = e.episodes.iter().find(|x| x.factor == PH).unwrap();
    assert_eq!(ep.limit, 6.0);
    assert!(close(ep.max_multiple, 0.5 / 6.0));
}

// ---------------------------------------------------------------- emissions

#[test]
fn emissions_from_concentration_and_flow_or_cou() {
    let p = Params::default();
    // SO2 measured 20 mg/m³ (converted would be higher), flow 50 m³/s, 1-minute records:
    // 20 × 50 × 60 × 1e-6 = 0.06 kg per minute, 3.6 kg per hour.
    let mut r = series(at(0), 60, 1, SO2, 20.0);
    r.extend(series(at(0), 60, 1, O2, 12.0));
    r.extend(series(at(0), 60, 1, FLOW, 50.0));
    // Next hour: the device's Cou of 0.05 kg per minute, no flow needed.
    let mut cou = series(at(60), 60, 1, SO2, 20.0);
    cou.iter_mut().for_each(|x| x.values.set(RuleNumber::Cou, Some(0.05)));
    r.extend(cou);
    // Hour 2: concentration without flow contributes nothing.
    r.extend(series(at(120), 60, 1, SO2, 20.0));
    let e = evaluate(&air(), &r, day_window(1), &p);
    let hourly: Vec<_> = e.emissions.iter().filter(|x| x.period == Period::Hour).collect();
    assert_eq!(hourly.len(), 2);
    assert!(close(hourly[0].kg, 3.6) && !hourly[0].from_cou && hourly[0].records == 60);
    assert!(close(hourly[1].kg, 3.0) && hourly[1].from_cou);
    let day = e.emissions.iter().find(|x| x.period == Period::Day).unwrap();
    assert!(close(day.kg, 6.6) && day.records == 120 && day.from_cou);
    let month = e.emissions.iter().find(|x| x.period == Period::Month).unwrap();
    assert!(close(month.kg, 6.6));
    assert!(e.emissions.iter().all(|x| x.factor == SO2), "flow and O2 have no kg");
}

#[test]
fn water_emissions_mg_per_litre_times_litres() {
    // COD 40 mg/L × 2 L/s × 60 s × 1e-6 = 0.0048 kg per minute.
    let hours: Vec<_> = (0..1).map(|h| (h, 40.0, 2.0, 7.0)).collect();
    let e = evaluate(&water(), &water_hours(&hours), day_window(1), &Params::default());
    let h = e.emissions.iter().find(|x| x.period == Period::Hour && x.factor == COD).unwrap();
    assert!(close(h.kg, 0.0048 * 60.0));
    assert!(!e.emissions.iter().any(|x| x.factor == PH));
}

// ---------------------------------------------------------------- findings

fn kinds(e: &Evaluation, kind: FindingKind) -> Vec<&Finding> {
    e.findings.iter().filter(|f| f.kind == kind).collect()
}

#[test]
fn constant_run_of_12_not_11() {
    let p = Params::default();
    let mut s = air();
    s.reference_o2 = None;
    let mut r: Vec<Record> = (0..60).map(|i| minute(at(i), SO2, i as f64)).collect();
    for x in &mut r[10..22] {
        x.values.set(RuleNumber::Avg, Some(7.5));
    }
    for x in &mut r[30..41] {
        x.values.set(RuleNumber::Avg, Some(8.5));
    }
    let e = evaluate(&s, &r, day_window(1), &p);
    let c = kinds(&e, FindingKind::ConstantValue);
    assert_eq!(c.len(), 1, "{c:?}");
    assert_eq!((c[0].start, c[0].end, c[0].factor.as_deref()), (at(10), at(22), Some(SO2)));
    assert!(c[0].detail.contains("7.5") && c[0].detail.contains("12"), "{}", c[0].detail);
    assert!(!c[0].open);
    // Not while the unit is stopped (flow 0) when flow is reported.
    let mut r2 = r.clone();
    r2.extend((0..60).map(|i| minute(at(i), FLOW, if (10..22).contains(&i) { 0.0 } else { 40.0 })));
    let e = evaluate(&s, &r2, day_window(1), &p);
    assert!(kinds(&e, FindingKind::ConstantValue).iter().all(|f| f.factor.as_deref() != Some(SO2)));
    // Hourly (2061) values: 6 identical hours.
    let h: Vec<Record> = (0..6).map(|i| rec(DataKind::Hour, at(i * 60), SO2, 5.0)).collect();
    let e = evaluate(&s, &h, day_window(1), &p);
    assert_eq!(kinds(&e, FindingKind::ConstantValue).len(), 1);
    let e = evaluate(&s, &h[..5], day_window(1), &p);
    assert!(kinds(&e, FindingKind::ConstantValue).is_empty());
}

#[test]
fn zero_while_flow_and_negative_values() {
    let p = Params::default();
    let mut s = air();
    s.reference_o2 = None;
    let mut r = series(at(0), 10, 1, SO2, 0.0);
    r.extend(series(at(0), 10, 1, FLOW, 30.0));
    r.push(minute(at(20), SO2, -1.5));
    r.push(minute(at(21), SO2, -2.5));
    r.push(minute(at(22), "a01012", -3.0)); // flue temperature may be negative
    let e = evaluate(&s, &r, day_window(1), &p);
    let z = kinds(&e, FindingKind::ZeroWhileFlow);
    assert_eq!(z.len(), 1);
    assert_eq!((z[0].start, z[0].end), (at(0), at(10)));
    let n = kinds(&e, FindingKind::NegativeValue);
    assert_eq!(n.len(), 1);
    assert!(n[0].detail.contains("-2.5") && n[0].detail.contains("2 minute records"), "{}", n[0].detail);
}

#[test]
fn offline_gap_and_offline_at_now() {
    let p = Params::default();
    let mut s = air();
    s.reference_o2 = None;
    // Records at 0..=9, then 40 (30 min after 10: not offline), then 100 (60 > 30: offline).
    let mut r = series(at(0), 10, 1, SO2, 1.0);
    r.push(minute(at(39), SO2, 1.0));
    r.push(minute(at(100), SO2, 1.0));
    let w = Window { from: t0(), to: t0() + DAY_MS, now: at(120) };
    let e = evaluate(&s, &r, w, &p);
    let off = kinds(&e, FindingKind::Offline);
    assert_eq!(off.len(), 1, "{off:?}");
    assert_eq!((off[0].start, off[0].end, off[0].open), (at(40), at(100), false));
    assert!(off[0].detail.contains("61 min") && off[0].detail.contains("30 min"), "{}", off[0].detail);
    // Still silent at now: open, up to now.
    let w = Window { now: at(200), ..w };
    let e = evaluate(&s, &r, w, &p);
    let off = kinds(&e, FindingKind::Offline);
    assert_eq!(off.len(), 2);
    assert_eq!((off[1].start, off[1].end, off[1].open), (at(101), at(200), true));
    // 10-minute device: threshold max(3 × 10, 30) = 30 min; 40 min between records is offline.
    s.minute_interval_min = 10;
    let r = vec![minute(at(0), SO2, 1.0), minute(at(30), SO2, 1.0), minute(at(70), SO2, 1.0)];
    let e = evaluate(&s, &r, Window { now: at(80), ..w }, &p);
    let off = kinds(&e, FindingKind::Offline);
    assert_eq!(off.iter().map(|f| (f.start, f.end)).collect::<Vec<_>>(), [(at(40), at(70))]);
}

#[test]
fn clock_skew_and_stale() {
    let mut p = Params::default();
    let mut s = air();
    s.reference_o2 = None;
    let mut r = series(at(0), 3, 1, SO2, 1.0);
    r[1].received_at = at(1) - 11 * MINUTE_MS; // 11 min in the future of receipt
    r[2].received_at = at(2) - 10 * MINUTE_MS; // exactly the tolerance: fine
    let e = evaluate(&s, &r, day_window(1), &p);
    let c = kinds(&e, FindingKind::ClockSkew);
    assert_eq!(c.len(), 1);
    assert_eq!((c[0].start, c[0].factor.as_deref()), (at(1), None));
    assert!(c[0].detail.contains("11 min"), "{}", c[0].detail);
    assert!(kinds(&e, FindingKind::Stale).is_empty());
    p.apply("retention_days=2").unwrap();
    r[0].received_at = at(0) + 3 * DAY_MS;
    let e = evaluate(&s, &r, day_window(1), &p);
    assert_eq!(kinds(&e, FindingKind::Stale).len(), 1);
}

#[test]
fn flag_periods() {
    let mut s = air();
    s.reference_o2 = None;
    let mut r = series(at(0), 20, 1, SO2, 1.0);
    for (i, f) in [(2, "M"), (3, "M"), (5, "C"), (7, "D"), (8, "B"), (10, "F"), (12, "S"), (14, "T")] {
        r[i].values.set_flag(Some(f.into()));
    }
    let e = evaluate(&s, &r, day_window(1), &Params::default());
    let got: Vec<_> = e
        .findings
        .iter()
        .filter(|f| f.kind != FindingKind::Offline)
        .map(|f| (f.kind, f.start, f.end))
        .collect();
    assert_eq!(
        got,
        [
            (FindingKind::Maintenance, at(2), at(4)),
            (FindingKind::Calibration, at(5), at(6)),
            (FindingKind::Fault, at(7), at(9)),
            (FindingKind::Stopped, at(10), at(11)),
            (FindingKind::Manual, at(12), at(13)),
            (FindingKind::OverRange, at(14), at(15)),
        ]
    );
    let fault = e.findings.iter().find(|f| f.kind == FindingKind::Fault).unwrap();
    assert!(fault.detail.contains("2 minute records") && fault.detail.contains("B (communication fault)"));
}

#[test]
fn hourly_mismatch_beyond_tolerance() {
    let p = Params::default();
    let mut s = air();
    s.reference_o2 = None;
    s.hourly = true;
    let mut r = series(at(0), 60, 1, SO2, 40.0);
    r.extend(series(at(60), 60, 1, SO2, 40.0));
    r.push(rec(DataKind::Hour, at(0), SO2, 42.0)); // within 5 % (2.0)
    r.push(rec(DataKind::Hour, at(60), SO2, 42.1)); // beyond
    let e = evaluate(&s, &r, day_window(1), &p);
    let m = kinds(&e, FindingKind::HourlyMismatch);
    assert_eq!(m.len(), 1);
    assert_eq!((m[0].start, m[0].end), (at(60), at(120)));
    assert!(
        m[0].detail.contains("42.1") && m[0].detail.contains("40") && m[0].detail.contains("tolerance 2")
    );
    // Small values: the absolute tolerance (0.05) applies.
    let mut r = series(at(0), 60, 1, SO2, 0.1);
    r.push(rec(DataKind::Hour, at(0), SO2, 0.14));
    assert!(kinds(&evaluate(&s, &r, day_window(1), &p), FindingKind::HourlyMismatch).is_empty());
}

// ---------------------------------------------------------------- rates and months

#[test]
fn rates_arithmetic() {
    let p = Params::default();
    let mut s = air();
    s.reference_o2 = None;
    s.factors = vec![SO2.into(), FLOW.into()];
    // SO2: 24 h × 60 records, 120 of them flagged M; flow: 720 records. Expected 2 × 1440.
    let mut r = series(at(0), 1440, 1, SO2, 40.0);
    for x in &mut r[..120] {
        x.values.set_flag(Some("M".into()));
    }
    r.extend(series(at(0), 720, 1, FLOW, 10.0));
    r.extend(series(at(0), 5, 1, O2, 10.0)); // not registered: not counted
    let e = evaluate(&s, &r, day_window(1), &p);
    let day = e.rates.iter().find(|x| x.period == Period::Day).unwrap();
    assert_eq!((day.expected, day.received, day.valid), (2880, 2160, 2040));
    assert!(close(day.transmission, 0.75));
    // Validity is valid / received (2040 / 2160 = 0.9444); the effective transmission rate is
    // valid / expected = transmission × validity = 0.75 × 0.9444 = 2040 / 2880 = 0.7083.
    assert!(close(day.validity, 2040.0 / 2160.0));
    assert!(close(day.effective_transmission, 2040.0 / 2880.0));
    assert!(close(day.effective_transmission, day.transmission * day.validity));
    // Hours 0 and 1 are invalid (M); 22 judged hours, all at 40 > 35.
    assert_eq!((day.judged_hours, day.exceeding_hours, day.compliance), (22, 22, Some(0.0)));
    let month = e.rates.iter().find(|x| x.period == Period::Month).unwrap();
    assert_eq!((month.expected, month.received), (2880, 2160));
    // Nothing registered: the factors seen that day.
    s.factors.clear();
    let e = evaluate(&s, &r, day_window(1), &p);
    assert_eq!(e.rates[0].expected, 3 * 1440);
}

#[test]
fn monthly_95_percent_rule() {
    let p = Params::default();
    let mut s = air();
    s.reference_o2 = None;
    s.source_type = "sinter_head".into();
    let mk = |start: i64, valid: bool, exceeds: bool| Aggregate {
        mn: "M1".into(),
        outlet: "O1".into(),
        factor: SO2.into(),
        period: Period::Hour,
        start,
        mean: Some(1.0),
        converted_mean: Some(1.0),
        min: None,
        max: None,
        valid_units: 60,
        records: 60,
        valid,
        reason: None,
        limit: Some(35.0),
        limit_min: None,
        exceeds,
    };
    let ms = date_start(jiff::civil::date(2026, 11, 1));
    // 100 valid hours, 5 exceeding: exactly 95 % → no finding; 6 → finding.
    let hours = |n_exceed: i64| -> Vec<Aggregate> {
        (0..100)
            .map(|i| mk(ms + i * HOUR_MS, true, i < n_exceed))
            .chain((100..110).map(|i| mk(ms + i * HOUR_MS, false, false)))
            .collect()
    };
    let m = monthly(&s, &hours(5), &[], &[], ms + 5 * DAY_MS, &p);
    assert!(m.findings.is_empty());
    let m = monthly(&s, &hours(6), &[], &[], ms + 5 * DAY_MS, &p);
    assert_eq!(m.findings.len(), 1);
    let f = &m.findings[0];
    assert_eq!((f.kind, f.start, f.open), (FindingKind::MonthlyShare, ms, true));
    assert!(f.detail.contains("94 of 100") && f.detail.contains("95 %"), "{}", f.detail);
    // Other source types are not subject to the rule.
    s.source_type = "coal_boiler".into();
    assert!(monthly(&s, &hours(50), &[], &[], ms, &p).findings.is_empty());
}

#[test]
fn permit_shares() {
    let mut e = crate::demo::city().enterprises[0].clone();
    e.permitted_kg_per_year = BTreeMap::from([(SO2.to_string(), 1000.0), (COD.to_string(), 100.0)]);
    let p = Params::default();
    let ys = date_start(jiff::civil::date(2026, 1, 1));
    let kg = |so2: f64, cod: f64| BTreeMap::from([(SO2.to_string(), so2), (COD.to_string(), cod)]);
    assert!(permit_findings(&e, ys, &kg(799.0, 10.0), &p).is_empty());
    let f = permit_findings(&e, ys, &kg(800.0, 10.0), &p);
    assert_eq!(f.len(), 1);
    assert_eq!((f[0].kind, f[0].factor.as_deref(), f[0].start), (FindingKind::PermitShare, Some(SO2), ys));
    assert!(f[0].detail.contains("80 %") && f[0].detail.contains("800 kg"), "{}", f[0].detail);
    let f = permit_findings(&e, ys, &kg(1000.0, 120.0), &p);
    assert_eq!(f.len(), 2);
    assert!(f.iter().all(|x| x.detail.contains("(warning at 100 %)")), "{f:?}");
    assert_eq!(f[0].mn, e.id);
}

// ---------------------------------------------------------------- alarms

#[test]
fn alarm_texts_keys_and_severity() {
    let ep = Episode {
        mn: "M1".into(),
        outlet: "O1".into(),
        factor: SO2.into(),
        period: Period::Hour,
        start: at(0),
        end: at(180),
        periods: 3,
        max_converted: 52.3,
        max_multiple: (52.3 - 35.0) / 35.0,
        limit: 35.0,
        open: true,
    };
    let f = Finding {
        mn: "M1".into(),
        factor: None,
        kind: FindingKind::Offline,
        start: at(5),
        end: at(90),
        detail: "no minute data".into(),
        detail_zh: "无分钟数据".into(),
        open: false,
    };
    let a = alarms(&air(), std::slice::from_ref(&ep), std::slice::from_ref(&f));
    assert_eq!(a.len(), 2);
    assert_eq!(a[0].key, format!("episode:M1:a21026:{}", at(0)));
    assert_eq!(a[0].kind, "exceedance");
    assert_eq!(a[0].severity, Severity::Warning);
    assert!(a[0].active);
    assert!(
        a[0].detail_zh.starts_with("二氧化硫小时均值超标：折算浓度 52.3 mg/m³，限值 35 mg/m³，超标 0.49 倍"),
        "{}",
        a[0].detail_zh
    );
    assert!(
        a[0].detail_en.contains("52.3 mg/m³") && a[0].detail_en.contains("3 hours"),
        "{}",
        a[0].detail_en
    );
    assert_eq!(a[1].key, format!("finding:M1:offline:-:{}", at(5)));
    assert_eq!((a[1].severity, a[1].active), (Severity::Serious, false));
    assert_eq!(a[1].detail_zh, "无分钟数据");
    for (m, sev) in [
        (0.49, Severity::Warning),
        (0.5, Severity::Serious),
        (1.99, Severity::Serious),
        (2.0, Severity::Critical),
    ] {
        assert_eq!(episode_severity(m), sev, "{m}");
    }
}

#[test]
fn water_and_ph_alarm_texts() {
    let hours: Vec<_> = (0..24).map(|h| (h, 62.5, 1.0, 5.5)).collect();
    let e = evaluate(&water(), &water_hours(&hours), day_window(1), &Params::default());
    let a = alarms(&water(), &e.episodes, &[]);
    let cod = a.iter().find(|x| x.factor.as_deref() == Some(COD)).unwrap();
    assert!(
        cod.detail_zh.starts_with("化学需氧量日均值超标：浓度 62.5 mg/L，限值 50 mg/L，超标 0.25 倍；"),
        "{}",
        cod.detail_zh
    );
    assert!(cod.detail_zh.contains("共 1 天") && cod.active, "{}", cod.detail_zh);
    let ph = a.iter().find(|x| x.factor.as_deref() == Some(PH)).unwrap();
    assert!(ph.title_zh.contains("超出范围") && ph.detail_zh.contains("下限 6"), "{}", ph.detail_zh);
    assert!(ph.detail_en.contains("lower limit 6"), "{}", ph.detail_en);
}

#[test]
fn findings_outside_the_window_are_left_out() {
    let mut s = air();
    s.reference_o2 = None;
    // Context day: a maintenance period; window day: clean data.
    let mut r: Vec<Record> = series(at(-600), 10, 1, SO2, 1.0).into_iter().map(|x| flagged(x, "M")).collect();
    r.extend((5..1440).map(|i| minute(at(i), SO2, (i % 7) as f64)));
    let e = evaluate(&s, &r, day_window(1), &Params::default());
    assert!(kinds(&e, FindingKind::Maintenance).is_empty());
    // The gap from the context into the window is offline and intersects it.
    let off = kinds(&e, FindingKind::Offline);
    assert_eq!(off.iter().map(|f| (f.start, f.end)).collect::<Vec<_>>(), [(at(-590), at(5))]);
    // A gap that ends exactly at the window's start (ends are exclusive) does not intersect it.
    r.retain(|x| x.data_time < at(5));
    r.extend((0..1440).map(|i| minute(at(i), SO2, (i % 7) as f64)));
    assert!(kinds(&evaluate(&s, &r, day_window(1), &Params::default()), FindingKind::Offline).is_empty());
}

// ---------------------------------------------------------------- robustness

#[test]
fn no_panic_on_hostile_input() {
    let p = Params::default();
    let mut r = vec![
        minute(i64::MAX, SO2, f64::INFINITY),
        minute(i64::MIN, SO2, f64::NAN),
        minute(at(0), SO2, f64::MAX),
        minute(at(1), SO2, f64::MAX),
        minute(at(0), O2, f64::NEG_INFINITY),
        minute(at(0), FLOW, f64::MAX),
    ];
    r[0].received_at = i64::MIN;
    r[1].received_at = i64::MAX;
    for w in [
        day_window(1),
        Window { from: i64::MIN, to: i64::MAX, now: i64::MAX },
        Window { from: i64::MAX - 10, to: i64::MAX, now: i64::MIN },
        Window { from: 10, to: 0, now: 5 },
    ] {
        let e = evaluate(&air(), &r, w, &p);
        let _ = alarms(&air(), &e.episodes, &e.findings);
        let _ = serde_json::to_string(&e);
    }
    assert_eq!(evaluate(&air(), &[], day_window(0), &p), Evaluation::default());
}

// ---------------------------------------------------------------- properties

mod props {
    use proptest::prelude::*;

    use super::*;

    /// A 3-day capture with a day of context: SO2, O2 and flow minutes with random gaps,
    /// flags, late revisions and exceedances, plus a few hourly records.
    fn capture() -> impl Strategy<Value = Vec<Record>> {
        let one = (0i64..4 * 24 * 12, 0usize..3, 0u8..12, 0u8..6).prop_map(|(slot, f, v, flag)| {
            let factor = [SO2, O2, FLOW][f];
            let t = t0() - DAY_MS + slot * 5 * MINUTE_MS;
            let value = match f {
                0 => 20.0 + f64::from(v) * 3.0,
                1 => 8.0 + f64::from(v),
                _ => 30.0 + f64::from(v),
            };
            let mut r = minute(t, factor, value);
            if flag == 0 {
                r.values.set_flag(Some("M".into()));
            }
            if flag == 1 && f == 0 {
                r.values.set(RuleNumber::Cou, Some(0.01));
            }
            r
        });
        prop::collection::vec(one, 0..600).prop_map(|mut v| {
            // Dense stretches so that some hours are valid and episodes form.
            let base = t0() + 20 * HOUR_MS;
            for i in 0..(8 * 12) {
                let t = base + i * 5 * MINUTE_MS;
                v.push(minute(t, SO2, if i % 24 < 20 { 50.0 } else { 20.0 }));
                v.push(minute(t, O2, 6.0));
                v.push(minute(t, FLOW, 40.0));
            }
            v.push(rec(DataKind::Hour, base, SO2, 55.0));
            v
        })
    }

    fn src5() -> Source {
        Source { minute_interval_min: 5, factors: vec![SO2.into(), O2.into(), FLOW.into()], ..air() }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn independent_of_order_and_idempotent(v in capture(), seed in any::<u64>()) {
            let p = Params::default();
            let w = Window { from: t0(), to: t0() + 3 * DAY_MS, now: t0() + 3 * DAY_MS + 7 * MINUTE_MS };
            let a = evaluate(&src5(), &v, w, &p);
            let mut shuffled = v.clone();
            // Deterministic shuffle from the seed.
            let mut s = seed | 1;
            for i in (1..shuffled.len()).rev() {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                shuffled.swap(i, (s % (i as u64 + 1)) as usize);
            }
            let b = evaluate(&src5(), &shuffled, w, &p);
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(&a, &evaluate(&src5(), &v, w, &p));
        }

        #[test]
        fn one_window_equals_days_with_context(v in capture()) {
            let p = Params::default();
            let s = src5();
            let now = t0() + 3 * DAY_MS + 7 * MINUTE_MS;
            let whole = evaluate(&s, &v, Window { from: t0(), to: t0() + 3 * DAY_MS, now }, &p);
            let (mut hours, mut days, mut emissions, mut rates) = (vec![], vec![], vec![], vec![]);
            for d in 0..3 {
                let from = t0() + d * DAY_MS;
                let to = from + DAY_MS;
                let part: Vec<Record> =
                    v.iter().filter(|r| r.data_time >= from - DAY_MS && r.data_time < to).cloned().collect();
                let e = evaluate(&s, &part, Window { from, to, now }, &p);
                hours.extend(e.hours);
                days.extend(e.days);
                emissions.extend(e.emissions.into_iter().filter(|x| x.period != Period::Month));
                rates.extend(e.rates.into_iter().filter(|x| x.period != Period::Month));
            }
            let key = |a: &Aggregate| (a.factor.clone(), a.start);
            hours.sort_by_key(key);
            days.sort_by_key(key);
            emissions.sort_by_key(|e| (e.factor.clone(), e.period, e.start));
            rates.sort_by_key(|r| (r.period, r.start));
            prop_assert_eq!(&whole.hours, &hours);
            prop_assert_eq!(&whole.days, &days);
            let whole_em: Vec<_> = whole.emissions.iter().filter(|x| x.period != Period::Month).cloned().collect();
            prop_assert_eq!(whole_em, emissions);
            let whole_rates: Vec<_> = whole.rates.iter().filter(|x| x.period != Period::Month).cloned().collect();
            prop_assert_eq!(whole_rates, rates);
            prop_assert_eq!(&episodes(&s, &hours), &whole.episodes);
            // The month rows equal `monthly` over the day rows, as the live engine computes them.
            let day_em: Vec<_> = whole.emissions.iter().filter(|x| x.period == Period::Day).cloned().collect();
            let day_rates: Vec<_> = whole.rates.iter().filter(|x| x.period == Period::Day).cloned().collect();
            let m = monthly(&s, &hours, &day_em, &day_rates, t0(), &p);
            let whole_m: Vec<_> = whole.rates.iter().filter(|x| x.period == Period::Month).cloned().collect();
            prop_assert_eq!(m.rates, whole_m);
        }
    }
}

mod second_pass;
