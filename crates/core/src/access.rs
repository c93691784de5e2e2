//! Who may do what: the access policy, a pure function of (actor, action, target).
//!
//! Every use case asks [`authorize`] before it loads or changes anything, and list queries take
//! their filter from [`scope`], so no page, API route, export or job can skip the policy. The
//! policy never looks at the store: whether an object exists is the caller's business, and the
//! answer for another enterprise's object is [`Denied::NotFound`] whatever the action — the same
//! answer a missing object gets — so an enterprise user cannot learn that an identifier exists.

use serde::{Deserialize, Serialize};

/// What a person is, with the unit their role is bound to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// 系统管理员: users, registry, everything.
    Admin,
    /// 市领导: reads everything but the system's internals and the audit log.
    Leader,
    /// 生态环境局: all environmental data, alarms, devices, data quality, commands.
    Bureau,
    /// 部门 (发改, 工信, 应急管理 …): what is assigned to the department; enterprise profiles.
    Department { department: String },
    /// 企业: only their own enterprise.
    Enterprise { enterprise: String },
}

/// The role names of the command line and the API (`--role`).
pub const ROLE_NAMES: [&str; 5] = ["admin", "leader", "bureau", "department", "enterprise"];

impl Role {
    /// The role's name without its unit (`department`, not the department's code).
    pub fn name(&self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Leader => "leader",
            Role::Bureau => "bureau",
            Role::Department { .. } => "department",
            Role::Enterprise { .. } => "enterprise",
        }
    }

    /// A role from its name and the unit it needs: a department role needs a department code, an
    /// enterprise role an enterprise id, the others neither.
    pub fn from_parts(
        name: &str,
        department: Option<&str>,
        enterprise: Option<&str>,
    ) -> Result<Role, RoleError> {
        let unit = |v: Option<&str>| v.map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        let (department, enterprise) = (unit(department), unit(enterprise));
        let role = match name {
            "admin" => Role::Admin,
            "leader" => Role::Leader,
            "bureau" => Role::Bureau,
            "department" => {
                let department = department.clone().ok_or(RoleError::MissingDepartment)?;
                Role::Department { department }
            }
            "enterprise" => {
                let enterprise = enterprise.clone().ok_or(RoleError::MissingEnterprise)?;
                Role::Enterprise { enterprise }
            }
            other => return Err(RoleError::Unknown(other.to_string())),
        };
        match role {
            Role::Department { .. } if enterprise.is_some() => Err(RoleError::UnitNotAllowed(name.into())),
            Role::Enterprise { .. } if department.is_some() => Err(RoleError::UnitNotAllowed(name.into())),
            Role::Admin | Role::Leader | Role::Bureau if department.is_some() || enterprise.is_some() => {
                Err(RoleError::UnitNotAllowed(name.into()))
            }
            r => Ok(r),
        }
    }

    /// The role's label for people, in Chinese or English.
    pub fn label(&self, english: bool) -> &'static str {
        match (self, english) {
            (Role::Admin, false) => "系统管理员",
            (Role::Admin, true) => "Administrator",
            (Role::Leader, false) => "市领导",
            (Role::Leader, true) => "City leader",
            (Role::Bureau, false) => "生态环境局",
            (Role::Bureau, true) => "Environmental bureau",
            (Role::Department { .. }, false) => "部门",
            (Role::Department { .. }, true) => "Department",
            (Role::Enterprise { .. }, false) => "企业",
            (Role::Enterprise { .. }, true) => "Enterprise",
        }
    }
}

/// Why a role could not be built from its parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    #[error("unknown role {0:?}: expected one of admin, leader, bureau, department, enterprise")]
    Unknown(String),
    #[error("the department role needs a department code (--department CODE)")]
    MissingDepartment,
    #[error("the enterprise role needs an enterprise id (--enterprise ID)")]
    MissingEnterprise,
    #[error("the {0} role takes no department or enterprise other than its own kind")]
    UnitNotAllowed(String),
}

/// A signed-in person or API token, as the policy sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub username: String,
    pub role: Role,
}

impl Actor {
    pub fn new(username: impl Into<String>, role: Role) -> Actor {
        Actor { username: username.into(), role }
    }
}

