//! `/outlets/{id}`: the 排口 time-series explorer. The page holds the outlet's facts, its latest
//! values, the period form (a GET form, so a view is a link) and the addresses of its series in
//! JSON (which `static/outlet-chart.js` draws, with the table beneath) and as CSV and XLSX: the
//! same resolution, period and factor as on screen.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fenhe_app::enterprise_views;
use fenhe_app::outlet_series::{self, Resolution, SeriesParams};
use fenhe_app::view_error::ViewError;
use fenhe_core::china_time;
use fenhe_store::Store;
use serde::Deserialize;

use crate::chrome::{Chrome, render};
use crate::error::AppError;
use crate::extract::{Path, Query};
use crate::i18n::Lang;
use crate::labels;
use crate::local_path;
use crate::routes::enterprises::{DeviceRow, OutletBlock, device_rows, outlet_block, page_error};
use crate::session::PageUser;
use crate::state::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/outlets/{id}", get(page))
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct SeriesQuery {
    pub resolution: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub factor: Option<String>,
}

struct Choice {
    value: String,
    label: String,
    selected: bool,
}

/// The chart's and table's texts, for the script (read from a data attribute).
#[derive(serde::Serialize)]
struct ChartLabels {
    lang: &'static str,
    measured: &'static str,
    converted: &'static str,
    limit: &'static str,
    limit_min: &'static str,
    exceedance: &'static str,
    invalid: &'static str,
    time: &'static str,
    flag: &'static str,
    validity: &'static str,
    valid: &'static str,
    min: &'static str,
    max: &'static str,
    device: &'static str,
    no_data: &'static str,
    loading: &'static str,
    failed: &'static str,
    prev: &'static str,
    next: &'static str,
    page: &'static str,
    rows: &'static str,
    flags: Vec<(&'static str, String)>,
    reasons: Vec<(&'static str, &'static str)>,
}

fn chart_labels(lang: Lang) -> ChartLabels {
    use fenhe_core::compliance::Invalidity as I;
    let reasons = [I::NoData, I::NoValidData, I::InsufficientCoverage, I::NotConvertible, I::NoOxygen]
        .into_iter()
        .map(|r| (r.name(), labels::invalidity(lang, r)))
        .collect();
    ChartLabels {
        lang: lang.code(),
        measured: lang.t("outlet.series.measured"),
        converted: lang.t("outlet.series.converted"),
        limit: lang.t("outlet.series.limit"),
        limit_min: lang.t("outlet.series.limit_min"),
        exceedance: lang.t("outlet.series.exceedance"),
        invalid: lang.t("outlet.series.invalid"),
        time: lang.t("outlet.series.time"),
        flag: lang.t("outlet.series.flag"),
        validity: lang.t("outlet.series.validity"),
        valid: lang.t("outlet.series.valid"),
        min: lang.t("outlet.series.min"),
        max: lang.t("outlet.series.max"),
        device: lang.t("ent.device.mn"),
        no_data: lang.t("outlet.series.no_data"),
        loading: lang.t("outlet.series.loading"),
        failed: lang.t("outlet.series.failed"),
        prev: lang.t("ent.pager.prev"),
        next: lang.t("ent.pager.next"),
        page: lang.t("ent.pager.page"),
        rows: lang.t("outlet.series.rows"),
        flags: ["N", "F", "M", "S", "D", "C", "T", "B"]
            .into_iter()
            .map(|f| (f, labels::flag(lang, f)))
            .collect(),
        reasons,
    }
}

#[derive(Template)]
#[template(path = "outlet.html")]
struct OutletPage {
    page: Chrome,
    outlet: OutletBlock,
    enterprise_id: String,
    enterprise_name: String,
    source_type: String,
    devices: Vec<DeviceRow>,
    resolutions: Vec<Choice>,
    factors: Vec<Choice>,
    from: String,
    to: String,
    /// Why the asked-for view cannot be shown (a bad period or factor), said in the form.
    problem: Option<String>,
    /// The series' JSON address, and the downloads'.
    series_url: Option<String>,
    labels_json: String,
    span_note: String,
}

/// An instant as a `datetime-local` input shows it (China time).
fn input_time(t: i64) -> String {
    china_time::minute_text(t).replacen(' ', "T", 1)
}

async fn page(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    Path(id): Path<String>,
    Query(q): Query<SeriesQuery>,
) -> Result<Response, AppError> {
    let here = uri.path_and_query().map_or(uri.path(), |p| p.as_str()).to_string();
    let chrome = Chrome::signed_in(lang, &here, &user.actor, &user.csrf);
    let now = china_time::now_ms();
    let (summary, all) = match enterprise_views::outlet_file(store.as_ref(), &user.actor, &id, now).await {
        Ok(f) => (f.summary, f.factors),
        Err(e) => return Ok(page_error(chrome, e)),
    };
    let params = SeriesParams {
        resolution: q.resolution.clone(),
        from: q.from.clone(),
        to: q.to.clone(),
        factor: q.factor.clone(),
    };
    let mut problem = None;
    let window = match outlet_series::window(&params, now) {
        Ok(w) => Some(w),
        Err(ViewError::BadRequest(m)) => {
            problem = Some(m);
            None
        }
        Err(e) => return Ok(page_error(chrome, e)),
    };
    let asked = q.factor.as_deref().map(str::trim).filter(|f| !f.is_empty());
    let factor = match asked {
        Some(f) if all.iter().any(|a| a == f) => Some(f.to_string()),
        Some(f) => {
            problem.get_or_insert(format!("{} {f}", lang.t("outlet.unknown_factor")));
            None
        }
        None => all.first().cloned(),
    };
    let resolution = window.map_or(Resolution::Hour, |w| w.resolution);
    let series_url = match (window, &factor) {
        (Some(w), Some(f)) if problem.is_none() => Some(format!(
            "/api/v1/outlets/{}/series?resolution={}&from={}&to={}&factor={}",
            local_path::encode(&id),
            w.resolution.name(),
            local_path::encode(&china_time::iso(w.from)),
            local_path::encode(&china_time::iso(w.to)),
            local_path::encode(f)
        )),
        _ => None,
    };
    let (from, to) = match window {
        Some(w) => (input_time(w.from), input_time(w.to)),
        None => (q.from.clone().unwrap_or_default(), q.to.clone().unwrap_or_default()),
    };
    let resolutions = Resolution::ALL
        .into_iter()
        .map(|r| Choice {
            value: r.name().into(),
            label: lang.t(&format!("outlet.resolution.{}", r.name())).into(),
            selected: r == resolution,
        })
        .collect();
    let factors = all
        .iter()
        .map(|f| Choice {
            value: f.clone(),
            label: format!("{} ({f})", labels::factor(lang, f)),
            selected: factor.as_deref() == Some(f.as_str()),
        })
        .collect();
    let span_note = Resolution::ALL
        .into_iter()
        .map(|r| {
            format!(
                "{} ≤ {} {}",
                lang.t(&format!("outlet.resolution.{}", r.name())),
                r.max_span_days(),
                lang.t("outlet.days")
            )
        })
        .collect::<Vec<_>>()
        .join(" · ");
    let page = OutletPage {
        page: chrome,
        enterprise_id: summary.outlet.enterprise.clone(),
        enterprise_name: summary.enterprise_name.clone(),
        source_type: summary.outlet.source_type.clone(),
        outlet: outlet_block(lang, &summary),
        devices: device_rows(&summary.devices),
        resolutions,
        factors,
        from,
        to,
        problem,
        series_url,
        labels_json: serde_json::to_string(&chart_labels(lang)).map_err(crate::error::internal)?,
        span_note,
    };
    Ok(render(&page)?.into_response())
}
