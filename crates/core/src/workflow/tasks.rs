//! Rectification tasks (整改): a problem an enterprise must put right by a date, led by the bureau
//! or a department.
//!
//! Rules:
//! - Created (`POST /api/v1/tasks`) by the bureau, an administrator or a department user; a
//!   department creates the tasks it leads (`lead_unit` must be its own code, else 403). Fields:
//!   `enterprise`, `problem`, `measures`, `lead_unit` (a configured department code or `bureau`),
//!   `responsible`, `kind` (immediate, time_limited, long_term), `due` (a date, not before today;
//!   due at the end of its China-time day), optional `supporting_units` (department codes,
//!   comma-separated) and `source` (free text: an alarm, an inspection, a meeting …). The item's
//!   department is the lead unit when it is a department.
//! - The enterprise's own users: `start` (assigned → in_progress), `submit` with `evidence`
//!   (in_progress → submitted), `request_extension` with a `due` later than the present one and
//!   a `reason` (from assigned or in_progress → extension_requested; the state it came from is
//!   kept in the field `extension_from`, the requested date in `requested_due`).
//! - The bureau, an administrator or the lead department: `accept` (submitted → accepted, 销号,
//!   closed; optional `text`), `reject` with a `reason` (submitted → in_progress),
//!   `approve_extension` (→ the state it was requested from; the deadline becomes the requested
//!   date, `due` is updated and the first deadline is kept in `original_due`) and
//!   `refuse_extension` with a `reason` (→ the state it was requested from, deadline unchanged).
//! - City leaders only read; another enterprise's users and other departments may not act.

use super::fields::{self, date_deadline, date_text, parse_date, today};
use super::rules::{self, Rules, is_bureau, is_item_department, is_owner};
use super::{
    ActionSpec, Context, Created, Decision, FieldKind, FieldSpec, Fields, ItemFacts, Kind, Machine,
    Problem, Refusal,
};
use crate::access::{Actor, Role};

/// Rectification tasks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tasks;

pub const ASSIGNED: &str = "assigned";
pub const IN_PROGRESS: &str = "in_progress";
pub const SUBMITTED: &str = "submitted";
pub const EXTENSION_REQUESTED: &str = "extension_requested";
pub const ACCEPTED: &str = "accepted";

const STATES: &[&str] = &[ASSIGNED, IN_PROGRESS, SUBMITTED, EXTENSION_REQUESTED, ACCEPTED];
const CLOSED: &[&str] = &[ACCEPTED];

/// The `lead_unit` of a task the bureau leads itself (every other lead unit is a department code).
pub const BUREAU: &str = "bureau";
pub const KINDS: &[&str] = &["immediate", "time_limited", "long_term"];

const CREATE: &[FieldSpec] = &[
    FieldSpec { name: "enterprise", kind: FieldKind::Enterprise, required: true },
    FieldSpec { name: "problem", kind: FieldKind::LongText, required: true },
    FieldSpec { name: "measures", kind: FieldKind::LongText, required: true },
    // A department code, or `bureau` (checked in `create`).
    FieldSpec { name: "lead_unit", kind: FieldKind::Department, required: true },
    FieldSpec { name: "responsible", kind: FieldKind::Text, required: true },
    FieldSpec { name: "kind", kind: FieldKind::Choice(KINDS), required: true },
    FieldSpec { name: "due", kind: FieldKind::Date, required: true },
    FieldSpec { name: "supporting_units", kind: FieldKind::Departments, required: false },
    FieldSpec { name: "source", kind: FieldKind::Text, required: false },
];
const START: &[FieldSpec] = &[];
const SUBMIT: &[FieldSpec] = &[FieldSpec { name: "evidence", kind: FieldKind::LongText, required: true }];
const ACCEPT: &[FieldSpec] = &[FieldSpec { name: "text", kind: FieldKind::LongText, required: false }];
const REASON: &[FieldSpec] = &[FieldSpec { name: "reason", kind: FieldKind::LongText, required: true }];
const REQUEST_EXTENSION: &[FieldSpec] = &[
    FieldSpec { name: "due", kind: FieldKind::Date, required: true },
    FieldSpec { name: "reason", kind: FieldKind::LongText, required: true },
];
const ACTIONS: &[ActionSpec] = &[
    ActionSpec { name: "start", fields: START },
    ActionSpec { name: "submit", fields: SUBMIT },
    ActionSpec { name: "accept", fields: ACCEPT },
    ActionSpec { name: "reject", fields: REASON },
    ActionSpec { name: "request_extension", fields: REQUEST_EXTENSION },
    ActionSpec { name: "approve_extension", fields: ACCEPT },
    ActionSpec { name: "refuse_extension", fields: REASON },
];

impl Rules for Tasks {
    const KIND: Kind = Kind::Tasks;

