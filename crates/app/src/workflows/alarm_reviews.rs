//! An engine alarm's review. Alarms are raised by the compliance engine, not by people, so their
//! review items are not created by a form: the review exists, in its first state and with its
//! explanation deadline counted from the alarm's raising, from the moment the alarm does, and is
//! stored when someone first acts on it (or when the escalation job finds it late). The item
//! takes the alarm's id and the enterprise of the alarm's outlet.

use fenhe_core::registry::Registry;
use fenhe_core::workflow::Kind;
use fenhe_core::workflow::alarms::AlarmReview;
use fenhe_store::{Alarm, Item, NewItem, NewStep, Store, StoreError};

use super::{SYSTEM, WorkflowError, WorkflowSettings, context};

/// The review of alarm `id` as it opens, not yet stored; `None` when there is no such alarm or
/// its outlet has left the registry (an alarm of no enterprise has no one to explain it).
pub(crate) async fn pending(
    store: &dyn Store,
    settings: &WorkflowSettings,
    registry: &Registry,
    id: i64,
) -> Result<Option<Item>, WorkflowError> {
    let Some(alarm) = store.alarm(id).await? else { return Ok(None) };
    Ok(opened(settings, registry, &alarm))
}

/// The review of `alarm` as it opens.
pub(crate) fn opened(settings: &WorkflowSettings, registry: &Registry, alarm: &Alarm) -> Option<Item> {
    let enterprise = registry.outlet(&alarm.draft.outlet)?.enterprise.clone();
    let ctx = context(settings, &[]);
    let created =
        AlarmReview::opened_for(alarm.id, &alarm.draft.title_zh, &enterprise, alarm.raised_at, &ctx);
    let mut fields = created.fields;
    // Which outlet, kept with the review (the alarm's outlet could leave the registry).
    fields.entry("outlet".into()).or_insert_with(|| alarm.draft.outlet.clone());
    let title = created.title;
    Some(Item {
        kind: Kind::Alarms.name().to_string(),
        id: alarm.id,
        state: created.state.to_string(),
        enterprise: created.enterprise,
        department: created.department,
        title,
        fields,
        due_at: created.due_at,
        source: None,
        created_at: alarm.raised_at,
        updated_at: alarm.raised_at,
        escalated_at: None,
    })
}

/// Store a pending review (its first step `create` by `system` at `now`). Another actor's
/// request may have stored it a moment before: that is no failure, the stored item stands.
pub(crate) async fn store_pending(store: &dyn Store, item: &Item, now: i64) -> Result<(), WorkflowError> {
    let new = NewItem {
        kind: item.kind.clone(),
        id: Some(item.id),
        state: item.state.clone(),
        enterprise: item.enterprise.clone(),
        department: item.department.clone(),
        title: item.title.clone(),
        fields: item.fields.clone(),
        due_at: item.due_at,
        source: item.source.clone(),
        created_at: item.created_at,
        step: NewStep {
            at: now,
            actor: SYSTEM.into(),
            role: SYSTEM.into(),
            action: "create".into(),
            fields: item.fields.clone(),
            files: Vec::new(),
        },
    };
    match store.create_item(&new).await {
        Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
