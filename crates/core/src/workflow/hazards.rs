//! Hidden hazards (隐患): found by an enterprise's self-inspection or by an inspection, graded
//! general or major (重大), rectified by the enterprise and accepted (销号) by the supervisor.
//!
//! Rules:
//! - Reported (`POST /api/v1/hazards`) by an enterprise's user for their own enterprise
//!   (`source` = `self_inspection`; another enterprise is 403; a blank `enterprise` is their own),
//!   or by the bureau, an administrator or a department (`source` = `inspection`). City leaders
//!   only read.
//! - Fields: `enterprise`, `grade` (general, major), `description`. A major hazard cannot be
//!   registered without the "five in place" — `measures`, `funds` (万元, a number), `deadline` (a
//!   date, not before today), `responsible`, `contingency_plan` — and the department supervising
//!   it (挂牌督办, `supervising_department`, a configured code): each one missing is named. A
//!   general hazard may bring any of them.
//! - The item's department is the supervising department, or else the department that reported
//!   it. The deadline is the end of the `deadline` date; a general hazard without one is due at
//!   the end of the 30th calendar day after it was reported.
//! - The enterprise's own users: `start` (registered → in_progress), `submit` with `evidence`
//!   (in_progress → submitted: the acceptance request; its time is kept in
//!   `acceptance_requested_at`).
//! - The bureau, an administrator or the item's department: `check`, an on-site check with
//!   `findings` and `checked_at` (not in the future), in in_progress or submitted, the state
//!   unchanged (the latest `checked_at` is kept in `last_checked_at`); `accept` (submitted →
//!   accepted, closed; optional `text`); `reject` with a `reason` (submitted → in_progress).
//! - A major hazard is accepted only with an on-site check dated within 10 calendar days after
//!   its latest acceptance request (409 otherwise, saying so; the button is not offered).

use super::fields::{self, date_deadline, datetime_text, parse_datetime, today};
use super::rules::{self, Rules, is_bureau, is_item_department, is_owner};
use super::tasks::not_before_today;
use super::{
    ActionSpec, Context, Created, Decision, FieldKind, FieldSpec, Fields, ItemFacts, Kind, Machine,
    Problem, Refusal,
};
use crate::access::{Actor, Role};
use crate::china_time::DAY_MS;

/// Hidden hazards.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hazards;

pub const REGISTERED: &str = "registered";
pub const IN_PROGRESS: &str = "in_progress";
pub const SUBMITTED: &str = "submitted";
pub const ACCEPTED: &str = "accepted";

const STATES: &[&str] = &[REGISTERED, IN_PROGRESS, SUBMITTED, ACCEPTED];
const CLOSED: &[&str] = &[ACCEPTED];

pub const GRADES: &[&str] = &["general", "major"];
/// The fields a major hazard cannot be registered without: the "five in place" and its
/// supervising department.
pub const MAJOR_REQUIRES: &[&str] =
    &["measures", "funds", "deadline", "responsible", "contingency_plan", "supervising_department"];
/// Calendar days a general hazard without a deadline has.
pub const GENERAL_DAYS: i64 = 30;
/// Calendar days after the acceptance request within which a major hazard's on-site check falls.
pub const CHECK_WITHIN_DAYS: i64 = 10;

const CREATE: &[FieldSpec] = &[
    FieldSpec { name: "enterprise", kind: FieldKind::Enterprise, required: true },
    FieldSpec { name: "grade", kind: FieldKind::Choice(GRADES), required: true },
    FieldSpec { name: "description", kind: FieldKind::LongText, required: true },
    FieldSpec { name: "measures", kind: FieldKind::LongText, required: false },
    FieldSpec { name: "funds", kind: FieldKind::Number, required: false },
    FieldSpec { name: "deadline", kind: FieldKind::Date, required: false },
    FieldSpec { name: "responsible", kind: FieldKind::Text, required: false },
    FieldSpec { name: "contingency_plan", kind: FieldKind::LongText, required: false },
    FieldSpec { name: "supervising_department", kind: FieldKind::Department, required: false },
];
const NONE: &[FieldSpec] = &[];
const SUBMIT: &[FieldSpec] = &[FieldSpec { name: "evidence", kind: FieldKind::LongText, required: true }];
const CHECK: &[FieldSpec] = &[
    FieldSpec { name: "findings", kind: FieldKind::LongText, required: true },
    FieldSpec { name: "checked_at", kind: FieldKind::DateTime, required: true },
];
const ACCEPT: &[FieldSpec] = &[FieldSpec { name: "text", kind: FieldKind::LongText, required: false }];
const REJECT: &[FieldSpec] = &[FieldSpec { name: "reason", kind: FieldKind::LongText, required: true }];
const ACTIONS: &[ActionSpec] = &[
    ActionSpec { name: "start", fields: NONE },
    ActionSpec { name: "submit", fields: SUBMIT },
    ActionSpec { name: "check", fields: CHECK },
    ActionSpec { name: "accept", fields: ACCEPT },
    ActionSpec { name: "reject", fields: REJECT },
];

impl Rules for Hazards {
    const KIND: Kind = Kind::Hazards;

