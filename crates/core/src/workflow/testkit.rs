//! What the machines' tests share: the seven actors of the matrix, a context, China-time
//! instants, the matrix runner and the random-sequence property.

use proptest::prelude::*;

use super::{Context, Decision, Fields, ItemFacts, Machine, Refusal};
use crate::access::{Actor, Role};
use crate::calendar::WorkCalendar;

/// The item's enterprise and department in every test, and another of each.
pub const OWNER: &str = "E01";
pub const OTHER: &str = "E02";
pub const DEPT: &str = "fgw";
pub const OTHER_DEPT: &str = "yjj";

/// The matrix's columns, in order.
pub const COLUMNS: [&str; 7] = ["admin", "leader", "bureau", "dept", "odept", "owner", "other"];

pub fn actor(column: &str) -> Actor {
    let role = match column {
        "admin" => Role::Admin,
        "leader" => Role::Leader,
        "bureau" => Role::Bureau,
        "dept" => Role::Department { department: DEPT.into() },
        "odept" => Role::Department { department: OTHER_DEPT.into() },
        "owner" => Role::Enterprise { enterprise: OWNER.into() },
        "other" => Role::Enterprise { enterprise: OTHER.into() },
        other => panic!("no column {other}"),
    };
    Actor::new(column, role)
}

pub fn actors() -> Vec<Actor> {
    COLUMNS.iter().map(|c| actor(c)).collect()
}

pub fn calendar() -> &'static WorkCalendar {
    static CAL: std::sync::OnceLock<WorkCalendar> = std::sync::OnceLock::new();
    CAL.get_or_init(WorkCalendar::bundled)
}

pub fn departments() -> &'static [String] {
    static DEPS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    DEPS.get_or_init(|| vec![DEPT.to_string(), OTHER_DEPT.to_string()])
}

pub fn ctx() -> Context<'static> {
    Context::new(calendar(), departments())
}

/// Epoch ms of a China-time wall clock `YYYY-MM-DDTHH:MM`.
pub fn at(s: &str) -> i64 {
    super::fields::parse_datetime(s).unwrap_or_else(|| panic!("not a time: {s}"))
}

pub fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// The fields named in a 422.
pub fn bad_fields(r: Result<impl std::fmt::Debug, Refusal>) -> Vec<String> {
    match r {
        Err(Refusal::Invalid(problems)) => problems.into_iter().map(|p| p.field).collect(),
        other => panic!("expected 422 with fields, got {other:?}"),
    }
}

/// An item as the tests hold it.
#[derive(Debug, Clone)]
pub struct Item {
    pub state: String,
    pub enterprise: String,
    pub department: Option<String>,
    pub fields: Fields,
    pub due_at: Option<i64>,
    pub created_at: i64,
}

impl Item {
    pub fn facts(&self) -> ItemFacts<'_> {
        ItemFacts {
            state: &self.state,
            enterprise: &self.enterprise,
            department: self.department.as_deref(),
            fields: &self.fields,
            due_at: self.due_at,
            created_at: self.created_at,
        }
    }

    /// What the store does with a decision.
    pub fn apply(&mut self, d: &Decision) {
        self.state = d.to.to_string();
        self.fields.extend(d.set.clone());
        if let Some(due) = d.due_at {
            self.due_at = due;
        }
    }
}

/// One answer of the matrix: `Ok(to)` as the state's name, or the status.
fn answer(r: &Result<Decision, Refusal>) -> String {
    match r {
        Ok(d) => d.to.to_string(),
        Err(e) => e.status().to_string(),
    }
}

