//! Registry administration over a real SQLite store: the policy, the checks an import makes, the
//! audit log's before and after, passwords never shown, imports all or nothing.

use std::sync::Arc;

use fenhe_core::access::{Actor, Denied, Role};
use fenhe_store::{AuditQuery, Store};

use super::*;
use crate::audit::Caller;

/// 2026-03-02 00:00 UTC.
const T0: i64 = 1_772_409_600_000;

async fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = fenhe_store::open(dir.path().join("registry.db").to_str().unwrap()).await.unwrap();
    store.import_registry(&fenhe_core::demo::city()).await.unwrap();
    (dir, store)
}

fn admin() -> Caller {
    Caller::new(Actor::new("root", Role::Admin), "192.0.2.1", T0)
}

fn as_role(role: Role) -> Caller {
    Caller::new(Actor::new("someone", role), "192.0.2.2", T0)
}

async fn audit_of(store: &dyn Store, action: &str) -> Vec<fenhe_store::AuditEntry> {
    let q = AuditQuery { action: Some(action.into()), limit: 10, ..Default::default() };
    store.audit(&q).await.unwrap()
}

fn invalid(r: Result<impl std::fmt::Debug>) -> Vec<FieldError> {
    match r {
        Err(EditError::Invalid(e)) => e,
        other => panic!("expected field errors, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_uscc_is_refused_on_its_field_recorded_and_changes_nothing() {
    let (_d, store) = store().await;
    let before = store.registry().await.unwrap();
    let mut form = EnterpriseForm::of(&before.enterprises[0]);
    form.uscc = "91350100M000100Y44".into();
    form.latitude = "north".into();
    let errors = invalid(save_enterprise(&*store, &admin(), Mode::Update, &form).await);
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["latitude", "uscc"], "{errors:?}");
    assert!(errors[1].message.contains("check character"), "{errors:?}");
    assert_eq!(store.registry().await.unwrap(), before, "nothing changed");
    let refused = audit_of(&*store, "enterprise.refused").await;
    assert_eq!(refused.len(), 1);
    let after = refused[0].entry.after.as_ref().unwrap();
    assert_eq!(after["input"]["uscc"], "91350100M000100Y44");
    assert_eq!(after["problems"][1]["field"], "uscc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_is_written_and_audited_with_before_and_after() {
    let (_d, store) = store().await;
    let e01 = store.registry().await.unwrap().enterprises[0].clone();
    let mut form = EnterpriseForm::of(&e01);
    form.name = "临汾新名称有限公司".into();
    let saved = save_enterprise(&*store, &admin(), Mode::Update, &form).await.unwrap();
    assert_eq!(saved.name, "临汾新名称有限公司");
    assert_eq!(store.registry().await.unwrap().enterprise(&e01.id).unwrap().name, "临汾新名称有限公司");
    let entries = audit_of(&*store, "enterprise.update").await;
    assert_eq!(entries.len(), 1);
    let e = &entries[0].entry;
    assert_eq!(
        (e.actor.as_str(), e.object_id.as_str(), e.peer.as_str()),
        ("root", e01.id.as_str(), "192.0.2.1")
    );
    let changes = crate::audit_diff::changes(e.before.as_ref(), e.after.as_ref());
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].path, "name");
    assert_eq!(changes[0].before.as_deref(), Some(e01.name.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_are_unique_and_an_outlets_enterprise_must_exist() {
    let (_d, store) = store().await;
    let r = store.registry().await.unwrap();
    let mut form = EnterpriseForm::of(&r.enterprises[1]);
    form.id = r.enterprises[0].id.clone();
    let errors = invalid(save_enterprise(&*store, &admin(), Mode::Create, &form).await);
    assert!(errors.iter().any(|e| e.field == "id" && e.message.contains("used by another")), "{errors:?}");
    assert!(errors.iter().any(|e| e.field == "uscc" && e.message.contains("used by another")), "{errors:?}");

    let mut outlet = OutletForm::of(&r.outlets[0]);
    outlet.id = "E99-DA001".into();
    outlet.enterprise = "E99".into();
    let errors = invalid(save_outlet(&*store, &admin(), Mode::Create, &outlet).await);
    assert_eq!(errors, [FieldError::new("enterprise", "no enterprise has id \"E99\"")]);

    outlet.enterprise = r.enterprises[0].id.clone();
    let made = save_outlet(&*store, &admin(), Mode::Create, &outlet).await.unwrap();
    assert!(made.limits.is_empty());
    let missing =
        save_outlet(&*store, &admin(), Mode::Update, &OutletForm { id: "nope".into(), ..outlet }).await;
    assert!(matches!(missing, Err(EditError::NotFound { kind: "outlet", .. })), "{missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_effective_dated_and_checked_field_by_field() {
    let (_d, store) = store().await;
    let outlet = store.registry().await.unwrap().outlets[0].clone();
    let form = |factor: &str, min: &str, max: &str, from: &str| LimitForm {
        outlet: outlet.id.clone(),
        factor: factor.into(),
        min: min.into(),
        max: max.into(),
        effective_from: from.into(),
    };
    let errors = invalid(add_limit(&*store, &admin(), &form("a21026", "40", "30", "2027-01-01")).await);
    assert_eq!(errors, [FieldError::new("min", "min 40 is above max 30")]);
    let errors = invalid(add_limit(&*store, &admin(), &form("zz", "", "x", "2027-13-01")).await);
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["max", "effective_from"], "the limit cannot be built, so the factor is not judged");

    // A second limit of the same factor from a later date: both kept, the later one in force then.
    let after = add_limit(&*store, &admin(), &form("a21026", "", "10", "2027-01-01")).await.unwrap();
    assert_eq!(after.limits.len(), outlet.limits.len() + 1);
    let stored = store.registry().await.unwrap().outlet(&outlet.id).unwrap().clone();
    assert_eq!(stored.limit_at("a21026", "2027-06-01".parse().unwrap()).unwrap().max, Some(10.0));
    let errors = invalid(add_limit(&*store, &admin(), &form("a21026", "", "12", "2027-01-01")).await);
    assert_eq!(errors[0].field, "effective_from", "{errors:?}");

    let entries = audit_of(&*store, "limit.add").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].entry.after.as_ref().unwrap().as_array().unwrap().len(), after.limits.len());

    let removed = remove_limit(&*store, &admin(), &outlet.id, "a21026", "2027-01-01").await.unwrap();
    assert_eq!(removed.limits, outlet.limits);
    assert_eq!(store.registry().await.unwrap().outlet(&outlet.id).unwrap().limits, outlet.limits);
    let gone = remove_limit(&*store, &admin(), &outlet.id, "a21026", "2027-01-01").await;
    assert!(matches!(gone, Err(EditError::NotFound { kind: "limit", .. })), "{gone:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_passwords_are_kept_unless_replaced_and_never_audited() {
    let (_d, store) = store().await;
    let device = store.registry().await.unwrap().devices[0].clone();
    let mut form = DeviceForm::of(&device);
    assert!(form.new_password.is_empty(), "the form never carries the password");
    form.rtd_interval_s = "60".into();
    let view = save_device(&*store, &admin(), Mode::Update, &form).await.unwrap();
    assert!(view.password_set);
    let stored = store.registry().await.unwrap().device(&device.mn).unwrap().clone();
    assert_eq!((stored.rtd_interval_s, stored.password.as_str()), (60, device.password.as_str()));

    form.new_password = "n3w;pw".into();
    let errors = invalid(save_device(&*store, &admin(), Mode::Update, &form).await);
    assert_eq!(errors[0].field, "new_password");
    form.new_password = "s3cret-new".into();
    save_device(&*store, &as_role(Role::Bureau), Mode::Update, &form).await.unwrap();
    assert_eq!(store.registry().await.unwrap().device(&device.mn).unwrap().password, "s3cret-new");

    let all = store.audit(&AuditQuery { limit: 100, ..Default::default() }).await.unwrap();
    let text =
        serde_json::to_string(&all.iter().map(|e| (&e.entry.before, &e.entry.after)).collect::<Vec<_>>())
            .unwrap();
    assert!(
        !text.contains(&device.password) && !text.contains("s3cret-new") && !text.contains("n3w;pw"),
        "{text}"
    );
    assert!(text.contains("\"password_changed\":true"), "{text}");

    let mut new = DeviceForm::of(&device);
    new.mn = "NEW0001".into();
    let errors = invalid(save_device(&*store, &admin(), Mode::Create, &new).await);
    assert_eq!(errors[0].field, "new_password", "a new device needs a password: {errors:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_administrators_edit_the_registry_and_bureau_officers_devices() {
    let (_d, store) = store().await;
    let r = store.registry().await.unwrap();
    let enterprise = EnterpriseForm::of(&r.enterprises[0]);
    let device = DeviceForm::of(&r.devices[0]);
    for role in [Role::Leader, Role::Bureau, Role::Department { department: "fgw".into() }] {
        let e = save_enterprise(&*store, &as_role(role.clone()), Mode::Update, &enterprise).await;
        assert!(matches!(e, Err(EditError::Denied(Denied::Forbidden))), "{role:?}: {e:?}");
    }
    let own = Role::Enterprise { enterprise: r.enterprises[0].id.clone() };
    let e = save_enterprise(&*store, &as_role(own.clone()), Mode::Update, &enterprise).await;
    assert!(matches!(e, Err(EditError::Denied(Denied::Forbidden))), "{e:?}");
    let d = save_device(&*store, &as_role(own.clone()), Mode::Update, &device).await;
    assert!(matches!(d, Err(EditError::Denied(Denied::Forbidden))), "{d:?}");
    let x = export(&*store, &Actor::new("e", own), ExportFormat::Json).await;
    assert!(matches!(x, Err(EditError::Denied(Denied::Forbidden))), "{x:?}");
    assert_eq!(store.registry().await.unwrap(), r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_are_all_or_nothing_and_exports_omit_passwords() {
    let (_d, store) = store().await;
    let r = store.registry().await.unwrap();
    let mut changed = r.clone();
    changed.enterprises[0].name = "改名".into();
    changed.devices[0].outlet = "nowhere".into();
    let file = |name: &str, text: String| NamedFile { name: name.into(), content: Ok(text.into_bytes()) };
    let bad = file("city.toml", registry_files::to_toml(&changed).unwrap());
    let ImportOutcome::Refused(problems) = import_files(&*store, &admin(), &[bad]).await.unwrap() else {
        panic!("a registry with a device of no outlet is refused");
    };
    assert!(
        problems
            .0
            .iter()
            .any(|p| p.file == "city.toml" && p.field == "devices[0].outlet" && p.line.is_some())
    );
    assert_eq!(store.registry().await.unwrap(), r, "nothing of a refused file is applied");
    let imports = store.imports(5).await.unwrap();
    assert!(!imports[0].record.ok && imports[0].record.files == ["city.toml"]);

    changed.devices[0].outlet = r.devices[0].outlet.clone();
    let good = file("city.json", registry_files::to_json(&changed).unwrap());
    let ImportOutcome::Imported(summary) = import_files(&*store, &admin(), &[good]).await.unwrap() else {
        panic!("a sound registry is imported");
    };
    assert!(summary.starts_with("imported"), "{summary}");
    assert_eq!(store.registry().await.unwrap().enterprises[0].name, "改名");
    assert_eq!(audit_of(&*store, "registry.import").await.len(), 1);

    for format in [ExportFormat::Toml, ExportFormat::Json] {
        let text = export(&*store, &admin().actor, format).await.unwrap();
        assert!(text.contains(&r.devices[0].mn), "{format:?}");
        assert!(!text.contains("password"), "{format:?} leaks a password key");
    }
    let json: serde_json::Value =
        serde_json::from_str(&export(&*store, &admin().actor, ExportFormat::Json).await.unwrap()).unwrap();
    assert_eq!(json["enterprises"].as_array().unwrap().len(), r.enterprises.len());
}