    fn specs() -> &'static [ActionSpec] {
        ACTIONS
    }

    fn may(actor: &Actor, item: &ItemFacts<'_>, action: &str) -> bool {
        match action {
            "start" | "submit" => is_owner(actor, item),
            "check" | "accept" | "reject" => is_bureau(actor) || is_item_department(actor, item),
            _ => false,
        }
    }

    fn target(item: &ItemFacts<'_>, action: &str) -> Option<&'static str> {
        match (item.state, action) {
            (REGISTERED, "start") => Some(IN_PROGRESS),
            (IN_PROGRESS, "submit") => Some(SUBMITTED),
            (IN_PROGRESS, "check") => Some(IN_PROGRESS),
            (SUBMITTED, "check") => Some(SUBMITTED),
            (SUBMITTED, "accept") => Some(ACCEPTED),
            (SUBMITTED, "reject") => Some(IN_PROGRESS),
            _ => None,
        }
    }

    fn unmet(item: &ItemFacts<'_>, action: &str) -> Option<Refusal> {
        if action != "accept" || item.fields.get("grade").map(String::as_str) != Some("major") {
            return None;
        }
        let requested = item.fields.get("acceptance_requested_at").and_then(|t| parse_datetime(t));
        let checked = item.fields.get("last_checked_at").and_then(|t| parse_datetime(t));
        match (requested, checked) {
            (Some(r), Some(c)) if c >= r && c <= r.saturating_add(CHECK_WITHIN_DAYS * DAY_MS) => None,
            _ => {
                let when = item.fields.get("acceptance_requested_at").cloned().unwrap_or_else(|| "?".into());
                Some(Refusal::Unmet {
                    action: action.into(),
                    en: format!(
                        "a major hazard is accepted only with an on-site check recorded within \
                         {CHECK_WITHIN_DAYS} days after the acceptance request of {when}"
                    ),
                    zh: format!("重大隐患须在验收申请（{when}）后 {CHECK_WITHIN_DAYS} 日内完成现场核查并记录，方可销号"),
                })
            }
        }
    }
}

impl Machine for Hazards {
    fn kind(&self) -> Kind {
        Kind::Hazards
    }

    fn states(&self) -> &'static [&'static str] {
        STATES
    }

    fn closed_states(&self) -> &'static [&'static str] {
        CLOSED
    }

    fn creation_fields(&self) -> &'static [FieldSpec] {
        CREATE
    }

    fn actions(&self) -> &'static [ActionSpec] {
        ACTIONS
    }

    fn create(&self, actor: &Actor, now: i64, input: &Fields, ctx: &Context<'_>) -> Result<Created, Refusal> {
        let mut input = input.clone();
        let source = match &actor.role {
            Role::Enterprise { enterprise } => {
                let named = input.get("enterprise").map(|e| e.trim()).unwrap_or("");
                if named.is_empty() {
                    input.insert("enterprise".into(), enterprise.clone());
                } else if named != enterprise {
                    return Err(Refusal::RoleMayNot { action: "create".into() });
                }
                "self_inspection"
            }
            Role::Admin | Role::Bureau | Role::Department { .. } => "inspection",
            Role::Leader => return Err(Refusal::RoleMayNot { action: "create".into() }),
        };
        let mut checked = fields::check(CREATE, &input, ctx);
        if checked.get("grade") == Some("major") {
            for name in MAJOR_REQUIRES {
                let given = input.get(*name).is_some_and(|v| !v.trim().is_empty());
                if !given {
                    checked.problem(name, Problem::Missing);
                }
            }
        }
        not_before_today(&mut checked, "deadline", now);
        let mut fields = checked.finish()?;
        fields.insert("source".into(), source.into());
        let department = fields.get("supervising_department").cloned().or(match &actor.role {
            Role::Department { department } => Some(department.clone()),
            _ => None,
        });
        let due_at = match fields.get("deadline") {
            Some(d) => date_deadline(d),
            None => Some(fields::day_end(today(now.saturating_add(GENERAL_DAYS * DAY_MS)))),
        };
        Ok(Created {
            state: REGISTERED,
            enterprise: fields.get("enterprise").cloned().unwrap_or_default(),
            department,
            title: fields::title_of(fields.get("description").map(String::as_str).unwrap_or("")),
            fields,
            due_at,
        })
    }

    fn transition(
        &self,
        item: &ItemFacts<'_>,
        action: &str,
        actor: &Actor,
        now: i64,
        input: &Fields,
        ctx: &Context<'_>,
    ) -> Result<Decision, Refusal> {
        let (spec, to) = rules::gate::<Hazards>(item, action, actor)?;
        let mut checked = fields::check(spec.fields, input, ctx);
        let mut decision =
            Decision { to, set: Fields::new(), due_at: None, step_fields: Fields::new(), spawn: None };
        match action {
            "submit" => {
                let step = checked.finish()?;
                decision.set.insert("evidence".into(), step.get("evidence").cloned().unwrap_or_default());
                decision.set.insert("acceptance_requested_at".into(), datetime_text(now));
                decision.step_fields = step;
            }
            "check" => {
                let at = checked.get("checked_at").and_then(parse_datetime);
                if at.is_some_and(|at| at > now) {
                    checked.problem("checked_at", Problem::TooLate { before: datetime_text(now) });
                }
                let step = checked.finish()?;
                // Keep the latest check: one entered late for an earlier visit must not hide it.
                let last = item.fields.get("last_checked_at").and_then(|t| parse_datetime(t));
                if let Some(at) = at
                    && last.is_none_or(|last| at > last)
                {
                    decision.set.insert("last_checked_at".into(), datetime_text(at));
                }
                decision.step_fields = step;
            }
            _ => decision.step_fields = checked.finish()?,
        }
        Ok(decision)
    }

    fn allowed(&self, item: &ItemFacts<'_>, actor: &Actor, _now: i64) -> Vec<&'static str> {
        rules::allowed::<Hazards>(item, actor)
    }
}
