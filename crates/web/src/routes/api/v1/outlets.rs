//! `/api/v1/outlets`, `/api/v1/outlets/{id}` and `/api/v1/outlets/{id}/series`: the outlets the
//! caller may see with their state and latest values, and an outlet's time series at minute,
//! hour or day resolution — as JSON for the explorer's chart, or with `format=csv|xlsx` as the
//! downloads of exactly that series. Another enterprise's outlet answers 404 on every route, as a
//! missing one does.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use fenhe_app::enterprise_views;
use fenhe_app::outlet_series::{self, Band, FactorSeries, LimitStep, Point, Series, SeriesParams};
use fenhe_core::china_time;
use fenhe_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::enterprises::{OutletItem, api_error};
use super::paging::{PageParams, Paged};
use crate::error::{AppError, ErrorBody, bad_request, internal};
use crate::extract::{Json, Path, Query};
use crate::i18n::Lang;
use crate::series_export;
use crate::session::ApiUser;
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(one)).routes(routes!(series))
}

/// `?enterprise=` and paging.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OutletListParams {
    /// Only this enterprise's outlets (e.g. `E01`).
    pub enterprise: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/outlets",
    tag = "outlets",
    params(OutletListParams),
    responses(
        (status = OK, description = "The outlets the caller may see", body = Paged<OutletItem>),
        (status = UNAUTHORIZED, description = "No session or token", body = ErrorBody),
        (status = FORBIDDEN, description = "The role may not see environmental data", body = ErrorBody),
        (status = NOT_FOUND, description = "No such enterprise, or not the caller's", body = ErrorBody),
    )
)]
async fn list(
    ApiUser(user): ApiUser,
    State(store): State<Arc<dyn Store>>,
    Query(p): Query<OutletListParams>,
) -> Result<Json<Paged<OutletItem>>, AppError> {
    let paging = PageParams { page: p.page, per_page: p.per_page };
    paging.resolve()?;
    let enterprise = p.enterprise.as_deref().map(str::trim).filter(|e| !e.is_empty());
    let outlets =
        enterprise_views::list_outlets(store.as_ref(), &user.actor, enterprise, china_time::now_ms())
            .await
            .map_err(api_error)?;
    Ok(Json(Paged::of(outlets.iter().map(OutletItem::from).collect(), paging)?))
}

#[utoipa::path(
    get,
    path = "/api/v1/outlets/{id}",
    tag = "outlets",
    params(("id" = String, Path, description = "The outlet's registry id, e.g. E01-DA001")),
    responses(
        (status = OK, description = "The outlet", body = OutletItem),
        (status = UNAUTHORIZED, description = "No session or token", body = ErrorBody),
        (status = FORBIDDEN, description = "The role may not see environmental data", body = ErrorBody),
        (status = NOT_FOUND, description = "No such outlet, or not the caller's", body = ErrorBody),
    )
)]
async fn one(
    ApiUser(user): ApiUser,
    State(store): State<Arc<dyn Store>>,
    Path(id): Path<String>,
) -> Result<Json<OutletItem>, AppError> {
    let o = enterprise_views::outlet_summary(store.as_ref(), &user.actor, &id, china_time::now_ms())
        .await
        .map_err(api_error)?;
    Ok(Json(OutletItem::from(&o)))
}

/// `?resolution=&from=&to=&factor=&format=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesQueryParams {
    /// `minute`, `hour` (default) or `day`.
    pub resolution: Option<String>,
    /// Start: `YYYY-MM-DD`, `YYYY-MM-DDThh:mm[:ss]` (China time) or RFC 3339. Default: a span
    /// before `to` (a day of minutes, a week of hours, 90 days).
    pub from: Option<String>,
    /// End (exclusive); a date alone counts to the end of that day. Default: now. At most 31
    /// days of minutes, 366 of hours, 1830 of days.
    pub to: Option<String>,
    /// One factor code (e.g. `a34013`); every factor of the outlet when absent.
    pub factor: Option<String>,
    /// `json` (default), `csv` (UTF-8 with BOM) or `xlsx`.
    pub format: Option<String>,
}

/// One point of a series.
#[derive(Debug, Serialize, ToSchema)]
pub struct PointItem {
    /// Start of the minute, hour or day (China time, ISO 8601).
    pub t: String,
    /// The same instant in epoch milliseconds.
    pub t_ms: i64,
    pub mn: String,
    /// Measured: the minute's Avg (else Rtd), the period's mean.
    pub value: Option<f64>,
    /// At reference O2, for converted factors.
    pub converted: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// Minutes: the data flag as sent.
    pub flag: Option<String>,
    pub valid: bool,
    /// Why a period is not valid.
    pub reason: Option<String>,
    pub limit: Option<f64>,
    pub limit_min: Option<f64>,
    /// The period was judged above its limit (minutes are never judged alone).
    pub exceeds: bool,
}

impl From<&Point> for PointItem {
    fn from(p: &Point) -> Self {
        PointItem {
            t: china_time::iso(p.t),
            t_ms: p.t,
            mn: p.mn.clone(),
            value: p.value,
            converted: p.converted,
            min: p.min,
            max: p.max,
            flag: p.flag.clone(),
            valid: p.valid,
            reason: p.reason.map(|r| r.name().to_string()),
            limit: p.limit,
            limit_min: p.limit_min,
            exceeds: p.exceeds,
        }
    }
}

/// A limit in force over part of the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct LimitStepItem {
    pub from: String,
    pub to: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub max: Option<f64>,
    pub min: Option<f64>,
}

