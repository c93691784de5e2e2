//! The review of an engine alarm: the enterprise explains it, the environmental bureau accepts
//! or rejects the explanation; a rejection, or an accepted "real exceedance", opens a
//! rectification task.
//!
//! Rules:
//! - Review items are opened by the application for an engine alarm ([`AlarmReview::opened`]),
//!   never by people: there are no creation fields and [`Machine::create`] refuses every actor
//!   (403). The first state is `awaiting_explanation`; the explanation is due at the end of the
//!   `explain_working_days`-th working day (default 3) after the day the alarm was raised.
//! - `explain` (the enterprise's own users): `reason` one of shutdown, startup, equipment_fault,
//!   calibration, process_upset, real_exceedance; `text`; `period_from`/`period_to` (instants,
//!   China time), required for shutdown, startup, equipment_fault and calibration, the end after
//!   the start. Only in `awaiting_explanation` — a late explanation is still taken (the
//!   escalation job has already told the city it was late); once explained, the enterprise waits
//!   for the bureau, and after a rejection the matter continues as a task, so the review is not
//!   explained again. The explanation is kept in the item's fields (the data-quality figures read
//!   the period) and the deadline ends: the bureau's review has none.
//! - `accept` (bureau or administrator; optional `text`): `explained` → `accepted` (closed). When
//!   the explanation was a real exceedance, accepting it also opens a task to rectify it.
//! - `reject` (bureau or administrator; `reason`): `explained` → `rejected` (closed), and opens a
//!   rectification task led by the bureau, naming the alarm and the reason.
//! - `verify` (bureau or administrator): an on-site verification record — `findings`,
//!   `verified_at` (not in the future), optional `inspector` — in any state; the state is
//!   unchanged.
//! - City leaders only read; departments have no part in an alarm's review.
//!
//! A task opened here is immediate-or-not unknown, so it is `time_limited`, led by the bureau
//! (`lead_unit` = `bureau`), with the enterprise's environmental officer responsible and due
//! [`TASK_WORKING_DAYS`] working days after the decision; the bureau can change it through the
//! task's own actions (an extension) and the history says where it came from.

use super::fields::{self, Checked, date_text, datetime_text, parse_datetime};
use super::rules::{self, Rules, is_bureau, is_owner};
use super::{
    ActionSpec, Context, Created, Decision, FieldKind, FieldSpec, Fields, ItemFacts, Kind, Machine,
    Problem, Refusal, Spawn,
};
use crate::access::Actor;
use crate::china_time::date_of;

/// The review of an engine alarm.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlarmReview;

pub const AWAITING_EXPLANATION: &str = "awaiting_explanation";
pub const EXPLAINED: &str = "explained";
pub const ACCEPTED: &str = "accepted";
pub const REJECTED: &str = "rejected";

const STATES: &[&str] = &[AWAITING_EXPLANATION, EXPLAINED, ACCEPTED, REJECTED];
const CLOSED: &[&str] = &[ACCEPTED, REJECTED];

/// The reasons an enterprise may give.
pub const REASONS: &[&str] =
    &["shutdown", "startup", "equipment_fault", "calibration", "process_upset", "real_exceedance"];
/// The reasons that must mark the period they explain (the data-quality figures show it).
pub const REASONS_WITH_PERIOD: &[&str] = &["shutdown", "startup", "equipment_fault", "calibration"];

/// Working days a task opened from a review has, counted from the decision.
pub const TASK_WORKING_DAYS: u32 = 10;

