//! Enterprises, outlets and devices: a paginated list each, a form to add one and a form to
//! change one. A refused form comes back with its values as typed and each problem beside its
//! field (422); a saved one sends the browser to the entry's page with a notice.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use fenhe_app::audit::Caller;
use fenhe_app::registry_admin::{self, DeviceForm, EditError, EnterpriseForm, Mode, OutletForm};
use fenhe_core::access::{Action, Actor};
use fenhe_core::registry::{CrcPolicy, Ownership, Protocol, Registry};
use fenhe_store::Store;
use serde::Deserialize;

use super::{Field, Tab, edit_error, here, place_errors, tabs};
use crate::chrome::{Chrome, render_with};
use crate::csrf::CsrfForm;
use crate::error::AppError;
use crate::extract::{Path, Query};
use crate::i18n::Lang;
use crate::local_path;
use crate::pager::Pager;
use crate::peer::Peer;
use crate::session::PageUser;
use crate::state::{AppState, Live};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/registry/enterprises", get(enterprise_list).post(enterprise_create))
        .route("/registry/enterprises/new", get(enterprise_new))
        .route("/registry/enterprises/{id}", get(enterprise_edit).post(enterprise_update))
        .route("/registry/outlets", get(outlet_list).post(outlet_create))
        .route("/registry/outlets/new", get(outlet_new))
        .route("/registry/outlets/{id}", get(outlet_edit).post(outlet_update))
        .route("/registry/devices", get(device_list).post(device_create))
        .route("/registry/devices/new", get(device_new))
        .route("/registry/devices/{mn}", get(device_edit).post(device_update))
}

/// A cell of a list: its text, a link, and a class (`mono`, `num`, a tag …).
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub text: String,
    pub href: Option<String>,
    pub class: &'static str,
}

impl Cell {
    pub fn plain(text: impl Into<String>) -> Cell {
        Cell { text: text.into(), href: None, class: "" }
    }
    pub fn link(text: impl Into<String>, href: String) -> Cell {
        Cell { text: text.into(), href: Some(href), class: "" }
    }
    pub fn class(mut self, class: &'static str) -> Cell {
        self.class = class;
        self
    }
}

#[derive(Template)]
#[template(path = "registry_list.html")]
pub(crate) struct ListPage {
    pub page: Chrome,
    pub tabs: Vec<Tab>,
    pub title: &'static str,
    pub intro: &'static str,
    pub new_href: &'static str,
    pub new_label: &'static str,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
    pub pager: Pager,
    pub empty: &'static str,
}

#[derive(Template)]
#[template(path = "registry_form.html")]
pub(crate) struct FormPage {
    pub page: Chrome,
    pub tabs: Vec<Tab>,
    pub title: String,
    pub action: String,
    pub fields: Vec<Field>,
    pub general: Vec<String>,
    pub submit: &'static str,
    pub back: &'static str,
    pub saved: bool,
    /// Said under the title (e.g. what the password field means).
    pub note: Option<&'static str>,
    /// A link to a related page (an outlet's limits): label and address.
    pub related: Option<(&'static str, String)>,
}

impl FormPage {
    /// Whether any field has a problem (the form's summary at its top says so).
    pub fn has_errors(&self) -> bool {
        !self.general.is_empty() || self.fields.iter().any(|f| f.error.is_some())
    }
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    pub page: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct EditQuery {
    pub saved: Option<u8>,
}

/// The registry for a page of the registry area, or the page's refusal.
async fn load(store: &dyn Store, actor: &Actor, action: Action, page: &Chrome) -> Result<Registry, Response> {
    registry_admin::registry(store, actor, action).await.map_err(|e| edit_error(page.clone(), e))
}

fn now() -> i64 {
    fenhe_core::china_time::now_ms()
}

/// What became of a posted form: back to the entry's page, the form again with its problems, or
/// the refusal.
fn answer<T>(result: Result<T, EditError>, saved_at: String, mut form: FormPage) -> Response {
    match result {
        Ok(_) => Redirect::to(&format!("{saved_at}?saved=1")).into_response(),
        Err(EditError::Invalid(errors)) => {
            form.general = place_errors(&mut form.fields, &errors, form.page.lang);
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &form)
        }
        Err(e) => edit_error(form.page, e),
    }
}

fn enc(id: &str) -> String {
    local_path::encode(id)
}

// ---------------------------------------------------------------------------------------------
// Enterprises

/// An ownership for people: the registry's Chinese names, or English ones.
fn ownership_label(o: Ownership, lang: Lang) -> &'static str {
    if !lang.is_english() {
        return o.name_zh();
    }
    match o {
        Ownership::CentralSoe => "Central state-owned",
        Ownership::ProvincialSoe => "Provincial state-owned",
        Ownership::LocalSoe => "Municipal state-owned",
        Ownership::Private => "Private",
        Ownership::Foreign => "Foreign-owned",
    }
}

