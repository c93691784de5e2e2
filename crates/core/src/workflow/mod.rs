//! Supervision workflows: every kind of tracked item (an alarm's review, a rectification task, a
//! hidden hazard, a retrofit project) is an explicit state machine here, pure and deterministic.
//!
//! The shape is the same for every kind, so the store, the use cases, the API and the pages are
//! written once and keyed by [`Kind`]:
//! - an item is a state name, the enterprise it belongs to, optionally a supervising department,
//!   a deadline and its current [`Fields`];
//! - [`Machine::create`] checks a new item's fields and gives its first state;
//! - [`Machine::transition`] decides one action: the next state, the fields it changes, a new
//!   deadline, and perhaps an item of another kind it opens ([`Spawn`]: a rejected alarm
//!   explanation opens a rectification task) — or a [`Refusal`] that maps onto the API's answers
//!   (409 for an action the state does not allow, 403 for a role that may not take it, 422 with
//!   every bad field named);
//! - [`Machine::allowed`] lists the actions the caller may press now (the buttons of a page).
//!
//! Nothing here reads the clock or a store: `now`, the calendar and the configured departments
//! come in as arguments ([`Context`]).

use std::collections::BTreeMap;

pub mod alarms;
pub mod fields;
pub mod hazards;
pub mod retrofits;
mod rules;
pub mod tasks;
#[cfg(test)]
mod testkit;

pub use alarms::AlarmReview;
pub use hazards::Hazards;
pub use retrofits::Retrofits;
pub use tasks::Tasks;

use serde::{Deserialize, Serialize};

use crate::access::Actor;
use crate::calendar::WorkCalendar;

/// The kinds of tracked item. Their names are the API's path segment (`/api/v1/{kind}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An engine alarm's review: the enterprise explains, the bureau accepts or rejects.
    Alarms,
    /// A rectification task (整改).
    Tasks,
    /// A hidden hazard (隐患).
    Hazards,
    /// An environmental retrofit project (环保技改).
    Retrofits,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Alarms, Kind::Tasks, Kind::Hazards, Kind::Retrofits];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Alarms => "alarms",
            Kind::Tasks => "tasks",
            Kind::Hazards => "hazards",
            Kind::Retrofits => "retrofits",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// The rules of this kind.
    pub fn machine(self) -> &'static dyn Machine {
        match self {
            Kind::Alarms => &AlarmReview,
            Kind::Tasks => &Tasks,
            Kind::Hazards => &Hazards,
            Kind::Retrofits => &Retrofits,
        }
    }
}

/// Submitted fields of a creation or an action, by name, as text — what a form or a JSON body
/// gives. A machine validates and normalises them; the item keeps its fields the same way.
pub type Fields = BTreeMap<String, String>;

/// What is wrong with one submitted field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    /// Required and missing or blank.
    Missing,
    /// Not one of the allowed values.
    NotOneOf { allowed: Vec<String> },
    /// Not a date (`YYYY-MM-DD`) or a date and time (`YYYY-MM-DDTHH:MM`), China time.
    NotADate,
    /// Not a number, or outside its range.
    NotANumber,
    /// Longer than allowed, in characters.
    TooLong { max: usize },
    /// A date that must come after another field's or after today.
    TooEarly { after: String },
    /// Not a configured department code.
    UnknownDepartment,
    /// A date or instant that must not come after another (now, today).
    TooLate { before: String },
    /// A number above its maximum (a progress of 0–100 %).
    TooLarge { max: String },
    /// Not in the registry (an enterprise or outlet id), or not the item's enterprise's.
    NotRegistered,
    /// Refused by the registry's own checks (an effective-dated limit it would not hold), with
    /// the registry's message (English).
    Registry { message: String },
}

