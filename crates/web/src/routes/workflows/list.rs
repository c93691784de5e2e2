//! `/{kind}`: the items of a kind the person may see, newest first, with filters (enterprise,
//! state, overdue, text) and pages; each row with its state badge and its deadline, a late one
//! in red.

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use fenhe_app::workflows::{self, ItemSummary, ListFilter, WorkflowError};
use fenhe_core::access::Denied;
use fenhe_core::china_time;
use serde::Deserialize;

use super::labels::{deadline_text, kind_label, state_label};
use super::view::state_class;
use super::{kind_of, may_create, options};
use crate::chrome::{Chrome, render_with};
use crate::error::AppError;
use crate::extract::Query;
use crate::i18n::Lang;
use crate::pager::{PER_PAGE, Pager};
use crate::routes::denied_page;
use crate::session::PageUser;
use crate::state::AppState;

/// The filters as typed.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ListQuery {
    #[serde(default)]
    enterprise: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    overdue: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: String,
}

/// A select's choice.
pub(super) struct Choice {
    value: String,
    label: String,
    selected: bool,
}

struct Row {
    href: String,
    id: i64,
    title: String,
    enterprise: String,
    state: String,
    state_class: &'static str,
    due: String,
    overdue: bool,
    updated: String,
}

fn row(kind: &str, s: &ItemSummary, lang: Lang) -> Row {
    Row {
        href: format!("/{kind}/{}", s.id),
        id: s.id,
        title: s.title.clone(),
        enterprise: s.enterprise_name.clone(),
        state: state_label(&s.state, lang),
        state_class: state_class(s.closed, s.overdue),
        due: s.due_at.map(deadline_text).unwrap_or_else(|| "—".into()),
        overdue: s.overdue,
        updated: china_time::minute_text(s.updated_at),
    }
}

#[derive(Template)]
#[template(path = "workflow_list.html")]
struct ListPage {
    page: Chrome,
    kind: &'static str,
    title: String,
    new_label: Option<&'static str>,
    tabs: Vec<(String, String, bool)>,
    enterprises: Vec<Choice>,
    states: Vec<Choice>,
    overdue: bool,
    q: String,
    bad_page: bool,
    rows: Vec<Row>,
    pager: Pager,
    filtered: bool,
}

pub(super) async fn page(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let chrome = Chrome::signed_in(lang, &uri.to_string(), &user.actor, &user.csrf);
    let Some(kind) = kind_of(&uri) else { return Ok(denied_page(chrome, Denied::NotFound)) };
    let store = state.store.as_ref();
    let page_text = q.page.trim();
    let (page, bad_page) = match page_text {
        "" => (1, false),
        p => match p.parse::<u32>() {
            Ok(n) if n >= 1 => (n, false),
            _ => (1, true),
        },
    };
    let overdue = matches!(q.overdue.trim(), "1" | "on" | "true");
    let blank = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
    let filter = ListFilter {
        enterprise: blank(&q.enterprise),
        department: None,
        state: blank(&q.state),
        overdue,
        text: blank(&q.q),
    };
    let now = china_time::now_ms();
    let list = match workflows::list(store, &user.actor, kind, &filter, page, PER_PAGE, now).await {
        Ok(l) => l,
        Err(WorkflowError::Denied(d)) => return Ok(denied_page(chrome, d)),
        Err(WorkflowError::Refused(r)) => return Err(crate::error::unprocessable(r.to_string())),
        Err(WorkflowError::Store(e)) => return Err(e.into()),
    };
    let opts = options(store, &user.actor, lang).await?;
    let codes: Vec<String> = opts.departments.iter().map(|(c, _)| c.clone()).collect();
    let machine = kind.machine();
    let pick = |v: &str, cur: &Option<String>| cur.as_deref() == Some(v);
    let enterprises = opts
        .enterprises
        .iter()
        .map(|(v, l)| Choice { value: v.clone(), label: l.clone(), selected: pick(v, &filter.enterprise) })
        .collect();
    let states = machine
        .states()
        .iter()
        .map(|s| Choice {
            value: s.to_string(),
            label: state_label(s, lang),
            selected: pick(s, &filter.state),
        })
        .collect();
    let query = [
        ("enterprise", q.enterprise.trim()),
        ("state", q.state.trim()),
        ("overdue", if overdue { "1" } else { "" }),
        ("q", q.q.trim()),
    ];
    let filtered = query.iter().any(|(_, v)| !v.is_empty());
    let pager = Pager::new(&format!("/{}", kind.name()), &query, list.page, list.total);
    let tabs = super::PAGE_KINDS
        .iter()
        .map(|k| (format!("/{}", k.name()), kind_label(*k, lang), *k == kind))
        .collect();
    let new_label = may_create(kind, &user.actor, &state.workflows, &codes)
        .then(|| lang.t(&format!("wf.new.{}", kind.name())));
    let view = ListPage {
        page: chrome,
        kind: kind.name(),
        title: kind_label(kind, lang),
        new_label,
        tabs,
        enterprises,
        states,
        overdue,
        q: q.q.trim().to_string(),
        bad_page,
        rows: list.items.iter().map(|s| row(kind.name(), s, lang)).collect(),
        pager,
        filtered,
    };
    let status = if bad_page { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    Ok(render_with(status, &view))
}
