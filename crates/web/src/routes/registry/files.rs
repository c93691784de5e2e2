//! `/registry/import`: upload TOML, JSON or CSV registry files from the browser — all or nothing,
//! with the command line's report of every problem (file, line, field) — and the record of
//! every import attempt; `/registry/export.toml` and `.json`: the registry as a download, device
//! passwords left out.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fenhe_app::audit::Caller;
use fenhe_app::registry_admin::{self, ExportFormat, ImportOutcome};
use fenhe_app::registry_files::NamedFile;
use fenhe_store::{Store, StoredImport};
use serde::Deserialize;

use super::{Tab, edit_error, explain, here, tabs};
use crate::chrome::{Chrome, ErrorPage, render_with};
use crate::csrf::{refused, same_token};
use crate::extract::Query;
use crate::i18n::Lang;
use crate::pager::Pager;
use crate::peer::Peer;
use crate::session::PageUser;
use crate::state::{AppState, Live};

const PATH: &str = "/registry/import";
/// Largest upload, all files together.
const UPLOAD_LIMIT: usize = 16 << 20;
/// Most import records the history reads.
const IMPORTS_READ: u32 = 10_000;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        // Registry files are small, but a city's full CSV lists may pass axum's default 2 MB.
        .route(PATH, get(page).post(upload).layer(DefaultBodyLimit::max(UPLOAD_LIMIT)))
        .route("/registry/export.toml", get(export_toml))
        .route("/registry/export.json", get(export_json))
}

/// One problem of a refused upload, as the report lists it.
struct ProblemRow {
    file: String,
    line: String,
    field: String,
    message: String,
    /// The rule's own words, when the message shown is its translation.
    detail: Option<String>,
}

/// An import attempt as the history lists it.
struct ImportRow {
    at: String,
    files: String,
    ok: bool,
    summary: String,
    problems: Vec<String>,
}

#[derive(Template)]
#[template(path = "registry_import.html")]
struct ImportPage {
    page: Chrome,
    tabs: Vec<Tab>,
    imported: Option<String>,
    problems: Vec<ProblemRow>,
    history: Vec<ImportRow>,
    pager: Pager,
}

#[derive(Debug, Default, Deserialize)]
struct ImportQuery {
    page: Option<u32>,
}

async fn build(
    store: &dyn Store,
    page: Chrome,
    actor: &fenhe_core::access::Actor,
    page_no: u32,
) -> Result<ImportPage, Response> {
    let lang = page.lang;
    // Imports are rare (a registry changes a few times a year): the record is read whole, up to
    // a bound far above that, and paged here.
    let all = match registry_admin::imports(store, actor, IMPORTS_READ).await {
        Ok(all) => all,
        Err(e) => return Err(edit_error(page, e)),
    };
    let pager = Pager::new(PATH, &[], page_no, all.len() as u64);
    let history = pager.slice(all).into_iter().map(|i| row(i, lang)).collect();
    Ok(ImportPage {
        tabs: tabs(actor, lang, PATH),
        imported: None,
        problems: Vec::new(),
        history,
        pager,
        page,
    })
}

/// An import's stored summary (`imported 19 enterprises, 40 outlets, 40 devices`, `3 problem(s);
/// nothing was imported`, as `fenhe registry import` words it) in the page's language.
fn summary_text(summary: &str, lang: Lang) -> String {
    if lang.is_english() {
        return summary.to_string();
    }
    let numbers: Vec<&str> = summary.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).collect();
    match numbers.as_slice() {
        [e, o, d] if summary.starts_with("imported ") => {
            format!("{}{e} / {o} / {d}", lang.t("registry.import.sum_ok"))
        }
        [n] if summary.ends_with("nothing was imported") => {
            format!("{n} {}", lang.t("registry.import.sum_refused"))
        }
        _ => summary.to_string(),
    }
}

fn row(i: StoredImport, lang: Lang) -> ImportRow {
    ImportRow {
        at: fenhe_core::china_time::minute_text(i.record.at),
        files: i.record.files.join(", "),
        ok: i.record.ok,
        summary: summary_text(&i.record.summary, lang),
        problems: i.record.problems,
    }
}

async fn page(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    Query(q): Query<ImportQuery>,
) -> Response {
    let chrome = Chrome::signed_in(lang, here(&uri), &user.actor, &user.csrf);
    match build(store.as_ref(), chrome, &user.actor, q.page.unwrap_or(1)).await {
        Ok(p) => render_with(StatusCode::OK, &p),
        Err(refused) => refused,
    }
}

