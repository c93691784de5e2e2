//! `/system`: the engineers' status page — what is connected and what arrived — for the roles
//! that may see the system (administrators, the bureau). It refreshes itself every 5 seconds.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fenhe_core::access::{Action, Target, authorize};
use fenhe_core::china_time::seconds_text;
use fenhe_store::Store;

use crate::chrome::{Chrome, render};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::routes::denied_page;
use crate::session::PageUser;
use crate::state::{AppState, Live, WebConfig};
use crate::status::{Status, gather};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/system", get(page))
}

/// A device online, with its time formatted.
struct OnlineRow {
    mn: String,
    peer: String,
    since: String,
}

#[derive(Template)]
#[template(path = "system.html")]
struct SystemPage<'a> {
    page: Chrome,
    banner: &'a [String],
    started: String,
    s: Status,
    online: Vec<OnlineRow>,
}

impl SystemPage<'_> {
    fn verdict(&self, v: &str) -> &'static str {
        let zh = match v {
            "accepted" => ("已接收", "Accepted"),
            "rejected" => ("已拒收", "Rejected"),
            "duplicate" => ("重复", "Duplicate"),
            "unregistered" => ("未登记设备", "Unregistered device"),
            "wrong_password" => ("密码错误", "Wrong password"),
            _ => ("其他", "Other"),
        };
        if self.page.lang.is_english() { zh.1 } else { zh.0 }
    }

    fn reason(&self, r: &str) -> &'static str {
        let (zh, en) = match r {
            "header" => ("非报文字节", "Not a frame"),
            "length" => ("长度错误", "Wrong length"),
            "crc" => ("CRC 校验错误", "CRC mismatch"),
            "syntax" => ("格式错误", "Syntax"),
            "field" => ("字段错误", "Bad field"),
            "too_long" => ("超长", "Too long"),
            "auth" => ("认证失败", "Authentication"),
            "rate" => ("超频", "Rate limit"),
            _ => ("", ""),
        };
        if self.page.lang.is_english() { en } else { zh }
    }
}

async fn page(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
    State(config): State<Arc<WebConfig>>,
) -> Result<Response, AppError> {
    let chrome = Chrome::signed_in(lang, uri.path(), &user.actor, &user.csrf);
    if let Err(d) = authorize(&user.actor, Action::ViewSystem, Target::City) {
        return Ok(denied_page(chrome, d));
    }
    let s = gather(store.as_ref(), live.0.as_ref()).await?;
    let online = s
        .live
        .devices_online
        .iter()
        .map(|d| OnlineRow { mn: d.mn.clone(), peer: d.peer.clone(), since: seconds_text(d.since) })
        .collect();
    let started = seconds_text(s.live.started_at);
    Ok(render(&SystemPage { page: chrome, banner: &config.banner, started, s, online })?.into_response())
}
