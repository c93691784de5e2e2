//! `fenhe retention`: raw frames and real-time / minute values older than their retention period
//! removed (or, with `--dry-run`, counted), what was removed printed and recorded in the audit
//! log as `cli`. Ages are calendar ones in China time (`3y`, `18m`, `90d`): the cut-off is the
//! start of the day that many years, months or days before today.

use std::io::Write;

use anyhow::{Result, bail};
use fenhe_app::audit::{CLI_ACTOR, CLI_PEER};
use fenhe_core::china_time;
use fenhe_store::{NewAuditEntry, RetentionCutoffs, RetentionReport, Store};

/// An age: a number of calendar years, months or days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Age {
    Years(u32),
    Months(u32),
    Days(u32),
}

/// Parse `3y`, `18m` (months) or `90d`; the message says what is expected.
pub fn parse_age(s: &str) -> Result<Age, String> {
    let s = s.trim();
    let expected = || {
        format!(
            "{s:?} is not an age: write a whole number followed by y (years), m (months) or d (days), e.g. 3y, 18m, 90d"
        )
    };
    let Some(unit) = s.chars().last() else { return Err(expected()) };
    let n: u32 = s[..s.len() - unit.len_utf8()].parse().map_err(|_| expected())?;
    if n == 0 {
        return Err(format!("{s:?}: an age of zero would remove everything up to today"));
    }
    if n > 1000 {
        return Err(format!("{s:?}: more than 1000 of a unit is not an age fenhe keeps data for"));
    }
    match unit {
        'y' | 'Y' => Ok(Age::Years(n)),
        'm' | 'M' => Ok(Age::Months(n)),
        'd' | 'D' => Ok(Age::Days(n)),
        _ => Err(expected()),
    }
}

impl Age {
    /// At least one year, as the regulator's periods need.
    pub fn at_least_a_year(self) -> bool {
        match self {
            Age::Years(n) => n >= 1,
            Age::Months(n) => n >= 12,
            Age::Days(n) => n >= 365,
        }
    }

    /// The start (China time) of the day this age before the day of `now`.
    pub fn cutoff(self, now: i64) -> Result<i64> {
        let span = match self {
            Age::Years(n) => jiff::Span::new().try_years(i64::from(n)),
            Age::Months(n) => jiff::Span::new().try_months(i64::from(n)),
            Age::Days(n) => jiff::Span::new().try_days(i64::from(n)),
        }?;
        Ok(china_time::date_start(china_time::date_of(now).checked_sub(span)?))
    }

    pub fn text(self) -> String {
        match self {
            Age::Years(n) => format!("{n}y"),
            Age::Months(n) => format!("{n}m"),
            Age::Days(n) => format!("{n}d"),
        }
    }
}

/// What `fenhe retention` was asked.
#[derive(Debug, Clone, Copy)]
pub struct Request {
    pub raw_frames: Option<Age>,
    pub minute_data: Option<Age>,
    pub dry_run: bool,
    pub force: bool,
}

/// Check the request and turn its ages into cut-offs at `now`.
pub fn cutoffs(r: &Request, now: i64) -> Result<RetentionCutoffs> {
    if r.raw_frames.is_none() && r.minute_data.is_none() {
        bail!(
            "nothing to do: give --raw-frames AGE, --minute-data AGE or both (e.g. --raw-frames 3y --minute-data 5y)"
        );
    }
    if let Some(age) = r.minute_data
        && !age.at_least_a_year()
        && !r.force
    {
        bail!(
            "--minute-data {}: 分钟数据至少保留一年 (minute data is kept at least one year): the regulator's \
             rules need a year of minute and real-time data; add --force to remove it sooner",
            age.text()
        );
    }
    Ok(RetentionCutoffs {
        raw_frames_before: r.raw_frames.map(|a| a.cutoff(now)).transpose()?,
        minute_data_before: r.minute_data.map(|a| a.cutoff(now)).transpose()?,
    })
}