/// Run a matrix table: lines of `action state admin leader bureau dept odept owner other`
/// (blank lines and `#` comments skipped). `item(state)` is an item in that state; `good(action)`
/// are valid fields for the action. Checks that the table has every action of the machine (and
/// the unknown action `bogus`) in every state exactly once, that each answer is the table's, and
/// that `allowed` offers exactly the cells that succeed.
pub fn run_matrix(
    m: &dyn Machine,
    table: &str,
    now: i64,
    item: impl Fn(&str) -> Item,
    good: impl Fn(&str) -> Fields,
) {
    let ctx = ctx();
    let mut seen = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for line in table.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cells.len(), 2 + COLUMNS.len(), "malformed matrix line {line:?}");
        let (action, state) = (cells[0], cells[1]);
        assert!(seen.insert((action.to_string(), state.to_string())), "{action} in {state} twice");
        let it = item(state);
        for (column, want) in COLUMNS.iter().zip(&cells[2..]) {
            let who = actor(column);
            let got = answer(&m.transition(&it.facts(), action, &who, now, &good(action), &ctx));
            if got != *want {
                failures.push(format!("{action} in {state} by {column}: want {want}, got {got}"));
            }
            let offered = m.allowed(&it.facts(), &who, now).contains(&action);
            let ok = !want.chars().all(|c| c.is_ascii_digit());
            if offered != ok {
                failures.push(format!("{action} in {state} by {column}: allowed says {offered}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} cells differ:\n{}", failures.len(), failures.join("\n"));
    for state in m.states() {
        for action in m.actions().iter().map(|a| a.name).chain(["bogus"]) {
            assert!(
                seen.contains(&(action.to_string(), state.to_string())),
                "the matrix misses {action} in {state}"
            );
        }
    }
}

/// One random step: an actor, an action (one of the machine's or `bogus`) and fields drawn
/// from good values, bad values and nothing.
#[derive(Debug, Clone)]
pub struct Step {
    pub actor: usize,
    pub action: usize,
    pub fields: usize,
    pub advance_minutes: i64,
}

pub fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (0..COLUMNS.len(), 0..16usize, 0..3usize, 0..20_000i64).prop_map(
            |(actor, action, fields, advance_minutes)| Step { actor, action, fields, advance_minutes },
        ),
        1..40,
    )
}

/// Drive `item` through `steps`: every answer keeps the item in the machine's states, a refusal
/// changes nothing, an accepted decision leads where `allowed` said an action could go, a closed
/// state stays closed, and an opened task is one [`super::Tasks`] would create.
pub fn drive(
    m: &dyn Machine,
    mut item: Item,
    start: i64,
    steps: &[Step],
    good: impl Fn(&str, &Item, i64) -> Fields,
    bad: impl Fn(&str) -> Fields,
) -> Result<(), TestCaseError> {
    let ctx = ctx();
    let actors = actors();
    let names: Vec<&str> = m.actions().iter().map(|a| a.name).chain(["bogus"]).collect();
    let mut now = start;
    for step in steps {
        now += step.advance_minutes * 60_000;
        let who = &actors[step.actor];
        let action = names[step.action % names.len()];
        let input = match step.fields {
            0 => good(action, &item, now),
            1 => bad(action),
            _ => Fields::new(),
        };
        let before = item.clone();
        let offered = m.allowed(&item.facts(), who, now);
        match m.transition(&item.facts(), action, who, now, &input, &ctx) {
            Ok(d) => {
                prop_assert!(m.states().contains(&d.to), "{} left the states: {}", action, d.to);
                prop_assert!(offered.contains(&action), "{action} succeeded but was not offered");
                prop_assert!(!m.closed_states().contains(&before.state.as_str()) || d.to == before.state);
                if let Some(spawn) = &d.spawn {
                    let task = super::Tasks.create(&actor("bureau"), now, &spawn.fields, &ctx);
                    prop_assert!(task.is_ok(), "spawned task refused: {task:?}");
                }
                item.apply(&d);
            }
            Err(refusal) => {
                if matches!(
                    refusal,
                    Refusal::NotInState { .. } | Refusal::RoleMayNot { .. } | Refusal::Unmet { .. }
                ) {
                    prop_assert!(!offered.contains(&action), "{action} offered but refused: {refusal}");
                }
                prop_assert_eq!(&item.state, &before.state);
            }
        }
        prop_assert!(m.states().contains(&item.state.as_str()));
    }
    Ok(())
}