fn enterprise_fields(f: &EnterpriseForm, lang: Lang, mode: Mode) -> Vec<Field> {
    let ownership = Ownership::ALL
        .iter()
        .map(|o| (o.name().to_string(), ownership_label(*o, lang).to_string()))
        .collect();
    vec![
        Field::text("id", lang.t("registry.f.id"), &f.id)
            .required()
            .readonly(mode == Mode::Update)
            .hint(lang.t("registry.h.enterprise_id")),
        Field::text("name", lang.t("registry.f.name"), &f.name).required(),
        Field::text("uscc", lang.t("registry.f.uscc"), &f.uscc).required().hint(lang.t("registry.h.uscc")),
        Field::text("ownership", lang.t("registry.f.ownership"), &f.ownership).select(ownership),
        Field::text("industry", lang.t("registry.f.industry"), &f.industry)
            .required()
            .hint(lang.t("registry.h.industry")),
        Field::text("category", lang.t("registry.f.category"), &f.category),
        Field::text("address", lang.t("registry.f.address"), &f.address),
        Field::text("longitude", lang.t("registry.f.longitude"), &f.longitude),
        Field::text("latitude", lang.t("registry.f.latitude"), &f.latitude),
        Field::text("contacts", lang.t("registry.f.contacts"), &f.contacts)
            .kind("textarea")
            .hint(lang.t("registry.h.contacts")),
        Field::text("permitted", lang.t("registry.f.permitted"), &f.permitted)
            .kind("textarea")
            .hint(lang.t("registry.h.permitted")),
    ]
}

fn enterprise_form(page: Chrome, actor: &Actor, f: &EnterpriseForm, mode: Mode, saved: bool) -> FormPage {
    let lang = page.lang;
    let (title, action) = match mode {
        Mode::Create => (lang.t("registry.enterprise.new").to_string(), "/registry/enterprises".to_string()),
        Mode::Update => (
            format!("{} {}", lang.t("registry.enterprise.edit"), f.id),
            format!("/registry/enterprises/{}", enc(&f.id)),
        ),
    };
    FormPage {
        tabs: tabs(actor, lang, "/registry/enterprises"),
        title,
        action,
        fields: enterprise_fields(f, lang, mode),
        general: Vec::new(),
        submit: lang.t("registry.save"),
        back: "/registry/enterprises",
        saved,
        note: None,
        related: None,
        page,
    }
}