impl From<&LimitStep> for LimitStepItem {
    fn from(l: &LimitStep) -> Self {
        LimitStepItem {
            from: china_time::iso(l.from),
            to: china_time::iso(l.to),
            from_ms: l.from,
            to_ms: l.to,
            max: l.max,
            min: l.min,
        }
    }
}

/// A stretch of flagged data (kind: the flag, `M`, `C`, `D`, `F`, `S`, `T`, `B`) or an
/// exceedance episode (kind `exceedance`).
#[derive(Debug, Serialize, ToSchema)]
pub struct BandItem {
    pub kind: String,
    pub from: String,
    pub to: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub max: Option<f64>,
    pub limit: Option<f64>,
}

impl From<&Band> for BandItem {
    fn from(b: &Band) -> Self {
        BandItem {
            kind: b.kind.clone(),
            from: china_time::iso(b.from),
            to: china_time::iso(b.to),
            from_ms: b.from,
            to_ms: b.to,
            max: b.max,
            limit: b.limit,
        }
    }
}

/// One factor's series.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactorSeriesItem {
    pub factor: String,
    pub name_zh: String,
    pub name_en: String,
    pub unit_zh: String,
    pub unit_en: String,
    /// Converted to the outlet's reference O2.
    pub converted: bool,
    pub points: Vec<PointItem>,
    pub limits: Vec<LimitStepItem>,
    pub flags: Vec<BandItem>,
    pub episodes: Vec<BandItem>,
}

impl From<&FactorSeries> for FactorSeriesItem {
    fn from(f: &FactorSeries) -> Self {
        FactorSeriesItem {
            factor: f.factor.clone(),
            name_zh: f.name_zh.into(),
            name_en: f.name_en.into(),
            unit_zh: f.unit_zh.into(),
            unit_en: f.unit_en.into(),
            converted: f.converted,
            points: f.points.iter().map(PointItem::from).collect(),
            limits: f.limits.iter().map(LimitStepItem::from).collect(),
            flags: f.flags.iter().map(BandItem::from).collect(),
            episodes: f.episodes.iter().map(BandItem::from).collect(),
        }
    }
}

/// An outlet's series over a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesBody {
    pub outlet: String,
    pub outlet_name: String,
    pub enterprise: String,
    pub reference_o2: Option<f64>,
    /// `minute`, `hour` or `day`.
    pub resolution: String,
    /// The period served, aligned to whole minutes, hours or days: `[from, to)`.
    pub from: String,
    pub to: String,
    pub from_ms: i64,
    pub to_ms: i64,
    pub factors: Vec<FactorSeriesItem>,
}

impl From<&Series> for SeriesBody {
    fn from(s: &Series) -> Self {
        SeriesBody {
            outlet: s.outlet.clone(),
            outlet_name: s.outlet_name.clone(),
            enterprise: s.enterprise.clone(),
            reference_o2: s.reference_o2,
            resolution: s.window.resolution.name().into(),
            from: china_time::iso(s.window.from),
            to: china_time::iso(s.window.to),
            from_ms: s.window.from,
            to_ms: s.window.to,
            factors: s.factors.iter().map(FactorSeriesItem::from).collect(),
        }
    }
}

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// What the series is wanted as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Xlsx,
}

fn format_of(s: Option<&str>) -> Result<Format, AppError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None | Some("json") => Ok(Format::Json),
        Some("csv") => Ok(Format::Csv),
        Some("xlsx") => Ok(Format::Xlsx),
        Some(other) => Err(bad_request(format!("format: {other:?} is not one of json, csv, xlsx"))),
    }
}

fn download(bytes: Vec<u8>, content_type: &'static str, name: String) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or(HeaderValue::from_static("attachment"));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

#[utoipa::path(
    get,
    path = "/api/v1/outlets/{id}/series",
    tag = "outlets",
    params(("id" = String, Path, description = "The outlet's registry id, e.g. E01-DA001"), SeriesQueryParams),
    responses(
        (status = OK, description = "The series (JSON), or its download with format=csv|xlsx",
            content(
                (SeriesBody = "application/json"),
                (String = "text/csv"),
                (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            )),
        (status = BAD_REQUEST, description = "A parameter is wrong: the message says which and why", body = ErrorBody),
        (status = UNAUTHORIZED, description = "No session or token", body = ErrorBody),
        (status = FORBIDDEN, description = "The role may not see (or download) environmental data", body = ErrorBody),
        (status = NOT_FOUND, description = "No such outlet, or not the caller's", body = ErrorBody),
    )
)]
async fn series(
    ApiUser(user): ApiUser,
    lang: Lang,
    State(store): State<Arc<dyn Store>>,
    Path(id): Path<String>,
    Query(q): Query<SeriesQueryParams>,
) -> Result<Response, AppError> {
    let format = format_of(q.format.as_deref())?;
    let params = SeriesParams { resolution: q.resolution, from: q.from, to: q.to, factor: q.factor };
    let export = format != Format::Json;
    let s = outlet_series::series(store.as_ref(), &user.actor, &id, &params, export, china_time::now_ms())
        .await
        .map_err(api_error)?;
    Ok(match format {
        Format::Json => Json(SeriesBody::from(&s)).into_response(),
        Format::Csv => {
            let bytes = series_export::csv(&s, lang).map_err(internal)?;
            download(bytes, "text/csv; charset=utf-8", format!("{}.csv", series_export::file_stem(&s)))
        }
        Format::Xlsx => {
            let bytes = series_export::xlsx(&s, lang).map_err(internal)?;
            download(bytes, XLSX, format!("{}.xlsx", series_export::file_stem(&s)))
        }
    })
}
