//! The command queue of a device: the partial `/devices/{mn}/commands` (the list, which asks
//! htmx to fetch it again every few seconds while a command is in flight) and the form's post,
//! which queues the command through `fenhe_app::devices::commands::send` (audited) and comes
//! back to the device page.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use fenhe_app::audit::Caller;
use fenhe_app::devices::commands::{self, CommandFields, CommandRow};
use fenhe_app::devices::{DeviceError, Result};
use fenhe_app::packet_explain::command_name;
use fenhe_core::access::{Action, Actor, scope};
use fenhe_store::Store;

use super::{explain_lang, failure_page, q, when};
use crate::chrome::{Chrome, render};
use crate::csrf::CsrfForm;
use crate::error::AppError;
use crate::extract::Path;
use crate::i18n::Lang;
use crate::peer::Peer;
use crate::session::PageUser;
use crate::state::Live;

/// A command as the queue shows it.
pub(super) struct CommandLine {
    pub c: CommandRow,
    pub created: String,
    pub updated: String,
    pub cn_name: &'static str,
    pub status: &'static str,
}

/// The queue of one device, as the page and the partial show it.
pub(super) struct CommandsView {
    pub mn: String,
    pub rows: Vec<CommandLine>,
    /// A command is not final yet: the partial asks to be fetched again.
    pub in_flight: bool,
    /// The person may queue commands (the forms are shown).
    pub may_send: bool,
}

fn status_label(lang: Lang, status: &str) -> &'static str {
    match status {
        "queued" => lang.t("devices.cmd.status.queued"),
        "sent" => lang.t("devices.cmd.status.sent"),
        "accepted" => lang.t("devices.cmd.status.accepted"),
        "done" => lang.t("devices.cmd.status.done"),
        "failed" => lang.t("devices.cmd.status.failed"),
        "timed_out" => lang.t("devices.cmd.status.timed_out"),
        "cancelled" => lang.t("devices.cmd.status.cancelled"),
        _ => "?",
    }
}

impl CommandsView {
    pub async fn load(store: &dyn Store, actor: &Actor, mn: &str, lang: Lang) -> Result<CommandsView> {
        let rows = commands::commands(store, actor, mn).await?;
        let in_flight = rows.iter().any(|c| c.in_flight);
        let rows = rows
            .into_iter()
            .map(|c| CommandLine {
                created: when(c.created_at),
                updated: when(c.updated_at),
                cn_name: command_name(&c.cn, explain_lang(lang)).unwrap_or(""),
                status: status_label(lang, c.status),
                c,
            })
            .collect();
        Ok(CommandsView {
            mn: mn.to_string(),
            rows,
            in_flight,
            may_send: scope(actor, Action::SendCommand).is_ok(),
        })
    }

    /// The partial's own address, for htmx to fetch it again.
    pub fn href(&self) -> String {
        format!("/devices/{}/commands", q(&self.mn))
    }
}

#[derive(Template)]
#[template(path = "device_commands.html")]
struct CommandsPartial {
    page: Chrome,
    cmds: CommandsView,
}

/// The queue alone (no frame): what htmx swaps in.
pub(super) async fn partial(
    PageUser(user): PageUser,
    lang: Lang,
    State(store): State<Arc<dyn Store>>,
    Path(mn): Path<String>,
) -> Result<Response, AppError> {
    let path = format!("/devices/{}", q(&mn));
    let page = Chrome::signed_in(lang, &path, &user.actor, &user.csrf);
    match CommandsView::load(store.as_ref(), &user.actor, &mn, lang).await {
        Ok(cmds) => Ok(render(&CommandsPartial { page, cmds })?.into_response()),
        Err(e) => Ok(failure_page(page, e)),
    }
}

/// Queue a command from one of the device page's forms.
pub(super) async fn submit(
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
    Path(mn): Path<String>,
    f: CsrfForm<CommandFields>,
) -> Result<Response, AppError> {
    let CsrfForm { user, lang, form } = f;
    let path = format!("/devices/{}", q(&mn));
    let page = Chrome::signed_in(lang, &path, &user.actor, &user.csrf);
    let caller = Caller::new(user.actor.clone(), peer, fenhe_core::china_time::now_ms());
    match commands::send(store.as_ref(), &caller, &mn, &form).await {
        Ok(_) => Ok(Redirect::to(&format!("{path}?queued=1#commands")).into_response()),
        Err(DeviceError::Invalid(problems)) => {
            Ok(super::detail::with_problems(store.as_ref(), &live, &user.actor, page, &mn, form, &problems)
                .await)
        }
        Err(e) => Ok(failure_page(page, e)),
    }
}
