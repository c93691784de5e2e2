//! `/audit`: the audit log for administrators (ViewAudit) — filtered by who, what was done, the
//! kind and id of the object and a period of days, a page at a time, newest first; each entry's
//! before and after shown as the fields that changed.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fenhe_app::audit::{self, FilterText};
use fenhe_app::audit_diff::{self, Change};
use fenhe_app::auth::AuthError;
use fenhe_store::{AuditEntry, Store};
use serde::Deserialize;

use crate::chrome::{Chrome, render_with};
use crate::error::internal;
use crate::extract::Query;
use crate::i18n::Lang;
use crate::pager::{PER_PAGE, Pager};
use crate::routes::denied_page;
use crate::session::PageUser;
use crate::state::AppState;

const PATH: &str = "/audit";

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(page))
}

/// An entry as the page shows it.
struct EntryRow {
    at: String,
    actor: String,
    role: String,
    action: String,
    /// The action in words, when it is one the page knows.
    action_label: Option<&'static str>,
    kind: String,
    object: String,
    peer: String,
    changes: Vec<Change>,
    /// A creation (nothing before): its fields are folded away, since all of them are new.
    created: bool,
    refused: bool,
    /// A refused submission's problems (`field: what`), in the page's language.
    problems: Vec<String>,
    /// The object's kind in words, when it is one the application records.
    kind_label: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    page: Chrome,
    filter: FilterText,
    /// A filter's problem, by field.
    from_error: Option<String>,
    to_error: Option<String>,
    rows: Vec<EntryRow>,
    pager: Pager,
    filtered: bool,
    /// The kinds of object the filter offers: value and label.
    kinds: Vec<(&'static str, &'static str)>,
}

impl AuditPage {
    fn kind_is(&self, kind: &str) -> bool {
        self.filter.kind == kind
    }
}

/// The kinds of object the application records changes of.
const KINDS: [(&str, &str); 7] = [
    ("user", "audit.k.user"),
    ("token", "audit.k.token"),
    ("enterprise", "audit.k.enterprise"),
    ("outlet", "audit.k.outlet"),
    ("limit", "audit.k.limit"),
    ("device", "audit.k.device"),
    ("registry", "audit.k.registry"),
];

#[derive(Debug, Default, Deserialize)]
struct AuditParams {
    #[serde(flatten)]
    filter: FilterText,
    page: Option<u32>,
}

/// The message key of an action's name, for those the application records.
fn action_key(action: &str) -> Option<&'static str> {
    Some(match action {
        "user.create" => "audit.a.user_create",
        "user.activate" => "audit.a.user_activate",
        "user.deactivate" => "audit.a.user_deactivate",
        "user.password_reset" => "audit.a.user_password_reset",
        "user.password" => "audit.a.user_password",
        "token.create" => "audit.a.token_create",
        "token.revoke" => "audit.a.token_revoke",
        "enterprise.create" => "audit.a.enterprise_create",
        "enterprise.update" => "audit.a.enterprise_update",
        "outlet.create" => "audit.a.outlet_create",
        "outlet.update" => "audit.a.outlet_update",
        "limit.add" => "audit.a.limit_add",
        "limit.remove" => "audit.a.limit_remove",
        "device.create" => "audit.a.device_create",
        "device.update" => "audit.a.device_update",
        "registry.import" => "audit.a.registry_import",
        a if a.ends_with(".refused") => "audit.a.refused",
        _ => return None,
    })
}

fn row(e: AuditEntry, lang: Lang) -> EntryRow {
    let e = e.entry;
    let changes = audit_diff::changes(e.before.as_ref(), e.after.as_ref());
    // A refusal keeps what was typed and why (`fenhe_app::registry_admin`): the why is shown.
    let problems = match (e.action.ends_with(".refused"), e.after.as_ref().and_then(|a| a.get("problems"))) {
        (true, Some(serde_json::Value::Array(list))) => list
            .iter()
            .map(|p| {
                let field = p.get("field").and_then(|f| f.as_str()).unwrap_or("");
                let message = p.get("message").and_then(|m| m.as_str()).unwrap_or("");
                format!("{field}: {}", super::registry::explain(message, lang))
            })
            .collect(),
        _ => Vec::new(),
    };
    EntryRow {
        problems,
        kind_label: KINDS.iter().find(|(k, _)| *k == e.object_kind).map(|(_, key)| lang.t(key)),
        created: e.before.is_none() && e.after.is_some(),
        at: fenhe_core::china_time::seconds_text(e.at),
        role: role_label(&e.actor_role, lang).to_string(),
        refused: e.action.ends_with(".refused"),
        action_label: action_key(&e.action).map(|k| lang.t(k)),
        actor: e.actor,
        action: e.action,
        kind: e.object_kind,
        object: e.object_id,
        peer: e.peer,
        changes,
    }
}

