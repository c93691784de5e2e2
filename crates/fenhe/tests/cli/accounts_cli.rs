//! `fenhe user` and `fenhe token` as an operator runs them: passwords on standard input, JSON
//! lines out, clear errors for unknown units, and every change in the audit log as `cli`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::common::bin;

/// Run `fenhe ARGS --db DB` with `stdin` on standard input.
fn run(db: &str, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(bin())
        .args(args)
        .args(["--db", db])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(db: &str, args: &[&str], stdin: &str) -> String {
    let out = run(db, args, stdin);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn refused(db: &str, args: &[&str], stdin: &str) -> String {
    let out = run(db, args, stdin);
    assert!(!out.status.success(), "{args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
    String::from_utf8(out.stderr).unwrap()
}

fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn users_are_added_listed_and_their_passwords_changed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("accounts.db");
    let db = db.to_str().unwrap();
    // Enterprises to belong to: the demo city's registry, imported as a file.
    let city = dir.path().join("city.toml");
    std::fs::write(&city, toml::to_string(&fenhe_core::demo::city()).unwrap()).unwrap();
    ok(db, &["registry", "import", city.to_str().unwrap()], "");
    ok(db, &["user", "add", "admin1", "--role", "admin", "--password-stdin"], "correct horse battery\n");
    ok(
        db,
        &["user", "add", "fgw1", "--role", "department", "--department", "fgw", "--password-stdin"],
        "department pass 1",
    );

    let e = refused(
        db,
        &["user", "add", "dept9", "--role", "department", "--department", "nope", "--password-stdin"],
        "long enough pw",
    );
    assert!(e.contains("no department \"nope\"") && e.contains("fgw"), "{e}");
    let e = refused(
        db,
        &["user", "add", "e99", "--role", "enterprise", "--enterprise", "E99", "--password-stdin"],
        "long enough pw",
    );
    assert!(e.contains("no enterprise \"E99\""), "{e}");
    let e = refused(db, &["user", "add", "short", "--role", "bureau", "--password-stdin"], "short\n");
    assert!(e.contains("at least 10"), "{e}");
    let e = refused(db, &["user", "add", "admin1", "--role", "bureau", "--password-stdin"], "long enough pw");
    assert!(e.contains("taken"), "{e}");
    let e = refused(db, &["user", "add", "nostdin", "--role", "bureau"], "");
    assert!(e.contains("--password-stdin"), "{e}");
    let e = refused(
        db,
        &["user", "add", "leader2", "--role", "leader", "--department", "fgw", "--password-stdin"],
        "long enough pw",
    );
    assert!(e.contains("leader role takes no department"), "{e}");
    ok(
        db,
        &["user", "add", "e01", "--role", "enterprise", "--enterprise", "E01", "--password-stdin"],
        "enterprise pass 1",
    );

    let users = json_lines(&ok(db, &["user", "list", "--format", "json"], ""));
    let names: Vec<_> =
        users.iter().map(|u| (u["username"].as_str().unwrap(), u["role"].as_str().unwrap())).collect();
    assert_eq!(names, [("admin1", "admin"), ("e01", "enterprise"), ("fgw1", "department")]);
    assert_eq!(
        (users[1]["enterprise"].as_str(), users[2]["department"].as_str()),
        (Some("E01"), Some("fgw"))
    );
    assert!(users.iter().all(|u| u.get("password_hash").is_none()));
    let text = ok(db, &["user", "list"], "");
    assert!(text.contains("admin1") && text.contains("fgw1") && !text.contains("argon2"), "{text}");

    let before = users[2]["password_changed_at"].clone();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ok(db, &["user", "passwd", "fgw1", "--password-stdin"], "another password\n");
    let users = json_lines(&ok(db, &["user", "list", "--format", "json"], ""));
    assert_ne!(users[2]["password_changed_at"], before);
    let e = refused(db, &["user", "passwd", "nobody", "--password-stdin"], "another password\n");
    assert!(e.contains("no user \"nobody\""), "{e}");
}

#[test]
fn tokens_are_printed_once_listed_without_the_secret_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tokens.db");
    let db = db.to_str().unwrap();
    ok(db, &["user", "add", "zhang", "--role", "bureau", "--password-stdin"], "correct horse battery");

    let out = run(db, &["token", "create", "zhang", "--label", "nightly export"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(token.starts_with("fenhe_") && token.len() == 70, "{token}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("only this once"));

    let listed = json_lines(&ok(db, &["token", "list", "zhang", "--format", "json"], ""));
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0]["label"].as_str(), listed[0]["revoked_at"].is_null()),
        (Some("nightly export"), true)
    );
    let all = ok(db, &["token", "list"], "");
    assert!(all.contains("nightly export") && !all.contains(&token[6..]), "{all}");
    let e = refused(db, &["token", "list", "nobody"], "");
    assert!(e.contains("no user \"nobody\""), "{e}");
    let e = refused(db, &["token", "create", "nobody"], "");
    assert!(e.contains("no user \"nobody\""), "{e}");

    let id = listed[0]["id"].to_string();
    assert!(ok(db, &["token", "revoke", &id], "").contains("revoked"));
    let e = refused(db, &["token", "revoke", &id], "");
    assert!(e.contains("already revoked"), "{e}");
    let listed = json_lines(&ok(db, &["token", "list", "--format", "json"], ""));
    assert!(listed[0]["revoked_at"].is_string());
}