async fn enterprise_list(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let page = Chrome::signed_in(lang, here(&uri), &user.actor, &user.csrf);
    let r = match load(store.as_ref(), &user.actor, Action::ManageRegistry, &page).await {
        Ok(r) => r,
        Err(refused) => return Ok(refused),
    };
    let outlets = |id: &str| r.outlets.iter().filter(|o| o.enterprise == id).count();
    let pager = Pager::new("/registry/enterprises", &[], q.page.unwrap_or(1), r.enterprises.len() as u64);
    let rows = pager
        .slice(r.enterprises.iter().collect())
        .into_iter()
        .map(|e| {
            vec![
                Cell::link(e.id.clone(), format!("/registry/enterprises/{}", enc(&e.id))).class("mono"),
                Cell::plain(e.name.clone()),
                Cell::plain(e.uscc.clone()).class("mono"),
                Cell::plain(ownership_label(e.ownership, lang)),
                Cell::plain(crate::labels::industry(lang, &e.industry)),
                Cell::plain(outlets(&e.id).to_string()).class("num"),
            ]
        })
        .collect();
    Ok(render_with(
        StatusCode::OK,
        &ListPage {
            tabs: tabs(&user.actor, lang, "/registry/enterprises"),
            title: lang.t("registry.tab.enterprises"),
            intro: lang.t("registry.enterprises.intro"),
            new_href: "/registry/enterprises/new",
            new_label: lang.t("registry.enterprise.new"),
            headers: vec![
                lang.t("registry.f.id"),
                lang.t("registry.f.name"),
                lang.t("registry.f.uscc"),
                lang.t("registry.f.ownership"),
                lang.t("registry.f.industry"),
                lang.t("registry.col.outlets"),
            ],
            rows,
            pager,
            empty: lang.t("registry.enterprises.empty"),
            page,
        },
    ))
}

async fn enterprise_new(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
) -> Response {
    let page = Chrome::signed_in(lang, here(&uri), &user.actor, &user.csrf);
    if let Err(refused) = load(store.as_ref(), &user.actor, Action::ManageRegistry, &page).await {
        return refused;
    }
    let f = EnterpriseForm { ownership: Ownership::Private.name().into(), ..Default::default() };
    render_with(StatusCode::OK, &enterprise_form(page, &user.actor, &f, Mode::Create, false))
}

async fn enterprise_edit(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    Path(id): Path<String>,
    Query(q): Query<EditQuery>,
) -> Response {
    let page = Chrome::signed_in(lang, here(&uri), &user.actor, &user.csrf);
    let r = match load(store.as_ref(), &user.actor, Action::ManageRegistry, &page).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    match r.enterprise(&id) {
        Some(e) => {
            let f = EnterpriseForm::of(e);
            render_with(
                StatusCode::OK,
                &enterprise_form(page, &user.actor, &f, Mode::Update, q.saved.is_some()),
            )
        }
        None => edit_error(page, EditError::NotFound { kind: "enterprise", id }),
    }
}

async fn enterprise_create(
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    f: CsrfForm<EnterpriseForm>,
) -> Response {
    let CsrfForm { user, lang, form } = f;
    let page = Chrome::signed_in(lang, "/registry/enterprises/new", &user.actor, &user.csrf);
    let caller = Caller::new(user.actor.clone(), peer, now());
    let result = registry_admin::save_enterprise(store.as_ref(), &caller, Mode::Create, &form).await;
    let saved_at = format!("/registry/enterprises/{}", enc(form.id.trim()));
    answer(result, saved_at, enterprise_form(page, &user.actor, &form, Mode::Create, false))
}

async fn enterprise_update(
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    Path(id): Path<String>,
    f: CsrfForm<EnterpriseForm>,
) -> Response {
    let CsrfForm { user, lang, mut form } = f;
    // The id is the address's; a form cannot move an entry to another id.
    form.id = id;
    let saved_at = format!("/registry/enterprises/{}", enc(&form.id));
    let page = Chrome::signed_in(lang, &saved_at, &user.actor, &user.csrf);
    let caller = Caller::new(user.actor.clone(), peer, now());
    let result = registry_admin::save_enterprise(store.as_ref(), &caller, Mode::Update, &form).await;
    answer(result, saved_at, enterprise_form(page, &user.actor, &form, Mode::Update, false))
}

// ---------------------------------------------------------------------------------------------
// Outlets