fn role_label(name: &str, lang: Lang) -> &'static str {
    use fenhe_core::access::Role;
    let role = match name {
        "admin" => Role::Admin,
        "leader" => Role::Leader,
        "bureau" => Role::Bureau,
        "department" => Role::Department { department: String::new() },
        "enterprise" => Role::Enterprise { enterprise: String::new() },
        _ => return "—",
    };
    role.label(lang.is_english())
}

async fn page(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    Query(params): Query<AuditParams>,
) -> Response {
    let here = uri.path_and_query().map(|p| p.as_str()).unwrap_or(PATH);
    let chrome = Chrome::signed_in(lang, here, &user.actor, &user.csrf);
    // The policy first: a role that may not read the log learns nothing, not even that a
    // filter was malformed.
    if let Err(d) = fenhe_core::access::authorize(
        &user.actor,
        fenhe_core::access::Action::ViewAudit,
        fenhe_core::access::Target::City,
    ) {
        return denied_page(chrome, d);
    }
    let f = &params.filter;
    let links = [
        ("actor", f.actor.as_str()),
        ("action", f.action.as_str()),
        ("kind", f.kind.as_str()),
        ("object", f.object.as_str()),
        ("from", f.from.as_str()),
        ("to", f.to.as_str()),
    ];
    let filtered = links.iter().any(|(_, v)| !v.trim().is_empty());
    let mut out = AuditPage {
        filter: params.filter.clone(),
        from_error: None,
        to_error: None,
        rows: Vec::new(),
        pager: Pager::new(PATH, &links, 1, 0),
        filtered,
        kinds: KINDS.iter().map(|(v, k)| (*v, lang.t(k))).collect(),
        page: chrome,
    };
    let mut query = match params.filter.to_query() {
        Ok(q) => q,
        Err(problems) => {
            for p in problems {
                let text = if lang.is_english() { p.message } else { lang.t("audit.bad_day").to_string() };
                match p.field {
                    "from" => out.from_error = Some(text),
                    _ => out.to_error = Some(text),
                }
            }
            return render_with(StatusCode::BAD_REQUEST, &out);
        }
    };
    let requested = params.page.unwrap_or(1).max(1);
    query.limit = PER_PAGE;
    query.offset = (requested - 1).saturating_mul(PER_PAGE);
    let mut result = audit::page(store.as_ref(), &user.actor, &query).await;
    if let Ok((_, total)) = &result {
        out.pager = Pager::new(PATH, &links, requested, *total);
        // A page past the end shows the last one.
        if out.pager.page != requested {
            query.offset = out.pager.offset() as u32;
            result = audit::page(store.as_ref(), &user.actor, &query).await;
        }
    }
    match result {
        Ok((entries, _)) => {
            out.rows = entries.into_iter().map(|e| row(e, lang)).collect();
            render_with(StatusCode::OK, &out)
        }
        Err(AuthError::Denied(d)) => denied_page(out.page, d),
        Err(e) => internal(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_the_application_records_has_a_name() {
        for a in [
            "user.create",
            "token.revoke",
            "enterprise.update",
            "limit.add",
            "device.create",
            "registry.import",
        ] {
            let key = action_key(a).unwrap_or_else(|| panic!("{a}"));
            assert_ne!(Lang::Zh.t(key), "??", "{a}");
        }
        assert_eq!(action_key("enterprise.refused"), Some("audit.a.refused"));
        assert_eq!(action_key("something.else"), None);
    }
}
