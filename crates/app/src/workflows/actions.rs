//! Changing items: creating one (the registry checked, the machine asked, the item stored with
//! its first step and files, the change audited) and acting on one (scope, the machine's
//! decision on the item's facts, the step stored only if no one changed the state meanwhile, the
//! item the action opens, an accepted retrofit's limits, the audit).
//!
//! Everything that can refuse is asked before anything is written: the machine's decision, the
//! item an action opens (its own machine's creation check), a retrofit's limits, the files.

use fenhe_core::access::{Actor, Denied, Role};
use fenhe_core::registry::Registry;
use fenhe_core::workflow::{FieldProblem, Fields, Kind, Problem, Refusal};
use fenhe_store::{Item, ItemChange, NewItem, NewStep, StepOutcome, Store};
use serde::Serialize;

use super::views::{self, facts};
use super::{
    ItemView, SYSTEM, Upload, WorkflowError, WorkflowSettings, access, alarm_reviews, context,
    department_codes, files, retrofit_limits,
};
use crate::audit::{self, Caller};

/// Where a change made through [`create`] or [`act`] comes from, when the caller does not say.
const UNKNOWN_PEER: &str = "-";

/// An item as the audit log records it before and after a change.
#[derive(Debug, Serialize)]
struct Snapshot<'a> {
    state: &'a str,
    enterprise: &'a str,
    department: Option<&'a str>,
    title: &'a str,
    due_at: Option<i64>,
    fields: &'a Fields,
    source: Option<&'a str>,
}

fn snapshot(i: &Item) -> Snapshot<'_> {
    Snapshot {
        state: &i.state,
        enterprise: &i.enterprise,
        department: i.department.as_deref(),
        title: &i.title,
        due_at: i.due_at,
        fields: &i.fields,
        source: i.source.as_deref(),
    }
}

/// Create an item of `kind` from `fields` as `actor`; its id. 422 names every bad field,
/// including an enterprise or outlet the registry does not have.
pub async fn create(
    store: &dyn Store,
    settings: &WorkflowSettings,
    actor: &Actor,
    kind: Kind,
    fields: &Fields,
    files: Vec<Upload>,
    now: i64,
) -> Result<i64, WorkflowError> {
    let caller = Caller::new(actor.clone(), UNKNOWN_PEER, now);
    create_by(store, settings, &caller, kind, fields, files).await
}

/// [`create`] with the caller's address for the audit log.
pub async fn create_by(
    store: &dyn Store,
    settings: &WorkflowSettings,
    caller: &Caller,
    kind: Kind,
    fields: &Fields,
    uploads: Vec<Upload>,
) -> Result<i64, WorkflowError> {
    let (actor, now) = (&caller.actor, caller.now);
    access::item_scope(actor)?;
    let registry = store.registry().await?;
    let departments = department_codes(store).await?;
    let ctx = context(settings, &departments);
    let unregistered = registry_problems(&registry, actor, kind, fields);
    let created = match kind.machine().create(actor, now, fields, &ctx) {
        Ok(c) if unregistered.is_empty() => c,
        Ok(_) => return Err(WorkflowError::invalid(unregistered)),
        Err(Refusal::Invalid(mut problems)) => {
            for p in unregistered {
                if !problems.iter().any(|q| q.field == p.field) {
                    problems.push(p);
                }
            }
            return Err(WorkflowError::invalid(problems));
        }
        Err(other) => return Err(other.into()),
    };
    files::check(&uploads)?;
    let hashes = files::keep(store, &created.enterprise, &uploads, now).await?;
    let source = created.fields.get("source").map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let new = NewItem {
        kind: kind.name().to_string(),
        id: None,
        state: created.state.to_string(),
        enterprise: created.enterprise.clone(),
        department: created.department.clone(),
        title: created.title.clone(),
        fields: created.fields.clone(),
        due_at: created.due_at,
        source: Some(source.unwrap_or_else(|| "manual".into())),
        created_at: now,
        step: NewStep {
            at: now,
            actor: actor.username.clone(),
            role: actor.role.name().to_string(),
            action: "create".into(),
            fields: created.fields,
            files: hashes,
        },
    };
    let id = store.create_item(&new).await?;
    if let Some(item) = store.item(kind.name(), id).await? {
        let after = snapshot(&item);
        let action = format!("{}.create", kind.name());
        audit::record_change(store, caller, &action, kind.name(), &id.to_string(), None, Some(&after))
            .await?;
    }
    Ok(id)
}

/// The fields the registry must know: the enterprise (unless it is another enterprise's user
/// naming not their own, which the machine refuses with 403 — a 422 would tell them which ids
/// exist) and, for a retrofit, each outlet as the enterprise's.
fn registry_problems(registry: &Registry, actor: &Actor, kind: Kind, fields: &Fields) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    let enterprise = fields.get("enterprise").map(|e| e.trim()).filter(|e| !e.is_empty());
    let Some(enterprise) = enterprise else { return problems };
    if let Role::Enterprise { enterprise: own } = &actor.role
        && own != enterprise
    {
        return problems;
    }
    if registry.enterprise(enterprise).is_none() {
        problems.push(FieldProblem { field: "enterprise".into(), problem: Problem::NotRegistered });
        return problems;
    }
    if kind == Kind::Retrofits {
        let outlets = retrofit_limits::linked_outlets(fields);
        let theirs = |id: &String| registry.outlet(id).is_some_and(|o| o.enterprise == enterprise);
        if !outlets.iter().all(theirs) {
            problems.push(FieldProblem { field: "outlets".into(), problem: Problem::NotRegistered });
        }
    }
    problems
}