impl Problem {
    /// What is wrong, for people: Simplified Chinese, or English.
    pub fn describe(&self, english: bool) -> String {
        match (self, english) {
            (Problem::Missing, false) => "必填".into(),
            (Problem::Missing, true) => "required".into(),
            (Problem::NotOneOf { allowed }, false) => format!("应为以下之一：{}", allowed.join("、")),
            (Problem::NotOneOf { allowed }, true) => format!("must be one of {}", allowed.join(", ")),
            (Problem::NotADate, false) => "日期格式应为 YYYY-MM-DD".into(),
            (Problem::NotADate, true) => "must be a date, YYYY-MM-DD".into(),
            (Problem::NotANumber, false) => "应为非负数字".into(),
            (Problem::NotANumber, true) => "must be a number, zero or more".into(),
            (Problem::TooLong { max }, false) => format!("不能超过 {max} 个字"),
            (Problem::TooLong { max }, true) => format!("at most {max} characters"),
            (Problem::TooEarly { after }, false) => format!("应晚于 {after}"),
            (Problem::TooEarly { after }, true) => format!("must be later than {after}"),
            (Problem::UnknownDepartment, false) => "不是已配置的部门".into(),
            (Problem::UnknownDepartment, true) => "not a configured department".into(),
            (Problem::TooLate { before }, false) => format!("不能晚于 {before}"),
            (Problem::TooLate { before }, true) => format!("must not be later than {before}"),
            (Problem::TooLarge { max }, false) => format!("不能大于 {max}"),
            (Problem::TooLarge { max }, true) => format!("must be at most {max}"),
            (Problem::NotRegistered, false) => "登记信息中没有此项，或不属于该企业".into(),
            (Problem::NotRegistered, true) => "not in the registry, or not the enterprise's".into(),
            (Problem::Registry { message }, false) => format!("登记信息不接受：{message}"),
            (Problem::Registry { message }, true) => format!("the registry refuses it: {message}"),
        }
    }
}

/// One bad field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    pub field: String,
    #[serde(flatten)]
    pub problem: Problem,
}

/// Why an action or a creation was refused. Each maps onto one HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 409: the kind has this action, but not in the item's present state (nothing changes).
    #[error("{action} is not possible while the item is {state}")]
    NotInState { state: String, action: String },
    /// 403: the actor's role may not take this action on this item (in any state).
    #[error("your role may not {action} this item")]
    RoleMayNot { action: String },
    /// 422: the kind has no action of this name.
    #[error("{kind} have no action {action:?}")]
    UnknownAction { kind: &'static str, action: String },
    /// 422: every bad field, named.
    #[error("{} field(s) are not valid", .0.len())]
    Invalid(Vec<FieldProblem>),
    /// 409: the state allows the action, but a condition of the item is not met yet (a major
    /// hazard accepted with no on-site check within 10 days of the acceptance request). Nothing
    /// changes. `en` and `zh` say what is missing, for people.
    #[error("{action} is not possible yet: {en}")]
    Unmet { action: String, en: String, zh: String },
}

impl Refusal {
    /// The HTTP status this refusal is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::NotInState { .. } | Refusal::Unmet { .. } => 409,
            Refusal::RoleMayNot { .. } => 403,
            Refusal::UnknownAction { .. } | Refusal::Invalid(_) => 422,
        }
    }

    /// The refusal for people: Simplified Chinese, or English (field problems are listed with
    /// [`Problem::describe`]).
    pub fn describe(&self, english: bool) -> String {
        match (self, english) {
            (Refusal::NotInState { state, action }, false) => {
                format!("当前状态（{state}）下不能执行 {action}")
            }
            (Refusal::RoleMayNot { action }, false) => format!("您的角色不能对此事项执行 {action}"),
            (Refusal::UnknownAction { kind, action }, false) => format!("{kind} 没有名为 {action:?} 的操作"),
            (Refusal::Invalid(p), false) => format!("{} 个字段填写有误", p.len()),
            (Refusal::Unmet { action, zh, .. }, false) => format!("暂不能执行 {action}：{zh}"),
            (other, true) => other.to_string(),
        }
    }
}

/// How a field is entered and checked (drives the API's validation messages and the page's forms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// One line of text.
    Text,
    /// Several lines (a description, measures, evidence).
    LongText,
    /// One of the listed values.
    Choice(&'static [&'static str]),
    /// A China-time date `YYYY-MM-DD` (a deadline falls at the end of its day).
    Date,
    /// A China-time instant `YYYY-MM-DDTHH:MM`.
    DateTime,
    /// A number zero or more (money in 万元, a percentage).
    Number,
    /// A configured department code.
    Department,
    /// Several configured department codes, comma-separated.
    Departments,
    /// An enterprise id of the registry (checked by the caller, who has the registry).
    Enterprise,
}

/// One field of a creation form or an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
}

/// One action of a kind with the fields it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionSpec {
    pub name: &'static str,
    pub fields: &'static [FieldSpec],
}

