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
    ActionSpec, Context, Created, Decision, FieldKind, FieldSpec, Fields, ItemFacts, Kind, Machine, Problem,
    Refusal,
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
    date_text(today(due_at.saturating_sub(1)))
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::workflow::testkit::{self, DEPT, Item, OTHER_DEPT, OWNER, actor, at, bad_fields, ctx, fields};

    const NOW: &str = "2026-03-10T10:00";

    /// Every state × action × role; `dept` is the task's lead department.
    const MATRIX: &str = "
        # action          state               admin       leader bureau      dept        odept owner               other
        start             assigned            403         403    403         403         403   in_progress         403
        start             in_progress         403         403    403         403         403   409                 403
        start             submitted           403         403    403         403         403   409                 403
        start             extension_requested 403         403    403         403         403   409                 403
        start             accepted            403         403    403         403         403   409                 403
        submit            assigned            403         403    403         403         403   409                 403
        submit            in_progress         403         403    403         403         403   submitted           403
        submit            submitted           403         403    403         403         403   409                 403
        submit            extension_requested 403         403    403         403         403   409                 403
        submit            accepted            403         403    403         403         403   409                 403
        accept            assigned            409         403    409         409         403   403                 403
        accept            in_progress         409         403    409         409         403   403                 403
        accept            submitted           accepted    403    accepted    accepted    403   403                 403
        accept            extension_requested 409         403    409         409         403   403                 403
        accept            accepted            409         403    409         409         403   403                 403
        reject            assigned            409         403    409         409         403   403                 403
        reject            in_progress         409         403    409         409         403   403                 403
        reject            submitted           in_progress 403    in_progress in_progress 403   403                 403
        reject            extension_requested 409         403    409         409         403   403                 403
        reject            accepted            409         403    409         409         403   403                 403
        request_extension assigned            403         403    403         403         403   extension_requested 403
        request_extension in_progress         403         403    403         403         403   extension_requested 403
        request_extension submitted           403         403    403         403         403   409                 403
        request_extension extension_requested 403         403    403         403         403   409                 403
        request_extension accepted            403         403    403         403         403   409                 403
        approve_extension assigned            409         403    409         409         403   403                 403
        approve_extension in_progress         409         403    409         409         403   403                 403
        approve_extension submitted           409         403    409         409         403   403                 403
        approve_extension extension_requested in_progress 403    in_progress in_progress 403   403                 403
        approve_extension accepted            409         403    409         409         403   403                 403
        refuse_extension  assigned            409         403    409         409         403   403                 403
        refuse_extension  in_progress         409         403    409         409         403   403                 403
        refuse_extension  submitted           409         403    409         409         403   403                 403
        refuse_extension  extension_requested in_progress 403    in_progress in_progress 403   403                 403
        refuse_extension  accepted            409         403    409         409         403   403                 403
        bogus             assigned            422         422    422         422         422   422                 422
        bogus             in_progress         422         422    422         422         422   422                 422
        bogus             submitted           422         422    422         422         422   422                 422
        bogus             extension_requested 422         422    422         422         422   422                 422
        bogus             accepted            422         422    422         422         422   422                 422
    ";

    fn creation() -> Fields {
        fields(&[
            ("enterprise", OWNER),
            ("problem", "脱硫塔喷淋层堵塞\n导致 SO2 超标"),
            ("measures", "清理喷淋层，更换循环泵"),
            ("lead_unit", DEPT),
            ("responsible", "张三"),
            ("kind", "time_limited"),
            ("due", "2026-03-20"),
            ("supporting_units", OTHER_DEPT),
        ])
    }

    fn created() -> Item {
        let c = Tasks.create(&actor("bureau"), at(NOW), &creation(), &ctx()).unwrap();
        Item {
            state: c.state.into(),
            enterprise: c.enterprise,
            department: c.department,
            fields: c.fields,
            due_at: c.due_at,
            created_at: at(NOW),
        }
    }

    fn item(state: &str) -> Item {
        let mut it = created();
        it.state = state.into();
        if state == EXTENSION_REQUESTED {
            it.fields.extend(fields(&[("requested_due", "2026-04-10"), ("extension_from", IN_PROGRESS)]));
        }
        it
    }

    fn good(action: &str) -> Fields {
        match action {
            "submit" => fields(&[("evidence", "整改照片及监测报告")]),
            "reject" | "refuse_extension" => fields(&[("reason", "佐证不足")]),
            "request_extension" => fields(&[("due", "2026-04-30"), ("reason", "设备到货延迟")]),
            _ => Fields::new(),
        }
    }

    #[test]
    fn the_full_matrix() {
        testkit::run_matrix(&Tasks, MATRIX, at(NOW), item, good);
    }

    #[test]
    fn a_new_task_is_assigned_led_by_its_unit_and_due_at_the_end_of_its_day() {
        let it = created();
        assert_eq!(it.state, ASSIGNED);
        assert_eq!(it.department.as_deref(), Some(DEPT));
        assert_eq!(it.due_at, Some(at("2026-03-21T00:00")));
        assert_eq!(it.fields.get("supporting_units").map(String::as_str), Some(OTHER_DEPT));
        let c = Tasks.create(&actor("admin"), at(NOW), &fields(&[("lead_unit", BUREAU)]), &ctx());
        assert!(!bad_fields(c).contains(&"lead_unit".to_string()), "bureau is a lead unit");
        let mut by_bureau = creation();
        by_bureau.insert("lead_unit".into(), BUREAU.into());
        let c = Tasks.create(&actor("bureau"), at(NOW), &by_bureau, &ctx()).unwrap();
        assert_eq!((c.department, c.title.as_str()), (None, "脱硫塔喷淋层堵塞"));
    }

    #[test]
    fn who_may_create_a_task() {
        let ours = Tasks.create(&actor("dept"), at(NOW), &creation(), &ctx());
        assert!(ours.is_ok(), "a department creates the tasks it leads: {ours:?}");
        for column in ["leader", "odept", "owner", "other"] {
            let r = Tasks.create(&actor(column), at(NOW), &creation(), &ctx());
            assert_eq!(r.map_err(|e| e.status()), Err(403), "{column}");
        }
    }

    #[test]
    fn a_bad_task_names_every_field() {
        let bad = fields(&[
            ("enterprise", ""),
            ("problem", &"长".repeat(4001)),
            ("lead_unit", "nobody"),
            ("kind", "soon"),
            ("due", "2026-03-09"),
            ("supporting_units", "fgw,nobody"),
            ("source", &"x".repeat(201)),
        ]);
        let r = Tasks.create(&actor("bureau"), at(NOW), &bad, &ctx());
        assert_eq!(
            bad_fields(r),
            [
                "enterprise",
                "problem",
                "measures",
                "lead_unit",
                "responsible",
                "kind",
                "due",
                "supporting_units",
                "source"
            ]
        );
        // Yesterday is too early; today will do.
        let mut f = creation();
        f.insert("due".into(), "2026-03-09".into());
        let Err(Refusal::Invalid(p)) = Tasks.create(&actor("bureau"), at(NOW), &f, &ctx()) else { panic!() };
        assert_eq!(p[0].problem, Problem::TooEarly { after: "2026-03-09".into() });
        f.insert("due".into(), "2026-03-10".into());
        assert!(Tasks.create(&actor("bureau"), at(NOW), &f, &ctx()).is_ok());
    }

    #[test]
    fn an_approved_extension_moves_the_deadline_and_keeps_the_first_one() {
        let owner = actor("owner");
        let lead = actor("dept");
        let mut it = created();
        // Requested from `assigned`, refused: back to `assigned`, deadline unchanged.
        let d = Tasks
            .transition(&it.facts(), "request_extension", &owner, at(NOW), &good("request_extension"), &ctx())
            .unwrap();
        it.apply(&d);
        assert_eq!(it.fields["extension_from"], ASSIGNED);
        let d = Tasks
            .transition(&it.facts(), "refuse_extension", &lead, at(NOW), &good("refuse_extension"), &ctx())
            .unwrap();
        assert_eq!((d.to, d.due_at), (ASSIGNED, None));
        it.apply(&d);
        // The asked date must be later than the present one.
        let same = fields(&[("due", "2026-03-20"), ("reason", "x")]);
        let Err(Refusal::Invalid(p)) =
            Tasks.transition(&it.facts(), "request_extension", &owner, at(NOW), &same, &ctx())
        else {
            panic!()
        };
        assert_eq!(p[0].problem, Problem::TooEarly { after: "2026-03-20".into() });
        // Approved twice: the deadline follows, `original_due` stays the first.
        for (asked, end) in [("2026-04-30", "2026-05-01T00:00"), ("2026-05-15", "2026-05-16T00:00")] {
            let ask = fields(&[("due", asked), ("reason", "设备到货延迟")]);
            let d =
                Tasks.transition(&it.facts(), "request_extension", &owner, at(NOW), &ask, &ctx()).unwrap();
            it.apply(&d);
            let d = Tasks
                .transition(&it.facts(), "approve_extension", &lead, at(NOW), &Fields::new(), &ctx())
                .unwrap();
            assert_eq!(d.to, ASSIGNED);
            assert_eq!(d.due_at, Some(Some(at(end))));
            it.apply(&d);
            assert_eq!(it.fields["due"], asked);
            assert_eq!(it.fields["original_due"], "2026-03-20");
        }
    }

    #[test]
    fn submitting_needs_evidence() {
        let it = item(IN_PROGRESS);
        let r = Tasks.transition(
            &it.facts(),
            "submit",
            &actor("owner"),
            at(NOW),
            &fields(&[("evidence", "  ")]),
            &ctx(),
        );
        assert_eq!(bad_fields(r), ["evidence"]);
    }

    fn good_at(action: &str, item: &Item, _now: i64) -> Fields {
        if action == "request_extension" {
            // A week after the present due date.
            let due = item.fields.get("due").and_then(|d| parse_date(d)).unwrap_or(today(at(NOW)));
            let later = due.checked_add(jiff::Span::new().days(7)).unwrap_or(due);
            return fields(&[("due", &date_text(later)), ("reason", "设备到货延迟")]);
        }
        good(action)
    }

    fn bad(action: &str) -> Fields {
        match action {
            "request_extension" => fields(&[("due", "2026-01-01"), ("reason", "x")]),
            _ => fields(&[("evidence", " "), ("reason", &"长".repeat(5000))]),
        }
    }

    proptest! {
        #[test]
        fn random_sequences_stay_in_the_declared_states(steps in testkit::steps()) {
            testkit::drive(&Tasks, created(), at(NOW), &steps, good_at, bad)?;
        }
    }
}
