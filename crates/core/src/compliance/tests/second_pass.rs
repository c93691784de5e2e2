//! Hand-worked cases for every kind of device (issue 16): hourly-only loggers, water by mass over
//! volume, shutdown in the rates, episodes across a limit change, and the rest of the second pass.

use super::*;

fn hourly(t: i64, factor: &str, v: f64) -> Record {
    rec(DataKind::Hour, t, factor, v)
}

fn with(mut r: Record, n: RuleNumber, v: f64) -> Record {
    r.values.set(n, Some(v));
    r
}

fn day_of<'a>(e: &'a Evaluation, factor: &str) -> &'a Aggregate {
    e.days.iter().find(|d| d.factor == factor).expect("day")
}

fn emission<'a>(e: &'a Evaluation, factor: &str, period: Period, start: i64) -> &'a Emission {
    e.emissions
        .iter()
        .find(|x| x.factor == factor && x.period == period && x.start == start)
        .expect("emission")
}

// ------------------------------------------------------------ hourly-only devices (2061 only)

/// A water analyser that sends only 2061 records: COD 40 mg/L at 1 L/s for hours 0–11 and
/// 70 mg/L at 3 L/s for hours 12–23, pH 7; hour 5's COD is flagged D (fault).
fn hourly_water() -> Vec<Record> {
    let mut r = Vec::new();
    for h in 0..24 {
        let (cod, q) = if h < 12 { (40.0, 1.0) } else { (70.0, 3.0) };
        let c = hourly(at(h * 60), COD, cod);
        r.push(if h == 5 { flagged(c, "D") } else { c });
        r.push(hourly(at(h * 60), WFLOW, q));
        r.push(hourly(at(h * 60), PH, 7.0));
    }
    r
}

#[test]
fn an_hourly_only_water_device_is_judged_on_its_hours() {
    let e = evaluate(&water(), &hourly_water(), day_window(1), &Params::default());
    // Each 2061 record covers its clock hour: 60 valid minutes, one record, its Avg the mean.
    let h0 = hour(&e, COD, at(0));
    assert_eq!((h0.valid, h0.valid_units, h0.records, h0.mean), (true, 60, 1, Some(40.0)));
    // Its flag decides its validity.
    let h5 = hour(&e, COD, at(5 * 60));
    assert_eq!((h5.valid, h5.reason, h5.valid_units), (false, Some(Invalidity::NoValidData), 0));
    // The day: 23 valid hours ≥ 20. Mass over volume over the hours with a valid COD and flow:
    // (11 × 40 × 1 + 12 × 70 × 3) × 3600 / ((11 × 1 + 12 × 3) × 3600) = 2960 / 47 = 62.9787 mg/L,
    // above 50: an episode of one day.
    let cod = day_of(&e, COD);
    assert_eq!((cod.valid, cod.valid_units), (true, 23));
    assert!(close(cod.mean.unwrap(), 2960.0 / 47.0), "{:?}", cod.mean);
    assert!(cod.exceeds);
    assert_eq!(e.episodes.len(), 1);
    assert!(close(e.episodes[0].max_converted, 2960.0 / 47.0));
    // Emissions: hour 0 = 40 mg/L × 1 L/s × 3600 s × 1e-6 = 0.144 kg; hour 12 = 70 × 3 × 3600
    // × 1e-6 = 0.756 kg; the day 11 × 0.144 + 12 × 0.756 = 10.656 kg, which is the day's mean ×
    // its volume: 62.9787 mg/L × 169 200 L × 1e-6.
    assert!(close(emission(&e, COD, Period::Hour, at(0)).kg, 0.144));
    assert!(close(emission(&e, COD, Period::Hour, at(12 * 60)).kg, 0.756));
    let day_kg = emission(&e, COD, Period::Day, at(0)).kg;
    assert!(close(day_kg, 10.656), "{day_kg}");
    assert!(close(day_kg, cod.mean.unwrap() * 47.0 * 3600.0 * 1e-6));
    // Rates count hourly records: 3 factors × 24 expected, 72 received, 71 valid.
    let rate = e.rates.iter().find(|x| x.period == Period::Day).unwrap();
    assert_eq!((rate.expected, rate.received, rate.valid), (72, 72, 71));
    assert!(close(rate.validity, 71.0 / 72.0));
    assert_eq!((rate.judged_hours, rate.exceeding_hours), (2, 1), "water days: COD and pH judged");
}