fn outlet_fields(f: &OutletForm, r: &Registry, lang: Lang, mode: Mode) -> Vec<Field> {
    let mut enterprises: Vec<(String, String)> =
        r.enterprises.iter().map(|e| (e.id.clone(), format!("{} {}", e.id, e.name))).collect();
    enterprises.insert(0, (String::new(), lang.t("registry.choose").to_string()));
    let kinds = [fenhe_core::registry::OutletKind::FlueGas, fenhe_core::registry::OutletKind::Wastewater]
        .iter()
        .map(|k| {
            (
                k.name().to_string(),
                if lang.is_english() { k.name().replace('_', " ") } else { k.name_zh().into() },
            )
        })
        .collect();
    vec![
        Field::text("id", lang.t("registry.f.id"), &f.id)
            .required()
            .readonly(mode == Mode::Update)
            .hint(lang.t("registry.h.outlet_id")),
        Field::text("enterprise", lang.t("registry.f.enterprise"), &f.enterprise)
            .select(enterprises)
            .required(),
        Field::text("name", lang.t("registry.f.name"), &f.name).required(),
        Field::text("kind", lang.t("registry.f.kind"), &f.kind).select(kinds),
        Field::text("source_type", lang.t("registry.f.source_type"), &f.source_type),
        Field::text("reference_o2", lang.t("registry.f.reference_o2"), &f.reference_o2)
            .hint(lang.t("registry.h.reference_o2")),
        Field::text("standard", lang.t("registry.f.standard"), &f.standard),
    ]
}

fn outlet_form(
    page: Chrome,
    actor: &Actor,
    r: &Registry,
    f: &OutletForm,
    mode: Mode,
    saved: bool,
) -> FormPage {
    let lang = page.lang;
    let (title, action) = match mode {
        Mode::Create => (lang.t("registry.outlet.new").to_string(), "/registry/outlets".to_string()),
        Mode::Update => (
            format!("{} {}", lang.t("registry.outlet.edit"), f.id),
            format!("/registry/outlets/{}", enc(&f.id)),
        ),
    };
    FormPage {
        tabs: tabs(actor, lang, "/registry/outlets"),
        title,
        action,
        fields: outlet_fields(f, r, lang, mode),
        general: Vec::new(),
        submit: lang.t("registry.save"),
        back: "/registry/outlets",
        saved,
        note: (mode == Mode::Update).then(|| lang.t("registry.outlet.limits_note")),
        related: (mode == Mode::Update).then(|| {
            (lang.t("registry.outlet.limits_link"), format!("/registry/limits?outlet={}", enc(&f.id)))
        }),
        page,
    }
}

async fn outlet_list(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    Query(q): Query<ListQuery>,
) -> Response {
    let page = Chrome::signed_in(lang, here(&uri), &user.actor, &user.csrf);
    let r = match load(store.as_ref(), &user.actor, Action::ManageRegistry, &page).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let pager = Pager::new("/registry/outlets", &[], q.page.unwrap_or(1), r.outlets.len() as u64);
    let rows = pager
        .slice(r.outlets.iter().collect())
        .into_iter()
        .map(|o| {
            vec![
                Cell::link(o.id.clone(), format!("/registry/outlets/{}", enc(&o.id))).class("mono nowrap"),
                Cell::plain(o.name.clone()),
                Cell::link(o.enterprise.clone(), format!("/registry/enterprises/{}", enc(&o.enterprise)))
                    .class("mono"),
                Cell::plain(if lang.is_english() {
                    o.kind.name().replace('_', " ")
                } else {
                    o.kind.name_zh().into()
                }),
                Cell::plain(o.standard.clone()),
                Cell::link(o.limits.len().to_string(), format!("/registry/limits?outlet={}", enc(&o.id)))
                    .class("num"),
            ]
        })
        .collect();
    render_with(
        StatusCode::OK,
        &ListPage {
            tabs: tabs(&user.actor, lang, "/registry/outlets"),
            title: lang.t("registry.tab.outlets"),
            intro: lang.t("registry.outlets.intro"),
            new_href: "/registry/outlets/new",
            new_label: lang.t("registry.outlet.new"),
            headers: vec![
                lang.t("registry.f.id"),
                lang.t("registry.f.name"),
                lang.t("registry.f.enterprise"),
                lang.t("registry.f.kind"),
                lang.t("registry.f.standard"),
                lang.t("registry.col.limits"),
            ],
            rows,
            pager,
            empty: lang.t("registry.outlets.empty"),
            page,
        },
    )
}

