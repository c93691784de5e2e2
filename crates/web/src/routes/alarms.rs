//! `/alarms` and `/alarms/{id}`: the alarm list with its filters and pages, and one alarm with
//! its history and a chart of the data around its period. What is shown comes from
//! `fenhe_app::alarm_views`, which applies the access policy; another enterprise's alarm is the
//! same 404 page as an id that does not exist.

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use fenhe_app::alarm_views::{self, AlarmDetail, AlarmFilter, Step, ViewError};
use fenhe_core::access::{Action, Actor, Scope, scope};
use fenhe_core::alarm::{Alarm, AlarmStatus};
use fenhe_core::china_time;
use fenhe_core::compliance::Severity;
use fenhe_core::registry::Registry;
use fenhe_store::Store;
use serde::{Deserialize, Serialize};

use crate::alarm_labels::{factor_label, kind_label, resolution_label, severity_label, status_label};
use crate::alarm_params::{AlarmParams, FieldError, kind_names};
use crate::chrome::{Chrome, render_with};
use crate::error::AppError;
use crate::extract::Query;
use crate::i18n::Lang;
use crate::routes::denied_page;
use crate::routes::workflows::{self, view::ItemSection, view::Refused};
use crate::session::PageUser;
use crate::state::AppState;

/// Alarms a page of the list.
pub(crate) const PER_PAGE: u32 = 50;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/alarms", get(list_page)).route("/alarms/{id}", get(detail_page))
}

/// A choice of a filter's `<select>`.
pub(crate) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn choices(items: impl IntoIterator<Item = (String, String)>, current: &Option<String>) -> Vec<Choice> {
    let cur = current.as_deref().map(str::trim).unwrap_or("");
    items.into_iter().map(|(value, label)| Choice { selected: value == cur, value, label }).collect()
}

/// A row of the list, in the page language.
struct Row {
    id: i64,
    raised: String,
    enterprise: String,
    outlet_id: String,
    outlet: String,
    factor: String,
    kind: String,
    severity: &'static str,
    severity_name: &'static str,
    status: &'static str,
    open: bool,
    period: String,
    title: String,
}

fn row(a: &Alarm, registry: &Registry, lang: Lang) -> Row {
    let outlet = registry.outlet(&a.draft.outlet);
    let enterprise =
        outlet.and_then(|o| registry.enterprise(&o.enterprise)).map(|e| e.name.clone()).unwrap_or_default();
    Row {
        id: a.id,
        raised: china_time::minute_text(a.raised_at),
        enterprise,
        outlet_id: a.draft.outlet.clone(),
        outlet: outlet.map(|o| o.name.clone()).unwrap_or_else(|| a.draft.outlet.clone()),
        factor: a.draft.factor.as_deref().map(factor_label).unwrap_or_default(),
        kind: kind_label(&a.draft.kind, lang),
        severity: severity_label(a.draft.severity, lang),
        severity_name: a.draft.severity.name(),
        status: status_label(a.status, lang),
        open: a.status == AlarmStatus::Open,
        period: period_text(a.draft.start, a.draft.end),
        title: if lang.is_english() { a.draft.title_en.clone() } else { a.draft.title_zh.clone() },
    }
}

fn period_text(start: i64, end: i64) -> String {
    format!("{} – {}", china_time::minute_text(start), china_time::minute_text(end))
}

/// The list's page links: the filters as they were, with another page number.
pub(crate) struct Pager {
    pub page: u32,
    pub pages: u32,
    pub total: u64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

impl Pager {
    /// `base` is the path with the filters' query (ending in `?` or `&`).
    pub(crate) fn new(base: &str, page: u32, per_page: u32, total: u64) -> Pager {
        let pages = u32::try_from(total.div_ceil(u64::from(per_page.max(1)))).unwrap_or(u32::MAX).max(1);
        let link = |p: u32| format!("{base}page={p}");
        Pager {
            page,
            pages,
            total,
            prev: (page > 1).then(|| link((page - 1).min(pages))),
            next: (page < pages).then(|| link(page + 1)),
        }
    }
}

/// `?…&page=` of the list: the filters and the page number.
#[derive(Debug, Default, Deserialize, Serialize)]
struct ListQuery {
    #[serde(flatten)]
    filters: AlarmForm,
    #[serde(skip_serializing)]
    page: Option<String>,
}

/// The filter form's values, kept as they were typed.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct AlarmForm {
    #[serde(default, skip_serializing_if = "is_blank")]
    enterprise: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    outlet: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    severity: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    status: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    from: Option<String>,
    #[serde(default, skip_serializing_if = "is_blank")]
    to: Option<String>,
}