/// What a machine needs besides the item: the working-day calendar, the configured
/// departments (codes) and the configurable deadlines.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub calendar: &'a WorkCalendar,
    pub departments: &'a [String],
    /// Working days an enterprise has to explain an alarm (counted as
    /// [`WorkCalendar::deadline`] counts them from the alarm's raising).
    pub explain_working_days: u32,
}

impl<'a> Context<'a> {
    /// The default number of working days to explain an alarm.
    pub const DEFAULT_EXPLAIN_WORKING_DAYS: u32 = 3;

    /// A context with the default deadlines.
    pub fn new(calendar: &'a WorkCalendar, departments: &'a [String]) -> Context<'a> {
        Context { calendar, departments, explain_working_days: Self::DEFAULT_EXPLAIN_WORKING_DAYS }
    }

    /// The same context with another explanation deadline.
    pub fn with_explain_working_days(self, n: u32) -> Context<'a> {
        Context { explain_working_days: n, ..self }
    }
}

/// An item as its machine sees it.
#[derive(Debug, Clone, Copy)]
pub struct ItemFacts<'a> {
    pub state: &'a str,
    pub enterprise: &'a str,
    /// The supervising or lead department's code, when the kind has one.
    pub department: Option<&'a str>,
    pub fields: &'a Fields,
    /// The present deadline (epoch ms, the end of its China-time day), if any.
    pub due_at: Option<i64>,
    pub created_at: i64,
}

/// A new item, as [`Machine::create`] decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub state: &'static str,
    pub enterprise: String,
    pub department: Option<String>,
    /// A short line naming the item in lists (the problem, the hazard's description …).
    pub title: String,
    /// The item's fields, validated and normalised.
    pub fields: Fields,
    pub due_at: Option<i64>,
}

/// An item of another kind that an action opens (a rejected explanation opens a task).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spawn {
    pub kind: Kind,
    /// The creation fields of the new item (checked by its own [`Machine::create`]).
    pub fields: Fields,
}

/// What one applied action does to an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The state after the action (may equal the state before: a progress report).
    pub to: &'static str,
    /// Item fields the action sets (merged into the item's fields; never removes one).
    pub set: Fields,
    /// `Some(d)` when the action changes the deadline to `d` (`Some(None)`: no deadline any more).
    pub due_at: Option<Option<i64>>,
    /// The fields recorded on the history step, validated and normalised.
    pub step_fields: Fields,
    pub spawn: Option<Spawn>,
}

