//! `/enterprises` and `/enterprises/{id}` (一企一档): the list of the enterprises the person may
//! see with their state now, filtered and paginated, and one enterprise's file. What they show
//! comes from `fenhe_app::enterprise_views`, which applies the access policy; a refusal is
//! answered by [`denied_page`] (404 for another enterprise, exactly as for a missing id).

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fenhe_app::enterprise_views::{self, EnterpriseFile, EnterpriseFilter, LatestValue, OutletSummary};
use fenhe_app::view_error::ViewError;
use fenhe_core::china_time;
use fenhe_store::Store;
use serde::Deserialize;

use crate::chrome::{Chrome, render};
use crate::error::{AppError, bad_request, internal};
use crate::extract::{Path, Query};
use crate::i18n::Lang;
use crate::labels;
use crate::local_path;
use crate::routes::denied_page;
use crate::routes::workflows::summary::{KindBlock, enterprise_blocks};
use crate::session::PageUser;
use crate::state::AppState;

/// Rows a page of the list shows.
const PER_PAGE: usize = 20;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/enterprises", get(list)).route("/enterprises/{id}", get(file))
}

/// A refusal or failure of a page's query: the policy's answers as pages, a bad parameter as a
/// 400, the store's failure as ours.
pub(crate) fn page_error(page: Chrome, e: ViewError) -> Response {
    match e {
        ViewError::Denied(d) => denied_page(page, d),
        ViewError::BadRequest(m) => bad_request(m).into_response(),
        ViewError::Store(e) => internal(e).into_response(),
    }
}

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    industry: Option<String>,
    category: Option<String>,
    q: Option<String>,
    page: Option<String>,
}

/// A choice of a filter's select.
struct Choice {
    value: String,
    label: String,
    selected: bool,
}

struct Row {
    id: String,
    name: String,
    industry: String,
    category: String,
    outlets: usize,
    state: Option<(&'static str, &'static str)>,
}

#[derive(Template)]
#[template(path = "enterprises.html")]
struct ListPage {
    page: Chrome,
    industries: Vec<Choice>,
    categories: Vec<Choice>,
    search: String,
    filtered: bool,
    rows: Vec<Row>,
    total: usize,
    page_no: usize,
    pages: usize,
    prev: Option<String>,
    next: Option<String>,
    with_state: bool,
}

/// `/enterprises?…&page=n`, keeping the filters.
fn page_href(q: &ListQuery, n: usize) -> String {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for (k, v) in [("industry", &q.industry), ("category", &q.category), ("q", &q.q)] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            pairs.push((k, v));
        }
    }
    let n = n.to_string();
    pairs.push(("page", &n));
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", local_path::encode(v))).collect();
    format!("/enterprises?{}", query.join("&"))
}

async fn list(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let here = uri.path_and_query().map_or("/enterprises", |p| p.as_str());
    let chrome = Chrome::signed_in(lang, here, &user.actor, &user.csrf);
    let filter =
        EnterpriseFilter { industry: q.industry.clone(), category: q.category.clone(), search: q.q.clone() };
    let list =
        match enterprise_views::list_enterprises(store.as_ref(), &user.actor, &filter, china_time::now_ms())
            .await
        {
            Ok(l) => l,
            Err(e) => return Ok(page_error(chrome, e)),
        };
    // A page number that is not one shows the first page rather than an error: it comes from a
    // link or a hand-edited address, and the list is still what was asked for.
    let total = list.items.len();
    let pages = total.div_ceil(PER_PAGE).max(1);
    let page_no = q.page.as_deref().and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).clamp(1, pages);
    let with_state = list.items.iter().any(|i| i.state.is_some());
    let rows = list
        .items
        .into_iter()
        .skip((page_no - 1) * PER_PAGE)
        .take(PER_PAGE)
        .map(|e| Row {
            industry: labels::industry(lang, &e.industry),
            category: e.category.as_deref().map(|c| labels::category(lang, c)).unwrap_or_default(),
            state: e.state.map(|s| (labels::state(lang, s), labels::state_class(s))),
            outlets: e.outlets,
            id: e.id,
            name: e.name,
        })
        .collect();
    let choice = |v: &String, label: String, current: &Option<String>| Choice {
        value: v.clone(),
        label,
        selected: current.as_deref() == Some(v.as_str()),
    };
    let industries =
        list.industries.iter().map(|i| choice(i, labels::industry(lang, i), &q.industry)).collect();
    let categories =
        list.categories.iter().map(|c| choice(c, labels::category(lang, c), &q.category)).collect();
    let filtered =
        [&q.industry, &q.category, &q.q].iter().any(|v| v.as_deref().is_some_and(|v| !v.is_empty()));
    let page = ListPage {
        page: chrome,
        industries,
        categories,
        search: q.q.clone().unwrap_or_default(),
        filtered,
        rows,
        total,
        page_no,
        pages,
        prev: (page_no > 1).then(|| page_href(&q, page_no - 1)),
        next: (page_no < pages).then(|| page_href(&q, page_no + 1)),
        with_state,
    };
    Ok(render(&page)?.into_response())
}