async fn outlet_new(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
) -> Response {
    let page = Chrome::signed_in(lang, here(&uri), &user.actor, &user.csrf);
    let r = match load(store.as_ref(), &user.actor, Action::ManageRegistry, &page).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let f = OutletForm { kind: "flue_gas".into(), ..Default::default() };
    render_with(StatusCode::OK, &outlet_form(page, &user.actor, &r, &f, Mode::Create, false))
}

async fn outlet_edit(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    Path(id): Path<String>,
    Query(q): Query<EditQuery>,
) -> Response {
    let page = Chrome::signed_in(lang, here(&uri), &user.actor, &user.csrf);
    let r = match load(store.as_ref(), &user.actor, Action::ManageRegistry, &page).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    match r.outlet(&id) {
        Some(o) => {
            let f = OutletForm::of(o);
            render_with(
                StatusCode::OK,
                &outlet_form(page, &user.actor, &r, &f, Mode::Update, q.saved.is_some()),
            )
        }
        None => edit_error(page, EditError::NotFound { kind: "outlet", id }),
    }
}

/// The registry for re-showing a refused form's choices, read through the use case (so under
/// the policy) and only when the form comes back; empty if it cannot be read (the form still
/// shows what was typed).
async fn choices<T>(
    store: &dyn Store,
    actor: &Actor,
    action: Action,
    result: &Result<T, EditError>,
) -> Registry {
    match result {
        Err(EditError::Invalid(_)) => {
            registry_admin::registry(store, actor, action).await.unwrap_or_default()
        }
        _ => Registry::default(),
    }
}

async fn outlet_create(
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    f: CsrfForm<OutletForm>,
) -> Response {
    let CsrfForm { user, lang, form } = f;
    let page = Chrome::signed_in(lang, "/registry/outlets/new", &user.actor, &user.csrf);
    let caller = Caller::new(user.actor.clone(), peer, now());
    let result = registry_admin::save_outlet(store.as_ref(), &caller, Mode::Create, &form).await;
    let r = choices(store.as_ref(), &user.actor, Action::ManageRegistry, &result).await;
    let saved_at = format!("/registry/outlets/{}", enc(form.id.trim()));
    answer(result, saved_at, outlet_form(page, &user.actor, &r, &form, Mode::Create, false))
}

async fn outlet_update(
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    Path(id): Path<String>,
    f: CsrfForm<OutletForm>,
) -> Response {
    let CsrfForm { user, lang, mut form } = f;
    form.id = id;
    let saved_at = format!("/registry/outlets/{}", enc(&form.id));
    let page = Chrome::signed_in(lang, &saved_at, &user.actor, &user.csrf);
    let caller = Caller::new(user.actor.clone(), peer, now());
    let result = registry_admin::save_outlet(store.as_ref(), &caller, Mode::Update, &form).await;
    let r = choices(store.as_ref(), &user.actor, Action::ManageRegistry, &result).await;
    answer(result, saved_at, outlet_form(page, &user.actor, &r, &form, Mode::Update, false))
}

// ---------------------------------------------------------------------------------------------
// Devices

