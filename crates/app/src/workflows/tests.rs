//! The scope rules of the workflow use cases: pure, then over a SQLite store (lists, items and
//! overdue counts per role). The API's contract is tested in `fenhe-web`'s tests.

use fenhe_core::access::{Actor, Denied, Role};
use fenhe_core::workflow::{Fields, Kind};

use super::access::{ItemScope, check_facts, includes, item_scope};

fn actor(role: Role) -> Actor {
    Actor::new("u", role)
}

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn city_roles_see_everything_a_department_its_own_an_enterprise_its_own() {
    let none = Fields::new();
    for role in [Role::Admin, Role::Leader, Role::Bureau] {
        for kind in Kind::ALL {
            assert_eq!(
                check_facts(&actor(role.clone()), kind, "E02", None, &none),
                Ok(()),
                "{role:?} {kind:?}"
            );
            assert_eq!(check_facts(&actor(role.clone()), kind, "E02", Some("yjj"), &none), Ok(()));
        }
    }
    let fgw = actor(Role::Department { department: "fgw".into() });
    assert_eq!(check_facts(&fgw, Kind::Hazards, "E02", Some("fgw"), &none), Ok(()));
    assert_eq!(check_facts(&fgw, Kind::Hazards, "E02", Some("yjj"), &none), Err(Denied::NotFound));
    assert_eq!(check_facts(&fgw, Kind::Alarms, "E02", None, &none), Err(Denied::NotFound));
    let e01 = actor(Role::Enterprise { enterprise: "E01".into() });
    assert_eq!(check_facts(&e01, Kind::Tasks, "E01", Some("fgw"), &none), Ok(()));
    assert_eq!(check_facts(&e01, Kind::Tasks, "E02", None, &none), Err(Denied::NotFound));
}

#[test]
fn a_task_is_a_departments_when_it_leads_or_supports_it() {
    let scope = ItemScope::Department("gxj".into());
    let supporting = fields(&[("lead_unit", "bureau"), ("supporting_units", "fgw, gxj")]);
    assert!(includes(&scope, Kind::Tasks, "E01", None, &supporting));
    let leading = fields(&[("lead_unit", "gxj")]);
    assert!(includes(&scope, Kind::Tasks, "E01", None, &leading));
    // A code that only starts the same is not the department.
    let other = fields(&[("lead_unit", "bureau"), ("supporting_units", "gxj2,fgw")]);
    assert!(!includes(&scope, Kind::Tasks, "E01", None, &other));
    // Supporting units are a task's notion: a hazard naming them in a field is not the department's.
    assert!(!includes(&scope, Kind::Hazards, "E01", None, &supporting));
}

#[test]
fn another_enterprises_item_and_a_missing_one_answer_alike() {
    let e01 = actor(Role::Enterprise { enterprise: "E01".into() });
    let none = Fields::new();
    let other = check_facts(&e01, Kind::Hazards, "E02", None, &none);
    let missing = check_facts(&e01, Kind::Hazards, "no-such", None, &none);
    assert_eq!(other, Err(Denied::NotFound));
    assert_eq!(other, missing);
}

#[test]
fn every_role_has_a_scope() {
    assert_eq!(item_scope(&actor(Role::Leader)), Ok(ItemScope::All));
    assert_eq!(
        item_scope(&actor(Role::Department { department: "fgw".into() })),
        Ok(ItemScope::Department("fgw".into()))
    );
    assert_eq!(
        item_scope(&actor(Role::Enterprise { enterprise: "E01".into() })),
        Ok(ItemScope::Enterprise("E01".into()))
    );
}

mod over_a_store {
    use fenhe_core::access::{Actor, Denied, Role};
    use fenhe_core::workflow::{Fields, Kind};
    use fenhe_store::{Department, Store};

    use crate::workflows::{ListFilter, WorkflowError, WorkflowSettings, create, get, list, overdue_counts};

    const DAY: i64 = 86_400_000;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn who(name: &str, role: Role) -> Actor {
        Actor::new(name, role)
    }

    fn task(enterprise: &str, lead: &str, supporting: &str, due: &str) -> Fields {
        fields(&[
            ("enterprise", enterprise),
            ("problem", "废水排放口标识缺失"),
            ("measures", "设置标识牌"),
            ("lead_unit", lead),
            ("supporting_units", supporting),
            ("responsible", "王五"),
            ("kind", "time_limited"),
            ("due", due),
        ])
    }

    async fn ids(store: &dyn Store, actor: &Actor, kind: Kind, now: i64) -> Vec<i64> {
        let l = list(store, actor, kind, &ListFilter::default(), 1, 50, now).await.expect("a list");
        assert_eq!(l.total as usize, l.items.len());
        let mut ids: Vec<i64> = l.items.iter().map(|i| i.id).collect();
        ids.sort_unstable();
        ids
    }

