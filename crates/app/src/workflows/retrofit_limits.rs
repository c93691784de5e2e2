//! An accepted retrofit's stricter limit: when the bureau accepts a retrofit with
//! `limit_factor`, `limit_value` and `limit_from`, each outlet the retrofit links gets that
//! upper limit from that date, through the registry's own limit path
//! (`registry_admin::limit_added` checks it as a limit form is checked, `save_limits` writes and
//! audits it). The acceptance's authority is the retrofit machine's decision, not the registry
//! role, so the limits are checked before the step is stored and saved after it.

use fenhe_core::registry::{Outlet, Registry};
use fenhe_core::workflow::{FieldProblem, Fields, Problem};
use fenhe_store::{Item, Store};

use super::WorkflowError;
use crate::audit::Caller;
use crate::registry_admin::{self, LimitForm};

/// The outlets' limits before and after, one pair per linked outlet.
#[derive(Debug, Clone, Default)]
pub(crate) struct LimitPlan {
    pub changes: Vec<(Outlet, Outlet)>,
}

/// The outlet ids a retrofit links (`outlets`, comma-separated).
pub(crate) fn linked_outlets(fields: &Fields) -> Vec<String> {
    fields
        .get("outlets")
        .map(|l| l.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
        .unwrap_or_default()
}

/// The limits an acceptance's step fields ask for on `item`'s outlets, checked; empty when the
/// step sets no limit. Problems are named by the action's fields.
pub(crate) fn plan(registry: &Registry, item: &Item, step: &Fields) -> Result<LimitPlan, WorkflowError> {
    let get = |k: &str| step.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let (Some(factor), Some(value), Some(from)) =
        (get("limit_factor"), get("limit_value"), get("limit_from"))
    else {
        return Ok(LimitPlan::default());
    };
    let mut registry = registry.clone();
    let mut changes = Vec::new();
    let mut problems: Vec<FieldProblem> = Vec::new();
    for outlet in linked_outlets(&item.fields) {
        let form = LimitForm {
            outlet: outlet.clone(),
            factor: factor.clone(),
            min: String::new(),
            max: value.clone(),
            effective_from: from.clone(),
        };
        match registry_admin::limit_added(&mut registry, &form) {
            Ok(pair) => changes.push(pair),
            Err(errors) => {
                for e in errors {
                    let field = match e.field.as_str() {
                        "max" | "min" => "limit_value",
                        "effective_from" => "limit_from",
                        "outlet" => "outlets",
                        _ => "limit_factor",
                    };
                    if !problems.iter().any(|p| p.field == field) {
                        let message = format!("{outlet}: {}", e.message);
                        problems.push(FieldProblem {
                            field: field.into(),
                            problem: Problem::Registry { message },
                        });
                    }
                }
            }
        }
    }
    if problems.is_empty() { Ok(LimitPlan { changes }) } else { Err(WorkflowError::invalid(problems)) }
}

/// Save a checked plan's limits (each audited as `limit.add` by `caller`).
pub(crate) async fn save(store: &dyn Store, caller: &Caller, plan: &LimitPlan) -> Result<(), WorkflowError> {
    for (before, after) in &plan.changes {
        registry_admin::save_limits(store, caller, "limit.add", before, after).await.map_err(
            |e| match e {
                registry_admin::EditError::Denied(d) => WorkflowError::Denied(d),
                registry_admin::EditError::Store(s) => WorkflowError::Store(s),
                other => WorkflowError::Store(fenhe_store::StoreError::Invalid(other.to_string())),
            },
        )?;
    }
    Ok(())
}
