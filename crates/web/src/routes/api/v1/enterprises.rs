//! `/api/v1/enterprises` and `/api/v1/enterprises/{id}`: the enterprises the caller may see with
//! their state now, and one enterprise's file (the profile alone for a role that reads profiles
//! only). Another enterprise's id answers 404, exactly as a missing one.

use std::sync::Arc;

use axum::extract::State;
use fenhe_app::enterprise_views::{
    self, DeviceState, EmissionToDate, EnterpriseFilter, LatestValue, OutletSummary, State as NowState,
};
use fenhe_app::view_error::ViewError;
use fenhe_core::china_time;
use fenhe_store::{Alarm, Store};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::paging::{PageParams, Paged};
use crate::error::{AppError, ErrorBody, bad_request, internal};
use crate::extract::{Json, Path, Query};
use crate::routes::denied_api;
use crate::session::ApiUser;
use crate::state::AppState;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(one))
}

/// A use case's refusal or failure in the API's terms.
pub(super) fn api_error(e: ViewError) -> AppError {
    match e {
        ViewError::Denied(d) => denied_api(d),
        ViewError::BadRequest(m) => bad_request(m),
        ViewError::Store(e) => internal(e),
    }
}

/// `compliant`, `exceeding`, `offline` or `no_data`.
fn state_name(s: NowState) -> String {
    s.name().to_string()
}

/// `?industry=&category=&q=` and paging.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EnterpriseListParams {
    /// Only this industry (e.g. `coking`).
    pub industry: Option<String>,
    /// Only this "4+6+N" category.
    pub category: Option<String>,
    /// Part of the name, id or USCC.
    pub q: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

/// An enterprise in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnterpriseItem {
    pub id: String,
    pub name: String,
    pub industry: String,
    pub category: Option<String>,
    pub outlets: usize,
    /// `compliant`, `exceeding`, `offline` or `no_data`; absent for a role that reads profiles only.
    pub state: Option<String>,
}

#[utoipa::path(
    get,
    path = "/api/v1/enterprises",
    tag = "enterprises",
    params(EnterpriseListParams),
    responses(
        (status = OK, description = "The enterprises the caller may see", body = Paged<EnterpriseItem>),
        (status = BAD_REQUEST, description = "Bad paging", body = ErrorBody),
        (status = UNAUTHORIZED, description = "No session or token", body = ErrorBody),
    )
)]
async fn list(
    ApiUser(user): ApiUser,
    State(store): State<Arc<dyn Store>>,
    Query(p): Query<EnterpriseListParams>,
) -> Result<Json<Paged<EnterpriseItem>>, AppError> {
    let paging = PageParams { page: p.page, per_page: p.per_page };
    paging.resolve()?;
    let filter = EnterpriseFilter { industry: p.industry, category: p.category, search: p.q };
    let list = enterprise_views::list_enterprises(store.as_ref(), &user.actor, &filter, china_time::now_ms())
        .await
        .map_err(api_error)?;
    let items = list
        .items
        .into_iter()
        .map(|e| EnterpriseItem {
            id: e.id,
            name: e.name,
            industry: e.industry,
            category: e.category,
            outlets: e.outlets,
            state: e.state.map(state_name),
        })
        .collect();
    Ok(Json(Paged::of(items, paging)?))
}

/// A person to contact.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactItem {
    pub name: String,
    pub role: String,
    pub phone: String,
}

/// The latest hour of a factor against its limit then.
#[derive(Debug, Serialize, ToSchema)]
pub struct LatestItem {
    pub factor: String,
    pub mn: String,
    /// Start of the hour (China time, ISO 8601).
    pub hour: String,
    pub mean: Option<f64>,
    /// At the outlet's reference O2, for converted factors.
    pub converted: Option<f64>,
    pub valid: bool,
    /// Why the hour is not valid (`no_data`, `insufficient_coverage`, `not_convertible`, …).
    pub reason: Option<String>,
    pub limit: Option<f64>,
    pub limit_min: Option<f64>,
    pub exceeds: bool,
}

impl From<&LatestValue> for LatestItem {
    fn from(v: &LatestValue) -> Self {
        LatestItem {
            factor: v.factor.clone(),
            mn: v.mn.clone(),
            hour: china_time::iso(v.hour),
            mean: v.mean,
            converted: v.converted,
            valid: v.valid,
            reason: v.reason.map(|r| r.name().to_string()),
            limit: v.limit,
            limit_min: v.limit_min,
            exceeds: v.exceeds,
        }
    }
}

/// A data logger and whether it is online.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceItem {
    pub mn: String,
    pub outlet: String,
    pub protocol: String,
    pub minute_interval_min: u32,
    pub last_frame_at: Option<String>,
    pub last_data_at: Option<String>,
    pub online: bool,
}

impl From<&DeviceState> for DeviceItem {
    fn from(d: &DeviceState) -> Self {
        DeviceItem {
            mn: d.mn.clone(),
            outlet: d.outlet.clone(),
            protocol: d.protocol.to_string(),
            minute_interval_min: d.minute_interval_min,
            last_frame_at: d.last_frame_at.map(china_time::iso),
            last_data_at: d.last_data_at.map(china_time::iso),
            online: d.online,
        }
    }
}

/// A limit of an outlet, in force from its date (00:00 China time) until the next of its factor.
#[derive(Debug, Serialize, ToSchema)]
pub struct LimitItem {
    pub factor: String,
    pub max: Option<f64>,
    pub min: Option<f64>,
    /// `YYYY-MM-DD`.
    pub effective_from: String,
}

