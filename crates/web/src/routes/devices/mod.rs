//! 设备 devices: the list (`/devices`), one device with its frames and command queue
//! (`/devices/{mn}`), a frame explained as `fenhe packet explain` explains it
//! (`/devices/{mn}/frames/{id}`), the command queue's partial that refreshes itself while a
//! command is in flight (`/devices/{mn}/commands`), and the inbox of unknown senders with
//! "register this device" (`/devices/inbox`). Handlers are thin: the use cases are
//! `fenhe_app::devices`, which ask the access policy first.

mod commands;
mod detail;
mod inbox;
mod list;

use std::collections::HashSet;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fenhe_app::devices::{DeviceError, FieldProblem};
use fenhe_core::china_time;

use crate::chrome::{Chrome, ErrorPage, render_with};
use crate::error::internal;
use crate::i18n::Lang;
use crate::state::{AppState, Live};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/devices", get(list::page))
        .route("/devices/inbox", get(inbox::page))
        .route("/devices/inbox/{mn}/register", get(inbox::form).post(inbox::submit))
        .route("/devices/{mn}", get(detail::page))
        .route("/devices/{mn}/frames/{id}", get(detail::frame))
        .route("/devices/{mn}/commands", get(commands::partial).post(commands::submit))
}

/// The MNs connected to the gateway now.
pub(crate) fn online(live: &Live) -> HashSet<String> {
    live.0.snapshot().devices_online.into_iter().map(|d| d.mn).collect()
}

/// The start of today, China time.
pub(crate) fn today_start() -> i64 {
    china_time::day_start(china_time::now_ms())
}

/// An instant as pages show it.
pub(crate) fn when(ms: i64) -> String {
    china_time::seconds_text(ms)
}

/// The page's language as the packet explanation takes it.
pub(crate) fn explain_lang(lang: Lang) -> fenhe_app::packet_explain::Lang {
    if lang.is_english() { fenhe_app::packet_explain::Lang::En } else { fenhe_app::packet_explain::Lang::Zh }
}

/// A verdict's name for people.
pub(crate) fn verdict_label(lang: Lang, name: &str) -> &'static str {
    match name {
        "accepted" => lang.t("devices.verdict.accepted"),
        "rejected" => lang.t("devices.verdict.rejected"),
        "duplicate" => lang.t("devices.verdict.duplicate"),
        "unregistered" => lang.t("devices.verdict.unregistered"),
        "wrong_password" => lang.t("devices.verdict.wrong_password"),
        _ => "?",
    }
}

/// One problem of a form, said in the page's language: the field, what is wrong, the detail.
pub(crate) fn problem_text(lang: Lang, p: &FieldProblem) -> String {
    let field = lang.t(&format!("devices.field.{}", p.field));
    let kind = lang.t(&format!("devices.problem.{}", p.kind.name()));
    if p.detail.is_empty() {
        format!("{field}：{kind}")
    } else {
        format!("{field}：{kind}（{}）", p.detail)
    }
}

/// A page for a use case's refusal or failure (an invalid form is the caller's to show).
pub(crate) fn failure_page(page: Chrome, e: DeviceError) -> Response {
    match e {
        DeviceError::Denied(d) => super::denied_page(page, d),
        DeviceError::Invalid(problems) => {
            let lang = page.lang;
            let sep = if lang.is_english() { "; " } else { "；" };
            let message = problems.iter().map(|p| problem_text(lang, p)).collect::<Vec<_>>().join(sep);
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &ErrorPage { page, message })
        }
        DeviceError::Store(s) => internal(s).into_response(),
    }
}

/// A page's query that does not parse: a 400 page saying what.
pub(crate) fn bad_query(page: Chrome, what: String) -> Response {
    render_with(StatusCode::BAD_REQUEST, &ErrorPage { page, message: what })
}

/// Links to the previous and next page of a paginated list.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pager {
    pub page: usize,
    pub pages: usize,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// The pager of page `page` (from 1) of `total` items, `per` a page, with `href(n)` the
    /// address of page n.
    pub fn new(page: usize, per: usize, total: usize, href: impl Fn(usize) -> String) -> Pager {
        let pages = total.div_ceil(per).max(1);
        Pager {
            page,
            pages,
            prev: (page > 1).then(|| href(page - 1)),
            next: (page < pages).then(|| href(page + 1)),
        }
    }
}

/// A query string value, percent-encoded.
pub(crate) fn q(v: &str) -> String {
    crate::local_path::encode(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_link_to_their_neighbours() {
        let p = Pager::new(2, 10, 25, |n| format!("/x?page={n}"));
        assert_eq!(
            (p.pages, p.prev.as_deref(), p.next.as_deref()),
            (3, Some("/x?page=1"), Some("/x?page=3"))
        );
        let p = Pager::new(1, 10, 0, |n| format!("{n}"));
        assert_eq!((p.pages, p.prev, p.next), (1, None, None));
    }
}
