//! `/api/v1/devices…` and `/api/v1/inbox`: the devices pages' data and the command queue for
//! programs, under the same policy (the use cases are `fenhe_app::devices`). Ids are MNs.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use fenhe_app::audit::Caller;
use fenhe_app::devices::commands::{self, CommandFields, CommandRow};
use fenhe_app::devices::frames::{self, FrameFilter, FrameRow};
use fenhe_app::devices::inbox::{self, InboxItem};
use fenhe_app::devices::overview::{self, DeviceDetail, DeviceFilter, DeviceRow};
use fenhe_app::devices::{DeviceError, FieldProblem};
use fenhe_core::Verdict;
use fenhe_core::china_time;
use fenhe_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::paging::{PageParams, Paged};
use crate::error::{AppError, ErrorBody, bad_request, internal, unprocessable};
use crate::extract::{Json, Path, Query};
use crate::peer::Peer;
use crate::routes::denied_api;
use crate::session::ApiUser;
use crate::state::{AppState, Live};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(one))
        .routes(routes!(device_frames))
        .routes(routes!(device_commands, send_command))
        .routes(routes!(inbox_list))
}

fn api_error(e: DeviceError) -> AppError {
    match e {
        DeviceError::Denied(d) => denied_api(d),
        DeviceError::Invalid(p) => unprocessable(problems(&p)),
        DeviceError::Store(s) => internal(s),
    }
}

