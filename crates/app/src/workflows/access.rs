//! Who sees which workflow items. The role is asked first (`Action::ViewWorkflow`: a role that
//! may not see items at all is 403), then the item: administrators, city leaders and the bureau
//! see every item; a department user the items naming their department (the supervising or lead
//! department, and a task's supporting units); an enterprise user their own enterprise's. An item
//! out of scope is [`Denied::NotFound`], the very answer a missing id gets.

use fenhe_core::access::{Action, Actor, Denied, Role, Target, authorize, scope};
use fenhe_core::workflow::Kind;
use fenhe_store::Item;

/// The rows a list may show the actor, as the store can be asked for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemScope {
    All,
    /// Items naming this department (filtered after loading: a task names its supporting units
    /// in a field, which the store does not index).
    Department(String),
    Enterprise(String),
}

/// The actor's scope for lists: 403 for a role that sees no items.
pub fn item_scope(actor: &Actor) -> Result<ItemScope, Denied> {
    scope(actor, Action::ViewWorkflow)?;
    Ok(match &actor.role {
        Role::Admin | Role::Leader | Role::Bureau => ItemScope::All,
        Role::Department { department } => ItemScope::Department(department.clone()),
        Role::Enterprise { enterprise } => ItemScope::Enterprise(enterprise.clone()),
    })
}

/// Whether an item of `kind` with these facts is in `scope`.
pub fn includes(
    scope: &ItemScope,
    kind: Kind,
    enterprise: &str,
    department: Option<&str>,
    fields: &fenhe_core::workflow::Fields,
) -> bool {
    match scope {
        ItemScope::All => true,
        ItemScope::Enterprise(own) => own == enterprise,
        ItemScope::Department(own) => {
            department == Some(own.as_str())
                || (kind == Kind::Tasks && names_unit(fields.get("lead_unit"), own))
                || (kind == Kind::Tasks && names_unit(fields.get("supporting_units"), own))
        }
    }
}

/// Whether a comma-separated list of unit codes names `code`.
fn names_unit(list: Option<&String>, code: &str) -> bool {
    list.is_some_and(|l| l.split(',').any(|u| u.trim() == code))
}

/// May `actor` see `item`? 403 for the role, 404 for an item out of scope.
pub fn check_item(actor: &Actor, kind: Kind, item: &Item) -> Result<(), Denied> {
    check_facts(actor, kind, &item.enterprise, item.department.as_deref(), &item.fields)
}

/// [`check_item`] for an item's facts (an alarm review before it is stored).
pub fn check_facts(
    actor: &Actor,
    kind: Kind,
    enterprise: &str,
    department: Option<&str>,
    fields: &fenhe_core::workflow::Fields,
) -> Result<(), Denied> {
    let scope = item_scope(actor)?;
    // The policy's own word on the enterprise first (so a change of the policy reaches here).
    authorize(actor, Action::ViewWorkflow, Target::Enterprise(enterprise))?;
    if includes(&scope, kind, enterprise, department, fields) { Ok(()) } else { Err(Denied::NotFound) }
}