fn is_blank(v: &Option<String>) -> bool {
    v.as_deref().is_none_or(|s| s.trim().is_empty())
}

impl AlarmForm {
    fn params(&self) -> AlarmParams {
        AlarmParams {
            enterprise: self.enterprise.clone(),
            outlet: self.outlet.clone(),
            kind: self.kind.clone(),
            severity: self.severity.clone(),
            status: self.status.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
        }
    }
    fn value(v: &Option<String>) -> &str {
        v.as_deref().unwrap_or("")
    }
}

#[derive(Template)]
#[template(path = "alarms.html")]
struct ListPage {
    page: Chrome,
    form: AlarmForm,
    enterprises: Vec<Choice>,
    outlets: Vec<Choice>,
    kinds: Vec<Choice>,
    severities: Vec<Choice>,
    statuses: Vec<Choice>,
    errors: Vec<FieldError>,
    rows: Vec<Row>,
    pager: Pager,
    /// Whether any filter is set (the empty state then suggests widening it).
    filtered: bool,
}

impl ListPage {
    /// The message for `field`, in the page language.
    fn error(&self, field: &str) -> Option<&'static str> {
        self.errors.iter().find(|e| e.field == field).map(|e| self.page.t(e.key))
    }
    fn date_from(&self) -> &str {
        AlarmForm::value(&self.form.from)
    }
    fn date_to(&self) -> &str {
        AlarmForm::value(&self.form.to)
    }
}

async fn list_page(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let chrome = Chrome::signed_in(lang, &uri.to_string(), &user.actor, &user.csrf);
    let seen = match scope(&user.actor, Action::ViewEnvironment) {
        Ok(s) => s,
        Err(d) => return Ok(denied_page(chrome, d)),
    };
    let form = q.filters;
    let mut errors = Vec::new();
    let page = match q.page.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        None => 1,
        Some(p) => p.parse::<u32>().ok().filter(|n| *n >= 1).unwrap_or_else(|| {
            errors.push(FieldError {
                field: "page",
                message: format!("page: {p:?} is not a page number (1, 2, …)"),
                key: "alarms.err.page",
            });
            1
        }),
    };
    let filter = form.params().filter().unwrap_or_else(|e| {
        errors.extend(e);
        AlarmFilter::default()
    });
    let registry = store.registry().await?;
    let (rows, total) = if errors.is_empty() {
        match alarm_views::list(store.as_ref(), &user.actor, &filter, page, PER_PAGE).await {
            Ok(p) => (p.alarms.iter().map(|a| row(a, &registry, lang)).collect(), p.total),
            Err(ViewError::Denied(d)) => return Ok(denied_page(chrome, d)),
            Err(ViewError::Store(e)) => return Err(e.into()),
        }
    } else {
        (Vec::new(), 0)
    };
    let query = serde_urlencoded::to_string(&form).unwrap_or_default();
    let base = if query.is_empty() { "/alarms?".to_string() } else { format!("/alarms?{query}&") };
    let pager = Pager::new(&base, page, PER_PAGE, total);
    let list = build_list(chrome, form, &registry, &seen, lang, errors, rows, pager);
    let status = if list.errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    Ok(render_with(status, &list))
}

