//! Managing accounts: users and API tokens, each change authorized by the access policy
//! (ManageUsers, except one's own tokens) and recorded in the audit log; and the demo's accounts
//! (see [`demo`]). Names and passwords are checked by `fenhe_core::account_rules`; a role's
//! department or enterprise must exist.

pub mod demo;

use fenhe_core::access::{self, Action, Actor, Role, Target};
use fenhe_core::account_rules;
use fenhe_store::{ApiToken, NewToken, NewUser, Store, User};
use serde::Serialize;

use crate::audit::{self, Caller};
use crate::auth::{AuthError, Result};
use crate::{password_hash, secrets};

pub use demo::{DemoAccount, demo_accounts, ensure_demo_accounts};

/// Longest display name or token label, in characters.
const LABEL_MAX: usize = 100;

/// A user as shown and audited: everything but the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserView {
    pub username: String,
    pub display_name: String,
    /// `admin`, `leader`, `bureau`, `department` or `enterprise`.
    pub role: String,
    pub department: Option<String>,
    pub enterprise: Option<String>,
    pub active: bool,
    /// Epoch ms.
    pub created_at: i64,
    pub updated_at: i64,
    pub password_changed_at: i64,
}

impl From<&User> for UserView {
    fn from(u: &User) -> UserView {
        let (department, enterprise) = match &u.role {
            Role::Department { department } => (Some(department.clone()), None),
            Role::Enterprise { enterprise } => (None, Some(enterprise.clone())),
            _ => (None, None),
        };
        UserView {
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role: u.role.name().to_string(),
            department,
            enterprise,
            active: u.active,
            created_at: u.created_at,
            updated_at: u.updated_at,
            password_changed_at: u.password_changed_at,
        }
    }
}

