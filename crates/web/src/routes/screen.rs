//! `/screen`: 大屏, the overview for a wall display in a supervision centre — full screen, dark,
//! large type, no navigation; it rotates through the enterprises every `?rotate=` seconds
//! (default 10) and refreshes itself (live events, and a fresh fetch every minute). The city's
//! roles only (`Action::ViewCity`): an enterprise user or a department officer gets 403.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fenhe_core::access::{Action, Target, authorize};
use fenhe_store::Store;
use serde::Deserialize;

use crate::chrome::{Chrome, render};
use crate::error::{AppError, bad_request};
use crate::extract::Query;
use crate::i18n::Lang;
use crate::overview_cache::OverviewCache;
use crate::overview_view;
use crate::routes::denied_page;
use crate::routes::overview::{Figures, figures, labels};
use crate::session::PageUser;
use crate::state::{AppState, Live};

/// Seconds an enterprise stays on the screen when none is asked for, and the bounds asked for.
const ROTATE_DEFAULT: u32 = 10;
const ROTATE_MIN: u32 = 3;
const ROTATE_MAX: u32 = 300;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/screen", get(page))
}

#[derive(Debug, Deserialize)]
struct ScreenParams {
    rotate: Option<u32>,
}

#[derive(Template)]
#[template(path = "screen.html")]
struct ScreenPage {
    page: Chrome,
    f: Figures,
    labels_json: String,
    rotate: u32,
}

async fn page(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    Query(params): Query<ScreenParams>,
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
    State(cache): State<Arc<OverviewCache>>,
) -> Result<Response, AppError> {
    let chrome = Chrome::signed_in(lang, uri.path(), &user.actor, &user.csrf);
    if let Err(d) = authorize(&user.actor, Action::ViewCity, Target::City) {
        return Ok(denied_page(chrome, d));
    }
    let rotate = params.rotate.unwrap_or(ROTATE_DEFAULT);
    if !(ROTATE_MIN..=ROTATE_MAX).contains(&rotate) {
        return Err(bad_request(format!(
            "rotate={rotate}: the seconds an enterprise stays on screen must be between {ROTATE_MIN} and {ROTATE_MAX}"
        )));
    }
    let o = match overview_view::load(store.as_ref(), &live, &cache, &user.actor).await? {
        Ok(o) => o,
        Err(d) => return Ok(denied_page(chrome, d)),
    };
    let page = ScreenPage { page: chrome, f: figures(o, lang)?, labels_json: labels(lang)?, rotate };
    Ok(render(&page)?.into_response())
}
