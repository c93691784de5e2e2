//! Replay of small hand-made captures: a capture is complete, so the day it touches is judged
//! (not valid when it holds eight hours), and `as_of` keeps only the periods ended by then.

use std::path::PathBuf;

use fenhe_core::china_time::{self, HOUR_MS};
use fenhe_core::compliance::{Overrides, Params};
use fenhe_ingest::capture_judge::CaptureOptions;
use hj212::builder::{Peer, device};
use hj212::{DateTime, Version};

use super::{ReplayRequest, replay};

/// SO2 every 10 minutes from 08:00 to 15:50 on 2026-03-02: 20 mg/m³, 100 from 09:00 to 10:00.
fn eight_hours() -> Vec<u8> {
    let peer = Peer { mn: "REPLAY0000000000000001", pw: "pw", st: "22", version: Version::V2017 };
    let mut bytes = Vec::new();
    for i in 0..48u8 {
        let (hour, minute) = (8 + i / 6, (i % 6) * 10);
        let t = DateTime::new(2026, 3, 2, hour, minute, 0).unwrap();
        let avg = if hour == 9 { "100" } else { "20" };
        let frame = device::upload(&peer, &t, "2051", &t, true)
            .factor("a21026", [("Avg", avg.to_string()), ("Flag", "N".to_string())])
            .build();
        bytes.extend(frame);
    }
    bytes
}

fn request(input: PathBuf, as_of: Option<i64>) -> ReplayRequest {
    ReplayRequest {
        registry: None,
        inputs: vec![input],
        params: Params::default(),
        overrides: Overrides { limits: vec![("a21026".into(), 35.0)], ..Default::default() },
        capture: CaptureOptions { trust_all: true, ..Default::default() },
        as_of,
    }
}

fn day() -> i64 {
    china_time::date_start(jiff::civil::date(2026, 3, 2))
}

fn capture_file(dir: &tempfile::TempDir) -> PathBuf {
    let path = dir.path().join("eight-hours.txt");
    std::fs::write(&path, eight_hours()).unwrap();
    path
}

#[test]
fn an_eight_hour_capture_reports_its_day_not_valid_with_its_hours() {
    let dir = tempfile::tempdir().unwrap();
    let report = replay(&request(capture_file(&dir), None)).unwrap();
    assert_eq!(report.input.files[0].records, 48);
    assert_eq!(report.devices.len(), 1);
    let dev = &report.devices[0];
    assert_eq!(dev.until, "2026-03-02T16:00:00+08:00");
    assert_eq!(dev.as_of, "2026-03-03T00:00:00+08:00");

    // Every hour of the day is judged: the eight with data valid, the rest not.
    assert_eq!(report.hours.len(), 24);
    let valid: Vec<&str> = report.hours.iter().filter(|h| h.valid).map(|h| &h.hour_start[11..13]).collect();
    assert_eq!(valid, ["08", "09", "10", "11", "12", "13", "14", "15"]);
    let exceeding: Vec<&str> =
        report.hours.iter().filter(|h| h.exceeds).map(|h| &h.hour_start[11..13]).collect();
    assert_eq!(exceeding, ["09"]);

    // The day is reported, from its eight judged hours, and is not valid.
    assert_eq!(report.days.len(), 1);
    let d = &report.days[0];
    assert_eq!(d.day_start, "2026-03-02T00:00:00+08:00");
    assert_eq!(d.valid_hours, 8);
    assert!(!d.valid);
    assert_eq!(report.episodes.len(), 1);
    assert_eq!(report.episodes[0].start, "2026-03-02T09:00:00+08:00");
}

#[test]
fn as_of_judges_only_the_periods_ended_by_then() {
    let dir = tempfile::tempdir().unwrap();
    let noon = day() + 12 * HOUR_MS;
    let report = replay(&request(capture_file(&dir), Some(noon))).unwrap();
    assert_eq!(report.devices[0].as_of, "2026-03-02T12:00:00+08:00");
    let hours: Vec<&str> = report.hours.iter().map(|h| &h.hour_start[11..13]).collect();
    assert_eq!(hours.len(), 12);
    assert_eq!(hours.last(), Some(&"11"));
    assert!(report.days.is_empty(), "the day has not ended at noon");

    // Later than the last day the capture touches, it judges what the default does.
    let late = replay(&request(capture_file(&dir), Some(day() + 3 * china_time::DAY_MS))).unwrap();
    assert_eq!(late.devices[0].as_of, "2026-03-03T00:00:00+08:00");
    assert_eq!((late.hours.len(), late.days.len()), (24, 1));
}

#[test]
fn no_input_is_refused() {
    let mut req = request(PathBuf::from("unused"), None);
    req.inputs.clear();
    assert!(matches!(replay(&req), Err(crate::AppError::NoInput)));
    let missing = request(PathBuf::from("/nonexistent/capture.txt"), None);
    assert!(matches!(replay(&missing), Err(crate::AppError::Captures(_))));
}
