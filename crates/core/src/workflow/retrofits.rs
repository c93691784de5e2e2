//! Environmental retrofit projects (环保技改): an enterprise's project on some of its outlets,
//! planned, reported on, completed and accepted — after which the bureau may set a stricter
//! limit on the outlets from a date.
//!
//! Rules:
//! - Created (`POST /api/v1/retrofits`) by the bureau, an administrator or a department (the
//!   item's department is then the creating one). Fields: `enterprise`, `title`, `outlets`
//!   (outlet ids, comma-separated; whether they are the enterprise's is the caller's check, it
//!   has the registry), `planned_start`, `planned_end` (dates, the end after the start),
//!   `investment` (万元), optional `description`. The deadline is the end of `planned_end`.
//! - The enterprise's own users: `report_progress` (`progress` 0–100 %, `text`, optional
//!   `actual_start`, not after today) from planned or in_progress → in_progress; the first report
//!   without an `actual_start` records today as the start. `complete` with `actual_end` (not
//!   before the actual start, not after today) → completed.
//! - The bureau or an administrator: `accept` (completed → accepted, closed) with an optional
//!   `text` and optionally a stricter limit — `limit_factor`, `limit_value`, `limit_from` (a
//!   date), all three or none — recorded on the step for the application to turn into an
//!   effective-dated limit on the linked outlets; `reject` with a `reason` (completed →
//!   in_progress: the work is not done as planned).
//! - City leaders only read; departments follow the project but do not decide it.

use super::fields::{self, date_deadline, date_text, parse_date, today};
use super::rules::{self, Rules, is_bureau, is_owner};
use super::{
    ActionSpec, Context, Created, Decision, FieldKind, FieldSpec, Fields, ItemFacts, Kind, Machine, Problem,
    Refusal,
};
use crate::access::{Actor, Role};

/// Environmental retrofit projects.
#[derive(Debug, Clone, Copy, Default)]
pub struct Retrofits;

pub const PLANNED: &str = "planned";
pub const IN_PROGRESS: &str = "in_progress";
pub const COMPLETED: &str = "completed";
pub const ACCEPTED: &str = "accepted";

const STATES: &[&str] = &[PLANNED, IN_PROGRESS, COMPLETED, ACCEPTED];
const CLOSED: &[&str] = &[ACCEPTED];

/// The fields of a stricter limit, all three or none.
pub const LIMIT_FIELDS: [&str; 3] = ["limit_factor", "limit_value", "limit_from"];

const CREATE: &[FieldSpec] = &[
    FieldSpec { name: "enterprise", kind: FieldKind::Enterprise, required: true },
    FieldSpec { name: "title", kind: FieldKind::Text, required: true },
    FieldSpec { name: "outlets", kind: FieldKind::Text, required: true },
    FieldSpec { name: "planned_start", kind: FieldKind::Date, required: true },
    FieldSpec { name: "planned_end", kind: FieldKind::Date, required: true },
    FieldSpec { name: "investment", kind: FieldKind::Number, required: true },
    FieldSpec { name: "description", kind: FieldKind::LongText, required: false },
];
const REPORT_PROGRESS: &[FieldSpec] = &[
    FieldSpec { name: "progress", kind: FieldKind::Number, required: true },
    FieldSpec { name: "text", kind: FieldKind::LongText, required: true },
    FieldSpec { name: "actual_start", kind: FieldKind::Date, required: false },
];
const COMPLETE: &[FieldSpec] = &[FieldSpec { name: "actual_end", kind: FieldKind::Date, required: true }];
const ACCEPT: &[FieldSpec] = &[
    FieldSpec { name: "text", kind: FieldKind::LongText, required: false },
    FieldSpec { name: "limit_factor", kind: FieldKind::Text, required: false },
    FieldSpec { name: "limit_value", kind: FieldKind::Number, required: false },
    FieldSpec { name: "limit_from", kind: FieldKind::Date, required: false },
];
const REJECT: &[FieldSpec] = &[FieldSpec { name: "reason", kind: FieldKind::LongText, required: true }];
const ACTIONS: &[ActionSpec] = &[
    ActionSpec { name: "report_progress", fields: REPORT_PROGRESS },
    ActionSpec { name: "complete", fields: COMPLETE },
    ActionSpec { name: "accept", fields: ACCEPT },
    ActionSpec { name: "reject", fields: REJECT },
];

