//! The supervision pages (督办整改), one set for every kind of tracked item, keyed by
//! [`Kind`]: `/{kind}` the list with its filters, `/{kind}/new` the creation form built from the
//! machine's creation fields, `/{kind}/{id}` an item with its timeline and a form per allowed
//! action (posted to `/{kind}/{id}/actions`), and `/files/{sha256}` an attachment. An alarm's
//! review is shown and acted on from the alarm's own page (`/alarms/{id}`), through the same
//! section and the same action route. What is shown and allowed comes from
//! `fenhe_app::workflows`, which applies the access policy and the machines' rules.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Uri;
use axum::routing::{get, post};
use fenhe_app::workflows::WorkflowSettings;
use fenhe_core::access::{Action, Actor, scope};
use fenhe_core::workflow::{Context, Kind, Refusal};
use fenhe_store::Store;

use crate::error::AppError;
use crate::i18n::Lang;
use crate::state::AppState;

mod files;
pub(crate) mod form;
mod item;
pub(crate) mod labels;
mod list;
mod new;
pub(crate) mod submission;
pub(crate) mod summary;
pub(crate) mod view;

pub(crate) use item::alarm_review;

/// The kinds with pages of their own (alarm reviews live on the alarm's page).
pub(crate) const PAGE_KINDS: [Kind; 3] = [Kind::Tasks, Kind::Hazards, Kind::Retrofits];

pub(crate) fn routes() -> Router<AppState> {
    let mut r = Router::new().route("/files/{sha256}", get(files::file));
    for kind in PAGE_KINDS {
        let base = format!("/{}", kind.name());
        r = r
            .route(&base, get(list::page))
            .route(&format!("{base}/new"), get(new::page).post(new::submit))
            .route(&format!("{base}/{{id}}"), get(item::page))
            .route(&format!("{base}/{{id}}/actions"), post(item::act));
    }
    r.route("/alarms/{id}/actions", post(item::act)).layer(DefaultBodyLimit::max(submission::BODY_LIMIT))
}

/// The kind a page's address names (its first segment).
pub(crate) fn kind_of(uri: &Uri) -> Option<Kind> {
    uri.path().trim_start_matches('/').split('/').next().and_then(Kind::parse)
}

/// The selects' options for `actor`: the configured departments and the enterprises in scope.
pub(crate) async fn options(store: &dyn Store, actor: &Actor, lang: Lang) -> Result<form::Options, AppError> {
    let departments = store
        .departments()
        .await?
        .into_iter()
        .map(|d| {
            let name = if lang.is_english() { d.name_en } else { d.name_zh };
            (d.code, name)
        })
        .collect();
    let registry = store.registry().await?;
    let seen = scope(actor, Action::ViewProfile).ok();
    let enterprises = registry
        .enterprises
        .iter()
        .filter(|e| seen.as_ref().is_some_and(|s| s.includes(&e.id)))
        .map(|e| (e.id.clone(), format!("{} {}", e.id, e.name)))
        .collect();
    Ok(form::Options { departments, enterprises })
}

/// Whether `actor` may create items of `kind` at all: the machine's own answer to an empty form
/// (a role that may not is refused before any field is looked at).
pub(crate) fn may_create(
    kind: Kind,
    actor: &Actor,
    settings: &WorkflowSettings,
    departments: &[String],
) -> bool {
    let m = kind.machine();
    if m.creation_fields().is_empty() {
        return false;
    }
    let ctx = Context::new(&settings.calendar, departments);
    let now = fenhe_core::china_time::now_ms();
    !matches!(m.create(actor, now, &Default::default(), &ctx), Err(Refusal::RoleMayNot { .. }))
}

/// A refusal's message in the page language (a field problem is shown beside its field).
pub(crate) fn refusal_message(r: &Refusal, lang: Lang) -> String {
    let key = match r {
        Refusal::NotInState { .. } => "wf.refused.state",
        Refusal::RoleMayNot { .. } => "wf.refused.role",
        Refusal::UnknownAction { .. } => "wf.refused.unknown",
        Refusal::Invalid(_) => "wf.form.errors",
        // What is missing is the machine's to say.
        Refusal::Unmet { .. } => return r.describe(lang.is_english()),
    };
    lang.t(key).to_string()
}
