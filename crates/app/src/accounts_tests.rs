//! Account management over a real SQLite store: checks, the policy, the audit log, the demo.

use std::sync::Arc;

use fenhe_core::access::{Actor, Denied, Role};
use fenhe_store::{AuditQuery, Store};

use super::*;
use crate::audit::{self, Caller};
use crate::auth::AuthError;

/// 2026-03-02 00:00 UTC.
const T0: i64 = 1_772_409_600_000;
const PASSWORD: &str = "correct horse battery";

async fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = fenhe_store::open(dir.path().join("accounts.db").to_str().unwrap()).await.unwrap();
    store.import_registry(&fenhe_core::demo::city()).await.unwrap();
    (dir, store)
}

fn account(username: &str, role: Role) -> NewAccount {
    NewAccount { username: username.into(), display_name: String::new(), role, password: PASSWORD.into() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_checks_names_passwords_units_and_duplicates() {
    let (_d, store) = store().await;
    let cli = Caller::cli(T0);
    let err = |r: Result<UserView>| r.unwrap_err().to_string();

    assert!(err(create_user(&*store, &cli, &account("Zhang San", Role::Bureau)).await).contains("a-z"));
    let mut short = account("zhang", Role::Bureau);
    short.password = "short".into();
    assert!(err(create_user(&*store, &cli, &short).await).contains("at least 10"));
    let dept = account("officer", Role::Department { department: "nope".into() });
    let e = err(create_user(&*store, &cli, &dept).await);
    assert!(e.contains("no department \"nope\"") && e.contains("fgw") && e.contains("xzsp"), "{e}");
    let ent = account("e99", Role::Enterprise { enterprise: "E99".into() });
    assert_eq!(err(create_user(&*store, &cli, &ent).await), "there is no enterprise \"E99\" in the registry");

    let v = create_user(&*store, &cli, &account("e01", Role::Enterprise { enterprise: "E01".into() }))
        .await
        .unwrap();
    assert_eq!(
        (v.role.as_str(), v.enterprise.as_deref(), v.display_name.as_str()),
        ("enterprise", Some("E01"), "e01")
    );
    let e = create_user(&*store, &cli, &account("e01", Role::Bureau)).await.unwrap_err();
    assert!(matches!(e, AuthError::UserExists(_)), "{e}");
    assert!(store.users().await.unwrap().len() == 1, "nothing of the refused ones was stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_administrators_manage_users_and_everything_is_audited() {
    let (_d, store) = store().await;
    let cli = Caller::cli(T0);
    create_user(&*store, &cli, &account("zhang", Role::Bureau)).await.unwrap();
    let bureau = Caller::new(Actor::new("zhang", Role::Bureau), "192.0.2.1", T0 + 1);

    let e = create_user(&*store, &bureau, &account("lisi", Role::Leader)).await.unwrap_err();
    assert!(matches!(e, AuthError::Denied(Denied::Forbidden)), "{e}");
    assert!(matches!(list_users(&*store, &bureau.actor).await, Err(AuthError::Denied(Denied::Forbidden))));
    assert!(matches!(
        audit::query(&*store, &bureau.actor, &AuditQuery::default()).await,
        Err(AuthError::Denied(Denied::Forbidden))
    ));

    let users = list_users(&*store, &cli.actor).await.unwrap();
    assert_eq!(users.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(), ["zhang"]);

    let log =
        audit::query(&*store, &cli.actor, &AuditQuery { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(log.len(), 1);
    let e = &log[0].entry;
    assert_eq!(
        (e.actor.as_str(), e.actor_role.as_str(), e.action.as_str(), e.object_kind.as_str(), e.peer.as_str()),
        ("cli", "admin", "user.create", "user", "local")
    );
    assert!(e.before.is_none());
    let after = e.after.as_ref().unwrap();
    assert_eq!(after["username"], "zhang");
    assert!(after.get("password_hash").is_none() && !after.to_string().contains("argon2"), "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_manage_their_own_tokens_and_only_administrators_anyone_s() {
    let (_d, store) = store().await;
    let cli = Caller::cli(T0);
    create_user(&*store, &cli, &account("e01", Role::Enterprise { enterprise: "E01".into() })).await.unwrap();
    create_user(&*store, &cli, &account("e02", Role::Enterprise { enterprise: "E02".into() })).await.unwrap();
    let e01 = Caller::new(Actor::new("e01", Role::Enterprise { enterprise: "E01".into() }), "192.0.2.1", T0);

    let own = create_token(&*store, &e01, "e01", "my script").await.unwrap();
    let theirs = create_token(&*store, &cli, "e02", "").await.unwrap();
    let e = create_token(&*store, &e01, "e02", "x").await.unwrap_err();
    assert!(matches!(e, AuthError::Denied(Denied::Forbidden)), "{e}");
    assert!(matches!(create_token(&*store, &cli, "nobody", "").await, Err(AuthError::UnknownUser(_))));

    assert_eq!(list_tokens(&*store, &e01.actor, Some("e01")).await.unwrap(), vec![own.info.clone()]);
    assert!(list_tokens(&*store, &e01.actor, None).await.is_err());
    assert_eq!(list_tokens(&*store, &cli.actor, None).await.unwrap().len(), 2);

    // Another's token is answered as missing, exactly like a token that does not exist.
    let other = revoke_token(&*store, &e01, theirs.info.id).await.unwrap_err();
    let missing = revoke_token(&*store, &e01, 999).await.unwrap_err();
    assert_eq!(
        other.to_string().replace(&theirs.info.id.to_string(), "N"),
        missing.to_string().replace("999", "N")
    );
    let revoked = revoke_token(&*store, &e01, own.info.id).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(T0));

    let q = AuditQuery { object_kind: Some("token".into()), limit: 10, ..Default::default() };
    let log = audit::query(&*store, &cli.actor, &q).await.unwrap();
    let actions: Vec<_> = log.iter().map(|e| (e.entry.action.as_str(), e.entry.actor.as_str())).collect();
    assert_eq!(actions, [("token.revoke", "e01"), ("token.create", "cli"), ("token.create", "e01")]);
    for e in &log {
        let text = serde_json::to_string(&(&e.entry.before, &e.entry.after)).unwrap();
        assert!(
            !text.contains(&own.token) && !text.contains(&theirs.token) && !text.contains("hash"),
            "{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_makes_one_account_per_role_and_keeps_their_passwords() {
    let (_d, store) = store().await;
    assert!(demo_accounts(&*store).await.unwrap().is_empty());
    let first = ensure_demo_accounts(&*store, T0).await.unwrap();
    let enterprises = store.registry().await.unwrap().enterprises.len();
    let departments = store.departments().await.unwrap().len();
    assert_eq!(first.len(), 3 + departments + enterprises);
    let names: Vec<_> = first.iter().take(4).map(|a| a.username.as_str()).collect();
    assert_eq!(names, ["admin", "leader", "bureau", "fgw"]);
    let e01 = first.iter().find(|a| a.username == "e01").unwrap();
    assert_eq!(e01.role, Role::Enterprise { enterprise: "E01".into() });

    let again = ensure_demo_accounts(&*store, T0 + 1000).await.unwrap();
    assert_eq!(first, again, "a second run keeps the accounts and their passwords");
    let signed = crate::auth::sign_in(&*store, "e01", &e01.password, "local", T0 + 2000).await.unwrap();
    assert_eq!(signed.actor.role, e01.role);
}