fn print(report: &RetentionReport, out: &mut dyn Write) -> Result<()> {
    let verb = if report.dry_run { "将删除 would remove" } else { "已删除 removed" };
    if report.removed.is_empty() {
        writeln!(out, "没有需要删除的数据 (nothing older than the cut-off)")?;
        return Ok(());
    }
    writeln!(out, "{verb}:")?;
    writeln!(out, "table\tpartition\trows\tbefore")?;
    for r in &report.removed {
        writeln!(
            out,
            "{}\t{}\t{}\t{}",
            r.table,
            r.partition.as_deref().unwrap_or("-"),
            r.rows,
            china_time::iso(r.before)
        )?;
    }
    Ok(())
}

/// Run retention on `store` and print what it removed; a real run is audited as `cli`.
pub async fn run(store: &dyn Store, r: &Request, now: i64, out: &mut dyn Write) -> Result<()> {
    let cut = cutoffs(r, now)?;
    let report = store.apply_retention(&cut, r.dry_run).await?;
    print(&report, out)?;
    if !r.dry_run {
        let removed: Vec<serde_json::Value> = report
            .removed
            .iter()
            .map(|x| {
                serde_json::json!({
                    "table": x.table, "partition": x.partition, "rows": x.rows, "before": china_time::iso(x.before),
                })
            })
            .collect();
        store
            .append_audit(&NewAuditEntry {
                at: now,
                actor: CLI_ACTOR.into(),
                actor_role: fenhe_core::access::Role::Admin.name().into(),
                action: "data.retention".into(),
                object_kind: "data".into(),
                object_id: "retention".into(),
                before: Some(serde_json::json!({
                    "raw_frames": r.raw_frames.map(Age::text),
                    "minute_data": r.minute_data.map(Age::text),
                    "raw_frames_before": cut.raw_frames_before.map(china_time::iso),
                    "minute_data_before": cut.minute_data_before.map(china_time::iso),
                })),
                after: Some(serde_json::json!({ "removed": removed })),
                peer: CLI_PEER.into(),
            })
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse_and_explain_their_errors() {
        assert_eq!(parse_age("3y"), Ok(Age::Years(3)));
        assert_eq!(parse_age("18m"), Ok(Age::Months(18)));
        assert_eq!(parse_age("90d"), Ok(Age::Days(90)));
        for bad in ["", "y", "3", "3w", "-3y", "3.5y", "0d", "99999y", "三年"] {
            let e = parse_age(bad).unwrap_err();
            assert!(e.contains(&format!("{:?}", bad.trim())), "{bad}: {e}");
        }
    }

    #[test]
    fn cutoffs_are_calendar_days_in_china_time() {
        // 2026-12-03 21:00 UTC is 2026-12-04 05:00 in China.
        let now = china_time::parse("2026-12-04T05:00:00+08:00").unwrap();
        let day = |s: &str| china_time::parse(s).unwrap();
        assert_eq!(Age::Years(3).cutoff(now).unwrap(), day("2023-12-04T00:00:00+08:00"));
        assert_eq!(Age::Months(18).cutoff(now).unwrap(), day("2025-06-04T00:00:00+08:00"));
        assert_eq!(Age::Days(90).cutoff(now).unwrap(), day("2026-09-05T00:00:00+08:00"));
    }

    #[test]
    fn less_than_a_year_of_minute_data_needs_force() {
        let r =
            Request { raw_frames: None, minute_data: Some(Age::Months(11)), dry_run: false, force: false };
        let e = cutoffs(&r, 0).unwrap_err().to_string();
        assert!(e.contains("--force") && e.contains("11m"), "{e}");
        assert!(cutoffs(&Request { force: true, ..r }, 0).is_ok());
        let year = Request { minute_data: Some(Age::Days(365)), ..r };
        assert!(cutoffs(&year, 0).is_ok());
        // Raw frames may go sooner: they are the archive, not the regulator's data.
        let frames = Request { raw_frames: Some(Age::Days(30)), minute_data: None, ..r };
        assert!(cutoffs(&frames, 0).is_ok());
        let none = Request { raw_frames: None, minute_data: None, ..r };
        assert!(cutoffs(&none, 0).unwrap_err().to_string().contains("nothing to do"));
    }
}
