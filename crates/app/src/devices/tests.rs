//! The device use cases over a real SQLite store with the demo registry: scope, not-found
//! without leaking, frames explained, registering from the inbox and queueing commands, each
//! change audited.

use std::collections::HashSet;
use std::sync::Arc;

use fenhe_core::access::{Actor, Denied, Role};
use fenhe_core::{FrameRecord, Registry, Verdict};
use fenhe_store::{AuditQuery, IngestItem, Store};

use super::commands::{self, CommandFields};
use super::frames::{self, FrameFilter};
use super::inbox;
use super::overview::{self, DeviceFilter};
use super::{DeviceError, ProblemKind};
use crate::audit::Caller;
use crate::packet_explain::Lang;

const NOW: i64 = 1_764_633_600_000;

async fn store() -> (Arc<dyn Store>, Registry, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = fenhe_store::open(dir.path().join("d.db").to_str().unwrap()).await.unwrap();
    let reg = fenhe_core::demo::city();
    store.import_registry(&reg).await.unwrap();
    (store, reg, dir)
}

fn actor(role: Role) -> Actor {
    Actor::new("someone", role)
}

fn e01() -> Actor {
    actor(Role::Enterprise { enterprise: "E01".into() })
}

/// The first device of enterprise `e`.
fn device_of(reg: &Registry, e: &str) -> String {
    reg.devices.iter().find(|d| reg.outlet(&d.outlet).is_some_and(|o| o.enterprise == e)).unwrap().mn.clone()
}

fn frame(at: i64, mn: &str, verdict: Verdict, bytes: Vec<u8>) -> IngestItem {
    IngestItem {
        frame: FrameRecord {
            received_at: at,
            peer: "10.0.0.1:5000".into(),
            mn: Some(mn.into()),
            cn: Some("2051".into()),
            bytes,
            verdict,
            reason: (verdict == Verdict::Rejected).then(|| "crc: declared 0000, computed 1234".into()),
            deviations: String::new(),
        },
        measurements: vec![],
    }
}

