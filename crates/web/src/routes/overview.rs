//! `/`: the overview — for now what exists: devices online of those registered, frames since the
//! process started, open alarms by kind. City-wide for the roles that see the city, the own
//! enterprise's for an enterprise user, and a plain note for a role with no data page yet. The
//! map, rates and trends of issue 14 come with the pages that compute them.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Html;
use axum::routing::get;
use fenhe_core::access::{Action, Scope, scope};
use fenhe_core::alarm::AlarmStatus;
use fenhe_store::{AlarmQuery, Store};

use crate::alarm_labels::kind_label;
use crate::chrome::{Chrome, render};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::session::PageUser;
use crate::state::{AppState, Live};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/", get(page))
}

/// The figures of the overview, within the actor's scope.
struct Figures {
    city_wide: bool,
    devices_online: usize,
    devices_total: usize,
    /// The live counters are the whole gateway's: shown only city-wide.
    frames_since_start: Option<u64>,
    open_alarms: usize,
    /// Kind label and count, most frequent first.
    alarms_by_kind: Vec<(String, usize)>,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    page: Chrome,
    figures: Option<Figures>,
}

async fn figures(store: &dyn Store, live: &Live, scope: &Scope, lang: Lang) -> Result<Figures, AppError> {
    let registry = store.registry().await?;
    let in_scope = |outlet: &str| registry.outlet(outlet).is_some_and(|o| scope.includes(&o.enterprise));
    let devices: HashSet<&str> =
        registry.devices.iter().filter(|d| in_scope(&d.outlet)).map(|d| d.mn.as_str()).collect();
    let snapshot = live.0.snapshot();
    let devices_online = snapshot.devices_online.iter().filter(|d| devices.contains(d.mn.as_str())).count();
    let q = AlarmQuery { status: Some(AlarmStatus::Open), ..Default::default() };
    let open: Vec<_> = store.alarms(&q).await?.into_iter().filter(|a| in_scope(&a.draft.outlet)).collect();
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for a in &open {
        *by_kind.entry(a.draft.kind.as_str()).or_default() += 1;
    }
    let mut alarms_by_kind: Vec<(String, usize)> =
        by_kind.into_iter().map(|(k, n)| (kind_label(k, lang), n)).collect();
    alarms_by_kind.sort_by_key(|k| std::cmp::Reverse(k.1));
    let city_wide = *scope == Scope::All;
    Ok(Figures {
        city_wide,
        devices_online,
        devices_total: devices.len(),
        frames_since_start: city_wide.then(|| snapshot.frames_by_verdict.iter().map(|(_, n)| n).sum()),
        open_alarms: open.len(),
        alarms_by_kind,
    })
}

async fn page(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
) -> Result<Html<String>, AppError> {
    let chrome = Chrome::signed_in(lang, uri.path(), &user.actor, &user.csrf);
    // The overview shows environmental figures: a role that may not see any (a department
    // officer, until the workflow pages) gets the frame and a note instead of an error.
    let figures = match scope(&user.actor, Action::ViewEnvironment) {
        Ok(s) => Some(figures(store.as_ref(), &live, &s, lang).await?),
        Err(_) => None,
    };
    render(&OverviewPage { page: chrome, figures })
}
