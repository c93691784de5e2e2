//! The scope rules of the workflow use cases, pure (the store-backed contract is tested through
//! the API in `fenhe-web`'s tests and in [`store_tests`]).

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