/// The upload: the CSRF field and the files of a multipart form. The session's token is checked
/// before anything is read into a registry.
async fn upload(
    PageUser(user): PageUser,
    lang: Lang,
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
    request: Request,
) -> Response {
    let chrome = Chrome::signed_in(lang, PATH, &user.actor, &user.csrf);
    // An upload that cannot be read is said on a page (the person used a browser), not in JSON.
    let unreadable = |chrome: Chrome, why: String| {
        tracing::info!(why, "refused a registry upload");
        let message = chrome.t("registry.import.unreadable").to_string();
        render_with(StatusCode::BAD_REQUEST, &ErrorPage { page: chrome, message })
    };
    let mut multipart = match Multipart::from_request(request, &()).await {
        Ok(m) => m,
        Err(e) => return unreadable(chrome, e.body_text()),
    };
    let mut csrf = String::new();
    let mut files = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return unreadable(chrome, e.body_text()),
        };
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("files") => {
                let name = field.file_name().unwrap_or("").to_string();
                let content = field.bytes().await.map(|b| b.to_vec()).map_err(|e| e.body_text());
                // A file input left empty still sends one part, with no name and no content.
                if !name.is_empty() || content.as_ref().is_ok_and(|c| !c.is_empty()) {
                    files.push(NamedFile { name, content });
                }
            }
            _ => {}
        }
    }
    if !user.by_token() && !same_token(&csrf, &user.csrf) {
        return refused(chrome);
    }
    let caller = Caller::new(user.actor.clone(), peer, fenhe_core::china_time::now_ms());
    let outcome = match registry_admin::import_files(store.as_ref(), &caller, &files).await {
        Ok(o) => o,
        Err(e) => return edit_error(chrome, e),
    };
    let mut p = match build(store.as_ref(), chrome, &user.actor, 1).await {
        Ok(p) => p,
        Err(refused) => return refused,
    };
    match outcome {
        ImportOutcome::Imported(summary) => {
            live.0.registry_changed();
            p.imported = Some(summary_text(&summary, lang));
            render_with(StatusCode::OK, &p)
        }
        ImportOutcome::Refused(problems) => {
            p.problems = problems
                .0
                .into_iter()
                .map(|pr| {
                    let message = explain(&pr.message, lang);
                    let detail = (message != pr.message).then_some(pr.message);
                    ProblemRow {
                        file: pr.file,
                        line: pr.line.map(|l| l.to_string()).unwrap_or_default(),
                        field: pr.field,
                        message,
                        detail,
                    }
                })
                .collect();
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &p)
        }
    }
}

async fn export(user: PageUser, lang: Lang, store: Arc<dyn Store>, format: ExportFormat) -> Response {
    let PageUser(user) = user;
    let (ext, mime) = match format {
        ExportFormat::Toml => ("toml", "application/toml; charset=utf-8"),
        ExportFormat::Json => ("json", "application/json; charset=utf-8"),
    };
    let chrome = Chrome::signed_in(lang, &format!("/registry/export.{ext}"), &user.actor, &user.csrf);
    match registry_admin::export(store.as_ref(), &user.actor, format).await {
        Ok(text) => {
            let day = fenhe_core::china_time::date_of(fenhe_core::china_time::now_ms());
            let disposition = format!("attachment; filename=\"registry-{day}.{ext}\"");
            let mut r = text.into_response();
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            r
        }
        Err(e) => edit_error(chrome, e),
    }
}

async fn export_toml(user: PageUser, lang: Lang, State(store): State<Arc<dyn Store>>) -> Response {
    export(user, lang, store, ExportFormat::Toml).await
}

async fn export_json(user: PageUser, lang: Lang, State(store): State<Arc<dyn Store>>) -> Response {
    export(user, lang, store, ExportFormat::Json).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_are_said_in_the_page_language() {
        let ok = "imported 19 enterprises, 40 outlets, 40 devices";
        assert_eq!(summary_text(ok, Lang::Zh), "已导入 企业 / 排口 / 数采仪：19 / 40 / 40");
        assert_eq!(summary_text(ok, Lang::En), ok);
        assert_eq!(summary_text("3 problem(s); nothing was imported", Lang::Zh), "3 个问题，未导入任何内容");
        assert_eq!(summary_text("something else", Lang::Zh), "something else");
    }
}
