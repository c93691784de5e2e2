//! `/devices/inbox`: frames from senders the registry does not know (or with a wrong password),
//! 50 a page, each unknown MN with "register this device"; and
//! `/devices/inbox/{mn}/register`: the registration form prefilled from what the sender sent,
//! validated and audited by `fenhe_app::devices::inbox::register`.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use fenhe_app::audit::Caller;
use fenhe_app::devices::DeviceError;
use fenhe_app::devices::inbox::{self, InboxItem, Registration};
use fenhe_core::access::{Action, scope};
use fenhe_store::Store;
use serde::Deserialize;

use super::{Pager, explain_lang, failure_page, problem_text, q, verdict_label, when};
use crate::chrome::{Chrome, render, render_with};
use crate::csrf::CsrfForm;
use crate::error::AppError;
use crate::extract::{Path, Query};
use crate::i18n::Lang;
use crate::peer::Peer;
use crate::session::PageUser;

const PER_PAGE: usize = 50;

#[derive(Debug, Default, Deserialize)]
pub(super) struct InboxParams {
    #[serde(default)]
    page: Option<usize>,
    /// Set after a device was registered from here.
    #[serde(default)]
    registered: Option<String>,
}

pub(super) struct InboxLine {
    pub i: InboxItem,
    pub verdict: &'static str,
    pub first: String,
    pub last: String,
}

#[derive(Template)]
#[template(path = "inbox.html")]
struct InboxPage {
    page: Chrome,
    rows: Vec<InboxLine>,
    total: usize,
    pager: Pager,
    may_register: bool,
    registered: Option<String>,
}

pub(super) async fn page(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    Query(params): Query<InboxParams>,
) -> Result<Response, AppError> {
    let page = Chrome::signed_in(lang, &uri.to_string(), &user.actor, &user.csrf);
    let number = params.page.unwrap_or(1).max(1);
    let offset = (number - 1).saturating_mul(PER_PAGE) as u64;
    // The store pages the inbox: a page costs its 50 rows, however many senders are in it.
    let found = match inbox::inbox(store.as_ref(), &user.actor, PER_PAGE as u32, offset).await {
        Ok(i) => i,
        Err(e) => return Ok(failure_page(page, e)),
    };
    let total = usize::try_from(found.total).unwrap_or(usize::MAX);
    let pager = Pager::new(number, PER_PAGE, total, |n| format!("/devices/inbox?page={n}"));
    let rows = found
        .items
        .into_iter()
        .map(|i| InboxLine {
            verdict: verdict_label(lang, i.verdict.name()),
            first: when(i.first_seen),
            last: when(i.last_seen),
            i,
        })
        .collect();
    let may_register = scope(&user.actor, Action::ManageDevices).is_ok();
    Ok(render(&InboxPage { page, rows, total, pager, may_register, registered: params.registered })?
        .into_response())
}

#[derive(Template)]
#[template(path = "inbox_register.html")]
struct RegisterPage {
    page: Chrome,
    form: Registration,
    factors: Vec<String>,
    frames_seen: u64,
    explanation: String,
    /// (id, label) of every outlet.
    outlets: Vec<(String, String)>,
    problems: Vec<String>,
    /// Fields with a problem, for their inputs' `aria-invalid`.
    bad: Vec<&'static str>,
}

impl RegisterPage {
    fn invalid(&self, field: &str) -> bool {
        self.bad.contains(&field)
    }
}

async fn outlets(store: &dyn Store) -> Result<Vec<(String, String)>, AppError> {
    let reg = store.registry().await?;
    Ok(reg
        .outlets
        .iter()
        .map(|o| {
            let e = reg.enterprise(&o.enterprise).map(|e| e.name.as_str()).unwrap_or("");
            (o.id.clone(), format!("{} · {} {}", o.id, e, o.name))
        })
        .collect())
}

pub(super) async fn form(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    Path(mn): Path<String>,
) -> Result<Response, AppError> {
    let page = Chrome::signed_in(lang, uri.path(), &user.actor, &user.csrf);
    let draft = match inbox::draft(store.as_ref(), &user.actor, &mn, explain_lang(lang)).await {
        Ok(d) => d,
        Err(e) => return Ok(failure_page(page, e)),
    };
    let outlets = outlets(store.as_ref()).await?;
    Ok(render(&RegisterPage {
        page,
        form: draft.form,
        factors: draft.factors,
        frames_seen: draft.frames_seen,
        explanation: draft.explanation,
        outlets,
        problems: Vec::new(),
        bad: Vec::new(),
    })?
    .into_response())
}

pub(super) async fn submit(
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    Path(mn): Path<String>,
    f: CsrfForm<Registration>,
) -> Result<Response, AppError> {
    let CsrfForm { user, lang, mut form } = f;
    // The address names the sender; the form cannot register another.
    form.mn = mn.clone();
    let path = format!("/devices/inbox/{}/register", q(&mn));
    let page = Chrome::signed_in(lang, &path, &user.actor, &user.csrf);
    let caller = Caller::new(user.actor.clone(), peer, fenhe_core::china_time::now_ms());
    match inbox::register(store.as_ref(), &caller, &form).await {
        Ok(view) => Ok(Redirect::to(&format!("/devices/{}?registered=1", q(&view.mn))).into_response()),
        Err(DeviceError::Invalid(problems)) => {
            // What the sender sent, beside the form again; a sender no longer in the inbox has none.
            let draft = inbox::draft(store.as_ref(), &user.actor, &mn, explain_lang(lang)).await.ok();
            let (factors, frames_seen, explanation) =
                draft.map(|d| (d.factors, d.frames_seen, d.explanation)).unwrap_or_default();
            let page = RegisterPage {
                page,
                form,
                factors,
                frames_seen,
                explanation,
                outlets: outlets(store.as_ref()).await?,
                problems: problems.iter().map(|p| problem_text(lang, p)).collect(),
                bad: problems.iter().map(|p| p.field).collect(),
            };
            Ok(render_with(StatusCode::UNPROCESSABLE_ENTITY, &page))
        }
        Err(e) => Ok(failure_page(page, e)),
    }
}