#[allow(clippy::too_many_arguments)]
fn build_list(
    page: Chrome,
    form: AlarmForm,
    registry: &Registry,
    seen: &Scope,
    lang: Lang,
    errors: Vec<FieldError>,
    rows: Vec<Row>,
    pager: Pager,
) -> ListPage {
    let enterprises = choices(
        registry
            .enterprises
            .iter()
            .filter(|e| seen.includes(&e.id))
            .map(|e| (e.id.clone(), format!("{} {}", e.id, e.name))),
        &form.enterprise,
    );
    // Outlets of the chosen enterprise (or every one in scope), so the list stays short.
    let chosen = form.enterprise.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let outlets = choices(
        registry
            .outlets
            .iter()
            .filter(|o| seen.includes(&o.enterprise) && chosen.is_none_or(|e| e == o.enterprise))
            .map(|o| (o.id.clone(), format!("{} {}", o.id, o.name))),
        &form.outlet,
    );
    let kinds = choices(kind_names().map(|k| (k.to_string(), kind_label(k, lang))), &form.kind);
    let severities = choices(
        Severity::ALL.into_iter().map(|s| (s.name().to_string(), format!("≥ {}", severity_label(s, lang)))),
        &form.severity,
    );
    let statuses = choices(
        [AlarmStatus::Open, AlarmStatus::Resolved]
            .into_iter()
            .map(|s| (s.name().to_string(), status_label(s, lang).to_string())),
        &form.status,
    );
    let filtered = !serde_urlencoded::to_string(&form).unwrap_or_default().is_empty();
    ListPage { page, form, enterprises, outlets, kinds, severities, statuses, errors, rows, pager, filtered }
}

/// A step of the alarm's history, in the page language.
struct HistoryRow {
    at: String,
    what: String,
}

#[derive(Template)]
#[template(path = "alarm.html")]
struct DetailPage {
    page: Chrome,
    id: i64,
    title: String,
    detail: String,
    enterprise: Option<(String, String)>,
    outlet_id: String,
    outlet: String,
    mn: String,
    factor: String,
    kind: String,
    severity: &'static str,
    severity_name: &'static str,
    status: &'static str,
    open: bool,
    resolution: Option<String>,
    period: String,
    history: Vec<HistoryRow>,
    /// The chart's data, JSON escaped for a `<script type="application/json">` block.
    chart_json: String,
    has_data: bool,
    minutes_shown: bool,
    /// The alarm's review (explanation, decision, timeline, the forms the person may use).
    wf: Option<ItemSection>,
}

/// What the chart script reads: the series and the words it shows.
#[derive(Serialize)]
struct ChartData<'a> {
    lang: &'static str,
    factor: String,
    start: i64,
    end: i64,
    from: i64,
    to: i64,
    /// `[hour start, value, exceeds]`.
    hours: Vec<(i64, Option<f64>, bool)>,
    /// `[hour start, limit]`.
    limit: Vec<(i64, Option<f64>)>,
    /// `[minute, value]`.
    minutes: Vec<(i64, Option<f64>)>,
    labels: ChartLabels<'a>,
}

#[derive(Serialize)]
struct ChartLabels<'a> {
    hourly: &'a str,
    minute: &'a str,
    limit: &'a str,
    period: &'a str,
    exceeding: &'a str,
}

/// JSON safe inside `<script type="application/json">`: no `<`, `>` or `&` that could end the
/// block or be read as markup.
pub(crate) fn script_json(v: &impl Serialize) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|_| "null".into())
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

async fn detail_page(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let chrome = Chrome::signed_in(lang, uri.path(), &user.actor, &user.csrf);
    // An id that is not a number names no alarm: the same 404 as any other missing one, after
    // the role's own check (a role that may not see alarms gets its 403 whatever the id).
    if let Err(d) = scope(&user.actor, Action::ViewEnvironment) {
        return Ok(denied_page(chrome, d));
    }
    let Ok(id) = id.parse::<i64>() else {
        return Ok(denied_page(chrome, fenhe_core::access::Denied::NotFound));
    };
    render_detail(&state, chrome, &user.actor, id, None, StatusCode::OK).await
}

/// The alarm's page with its review section (a refused review action shown in it, with the
/// refusal's status).
pub(crate) async fn render_detail(
    state: &AppState,
    chrome: Chrome,
    actor: &Actor,
    id: i64,
    refused: Option<Refused>,
    status: StatusCode,
) -> Result<Response, AppError> {
    let lang = chrome.lang;
    let d = match alarm_views::detail(state.store.as_ref(), actor, id).await {
        Ok(d) => d,
        Err(ViewError::Denied(d)) => return Ok(denied_page(chrome, d)),
        Err(ViewError::Store(e)) => return Err(e.into()),
    };
    let review = workflows::alarm_review(state, actor, id, refused, lang).await?;
    let mut page = detail(chrome, d, lang);
    page.wf = review;
    Ok(render_with(status, &page))
}