/// An outlet with its state now, latest values and devices.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutletItem {
    pub id: String,
    pub enterprise: String,
    pub enterprise_name: String,
    pub name: String,
    /// `flue_gas` or `wastewater`.
    pub kind: String,
    pub source_type: String,
    pub reference_o2: Option<f64>,
    pub standard: String,
    pub limits: Vec<LimitItem>,
    pub state: String,
    pub latest: Vec<LatestItem>,
    pub devices: Vec<DeviceItem>,
}

impl From<&OutletSummary> for OutletItem {
    fn from(o: &OutletSummary) -> Self {
        OutletItem {
            id: o.outlet.id.clone(),
            enterprise: o.outlet.enterprise.clone(),
            enterprise_name: o.enterprise_name.clone(),
            name: o.outlet.name.clone(),
            kind: o.outlet.kind.name().to_string(),
            source_type: o.outlet.source_type.clone(),
            reference_o2: o.outlet.reference_o2,
            standard: o.outlet.standard.clone(),
            limits: o
                .outlet
                .limits
                .iter()
                .map(|l| LimitItem {
                    factor: l.factor.clone(),
                    max: l.max,
                    min: l.min,
                    effective_from: l.effective_from.to_string(),
                })
                .collect(),
            state: state_name(o.state),
            latest: o.latest.iter().map(LatestItem::from).collect(),
            devices: o.devices.iter().map(DeviceItem::from).collect(),
        }
    }
}

/// The year's emission of a factor so far against the permitted annual total.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmissionItem {
    pub factor: String,
    pub kg: f64,
    pub permitted_kg: Option<f64>,
    /// kg / permitted (0.8 = 80 %).
    pub share: Option<f64>,
}

impl From<&EmissionToDate> for EmissionItem {
    fn from(e: &EmissionToDate) -> Self {
        EmissionItem { factor: e.factor.clone(), kg: e.kg, permitted_kg: e.permitted_kg, share: e.share }
    }
}

/// An open alarm.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlarmItem {
    pub id: i64,
    /// `exceedance` or a finding kind.
    pub kind: String,
    pub severity: String,
    pub mn: String,
    pub outlet: String,
    pub factor: Option<String>,
    pub start: String,
    pub end: String,
    pub title_zh: String,
    pub title_en: String,
    pub raised_at: String,
}

impl From<&Alarm> for AlarmItem {
    fn from(a: &Alarm) -> Self {
        AlarmItem {
            id: a.id,
            kind: a.draft.kind.clone(),
            severity: a.draft.severity.name().to_string(),
            mn: a.draft.mn.clone(),
            outlet: a.draft.outlet.clone(),
            factor: a.draft.factor.clone(),
            start: china_time::iso(a.draft.start),
            end: china_time::iso(a.draft.end),
            title_zh: a.draft.title_zh.clone(),
            title_en: a.draft.title_en.clone(),
            raised_at: china_time::iso(a.raised_at),
        }
    }
}

/// What an environmental role sees beyond the profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnvironmentItem {
    pub state: String,
    pub outlets: Vec<OutletItem>,
    /// Start of the year the emissions count from.
    pub year_start: String,
    pub emissions: Vec<EmissionItem>,
    pub open_alarms: Vec<AlarmItem>,
    pub devices: Vec<DeviceItem>,
}

/// 一企一档.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnterpriseDetail {
    pub id: String,
    pub name: String,
    pub uscc: String,
    pub ownership: String,
    pub industry: String,
    pub category: Option<String>,
    pub address: String,
    pub longitude: Option<f64>,
    pub latitude: Option<f64>,
    pub contacts: Vec<ContactItem>,
    pub permitted_kg_per_year: std::collections::BTreeMap<String, f64>,
    /// Absent for a role that reads profiles only (a department officer).
    pub environment: Option<EnvironmentItem>,
}

#[utoipa::path(
    get,
    path = "/api/v1/enterprises/{id}",
    tag = "enterprises",
    params(("id" = String, Path, description = "The enterprise's registry id, e.g. E01")),
    responses(
        (status = OK, description = "The enterprise's file", body = EnterpriseDetail),
        (status = UNAUTHORIZED, description = "No session or token", body = ErrorBody),
        (status = NOT_FOUND, description = "No such enterprise, or not the caller's", body = ErrorBody),
    )
)]
async fn one(
    ApiUser(user): ApiUser,
    State(store): State<Arc<dyn Store>>,
    Path(id): Path<String>,
) -> Result<Json<EnterpriseDetail>, AppError> {
    let f = enterprise_views::enterprise_file(store.as_ref(), &user.actor, &id, china_time::now_ms())
        .await
        .map_err(api_error)?;
    let environment = f.environment.as_ref().map(|env| EnvironmentItem {
        state: state_name(env.state),
        outlets: env.outlets.iter().map(OutletItem::from).collect(),
        year_start: china_time::iso(env.year_start),
        emissions: env.emissions.iter().map(EmissionItem::from).collect(),
        open_alarms: env.alarms.iter().map(AlarmItem::from).collect(),
        devices: env.devices.iter().map(DeviceItem::from).collect(),
    });
    let e = f.enterprise;
    Ok(Json(EnterpriseDetail {
        id: e.id,
        name: e.name,
        uscc: e.uscc,
        ownership: e.ownership.name().to_string(),
        industry: e.industry,
        category: e.category,
        address: e.address,
        longitude: e.longitude,
        latitude: e.latitude,
        contacts: e
            .contacts
            .into_iter()
            .map(|c| ContactItem { name: c.name, role: c.role, phone: c.phone })
            .collect(),
        permitted_kg_per_year: e.permitted_kg_per_year,
        environment,
    }))
}
