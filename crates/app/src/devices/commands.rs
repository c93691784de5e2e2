//! The command queue of a device under the policy: its commands with their 9011/9012 outcome,
//! and queueing one of the commands the pages offer — set the device's clock to the platform's
//! (1012), ask for minute, hour or day history over a period (2051, 2061, 2031), set the
//! real-time or minute interval (1062, 1064). The gateway sends a queued command when the
//! device is connected and records how it went (`fenhe_ingest::commands`).

use fenhe_core::access::{Action, Actor};
use fenhe_core::china_time;
use fenhe_store::{Command, CommandStatus, Store};
use serde::{Deserialize, Serialize};

use super::{DeviceError, FieldProblem, ProblemKind, Result, audit_error, locate, problem};
use crate::audit::{self, Caller};
use crate::device_queries;

/// How many of a device's commands are listed.
pub const LISTED: u32 = 50;

/// The longest history one request may ask for (a logger answers with one packet per record).
pub const MAX_HISTORY_DAYS: i64 = 31;

/// The CP keys whose values are secrets (a device's password, a 1072's new password).
const SECRET_KEYS: [&str; 2] = ["PW", "NewPW"];

/// What is shown of a secret.
pub const MASK: &str = "******";

/// CP items (`key=value` joined by `;`) with the value of every secret key replaced by
/// [`MASK`]: lists and exports show that a secret was sent, never the secret.
pub fn mask_secrets(cp: &str) -> String {
    cp.split(';')
        .map(|item| match item.split_once('=') {
            Some((k, _)) if SECRET_KEYS.contains(&k) => format!("{k}={MASK}"),
            _ => item.to_string(),
        })
        .collect::<Vec<_>>()
        .join(";")
}

/// A command as shown: what was asked and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandRow {
    pub id: i64,
    pub cn: String,
    /// The CP items as sent, `key=value` joined by `;`, secrets masked ([`mask_secrets`]).
    pub cp: String,
    /// `operator:<username>`, `platform:gap`, `platform:clock`.
    pub origin: String,
    /// Epoch ms.
    pub created_at: i64,
    pub updated_at: i64,
    /// `queued`, `sent`, `accepted`, `done`, `failed`, `timed_out` or `cancelled`.
    pub status: &'static str,
    pub in_flight: bool,
    pub qn: Option<String>,
    pub attempts: u32,
    /// The device's answer (QnRtn / ExeRtn and their meaning) or why it failed.
    pub detail: Option<String>,
}

impl From<Command> for CommandRow {
    fn from(c: Command) -> CommandRow {
        CommandRow {
            id: c.id,
            cp: mask_secrets(&c.new.cp),
            cn: c.new.cn,
            origin: c.new.origin,
            created_at: c.new.created_at,
            updated_at: c.updated_at,
            status: c.status.name(),
            in_flight: !c.status.is_final(),
            qn: c.qn,
            attempts: c.attempts,
            detail: c.detail,
        }
    }
}

/// The latest commands of device `mn`, newest first, if `actor` may see the device.
pub async fn commands(store: &dyn Store, actor: &Actor, mn: &str) -> Result<Vec<CommandRow>> {
    let reg = store.registry().await?;
    locate(&reg, actor, Action::ViewEnvironment, mn)?;
    Ok(store.commands(Some(mn), LISTED).await?.into_iter().map(CommandRow::from).collect())
}

/// A command as a form or request body asks for it, in text; [`CommandRequest::parse`] checks
/// it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandFields {
    /// `time_sync`, `history`, `set_rtd_interval` or `set_minute_interval`.
    pub kind: String,
    /// For `history`: `minute`, `hour` or `day`.
    #[serde(default)]
    pub data: Option<String>,
    /// For `history`: the period's start and end (China time, e.g. `2026-12-01 08:00`).
    #[serde(default)]
    pub begin: Option<String>,
    #[serde(default)]
    pub end: Option<String>,
    /// For `set_rtd_interval` (seconds, 30–3600) and `set_minute_interval` (minutes).
    #[serde(default)]
    pub interval: Option<String>,
}

/// Which history a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum History {
    Minute,
    Hour,
    Day,
}

impl History {
    fn cn(self) -> &'static str {
        match self {
            History::Minute => "2051",
            History::Hour => "2061",
            History::Day => "2031",
        }
    }
}

/// A command checked and ready to queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandRequest {
    /// 1012 with the platform's time.
    TimeSync,
    /// 2051 / 2061 / 2031 with BeginTime and EndTime (epoch ms).
    History { data: History, begin: i64, end: i64 },
    /// 1062 RtdInterval (seconds).
    SetRtdInterval(u32),
    /// 1064 MinInterval (minutes).
    SetMinuteInterval(u32),
}

