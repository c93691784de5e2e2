//! `/api/v1/alarms` and `/api/v1/alarms/{id}`: the alarm list (the page's filters, paged) and one
//! alarm with its history and the data around its period, under the same policy as the pages
//! (`fenhe_app::alarm_views`). Another enterprise's alarm is the same 404 as a missing one.

use std::sync::Arc;

use axum::extract::State;
use fenhe_app::alarm_views::{self, AlarmDetail, Step, ViewError};
use fenhe_app::workflows::{self, WorkflowError, WorkflowSettings};
use fenhe_core::alarm::Alarm;
use fenhe_core::china_time;
use fenhe_core::workflow::Kind;
use fenhe_store::Store;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::paging::{PageParams, Paged};
use crate::alarm_params::AlarmParams;
use crate::error::{AppError, ErrorBody, bad_request, not_found};
use crate::extract::{Json, Path, Query};
use crate::routes::denied_api;
use crate::session::ApiUser;
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(one))
}

/// An alarm.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmItem {
    pub id: i64,
    /// Device MN.
    pub mn: String,
    /// Outlet id (`E01-DA001`).
    pub outlet: String,
    /// The outlet's enterprise (`E01`); none when the outlet has left the registry.
    pub enterprise: Option<String>,
    /// Factor code, none for device-wide alarms (offline).
    pub factor: Option<String>,
    /// `exceedance` or a finding kind.
    pub kind: String,
    /// `info`, `warning`, `serious`, `critical`.
    pub severity: &'static str,
    /// `open` or `resolved`.
    pub status: &'static str,
    /// `cleared` or `withdrawn` once resolved.
    pub resolution: Option<String>,
    /// The condition's period (RFC 3339, China time).
    pub start: String,
    pub end: String,
    /// Whether the condition is still present.
    pub active: bool,
    pub title_zh: String,
    pub title_en: String,
    pub detail_zh: String,
    pub detail_en: String,
    pub raised_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
}

impl From<&Alarm> for AlarmItem {
    fn from(a: &Alarm) -> Self {
        let d = &a.draft;
        AlarmItem {
            id: a.id,
            mn: d.mn.clone(),
            outlet: d.outlet.clone(),
            enterprise: None,
            factor: d.factor.clone(),
            kind: d.kind.clone(),
            severity: d.severity.name(),
            status: a.status.name(),
            resolution: a.resolution.clone(),
            start: china_time::iso(d.start),
            end: china_time::iso(d.end),
            active: d.active,
            title_zh: d.title_zh.clone(),
            title_en: d.title_en.clone(),
            detail_zh: d.detail_zh.clone(),
            detail_en: d.detail_en.clone(),
            raised_at: china_time::iso(a.raised_at),
            updated_at: china_time::iso(a.updated_at),
            resolved_at: a.resolved_at.map(china_time::iso),
        }
    }
}

/// A step of an alarm's life.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryItem {
    pub at: String,
    /// `raised`, `updated` or `resolved`.
    pub step: &'static str,
    /// For `resolved`: `cleared` or `withdrawn`.
    pub resolution: Option<String>,
}

/// An hour of the factor concerned.
#[derive(Debug, Serialize, ToSchema)]
pub struct HourItem {
    pub start: String,
    /// Converted mean (the value judged), else the mean.
    pub value: Option<f64>,
    pub valid: bool,
    pub exceeds: bool,
    /// The upper limit in force.
    pub limit: Option<f64>,
}

/// A minute record of the factor concerned.
#[derive(Debug, Serialize, ToSchema)]
pub struct MinuteItem {
    pub at: String,
    pub value: Option<f64>,
    pub flag: Option<String>,
}

/// The data around the alarm's period.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesItem {
    pub factor: Option<String>,
    pub from: String,
    pub to: String,
    pub hours: Vec<HourItem>,
    /// Minute values, for windows of two days or less.
    pub minutes: Vec<MinuteItem>,
}

/// One alarm with its enterprise, history and data.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmDetailBody {
    pub alarm: AlarmItem,
    /// Enterprise id, when the registry knows the outlet.
    pub enterprise: Option<String>,
    pub enterprise_name: Option<String>,
    pub outlet_name: Option<String>,
    pub history: Vec<HistoryItem>,
    pub series: SeriesItem,
    /// The alarm's review (issue 18): its state, deadline, the caller's allowed actions and its
    /// history — as it would open when no one has acted yet; none when the alarm's outlet has
    /// left the registry (no enterprise to explain it).
    pub review: Option<super::workflows::ItemBody>,
}