const EXPLAIN: &[FieldSpec] = &[
    FieldSpec { name: "reason", kind: FieldKind::Choice(REASONS), required: true },
    FieldSpec { name: "text", kind: FieldKind::LongText, required: true },
    FieldSpec { name: "period_from", kind: FieldKind::DateTime, required: false },
    FieldSpec { name: "period_to", kind: FieldKind::DateTime, required: false },
];
const ACCEPT: &[FieldSpec] = &[FieldSpec { name: "text", kind: FieldKind::LongText, required: false }];
const REJECT: &[FieldSpec] = &[FieldSpec { name: "reason", kind: FieldKind::LongText, required: true }];
const VERIFY: &[FieldSpec] = &[
    FieldSpec { name: "findings", kind: FieldKind::LongText, required: true },
    FieldSpec { name: "verified_at", kind: FieldKind::DateTime, required: true },
    FieldSpec { name: "inspector", kind: FieldKind::Text, required: false },
];
const ACTIONS: &[ActionSpec] = &[
    ActionSpec { name: "explain", fields: EXPLAIN },
    ActionSpec { name: "accept", fields: ACCEPT },
    ActionSpec { name: "reject", fields: REJECT },
    ActionSpec { name: "verify", fields: VERIFY },
];

impl AlarmReview {
    /// The review of an alarm as it opens: awaiting the enterprise's explanation, due
    /// `ctx.explain_working_days` working days after `raised_at`. The item's fields keep when the
    /// alarm was raised. Prefer [`AlarmReview::opened_for`], which also names the alarm in the
    /// task a rejection opens.
    pub fn opened(enterprise: &str, raised_at: i64, ctx: &Context<'_>) -> Created {
        let mut fields = Fields::new();
        fields.insert("raised_at".into(), datetime_text(raised_at));
        Created {
            state: AWAITING_EXPLANATION,
            enterprise: enterprise.to_string(),
            department: None,
            title: "报警说明".into(),
            fields,
            due_at: ctx.calendar.deadline(raised_at, ctx.explain_working_days),
        }
    }

    /// [`AlarmReview::opened`] for the engine alarm `alarm` with its `title`: both are kept in the
    /// item's fields (`alarm`, `alarm_title`), and a task opened from the review says
    /// `source` = `alarms/{alarm}` and names the alarm in its problem.
    pub fn opened_for(alarm: i64, title: &str, enterprise: &str, raised_at: i64, ctx: &Context<'_>) -> Created {
        let mut created = AlarmReview::opened(enterprise, raised_at, ctx);
        let title = title.trim();
        created.fields.insert("alarm".into(), alarm.to_string());
        if !title.is_empty() {
            created.fields.insert("alarm_title".into(), title.to_string());
            created.title = fields::title_of(title);
        }
        created
    }
}

impl Rules for AlarmReview {
    const KIND: Kind = Kind::Alarms;

    fn specs() -> &'static [ActionSpec] {
        ACTIONS
    }

    fn may(actor: &Actor, item: &ItemFacts<'_>, action: &str) -> bool {
        match action {
            "explain" => is_owner(actor, item),
            "accept" | "reject" | "verify" => is_bureau(actor),
            _ => false,
        }
    }

    fn target(item: &ItemFacts<'_>, action: &str) -> Option<&'static str> {
        match (item.state, action) {
            (AWAITING_EXPLANATION, "explain") => Some(EXPLAINED),
            (EXPLAINED, "accept") => Some(ACCEPTED),
            (EXPLAINED, "reject") => Some(REJECTED),
            (s, "verify") => STATES.iter().find(|x| **x == s).copied(),
            _ => None,
        }
    }
}

impl Machine for AlarmReview {
    fn kind(&self) -> Kind {
        Kind::Alarms
    }