/// A latest value as a table row.
pub(crate) struct LatestRow {
    pub factor: String,
    pub code: String,
    pub unit: &'static str,
    pub hour: String,
    pub value: String,
    pub converted: String,
    pub limit: String,
    /// Status text and its CSS class.
    pub status: (String, &'static str),
}

pub(crate) fn latest_rows(lang: Lang, latest: &[LatestValue]) -> Vec<LatestRow> {
    latest
        .iter()
        .map(|v| {
            let limit = match (v.limit_min, v.limit) {
                (Some(lo), Some(hi)) => format!("{}–{}", labels::num(Some(lo)), labels::num(Some(hi))),
                (None, Some(hi)) => format!("≤ {}", labels::num(Some(hi))),
                (Some(lo), None) => format!("≥ {}", labels::num(Some(lo))),
                (None, None) => "—".into(),
            };
            let status = if v.exceeds {
                (lang.t("ent.value.exceeds").to_string(), "state-bad")
            } else if !v.valid {
                let why = v.reason.map(|r| labels::invalidity(lang, r)).unwrap_or("");
                (format!("{} {why}", lang.t("ent.value.invalid")), "state-none")
            } else if v.limit.is_some() || v.limit_min.is_some() {
                (lang.t("ent.value.within").to_string(), "state-ok")
            } else {
                (lang.t("ent.value.no_limit").to_string(), "state-none")
            };
            LatestRow {
                factor: labels::factor(lang, &v.factor),
                code: v.factor.clone(),
                unit: labels::unit(lang, &v.factor),
                hour: china_time::minute_text(v.hour),
                value: labels::num(v.mean),
                converted: labels::num(v.converted),
                limit,
                status,
            }
        })
        .collect()
}

pub(crate) struct OutletBlock {
    pub id: String,
    pub name: String,
    pub kind: &'static str,
    pub standard: String,
    pub reference_o2: Option<String>,
    pub state: (&'static str, &'static str),
    pub latest: Vec<LatestRow>,
}

pub(crate) fn outlet_block(lang: Lang, o: &OutletSummary) -> OutletBlock {
    OutletBlock {
        id: o.outlet.id.clone(),
        name: o.outlet.name.clone(),
        kind: lang.t(match o.outlet.kind {
            fenhe_core::OutletKind::FlueGas => "ent.kind.flue_gas",
            fenhe_core::OutletKind::Wastewater => "ent.kind.wastewater",
        }),
        standard: o.outlet.standard.clone(),
        reference_o2: o.outlet.reference_o2.map(|r| format!("{} %", labels::num(Some(r)))),
        state: (labels::state(lang, o.state), labels::state_class(o.state)),
        latest: latest_rows(lang, &o.latest),
    }
}

pub(crate) struct DeviceRow {
    pub mn: String,
    pub outlet: String,
    pub protocol: &'static str,
    pub interval: u32,
    pub last_data: String,
    pub last_frame: String,
    pub online: bool,
}

pub(crate) fn device_rows(devices: &[enterprise_views::DeviceState]) -> Vec<DeviceRow> {
    let text = |t: Option<i64>| t.map(china_time::seconds_text).unwrap_or_else(|| "—".into());
    devices
        .iter()
        .map(|d| DeviceRow {
            mn: d.mn.clone(),
            outlet: d.outlet.clone(),
            protocol: d.protocol,
            interval: d.minute_interval_min,
            last_data: text(d.last_data_at),
            last_frame: text(d.last_frame_at),
            online: d.online,
        })
        .collect()
}

struct EmissionRow {
    factor: String,
    kg: String,
    permitted: String,
    share: String,
    /// The share's CSS class: within, near (≥ 80 %), over (≥ 100 %).
    class: &'static str,
}

struct AlarmRow {
    kind: String,
    severity: &'static str,
    title: String,
    outlet: String,
    start: String,
    end: String,
}

struct Environment {
    state: (&'static str, &'static str),
    outlets: Vec<OutletBlock>,
    year: i16,
    emissions: Vec<EmissionRow>,
    alarms: Vec<AlarmRow>,
    devices: Vec<DeviceRow>,
    online: usize,
}

#[derive(Template)]
#[template(path = "enterprise.html")]
struct FilePage {
    page: Chrome,
    id: String,
    name: String,
    uscc: String,
    ownership: String,
    industry: String,
    category: String,
    address: String,
    location: Option<String>,
    contacts: Vec<(String, String, String)>,
    env: Option<Environment>,
    /// Its alarms awaiting explanation, open tasks, hazards and retrofits.
    wf: Vec<KindBlock>,
}

fn environment(lang: Lang, f: &EnterpriseFile) -> Option<Environment> {
    let env = f.environment.as_ref()?;
    let emissions = env
        .emissions
        .iter()
        .map(|e| EmissionRow {
            factor: labels::factor(lang, &e.factor),
            kg: labels::num(Some((e.kg * 10.0).round() / 10.0)),
            permitted: labels::num(e.permitted_kg),
            share: e.share.map(|s| format!("{:.1} %", s * 100.0)).unwrap_or_else(|| "—".into()),
            class: match e.share {
                Some(s) if s >= 1.0 => "state-bad",
                Some(s) if s >= 0.8 => "state-warn",
                Some(_) => "state-ok",
                None => "state-none",
            },
        })
        .collect();
    let alarms = env
        .alarms
        .iter()
        .map(|a| AlarmRow {
            kind: crate::alarm_labels::kind_label(&a.draft.kind, lang),
            severity: crate::alarm_labels::severity_label(a.draft.severity, lang),
            title: if lang.is_english() { a.draft.title_en.clone() } else { a.draft.title_zh.clone() },
            outlet: a.draft.outlet.clone(),
            start: china_time::minute_text(a.draft.start),
            end: china_time::minute_text(a.draft.end),
        })
        .collect();
    Some(Environment {
        state: (labels::state(lang, env.state), labels::state_class(env.state)),
        outlets: env.outlets.iter().map(|o| outlet_block(lang, o)).collect(),
        year: china_time::date_of(env.year_start).year(),
        emissions,
        alarms,
        online: env.devices.iter().filter(|d| d.online).count(),
        devices: device_rows(&env.devices),
    })
}

async fn file(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let chrome = Chrome::signed_in(lang, uri.path(), &user.actor, &user.csrf);
    let f = match enterprise_views::enterprise_file(store.as_ref(), &user.actor, &id, china_time::now_ms())
        .await
    {
        Ok(f) => f,
        Err(e) => return Ok(page_error(chrome, e)),
    };
    let e = &f.enterprise;
    let ownership = lang.t(&format!("ownership.{}", e.ownership.name())).to_string();
    let wf = enterprise_blocks(&state, &user.actor, &e.id, lang).await?;
    let page = FilePage {
        wf,
        env: environment(lang, &f),
        page: chrome,
        id: e.id.clone(),
        name: e.name.clone(),
        uscc: e.uscc.clone(),
        ownership,
        industry: labels::industry(lang, &e.industry),
        category: e.category.as_deref().map(|c| labels::category(lang, c)).unwrap_or_else(|| "—".into()),
        address: e.address.clone(),
        location: e.longitude.zip(e.latitude).map(|(lon, lat)| format!("{lon:.4}, {lat:.4}")),
        contacts: e.contacts.iter().map(|c| (c.name.clone(), c.role.clone(), c.phone.clone())).collect(),
    };
    Ok(render(&page)?.into_response())
}