fn problems(p: &[FieldProblem]) -> String {
    p.iter()
        .map(|p| {
            if p.detail.is_empty() {
                format!("{}: {}", p.field, p.kind.name())
            } else {
                format!("{}: {} ({})", p.field, p.kind.name(), p.detail)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn online(live: &Live) -> std::collections::HashSet<String> {
    live.0.snapshot().devices_online.into_iter().map(|d| d.mn).collect()
}

fn today() -> i64 {
    china_time::day_start(china_time::now_ms())
}

fn iso(ms: i64) -> String {
    china_time::iso(ms)
}

/// A device with its traffic.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceItem {
    pub mn: String,
    pub outlet: String,
    pub outlet_name: String,
    pub enterprise: String,
    pub enterprise_name: String,
    /// Connected to the gateway now.
    pub online: bool,
    /// ISO 8601 (+08:00) of the last frame, any verdict.
    pub last_frame_at: Option<String>,
    /// Frames received since 00:00 China time today.
    pub frames_today: u64,
    /// Of those, refused by the codec (framing, CRC, syntax, field).
    pub rejected_today: u64,
}

impl From<DeviceRow> for DeviceItem {
    fn from(r: DeviceRow) -> DeviceItem {
        DeviceItem {
            mn: r.mn,
            outlet: r.outlet_id,
            outlet_name: r.outlet_name,
            enterprise: r.enterprise_id,
            enterprise_name: r.enterprise_name,
            online: r.online,
            last_frame_at: r.last_frame_at.map(iso),
            frames_today: r.frames_today,
            rejected_today: r.rejected_today,
        }
    }
}

/// `?enterprise=&state=&page=&per_page=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeviceListParams {
    /// Only this enterprise's devices (e.g. `E01`).
    pub enterprise: Option<String>,
    /// `online` or `offline`.
    pub state: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/devices",
    tag = "devices",
    params(DeviceListParams),
    responses(
        (status = OK, description = "The devices the caller may see, by enterprise and MN", body = Paged<DeviceItem>),
        (status = BAD_REQUEST, description = "A parameter that does not parse", body = ErrorBody),
        (status = FORBIDDEN, description = "The role sees no devices", body = ErrorBody),
        (status = NOT_FOUND, description = "Another enterprise named in `enterprise`", body = ErrorBody),
    )
)]
async fn list(
    ApiUser(user): ApiUser,
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
    Query(p): Query<DeviceListParams>,
) -> Result<Json<Paged<DeviceItem>>, AppError> {
    let online_filter = match p.state.as_deref().unwrap_or("") {
        "" => None,
        "online" => Some(true),
        "offline" => Some(false),
        other => return Err(bad_request(format!("state {other:?} is not online or offline"))),
    };
    let filter = DeviceFilter { enterprise: p.enterprise.filter(|e| !e.is_empty()), online: online_filter };
    let rows = overview::list(store.as_ref(), &user.actor, &filter, &online(&live), today())
        .await
        .map_err(api_error)?;
    let items = rows.into_iter().map(DeviceItem::from).collect();
    Ok(Json(Paged::of(items, PageParams { page: p.page, per_page: p.per_page })?))
}

/// One device: its traffic and settings (never its password, only whether one is set).
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceInfo {
    #[serde(flatten)]
    pub device: DeviceItem,
    /// `2005`, `2017` or `2025`.
    pub protocol: &'static str,
    /// The CRC computations accepted: `standard`, `modbus`, `modbus-swapped` or `any`.
    pub crc: &'static str,
    pub max_segment_len: u32,
    pub rtd_interval_s: u32,
    pub minute_interval_min: u32,
    pub hourly: bool,
    pub factors: Vec<String>,
    pub password_set: bool,
    pub frames_total: u64,
    /// The newest stored data time per data command (CN → ISO 8601).
    pub latest: Vec<LatestData>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LatestData {
    pub cn: String,
    pub data_time: String,
}

impl From<DeviceDetail> for DeviceInfo {
    fn from(d: DeviceDetail) -> DeviceInfo {
        let s = d.settings;
        DeviceInfo {
            device: DeviceItem::from(d.row),
            protocol: s.protocol.name(),
            crc: s.crc.name(),
            max_segment_len: s.max_segment_len,
            rtd_interval_s: s.rtd_interval_s,
            minute_interval_min: s.minute_interval_min,
            hourly: s.hourly,
            factors: s.factors,
            password_set: s.password_set,
            frames_total: d.frames_total,
            latest: d.latest.into_iter().map(|(cn, t)| LatestData { cn, data_time: iso(t) }).collect(),
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/devices/{mn}",
    tag = "devices",
    params(("mn" = String, Path, description = "The device's MN")),
    responses(
        (status = OK, description = "The device", body = DeviceInfo),
        (status = FORBIDDEN, description = "The role sees no devices", body = ErrorBody),
        (status = NOT_FOUND, description = "No such device (or another enterprise's)", body = ErrorBody),
    )
)]
async fn one(
    ApiUser(user): ApiUser,
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
    Path(mn): Path<String>,
) -> Result<Json<DeviceInfo>, AppError> {
    let d = overview::detail(store.as_ref(), &user.actor, &mn, &online(&live), today())
        .await
        .map_err(api_error)?;
    Ok(Json(DeviceInfo::from(d)))
}

/// A received frame.
#[derive(Debug, Serialize, ToSchema)]
pub struct FrameItem {
    pub id: i64,
    pub received_at: String,
    pub peer: String,
    pub cn: Option<String>,
    /// `accepted`, `rejected`, `duplicate`, `unregistered` or `wrong_password`.
    pub verdict: &'static str,
    /// Why it was refused (`crc: …`, `syntax: …`).
    pub reason: Option<String>,
    /// Accepted departures from the standard, comma-separated.
    pub deviations: String,
    /// The frame as received (text).
    pub text: String,
}

impl From<FrameRow> for FrameItem {
    fn from(f: FrameRow) -> FrameItem {
        FrameItem {
            id: f.id,
            received_at: iso(f.received_at),
            peer: f.peer,
            cn: f.cn,
            verdict: f.verdict.name(),
            reason: f.reason,
            deviations: f.deviations,
            text: f.text,
        }
    }
}

/// A page of frames, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct FramesPage {
    pub items: Vec<FrameItem>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

/// `?verdict=&before=&limit=`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FrameParams {
    /// Only frames with this verdict (e.g. `rejected`).
    pub verdict: Option<String>,
    /// Only frames older than this id (the previous page's `next_before`).
    pub before: Option<i64>,
    /// Frames a page, 1–200 (default 50).
    pub limit: Option<u32>,
}

#[utoipa::path(
    get,
    path = "/api/v1/devices/{mn}/frames",
    tag = "devices",
    params(("mn" = String, Path, description = "The device's MN"), FrameParams),
    responses(
        (status = OK, description = "The device's frames, newest first", body = FramesPage),
        (status = BAD_REQUEST, description = "An unknown verdict or a limit out of range", body = ErrorBody),
        (status = FORBIDDEN, description = "The role sees no devices", body = ErrorBody),
        (status = NOT_FOUND, description = "No such device (or another enterprise's)", body = ErrorBody),
    )
)]
async fn device_frames(
    ApiUser(user): ApiUser,
    State(store): State<Arc<dyn Store>>,
    Path(mn): Path<String>,
    Query(p): Query<FrameParams>,
) -> Result<Json<FramesPage>, AppError> {
    let verdict = match p.verdict.as_deref() {
        None | Some("") => None,
        Some(v) => Some(Verdict::parse(v).ok_or_else(|| {
            bad_request(format!(
                "verdict {v:?} is not one of accepted, rejected, duplicate, unregistered, wrong_password"
            ))
        })?),
    };
    let limit = p.limit.unwrap_or(50);
    if !(1..=frames::MAX_PAGE).contains(&limit) {
        return Err(bad_request(format!("limit must be between 1 and {}", frames::MAX_PAGE)));
    }
    let page =
        frames::frames(store.as_ref(), &user.actor, &mn, FrameFilter { verdict, before_id: p.before, limit })
            .await
            .map_err(api_error)?;
    Ok(Json(FramesPage {
        items: page.frames.into_iter().map(FrameItem::from).collect(),
        next_before: page.next_before,
    }))
}

/// A command queued for a device and how it went.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommandItem {
    pub id: i64,
    pub mn: String,
    pub cn: String,
    /// CP items as sent, `key=value` joined by `;`.
    pub cp: String,
    pub origin: String,
    pub created_at: String,
    pub updated_at: String,
    /// `queued`, `sent`, `accepted`, `done`, `failed`, `timed_out` or `cancelled`.
    pub status: &'static str,
    /// Not final yet.
    pub in_flight: bool,
    pub qn: Option<String>,
    pub attempts: u32,
    /// The device's 9011/9012 answer, or why it failed.
    pub detail: Option<String>,
}