    fn specs() -> &'static [ActionSpec] {
        ACTIONS
    }

    fn may(actor: &Actor, item: &ItemFacts<'_>, action: &str) -> bool {
        match action {
            "start" | "submit" | "request_extension" => is_owner(actor, item),
            "accept" | "reject" | "approve_extension" | "refuse_extension" => {
                is_bureau(actor) || is_item_department(actor, item)
            }
            _ => false,
        }
    }

    fn target(item: &ItemFacts<'_>, action: &str) -> Option<&'static str> {
        match (item.state, action) {
            (ASSIGNED, "start") => Some(IN_PROGRESS),
            (IN_PROGRESS, "submit") => Some(SUBMITTED),
            (SUBMITTED, "accept") => Some(ACCEPTED),
            (SUBMITTED, "reject") => Some(IN_PROGRESS),
            (ASSIGNED | IN_PROGRESS, "request_extension") => Some(EXTENSION_REQUESTED),
            (EXTENSION_REQUESTED, "approve_extension" | "refuse_extension") => Some(extension_from(item)),
            _ => None,
        }
    }
}

/// The state an extension was requested from (in progress if the field is missing: a task
/// whose extension is decided goes on being worked on).
fn extension_from(item: &ItemFacts<'_>) -> &'static str {
    match item.fields.get("extension_from").map(String::as_str) {
        Some(ASSIGNED) => ASSIGNED,
        _ => IN_PROGRESS,
    }
}

impl Machine for Tasks {
    fn kind(&self) -> Kind {
        Kind::Tasks
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
        let lead = input.get("lead_unit").map(|s| s.trim()).unwrap_or("");
        match &actor.role {
            Role::Admin | Role::Bureau => {}
            // A department creates the tasks it leads.
            Role::Department { department } if lead == department => {}
            _ => return Err(Refusal::RoleMayNot { action: "create".into() }),
        }
        let mut checked = fields::check(CREATE, input, ctx);
        // `bureau` is a lead unit but not a department code.
        if lead == BUREAU {
            checked.accept("lead_unit", BUREAU);
        }
        not_before_today(&mut checked, "due", now);
        let fields = checked.finish()?;
        let department = fields.get("lead_unit").filter(|l| *l != BUREAU).cloned();
        Ok(Created {
            state: ASSIGNED,
            enterprise: fields.get("enterprise").cloned().unwrap_or_default(),
            department,
            title: fields::title_of(fields.get("problem").map(String::as_str).unwrap_or("")),
            due_at: fields.get("due").and_then(|d| date_deadline(d)),
            fields,
        })
    }

    fn transition(
        &self,
        item: &ItemFacts<'_>,
        action: &str,
        actor: &Actor,
        _now: i64,
        input: &Fields,
        ctx: &Context<'_>,
    ) -> Result<Decision, Refusal> {
        let (spec, to) = rules::gate::<Tasks>(item, action, actor)?;
        let mut checked = fields::check(spec.fields, input, ctx);
        let mut decision =
            Decision { to, set: Fields::new(), due_at: None, step_fields: Fields::new(), spawn: None };
        match action {
            "submit" => {
                let step = checked.finish()?;
                decision.set.insert("evidence".into(), step.get("evidence").cloned().unwrap_or_default());
                decision.step_fields = step;
            }
            "request_extension" => {
                let present = item.fields.get("due").and_then(|d| date_deadline(d)).or(item.due_at);
                if let (Some(asked), Some(present)) = (checked.get("due").and_then(date_deadline), present)
                    && asked <= present
                {
                    let after = item.fields.get("due").cloned().unwrap_or_else(|| present_date(present));
                    checked.problem("due", Problem::TooEarly { after });
                }
                let step = checked.finish()?;
                decision.set.insert("requested_due".into(), step.get("due").cloned().unwrap_or_default());
                decision.set.insert("extension_from".into(), item.state.to_string());
                decision.step_fields = step;
            }
            "approve_extension" => {
                decision.step_fields = checked.finish()?;
                if let Some(new_due) = item.fields.get("requested_due").filter(|d| parse_date(d).is_some()) {
                    if !item.fields.contains_key("original_due")
                        && let Some(old) = item.fields.get("due")
                    {
                        decision.set.insert("original_due".into(), old.clone());
                    }
                    decision.set.insert("due".into(), new_due.clone());
                    decision.due_at = Some(date_deadline(new_due));
                    decision.step_fields.insert("due".into(), new_due.clone());
                }
            }
            _ => decision.step_fields = checked.finish()?,
        }
        Ok(decision)
    }

    fn allowed(&self, item: &ItemFacts<'_>, actor: &Actor, _now: i64) -> Vec<&'static str> {
        rules::allowed::<Tasks>(item, actor)
    }
}

/// The date of a deadline instant (the end of its day).
fn present_date(due_at: i64) -> String {
    date_text(today(due_at - 1))
}

/// A date field that may not lie in the past: today is allowed.
pub(crate) fn not_before_today(checked: &mut fields::Checked, name: &str, now: i64) {
    let today = today(now);
    if let Some(d) = checked.get(name).and_then(parse_date)
        && d < today
    {
        let yesterday = today.yesterday().map(date_text).unwrap_or_default();
        checked.problem(name, Problem::TooEarly { after: yesterday });
    }
}
