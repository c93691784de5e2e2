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
    ActionSpec, Context, Created, Decision, FieldKind, FieldSpec, Fields, ItemFacts, Kind, Machine, Problem,
    Refusal, Spawn,
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
    pub fn opened_for(
        alarm: i64,
        title: &str,
        enterprise: &str,
        raised_at: i64,
        ctx: &Context<'_>,
    ) -> Created {
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

    fn create(
        &self,
        _actor: &Actor,
        _now: i64,
        _fields: &Fields,
        _ctx: &Context<'_>,
    ) -> Result<Created, Refusal> {
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
        .map(|end| date_of(end.saturating_sub(1)))
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::workflow::testkit::{self, Item, OWNER, actor, at, bad_fields, ctx, fields};

    const NOW: &str = "2026-03-10T10:00";

    /// Every state × action × role. Departments have no part in a review.
    const MATRIX: &str = "
        # action  state                 admin     leader bureau    dept odept owner     other
        explain   awaiting_explanation  403       403    403       403  403   explained 403
        explain   explained             403       403    403       403  403   409       403
        explain   accepted              403       403    403       403  403   409       403
        explain   rejected              403       403    403       403  403   409       403
        accept    awaiting_explanation  409       403    409       403  403   403       403
        accept    explained             accepted  403    accepted  403  403   403       403
        accept    accepted              409       403    409       403  403   403       403
        accept    rejected              409       403    409       403  403   403       403
        reject    awaiting_explanation  409       403    409       403  403   403       403
        reject    explained             rejected  403    rejected  403  403   403       403
        reject    accepted              409       403    409       403  403   403       403
        reject    rejected              409       403    409       403  403   403       403
        verify    awaiting_explanation  awaiting_explanation 403 awaiting_explanation 403 403 403 403
        verify    explained             explained 403    explained 403  403   403       403
        verify    accepted              accepted  403    accepted  403  403   403       403
        verify    rejected              rejected  403    rejected  403  403   403       403
        bogus     awaiting_explanation  422       422    422       422  422   422       422
        bogus     explained             422       422    422       422  422   422       422
        bogus     accepted              422       422    422       422  422   422       422
        bogus     rejected              422       422    422       422  422   422       422
    ";

    fn opened() -> Item {
        let c = AlarmReview::opened_for(
            42,
            "1号锅炉排口 SO2 小时均值超标",
            OWNER,
            at("2026-03-06T16:55"),
            &ctx(),
        );
        Item {
            state: c.state.into(),
            enterprise: c.enterprise,
            department: c.department,
            fields: c.fields,
            due_at: c.due_at,
            created_at: at("2026-03-06T16:55"),
        }
    }

    fn item(state: &str) -> Item {
        let mut it = opened();
        it.state = state.into();
        if state != AWAITING_EXPLANATION {
            it.fields.extend(fields(&[("reason", "process_upset"), ("text", "工况波动")]));
        }
        it
    }

    fn good(action: &str) -> Fields {
        match action {
            "explain" => fields(&[
                ("reason", "calibration"),
                ("text", "例行校准"),
                ("period_from", "2026-03-06T08:00"),
                ("period_to", "2026-03-06T09:00"),
            ]),
            "reject" => fields(&[("reason", "校准记录不符")]),
            "verify" => fields(&[("findings", "现场在校准"), ("verified_at", "2026-03-09T15:30")]),
            _ => Fields::new(),
        }
    }

    #[test]
    fn the_full_matrix() {
        testkit::run_matrix(&AlarmReview, MATRIX, at(NOW), item, good);
    }

    #[test]
    fn no_one_creates_a_review_by_hand() {
        assert!(AlarmReview.creation_fields().is_empty());
        for who in testkit::actors() {
            let r = AlarmReview.create(&who, at(NOW), &fields(&[("enterprise", OWNER)]), &ctx());
            assert_eq!(r.map_err(|e| e.status()), Err(403), "{}", who.username);
        }
    }

    #[test]
    fn the_explanation_is_due_after_working_days_on_the_calendar() {
        // Friday 13 February 2026, the eve of the Spring Festival: Saturday 14 is a make-up
        // working day, 15–23 are off, so 3 working days end on Wednesday 25 February.
        let c = AlarmReview::opened(OWNER, at("2026-02-13T16:55"), &ctx());
        assert_eq!(c.state, AWAITING_EXPLANATION);
        assert_eq!(c.due_at, Some(at("2026-02-26T00:00")));
        assert_eq!(c.fields.get("raised_at").map(String::as_str), Some("2026-02-13T16:55"));
        // An ordinary Friday: Monday, Tuesday, Wednesday.
        let c = AlarmReview::opened(OWNER, at("2026-03-06T16:55"), &ctx());
        assert_eq!(c.due_at, Some(at("2026-03-12T00:00")));
        // Configured: 1 working day after the Friday before the holiday is the worked Saturday.
        let one = ctx().with_explain_working_days(1);
        assert_eq!(
            AlarmReview::opened(OWNER, at("2026-02-13T16:55"), &one).due_at,
            Some(at("2026-02-15T00:00"))
        );
    }

    #[test]
    fn an_explanation_names_every_bad_field() {
        let it = item(AWAITING_EXPLANATION);
        let owner = actor("owner");
        let r = AlarmReview.transition(
            &it.facts(),
            "explain",
            &owner,
            at(NOW),
            &fields(&[("reason", "weather")]),
            &ctx(),
        );
        assert_eq!(bad_fields(r), ["reason", "text"]);
        // A period is required for a shutdown, and its end must follow its start.
        let r = AlarmReview.transition(
            &it.facts(),
            "explain",
            &owner,
            at(NOW),
            &fields(&[("reason", "shutdown"), ("text", "停产")]),
            &ctx(),
        );
        assert_eq!(bad_fields(r), ["period_from", "period_to"]);
        let backwards = fields(&[
            ("reason", "startup"),
            ("text", "开炉"),
            ("period_from", "2026-03-06T09:00"),
            ("period_to", "2026-03-06T08:00"),
        ]);
        let r = AlarmReview.transition(&it.facts(), "explain", &owner, at(NOW), &backwards, &ctx());
        let Err(Refusal::Invalid(p)) = r else { panic!("{r:?}") };
        assert_eq!(p[0].field, "period_to");
        assert_eq!(p[0].problem, Problem::TooEarly { after: "period_from".into() });
        // A real exceedance needs no period.
        let d = AlarmReview
            .transition(
                &it.facts(),
                "explain",
                &owner,
                at(NOW),
                &fields(&[("reason", "real_exceedance"), ("text", "确属超标")]),
                &ctx(),
            )
            .unwrap();
        assert_eq!(d.to, EXPLAINED);
        assert_eq!(d.due_at, Some(None), "the enterprise's deadline is met");
        assert_eq!(d.set.get("reason").map(String::as_str), Some("real_exceedance"));
    }

    #[test]
    fn a_rejection_opens_a_task_naming_the_alarm() {
        let it = item(EXPLAINED);
        let d = AlarmReview
            .transition(&it.facts(), "reject", &actor("bureau"), at(NOW), &good("reject"), &ctx())
            .unwrap();
        let spawn = d.spawn.expect("a task");
        assert_eq!(spawn.kind, Kind::Tasks);
        let f = &spawn.fields;
        assert_eq!(f.get("source").map(String::as_str), Some("alarms/42"));
        assert_eq!(f.get("enterprise").map(String::as_str), Some(OWNER));
        let problem = f.get("problem").unwrap();
        assert!(
            problem.contains("1号锅炉排口 SO2 小时均值超标") && problem.contains("校准记录不符"),
            "{problem}"
        );
        // Ten working days from Tuesday 10 March: Tuesday 24 March.
        assert_eq!(f.get("due").map(String::as_str), Some("2026-03-24"));
        let task = crate::workflow::Tasks.create(&actor("bureau"), at(NOW), f, &ctx()).unwrap();
        assert_eq!(task.department, None, "the bureau leads it");
        // A rejection without a reason is refused and opens nothing.
        let r =
            AlarmReview.transition(&it.facts(), "reject", &actor("bureau"), at(NOW), &Fields::new(), &ctx());
        assert_eq!(bad_fields(r), ["reason"]);
    }

    #[test]
    fn accepting_a_real_exceedance_opens_a_task_and_other_reasons_none() {
        let mut it = item(EXPLAINED);
        let d = AlarmReview
            .transition(&it.facts(), "accept", &actor("admin"), at(NOW), &Fields::new(), &ctx())
            .unwrap();
        assert!(d.spawn.is_none());
        it.fields.insert("reason".into(), "real_exceedance".into());
        let d = AlarmReview
            .transition(&it.facts(), "accept", &actor("admin"), at(NOW), &Fields::new(), &ctx())
            .unwrap();
        assert_eq!(d.to, ACCEPTED);
        assert!(d.spawn.unwrap().fields["problem"].contains("真实超标"));
    }

    #[test]
    fn a_verification_cannot_be_dated_in_the_future() {
        let it = item(ACCEPTED);
        let future = fields(&[("findings", "x"), ("verified_at", "2026-03-10T10:01"), ("inspector", "王")]);
        let r = AlarmReview.transition(&it.facts(), "verify", &actor("bureau"), at(NOW), &future, &ctx());
        assert_eq!(bad_fields(r), ["verified_at"]);
        let r =
            AlarmReview.transition(&it.facts(), "verify", &actor("bureau"), at(NOW), &Fields::new(), &ctx());
        assert_eq!(bad_fields(r), ["findings", "verified_at"]);
    }

    fn good_at(action: &str, _item: &Item, _now: i64) -> Fields {
        good(action)
    }

    fn bad(action: &str) -> Fields {
        match action {
            "explain" => fields(&[("reason", "shutdown"), ("text", "x")]),
            "verify" => fields(&[("findings", "x"), ("verified_at", "tomorrow")]),
            _ => fields(&[("reason", &"长".repeat(5000)), ("text", &"长".repeat(5000))]),
        }
    }

    proptest! {
        #[test]
        fn random_sequences_stay_in_the_declared_states(steps in testkit::steps()) {
            testkit::drive(&AlarmReview, opened(), at(NOW), &steps, good_at, bad)?;
        }
    }
}