fn command_item(mn: &str, c: CommandRow) -> CommandItem {
    CommandItem {
        id: c.id,
        mn: mn.to_string(),
        cn: c.cn,
        cp: c.cp,
        origin: c.origin,
        created_at: iso(c.created_at),
        updated_at: iso(c.updated_at),
        status: c.status,
        in_flight: c.in_flight,
        qn: c.qn,
        attempts: c.attempts,
        detail: c.detail,
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/devices/{mn}/commands",
    tag = "devices",
    params(("mn" = String, Path, description = "The device's MN")),
    responses(
        (status = OK, description = "The device's latest commands, newest first", body = Vec<CommandItem>),
        (status = FORBIDDEN, description = "The role sees no devices", body = ErrorBody),
        (status = NOT_FOUND, description = "No such device (or another enterprise's)", body = ErrorBody),
    )
)]
async fn device_commands(
    ApiUser(user): ApiUser,
    State(store): State<Arc<dyn Store>>,
    Path(mn): Path<String>,
) -> Result<Json<Vec<CommandItem>>, AppError> {
    let rows = commands::commands(store.as_ref(), &user.actor, &mn).await.map_err(api_error)?;
    Ok(Json(rows.into_iter().map(|c| command_item(&mn, c)).collect()))
}

/// A command to queue.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewCommandBody {
    /// `time_sync` (1012 with the platform's time at sending), `history` (2051/2061/2031),
    /// `set_rtd_interval` (1062) or `set_minute_interval` (1064).
    pub kind: String,
    /// For `history`: `minute`, `hour` or `day`.
    pub data: Option<String>,
    /// For `history`: the period, China time (`2026-12-01 08:00`) or RFC 3339; at most 31 days.
    pub begin: Option<String>,
    pub end: Option<String>,
    /// Seconds (30–3600) for `set_rtd_interval`, minutes (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30)
    /// for `set_minute_interval`.
    pub interval: Option<u32>,
}

#[utoipa::path(
    post,
    path = "/api/v1/devices/{mn}/commands",
    tag = "devices",
    params(("mn" = String, Path, description = "The device's MN")),
    request_body = NewCommandBody,
    responses(
        (status = CREATED, description = "Queued; the gateway sends it while the device is connected", body = CommandItem),
        (status = FORBIDDEN, description = "The role may not send commands", body = ErrorBody),
        (status = NOT_FOUND, description = "No such device (or another enterprise's)", body = ErrorBody),
        (status = UNPROCESSABLE_ENTITY, description = "Every problem of the body, by field", body = ErrorBody),
    )
)]
async fn send_command(
    ApiUser(user): ApiUser,
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    Path(mn): Path<String>,
    Json(body): Json<NewCommandBody>,
) -> Result<(StatusCode, Json<CommandItem>), AppError> {
    let fields = CommandFields {
        kind: body.kind,
        data: body.data,
        begin: body.begin,
        end: body.end,
        interval: body.interval.map(|n| n.to_string()),
    };
    let caller = Caller::new(user.actor.clone(), peer, china_time::now_ms());
    let row = commands::send(store.as_ref(), &caller, &mn, &fields).await.map_err(api_error)?;
    Ok((StatusCode::CREATED, Json(command_item(&mn, row))))
}

/// Frames from an unknown sender (or a wrong password), grouped per MN (or per address).
#[derive(Debug, Serialize, ToSchema)]
pub struct InboxEntryItem {
    pub mn: Option<String>,
    /// `unregistered` or `wrong_password`.
    pub verdict: &'static str,
    pub count: u64,
    pub first_seen: String,
    pub last_seen: String,
    pub last_peer: String,
    pub last_frame: String,
    /// An unregistered MN, which can be registered.
    pub registrable: bool,
}

impl From<InboxItem> for InboxEntryItem {
    fn from(i: InboxItem) -> InboxEntryItem {
        InboxEntryItem {
            mn: i.mn,
            verdict: i.verdict.name(),
            count: i.count,
            first_seen: iso(i.first_seen),
            last_seen: iso(i.last_seen),
            last_peer: i.last_peer,
            last_frame: i.last_frame,
            registrable: i.registrable,
        }
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/inbox",
    tag = "devices",
    params(PageParams),
    responses(
        (status = OK, description = "The inbox, most recently seen first", body = Paged<InboxEntryItem>),
        (status = FORBIDDEN, description = "The role may not see the inbox", body = ErrorBody),
    )
)]
async fn inbox_list(
    ApiUser(user): ApiUser,
    State(store): State<Arc<dyn Store>>,
    Query(p): Query<PageParams>,
) -> Result<Json<Paged<InboxEntryItem>>, AppError> {
    let (page, per_page) = p.resolve()?;
    let offset = u64::from(page - 1) * u64::from(per_page);
    let found = inbox::inbox(store.as_ref(), &user.actor, per_page, offset).await.map_err(api_error)?;
    let items = found.items.into_iter().map(InboxEntryItem::from).collect();
    Ok(Json(Paged { items, page, per_page, total: found.total }))
}
