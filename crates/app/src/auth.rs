//! Signing in and who a request is: password sign-in (throttled, every attempt recorded),
//! browser sessions with sliding expiry, API bearer tokens, sign-out, and password change and
//! reset. Handlers call these and never look at hashes or the store's session rows themselves.
//!
//! Secrets handed out here (session id, CSRF token, API token) are shown once; the store keeps
//! the session id's and token's SHA-256 only (see [`crate::secrets`]).

use fenhe_core::access::{self, Action, Actor, Denied, RoleError, Target};
use fenhe_core::account_rules::{self, PasswordError, UsernameError};
use fenhe_core::sign_in_throttle::{self, Limited, Throttle};
use fenhe_store::{Session, SignInAttempt, Store, StoreError, User};

use crate::accounts::UserView;
use crate::audit::{self, Caller};
use crate::{password_hash, secrets};

/// A session ends after this long without a request, ms.
pub const IDLE_MS: i64 = 8 * 60 * 60 * 1000;
/// A session ends this long after sign-in however busy it is, ms.
pub const ABSOLUTE_MS: i64 = 7 * 24 * 60 * 60 * 1000;
/// A session's or token's last use is written at most this often, so that a page's burst of
/// requests does not turn into a burst of writes, ms.
const TOUCH_EVERY_MS: i64 = 60 * 1000;

/// What went wrong signing in or managing accounts. The messages are for the person at the
/// keyboard; none contains a password or a hash.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user, wrong password or inactive account: one answer for all, so that it tells an
    /// attacker nothing about which accounts exist.
    #[error("wrong username or password")]
    BadCredentials,
    /// Too many failed attempts recently (HTTP 429).
    #[error("too many failed sign-ins {}; try again in {} min", by_what(*.by), minutes(*.retry_after_ms))]
    Throttled { by: Limited, retry_after_ms: i64 },
    /// The current password given for a change is wrong.
    #[error("the current password is wrong")]
    WrongPassword,
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Username(#[from] UsernameError),
    #[error(transparent)]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Role(#[from] RoleError),
    #[error("there is no user {0:?}")]
    UnknownUser(String),
    #[error("the username {0:?} is taken")]
    UserExists(String),
    #[error("there is no department {code:?}; the departments are: {known}")]
    UnknownDepartment { code: String, known: String },
    #[error("there is no enterprise {0:?} in the registry")]
    UnknownEnterprise(String),
    #[error("there is no API token {0}")]
    UnknownToken(i64),
    #[error("API token {0} is already revoked")]
    TokenRevoked(i64),
    #[error("a display name or token label has at most 100 characters and no control characters")]
    Label,
    #[error("hashing the password failed: {0}")]
    Hash(String),
    #[error("the operating system's random generator failed: {0}")]
    Random(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn by_what(by: Limited) -> &'static str {
    match by {
        Limited::Account => "for this account",
        Limited::Address => "from this address",
    }
}

fn minutes(ms: i64) -> i64 {
    (ms + 59_999) / 60_000
}

pub type Result<T, E = AuthError> = std::result::Result<T, E>;

/// A successful sign-in: the session id for the cookie and the CSRF token for its forms, each
/// shown only here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub session_token: String,
    pub csrf_token: String,
    pub actor: Actor,
    /// Epoch ms; moves on with use (see [`IDLE_MS`], [`ABSOLUTE_MS`]).
    pub expires_at: i64,
}

/// The person behind a live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub actor: Actor,
    /// What every form of this session must send back; compare with [`csrf_matches`].
    pub csrf_token: String,
    pub expires_at: i64,
    pub user: UserView,
}

