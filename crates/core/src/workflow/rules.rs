//! What every machine decides the same way: the order of the checks of an action (it exists,
//! the role may take it, the state allows it, the item's conditions hold) and who is who on an
//! item (its enterprise, its department, the bureau).

use super::{ActionSpec, ItemFacts, Kind, Refusal};
use crate::access::{Actor, Role};

/// The per-kind answers the shared checks need.
pub(crate) trait Rules {
    const KIND: Kind;
    fn specs() -> &'static [ActionSpec];
    /// Whether `actor`'s role may take `action` on `item` — in any state, so that a 403 never
    /// depends on where the item happens to be.
    fn may(actor: &Actor, item: &ItemFacts<'_>, action: &str) -> bool;
    /// The state `action` leads to from the item's present state, `None` when that state does
    /// not allow it.
    fn target(item: &ItemFacts<'_>, action: &str) -> Option<&'static str>;
    /// A condition of the item that keeps an allowed action from being taken yet (409).
    fn unmet(_item: &ItemFacts<'_>, _action: &str) -> Option<Refusal> {
        None
    }
}

/// The checks before the fields, in the contract's order: the action exists (422), the role may
/// take it (403), the state allows it (409), the item's conditions hold (409). Gives the action's
/// spec and the state it leads to.
pub(crate) fn gate<R: Rules>(
    item: &ItemFacts<'_>,
    action: &str,
    actor: &Actor,
) -> Result<(&'static ActionSpec, &'static str), Refusal> {
    let Some(spec) = R::specs().iter().find(|s| s.name == action) else {
        return Err(Refusal::UnknownAction { kind: R::KIND.name(), action: action.to_string() });
    };
    if !R::may(actor, item, action) {
        return Err(Refusal::RoleMayNot { action: action.to_string() });
    }
    let Some(to) = R::target(item, action) else {
        return Err(Refusal::NotInState { state: item.state.to_string(), action: action.to_string() });
    };
    if let Some(refusal) = R::unmet(item, action) {
        return Err(refusal);
    }
    Ok((spec, to))
}

/// The actions that would pass [`gate`] now.
pub(crate) fn allowed<R: Rules>(item: &ItemFacts<'_>, actor: &Actor) -> Vec<&'static str> {
    R::specs().iter().map(|s| s.name).filter(|a| gate::<R>(item, a, actor).is_ok()).collect()
}

/// The bureau (生态环境局) or an administrator, who may take the bureau's actions.
pub(crate) fn is_bureau(actor: &Actor) -> bool {
    matches!(actor.role, Role::Bureau | Role::Admin)
}

/// A user of the item's own enterprise (another enterprise's user never acts on it).
pub(crate) fn is_owner(actor: &Actor, item: &ItemFacts<'_>) -> bool {
    matches!(&actor.role, Role::Enterprise { enterprise } if enterprise == item.enterprise)
}

/// A user of the item's lead or supervising department.
pub(crate) fn is_item_department(actor: &Actor, item: &ItemFacts<'_>) -> bool {
    matches!((&actor.role, item.department), (Role::Department { department }, Some(d)) if department == d)
}