const MINUTE_INTERVALS: [u32; 11] = [1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30];

fn required<'a>(
    v: &'a Option<String>,
    field: &'static str,
    problems: &mut Vec<FieldProblem>,
) -> Option<&'a str> {
    match v.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => Some(s),
        _ => {
            problems.push(problem(field, ProblemKind::Required, ""));
            None
        }
    }
}

fn time(v: &Option<String>, field: &'static str, problems: &mut Vec<FieldProblem>) -> Option<i64> {
    let s = required(v, field, problems)?;
    match china_time::parse(s) {
        Ok(t) => Some(t),
        Err(_) => {
            problems.push(problem(field, ProblemKind::NotATime, s));
            None
        }
    }
}

impl CommandRequest {
    /// The request `f` describes, or every problem with it. `now` bounds a history request
    /// (a period that has not begun has no data).
    pub fn parse(f: &CommandFields, now: i64) -> std::result::Result<CommandRequest, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let interval = |problems: &mut Vec<FieldProblem>| -> Option<u32> {
            let s = required(&f.interval, "interval", problems)?;
            let n = s.parse().ok();
            if n.is_none() {
                problems.push(problem("interval", ProblemKind::NotANumber, s));
            }
            n
        };
        let request = match f.kind.trim() {
            "time_sync" => Some(CommandRequest::TimeSync),
            "history" => {
                let data = match required(&f.data, "data", &mut problems) {
                    Some("minute") => Some(History::Minute),
                    Some("hour") => Some(History::Hour),
                    Some("day") => Some(History::Day),
                    Some(other) => {
                        problems.push(problem("data", ProblemKind::UnknownChoice, other));
                        None
                    }
                    None => None,
                };
                let begin = time(&f.begin, "begin", &mut problems);
                let end = time(&f.end, "end", &mut problems);
                if let (Some(b), Some(e)) = (begin, end) {
                    if e <= b {
                        problems.push(problem(
                            "end",
                            ProblemKind::OutOfRange,
                            "the end must be after the begin",
                        ));
                    } else if e - b > MAX_HISTORY_DAYS * china_time::DAY_MS {
                        problems.push(problem(
                            "end",
                            ProblemKind::OutOfRange,
                            format!("at most {MAX_HISTORY_DAYS} days in one request"),
                        ));
                    }
                    if b > now {
                        problems.push(problem("begin", ProblemKind::OutOfRange, "the period has not begun"));
                    }
                }
                match (data, begin, end) {
                    (Some(data), Some(begin), Some(end)) => {
                        Some(CommandRequest::History { data, begin, end })
                    }
                    _ => None,
                }
            }
            "set_rtd_interval" => match interval(&mut problems) {
                Some(s) if (30..=3600).contains(&s) => Some(CommandRequest::SetRtdInterval(s)),
                Some(s) => {
                    problems.push(problem(
                        "interval",
                        ProblemKind::OutOfRange,
                        format!("{s} s is not within 30…3600"),
                    ));
                    None
                }
                None => None,
            },
            "set_minute_interval" => match interval(&mut problems) {
                Some(m) if MINUTE_INTERVALS.contains(&m) => Some(CommandRequest::SetMinuteInterval(m)),
                Some(m) => {
                    problems.push(problem(
                        "interval",
                        ProblemKind::OutOfRange,
                        format!("{m} is not one of 1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30"),
                    ));
                    None
                }
                None => None,
            },
            other => {
                problems.push(problem("kind", ProblemKind::UnknownChoice, other));
                None
            }
        };
        match request {
            Some(r) if problems.is_empty() => Ok(r),
            _ => Err(problems),
        }
    }

    /// CN and CP items (`KEY=VALUE`) as the device is to get them.
    pub fn packet_parts(self, now: i64) -> (&'static str, Vec<String>) {
        let t = |ms: i64| {
            hj212::DateTime::from_unix_millis_cst(ms).map(|d| d.compact()).unwrap_or_else(|| ms.to_string())
        };
        match self {
            CommandRequest::TimeSync => ("1012", vec![format!("SystemTime={}", t(now))]),
            CommandRequest::History { data, begin, end } => {
                (data.cn(), vec![format!("BeginTime={}", t(begin)), format!("EndTime={}", t(end))])
            }
            CommandRequest::SetRtdInterval(s) => ("1062", vec![format!("RtdInterval={s}")]),
            CommandRequest::SetMinuteInterval(m) => ("1064", vec![format!("MinInterval={m}")]),
        }
    }
}