fn device_fields(f: &DeviceForm, r: &Registry, lang: Lang, mode: Mode) -> Vec<Field> {
    let mut outlets: Vec<(String, String)> =
        r.outlets.iter().map(|o| (o.id.clone(), format!("{} {}", o.id, o.name))).collect();
    outlets.insert(0, (String::new(), lang.t("registry.choose").to_string()));
    let protocols = [Protocol::V2005, Protocol::V2017, Protocol::V2025]
        .iter()
        .map(|p| (p.name().to_string(), format!("HJ 212-{}", p.name())))
        .collect();
    let crcs = [CrcPolicy::Standard, CrcPolicy::Modbus, CrcPolicy::ModbusSwapped, CrcPolicy::Any]
        .iter()
        .map(|c| (c.name().to_string(), c.name().to_string()))
        .collect();
    let password_label = match mode {
        Mode::Create => lang.t("registry.f.password"),
        Mode::Update => lang.t("registry.f.new_password"),
    };
    let mut password = Field::text("new_password", password_label, "").kind("password").hint(match mode {
        Mode::Create => lang.t("registry.h.password_new"),
        Mode::Update => lang.t("registry.h.password_keep"),
    });
    if mode == Mode::Create {
        password = password.required();
    }
    vec![
        Field::text("mn", "MN", &f.mn)
            .required()
            .readonly(mode == Mode::Update)
            .hint(lang.t("registry.h.mn")),
        Field::text("outlet", lang.t("registry.f.outlet"), &f.outlet).select(outlets).required(),
        Field::text("protocol", lang.t("registry.f.protocol"), &f.protocol).select(protocols),
        Field::text("crc", lang.t("registry.f.crc"), &f.crc).select(crcs),
        Field::text("max_segment_len", lang.t("registry.f.max_segment_len"), &f.max_segment_len)
            .kind("number"),
        Field::text("rtd_interval_s", lang.t("registry.f.rtd_interval_s"), &f.rtd_interval_s).kind("number"),
        Field::text("minute_interval_min", lang.t("registry.f.minute_interval_min"), &f.minute_interval_min)
            .kind("number"),
        Field::text("hourly", lang.t("registry.f.hourly"), if f.hourly.is_some() { "on" } else { "" })
            .kind("checkbox"),
        Field::text("factors", lang.t("registry.f.factors"), &f.factors).hint(lang.t("registry.h.factors")),
        password,
    ]
}

fn device_form(
    page: Chrome,
    actor: &Actor,
    r: &Registry,
    f: &DeviceForm,
    mode: Mode,
    saved: bool,
    set: bool,
) -> FormPage {
    let lang = page.lang;
    let (title, action) = match mode {
        Mode::Create => (lang.t("registry.device.new").to_string(), "/registry/devices".to_string()),
        Mode::Update => (
            format!("{} {}", lang.t("registry.device.edit"), f.mn),
            format!("/registry/devices/{}", enc(&f.mn)),
        ),
    };
    FormPage {
        tabs: tabs(actor, lang, "/registry/devices"),
        title,
        action,
        fields: device_fields(f, r, lang, mode),
        general: Vec::new(),
        submit: lang.t("registry.save"),
        back: "/registry/devices",
        saved,
        note: (mode == Mode::Update).then(|| {
            if set {
                lang.t("registry.device.password_set")
            } else {
                lang.t("registry.device.password_unset")
            }
        }),
        related: None,
        page,
    }
}

