//! Signing in, sessions, tokens and password changes over a real SQLite store.

use std::sync::Arc;

use fenhe_core::access::{Actor, Denied, Role};
use fenhe_core::sign_in_throttle::{Limited, MAX_ACCOUNT_FAILURES, MAX_ADDRESS_FAILURES, WINDOW_MS};
use fenhe_store::{AuditQuery, Store};

use super::*;
use crate::accounts::{self, NewAccount};
use crate::audit::Caller;

/// 2026-03-02 00:00 UTC.
const T0: i64 = 1_772_409_600_000;
const PEER: &str = "192.0.2.7";
const PASSWORD: &str = "correct horse battery";

async fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = fenhe_store::open(dir.path().join("auth.db").to_str().unwrap()).await.unwrap();
    (dir, store)
}

async fn add(store: &dyn Store, username: &str, role: Role) {
    let new = NewAccount {
        username: username.into(),
        display_name: String::new(),
        role,
        password: PASSWORD.into(),
    };
    accounts::create_user(store, &Caller::cli(T0), &new).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_opens_a_session_that_sign_out_ends() {
    let (_d, store) = store().await;
    add(&*store, "zhang", Role::Bureau).await;
    let s = sign_in(&*store, "zhang", PASSWORD, PEER, T0).await.unwrap();
    assert_eq!(s.actor, Actor::new("zhang", Role::Bureau));
    assert_eq!(s.expires_at, T0 + IDLE_MS);
    assert_ne!(s.session_token, s.csrf_token);

    let info = session_actor(&*store, &s.session_token, T0 + 1000).await.unwrap().unwrap();
    assert_eq!(info.actor, s.actor);
    assert_eq!(info.user.username, "zhang");
    assert!(csrf_matches(&info, &s.csrf_token));
    assert!(!csrf_matches(&info, &s.session_token));
    // What the store keeps is not the session id.
    assert!(store.session(&s.session_token).await.unwrap().is_none());

    assert!(sign_out(&*store, &s.session_token).await.unwrap());
    assert!(session_actor(&*store, &s.session_token, T0 + 2000).await.unwrap().is_none());
    assert!(!sign_out(&*store, &s.session_token).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let (_d, store) = store().await;
    add(&*store, "zhang", Role::Leader).await;
    let wrong = sign_in(&*store, "zhang", "wrong password!", PEER, T0).await.unwrap_err();
    let unknown = sign_in(&*store, "nobody", PASSWORD, PEER, T0).await.unwrap_err();
    assert!(matches!(wrong, AuthError::BadCredentials));
    assert_eq!(wrong.to_string(), unknown.to_string());
    let recent = store.sign_in_failures("nobody", PEER, T0 - WINDOW_MS).await.unwrap();
    assert_eq!((recent.account, recent.address), (1, 2), "both attempts are recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_failures_on_an_account_refuse_even_the_right_password() {
    let (_d, store) = store().await;
    add(&*store, "zhang", Role::Leader).await;
    for i in 0..MAX_ACCOUNT_FAILURES {
        let at = T0 + i64::from(i) * 1000;
        let e = sign_in(&*store, "zhang", "wrong password!", "198.51.100.1", at).await.unwrap_err();
        assert!(matches!(e, AuthError::BadCredentials), "{e}");
    }
    let e = sign_in(&*store, "zhang", PASSWORD, PEER, T0 + 10_000).await.unwrap_err();
    match e {
        AuthError::Throttled { by: Limited::Account, retry_after_ms } => {
            assert_eq!(retry_after_ms, WINDOW_MS - 10_000);
        }
        other => panic!("expected the account throttle, got {other}"),
    }
    assert!(e.to_string().contains("try again in 15 min"), "{e}");
    // Once the failures have left the window (and the refused attempt with them), it works.
    assert!(sign_in(&*store, "zhang", PASSWORD, PEER, T0 + 10_000 + WINDOW_MS + 1).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_failures_from_an_address_refuse_every_account() {
    let (_d, store) = store().await;
    add(&*store, "zhang", Role::Leader).await;
    for i in 0..MAX_ADDRESS_FAILURES {
        let _ = sign_in(&*store, &format!("guess{i}"), "wrong password!", PEER, T0).await;
    }
    let e = sign_in(&*store, "zhang", PASSWORD, PEER, T0 + 1).await.unwrap_err();
    assert!(matches!(e, AuthError::Throttled { by: Limited::Address, .. }), "{e}");
    assert!(sign_in(&*store, "zhang", PASSWORD, "203.0.113.9", T0 + 1).await.is_ok(), "another address");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_slide_while_used_and_end_when_idle_or_old() {
    let (_d, store) = store().await;
    add(&*store, "zhang", Role::Bureau).await;
    let s = sign_in(&*store, "zhang", PASSWORD, PEER, T0).await.unwrap();
    // Idle for exactly IDLE_MS: gone.
    let idle = sign_in(&*store, "zhang", PASSWORD, PEER, T0).await.unwrap();
    assert!(session_actor(&*store, &idle.session_token, T0 + IDLE_MS).await.unwrap().is_none());
    // Used every 7 hours: alive past 8 hours, until 7 days after sign-in.
    let mut at = T0;
    while at + 7 * 3_600_000 < T0 + ABSOLUTE_MS {
        at += 7 * 3_600_000;
        let info = session_actor(&*store, &s.session_token, at).await.unwrap();
        let info = info.unwrap_or_else(|| panic!("alive at {}", at - T0));
        assert_eq!(info.expires_at, (at + IDLE_MS).min(T0 + ABSOLUTE_MS));
    }
    assert!(session_actor(&*store, &s.session_token, T0 + ABSOLUTE_MS).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_user_cannot_sign_in_and_loses_sessions_and_tokens() {
    let (_d, store) = store().await;
    add(&*store, "zhang", Role::Bureau).await;
    let s = sign_in(&*store, "zhang", PASSWORD, PEER, T0).await.unwrap();
    let t = accounts::create_token(&*store, &Caller::cli(T0), "zhang", "script").await.unwrap();
    assert_eq!(token_actor(&*store, &t.token, T0).await.unwrap(), Some(Actor::new("zhang", Role::Bureau)));

    let v = accounts::set_user_active(&*store, &Caller::cli(T0), "zhang", false).await.unwrap();
    assert!(!v.active);
    assert!(session_actor(&*store, &s.session_token, T0 + 1).await.unwrap().is_none());
    assert!(token_actor(&*store, &t.token, T0 + 1).await.unwrap().is_none());
    let e = sign_in(&*store, "zhang", PASSWORD, PEER, T0 + 2).await.unwrap_err();
    assert!(matches!(e, AuthError::BadCredentials), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_work_until_revoked() {
    let (_d, store) = store().await;
    add(&*store, "zhang", Role::Bureau).await;
    let t = accounts::create_token(&*store, &Caller::cli(T0), "zhang", "nightly export").await.unwrap();
    assert_eq!(t.info.label, "nightly export");
    assert!(token_actor(&*store, &t.token, T0 + 5).await.unwrap().is_some());
    assert_eq!(store.token(t.info.id).await.unwrap().unwrap().last_used_at, Some(T0 + 5));
    assert!(token_actor(&*store, "fenhe_not-a-token", T0).await.unwrap().is_none());

    accounts::revoke_token(&*store, &Caller::cli(T0 + 10), t.info.id).await.unwrap();
    assert!(token_actor(&*store, &t.token, T0 + 11).await.unwrap().is_none());
    let again = accounts::revoke_token(&*store, &Caller::cli(T0 + 12), t.info.id).await.unwrap_err();
    assert!(matches!(again, AuthError::TokenRevoked(_)), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_ones_password_ends_the_other_sessions() {
    let (_d, store) = store().await;
    add(&*store, "zhang", Role::Bureau).await;
    let here = sign_in(&*store, "zhang", PASSWORD, PEER, T0).await.unwrap();
    let there = sign_in(&*store, "zhang", PASSWORD, "203.0.113.9", T0).await.unwrap();
    let caller = Caller::new(here.actor.clone(), PEER, T0 + 1000);

    let e = change_password(&*store, &caller, Some(&here.session_token), "not my password", "new password 1")
        .await
        .unwrap_err();
    assert!(matches!(e, AuthError::WrongPassword), "{e}");
    let e =
        change_password(&*store, &caller, Some(&here.session_token), PASSWORD, "short").await.unwrap_err();
    assert!(e.to_string().contains("at least 10"), "{e}");

    change_password(&*store, &caller, Some(&here.session_token), PASSWORD, "new password 1").await.unwrap();
    assert!(session_actor(&*store, &here.session_token, T0 + 2000).await.unwrap().is_some());
    assert!(session_actor(&*store, &there.session_token, T0 + 2000).await.unwrap().is_none());
    assert!(sign_in(&*store, "zhang", PASSWORD, PEER, T0 + 3000).await.is_err());
    assert!(sign_in(&*store, "zhang", "new password 1", PEER, T0 + 4000).await.is_ok());

    let q = AuditQuery { action: Some("user.password".into()), limit: 10, ..Default::default() };
    let log = store.audit(&q).await.unwrap();
    assert_eq!(log.len(), 1);
    let e = &log[0].entry;
    assert_eq!((e.actor.as_str(), e.object_id.as_str(), e.peer.as_str()), ("zhang", "zhang", PEER));
    let text = serde_json::to_string(&(&e.before, &e.after)).unwrap();
    assert!(!text.contains("argon2") && !text.contains("new password"), "{text}");
    assert_eq!(e.after.as_ref().unwrap()["password_changed_at"], T0 + 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_administrator_resets_a_password_and_it_ends_every_session() {
    let (_d, store) = store().await;
    add(&*store, "zhang", Role::Bureau).await;
    add(&*store, "lisi", Role::Leader).await;
    let s = sign_in(&*store, "zhang", PASSWORD, PEER, T0).await.unwrap();

    let leader = Caller::new(Actor::new("lisi", Role::Leader), PEER, T0);
    let e = reset_password(&*store, &leader, "zhang", "reset password 1").await.unwrap_err();
    assert!(matches!(e, AuthError::Denied(Denied::Forbidden)), "{e}");
    let e = reset_password(&*store, &Caller::cli(T0), "nobody", "reset password 1").await.unwrap_err();
    assert!(matches!(e, AuthError::UnknownUser(_)), "{e}");

    reset_password(&*store, &Caller::cli(T0), "zhang", "reset password 1").await.unwrap();
    assert!(session_actor(&*store, &s.session_token, T0 + 1).await.unwrap().is_none());
    assert!(sign_in(&*store, "zhang", "reset password 1", PEER, T0 + 2).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn housekeeping_forgets_expired_sessions_and_old_attempts_only() {
    let (_d, store) = store().await;
    add(&*store, "zhang", Role::Bureau).await;
    let _ = sign_in(&*store, "zhang", "wrong password!", PEER, T0).await;
    let old = sign_in(&*store, "zhang", PASSWORD, PEER, T0).await.unwrap();
    let later = T0 + IDLE_MS;
    let fresh = sign_in(&*store, "zhang", PASSWORD, PEER, later).await.unwrap();
    let gone = forget_expired(&*store, later).await.unwrap();
    assert_eq!(gone, Forgotten { sessions: 1, sign_in_attempts: 2 });
    assert!(store.session(&secrets::hash_secret(&old.session_token)).await.unwrap().is_none());
    assert!(session_actor(&*store, &fresh.session_token, later + 1).await.unwrap().is_some());
    assert_eq!(forget_expired(&*store, later).await.unwrap(), Forgotten::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_lived_stream_learns_of_sign_out_and_expiry_without_extending_the_session() {
    let (_d, store) = store().await;
    add(&*store, "zhang", Role::Bureau).await;
    let s = sign_in(&*store, "zhang", PASSWORD, PEER, T0).await.unwrap();
    let held = Credential::Session(&s.session_token);
    assert!(still_signed_in(&*store, held, T0 + 1000).await.unwrap());
    // Asking does not extend it: the session still ends at its idle limit.
    assert!(still_signed_in(&*store, held, T0 + IDLE_MS - 1).await.unwrap());
    assert!(!still_signed_in(&*store, held, T0 + IDLE_MS).await.unwrap());
    let s = sign_in(&*store, "zhang", PASSWORD, PEER, T0).await.unwrap();
    sign_out(&*store, &s.session_token).await.unwrap();
    assert!(!still_signed_in(&*store, Credential::Session(&s.session_token), T0 + 1).await.unwrap());
    assert!(!still_signed_in(&*store, Credential::Bearer("no such token"), T0).await.unwrap());
}
