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
    ActionSpec, Context, Created, Decision, FieldKind, FieldSpec, Fields, ItemFacts, Kind, Machine, Problem,
    Refusal,
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
                    zh: format!(
                        "重大隐患须在验收申请（{when}）后 {CHECK_WITHIN_DAYS} 日内完成现场核查并记录，方可销号"
                    ),
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::workflow::testkit::{self, DEPT, Item, OTHER, OWNER, actor, at, bad_fields, ctx, fields};

    const NOW: &str = "2026-03-10T10:00";

    /// Every state × action × role, on a major hazard checked in time; `dept` supervises it.
    const MATRIX: &str = "
        # action state       admin       leader bureau      dept        odept owner       other
        start    registered  403         403    403         403         403   in_progress 403
        start    in_progress 403         403    403         403         403   409         403
        start    submitted   403         403    403         403         403   409         403
        start    accepted    403         403    403         403         403   409         403
        submit   registered  403         403    403         403         403   409         403
        submit   in_progress 403         403    403         403         403   submitted   403
        submit   submitted   403         403    403         403         403   409         403
        submit   accepted    403         403    403         403         403   409         403
        check    registered  409         403    409         409         403   403         403
        check    in_progress in_progress 403    in_progress in_progress 403   403         403
        check    submitted   submitted   403    submitted   submitted   403   403         403
        check    accepted    409         403    409         409         403   403         403
        accept   registered  409         403    409         409         403   403         403
        accept   in_progress 409         403    409         409         403   403         403
        accept   submitted   accepted    403    accepted    accepted    403   403         403
        accept   accepted    409         403    409         409         403   403         403
        reject   registered  409         403    409         409         403   403         403
        reject   in_progress 409         403    409         409         403   403         403
        reject   submitted   in_progress 403    in_progress in_progress 403   403         403
        reject   accepted    409         403    409         409         403   403         403
        bogus    registered  422         422    422         422         422   422         422
        bogus    in_progress 422         422    422         422         422   422         422
        bogus    submitted   422         422    422         422         422   422         422
        bogus    accepted    422         422    422         422         422   422         422
    ";

    fn major() -> Fields {
        fields(&[
            ("enterprise", OWNER),
            ("grade", "major"),
            ("description", "液氨储罐区未设置泄漏报警"),
            ("measures", "加装报警与喷淋"),
            ("funds", "35.5"),
            ("deadline", "2026-04-30"),
            ("responsible", "李四"),
            ("contingency_plan", "泄漏应急预案（2026 版）"),
            ("supervising_department", DEPT),
        ])
    }

    fn item_from(c: Created) -> Item {
        Item {
            state: c.state.into(),
            enterprise: c.enterprise,
            department: c.department,
            fields: c.fields,
            due_at: c.due_at,
            created_at: at(NOW),
        }
    }

    fn registered() -> Item {
        item_from(Hazards.create(&actor("owner"), at(NOW), &major(), &ctx()).unwrap())
    }

    fn item(state: &str) -> Item {
        let mut it = registered();
        it.state = state.into();
        if state == SUBMITTED {
            it.fields.extend(fields(&[
                ("acceptance_requested_at", "2026-03-05T09:00"),
                ("last_checked_at", "2026-03-06T09:00"),
            ]));
        }
        it
    }

    fn good(action: &str) -> Fields {
        match action {
            "submit" => fields(&[("evidence", "报警器安装验收单")]),
            "check" => fields(&[("findings", "报警器已安装并联动"), ("checked_at", "2026-03-10T09:30")]),
            "reject" => fields(&[("reason", "喷淋未联动")]),
            _ => Fields::new(),
        }
    }

    #[test]
    fn the_full_matrix() {
        testkit::run_matrix(&Hazards, MATRIX, at(NOW), item, good);
    }

    #[test]
    fn a_major_hazard_needs_its_five_fields_and_a_supervisor() {
        let bare = fields(&[("enterprise", OWNER), ("grade", "major"), ("description", "x")]);
        let r = Hazards.create(&actor("bureau"), at(NOW), &bare, &ctx());
        assert_eq!(bad_fields(r), MAJOR_REQUIRES);
        // Bad values are named too, in form order, with the missing ones.
        let mut f = bare.clone();
        f.extend(fields(&[
            ("funds", "-3"),
            ("deadline", "2026-03-09"),
            ("supervising_department", "nobody"),
        ]));
        let r = Hazards.create(&actor("bureau"), at(NOW), &f, &ctx());
        assert_eq!(bad_fields(r), MAJOR_REQUIRES);
        let r = Hazards.create(&actor("bureau"), at(NOW), &fields(&[("grade", "grave")]), &ctx());
        assert_eq!(bad_fields(r), ["enterprise", "grade", "description"]);
    }

    #[test]
    fn who_reports_and_what_the_deadline_is() {
        let it = registered();
        assert_eq!(it.state, REGISTERED);
        assert_eq!(it.fields["source"], "self_inspection");
        assert_eq!(it.department.as_deref(), Some(DEPT));
        assert_eq!(it.due_at, Some(at("2026-05-01T00:00")));
        // Another enterprise's user may not report for this one; a leader reports nothing.
        for column in ["other", "leader"] {
            let r = Hazards.create(&actor(column), at(NOW), &major(), &ctx());
            assert_eq!(r.map_err(|e| e.status()), Err(403), "{column}");
        }
        // A general hazard found by a department's inspection: that department supervises it,
        // due 30 calendar days after reporting (10 March → end of 9 April).
        let general = fields(&[("enterprise", OTHER), ("grade", "general"), ("description", "危废标识缺失")]);
        let c = Hazards.create(&actor("odept"), at(NOW), &general, &ctx()).unwrap();
        assert_eq!(c.fields["source"], "inspection");
        assert_eq!(c.department.as_deref(), Some("yjj"));
        assert_eq!(c.due_at, Some(at("2026-04-10T00:00")));
        // An enterprise user's blank enterprise is their own.
        let mine = fields(&[("grade", "general"), ("description", "x")]);
        assert_eq!(Hazards.create(&actor("owner"), at(NOW), &mine, &ctx()).unwrap().enterprise, OWNER);
    }

    #[test]
    fn a_major_hazard_is_accepted_only_after_a_check_within_ten_days_of_the_request() {
        let bureau = actor("bureau");
        let owner = actor("owner");
        let mut it = item(IN_PROGRESS);
        // A check before the request does not count.
        let early = fields(&[("findings", "整改中"), ("checked_at", "2026-03-09T15:00")]);
        it.apply(&Hazards.transition(&it.facts(), "check", &bureau, at(NOW), &early, &ctx()).unwrap());
        it.apply(
            &Hazards.transition(&it.facts(), "submit", &owner, at(NOW), &good("submit"), &ctx()).unwrap(),
        );
        assert_eq!(it.fields["acceptance_requested_at"], "2026-03-10T10:00");
        let later = at("2026-03-25T10:00");
        let r = Hazards.transition(&it.facts(), "accept", &bureau, later, &Fields::new(), &ctx());
        let Err(refusal) = r else { panic!("{r:?}") };
        assert_eq!(refusal.status(), 409);
        assert!(refusal.to_string().contains("within 10 days"), "{refusal}");
        assert!(refusal.describe(false).contains("10 日内完成现场核查"), "{}", refusal.describe(false));
        assert!(!Hazards.allowed(&it.facts(), &bureau, later).contains(&"accept"));
        // A check 11 days after the request is too late as well.
        let late = fields(&[("findings", "已整改"), ("checked_at", "2026-03-21T10:01")]);
        let mut too_late = it.clone();
        too_late.apply(&Hazards.transition(&it.facts(), "check", &bureau, later, &late, &ctx()).unwrap());
        assert!(
            Hazards.transition(&too_late.facts(), "accept", &bureau, later, &Fields::new(), &ctx()).is_err()
        );
        // On the tenth day it counts, even if an older visit is entered afterwards.
        let in_time = fields(&[("findings", "已整改"), ("checked_at", "2026-03-20T10:00")]);
        it.apply(&Hazards.transition(&it.facts(), "check", &bureau, later, &in_time, &ctx()).unwrap());
        it.apply(&Hazards.transition(&it.facts(), "check", &bureau, later, &early, &ctx()).unwrap());
        assert_eq!(it.fields["last_checked_at"], "2026-03-20T10:00");
        let d =
            Hazards.transition(&it.facts(), "accept", &actor("dept"), later, &Fields::new(), &ctx()).unwrap();
        assert_eq!(d.to, ACCEPTED);
    }

    #[test]
    fn a_general_hazard_needs_no_check() {
        let mut it = item(SUBMITTED);
        it.fields.insert("grade".into(), "general".into());
        it.fields.remove("last_checked_at");
        let d = Hazards
            .transition(&it.facts(), "accept", &actor("admin"), at(NOW), &Fields::new(), &ctx())
            .unwrap();
        assert_eq!(d.to, ACCEPTED);
    }

    #[test]
    fn a_check_names_its_bad_fields_and_cannot_be_in_the_future() {
        let it = item(SUBMITTED);
        let r = Hazards.transition(&it.facts(), "check", &actor("bureau"), at(NOW), &Fields::new(), &ctx());
        assert_eq!(bad_fields(r), ["findings", "checked_at"]);
        let future = fields(&[("findings", "x"), ("checked_at", "2026-03-11T08:00")]);
        let Err(Refusal::Invalid(p)) =
            Hazards.transition(&it.facts(), "check", &actor("bureau"), at(NOW), &future, &ctx())
        else {
            panic!()
        };
        assert_eq!(p[0].problem, Problem::TooLate { before: "2026-03-10T10:00".into() });
    }

    fn good_at(action: &str, _item: &Item, now: i64) -> Fields {
        if action == "check" {
            return fields(&[("findings", "现场核查"), ("checked_at", &datetime_text(now))]);
        }
        good(action)
    }

    fn bad(_action: &str) -> Fields {
        fields(&[("evidence", ""), ("findings", "x"), ("checked_at", "2099-01-01T00:00"), ("reason", " ")])
    }

    proptest! {
        #[test]
        fn random_sequences_stay_in_the_declared_states(steps in testkit::steps()) {
            testkit::drive(&Hazards, registered(), at(NOW), &steps, good_at, bad)?;
        }
    }
}