/// Queue the command `fields` describe for device `mn` (SendCommand on the device's
/// enterprise), as `operator:<username>`; the audit log gets the command. Returns it as listed.
pub async fn send(
    store: &dyn Store,
    caller: &Caller,
    mn: &str,
    fields: &CommandFields,
) -> Result<CommandRow> {
    let reg = store.registry().await?;
    locate(&reg, &caller.actor, Action::SendCommand, mn)?;
    let request = CommandRequest::parse(fields, caller.now).map_err(DeviceError::Invalid)?;
    let (cn, items) = request.packet_parts(caller.now);
    let origin = format!("operator:{}", caller.actor.username);
    let id = device_queries::send(store, mn, cn, &items, &origin, caller.now).await.map_err(|e| match e {
        crate::AppError::Store(s) => DeviceError::Store(s),
        // The request was checked above; what the queue still refuses is a problem of the form.
        other => DeviceError::Invalid(vec![problem("kind", ProblemKind::Registry, other.to_string())]),
    })?;
    let row = store
        .commands(Some(mn), LISTED)
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .map(CommandRow::from)
        .unwrap_or(CommandRow {
            id,
            cn: cn.to_string(),
            cp: items.join(";"),
            origin,
            created_at: caller.now,
            updated_at: caller.now,
            status: CommandStatus::Queued.name(),
            in_flight: true,
            qn: None,
            attempts: 0,
            detail: None,
        });
    audit::record_change(store, caller, "command.send", "command", &id.to_string(), None, Some(&row))
        .await
        .map_err(audit_error)?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(kind: &str) -> CommandFields {
        CommandFields { kind: kind.into(), ..Default::default() }
    }

    const NOW: i64 = 1_764_633_600_000; // 2025-12-02 08:00 China time

    #[test]
    fn each_kind_becomes_its_packet() {
        assert_eq!(CommandRequest::parse(&fields("time_sync"), NOW).unwrap().packet_parts(NOW).0, "1012");
        let (cn, items) = CommandRequest::TimeSync.packet_parts(NOW);
        assert_eq!((cn, items), ("1012", vec!["SystemTime=20251202080000".to_string()]));
        let mut h = fields("history");
        h.data = Some("hour".into());
        h.begin = Some("2025-12-01 08:00".into());
        h.end = Some("2025-12-01T10:00".into());
        let (cn, items) = CommandRequest::parse(&h, NOW).unwrap().packet_parts(NOW);
        assert_eq!(cn, "2061");
        assert_eq!(items, ["BeginTime=20251201080000", "EndTime=20251201100000"]);
        let mut i = fields("set_minute_interval");
        i.interval = Some("5".into());
        assert_eq!(
            CommandRequest::parse(&i, NOW).unwrap().packet_parts(NOW),
            ("1064", vec!["MinInterval=5".into()])
        );
        let mut i = fields("set_rtd_interval");
        i.interval = Some(" 60 ".into());
        assert_eq!(CommandRequest::parse(&i, NOW).unwrap(), CommandRequest::SetRtdInterval(60));
    }

    #[test]
    fn bad_requests_name_each_field() {
        let kinds = |f: &CommandFields| -> Vec<(&'static str, ProblemKind)> {
            CommandRequest::parse(f, NOW).unwrap_err().iter().map(|p| (p.field, p.kind)).collect()
        };
        assert_eq!(kinds(&fields("reboot")), [("kind", ProblemKind::UnknownChoice)]);
        assert_eq!(
            kinds(&fields("history")),
            [
                ("data", ProblemKind::Required),
                ("begin", ProblemKind::Required),
                ("end", ProblemKind::Required)
            ]
        );
        let mut h = fields("history");
        h.data = Some("week".into());
        h.begin = Some("2025-12-01 10:00".into());
        h.end = Some("yesterday".into());
        assert_eq!(kinds(&h), [("data", ProblemKind::UnknownChoice), ("end", ProblemKind::NotATime)]);
        h.data = Some("minute".into());
        h.end = Some("2025-12-01 09:00".into());
        assert_eq!(kinds(&h), [("end", ProblemKind::OutOfRange)]);
        h.begin = Some("2025-12-03 10:00".into());
        h.end = Some("2025-12-03 11:00".into());
        assert_eq!(kinds(&h), [("begin", ProblemKind::OutOfRange)]);
        let mut i = fields("set_minute_interval");
        i.interval = Some("7".into());
        assert_eq!(kinds(&i), [("interval", ProblemKind::OutOfRange)]);
        i.kind = "set_rtd_interval".into();
        i.interval = Some("ten".into());
        assert_eq!(kinds(&i), [("interval", ProblemKind::NotANumber)]);
    }
}
