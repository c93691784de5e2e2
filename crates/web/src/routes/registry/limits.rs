//! `/registry/limits`: every outlet's effective-dated limits (one outlet's with `?outlet=`), a
//! form to add one and a button to remove one. An outlet may hold several limits of a factor,
//! each in force from its date until the next.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use fenhe_app::audit::Caller;
use fenhe_app::registry_admin::{self, EditError, LimitForm};
use fenhe_core::access::Action;
use fenhe_core::registry::Registry;
use fenhe_store::Store;
use serde::Deserialize;

use super::{Field, Tab, edit_error, here, place_errors, tabs};
use crate::chrome::{Chrome, render_with};
use crate::csrf::CsrfForm;
use crate::extract::Query;
use crate::i18n::Lang;
use crate::local_path;
use crate::pager::Pager;
use crate::peer::Peer;
use crate::session::PageUser;
use crate::state::AppState;

const PATH: &str = "/registry/limits";

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(list).post(add)).route("/registry/limits/remove", post(remove))
}

/// A limit as the list shows it.
struct LimitRow {
    outlet: String,
    outlet_name: String,
    factor: String,
    min: String,
    max: String,
    effective_from: String,
    /// Whether it is the one in force today (a later one may be waiting for its date).
    in_force: bool,
}

#[derive(Template)]
#[template(path = "registry_limits.html")]
struct LimitsPage {
    page: Chrome,
    tabs: Vec<Tab>,
    /// The outlet the list is narrowed to ("" for all), and the choices of the filter.
    outlet: String,
    outlets: Vec<(String, String)>,
    rows: Vec<LimitRow>,
    pager: Pager,
    fields: Vec<Field>,
    general: Vec<String>,
    saved: bool,
}

impl LimitsPage {
    fn is_outlet(&self, id: &str) -> bool {
        self.outlet == id
    }
    fn has_errors(&self) -> bool {
        !self.general.is_empty() || self.fields.iter().any(|f| f.error.is_some())
    }
}

#[derive(Debug, Default, Deserialize)]
struct LimitsQuery {
    outlet: Option<String>,
    page: Option<u32>,
    saved: Option<u8>,
}

fn fields(f: &LimitForm, r: &Registry, lang: Lang) -> Vec<Field> {
    let mut outlets: Vec<(String, String)> =
        r.outlets.iter().map(|o| (o.id.clone(), format!("{} {}", o.id, o.name))).collect();
    outlets.insert(0, (String::new(), lang.t("registry.choose").to_string()));
    vec![
        Field::text("outlet", lang.t("registry.f.outlet"), &f.outlet).select(outlets).required(),
        Field::text("factor", lang.t("registry.f.factor"), &f.factor)
            .required()
            .hint(lang.t("registry.h.factor")),
        Field::text("min", lang.t("registry.f.min"), &f.min).kind("number").hint(lang.t("registry.h.min")),
        Field::text("max", lang.t("registry.f.max"), &f.max).kind("number"),
        Field::text("effective_from", lang.t("registry.f.effective_from"), &f.effective_from)
            .kind("date")
            .required(),
    ]
}

fn build(
    page: Chrome,
    tabs: Vec<Tab>,
    r: &Registry,
    outlet: &str,
    page_no: u32,
    form: &LimitForm,
    saved: bool,
) -> LimitsPage {
    let lang = page.lang;
    let today = fenhe_core::china_time::date_of(fenhe_core::china_time::now_ms());
    let num = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_else(|| "—".into());
    let all: Vec<LimitRow> = r
        .outlets
        .iter()
        .filter(|o| outlet.is_empty() || o.id == outlet)
        .flat_map(|o| {
            o.limits.iter().map(move |l| LimitRow {
                outlet: o.id.clone(),
                outlet_name: o.name.clone(),
                factor: l.factor.clone(),
                min: num(l.min),
                max: num(l.max),
                effective_from: l.effective_from.to_string(),
                in_force: o.limit_at(&l.factor, today).is_some_and(|now| now == l),
            })
        })
        .collect();
    let pager = Pager::new(PATH, &[("outlet", outlet)], page_no, all.len() as u64);
    let outlets = r.outlets.iter().map(|o| (o.id.clone(), format!("{} {}", o.id, o.name))).collect();
    LimitsPage {
        tabs,
        outlet: outlet.to_string(),
        outlets,
        rows: pager.slice(all),
        pager,
        fields: fields(form, r, lang),
        general: Vec::new(),
        saved,
        page,
    }
}

async fn list(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    Query(q): Query<LimitsQuery>,
) -> Response {
    let page = Chrome::signed_in(lang, here(&uri), &user.actor, &user.csrf);
    let r = match registry_admin::registry(store.as_ref(), &user.actor, Action::ManageRegistry).await {
        Ok(r) => r,
        Err(e) => return edit_error(page, e),
    };
    let outlet = q.outlet.unwrap_or_default();
    let form = LimitForm { outlet: outlet.clone(), ..Default::default() };
    let tabs = tabs(&user.actor, lang, PATH);
    render_with(
        StatusCode::OK,
        &build(page, tabs, &r, &outlet, q.page.unwrap_or(1), &form, q.saved.is_some()),
    )
}

async fn add(Peer(peer): Peer, State(store): State<Arc<dyn Store>>, f: CsrfForm<LimitForm>) -> Response {
    let CsrfForm { user, lang, form } = f;
    let page = Chrome::signed_in(lang, PATH, &user.actor, &user.csrf);
    let caller = Caller::new(user.actor.clone(), peer, fenhe_core::china_time::now_ms());
    match registry_admin::add_limit(store.as_ref(), &caller, &form).await {
        Ok(o) => {
            Redirect::to(&format!("{PATH}?outlet={}&saved=1", local_path::encode(&o.id))).into_response()
        }
        Err(EditError::Invalid(errors)) => {
            let r = match registry_admin::registry(store.as_ref(), &user.actor, Action::ManageRegistry).await
            {
                Ok(r) => r,
                Err(e) => return edit_error(page, e),
            };
            let outlet = if r.outlet(form.outlet.trim()).is_some() {
                form.outlet.trim().to_string()
            } else {
                String::new()
            };
            let mut built = build(page, tabs(&user.actor, lang, PATH), &r, &outlet, 1, &form, false);
            built.general = place_errors(&mut built.fields, &errors, lang);
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &built)
        }
        Err(e) => edit_error(page, e),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RemoveForm {
    outlet: String,
    factor: String,
    effective_from: String,
}

async fn remove(Peer(peer): Peer, State(store): State<Arc<dyn Store>>, f: CsrfForm<RemoveForm>) -> Response {
    let CsrfForm { user, lang, form } = f;
    let page = Chrome::signed_in(lang, PATH, &user.actor, &user.csrf);
    let caller = Caller::new(user.actor.clone(), peer, fenhe_core::china_time::now_ms());
    match registry_admin::remove_limit(
        store.as_ref(),
        &caller,
        &form.outlet,
        &form.factor,
        &form.effective_from,
    )
    .await
    {
        Ok(o) => {
            Redirect::to(&format!("{PATH}?outlet={}&saved=1", local_path::encode(&o.id))).into_response()
        }
        Err(e) => edit_error(page, e),
    }
}