/// Sign `username` in with `password` from `peer` at `now`. Refused while the account or the
/// address has too many recent failures; otherwise the password is checked (against a dummy hash
/// when there is no such user, so both take the same time) and the attempt recorded either way.
pub async fn sign_in(
    store: &dyn Store,
    username: &str,
    password: &str,
    peer: &str,
    now: i64,
) -> Result<SignedIn> {
    let record =
        |ok: bool| SignInAttempt { username: username.to_string(), address: peer.to_string(), ok, at: now };
    let recent = store.sign_in_failures(username, peer, sign_in_throttle::window_start(now)).await?;
    if let Throttle::Refused { by, retry_after_ms } = sign_in_throttle::decide(recent, now) {
        // A refused attempt counts as a failure: whoever keeps trying stays refused, and the
        // password is not even checked, so the attempts teach them nothing.
        store.record_sign_in(&record(false)).await?;
        return Err(AuthError::Throttled { by, retry_after_ms });
    }
    let user = store.user(username).await?;
    let verified = password_hash::verify(password, user.as_ref().map(|u| u.password_hash.as_str())).await?;
    let user = match user {
        Some(u) if verified && u.active => u,
        _ => {
            store.record_sign_in(&record(false)).await?;
            return Err(AuthError::BadCredentials);
        }
    };
    store.record_sign_in(&record(true)).await?;
    let session_token = secrets::new_secret()?;
    let csrf_token = secrets::new_secret()?;
    let expires_at = now.saturating_add(IDLE_MS).min(now.saturating_add(ABSOLUTE_MS));
    store
        .create_session(&Session {
            token_hash: secrets::hash_secret(&session_token),
            username: user.username.clone(),
            created_at: now,
            expires_at,
            last_seen_at: now,
            peer: peer.to_string(),
            csrf_secret: csrf_token.clone(),
        })
        .await?;
    Ok(SignedIn { session_token, csrf_token, actor: actor_of(&user), expires_at })
}

/// Who holds session `token` at `now`: `None` when there is no such session, it expired, or its
/// user was deactivated (the session is deleted then). A live session's expiry slides to
/// `now + IDLE_MS`, never past `ABSOLUTE_MS` after sign-in.
pub async fn session_actor(store: &dyn Store, token: &str, now: i64) -> Result<Option<SessionInfo>> {
    let hash = secrets::hash_secret(token);
    let Some(session) = store.session(&hash).await? else {
        return Ok(None);
    };
    if session.expires_at <= now {
        store.delete_session(&hash).await?;
        return Ok(None);
    }
    let user = match store.user(&session.username).await? {
        Some(u) if u.active => u,
        _ => {
            store.delete_session(&hash).await?;
            return Ok(None);
        }
    };
    let expires_at = now.saturating_add(IDLE_MS).min(session.created_at.saturating_add(ABSOLUTE_MS));
    let mut shown = session.expires_at;
    if now - session.last_seen_at >= TOUCH_EVERY_MS && store.touch_session(&hash, now, expires_at).await? {
        shown = expires_at;
    }
    Ok(Some(SessionInfo {
        actor: actor_of(&user),
        csrf_token: session.csrf_secret,
        expires_at: shown,
        user: UserView::from(&user),
    }))
}

/// Whether a credential seen earlier still signs its holder in at `now`, without extending it (a
/// long-lived stream asks this now and then, so that signing out, an expired session, a revoked
/// token or a deactivated user ends the stream as it ends every page).
pub async fn still_signed_in(store: &dyn Store, credential: Credential<'_>, now: i64) -> Result<bool> {
    let username = match credential {
        Credential::Session(token) => match store.session(&secrets::hash_secret(token)).await? {
            Some(s) if s.expires_at > now => s.username,
            _ => return Ok(false),
        },
        Credential::Bearer(token) => match store.token_by_hash(&secrets::hash_secret(token.trim())).await? {
            Some(t) if t.revoked_at.is_none() => t.username,
            _ => return Ok(false),
        },
    };
    Ok(store.user(&username).await?.is_some_and(|u| u.active))
}