async fn device_list(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    Query(q): Query<ListQuery>,
) -> Response {
    let page = Chrome::signed_in(lang, here(&uri), &user.actor, &user.csrf);
    let r = match load(store.as_ref(), &user.actor, Action::ManageDevices, &page).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let pager = Pager::new("/registry/devices", &[], q.page.unwrap_or(1), r.devices.len() as u64);
    let rows = pager
        .slice(r.devices.iter().collect())
        .into_iter()
        .map(|d| {
            let set = if d.password.is_empty() { "registry.password.unset" } else { "registry.password.set" };
            vec![
                Cell::link(d.mn.clone(), format!("/registry/devices/{}", enc(&d.mn))).class("mono nowrap"),
                Cell::plain(d.outlet.clone()).class("mono nowrap"),
                Cell::plain(format!("HJ 212-{}", d.protocol.name())).class("nowrap"),
                Cell::plain(d.crc.name()),
                Cell::plain(format!("{} s / {} min", d.rtd_interval_s, d.minute_interval_min)),
                Cell::plain(d.factors.len().to_string()).class("num"),
                Cell::plain(lang.t(set)).class("tag"),
            ]
        })
        .collect();
    render_with(
        StatusCode::OK,
        &ListPage {
            tabs: tabs(&user.actor, lang, "/registry/devices"),
            title: lang.t("registry.tab.devices"),
            intro: lang.t("registry.devices.intro"),
            new_href: "/registry/devices/new",
            new_label: lang.t("registry.device.new"),
            headers: vec![
                "MN",
                lang.t("registry.f.outlet"),
                lang.t("registry.f.protocol"),
                lang.t("registry.f.crc"),
                lang.t("registry.col.intervals"),
                lang.t("registry.col.factors"),
                lang.t("registry.f.password"),
            ],
            rows,
            pager,
            empty: lang.t("registry.devices.empty"),
            page,
        },
    )
}

async fn device_new(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
) -> Response {
    let page = Chrome::signed_in(lang, here(&uri), &user.actor, &user.csrf);
    let r = match load(store.as_ref(), &user.actor, Action::ManageDevices, &page).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let f = DeviceForm {
        protocol: "2017".into(),
        crc: "standard".into(),
        max_segment_len: "1024".into(),
        rtd_interval_s: "30".into(),
        minute_interval_min: "1".into(),
        hourly: Some("on".into()),
        ..Default::default()
    };
    render_with(StatusCode::OK, &device_form(page, &user.actor, &r, &f, Mode::Create, false, false))
}

async fn device_edit(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    Path(mn): Path<String>,
    Query(q): Query<EditQuery>,
) -> Response {
    let page = Chrome::signed_in(lang, here(&uri), &user.actor, &user.csrf);
    let r = match load(store.as_ref(), &user.actor, Action::ManageDevices, &page).await {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    match r.device(&mn) {
        Some(d) => {
            let f = DeviceForm::of(d);
            let set = !d.password.is_empty();
            render_with(
                StatusCode::OK,
                &device_form(page, &user.actor, &r, &f, Mode::Update, q.saved.is_some(), set),
            )
        }
        None => edit_error(page, EditError::NotFound { kind: "device", id: mn }),
    }
}

async fn device_create(
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
    f: CsrfForm<DeviceForm>,
) -> Response {
    let CsrfForm { user, lang, form } = f;
    let page = Chrome::signed_in(lang, "/registry/devices/new", &user.actor, &user.csrf);
    let caller = Caller::new(user.actor.clone(), peer, now());
    let result = registry_admin::save_device(store.as_ref(), &caller, Mode::Create, &form).await;
    if result.is_ok() {
        live.0.registry_changed();
    }
    let r = choices(store.as_ref(), &user.actor, Action::ManageDevices, &result).await;
    let saved_at = format!("/registry/devices/{}", enc(form.mn.trim()));
    answer(result, saved_at, device_form(page, &user.actor, &r, &form, Mode::Create, false, false))
}

async fn device_update(
    Peer(peer): Peer,
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
    Path(mn): Path<String>,
    f: CsrfForm<DeviceForm>,
) -> Response {
    let CsrfForm { user, lang, mut form } = f;
    form.mn = mn;
    let saved_at = format!("/registry/devices/{}", enc(&form.mn));
    let page = Chrome::signed_in(lang, &saved_at, &user.actor, &user.csrf);
    let caller = Caller::new(user.actor.clone(), peer, now());
    let result = registry_admin::save_device(store.as_ref(), &caller, Mode::Update, &form).await;
    if result.is_ok() {
        live.0.registry_changed();
    }
    let r = choices(store.as_ref(), &user.actor, Action::ManageDevices, &result).await;
    let set = r.device(&form.mn).is_some_and(|d| !d.password.is_empty());
    answer(result, saved_at, device_form(page, &user.actor, &r, &form, Mode::Update, false, set))
}