#[test]
fn an_hourly_record_counts_its_cou() {
    let mut r = hourly_water();
    // Hour 0's COD carries Cou 0.2 kg: that, not 0.144, is the hour's emission.
    r[0] = with(r[0].clone(), RuleNumber::Cou, 0.2);
    let e = evaluate(&water(), &r, day_window(1), &Params::default());
    let h0 = emission(&e, COD, Period::Hour, at(0));
    assert_eq!((h0.kg, h0.from_cou), (0.2, true));
    assert!(close(emission(&e, COD, Period::Day, at(0)).kg, 10.656 - 0.144 + 0.2));
}

#[test]
fn an_hourly_only_stack_is_converted_and_judged() {
    // Reference O2 6 %, SO2 limit 35.
    // Hour 0: Avg 30 with ZsAvg 40 → 40, exceeds.
    // Hour 1: Avg 30, hourly O2 11 → 30 × (21 − 6) / (21 − 11) = 45, exceeds.
    // Hour 2: Avg 30, hourly O2 19.5 ≥ 19 → not convertible, not judged.
    // Hour 3: Avg 20, hourly O2 6 → 20, within.
    let r = vec![
        with(hourly(at(0), SO2, 30.0), RuleNumber::ZsAvg, 40.0),
        hourly(at(60), SO2, 30.0),
        hourly(at(60), O2, 11.0),
        hourly(at(120), SO2, 30.0),
        hourly(at(120), O2, 19.5),
        hourly(at(180), SO2, 20.0),
        hourly(at(180), O2, 6.0),
    ];
    let e = evaluate(&air(), &r, day_window(1), &Params::default());
    let conv = |m: i64| hour(&e, SO2, at(m)).converted_mean;
    assert_eq!(conv(0), Some(40.0));
    assert!(close(conv(60).unwrap(), 45.0));
    assert_eq!(hour(&e, SO2, at(120)).reason, Some(Invalidity::NotConvertible));
    assert_eq!(conv(180), Some(20.0));
    assert_eq!(e.episodes.len(), 1);
    let ep = &e.episodes[0];
    // Hours 0 and 1: max 45, multiple (45 − 35) / 35 = 0.2857.
    assert_eq!((ep.start, ep.end, ep.periods), (at(0), at(120), 2));
    assert!(close(ep.max_converted, 45.0));
    assert!(close(ep.max_multiple, 10.0 / 35.0));
}

#[test]
fn minute_data_wins_over_the_device_hour() {
    // Hour 0 has minute data (SO2 20) and a device hour (SO2 99): the recomputed hour counts.
    let mut r = series(at(0), 60, 1, SO2, 20.0);
    r.push(with(hourly(at(0), SO2, 99.0), RuleNumber::ZsAvg, 99.0));
    let mut s = air();
    s.reference_o2 = None;
    let e = evaluate(&s, &r, day_window(1), &Params::default());
    let h0 = hour(&e, SO2, at(0));
    assert_eq!((h0.mean, h0.records), (Some(20.0), 60));
}

// ------------------------------------------------------------ water: mass over volume

/// Every hour h ≥ 4: 30 minutes of COD 40 at 1 L/s, then 30 minutes of COD 100 at 3 L/s.
/// Hours 0–3: COD 10 and no flow record.
fn water_minutes() -> Vec<Record> {
    let mut r = Vec::new();
    for h in 0..24 {
        if h < 4 {
            r.extend(series(at(h * 60), 60, 1, COD, 10.0));
        } else {
            r.extend(series(at(h * 60), 30, 1, COD, 40.0));
            r.extend(series(at(h * 60 + 30), 30, 1, COD, 100.0));
            r.extend(series(at(h * 60), 30, 1, WFLOW, 1.0));
            r.extend(series(at(h * 60 + 30), 30, 1, WFLOW, 3.0));
        }
        r.extend(series(at(h * 60), 60, 1, PH, 7.0));
    }
    r
}

