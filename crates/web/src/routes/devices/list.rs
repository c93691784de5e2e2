//! `/devices`: the devices the person may see, filtered by enterprise and online state, 50 a
//! page.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use fenhe_app::devices::overview::{self, DeviceFilter, DeviceRow};
use fenhe_core::access::{Action, Scope, scope};
use fenhe_store::Store;
use serde::Deserialize;

use super::{Pager, bad_query, failure_page, online, q, today_start, when};
use crate::chrome::{Chrome, render};
use crate::error::AppError;
use crate::extract::Query;
use crate::i18n::Lang;
use crate::session::PageUser;
use crate::state::Live;

const PER_PAGE: usize = 50;

#[derive(Debug, Default, Deserialize)]
pub(super) struct ListParams {
    #[serde(default)]
    enterprise: Option<String>,
    /// `online`, `offline` or empty.
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    page: Option<usize>,
}

pub(super) struct Row {
    pub r: DeviceRow,
    pub last: String,
}

#[derive(Template)]
#[template(path = "devices.html")]
struct DevicesPage {
    page: Chrome,
    rows: Vec<Row>,
    total: usize,
    online_count: usize,
    city_wide: bool,
    enterprises: Vec<(String, String)>,
    enterprise: String,
    state: String,
    pager: Pager,
    inbox: bool,
}

pub(super) async fn page(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
    Query(params): Query<ListParams>,
) -> Result<Response, AppError> {
    let page = Chrome::signed_in(lang, &uri.to_string(), &user.actor, &user.csrf);
    let enterprise = params.enterprise.clone().filter(|e| !e.trim().is_empty());
    let state = params.state.clone().unwrap_or_default();
    let online_filter = match state.as_str() {
        "" => None,
        "online" => Some(true),
        "offline" => Some(false),
        other => {
            let what = format!("state={other:?}: {}", lang.t("devices.problem.unknown_choice"));
            return Ok(bad_query(page, what));
        }
    };
    let filter = DeviceFilter { enterprise: enterprise.clone(), online: online_filter };
    let now_online = online(&live);
    let rows = match overview::list(store.as_ref(), &user.actor, &filter, &now_online, today_start()).await {
        Ok(rows) => rows,
        Err(e) => return Ok(failure_page(page, e)),
    };
    let enterprises = match overview::enterprises(store.as_ref(), &user.actor).await {
        Ok(e) => e,
        Err(e) => return Ok(failure_page(page, e)),
    };
    let total = rows.len();
    let online_count = rows.iter().filter(|r| r.online).count();
    let number = params.page.unwrap_or(1).max(1);
    let enterprise = enterprise.unwrap_or_default();
    let href = |n: usize| format!("/devices?enterprise={}&state={}&page={n}", q(&enterprise), q(&state));
    let pager = Pager::new(number, PER_PAGE, total, href);
    let rows = rows
        .into_iter()
        .skip((number - 1).saturating_mul(PER_PAGE))
        .take(PER_PAGE)
        .map(|r| Row { last: r.last_frame_at.map(when).unwrap_or_default(), r })
        .collect();
    let city_wide = matches!(scope(&user.actor, Action::ViewEnvironment), Ok(Scope::All));
    let inbox = scope(&user.actor, Action::ViewInbox).is_ok();
    Ok(render(&DevicesPage {
        page,
        rows,
        total,
        online_count,
        city_wide,
        enterprises,
        enterprise,
        state,
        pager,
        inbox,
    })?
    .into_response())
}
