//! Escalation of late items (the `workflow-escalation` job). An open item past its deadline that
//! has not been escalated gets one step `escalate` by `system` (its state unchanged, so the
//! history shows when it became late and the city leader's view lists it) and is marked
//! escalated, once. An engine alarm nobody has explained by its explanation deadline has no
//! review item yet: its review is stored first, then escalated like any other.
//!
//! Each run is cumulative: an item missed by a run that died half-way is found by the next.

use std::collections::BTreeSet;

use fenhe_core::workflow::Kind;
use fenhe_store::{AlarmQuery, ItemChange, ItemQuery, NewStep, StepOutcome, Store};

use super::{SYSTEM, WorkflowError, WorkflowSettings, alarm_reviews};

/// How far back alarms are looked at for a review never opened: alarms whose period reaches into
/// the last 60 days. Older ones were either reviewed or escalated by an earlier run (this job
/// runs every ten minutes); a database restored from long ago is not flooded with escalations.
pub const ALARM_LOOKBACK_MS: i64 = 60 * 86_400_000;

/// Alarms read a page at a time.
const ALARM_PAGE: u32 = 500;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EscalationReport {
    /// Alarm reviews stored because their alarm was unexplained past its deadline.
    pub reviews_opened: u64,
    /// Items escalated, by kind.
    pub escalated: Vec<(Kind, u64)>,
}

impl EscalationReport {
    pub fn total_escalated(&self) -> u64 {
        self.escalated.iter().map(|(_, n)| n).sum()
    }
}

/// Escalate everything late at `now`.
pub async fn escalate(
    store: &dyn Store,
    settings: &WorkflowSettings,
    now: i64,
) -> Result<EscalationReport, WorkflowError> {
    let mut report = EscalationReport {
        reviews_opened: open_late_reviews(store, settings, now).await?,
        ..Default::default()
    };
    for kind in Kind::ALL {
        let machine = kind.machine();
        let q = ItemQuery {
            kind: kind.name().to_string(),
            due_before: Some(now),
            exclude_states: machine.closed_states().iter().map(|s| s.to_string()).collect(),
            ..ItemQuery::default()
        };
        let mut n = 0;
        for item in store.items(&q).await?.into_iter().filter(|i| i.escalated_at.is_none()) {
            let mut fields = fenhe_core::workflow::Fields::new();
            if let Some(due) = item.due_at {
                fields.insert("due_at".into(), fenhe_core::china_time::iso(due));
            }
            let change = ItemChange {
                from_state: item.state.clone(),
                to_state: item.state.clone(),
                set: Default::default(),
                due_at: None,
                step: NewStep {
                    at: now,
                    actor: SYSTEM.into(),
                    role: SYSTEM.into(),
                    action: "escalate".into(),
                    fields,
                    files: Vec::new(),
                },
            };
            // A state changed meanwhile (perhaps closed) is looked at again next run.
            if let StepOutcome::Applied(_) = store.apply_step(kind.name(), item.id, &change).await? {
                store.mark_escalated(kind.name(), item.id, now).await?;
                n += 1;
            }
        }
        report.escalated.push((kind, n));
    }
    Ok(report)
}

/// Store the review of every alarm (of the lookback) that has none and is past its explanation
/// deadline; how many.
async fn open_late_reviews(
    store: &dyn Store,
    settings: &WorkflowSettings,
    now: i64,
) -> Result<u64, WorkflowError> {
    let registry = store.registry().await?;
    let mut opened = 0;
    let mut offset = 0u32;
    loop {
        let q = AlarmQuery {
            from: Some(now.saturating_sub(ALARM_LOOKBACK_MS)),
            limit: Some(ALARM_PAGE),
            offset: Some(offset),
            ..AlarmQuery::default()
        };
        let alarms = store.alarms(&q).await?;
        if alarms.is_empty() {
            break;
        }
        let ids: Vec<i64> = alarms.iter().map(|a| a.id).collect();
        let reviewed: BTreeSet<i64> =
            store.items_by_id(Kind::Alarms.name(), &ids).await?.into_iter().map(|i| i.id).collect();
        for alarm in alarms.iter().filter(|a| !reviewed.contains(&a.id)) {
            let Some(item) = alarm_reviews::opened(settings, &registry, alarm) else { continue };
            if item.due_at.is_some_and(|d| d < now) {
                alarm_reviews::store_pending(store, &item, now).await?;
                opened += 1;
            }
        }
        if alarms.len() < ALARM_PAGE as usize {
            break;
        }
        offset = offset.saturating_add(ALARM_PAGE);
    }
    Ok(opened)
}