#[test]
fn water_day_is_mass_over_volume_over_the_records_with_flow() {
    let e = evaluate(&water(), &water_minutes(), day_window(1), &Params::default());
    // Per hour with flow: mass (30 × 40 × 1 + 30 × 100 × 3) × 60 s = 10 200 × 60 mg,
    // volume (30 × 1 + 30 × 3) × 60 = 120 × 60 L: 85 mg/L — not the flow-weighted hourly means
    // (hourly mean 70 at mean flow 2 → 70). Hours 0–3 have no flow and drop out of the
    // weighting; the day does not fall back to the arithmetic mean ((4 × 10 + 20 × 70) / 24 = 60).
    let cod = day_of(&e, COD);
    assert!(close(cod.mean.unwrap(), 85.0), "{:?}", cod.mean);
    assert!(cod.exceeds);
    // The day's concentration is its emission over its volume: 20 h × 10 200 × 60 × 1e-6 kg
    // over 20 × 7200 L.
    let kg = emission(&e, COD, Period::Day, at(0)).kg;
    assert!(close(kg, 20.0 * 10_200.0 * 60.0 * 1e-6));
    assert!(close(kg / (20.0 * 7200.0) * 1e6, cod.mean.unwrap()));
    assert!(kinds(&e, FindingKind::UnweightedDay).is_empty());
}

#[test]
fn water_day_without_any_flow_is_arithmetic_and_says_so() {
    let r: Vec<Record> = water_minutes().into_iter().filter(|r| &*r.factor != WFLOW).collect();
    let e = evaluate(&water(), &r, day_window(1), &Params::default());
    // Arithmetic mean of the 24 valid hourly means: (4 × 10 + 20 × 70) / 24 = 60.
    assert!(close(day_of(&e, COD).mean.unwrap(), 60.0));
    let f = kinds(&e, FindingKind::UnweightedDay);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].factor.as_deref(), Some(COD));
    assert!(f[0].detail.contains("arithmetic mean of 24 valid hours"), "{}", f[0].detail);
}

// ------------------------------------------------------------ episodes

#[test]
fn episode_max_value_and_max_multiple_are_each_the_largest() {
    let mut s = air();
    // 35 until 2026-11-28, 20 from 2026-11-29.
    s.limits.push(limit(SO2, Some(20.0), None, "2026-11-29"));
    // Hour 23 of day 1: 50 (multiple (50 − 35) / 35 = 0.4286); hour 0 of day 2: 40 (multiple
    // (40 − 20) / 20 = 1.0). Max value 50, max multiple 1.0 at limit 20.
    let r = so2_hours(&[(23, 50.0), (24, 40.0)]);
    let e = evaluate(&s, &r, day_window(2), &Params::default());
    assert_eq!(e.episodes.len(), 1);
    let ep = &e.episodes[0];
    assert_eq!(ep.periods, 2);
    assert!(close(ep.max_converted, 50.0), "{}", ep.max_converted);
    assert!(close(ep.max_multiple, 1.0));
    assert_eq!(ep.limit, 20.0);
}

// ------------------------------------------------------------ rates and shutdown

#[test]
fn declared_shutdown_leaves_the_expected_count() {
    let mut s = air();
    s.reference_o2 = None;
    // One day of SO2: 1440 minute records; 240 (4 h) flagged F, 60 flagged M.
    let mut r = series(at(0), 1440, 1, SO2, 20.0);
    for x in &mut r[600..840] {
        x.values.set_flag(Some("F".into()));
    }
    for x in &mut r[900..960] {
        x.values.set_flag(Some("M".into()));
    }
    let e = evaluate(&s, &r, day_window(1), &Params::default());
    let day = e.rates.iter().find(|x| x.period == Period::Day).unwrap();
    // expected 1440 − 240 = 1200, received 1200, valid 1140: transmission 1, validity 0.95,
    // effective 0.95.
    assert_eq!((day.expected, day.received, day.valid), (1200, 1200, 1140));
    assert!(close(day.transmission, 1.0));
    assert!(close(day.validity, 0.95));
    assert!(close(day.effective_transmission, 0.95));
    // The shutdown is reported as stopped time of its own: 10:00–14:00.
    let stopped = kinds(&e, FindingKind::Stopped);
    assert_eq!(stopped.len(), 1);
    assert_eq!((stopped[0].start, stopped[0].end), (at(600), at(840)));
    // A city that does not take F as declared shutdown counts those records as failed.
    let mut p = Params::default();
    p.apply("shutdown_flags=").unwrap();
    let e = evaluate(&s, &r, day_window(1), &p);
    let day = e.rates.iter().find(|x| x.period == Period::Day).unwrap();
    assert_eq!((day.expected, day.received, day.valid), (1440, 1440, 1140));
}