    fn counts(c: Vec<(Kind, u64)>) -> [u64; 4] {
        let of = |k: Kind| c.iter().find(|(x, _)| *x == k).map_or(99, |(_, n)| *n);
        [of(Kind::Alarms), of(Kind::Tasks), of(Kind::Hazards), of(Kind::Retrofits)]
    }

    #[tokio::test]
    async fn each_role_lists_reads_and_counts_its_own_items_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = fenhe_store::open(dir.path().join("w.db").to_str().unwrap()).await.unwrap();
        let store = store.as_ref();
        store.import_registry(&fenhe_core::demo::city()).await.unwrap();
        for code in ["fgw", "gxj"] {
            let d = Department {
                code: code.into(),
                name_zh: code.into(),
                name_en: code.into(),
                service_office: false,
            };
            store.upsert_department(&d).await.unwrap();
        }
        let settings = WorkflowSettings::default();
        let now = fenhe_core::china_time::now_ms();
        let due = fenhe_core::china_time::date_of(now + 10 * DAY).to_string();
        let bureau = who("officer", Role::Bureau);
        let t1 =
            create(store, &settings, &bureau, Kind::Tasks, &task("E01", "bureau", "gxj", &due), vec![], now)
                .await
                .unwrap();
        let t2 = create(store, &settings, &bureau, Kind::Tasks, &task("E02", "fgw", "", &due), vec![], now)
            .await
            .unwrap();
        let hazard =
            fields(&[("enterprise", "E01"), ("grade", "general"), ("description", "危废间门锁损坏")]);
        let h1 = create(store, &settings, &bureau, Kind::Hazards, &hazard, vec![], now).await.unwrap();

        let fgw = who("f", Role::Department { department: "fgw".into() });
        let gxj = who("g", Role::Department { department: "gxj".into() });
        let e01 = who("e", Role::Enterprise { enterprise: "E01".into() });
        let leader = who("l", Role::Leader);
        assert_eq!(ids(store, &bureau, Kind::Tasks, now).await, [t1, t2]);
        assert_eq!(ids(store, &leader, Kind::Tasks, now).await, [t1, t2]);
        assert_eq!(ids(store, &gxj, Kind::Tasks, now).await, [t1], "a supporting unit sees the task");
        assert_eq!(ids(store, &fgw, Kind::Tasks, now).await, [t2], "the lead unit sees the task");
        assert_eq!(ids(store, &e01, Kind::Tasks, now).await, [t1]);
        assert_eq!(ids(store, &fgw, Kind::Hazards, now).await, Vec::<i64>::new());
        assert_eq!(ids(store, &e01, Kind::Hazards, now).await, [h1]);
        let theirs = ListFilter { enterprise: Some("E02".into()), ..ListFilter::default() };
        assert_eq!(list(store, &e01, Kind::Tasks, &theirs, 1, 50, now).await.unwrap().total, 0);

        let not_found =
            |r: Result<_, WorkflowError>| matches!(r, Err(WorkflowError::Denied(Denied::NotFound)));
        assert!(not_found(get(store, &settings, &fgw, Kind::Tasks, t1, now).await));
        assert!(not_found(get(store, &settings, &e01, Kind::Tasks, t2, now).await));
        assert!(not_found(get(store, &settings, &e01, Kind::Tasks, 9999, now).await));
        assert!(get(store, &settings, &gxj, Kind::Tasks, t1, now).await.is_ok());
        let view = get(store, &settings, &e01, Kind::Tasks, t1, now).await.unwrap();
        assert_eq!(view.allowed, ["start", "request_extension"]);
        assert!(get(store, &settings, &leader, Kind::Tasks, t1, now).await.unwrap().allowed.is_empty());

        // Nothing is late today; in 40 days both tasks and the general hazard (30 days) are.
        assert_eq!(counts(overdue_counts(store, &bureau, now).await.unwrap()), [0, 0, 0, 0]);
        let later = now + 40 * DAY;
        assert_eq!(counts(overdue_counts(store, &bureau, later).await.unwrap()), [0, 2, 1, 0]);
        assert_eq!(counts(overdue_counts(store, &e01, later).await.unwrap()), [0, 1, 1, 0]);
        assert_eq!(counts(overdue_counts(store, &fgw, later).await.unwrap()), [0, 1, 0, 0]);
        let overdue = ListFilter { overdue: true, ..ListFilter::default() };
        let l = list(store, &bureau, Kind::Tasks, &overdue, 1, 50, later).await.unwrap();
        assert!(l.items.iter().all(|i| i.overdue) && l.total == 2);
    }
}