/// What an actor wants to do. Grouped by what it touches, not by page: one action covers the
/// page, its API route and its export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// City-wide figures: overview, map, command-centre screen, rates by industry and city.
    ViewCity,
    /// An enterprise's profile (USCC, industry, category, address, contacts).
    ViewProfile,
    /// An enterprise's environmental data: outlets, series, aggregates, emissions, alarms,
    /// devices and their frames, data quality.
    ViewEnvironment,
    /// Downloads (CSV, XLSX) of environmental data.
    ExportEnvironment,
    /// Frames from unregistered senders and wrong passwords (they belong to no enterprise yet).
    ViewInbox,
    /// Queue a command for a device (time sync, history request, set interval).
    SendCommand,
    /// Register a device (from the inbox or a form) and change its settings.
    ManageDevices,
    /// Enterprises, outlets, limits; registry import.
    ManageRegistry,
    /// Accounts, roles, password resets, API tokens of others.
    ManageUsers,
    /// The audit log.
    ViewAudit,
    /// Engineers' views: `/api/status`, `/metrics`, the status page.
    ViewSystem,
    /// Supervision workflows (alarm reviews, rectification tasks, hazards, retrofits): seeing an
    /// item and its history. A department user passes here for any enterprise; which items are
    /// theirs (the department named on the item) is the workflow use cases' finer rule. What
    /// one may *do* to an item is its state machine's decision (`fenhe_core::workflow`).
    ViewWorkflow,
}

impl Action {
    pub const ALL: [Action; 12] = [
        Action::ViewCity,
        Action::ViewProfile,
        Action::ViewEnvironment,
        Action::ExportEnvironment,
        Action::ViewInbox,
        Action::SendCommand,
        Action::ManageDevices,
        Action::ManageRegistry,
        Action::ManageUsers,
        Action::ViewAudit,
        Action::ViewSystem,
        Action::ViewWorkflow,
    ];
}

/// What an action is aimed at: the city as a whole or one enterprise (an outlet, device, alarm or
/// series is aimed at the enterprise it belongs to; the caller resolves that first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    City,
    Enterprise(&'a str),
}

/// Why an action is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The role may not take this action at all (HTTP 403). Says nothing about any object.
    #[error("your role may not do this")]
    Forbidden,
    /// The object belongs to another enterprise (HTTP 404): answered exactly as a missing object.
    #[error("not found")]
    NotFound,
}

/// Which roles may take an action at all, whatever the target.
fn role_may(role: &Role, action: Action) -> bool {
    use Action::*;
    match role {
        Role::Admin => true,
        Role::Leader => !matches!(
            action,
            SendCommand | ManageDevices | ManageRegistry | ManageUsers | ViewAudit | ViewSystem
        ),
        Role::Bureau => !matches!(action, ManageRegistry | ManageUsers | ViewAudit),
        Role::Department { .. } => matches!(action, ViewProfile | ViewWorkflow),
        Role::Enterprise { .. } => {
            matches!(action, ViewProfile | ViewEnvironment | ExportEnvironment | ViewWorkflow)
        }
    }
}

/// May `actor` take `action` on `target`? Role first (a forbidden action is 403 for every target,
/// so the answer reveals nothing), then ownership (another enterprise's object is 404).
pub fn authorize(actor: &Actor, action: Action, target: Target<'_>) -> Result<(), Denied> {
    if !role_may(&actor.role, action) {
        return Err(Denied::Forbidden);
    }
    match (&actor.role, target) {
        (Role::Enterprise { enterprise }, Target::Enterprise(e)) if e != enterprise => Err(Denied::NotFound),
        // An enterprise user's only city-wide view is of their own enterprise.
        (Role::Enterprise { .. }, Target::City) => Err(Denied::Forbidden),
        _ => Ok(()),
    }
}

/// Which rows a list may show the actor.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every enterprise's.
    All,
    /// Only this enterprise's.
    Enterprise(String),
}

impl Scope {
    /// Whether a row of enterprise `e` is in scope.
    pub fn includes(&self, e: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Enterprise(own) => own == e,
        }
    }

    /// The enterprise a query must be restricted to, if any.
    pub fn enterprise(&self) -> Option<&str> {
        match self {
            Scope::All => None,
            Scope::Enterprise(e) => Some(e),
        }
    }
}

