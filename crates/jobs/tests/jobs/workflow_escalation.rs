//! `workflow-escalation`: an open item past its deadline gets one `escalate` step by `system`
//! (its state unchanged) and is marked escalated, once; an item not late, or closed, is left
//! alone; an engine alarm unexplained past its deadline has its review stored and escalated.

use std::sync::Arc;

use fenhe_app::workflows::WorkflowSettings;
use fenhe_core::compliance::{AlarmDraft, Severity};
use fenhe_jobs::{Job, WorkflowEscalation};
use fenhe_store::{ItemFields, NewItem, NewStep, Store};

const DAY: i64 = 86_400_000;
/// 2026-11-10 00:00 China time.
const D0: i64 = 1_794_240_000_000;

fn task(state: &str, due_at: i64) -> NewItem {
    let fields: ItemFields = [("problem".to_string(), "x".to_string())].into_iter().collect();
    NewItem {
        kind: "tasks".into(),
        id: None,
        state: state.into(),
        enterprise: "E01".into(),
        department: None,
        title: "x".into(),
        fields: fields.clone(),
        due_at: Some(due_at),
        source: Some("manual".into()),
        created_at: D0,
        step: NewStep {
            at: D0,
            actor: "officer".into(),
            role: "bureau".into(),
            action: "create".into(),
            fields,
            files: Vec::new(),
        },
    }
}

#[tokio::test]
async fn late_items_are_escalated_once_and_unexplained_alarms_get_their_review() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = fenhe_store::open(dir.path().join("w.db").to_str().unwrap()).await.unwrap();
    let registry = fenhe_core::demo::city();
    store.import_registry(&registry).await.unwrap();
    let now = D0 + 30 * DAY;
    let late = store.create_item(&task("in_progress", now - DAY)).await.unwrap();
    let not_yet = store.create_item(&task("assigned", now + DAY)).await.unwrap();
    let closed = store.create_item(&task("accepted", now - DAY)).await.unwrap();

    // An alarm of E01 raised on D0: three working days to explain it are long past at `now`.
    let outlet = registry.outlets.iter().find(|o| o.enterprise == "E01").unwrap();
    let mn = registry.devices.iter().find(|d| d.outlet == outlet.id).unwrap().mn.clone();
    let draft = AlarmDraft {
        key: "episode:late".into(),
        mn: mn.clone(),
        outlet: outlet.id.clone(),
        factor: Some("a21026".into()),
        kind: "exceedance".into(),
        severity: Severity::Serious,
        start: D0,
        end: D0 + 3_600_000,
        active: false,
        title_zh: "二氧化硫超标".into(),
        title_en: "SO2 exceedance".into(),
        detail_zh: String::new(),
        detail_en: String::new(),
    };
    store.sync_alarms(&mn, D0, D0 + DAY, &[draft], D0 + 60_000).await.unwrap();
    let alarm = store.alarms(&Default::default()).await.unwrap()[0].id;

    let job = WorkflowEscalation::new(store.clone(), Arc::new(WorkflowSettings::default()));
    assert_eq!(job.name(), "workflow-escalation");
    assert_eq!(job.period().as_secs(), 600);
    let report = job.run(now).await.unwrap();
    assert_eq!(report.work, 3, "the late task, the alarm's review opened and escalated: {}", report.summary);

    let steps = store.steps("tasks", late).await.unwrap();
    let last = steps.last().unwrap();
    assert_eq!((last.action.as_str(), last.actor.as_str()), ("escalate", "system"));
    assert_eq!((last.from_state.as_deref(), last.to_state.as_str()), (Some("in_progress"), "in_progress"));
    let item = store.item("tasks", late).await.unwrap().unwrap();
    assert_eq!((item.state.as_str(), item.escalated_at), ("in_progress", Some(now)));
    for id in [not_yet, closed] {
        assert_eq!(store.steps("tasks", id).await.unwrap().len(), 1, "task {id} left alone");
        assert_eq!(store.item("tasks", id).await.unwrap().unwrap().escalated_at, None);
    }

    let review = store.item("alarms", alarm).await.unwrap().expect("the review is stored");
    assert_eq!(review.state, "awaiting_explanation");
    assert_eq!(review.enterprise, "E01");
    assert_eq!(review.escalated_at, Some(now));
    let actions: Vec<String> =
        store.steps("alarms", alarm).await.unwrap().into_iter().map(|s| s.action).collect();
    assert_eq!(actions, ["create", "escalate"]);

    // Once: a second run finds nothing new.
    let again = job.run(now + 600_000).await.unwrap();
    assert_eq!(again.work, 0, "{}", again.summary);
    assert_eq!(store.steps("tasks", late).await.unwrap().len(), steps.len());
}
