//! The supervision workflows' use cases (issue 18): list, read, create and act on tracked items
//! of every kind — alarm reviews, rectification tasks, hidden hazards, retrofit projects — under
//! the access policy, with the state machines of `fenhe_core::workflow` deciding every change and
//! the store's `WorkflowStore` keeping items, their whole history and their attachments.
//!
//! One shape for every kind, keyed by [`Kind`]: the pages and the JSON API call the same six
//! functions whatever the kind.
//! - [`access`]: who sees which items (an item out of scope is [`Denied::NotFound`], exactly as
//!   a missing one);
//! - [`views`]: [`list`], [`get`] and [`overdue_counts`];
//! - [`actions`]: [`create`] and [`act`] (with the items an action opens, audited);
//! - [`files`]: attachments kept with a step, and [`file`] to read one back;
//! - [`alarm_reviews`]: an engine alarm's review, which exists before anyone acts on it (its
//!   deadline runs from the alarm's raising) and is stored on its first action;
//! - [`retrofit_limits`]: an accepted retrofit's stricter limit on its outlets;
//! - [`escalation`]: what the `workflow-escalation` job does with late items.

pub mod access;
pub mod actions;
pub mod alarm_reviews;
pub mod escalation;
pub mod files;
pub mod retrofit_limits;
pub mod views;

#[cfg(test)]
mod tests;

use fenhe_core::access::Denied;
use fenhe_core::calendar::WorkCalendar;
use fenhe_core::workflow::{FieldProblem, Problem, Refusal};
use fenhe_store::StoreError;

pub use actions::{act, act_by, create, create_by};
pub use escalation::{EscalationReport, escalate};
pub use files::file;
pub use views::{get, list, overdue_counts};

pub use fenhe_core::workflow::{Fields, Kind};
pub use fenhe_store::{Step, StoredFile};

/// The username and role name of steps a job or the application itself appends.
pub const SYSTEM: &str = "system";

/// How the workflows count their deadlines.
#[derive(Debug, Clone)]
pub struct WorkflowSettings {
    /// Working days, public holidays and make-up working days (调休).
    pub calendar: WorkCalendar,
    /// Working days an enterprise has to explain an alarm, from the first working day after
    /// the alarm was raised.
    pub explain_working_days: u32,
}

/// Working days to explain an alarm when nothing else is configured.
pub const DEFAULT_EXPLAIN_WORKING_DAYS: u32 = fenhe_core::workflow::Context::DEFAULT_EXPLAIN_WORKING_DAYS;

impl Default for WorkflowSettings {
    fn default() -> Self {
        WorkflowSettings {
            calendar: WorkCalendar::bundled(),
            explain_working_days: DEFAULT_EXPLAIN_WORKING_DAYS,
        }
    }
}

/// Why a workflow use case gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// The policy refused: 403 for the role, 404 for an item out of scope or missing (the same
    /// answer, so that an enterprise user cannot learn another's ids).
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The item's machine (or a registry check) refused: [`Refusal::status`] is 409, 403 or 422.
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl WorkflowError {
    /// 422 naming the bad fields.
    pub(crate) fn invalid(problems: Vec<FieldProblem>) -> WorkflowError {
        WorkflowError::Refused(Refusal::Invalid(problems))
    }

    /// 422 naming one bad field.
    pub(crate) fn field(field: &str, problem: Problem) -> WorkflowError {
        WorkflowError::invalid(vec![FieldProblem { field: field.to_string(), problem }])
    }
}

impl From<crate::auth::AuthError> for WorkflowError {
    fn from(e: crate::auth::AuthError) -> WorkflowError {
        match e {
            crate::auth::AuthError::Store(s) => WorkflowError::Store(s),
            crate::auth::AuthError::Denied(d) => WorkflowError::Denied(d),
            // The audit log only fails with a store error; anything else is a bug named as such.
            other => WorkflowError::Store(StoreError::Invalid(other.to_string())),
        }
    }
}

/// A file sent with a creation or an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// What a list is narrowed to; every field optional (`overdue`: only open items past their
/// deadline).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub enterprise: Option<String>,
    pub department: Option<String>,
    pub state: Option<String>,
    pub overdue: bool,
    /// Text the item's title contains.
    pub text: Option<String>,
}

/// One item as a list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemSummary {
    pub kind: Kind,
    pub id: i64,
    pub state: String,
    /// In one of its kind's closed states (nothing is late any more).
    pub closed: bool,
    pub enterprise: String,
    /// The registry's name of the enterprise (its id when the registry no longer has it).
    pub enterprise_name: String,
    pub department: Option<String>,
    pub title: String,
    pub due_at: Option<i64>,
    /// Open and past its deadline.
    pub overdue: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One page of a list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemList {
    pub items: Vec<ItemSummary>,
    /// Items matching the filter in the actor's scope, over every page.
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

/// One item with what its page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemView {
    pub summary: ItemSummary,
    pub fields: Fields,
    /// Where it came from (`alarms/17`), if anywhere.
    pub source: Option<String>,
    /// The actions the caller may take now (the page's buttons).
    pub allowed: Vec<&'static str>,
    /// Every step, oldest first (empty for an alarm review no one has acted on yet).
    pub history: Vec<Step>,
    /// The files attached at any step, each once.
    pub files: Vec<StoredFile>,
    /// When a job escalated it for being late, if it did.
    pub escalated_at: Option<i64>,
}

/// The configured department codes (what a machine checks department fields against).
pub(crate) async fn department_codes(store: &dyn fenhe_store::Store) -> Result<Vec<String>, StoreError> {
    Ok(store.departments().await?.into_iter().map(|d| d.code).collect())
}

/// What a machine needs besides the item.
pub(crate) fn context<'a>(
    settings: &'a WorkflowSettings,
    departments: &'a [String],
) -> fenhe_core::workflow::Context<'a> {
    fenhe_core::workflow::Context::new(&settings.calendar, departments)
        .with_explain_working_days(settings.explain_working_days)
}
