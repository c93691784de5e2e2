//! The demo's accounts: one per role — an administrator, a city leader, a bureau officer, one
//! officer per configured department and one user per registered enterprise — with generated
//! passwords kept in the demo database, so that running the demo again on it shows the same ones
//! and the sign-in page can list them (in demo mode only).

use fenhe_core::access::Role;
use fenhe_store::Store;

use super::{NewAccount, create_user};
use crate::audit::Caller;
use crate::auth::Result;
use crate::secrets;

/// Length of a generated demo password.
const PASSWORD_LEN: usize = 12;

/// A demo account with its password.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DemoAccount {
    pub username: String,
    pub password: String,
    pub display_name: String,
    pub role: Role,
}

/// The accounts the demo wants: (username, display name, role).
async fn wanted(store: &dyn Store) -> Result<Vec<(String, String, Role)>> {
    let mut out = vec![
        ("admin".to_string(), Role::Admin.label(false).to_string(), Role::Admin),
        ("leader".to_string(), Role::Leader.label(false).to_string(), Role::Leader),
        ("bureau".to_string(), Role::Bureau.label(false).to_string(), Role::Bureau),
    ];
    for d in store.departments().await? {
        let role = Role::Department { department: d.code.clone() };
        out.push((d.code.to_lowercase(), d.name_zh, role));
    }
    for e in store.registry().await?.enterprises {
        let role = Role::Enterprise { enterprise: e.id.clone() };
        out.push((e.id.to_lowercase(), e.name, role));
    }
    Ok(out)
}

/// Create the demo accounts that are missing, with new passwords, as the command line (audited);
/// the ones already there keep theirs. A name already taken by an account the demo did not make is
/// left alone. Every demo account with its password, as [`demo_accounts`].
pub async fn ensure_demo_accounts(store: &dyn Store, now: i64) -> Result<Vec<DemoAccount>> {
    let caller = Caller::cli(now);
    for (username, display_name, role) in wanted(store).await? {
        if store.user(&username).await?.is_some() {
            continue;
        }
        let password = secrets::new_password(PASSWORD_LEN)?;
        let new = NewAccount { username: username.clone(), display_name, role, password: password.clone() };
        create_user(store, &caller, &new).await?;
        store.set_demo_password(&username, &password).await?;
    }
    demo_accounts(store).await
}

/// The demo accounts with their passwords: administrator, leader, bureau, departments, then
/// enterprises, each group by username. Empty outside a demo database.
pub async fn demo_accounts(store: &dyn Store) -> Result<Vec<DemoAccount>> {
    let mut out = Vec::new();
    for (username, password) in store.demo_passwords().await? {
        if let Some(user) = store.user(&username).await? {
            out.push(DemoAccount { username, password, display_name: user.display_name, role: user.role });
        }
    }
    let rank = |r: &Role| fenhe_core::access::ROLE_NAMES.iter().position(|n| *n == r.name());
    out.sort_by(|a, b| rank(&a.role).cmp(&rank(&b.role)).then_with(|| a.username.cmp(&b.username)));
    Ok(out)
}