impl From<AlarmDetail> for AlarmDetailBody {
    fn from(d: AlarmDetail) -> Self {
        let history = d
            .history
            .iter()
            .map(|s| {
                let (step, resolution) = match &s.what {
                    Step::Raised => ("raised", None),
                    Step::Updated => ("updated", None),
                    Step::Resolved(r) => ("resolved", Some(r.clone())),
                };
                HistoryItem { at: china_time::iso(s.at), step, resolution }
            })
            .collect();
        let s = &d.series;
        let series = SeriesItem {
            factor: s.factor.clone(),
            from: china_time::iso(s.from),
            to: china_time::iso(s.to),
            hours: s
                .hours
                .iter()
                .map(|h| HourItem {
                    start: china_time::iso(h.start),
                    value: h.value,
                    valid: h.valid,
                    exceeds: h.exceeds,
                    limit: h.limit,
                })
                .collect(),
            minutes: s
                .minutes
                .iter()
                .map(|m| MinuteItem { at: china_time::iso(m.at), value: m.value, flag: m.flag.clone() })
                .collect(),
        };
        let (enterprise, enterprise_name) = match d.enterprise {
            Some((id, name)) => (Some(id), Some(name)),
            None => (None, None),
        };
        AlarmDetailBody {
            alarm: AlarmItem { enterprise: enterprise.clone(), ..AlarmItem::from(&d.alarm) },
            enterprise,
            enterprise_name,
            outlet_name: d.outlet_name,
            history,
            series,
            review: None,
        }
    }
}

fn view_error(e: ViewError) -> AppError {
    match e {
        ViewError::Denied(d) => denied_api(d),
        ViewError::Store(e) => e.into(),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/alarms",
    tag = "alarms",
    params(AlarmParams, PageParams),
    responses(
        (status = OK, description = "Alarms the caller may see, newest first", body = Paged<AlarmItem>),
        (status = BAD_REQUEST, description = "A filter or paging value is wrong (the message names it)", body = ErrorBody),
        (status = UNAUTHORIZED, description = "No session or token", body = ErrorBody),
        (status = FORBIDDEN, description = "The role may not see alarms", body = ErrorBody),
    )
)]
async fn list(
    ApiUser(user): ApiUser,
    State(store): State<Arc<dyn Store>>,
    Query(filters): Query<AlarmParams>,
    Query(paging): Query<PageParams>,
) -> Result<Json<Paged<AlarmItem>>, AppError> {
    let (page, per_page) = paging.resolve()?;
    let filter = filters
        .filter()
        .map_err(|e| bad_request(e.into_iter().map(|e| e.message).collect::<Vec<_>>().join("; ")))?;
    let p =
        alarm_views::list(store.as_ref(), &user.actor, &filter, page, per_page).await.map_err(view_error)?;
    let items = p
        .alarms
        .iter()
        .map(|a| AlarmItem {
            enterprise: p.enterprise_of.get(&a.draft.outlet).cloned(),
            ..AlarmItem::from(a)
        })
        .collect();
    Ok(Json(Paged { items, page, per_page, total: p.total }))
}

#[utoipa::path(
    get,
    path = "/api/v1/alarms/{id}",
    tag = "alarms",
    params(("id" = i64, Path, description = "The alarm's id")),
    responses(
        (status = OK, description = "The alarm, its history and the data around its period", body = AlarmDetailBody),
        (status = UNAUTHORIZED, description = "No session or token", body = ErrorBody),
        (status = FORBIDDEN, description = "The role may not see alarms", body = ErrorBody),
        (status = NOT_FOUND, description = "No such alarm, or one the caller may not know of", body = ErrorBody),
    )
)]
async fn one(
    ApiUser(user): ApiUser,
    State(store): State<Arc<dyn Store>>,
    State(settings): State<Arc<WorkflowSettings>>,
    Path(id): Path<String>,
) -> Result<Json<AlarmDetailBody>, AppError> {
    // The role's refusal first, so a forbidden role learns nothing from the id's shape either.
    fenhe_core::access::scope(&user.actor, fenhe_core::access::Action::ViewEnvironment)
        .map_err(denied_api)?;
    let id: i64 = id.parse().map_err(|_| not_found("not found"))?;
    let d = alarm_views::detail(store.as_ref(), &user.actor, id).await.map_err(view_error)?;
    let now = fenhe_core::china_time::now_ms();
    let review = match workflows::get(store.as_ref(), &settings, &user.actor, Kind::Alarms, id, now).await {
        Ok(v) => Some(super::workflows::ItemBody::from(&v)),
        // The alarm was shown: a review out of reach is one of no enterprise (its outlet left
        // the registry), which no one can explain.
        Err(WorkflowError::Denied(_)) => None,
        Err(WorkflowError::Store(e)) => return Err(e.into()),
        Err(WorkflowError::Refused(r)) => return Err(crate::error::internal(r)),
    };
    Ok(Json(AlarmDetailBody { review, ..d.into() }))
}
