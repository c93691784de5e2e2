//! `fenhe user add | list | passwd` and `fenhe token create | revoke | list`: the accounts of the
//! web application and the API, managed from the database's machine. Every change is made as the
//! command line's actor (`cli`, an administrator, from `local`) and so lands in the audit log.

use std::io::{Read, Write};

use anyhow::{Context, Result, bail};
use fenhe_app::accounts::{self, NewAccount, TokenView, UserView};
use fenhe_app::audit::Caller;
use fenhe_core::access::Role;
use fenhe_core::china_time;
use fenhe_store::Store;
use serde_json::json;

use crate::text_table::Table;

/// The password given on standard input: everything read, less one line ending (what `echo` or a
/// here-string adds). Anything else is the password's, so that the policy can refuse it clearly.
pub fn read_password(input: &mut dyn Read) -> Result<String> {
    let mut s = String::new();
    input.read_to_string(&mut s).context("reading the password from standard input")?;
    let s = s.strip_suffix('\n').map(|s| s.strip_suffix('\r').unwrap_or(s)).unwrap_or(&s);
    if s.is_empty() {
        bail!("no password on standard input (e.g. `printf %s \"$PASSWORD\" | fenhe user add …`)");
    }
    if s.contains('\n') {
        bail!("the password on standard input has more than one line");
    }
    Ok(s.to_string())
}

/// What `user add` is given.
pub struct AddUser<'a> {
    pub username: &'a str,
    pub role: &'a str,
    pub department: Option<&'a str>,
    pub enterprise: Option<&'a str>,
    pub display_name: Option<&'a str>,
    pub password: String,
}

/// `user add`.
pub async fn add(store: &dyn Store, a: AddUser<'_>, out: &mut dyn Write) -> Result<()> {
    let role = Role::from_parts(a.role, a.department, a.enterprise)?;
    let new = NewAccount {
        username: a.username.to_string(),
        display_name: a.display_name.unwrap_or_default().to_string(),
        role,
        password: a.password,
    };
    let u = accounts::create_user(store, &Caller::cli(china_time::now_ms()), &new).await?;
    writeln!(out, "已创建用户 created user {} ({})", u.username, role_with_unit(&u))?;
    Ok(())
}

fn role_with_unit(u: &UserView) -> String {
    match (&u.department, &u.enterprise) {
        (Some(d), _) => format!("{} {d}", u.role),
        (_, Some(e)) => format!("{} {e}", u.role),
        _ => u.role.clone(),
    }
}

/// `user list`.
pub async fn list(store: &dyn Store, json_out: bool, out: &mut dyn Write) -> Result<()> {
    let users = accounts::list_users(store, &Caller::cli(china_time::now_ms()).actor).await?;
    if json_out {
        for u in &users {
            let line = json!({
                "username": u.username,
                "display_name": u.display_name,
                "role": u.role,
                "department": u.department,
                "enterprise": u.enterprise,
                "active": u.active,
                "created_at": china_time::iso(u.created_at),
                "updated_at": china_time::iso(u.updated_at),
                "password_changed_at": china_time::iso(u.password_changed_at),
            });
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    if users.is_empty() {
        writeln!(
            out,
            "没有用户 (no users; add one with `fenhe user add USERNAME --role admin --password-stdin`)"
        )?;
        return Ok(());
    }
    let mut t = Table::new();
    t.row([
        "用户名 username",
        "角色 role",
        "单位 unit",
        "状态 state",
        "姓名 name",
        "密码修改 password changed",
    ]);
    for u in &users {
        t.row([
            u.username.clone(),
            u.role.clone(),
            u.department.clone().or(u.enterprise.clone()).unwrap_or_else(|| "-".into()),
            if u.active { "active" } else { "inactive" }.to_string(),
            u.display_name.clone(),
            china_time::iso(u.password_changed_at),
        ]);
    }
    let mut s = String::new();
    t.render("", &mut s);
    out.write_all(s.as_bytes())?;
    Ok(())
}

/// `user passwd`: an administrator's reset (every session of the user ends).
pub async fn passwd(store: &dyn Store, username: &str, password: &str, out: &mut dyn Write) -> Result<()> {
    fenhe_app::auth::reset_password(store, &Caller::cli(china_time::now_ms()), username, password).await?;
    writeln!(out, "已修改密码 password changed for {username}; their sessions have ended")?;
    Ok(())
}

/// `token create`: the token on standard output, alone on its line (to be captured by a script);
/// the note that it is shown once on standard error.
pub async fn token_create(
    store: &dyn Store,
    username: &str,
    label: &str,
    out: &mut dyn Write,
    note: &mut dyn Write,
) -> Result<()> {
    let made = accounts::create_token(store, &Caller::cli(china_time::now_ms()), username, label).await?;
    writeln!(out, "{}", made.token)?;
    writeln!(
        note,
        "API token {} for {username}: shown only this once; send it as `Authorization: Bearer TOKEN`",
        made.info.id
    )?;
    Ok(())
}

/// `token revoke`.
pub async fn token_revoke(store: &dyn Store, id: i64, out: &mut dyn Write) -> Result<()> {
    let t = accounts::revoke_token(store, &Caller::cli(china_time::now_ms()), id).await?;
    writeln!(out, "已吊销 revoked API token {} of {}", t.id, t.username)?;
    Ok(())
}

/// `token list`.
pub async fn token_list(
    store: &dyn Store,
    username: Option<&str>,
    json_out: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let caller = Caller::cli(china_time::now_ms());
    if let Some(u) = username
        && store.user(u).await?.is_none()
    {
        bail!("there is no user {u:?}");
    }
    let tokens = accounts::list_tokens(store, &caller.actor, username).await?;
    let time = |t: Option<i64>| t.map(china_time::iso);
    if json_out {
        for t in &tokens {
            let line = json!({
                "id": t.id,
                "username": t.username,
                "label": t.label,
                "created_at": china_time::iso(t.created_at),
                "last_used_at": time(t.last_used_at),
                "revoked_at": time(t.revoked_at),
            });
            writeln!(out, "{line}")?;
        }
        return Ok(());
    }
    if tokens.is_empty() {
        writeln!(out, "没有令牌 (no API tokens; make one with `fenhe token create USERNAME`)")?;
        return Ok(());
    }
    let mut table = Table::new();
    table.row(["ID", "用户 user", "标签 label", "创建 created", "最近使用 last used", "吊销 revoked"]);
    for t in &tokens {
        table.row(token_row(t));
    }
    let mut s = String::new();
    table.render("", &mut s);
    out.write_all(s.as_bytes())?;
    Ok(())
}

fn token_row(t: &TokenView) -> [String; 6] {
    let or_dash = |v: Option<i64>| v.map(china_time::iso).unwrap_or_else(|| "-".into());
    [
        t.id.to_string(),
        t.username.clone(),
        if t.label.is_empty() { "-".into() } else { t.label.clone() },
        china_time::iso(t.created_at),
        or_dash(t.last_used_at),
        or_dash(t.revoked_at),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_stdin_less_one_line_ending() {
        let read = |s: &str| read_password(&mut s.as_bytes());
        assert_eq!(read("secret pass\n").unwrap(), "secret pass");
        assert_eq!(read("secret pass\r\n").unwrap(), "secret pass");
        assert_eq!(read("secret pass").unwrap(), "secret pass");
        assert_eq!(read(" spaced \n").unwrap(), " spaced ", "kept, for the policy to refuse");
        assert!(read("").unwrap_err().to_string().contains("no password"));
        assert!(read("\n").is_err());
        assert!(read("one\ntwo\n").unwrap_err().to_string().contains("more than one line"));
    }
}
