//! `/api/v1/rates`: the rates of 数据质量 — by outlet, enterprise, industry or city, per day or
//! month — as JSON, or with `format=csv|xlsx` the table the page shows, in the caller's language
//! (`lang` cookie or `?lang=`). Under the same policy as the page (`fenhe_app::quality_views`):
//! an enterprise user's figures are summed from their own devices only.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use fenhe_app::alarm_views::ViewError;
use fenhe_app::quality_views;
use fenhe_core::china_time;
use fenhe_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{AppError, ErrorBody, bad_request, internal};
use crate::extract::{Json, Query};
use crate::i18n::Lang;
use crate::rate_table::{self, RateParams};
use crate::routes::denied_api;
use crate::session::ApiUser;
use crate::state::AppState;
use crate::table_export;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(rates))
}

/// `?format=`: `json` (default), `csv` or `xlsx`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatParam {
    /// `json` (default), `csv` (UTF-8 with BOM) or `xlsx`.
    pub format: Option<String>,
}

/// One group's rates over one period.
#[derive(Debug, Serialize, ToSchema)]
pub struct RateItem {
    /// `outlet`, `enterprise`, `industry` or `city`.
    pub scope: &'static str,
    /// Outlet id, enterprise id, industry code or `city`.
    pub key: String,
    /// The registry's name of an outlet or enterprise.
    pub name: Option<String>,
    /// `day` or `month`.
    pub period: &'static str,
    /// The period's start (RFC 3339, China time).
    pub start: String,
    pub devices: u32,
    /// Hours with any data / hours of the period up to now (summed over the devices), 0–1;
    /// none for a period not yet begun.
    pub online: Option<f64>,
    pub online_hours: u64,
    pub period_hours: u64,
    pub expected: u64,
    pub received: u64,
    pub valid: u64,
    /// received / expected, 0–1.
    pub transmission: f64,
    /// valid / received, 0–1.
    pub validity: f64,
    /// transmission × validity.
    pub effective_transmission: f64,
    /// Judged hours within limits / judged hours; none when nothing was judged.
    pub compliance: Option<f64>,
    pub judged_hours: u64,
    pub exceeding_hours: u64,
}

/// The rates asked for, in the order asked.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rates {
    pub scope: &'static str,
    pub period: &'static str,
    pub from: String,
    /// Exclusive end.
    pub to: String,
    pub items: Vec<RateItem>,
}

#[utoipa::path(
    get,
    path = "/api/v1/rates",
    tag = "quality",
    params(RateParams, FormatParam),
    responses(
        (status = OK, description = "The rates (JSON), or the page's table as CSV or XLSX", body = Rates),
        (status = BAD_REQUEST, description = "A value is wrong (the message names it)", body = ErrorBody),
        (status = UNAUTHORIZED, description = "No session or token", body = ErrorBody),
        (status = FORBIDDEN, description = "The role may not see (or download) rates", body = ErrorBody),
    )
)]
async fn rates(
    ApiUser(user): ApiUser,
    lang: Lang,
    State(store): State<Arc<dyn Store>>,
    Query(params): Query<RateParams>,
    Query(format): Query<FormatParam>,
) -> Result<Response, AppError> {
    let now = china_time::now_ms();
    let req = params
        .resolve(now)
        .map_err(|e| bad_request(e.into_iter().map(|e| e.message).collect::<Vec<_>>().join("; ")))?;
    let format = format.format.as_deref().map(str::trim).filter(|f| !f.is_empty()).unwrap_or("json");
    if !matches!(format, "json" | "csv" | "xlsx") {
        return Err(bad_request(format!("format: {format:?} is not json, csv or xlsx")));
    }
    let (from, to) = (Some(req.from), Some(req.to));
    let loaded = if format == "json" {
        quality_views::rates(store.as_ref(), &user.actor, req.by, req.period, from, to, now).await
    } else {
        quality_views::rates_for_export(store.as_ref(), &user.actor, req.by, req.period, from, to, now).await
    };
    let mut rows = loaded.map_err(|e| match e {
        ViewError::Denied(d) => denied_api(d),
        ViewError::Store(e) => e.into(),
    })?;
    rate_table::sort(&mut rows, &req, lang);
    let name =
        format!("rates-{}-{}-{}", req.by.name(), req.period.name(), crate::day_range::date_text(req.from));
    match format {
        "csv" => {
            let body = table_export::csv(&rate_table::table(&rows, req.period, lang));
            Ok(download(body, "text/csv; charset=utf-8", &format!("{name}.csv")))
        }
        "xlsx" => {
            let body =
                table_export::xlsx(&rate_table::table(&rows, req.period, lang), "rates").map_err(internal)?;
            let ct = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
            Ok(download(body, ct, &format!("{name}.xlsx")))
        }
        _ => {
            let items = rows
                .into_iter()
                .map(|r| {
                    let online = r.online();
                    let g = r.rate;
                    RateItem {
                        scope: g.scope.name(),
                        key: g.key,
                        name: r.name,
                        period: g.period.name(),
                        start: china_time::iso(g.start),
                        devices: g.devices,
                        online,
                        online_hours: r.online_hours,
                        period_hours: r.period_hours,
                        expected: g.expected,
                        received: g.received,
                        valid: g.valid,
                        transmission: g.transmission,
                        validity: g.validity,
                        effective_transmission: g.effective_transmission,
                        compliance: g.compliance,
                        judged_hours: g.judged_hours,
                        exceeding_hours: g.exceeding_hours,
                    }
                })
                .collect();
            let body = Rates {
                scope: req.by.name(),
                period: req.period.name(),
                from: china_time::iso(req.from),
                to: china_time::iso(req.to),
                items,
            };
            Ok(Json(body).into_response())
        }
    }
}

/// A file download: its type and name (ASCII, so no encoding of the header is needed).
fn download(body: Vec<u8>, content_type: &'static str, filename: &str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
        ],
        body,
    )
        .into_response()
}
