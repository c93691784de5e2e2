//! `/devices/{mn}`: one device — settings (never its password), traffic, its frames newest
//! first (all or the rejected ones, 50 a page) each openable, and the command queue; and
//! `/devices/{mn}/frames/{id}`: one frame explained as `fenhe packet explain` explains it.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use fenhe_app::devices::DeviceError;
use fenhe_app::devices::commands::CommandFields;
use fenhe_app::devices::frames::{self, FrameFilter, FrameRow};
use fenhe_app::devices::overview::{self, DeviceDetail};
use fenhe_app::packet_explain::command_name;
use fenhe_core::Verdict;
use fenhe_core::access::Actor;
use fenhe_store::Store;
use serde::Deserialize;

use super::commands::CommandsView;
use super::{
    bad_query, explain_lang, failure_page, online, problem_text, q, today_start, verdict_label, when,
};
use crate::chrome::{Chrome, render, render_with};
use crate::error::AppError;
use crate::extract::{Path, Query};
use crate::i18n::Lang;
use crate::session::PageUser;
use crate::state::Live;

const FRAMES_PER_PAGE: u32 = 50;

#[derive(Debug, Default, Deserialize)]
pub(super) struct DeviceParams {
    /// `rejected` for the rejected frames only.
    #[serde(default)]
    frames: Option<String>,
    /// Frames older than this id.
    #[serde(default)]
    before: Option<i64>,
    /// Set after a command was queued.
    #[serde(default)]
    queued: Option<u8>,
    /// Set after the device was registered from the inbox.
    #[serde(default)]
    registered: Option<u8>,
}

/// A frame as the device page lists it.
pub(super) struct FrameLine {
    pub f: FrameRow,
    pub received: String,
    pub verdict: &'static str,
    pub cn_name: &'static str,
}

impl FrameLine {
    fn new(f: FrameRow, lang: Lang) -> FrameLine {
        let name = f.cn.as_deref().and_then(|cn| command_name(cn, explain_lang(lang))).unwrap_or("");
        FrameLine {
            received: when(f.received_at),
            verdict: verdict_label(lang, f.verdict.name()),
            cn_name: name,
            f,
        }
    }
}

#[derive(Template)]
#[template(path = "device.html")]
pub(super) struct DevicePage {
    pub page: Chrome,
    pub d: DeviceDetail,
    pub last: String,
    /// (CN, its name, time).
    pub latest: Vec<(String, &'static str, String)>,
    pub frames: Vec<FrameLine>,
    pub rejected_only: bool,
    pub older: Option<String>,
    pub newest: Option<String>,
    pub cmds: CommandsView,
    /// The command form's problems, said for people.
    pub problems: Vec<String>,
    pub form: FormValues,
    pub queued: bool,
    pub registered: bool,
}

/// The command form's values, to show again with its problems.
#[derive(Debug, Default)]
pub(super) struct FormValues {
    pub kind: String,
    pub data: String,
    pub begin: String,
    pub end: String,
    pub interval: String,
}

impl From<CommandFields> for FormValues {
    fn from(f: CommandFields) -> FormValues {
        FormValues {
            kind: f.kind,
            data: f.data.unwrap_or_default(),
            begin: f.begin.unwrap_or_default(),
            end: f.end.unwrap_or_default(),
            interval: f.interval.unwrap_or_default(),
        }
    }
}

impl DevicePage {
    fn protocol(&self) -> &'static str {
        self.d.settings.protocol.name()
    }
    fn crc(&self) -> &'static str {
        self.d.settings.crc.name()
    }
    fn yes_no(&self, b: &bool) -> &'static str {
        self.page.t(if *b { "devices.device.yes" } else { "devices.device.no" })
    }
}

/// Everything of the device page but the command form's state.
pub(super) async fn build(
    store: &dyn Store,
    live: &Live,
    actor: &Actor,
    page: Chrome,
    mn: &str,
    params: &DeviceParams,
) -> Result<DevicePage, (Chrome, DeviceError)> {
    let lang = page.lang;
    let d = match overview::detail(store, actor, mn, &online(live), today_start()).await {
        Ok(d) => d,
        Err(e) => return Err((page, e)),
    };
    let rejected_only = params.frames.as_deref() == Some("rejected");
    let filter = FrameFilter {
        verdict: rejected_only.then_some(Verdict::Rejected),
        before_id: params.before,
        limit: FRAMES_PER_PAGE,
    };
    let fp = match frames::frames(store, actor, mn, filter).await {
        Ok(f) => f,
        Err(e) => return Err((page, e)),
    };
    let which = if rejected_only { "rejected" } else { "all" };
    let base = format!("/devices/{}?frames={which}", q(mn));
    let older = fp.next_before.map(|id| format!("{base}&before={id}#frames"));
    let newest = params.before.map(|_| format!("{base}#frames"));
    let cmds = match CommandsView::load(store, actor, mn, lang).await {
        Ok(c) => c,
        Err(e) => return Err((page, e)),
    };
    let latest = d
        .latest
        .iter()
        .map(|(cn, t)| (cn.clone(), command_name(cn, explain_lang(lang)).unwrap_or(""), when(*t)))
        .collect();
    Ok(DevicePage {
        last: d.row.last_frame_at.map(when).unwrap_or_default(),
        latest,
        frames: fp.frames.into_iter().map(|f| FrameLine::new(f, lang)).collect(),
        rejected_only,
        older,
        newest,
        cmds,
        problems: Vec::new(),
        form: FormValues::default(),
        queued: params.queued.is_some(),
        registered: params.registered.is_some(),
        page,
        d,
    })
}

pub(super) async fn page(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
    Path(mn): Path<String>,
    Query(params): Query<DeviceParams>,
) -> Result<Response, AppError> {
    let page = Chrome::signed_in(lang, &uri.to_string(), &user.actor, &user.csrf);
    if params.frames.as_deref().is_some_and(|f| f != "rejected" && f != "all") {
        return Ok(bad_query(page, format!("frames: {}", lang.t("devices.problem.unknown_choice"))));
    }
    match build(store.as_ref(), &live, &user.actor, page, &mn, &params).await {
        Ok(p) => Ok(render(&p)?.into_response()),
        Err((page, e)) => Ok(failure_page(page, e)),
    }
}

/// The device page again, with the command form's problems (422).
pub(super) async fn with_problems(
    store: &dyn Store,
    live: &Live,
    actor: &Actor,
    page: Chrome,
    mn: &str,
    form: CommandFields,
    problems: &[fenhe_app::devices::FieldProblem],
) -> Response {
    let lang = page.lang;
    match build(store, live, actor, page, mn, &DeviceParams::default()).await {
        Ok(mut p) => {
            p.problems = problems.iter().map(|x| problem_text(lang, x)).collect();
            p.form = FormValues::from(form);
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
        Err((page, e)) => failure_page(page, e),
    }
}

#[derive(Template)]
#[template(path = "device_frame.html")]
struct FramePage {
    page: Chrome,
    mn: String,
    line: FrameLine,
    explanation: String,
}

pub(super) async fn frame(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    Path((mn, id)): Path<(String, i64)>,
) -> Result<Response, AppError> {
    let page = Chrome::signed_in(lang, uri.path(), &user.actor, &user.csrf);
    match frames::explain(store.as_ref(), &user.actor, &mn, id, explain_lang(lang)).await {
        Ok(x) => {
            let line = FrameLine::new(x.frame, lang);
            Ok(render(&FramePage { page, mn, line, explanation: x.explanation })?.into_response())
        }
        Err(e) => Ok(failure_page(page, e)),
    }
}