/// What a request signed in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    /// A browser session's token (the cookie).
    Session(&'a str),
    /// An API token (`Authorization: Bearer`).
    Bearer(&'a str),
}

/// Whether a form's CSRF token is the session's (in constant time).
pub fn csrf_matches(session: &SessionInfo, given: &str) -> bool {
    secrets::secrets_match(&session.csrf_token, given)
}

/// End session `token`; `false` when there was none.
pub async fn sign_out(store: &dyn Store, token: &str) -> Result<bool> {
    Ok(store.delete_session(&secrets::hash_secret(token)).await?)
}

/// Who an API bearer token belongs to at `now`: `None` when it is unknown, revoked, or its user is
/// inactive.
pub async fn token_actor(store: &dyn Store, bearer: &str, now: i64) -> Result<Option<Actor>> {
    let Some(token) = store.token_by_hash(&secrets::hash_secret(bearer.trim())).await? else {
        return Ok(None);
    };
    if token.revoked_at.is_some() {
        return Ok(None);
    }
    let user = match store.user(&token.username).await? {
        Some(u) if u.active => u,
        _ => return Ok(None),
    };
    if token.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY_MS) {
        store.touch_token(token.id, now).await?;
    }
    Ok(Some(actor_of(&user)))
}

/// Change the caller's own password: the old one must be right and the new one pass the policy.
/// Every other session of theirs ends (`current_session`, the one the change was made from, if
/// any, stays). Recorded in the audit log.
pub async fn change_password(
    store: &dyn Store,
    caller: &Caller,
    current_session: Option<&str>,
    old: &str,
    new: &str,
) -> Result<()> {
    let username = caller.actor.username.as_str();
    let user = store.user(username).await?.ok_or_else(|| AuthError::UnknownUser(username.into()))?;
    if !password_hash::verify(old, Some(&user.password_hash)).await? {
        return Err(AuthError::WrongPassword);
    }
    account_rules::check_password(username, new)?;
    let hash = password_hash::hash(new).await?;
    store.set_password_hash(username, &hash, caller.now).await?;
    let keep = current_session.map(secrets::hash_secret);
    store.delete_user_sessions(username, keep.as_deref()).await?;
    let after = store.user(username).await?.ok_or_else(|| AuthError::UnknownUser(username.into()))?;
    audit::record_change(
        store,
        caller,
        "user.password",
        "user",
        username,
        Some(&UserView::from(&user)),
        Some(&UserView::from(&after)),
    )
    .await
}

/// An administrator sets another user's password (ManageUsers). All of that user's sessions end.
/// Recorded in the audit log.
pub async fn reset_password(store: &dyn Store, caller: &Caller, username: &str, new: &str) -> Result<()> {
    access::authorize(&caller.actor, Action::ManageUsers, Target::City)?;
    let user = store.user(username).await?.ok_or_else(|| AuthError::UnknownUser(username.into()))?;
    account_rules::check_password(username, new)?;
    let hash = password_hash::hash(new).await?;
    store.set_password_hash(username, &hash, caller.now).await?;
    store.delete_user_sessions(username, None).await?;
    let after = store.user(username).await?.ok_or_else(|| AuthError::UnknownUser(username.into()))?;
    audit::record_change(
        store,
        caller,
        "user.password_reset",
        "user",
        username,
        Some(&UserView::from(&user)),
        Some(&UserView::from(&after)),
    )
    .await
}

/// What the housekeeping removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Forgotten {
    pub sessions: u64,
    pub sign_in_attempts: u64,
}

/// Housekeeping, for a periodic job: delete sessions expired by `now` and sign-in attempts too old
/// to count for the throttle (nothing else reads them).
pub async fn forget_expired(store: &dyn Store, now: i64) -> fenhe_store::Result<Forgotten> {
    Ok(Forgotten {
        sessions: store.delete_expired_sessions(now).await?,
        sign_in_attempts: store.forget_sign_ins(sign_in_throttle::window_start(now)).await?,
    })
}

/// The policy's view of a user.
pub(crate) fn actor_of(user: &User) -> Actor {
    Actor::new(user.username.clone(), user.role.clone())
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