/// The rules of one kind.
pub trait Machine: Send + Sync {
    fn kind(&self) -> Kind;
    /// Every state name, the first the initial one.
    fn states(&self) -> &'static [&'static str];
    /// States in which the item is finished (nothing is late any more).
    fn closed_states(&self) -> &'static [&'static str];
    /// The fields a new item takes (empty for a kind not created by people, like alarm reviews).
    fn creation_fields(&self) -> &'static [FieldSpec];
    /// Every action with its fields.
    fn actions(&self) -> &'static [ActionSpec];
    /// Check a new item: 403 for a role that may not create one (an enterprise user may create
    /// only for their own enterprise), 422 naming every bad field.
    fn create(&self, actor: &Actor, now: i64, fields: &Fields, ctx: &Context<'_>)
    -> Result<Created, Refusal>;
    /// Decide one action. Checks in this order: the action exists (422), the role may take it
    /// on this item (403), the state allows it (409), the fields (422).
    fn transition(
        &self,
        item: &ItemFacts<'_>,
        action: &str,
        actor: &Actor,
        now: i64,
        fields: &Fields,
        ctx: &Context<'_>,
    ) -> Result<Decision, Refusal>;
    /// The actions `actor` may take on `item` now, whatever fields they would bring.
    fn allowed(&self, item: &ItemFacts<'_>, actor: &Actor, now: i64) -> Vec<&'static str>;
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn every_kind_has_its_machine_and_a_consistent_shape() {
        for kind in Kind::ALL {
            let m = kind.machine();
            assert_eq!(m.kind(), kind);
            assert!(!m.states().is_empty());
            assert!(m.closed_states().iter().all(|s| m.states().contains(s)), "{kind:?}");
            let mut names: Vec<&str> = m.actions().iter().map(|a| a.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), m.actions().len(), "{kind:?} has an action twice");
            for fields in m.actions().iter().map(|a| a.fields).chain([m.creation_fields()]) {
                let mut f: Vec<&str> = fields.iter().map(|s| s.name).collect();
                f.sort_unstable();
                f.dedup();
                assert_eq!(f.len(), fields.len(), "{kind:?} has a field twice");
            }
        }
    }

    #[test]
    fn refusals_answer_their_status_in_both_languages() {
        let unmet =
            Refusal::Unmet { action: "accept".into(), en: "a check first".into(), zh: "须先核查".into() };
        assert_eq!(unmet.status(), 409);
        assert_eq!(unmet.describe(false), "暂不能执行 accept：须先核查");
        assert_eq!(unmet.describe(true), "accept is not possible yet: a check first");
        let role = Refusal::RoleMayNot { action: "accept".into() };
        assert_eq!((role.status(), role.describe(false).as_str()), (403, "您的角色不能对此事项执行 accept"));
        assert_eq!(Problem::TooLarge { max: "100".into() }.describe(false), "不能大于 100");
        assert_eq!(
            Problem::TooLate { before: "2026-03-10".into() }.describe(true),
            "must not be later than 2026-03-10"
        );
    }

    /// Every field name any machine reads, for the arbitrary inputs below.
    const NAMES: &[&str] = &[
        "enterprise",
        "problem",
        "measures",
        "lead_unit",
        "responsible",
        "kind",
        "due",
        "grade",
        "deadline",
        "funds",
        "supervising_department",
        "planned_start",
        "planned_end",
        "outlets",
        "investment",
        "progress",
        "actual_start",
        "actual_end",
        "reason",
        "text",
        "period_from",
        "period_to",
        "verified_at",
        "checked_at",
        "findings",
        "evidence",
        "limit_factor",
        "limit_value",
        "limit_from",
        "requested_due",
        "extension_from",
        "original_due",
        "acceptance_requested_at",
        "last_checked_at",
        "alarm",
        "alarm_title",
    ];

    fn any_fields() -> impl Strategy<Value = Fields> {
        let value = prop_oneof![
            Just(String::new()),
            Just("2026-03-10".to_string()),
            Just("2026-03-10T10:00".to_string()),
            Just("major".to_string()),
            Just("fgw".to_string()),
            Just("-0".to_string()),
            Just("1e308".to_string()),
            Just("9999-12-31".to_string()),
            Just("-9999-01-01".to_string()),
            ".{0,12}",
        ];
        prop::collection::btree_map(prop::sample::select(NAMES).prop_map(str::to_string), value, 0..12)
    }

    proptest! {
        /// Whatever an item holds (a garbled state, odd fields, absurd instants) and whatever is
        /// submitted, a machine answers without panicking, and an accepted decision leads to
        /// one of its states.
        #[test]
        fn no_input_makes_a_machine_panic(
            kind in prop::sample::select(Kind::ALL.to_vec()),
            state in prop_oneof![".{0,8}", Just("submitted".to_string()), Just("extension_requested".to_string()),
                                 Just("explained".to_string()), Just("completed".to_string())],
            item_fields in any_fields(),
            input in any_fields(),
            action in prop_oneof![".{0,6}", prop::sample::select(vec![
                "explain", "accept", "reject", "verify", "start", "submit", "request_extension",
                "approve_extension", "refuse_extension", "check", "report_progress", "complete",
            ]).prop_map(str::to_string)],
            column in prop::sample::select(testkit::COLUMNS.to_vec()),
            now in prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0i64), any::<i64>(), 1_700_000_000_000i64..1_900_000_000_000],
            due_at in prop_oneof![Just(None), Just(Some(i64::MIN)), Just(Some(i64::MAX)), any::<Option<i64>>()],
        ) {
            let m = kind.machine();
            let ctx = testkit::ctx();
            let who = testkit::actor(column);
            let item = ItemFacts {
                state: &state,
                enterprise: testkit::OWNER,
                department: Some(testkit::DEPT),
                fields: &item_fields,
                due_at,
                created_at: now,
            };
            let _ = m.allowed(&item, &who, now);
            if let Ok(d) = m.transition(&item, &action, &who, now, &input, &ctx) {
                prop_assert!(m.states().contains(&d.to));
            }
            if let Ok(c) = m.create(&who, now, &input, &ctx) {
                prop_assert!(m.states().contains(&c.state));
            }
            let _ = AlarmReview::opened_for(1, &state, testkit::OWNER, now, &ctx);
        }
    }
}