/// An API token as shown and audited: everything but its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenView {
    pub id: i64,
    pub username: String,
    pub label: String,
    /// Epoch ms.
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl From<&ApiToken> for TokenView {
    fn from(t: &ApiToken) -> TokenView {
        TokenView {
            id: t.id,
            username: t.username.clone(),
            label: t.label.clone(),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// A user to create, as an administrator fills it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub username: String,
    /// Empty: the username is shown.
    pub display_name: String,
    pub role: Role,
    pub password: String,
}

/// A token just made: the token itself, shown this once, and what is kept of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedToken {
    pub token: String,
    pub info: TokenView,
}

fn check_label(s: &str) -> Result<()> {
    if s.chars().count() > LABEL_MAX || s.chars().any(char::is_control) {
        return Err(AuthError::Label);
    }
    Ok(())
}

/// The role's department or enterprise must exist.
async fn check_unit(store: &dyn Store, role: &Role) -> Result<()> {
    match role {
        Role::Department { department } => {
            let known = store.departments().await?;
            if !known.iter().any(|d| &d.code == department) {
                let known = known.iter().map(|d| d.code.as_str()).collect::<Vec<_>>().join(", ");
                return Err(AuthError::UnknownDepartment { code: department.clone(), known });
            }
        }
        Role::Enterprise { enterprise } => {
            if store.registry().await?.enterprise(enterprise).is_none() {
                return Err(AuthError::UnknownEnterprise(enterprise.clone()));
            }
        }
        Role::Admin | Role::Leader | Role::Bureau => {}
    }
    Ok(())
}

/// Create a user (ManageUsers). Recorded in the audit log.
pub async fn create_user(store: &dyn Store, caller: &Caller, new: &NewAccount) -> Result<UserView> {
    access::authorize(&caller.actor, Action::ManageUsers, Target::City)?;
    account_rules::check_username(&new.username)?;
    check_label(&new.display_name)?;
    account_rules::check_password(&new.username, &new.password)?;
    check_unit(store, &new.role).await?;
    if store.user(&new.username).await?.is_some() {
        return Err(AuthError::UserExists(new.username.clone()));
    }
    let display_name = match new.display_name.trim() {
        "" => new.username.clone(),
        name => name.to_string(),
    };
    let password_hash = password_hash::hash(&new.password).await?;
    let user = store
        .create_user(&NewUser {
            username: new.username.clone(),
            display_name,
            role: new.role.clone(),
            password_hash,
            at: caller.now,
        })
        .await?;
    let view = UserView::from(&user);
    audit::record_change(store, caller, "user.create", "user", &user.username, None, Some(&view)).await?;
    Ok(view)
}

/// Every user, by username (ManageUsers).
pub async fn list_users(store: &dyn Store, actor: &Actor) -> Result<Vec<UserView>> {
    access::authorize(actor, Action::ManageUsers, Target::City)?;
    Ok(store.users().await?.iter().map(UserView::from).collect())
}

/// Activate or deactivate a user (ManageUsers); a deactivated user's sessions end and their
/// tokens stop working. Recorded in the audit log.
pub async fn set_user_active(
    store: &dyn Store,
    caller: &Caller,
    username: &str,
    active: bool,
) -> Result<UserView> {
    access::authorize(&caller.actor, Action::ManageUsers, Target::City)?;
    let before = store.user(username).await?.ok_or_else(|| AuthError::UnknownUser(username.into()))?;
    store.set_user_active(username, active, caller.now).await?;
    if !active {
        store.delete_user_sessions(username, None).await?;
    }
    let after = store.user(username).await?.ok_or_else(|| AuthError::UnknownUser(username.into()))?;
    let (before, after) = (UserView::from(&before), UserView::from(&after));
    let action = if active { "user.activate" } else { "user.deactivate" };
    audit::record_change(store, caller, action, "user", username, Some(&before), Some(&after)).await?;
    Ok(after)
}

/// Everyone may manage their own tokens; another user's need ManageUsers.
fn authorize_tokens_of(actor: &Actor, username: &str) -> Result<()> {
    if actor.username != username {
        access::authorize(actor, Action::ManageUsers, Target::City)?;
    }
    Ok(())
}

/// Make an API token for `username`, labelled `label`; the token is in the answer only.
/// Recorded in the audit log (without the token).
pub async fn create_token(
    store: &dyn Store,
    caller: &Caller,
    username: &str,
    label: &str,
) -> Result<CreatedToken> {
    authorize_tokens_of(&caller.actor, username)?;
    check_label(label)?;
    if store.user(username).await?.is_none() {
        return Err(AuthError::UnknownUser(username.into()));
    }
    let token = secrets::new_token()?;
    let stored = store
        .create_token(&NewToken {
            username: username.to_string(),
            label: label.trim().to_string(),
            token_hash: secrets::hash_secret(&token),
            created_at: caller.now,
        })
        .await?;
    let info = TokenView::from(&stored);
    audit::record_change(store, caller, "token.create", "token", &stored.id.to_string(), None, Some(&info))
        .await?;
    Ok(CreatedToken { token, info })
}

/// Revoke API token `id` (one's own, or anyone's with ManageUsers). Recorded in the audit log.
/// A token the caller may not see is answered as missing.
pub async fn revoke_token(store: &dyn Store, caller: &Caller, id: i64) -> Result<TokenView> {
    let before = store.token(id).await?.ok_or(AuthError::UnknownToken(id))?;
    authorize_tokens_of(&caller.actor, &before.username).map_err(|_| AuthError::UnknownToken(id))?;
    if !store.revoke_token(id, caller.now).await? {
        return Err(AuthError::TokenRevoked(id));
    }
    let after = store.token(id).await?.ok_or(AuthError::UnknownToken(id))?;
    let (before, after) = (TokenView::from(&before), TokenView::from(&after));
    audit::record_change(
        store,
        caller,
        "token.revoke",
        "token",
        &id.to_string(),
        Some(&before),
        Some(&after),
    )
    .await?;
    Ok(after)
}

/// API tokens of `username` (one's own, or anyone's with ManageUsers), or of everyone (ManageUsers).
pub async fn list_tokens(store: &dyn Store, actor: &Actor, username: Option<&str>) -> Result<Vec<TokenView>> {
    match username {
        Some(u) => authorize_tokens_of(actor, u)?,
        None => access::authorize(actor, Action::ManageUsers, Target::City)?,
    }
    Ok(store.tokens(username).await?.iter().map(TokenView::from).collect())
}

#[cfg(test)]
#[path = "accounts_tests.rs"]
mod tests;