/// The scope of a list of what `action` shows (alarms, outlets, devices, enterprises …):
/// [`Denied::Forbidden`] when the role may not take the action at all.
pub fn scope(actor: &Actor, action: Action) -> Result<Scope, Denied> {
    if !role_may(&actor.role, action) {
        return Err(Denied::Forbidden);
    }
    Ok(match &actor.role {
        Role::Enterprise { enterprise } => Scope::Enterprise(enterprise.clone()),
        _ => Scope::All,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actors() -> Vec<(&'static str, Actor)> {
        vec![
            ("admin", Actor::new("a", Role::Admin)),
            ("leader", Actor::new("l", Role::Leader)),
            ("bureau", Actor::new("b", Role::Bureau)),
            ("department", Actor::new("d", Role::Department { department: "fgw".into() })),
            ("enterprise", Actor::new("e", Role::Enterprise { enterprise: "E01".into() })),
        ]
    }

    /// The whole matrix, written as the policy reads to a person: for each action, what each role
    /// gets on the city, on its own enterprise (E01) and on another (E02). `+` allowed, `403`
    /// forbidden, `404` answered as not found.
    const MATRIX: &[(Action, [[&str; 3]; 5])] = {
        const ALL: [&str; 3] = ["+", "+", "+"];
        const NO: [&str; 3] = ["403", "403", "403"];
        const OWN: [&str; 3] = ["403", "+", "404"];
        use Action::*;
        &[
            //              admin leader bureau department enterprise
            (ViewCity, [ALL, ALL, ALL, NO, NO]),
            (ViewProfile, [ALL, ALL, ALL, ALL, OWN]),
            (ViewEnvironment, [ALL, ALL, ALL, NO, OWN]),
            (ExportEnvironment, [ALL, ALL, ALL, NO, OWN]),
            (ViewInbox, [ALL, ALL, ALL, NO, NO]),
            (SendCommand, [ALL, NO, ALL, NO, NO]),
            (ManageDevices, [ALL, NO, ALL, NO, NO]),
            (ManageRegistry, [ALL, NO, NO, NO, NO]),
            (ManageUsers, [ALL, NO, NO, NO, NO]),
            (ViewAudit, [ALL, NO, NO, NO, NO]),
            (ViewSystem, [ALL, NO, ALL, NO, NO]),
            (ViewWorkflow, [ALL, ALL, ALL, ALL, OWN]),
        ]
    };

    fn verdict(r: Result<(), Denied>) -> &'static str {
        match r {
            Ok(()) => "+",
            Err(Denied::Forbidden) => "403",
            Err(Denied::NotFound) => "404",
        }
    }

    #[test]
    fn the_full_matrix() {
        assert_eq!(MATRIX.len(), Action::ALL.len(), "every action has a row");
        for (action, row) in MATRIX {
            for ((name, actor), expected) in actors().iter().zip(row) {
                let got = [
                    verdict(authorize(actor, *action, Target::City)),
                    verdict(authorize(actor, *action, Target::Enterprise("E01"))),
                    verdict(authorize(actor, *action, Target::Enterprise("E02"))),
                ];
                assert_eq!(&got, expected, "{name} {action:?} (city, own, other)");
            }
        }
    }

    #[test]
    fn another_enterprise_is_not_found_for_every_action_it_may_take() {
        let e = Actor::new("e", Role::Enterprise { enterprise: "E01".into() });
        for action in Action::ALL {
            let other = authorize(&e, action, Target::Enterprise("E02"));
            let missing = authorize(&e, action, Target::Enterprise("no-such-id"));
            assert_eq!(other, missing, "{action:?}: another's object and a missing one answer alike");
        }
    }

    #[test]
    fn scopes_follow_the_role() {
        for (name, actor) in actors() {
            for action in Action::ALL {
                let s = scope(&actor, action);
                match (name, s) {
                    ("enterprise", Ok(s)) => {
                        assert_eq!(s, Scope::Enterprise("E01".into()));
                        assert!(s.includes("E01") && !s.includes("E02"));
                    }
                    (_, Ok(s)) => assert_eq!(s, Scope::All),
                    (_, Err(d)) => {
                        assert_eq!(d, Denied::Forbidden);
                        assert_eq!(authorize(&actor, action, Target::City), Err(Denied::Forbidden));
                    }
                }
            }
        }
    }

    #[test]
    fn roles_from_their_parts() {
        assert_eq!(Role::from_parts("admin", None, None), Ok(Role::Admin));
        assert_eq!(
            Role::from_parts("department", Some("gxj"), None),
            Ok(Role::Department { department: "gxj".into() })
        );
        assert_eq!(
            Role::from_parts("enterprise", None, Some(" E03 ")),
            Ok(Role::Enterprise { enterprise: "E03".into() })
        );
        assert_eq!(Role::from_parts("department", None, None), Err(RoleError::MissingDepartment));
        assert_eq!(Role::from_parts("enterprise", None, Some("  ")), Err(RoleError::MissingEnterprise));
        assert_eq!(
            Role::from_parts("bureau", Some("x"), None),
            Err(RoleError::UnitNotAllowed("bureau".into()))
        );
        assert_eq!(
            Role::from_parts("enterprise", Some("x"), Some("E01")),
            Err(RoleError::UnitNotAllowed("enterprise".into()))
        );
        assert!(matches!(Role::from_parts("root", None, None), Err(RoleError::Unknown(_))));
        for name in ROLE_NAMES {
            let r = Role::from_parts(
                name,
                (name == "department").then_some("d"),
                (name == "enterprise").then_some("e"),
            )
            .expect(name);
            assert_eq!(r.name(), name);
            assert_ne!(r.label(false), r.label(true));
        }
    }
}