fn detail(page: Chrome, d: AlarmDetail, lang: Lang) -> DetailPage {
    let a = &d.alarm;
    let en = lang.is_english();
    let history = d
        .history
        .iter()
        .map(|s| HistoryRow {
            at: china_time::seconds_text(s.at),
            what: match &s.what {
                Step::Raised => lang.t("alarm.step.raised").to_string(),
                Step::Updated => lang.t("alarm.step.updated").to_string(),
                Step::Resolved(r) => {
                    let (open, close) = if en { (" (", ")") } else { ("（", "）") };
                    format!("{}{open}{}{close}", lang.t("alarm.step.resolved"), resolution_label(r, lang))
                }
            },
        })
        .collect();
    let s = &d.series;
    let chart = ChartData {
        lang: lang.code(),
        factor: s.factor.as_deref().map(factor_label).unwrap_or_default(),
        start: a.draft.start,
        end: a.draft.end,
        from: s.from,
        to: s.to,
        hours: s.hours.iter().map(|h| (h.start, h.value, h.exceeds)).collect(),
        limit: s.hours.iter().map(|h| (h.start, h.limit)).collect(),
        minutes: s.minutes.iter().map(|m| (m.at, m.value)).collect(),
        labels: ChartLabels {
            hourly: lang.t("alarm.chart.hourly"),
            minute: lang.t("alarm.chart.minute"),
            limit: lang.t("alarm.chart.limit"),
            period: lang.t("alarm.chart.period"),
            exceeding: lang.t("alarm.chart.exceeding"),
        },
    };
    DetailPage {
        page,
        id: a.id,
        title: if en { a.draft.title_en.clone() } else { a.draft.title_zh.clone() },
        detail: if en { a.draft.detail_en.clone() } else { a.draft.detail_zh.clone() },
        enterprise: d.enterprise.clone(),
        outlet_id: a.draft.outlet.clone(),
        outlet: d.outlet_name.clone().unwrap_or_else(|| a.draft.outlet.clone()),
        mn: a.draft.mn.clone(),
        factor: a.draft.factor.as_deref().map(factor_label).unwrap_or_else(|| "—".into()),
        kind: kind_label(&a.draft.kind, lang),
        severity: severity_label(a.draft.severity, lang),
        severity_name: a.draft.severity.name(),
        status: status_label(a.status, lang),
        open: a.status == AlarmStatus::Open,
        resolution: a.resolution.as_deref().map(|r| resolution_label(r, lang)),
        period: period_text(a.draft.start, a.draft.end),
        history,
        has_data: !s.hours.is_empty() || !s.minutes.is_empty(),
        minutes_shown: !s.minutes.is_empty(),
        chart_json: script_json(&chart),
        wf: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pager_keeps_the_filters_and_stays_in_range() {
        let p = Pager::new("/alarms?kind=offline&", 2, 50, 120);
        assert_eq!(
            (p.pages, p.prev.as_deref(), p.next.as_deref()),
            (3, Some("/alarms?kind=offline&page=1"), Some("/alarms?kind=offline&page=3"))
        );
        let empty = Pager::new("/alarms?", 1, 50, 0);
        assert_eq!((empty.pages, empty.prev, empty.next), (1, None, None));
        let beyond = Pager::new("/alarms?", 9, 50, 60);
        assert_eq!((beyond.prev.as_deref(), beyond.next), (Some("/alarms?page=2"), None));
    }

    #[test]
    fn script_json_cannot_close_its_block() {
        let s = script_json(&vec!["</script><b>&"]);
        assert!(!s.contains('<') && !s.contains('>') && !s.contains('&'), "{s}");
        let back: Vec<String> = serde_json::from_str(&s).unwrap();
        assert_eq!(back, ["</script><b>&"]);
    }
}