/// Take `action` on item `id` of `kind` as `actor` with `fields`; the item after it. Missing
/// and out of scope are 404; the machine's refusals 409 (the state does not allow it, or
/// another actor changed the state meanwhile: nothing is written), 403 and 422.
#[allow(clippy::too_many_arguments)]
pub async fn act(
    store: &dyn Store,
    settings: &WorkflowSettings,
    actor: &Actor,
    kind: Kind,
    id: i64,
    action: &str,
    fields: &Fields,
    files: Vec<Upload>,
    now: i64,
) -> Result<ItemView, WorkflowError> {
    let caller = Caller::new(actor.clone(), UNKNOWN_PEER, now);
    act_by(store, settings, &caller, kind, id, action, fields, files).await
}

/// [`act`] with the caller's address for the audit log.
#[allow(clippy::too_many_arguments)]
pub async fn act_by(
    store: &dyn Store,
    settings: &WorkflowSettings,
    caller: &Caller,
    kind: Kind,
    id: i64,
    action: &str,
    fields: &Fields,
    uploads: Vec<Upload>,
) -> Result<ItemView, WorkflowError> {
    let (actor, now) = (&caller.actor, caller.now);
    access::item_scope(actor)?;
    let registry = store.registry().await?;
    let (item, stored) = views::load(store, settings, &registry, kind, id).await?.ok_or(Denied::NotFound)?;
    access::check_item(actor, kind, &item)?;
    let departments = department_codes(store).await?;
    let ctx = context(settings, &departments);
    let decision = kind.machine().transition(&facts(&item), action, actor, now, fields, &ctx)?;
    // What the action opens must be creatable before anything is written.
    let spawned = match &decision.spawn {
        Some(s) => Some((s.kind, s.kind.machine().create(actor, now, &s.fields, &ctx)?)),
        None => None,
    };
    let limits = if kind == Kind::Retrofits {
        retrofit_limits::plan(&registry, &item, &decision.step_fields)?
    } else {
        retrofit_limits::LimitPlan::default()
    };
    files::check(&uploads)?;
    let hashes = files::keep(store, &item.enterprise, &uploads, now).await?;
    if !stored {
        alarm_reviews::store_pending(store, &item, now).await?;
    }
    let change = ItemChange {
        from_state: item.state.clone(),
        to_state: decision.to.to_string(),
        set: decision.set.clone(),
        due_at: decision.due_at,
        step: NewStep {
            at: now,
            actor: actor.username.clone(),
            role: actor.role.name().to_string(),
            action: action.to_string(),
            fields: decision.step_fields.clone(),
            files: hashes,
        },
    };
    let after = match store.apply_step(kind.name(), id, &change).await? {
        StepOutcome::Applied(after) => after,
        StepOutcome::StateChanged { current } => {
            return Err(Refusal::NotInState { state: current, action: action.to_string() }.into());
        }
        StepOutcome::Missing => return Err(Denied::NotFound.into()),
    };
    let object = id.to_string();
    let audited = format!("{}.{action}", kind.name());
    audit::record_change(
        store,
        caller,
        &audited,
        kind.name(),
        &object,
        Some(&snapshot(&item)),
        Some(&snapshot(&after)),
    )
    .await?;
    if let Some((spawn_kind, created)) = spawned {
        open_spawned(store, caller, kind, id, spawn_kind, created).await?;
    }
    retrofit_limits::save(store, caller, &limits).await?;
    views::view(store, &registry, actor, kind, after, true, now).await
}

/// Store the item an action opened: its source names the item acted on, its first step is the
/// system's on behalf of the actor.
async fn open_spawned(
    store: &dyn Store,
    caller: &Caller,
    from_kind: Kind,
    from_id: i64,
    kind: Kind,
    created: fenhe_core::workflow::Created,
) -> Result<i64, WorkflowError> {
    let mut step_fields = created.fields.clone();
    step_fields.insert("on_behalf_of".into(), caller.actor.username.clone());
    let new = NewItem {
        kind: kind.name().to_string(),
        id: None,
        state: created.state.to_string(),
        enterprise: created.enterprise.clone(),
        department: created.department.clone(),
        title: created.title.clone(),
        fields: created.fields.clone(),
        due_at: created.due_at,
        source: Some(format!("{}/{from_id}", from_kind.name())),
        created_at: caller.now,
        step: NewStep {
            at: caller.now,
            actor: SYSTEM.into(),
            role: SYSTEM.into(),
            action: "create".into(),
            fields: step_fields,
            files: Vec::new(),
        },
    };
    let id = store.create_item(&new).await?;
    if let Some(item) = store.item(kind.name(), id).await? {
        let action = format!("{}.create", kind.name());
        audit::record_change(
            store,
            caller,
            &action,
            kind.name(),
            &id.to_string(),
            None,
            Some(&snapshot(&item)),
        )
        .await?;
    }
    Ok(id)
}