// ------------------------------------------------------------ device hours against recomputation

#[test]
fn device_converted_hour_is_compared_too() {
    // SO2 40 with O2 11 each minute: converted 40 × (21 − 6) / (21 − 11) = 60.
    let mut r = Vec::new();
    for h in [0, 60] {
        r.extend(series(at(h), 60, 1, SO2, 40.0));
        r.extend(series(at(h), 60, 1, O2, 11.0));
    }
    // Hour 0: Avg 40 matches, ZsAvg 70 differs from 60 by 10 > 3 (5 %). Hour 1: ZsAvg 61, within.
    r.push(with(hourly(at(0), SO2, 40.0), RuleNumber::ZsAvg, 70.0));
    r.push(with(hourly(at(60), SO2, 40.0), RuleNumber::ZsAvg, 61.0));
    let e = evaluate(&air(), &r, day_window(1), &Params::default());
    let m = kinds(&e, FindingKind::HourlyMismatch);
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].start, at(0));
    assert!(
        m[0].detail.contains("converted hourly value 70") && m[0].detail.contains("60"),
        "{}",
        m[0].detail
    );
}

#[test]
fn a_water_logger_weighting_by_flow_is_no_mismatch() {
    // Hour 4 of `water_minutes`: arithmetic 70, mass over volume 85.
    let mut r = water_minutes();
    r.push(hourly(at(4 * 60), COD, 85.0)); // the device weights by flow (formula 13): no finding
    r.push(hourly(at(5 * 60), COD, 70.0)); // arithmetic (formula 16): no finding
    r.push(hourly(at(6 * 60), COD, 77.0)); // neither (beyond 3.5 of 70 and 4.25 of 85)
    let e = evaluate(&water(), &r, day_window(1), &Params::default());
    let m = kinds(&e, FindingKind::HourlyMismatch);
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].start, at(6 * 60));
}

// ------------------------------------------------------------ NOx from NO and NO2

#[test]
fn nox_from_no_and_no2_when_the_device_sends_no_nox() {
    use super::derived::{NO, NO2, NOX};
    let mut s = air();
    s.reference_o2 = None;
    s.limits.push(limit(NOX, Some(50.0), None, "2026-01-01"));
    // Hour 0: NO 30, NO2 5 each minute → NOx 30 × 46/30 + 5 = 51 > 50.
    // Hour 1: NO 20, NO2 5, and the device's own NOx 40: its NOx counts (no derivation).
    let mut r = series(at(0), 60, 1, NO, 30.0);
    r.extend(series(at(0), 60, 1, NO2, 5.0));
    r.extend(series(at(60), 60, 1, NO, 20.0));
    r.extend(series(at(60), 60, 1, NO2, 5.0));
    r.extend(series(at(60), 60, 1, NOX, 40.0));
    let e = evaluate(&s, &r, day_window(1), &Params::default());
    let h0 = hour(&e, NOX, at(0));
    assert!(close(h0.mean.unwrap(), 51.0));
    assert!(h0.exceeds);
    assert_eq!(hour(&e, NOX, at(60)).mean, Some(40.0));
    // A fault on NO2 makes the derived minute invalid.
    let mut r = series(at(0), 60, 1, NO, 30.0);
    r.extend(series(at(0), 60, 1, NO2, 5.0).into_iter().map(|x| flagged(x, "D")));
    let e = evaluate(&s, &r, day_window(1), &Params::default());
    assert_eq!(hour(&e, NOX, at(0)).reason, Some(Invalidity::NoValidData));
}

// ------------------------------------------------------------ substitution (HJ 75-2017 §11)