fn packet(mn: &str, pw: &str, data_time: &str) -> Vec<u8> {
    hj212::PacketBuilder::new("2051", mn)
        .qn("20251202080000000")
        .st("22")
        .pw(pw)
        .version(hj212::Version::V2017, true)
        .data_time(&hj212::DateTime::parse(data_time).unwrap().0)
        .factor("a34013", [("Avg", "12.5".to_string()), ("Flag", "N".to_string())])
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_follow_the_scope_and_count_today() {
    let (store, reg, _dir) = store().await;
    let mine = device_of(&reg, "E01");
    let theirs = device_of(&reg, "E02");
    let items = vec![
        frame(NOW - 86_400_000, &mine, Verdict::Accepted, packet(&mine, "x", "20251201080000")),
        frame(NOW + 1, &mine, Verdict::Accepted, packet(&mine, "x", "20251202080000")),
        frame(NOW + 2, &mine, Verdict::Rejected, b"##0000garbage".to_vec()),
    ];
    store.write_batch(&items).await.unwrap();
    let online = HashSet::from([mine.clone()]);

    let all = overview::list(store.as_ref(), &actor(Role::Bureau), &DeviceFilter::default(), &online, NOW)
        .await
        .unwrap();
    assert_eq!(all.len(), reg.devices.len());
    let own = overview::list(store.as_ref(), &e01(), &DeviceFilter::default(), &online, NOW).await.unwrap();
    assert!(!own.is_empty() && own.iter().all(|r| r.enterprise_id == "E01"));
    let row = own.iter().find(|r| r.mn == mine).unwrap();
    assert_eq!(
        (row.online, row.frames_today, row.rejected_today, row.last_frame_at),
        (true, 2, 1, Some(NOW + 2))
    );

    let offline = DeviceFilter { online: Some(false), ..Default::default() };
    let rows = overview::list(store.as_ref(), &e01(), &offline, &online, NOW).await.unwrap();
    assert!(rows.iter().all(|r| r.mn != mine) && rows.len() == own.len() - 1);
    let other = DeviceFilter { enterprise: Some("E02".into()), ..Default::default() };
    let e = overview::list(store.as_ref(), &e01(), &other, &online, NOW).await.unwrap_err();
    assert!(matches!(e, DeviceError::Denied(Denied::NotFound)));
    let dept = actor(Role::Department { department: "fgw".into() });
    let e = overview::list(store.as_ref(), &dept, &DeviceFilter::default(), &online, NOW).await.unwrap_err();
    assert!(matches!(e, DeviceError::Denied(Denied::Forbidden)));

    // Another enterprise's device answers exactly as a missing one.
    for mn in [theirs.as_str(), "NOSUCHMN"] {
        let e = overview::detail(store.as_ref(), &e01(), mn, &online, NOW).await.unwrap_err();
        assert!(matches!(e, DeviceError::Denied(Denied::NotFound)), "{mn}");
        let e = frames::frames(store.as_ref(), &e01(), mn, FrameFilter::default()).await.unwrap_err();
        assert!(matches!(e, DeviceError::Denied(Denied::NotFound)), "{mn}");
    }
    let d = overview::detail(store.as_ref(), &e01(), &mine, &online, NOW).await.unwrap();
    assert_eq!((d.frames_total, d.settings.password_set), (3, true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_page_newest_first_and_explain_as_the_cli() {
    let (store, reg, _dir) = store().await;
    let mine = device_of(&reg, "E01");
    let theirs = device_of(&reg, "E02");
    let mut items: Vec<IngestItem> = (0..5)
        .map(|i| frame(NOW + i, &mine, Verdict::Accepted, packet(&mine, "x", "20251202080000")))
        .collect();
    items.push(frame(NOW + 9, &theirs, Verdict::Accepted, packet(&theirs, "x", "20251202080000")));
    store.write_batch(&items).await.unwrap();

    let first = frames::frames(store.as_ref(), &e01(), &mine, FrameFilter { limit: 3, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(first.frames.iter().map(|f| f.received_at).collect::<Vec<_>>(), [NOW + 4, NOW + 3, NOW + 2]);
    let next = FrameFilter { limit: 3, before_id: first.next_before, ..Default::default() };
    let second = frames::frames(store.as_ref(), &e01(), &mine, next).await.unwrap();
    assert_eq!(second.frames.iter().map(|f| f.received_at).collect::<Vec<_>>(), [NOW + 1, NOW]);
    assert_eq!(second.next_before, None);

    let id = first.frames[0].id;
    let x = frames::explain(store.as_ref(), &e01(), &mine, id, Lang::En).await.unwrap();
    let cli = crate::packet_explain::explain_bytes(
        &items[4].frame.bytes,
        &frames::decode_options(reg.device(&mine).unwrap()),
        Lang::En,
    );
    assert_eq!(x.explanation, cli);
    assert!(x.explanation.contains("✔ accepted"), "{}", x.explanation);
    // Another device's frame id under this device's address is not found.
    let stored_theirs = store
        .frames(&fenhe_store::FrameQuery { mn: Some(theirs.clone()), ..Default::default() })
        .await
        .unwrap();
    let e = frames::explain(store.as_ref(), &e01(), &mine, stored_theirs[0].id, Lang::En).await.unwrap_err();
    assert!(matches!(e, DeviceError::Denied(Denied::NotFound)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbox_sender_is_registered_from_a_prefilled_form_and_audited() {
    let (store, reg, _dir) = store().await;
    let stranger = "99999990000042";
    let items: Vec<IngestItem> = [("20251202080000", 0), ("20251202080500", 1), ("20251202081000", 2)]
        .into_iter()
        .map(|(t, i)| frame(NOW + i, stranger, Verdict::Unregistered, packet(stranger, "s3cret", t)))
        .collect();
    store.write_batch(&items).await.unwrap();

    let e = inbox::inbox(store.as_ref(), &e01(), 50, 0).await.unwrap_err();
    assert!(matches!(e, DeviceError::Denied(Denied::Forbidden)));
    let leader = actor(Role::Leader);
    let seen = inbox::inbox(store.as_ref(), &leader, 50, 0).await.unwrap();
    assert_eq!(seen.total, 1);
    let seen = seen.items;
    assert_eq!((seen.len(), seen[0].registrable, seen[0].count), (1, true, 3));
    assert!(matches!(
        inbox::draft(store.as_ref(), &leader, stranger, Lang::En).await,
        Err(DeviceError::Denied(Denied::Forbidden))
    ));

    let bureau = actor(Role::Bureau);
    let draft = inbox::draft(store.as_ref(), &bureau, stranger, Lang::Zh).await.unwrap();
    assert_eq!(
        (draft.form.password.as_str(), draft.form.protocol.as_str(), draft.form.crc.as_str()),
        ("s3cret", "2017", "standard")
    );
    assert_eq!(draft.form.minute_interval_min, "5");
    assert_eq!(draft.factors, ["a34013"]);
    assert!(matches!(
        inbox::draft(store.as_ref(), &bureau, "NOTINBOX", Lang::Zh).await,
        Err(DeviceError::Denied(Denied::NotFound))
    ));

    let caller = Caller::new(bureau.clone(), "10.9.9.9", NOW);
    let mut form = draft.form.clone();
    form.outlet = "nope".into();
    match inbox::register(store.as_ref(), &caller, &form).await {
        Err(DeviceError::Invalid(p)) => assert_eq!(p[0].kind, ProblemKind::UnknownOutlet),
        other => panic!("{other:?}"),
    }
    form.outlet = reg.outlets[0].id.clone();
    let view = inbox::register(store.as_ref(), &caller, &form).await.unwrap();
    assert_eq!(view.settings.factors, ["a34013"]);
    let stored = store.registry().await.unwrap();
    let d = stored.device(stranger).unwrap();
    assert_eq!(
        (d.password.as_str(), d.minute_interval_min, d.outlet.as_str()),
        ("s3cret", 5, form.outlet.as_str())
    );
    assert_eq!(stored.devices.len(), reg.devices.len() + 1);
    let left = inbox::inbox(store.as_ref(), &bureau, 50, 0).await.unwrap();
    assert!(left.items.is_empty() && left.total == 0, "it left the inbox");

    let log = store.audit(&AuditQuery::default()).await.unwrap();
    let entry = log.iter().find(|e| e.entry.action == "device.register").unwrap();
    assert_eq!((entry.entry.object_id.as_str(), entry.entry.actor_role.as_str()), (stranger, "bureau"));
    let after = entry.entry.after.as_ref().unwrap().to_string();
    assert!(after.contains("password_set") && !after.contains("s3cret"), "{after}");

    // Registering it again is refused on the MN.
    match inbox::register(store.as_ref(), &caller, &form).await {
        Err(DeviceError::Invalid(p)) => {
            assert_eq!((p[0].field, p[0].kind), ("mn", ProblemKind::AlreadyRegistered))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_queued_for_those_who_may_and_audited() {
    let (store, reg, _dir) = store().await;
    let mine = device_of(&reg, "E01");
    let fields = CommandFields { kind: "time_sync".into(), ..Default::default() };
    for role in [Role::Leader, Role::Enterprise { enterprise: "E01".into() }] {
        let caller = Caller::new(actor(role), "p", NOW);
        let e = commands::send(store.as_ref(), &caller, &mine, &fields).await.unwrap_err();
        assert!(matches!(e, DeviceError::Denied(Denied::Forbidden)));
    }
    let caller = Caller::new(Actor::new("officer", Role::Bureau), "p", NOW);
    let e = commands::send(store.as_ref(), &caller, "NOSUCHMN", &fields).await.unwrap_err();
    assert!(matches!(e, DeviceError::Denied(Denied::NotFound)));
    let bad = CommandFields { kind: "history".into(), ..Default::default() };
    assert!(matches!(
        commands::send(store.as_ref(), &caller, &mine, &bad).await,
        Err(DeviceError::Invalid(_))
    ));

    let row = commands::send(store.as_ref(), &caller, &mine, &fields).await.unwrap();
    assert_eq!((row.cn.as_str(), row.status, row.in_flight), ("1012", "queued", true));
    assert_eq!(row.origin, "operator:officer");
    let listed = commands::commands(store.as_ref(), &e01(), &mine).await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&row), "the enterprise sees its device's commands");
    let log = store.audit(&AuditQuery::default()).await.unwrap();
    assert!(log.iter().any(|e| e.entry.action == "command.send" && e.entry.object_id == row.id.to_string()));
}