    fn states(&self) -> &'static [&'static str] {
        STATES
    }

    fn closed_states(&self) -> &'static [&'static str] {
        CLOSED
    }

    fn creation_fields(&self) -> &'static [FieldSpec] {
        &[]
    }

    fn actions(&self) -> &'static [ActionSpec] {
        ACTIONS
    }

    fn create(&self, _actor: &Actor, _now: i64, _fields: &Fields, _ctx: &Context<'_>) -> Result<Created, Refusal> {
        // Reviews open from the engine's alarms (AlarmReview::opened), never from a form.
        Err(Refusal::RoleMayNot { action: "create".into() })
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
        let (spec, to) = rules::gate::<AlarmReview>(item, action, actor)?;
        let mut checked = fields::check(spec.fields, input, ctx);
        let mut decision =
            Decision { to, set: Fields::new(), due_at: None, step_fields: Fields::new(), spawn: None };
        match action {
            "explain" => {
                check_period(&mut checked);
                let step = checked.finish()?;
                decision.set = step.clone();
                // Explained: the enterprise's deadline is met; the bureau's review has none.
                decision.due_at = Some(None);
                decision.step_fields = step;
            }
            "accept" => {
                decision.step_fields = checked.finish()?;
                if item.fields.get("reason").map(String::as_str) == Some("real_exceedance") {
                    let problem = format!("{}：企业说明为真实超标，须整改", alarm_name(item));
                    decision.spawn = Some(task(item, problem, now, ctx));
                }
            }
            "reject" => {
                let step = checked.finish()?;
                let reason = step.get("reason").map(String::as_str).unwrap_or("");
                let problem = format!("{}：说明未获认可（{reason}）", alarm_name(item));
                decision.spawn = Some(task(item, problem, now, ctx));
                decision.step_fields = step;
            }
            _ => {
                // verify: an on-site record cannot be dated after the moment it is entered.
                if let Some(at) = checked.get("verified_at").and_then(parse_datetime)
                    && at > now
                {
                    checked.problem("verified_at", Problem::TooLate { before: datetime_text(now) });
                }
                decision.step_fields = checked.finish()?;
            }
        }
        Ok(decision)
    }

    fn allowed(&self, item: &ItemFacts<'_>, actor: &Actor, _now: i64) -> Vec<&'static str> {
        rules::allowed::<AlarmReview>(item, actor)
    }
}

/// Shutdown, start-up, a fault and a calibration mark their period; an end must follow its start.
fn check_period(checked: &mut Checked) {
    let needs_period = checked.get("reason").is_some_and(|r| REASONS_WITH_PERIOD.contains(&r));
    if needs_period {
        for name in ["period_from", "period_to"] {
            if checked.get(name).is_none() {
                checked.problem(name, Problem::Missing);
            }
        }
    }
    let from = checked.get("period_from").and_then(parse_datetime);
    let to = checked.get("period_to").and_then(parse_datetime);
    if let (Some(from), Some(to)) = (from, to)
        && to <= from
    {
        checked.problem("period_to", Problem::TooEarly { after: "period_from".into() });
    }
}

/// How a task names the alarm: its title when the review knows it.
fn alarm_name(item: &ItemFacts<'_>) -> String {
    match (item.fields.get("alarm_title"), item.fields.get("alarm")) {
        (Some(t), _) => t.clone(),
        (None, Some(id)) => format!("报警 {id}"),
        (None, None) => "报警".into(),
    }
}

/// The rectification task a decision opens (creation fields of [`super::Tasks`]).
fn task(item: &ItemFacts<'_>, problem: String, now: i64, ctx: &Context<'_>) -> Spawn {
    // The deadline is the end of a day; its date is the day of the instant just before it.
    let due = ctx
        .calendar
        .deadline(now, TASK_WORKING_DAYS)
        .map(|end| date_of(end - 1))
        .unwrap_or_else(|| date_of(now));
    let mut f = Fields::new();
    f.insert("enterprise".into(), item.enterprise.to_string());
    f.insert("problem".into(), problem);
    f.insert("measures".into(), "查明原因，采取整改措施并提交整改佐证材料".into());
    f.insert("lead_unit".into(), super::tasks::BUREAU.into());
    f.insert("responsible".into(), "企业环保负责人".into());
    f.insert("kind".into(), "time_limited".into());
    f.insert("due".into(), date_text(due));
    if let Some(id) = item.fields.get("alarm") {
        f.insert("source".into(), format!("alarms/{id}"));
    }
    Spawn { kind: Kind::Tasks, fields: f }
}