impl Rules for Retrofits {
    const KIND: Kind = Kind::Retrofits;

    fn specs() -> &'static [ActionSpec] {
        ACTIONS
    }

    fn may(actor: &Actor, item: &ItemFacts<'_>, action: &str) -> bool {
        match action {
            "report_progress" | "complete" => is_owner(actor, item),
            "accept" | "reject" => is_bureau(actor),
            _ => false,
        }
    }

    fn target(item: &ItemFacts<'_>, action: &str) -> Option<&'static str> {
        match (item.state, action) {
            (PLANNED | IN_PROGRESS, "report_progress") => Some(IN_PROGRESS),
            (IN_PROGRESS, "complete") => Some(COMPLETED),
            (COMPLETED, "accept") => Some(ACCEPTED),
            (COMPLETED, "reject") => Some(IN_PROGRESS),
            _ => None,
        }
    }
}

impl Machine for Retrofits {
    fn kind(&self) -> Kind {
        Kind::Retrofits
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

    fn create(
        &self,
        actor: &Actor,
        _now: i64,
        input: &Fields,
        ctx: &Context<'_>,
    ) -> Result<Created, Refusal> {
        let department = match &actor.role {
            Role::Admin | Role::Bureau => None,
            Role::Department { department } => Some(department.clone()),
            Role::Leader | Role::Enterprise { .. } => {
                return Err(Refusal::RoleMayNot { action: "create".into() });
            }
        };
        let mut checked = fields::check(CREATE, input, ctx);
        if let Some(outlets) = checked.get("outlets") {
            let mut ids: Vec<&str> = Vec::new();
            for id in outlets.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            if ids.is_empty() {
                checked.problem("outlets", Problem::Missing);
            } else {
                let list = ids.join(",");
                checked.accept("outlets", &list);
            }
        }
        let start = checked.get("planned_start").and_then(parse_date);
        let end = checked.get("planned_end").and_then(parse_date);
        if let (Some(start), Some(end)) = (start, end)
            && end <= start
        {
            checked.problem("planned_end", Problem::TooEarly { after: "planned_start".into() });
        }
        let fields = checked.finish()?;
        Ok(Created {
            state: PLANNED,
            enterprise: fields.get("enterprise").cloned().unwrap_or_default(),
            department,
            title: fields::title_of(fields.get("title").map(String::as_str).unwrap_or("")),
            due_at: fields.get("planned_end").and_then(|d| date_deadline(d)),
            fields,
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
        let (spec, to) = rules::gate::<Retrofits>(item, action, actor)?;
        let mut checked = fields::check(spec.fields, input, ctx);
        let mut decision =
            Decision { to, set: Fields::new(), due_at: None, step_fields: Fields::new(), spawn: None };
        let today = today(now);
        match action {
            "report_progress" => {
                if checked.get("progress").and_then(fields::parse_number).is_some_and(|p| p > 100.0) {
                    checked.problem("progress", Problem::TooLarge { max: "100".into() });
                }
                not_after_today(&mut checked, "actual_start", today);
                let step = checked.finish()?;
                if let Some(p) = step.get("progress") {
                    decision.set.insert("progress".into(), p.clone());
                }
                match step.get("actual_start") {
                    Some(d) => {
                        decision.set.insert("actual_start".into(), d.clone());
                    }
                    None if !item.fields.contains_key("actual_start") => {
                        decision.set.insert("actual_start".into(), date_text(today));
                    }
                    None => {}
                }
                decision.step_fields = step;
            }
            "complete" => {
                not_after_today(&mut checked, "actual_end", today);
                let started = item.fields.get("actual_start").and_then(|d| parse_date(d));
                if let (Some(end), Some(start)) = (checked.get("actual_end").and_then(parse_date), started)
                    && end < start
                {
                    checked.problem("actual_end", Problem::TooEarly { after: date_text(start) });
                }
                let step = checked.finish()?;
                if let Some(end) = step.get("actual_end") {
                    decision.set.insert("actual_end".into(), end.clone());
                }
                decision.set.insert("progress".into(), "100".into());
                decision.step_fields = step;
            }
            "accept" => {
                let given = LIMIT_FIELDS
                    .iter()
                    .filter(|f| input.get(**f).is_some_and(|v| !v.trim().is_empty()))
                    .count();
                if given > 0 && given < LIMIT_FIELDS.len() {
                    for name in LIMIT_FIELDS {
                        if input.get(name).is_none_or(|v| v.trim().is_empty()) {
                            checked.problem(name, Problem::Missing);
                        }
                    }
                }
                decision.step_fields = checked.finish()?;
            }
            _ => decision.step_fields = checked.finish()?,
        }
        Ok(decision)
    }

    fn allowed(&self, item: &ItemFacts<'_>, actor: &Actor, _now: i64) -> Vec<&'static str> {
        rules::allowed::<Retrofits>(item, actor)
    }
}

/// A date of something done may not lie in the future.
fn not_after_today(checked: &mut fields::Checked, name: &str, today: jiff::civil::Date) {
    if checked.get(name).and_then(parse_date).is_some_and(|d| d > today) {
        checked.problem(name, Problem::TooLate { before: date_text(today) });
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::workflow::testkit::{self, DEPT, Item, OWNER, actor, at, bad_fields, ctx, fields};

    const NOW: &str = "2026-03-10T10:00";

    /// Every state × action × role; `dept` created the project but does not decide it.
    const MATRIX: &str = "
        # action        state       admin       leader bureau      dept odept owner       other
        report_progress planned     403         403    403         403  403   in_progress 403
        report_progress in_progress 403         403    403         403  403   in_progress 403
        report_progress completed   403         403    403         403  403   409         403
        report_progress accepted    403         403    403         403  403   409         403
        complete        planned     403         403    403         403  403   409         403
        complete        in_progress 403         403    403         403  403   completed   403
        complete        completed   403         403    403         403  403   409         403
        complete        accepted    403         403    403         403  403   409         403
        accept          planned     409         403    409         403  403   403         403
        accept          in_progress 409         403    409         403  403   403         403
        accept          completed   accepted    403    accepted    403  403   403         403
        accept          accepted    409         403    409         403  403   403         403
        reject          planned     409         403    409         403  403   403         403
        reject          in_progress 409         403    409         403  403   403         403
        reject          completed   in_progress 403    in_progress 403  403   403         403
        reject          accepted    409         403    409         403  403   403         403
        bogus           planned     422         422    422         422  422   422         422
        bogus           in_progress 422         422    422         422  422   422         422
        bogus           completed   422         422    422         422  422   422         422
        bogus           accepted    422         422    422         422  422   422         422
    ";

    fn creation() -> Fields {
        fields(&[
            ("enterprise", OWNER),
            ("title", "2号机组超低排放改造"),
            ("outlets", " DA001, DA002,,DA001 "),
            ("planned_start", "2026-03-01"),
            ("planned_end", "2026-09-30"),
            ("investment", "1200"),
        ])
    }

    fn planned() -> Item {
        let c = Retrofits.create(&actor("dept"), at(NOW), &creation(), &ctx()).unwrap();
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
        let mut it = planned();
        it.state = state.into();
        if state != PLANNED {
            it.fields.extend(fields(&[("actual_start", "2026-03-02"), ("progress", "40")]));
        }
        it
    }

    fn good(action: &str) -> Fields {
        match action {
            "report_progress" => fields(&[("progress", "50"), ("text", "脱硝反应器安装完成")]),
            "complete" => fields(&[("actual_end", "2026-03-09")]),
            "accept" => {
                fields(&[("limit_factor", "a21026"), ("limit_value", "35"), ("limit_from", "2026-04-01")])
            }
            "reject" => fields(&[("reason", "CEMS 未联网")]),
            _ => Fields::new(),
        }
    }

    #[test]
    fn the_full_matrix() {
        testkit::run_matrix(&Retrofits, MATRIX, at(NOW), item, good);
    }

    #[test]
    fn a_new_project_is_planned_and_due_at_its_planned_end() {
        let it = planned();
        assert_eq!(it.state, PLANNED);
        assert_eq!(it.fields["outlets"], "DA001,DA002");
        assert_eq!(it.department.as_deref(), Some(DEPT));
        assert_eq!(it.due_at, Some(at("2026-10-01T00:00")));
        for column in ["leader", "owner", "other"] {
            let r = Retrofits.create(&actor(column), at(NOW), &creation(), &ctx());
            assert_eq!(r.map_err(|e| e.status()), Err(403), "{column}");
        }
        assert_eq!(
            Retrofits.create(&actor("bureau"), at(NOW), &creation(), &ctx()).unwrap().department,
            None
        );
    }

    #[test]
    fn a_bad_project_names_every_field() {
        let bad = fields(&[
            ("title", " "),
            ("outlets", " , ,"),
            ("planned_start", "2026-09-30"),
            ("planned_end", "2026-09-30"),
            ("investment", "lots"),
            ("description", &"长".repeat(4001)),
        ]);
        let r = Retrofits.create(&actor("bureau"), at(NOW), &bad, &ctx());
        assert_eq!(
            bad_fields(r),
            ["enterprise", "title", "outlets", "planned_end", "investment", "description"]
        );
    }

    #[test]
    fn progress_reports_and_completion() {
        let owner = actor("owner");
        let mut it = planned();
        let over = fields(&[("progress", "101"), ("text", "x"), ("actual_start", "2026-03-11")]);
        let Err(Refusal::Invalid(p)) =
            Retrofits.transition(&it.facts(), "report_progress", &owner, at(NOW), &over, &ctx())
        else {
            panic!()
        };
        assert_eq!(p[0].problem, Problem::TooLarge { max: "100".into() });
        assert_eq!(p[1].problem, Problem::TooLate { before: "2026-03-10".into() });
        // The first report without a start date starts the project today.
        let d = Retrofits
            .transition(&it.facts(), "report_progress", &owner, at(NOW), &good("report_progress"), &ctx())
            .unwrap();
        assert_eq!(d.set.get("actual_start").map(String::as_str), Some("2026-03-10"));
        it.apply(&d);
        // Completed before it started: refused.
        let early = fields(&[("actual_end", "2026-03-09")]);
        let r = Retrofits.transition(&it.facts(), "complete", &owner, at(NOW), &early, &ctx());
        assert_eq!(bad_fields(r), ["actual_end"]);
        let d = Retrofits
            .transition(
                &it.facts(),
                "complete",
                &owner,
                at(NOW),
                &fields(&[("actual_end", "2026-03-10")]),
                &ctx(),
            )
            .unwrap();
        assert_eq!((d.to, d.set["progress"].as_str()), (COMPLETED, "100"));
    }

    #[test]
    fn a_stricter_limit_comes_whole_or_not_at_all() {
        let it = item(COMPLETED);
        let bureau = actor("bureau");
        let part = fields(&[("limit_value", "35")]);
        let r = Retrofits.transition(&it.facts(), "accept", &bureau, at(NOW), &part, &ctx());
        assert_eq!(bad_fields(r), ["limit_factor", "limit_from"]);
        let d =
            Retrofits.transition(&it.facts(), "accept", &bureau, at(NOW), &good("accept"), &ctx()).unwrap();
        assert_eq!(d.step_fields, good("accept"), "recorded on the step for the application");
        let d =
            Retrofits.transition(&it.facts(), "accept", &bureau, at(NOW), &Fields::new(), &ctx()).unwrap();
        assert_eq!(d.to, ACCEPTED);
    }

    fn good_at(action: &str, item: &Item, now: i64) -> Fields {
        if action == "complete" {
            // Not before the actual start, not after today.
            let start = item.fields.get("actual_start").cloned().unwrap_or_else(|| date_text(today(now)));
            return fields(&[("actual_end", &start)]);
        }
        good(action)
    }

    fn bad(_action: &str) -> Fields {
        fields(&[
            ("progress", "150"),
            ("text", ""),
            ("actual_end", "2099-01-01"),
            ("limit_value", "1"),
            ("reason", ""),
        ])
    }

    proptest! {
        #[test]
        fn random_sequences_stay_in_the_declared_states(steps in testkit::steps()) {
            testkit::drive(&Retrofits, planned(), at(NOW), &steps, good_at, bad)?;
        }
    }
}
