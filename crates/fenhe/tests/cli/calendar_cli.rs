//! `fenhe calendar due`, run as the real binary: deadlines on the bundled 2026 arrangement, an
//! operator's calendar file adding a year, and the errors an operator can make.

use std::process::{Command, Output};

use crate::common::bin;

fn due(args: &[&str]) -> Output {
    Command::new(bin()).args(["calendar", "due"]).args(args).output().expect("run fenhe")
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "fenhe failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn deadlines_on_the_bundled_calendar() {
    // Friday 13 February 2026 before the Spring Festival: Saturday 14 is worked, 15–23 are off,
    // then Tuesday 24 and Wednesday 25.
    let o = due(&["--from", "2026-02-13T16:55", "--working-days", "3"]);
    assert_eq!(stdout(&o), "2026-02-25 24:00\n");
    assert!(o.stderr.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = due(&["--from", "2026-02-13", "--working-days", "1", "--format", "iso"]);
    assert_eq!(stdout(&o), "2026-02-15T00:00:00+08:00\n");
    // Zero working days: the end of the day itself; an RFC 3339 instant is read in China time
    // (2026-03-06T17:00Z is already Saturday 7 March, 01:00, in China).
    assert_eq!(stdout(&due(&["--from", "2026-03-06", "--working-days", "0"])), "2026-03-06 24:00\n");
    assert_eq!(
        stdout(&due(&["--from", "2026-03-06T17:00:00Z", "--working-days", "0"])),
        "2026-03-07 24:00\n"
    );
    // 30 September + 1: the National Day week is off, Thursday 8 October is worked.
    assert_eq!(stdout(&due(&["--from", "2026-09-30T09:00", "--working-days", "1"])), "2026-10-08 24:00\n");
}

#[test]
fn a_calendar_file_adds_a_year_and_an_unknown_year_is_warned_about() {
    // Without 2027 the days count by weekday, with a warning: Thursday 31 December + 1 is
    // Friday 1 January.
    let o = due(&["--from", "2026-12-31", "--working-days", "1"]);
    assert_eq!(stdout(&o), "2027-01-01 24:00\n");
    assert!(String::from_utf8_lossy(&o.stderr).contains("no holidays for 2027"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("2027.txt");
    std::fs::write(&file, "# 2027\n2027-01-01 holiday 元旦\n").unwrap();
    let o = due(&["--from", "2026-12-31", "--working-days", "1", "--calendar", file.to_str().unwrap()]);
    assert_eq!(stdout(&o), "2027-01-04 24:00\n");
    assert!(o.stderr.is_empty());
}

#[test]
fn bad_input_is_named() {
    let o = due(&["--from", "next friday", "--working-days", "3"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("\"next friday\" is not a time"));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.txt");
    std::fs::write(&file, "2027-01-01 holiday\n2027-01-05 workday 周二\n").unwrap();
    let o = due(&["--from", "2026-12-31", "--working-days", "1", "--calendar", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.txt") && err.contains("calendar line 2"), "{err}");
    let o = due(&["--from", "2026-03-06", "--working-days", "-1"]);
    assert_eq!(o.status.code(), Some(2));
}