/// SO2 10 mg/m³ at 50 m³/s every minute: 10 × 50 × 60 s × 1e-6 = 0.03 kg a minute, 1.8 kg an
/// hour; hour 5 at 20 mg/m³: 3.6 kg. Hours 10–12 send nothing.
fn gap_day() -> (Source, Vec<Record>) {
    let mut s = air();
    s.reference_o2 = None;
    s.factors = vec![SO2.into(), FLOW.into()];
    let mut r = Vec::new();
    for h in (0..24).filter(|h| !(10..13).contains(h)) {
        r.extend(series(at(h * 60), 60, 1, SO2, if h == 5 { 20.0 } else { 10.0 }));
        r.extend(series(at(h * 60), 60, 1, FLOW, 50.0));
    }
    (s, r)
}

#[test]
fn missing_hours_are_substituted_with_the_highest_preceding_hour() {
    let (s, r) = gap_day();
    // Off by default: the day is what was measured, 20 × 1.8 + 3.6 = 39.6 kg.
    let e = evaluate(&s, &r, day_window(1), &Params::default());
    assert!(close(emission(&e, SO2, Period::Day, at(0)).kg, 39.6));
    assert!(kinds(&e, FindingKind::Substituted).is_empty());
    let mut p = Params::default();
    p.apply("substitute_missing=true").unwrap();
    let e = evaluate(&s, &r, day_window(1), &p);
    // Capture before the gap 10 of 10 hours ≥ 90 %, gap 3 h ≤ 24 h: the highest of the preceding
    // 180 valid hours, 3.6 kg, for each of hours 10, 11, 12: the day 39.6 + 3 × 3.6 = 50.4 kg.
    for h in 10..13 {
        let x = emission(&e, SO2, Period::Hour, at(h * 60));
        assert!(close(x.kg, 3.6) && x.records == 0, "hour {h}: {x:?}");
    }
    assert!(close(emission(&e, SO2, Period::Day, at(0)).kg, 50.4));
    assert!(close(emission(&e, SO2, Period::Month, date_start(jiff::civil::date(2026, 11, 1))).kg, 50.4));
    let f = kinds(&e, FindingKind::Substituted);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].start, f[0].end), (at(600), at(780)));
    assert!(
        f[0].detail.contains("3 h without a measured emission") && f[0].detail.contains("3.6 kg/h"),
        "{}",
        f[0].detail
    );
    assert!(
        f[0].detail.contains("preceding 180 valid hours") && f[0].detail.contains("capture 100 %"),
        "{}",
        f[0].detail
    );
}

#[test]
fn shutdown_hours_are_not_substituted_and_low_capture_looks_further() {
    let (s, mut r) = gap_day();
    // Hour 10 comes back flagged F (declared shutdown): only hours 11 and 12 are missing.
    r.extend(series(at(600), 60, 1, SO2, 0.0).into_iter().map(|x| flagged(x, "F")));
    let mut p = Params::default();
    p.apply("substitute_missing=true").unwrap();
    let e = evaluate(&s, &r, day_window(1), &p);
    let f = kinds(&e, FindingKind::Substituted);
    assert_eq!((f.len(), f[0].start, f[0].end), (1, at(660), at(780)));
    assert!(close(emission(&e, SO2, Period::Day, at(0)).kg, 39.6 + 2.0 * 3.6));
    // The shutdown hour does not count against the capture (10 of 10 hours). A capture (100 %)
    // below the upper bar but at least the lower one looks back 2160 hours (the same 3.6 here);
    // below the lower bar nothing is substituted.
    p.apply("substitute_capture_high=1.5").unwrap();
    let e = evaluate(&s, &r, day_window(1), &p);
    let f = kinds(&e, FindingKind::Substituted);
    assert!(f[0].detail.contains("preceding 2160 valid hours"), "{}", f[0].detail);
    p.apply("substitute_capture_low=1.2").unwrap();
    let e = evaluate(&s, &r, day_window(1), &p);
    let f = kinds(&e, FindingKind::Substituted);
    assert!(f[0].detail.contains("not substituted: capture below"), "{}", f[0].detail);
    assert!(close(emission(&e, SO2, Period::Day, at(0)).kg, 39.6));
}
