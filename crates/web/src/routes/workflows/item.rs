//! `/{kind}/{id}`: an item with its facts, deadline, timeline and a form per action the person
//! may take now; `POST /{kind}/{id}/actions` applies one (and `/alarms/{id}/actions` an alarm's
//! review action). A taken action sends the browser back to the item's page; a refused one
//! shows the page again with the refusal's status (409 nothing changed, 403, 422 with each
//! problem beside its field) and what was typed.

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use fenhe_app::workflows::{self, WorkflowError};
use fenhe_core::access::{Actor, Denied};
use fenhe_core::china_time;
use fenhe_core::workflow::{Kind, Refusal};

use super::labels::kind_label;
use super::submission::Submission;
use super::view::{ItemSection, Refused, section};
use super::{kind_of, options, refusal_message};
use crate::chrome::{Chrome, render_with};
use crate::error::AppError;
use crate::extract::Path;
use crate::i18n::Lang;
use crate::routes::denied_page;
use crate::session::PageUser;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "workflow_item.html")]
struct ItemPage {
    page: Chrome,
    list_href: String,
    list_title: String,
    wf: ItemSection,
}

/// The section of item `id` of `kind` for `actor`, or why not (`Err(Ok(denied))` for a page that
/// may not be shown).
async fn load(
    state: &AppState,
    actor: &Actor,
    kind: Kind,
    id: i64,
    refused: Option<Refused>,
    lang: Lang,
) -> Result<Result<ItemSection, Denied>, AppError> {
    let store = state.store.as_ref();
    let now = china_time::now_ms();
    match workflows::get(store, &state.workflows, actor, kind, id, now).await {
        Ok(view) => {
            let opts = options(store, actor, lang).await?;
            Ok(Ok(section(&view, &opts, refused, lang)))
        }
        Err(WorkflowError::Denied(d)) => Ok(Err(d)),
        // Reading an item refuses nothing; a refusal here is a fault of ours.
        Err(WorkflowError::Refused(r)) => Err(crate::error::internal(std::io::Error::other(r.to_string()))),
        Err(WorkflowError::Store(e)) => Err(e.into()),
    }
}

/// The review section of alarm `id` for the alarm's page; `None` when the person may not see it.
pub(crate) async fn alarm_review(
    state: &AppState,
    actor: &Actor,
    id: i64,
    refused: Option<Refused>,
    lang: Lang,
) -> Result<Option<ItemSection>, AppError> {
    Ok(load(state, actor, Kind::Alarms, id, refused, lang).await?.ok())
}

async fn render_item(
    state: &AppState,
    chrome: Chrome,
    actor: &Actor,
    kind: Kind,
    id: i64,
    refused: Option<Refused>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let lang = chrome.lang;
    match load(state, actor, kind, id, refused, lang).await? {
        Ok(wf) => {
            let view = ItemPage {
                page: chrome,
                list_href: format!("/{}", kind.name()),
                list_title: kind_label(kind, lang),
                wf,
            };
            Ok(render_with(status, &view))
        }
        Err(d) => Ok(denied_page(chrome, d)),
    }
}

pub(super) async fn page(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let chrome = Chrome::signed_in(lang, uri.path(), &user.actor, &user.csrf);
    // An id that is not a number names no item: the same 404 as any other missing one.
    let (Some(kind), Ok(id)) = (kind_of(&uri), id.parse::<i64>()) else {
        return Ok(denied_page(chrome, Denied::NotFound));
    };
    render_item(&state, chrome, &user.actor, kind, id, None, StatusCode::OK).await
}

/// What a posted action came to: applied, or refused with its status and what to show.
enum Posted {
    Applied,
    Refused(StatusCode, Refused),
    Denied(Denied),
}

/// Apply the action posted in `s` to item `id` of `kind`.
async fn post_action(state: &AppState, s: Submission, kind: Kind, id: i64) -> Result<Posted, AppError> {
    let Submission { user, lang, action, fields, files } = s;
    let action = action.unwrap_or_default();
    let now = china_time::now_ms();
    let store = state.store.as_ref();
    let result =
        workflows::act(store, &state.workflows, &user.actor, kind, id, &action, &fields, files, now).await;
    match result {
        Ok(_) => Ok(Posted::Applied),
        Err(WorkflowError::Refused(r)) => {
            let status = StatusCode::from_u16(r.status()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            let message = refusal_message(&r, lang);
            let problems = match r {
                Refusal::Invalid(p) => p,
                _ => Vec::new(),
            };
            Ok(Posted::Refused(status, Refused { action, message, typed: fields, problems }))
        }
        Err(WorkflowError::Denied(d)) => Ok(Posted::Denied(d)),
        Err(WorkflowError::Store(e)) => Err(e.into()),
    }
}

pub(super) async fn act(
    uri: Uri,
    State(state): State<AppState>,
    Path(id): Path<String>,
    s: Submission,
) -> Result<Response, AppError> {
    let item_path = uri.path().trim_end_matches("/actions").to_string();
    let actor = s.user.actor.clone();
    let chrome = Chrome::signed_in(s.lang, &item_path, &actor, &s.user.csrf);
    let (Some(kind), Ok(id)) = (kind_of(&uri), id.parse::<i64>()) else {
        return Ok(denied_page(chrome, Denied::NotFound));
    };
    match post_action(&state, s, kind, id).await? {
        Posted::Applied => Ok(Redirect::to(&item_path).into_response()),
        Posted::Denied(d) => Ok(denied_page(chrome, d)),
        Posted::Refused(status, refused) if kind == Kind::Alarms => {
            crate::routes::alarms::render_detail(&state, chrome, &actor, id, Some(refused), status).await
        }
        Posted::Refused(status, refused) => {
            render_item(&state, chrome, &actor, kind, id, Some(refused), status).await
        }
    }
}
