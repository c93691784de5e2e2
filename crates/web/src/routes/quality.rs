//! `/quality`: 数据质量 — the rates by outlet, enterprise, industry or city, per day or month,
//! sortable by any column and downloadable (CSV, XLSX) exactly as shown, and the data-quality
//! findings of the period. What is shown comes from `fenhe_app::quality_views`, which applies
//! the access policy (an enterprise user sees figures summed from their own devices only).

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use fenhe_app::alarm_views::ViewError;
use fenhe_app::quality_views;
use fenhe_core::access::{Action, scope};
use fenhe_core::china_time;
use fenhe_core::compliance::{Period, Scope};
use fenhe_store::Store;
use serde::Deserialize;

use crate::alarm_labels::{factor_label, finding_label};
use crate::alarm_params::FieldError;
use crate::chrome::{Chrome, render_with};
use crate::day_range;
use crate::error::AppError;
use crate::extract::Query;
use crate::i18n::Lang;
use crate::rate_table::{self, RateParams, SORTS};
use crate::routes::alarms::{Choice, Pager};
use crate::routes::denied_page;
use crate::session::PageUser;
use crate::state::AppState;
use crate::table_export::Table;

/// Findings a page.
const FINDINGS_PER_PAGE: u32 = 50;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/quality", get(page))
}

#[derive(Debug, Default, Deserialize)]
struct QualityQuery {
    #[serde(flatten)]
    rates: RateParams,
    /// The findings' page.
    page: Option<String>,
}

/// A column head: its label, the link that sorts by it, and the arrow when it is the sort.
struct Head {
    label: String,
    href: String,
    arrow: &'static str,
    numeric: bool,
}

struct FindingRow {
    start: String,
    end: String,
    enterprise: String,
    outlet_id: String,
    mn: String,
    factor: String,
    kind: String,
    detail: String,
    open: bool,
}

#[derive(Template)]
#[template(path = "quality.html")]
struct QualityPage {
    page: Chrome,
    scopes: Vec<Choice>,
    periods: Vec<Choice>,
    from: String,
    to: String,
    sort: String,
    dir: String,
    errors: Vec<FieldError>,
    heads: Vec<Head>,
    /// Cells as shown; numbers right-aligned.
    rows: Vec<Vec<(String, bool)>>,
    csv_href: String,
    xlsx_href: String,
    may_export: bool,
    findings: Vec<FindingRow>,
    findings_pager: Pager,
    city_wide: bool,
}

impl QualityPage {
    /// The message for `field`, in the page language.
    fn error(&self, field: &str) -> Option<&'static str> {
        self.errors.iter().find(|e| e.field == field).map(|e| self.page.t(e.key))
    }
}

fn encode(pairs: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

async fn page(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    Query(q): Query<QualityQuery>,
) -> Result<Response, AppError> {
    let chrome = Chrome::signed_in(lang, &uri.to_string(), &user.actor, &user.csrf);
    let seen = match scope(&user.actor, Action::ViewEnvironment) {
        Ok(s) => s,
        Err(d) => return Ok(denied_page(chrome, d)),
    };
    let now = china_time::now_ms();
    let mut errors = Vec::new();
    let req = q.rates.resolve(now).unwrap_or_else(|e| {
        errors.extend(e);
        // Show the defaults' table beneath the messages rather than nothing.
        rate_table::default_request(now)
    });
    let fpage = match day_range::given(&q.page) {
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
    let loaded = async {
        let mut rows = quality_views::rates(
            store.as_ref(),
            &user.actor,
            req.by,
            req.period,
            Some(req.from),
            Some(req.to),
            now,
        )
        .await?;
        rate_table::sort(&mut rows, &req, lang);
        let findings = quality_views::findings(
            store.as_ref(),
            &user.actor,
            Some(req.from),
            Some(req.to),
            fpage,
            FINDINGS_PER_PAGE,
        )
        .await?;
        Ok::<_, ViewError>((rows, findings))
    };
    let (rows, findings) = match loaded.await {
        Ok(v) => v,
        Err(ViewError::Denied(d)) => return Ok(denied_page(chrome, d)),
        Err(ViewError::Store(e)) => return Err(e.into()),
    };
    let registry = store.registry().await?;
    let table: Table = rate_table::table(&rows, req.period, lang);

    // What the form shows: the values as resolved, so defaults appear in the pickers.
    let from = day_range::date_text(req.from);
    let to = day_range::date_text(req.to - 1);
    let scope_name = req.by.name();
    let period_name = req.period.name();
    let dir = if req.desc { "desc" } else { "asc" };
    let base = |extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("scope", scope_name),
            ("period", period_name),
            ("from", from.as_str()),
            ("to", to.as_str()),
        ];
        pairs.extend_from_slice(extra);
        encode(&pairs)
    };
    let heads = SORTS
        .iter()
        .zip(&table.headers)
        .enumerate()
        .map(|(i, (key, label))| {
            let current = *key == req.sort;
            let next_dir = if current && !req.desc { "desc" } else { "asc" };
            Head {
                label: label.clone(),
                href: format!("/quality?{}", base(&[("sort", key), ("dir", next_dir)])),
                arrow: match (current, req.desc) {
                    (false, _) => "",
                    (true, false) => " ▲",
                    (true, true) => " ▼",
                },
                numeric: i >= 2,
            }
        })
        .collect();
    let shown: Vec<Vec<(String, bool)>> =
        table.rows.iter().map(|r| r.iter().map(|c| (c.shown(), c.is_number())).collect()).collect();
    let export = |format: &str| {
        format!(
            "/api/v1/rates?{}",
            base(&[("sort", req.sort), ("dir", dir), ("format", format), ("lang", lang.code())])
        )
    };
    let findings_base = format!("/quality?{}&", base(&[("sort", req.sort), ("dir", dir)]));
    let findings_pager = Pager::new(&findings_base, findings.page, findings.per_page, findings.total);
    let en = lang.is_english();
    let finding_rows = findings
        .findings
        .iter()
        .map(|p| {
            let f = &p.finding;
            FindingRow {
                start: china_time::minute_text(f.start),
                end: china_time::minute_text(f.end),
                enterprise: p
                    .enterprise
                    .as_deref()
                    .and_then(|e| registry.enterprise(e))
                    .map(|e| e.name.clone())
                    .unwrap_or_default(),
                outlet_id: p.outlet.clone().unwrap_or_default(),
                mn: f.mn.clone(),
                factor: f.factor.as_deref().map(factor_label).unwrap_or_else(|| "—".into()),
                kind: finding_label(f.kind, lang).to_string(),
                detail: if en || f.detail_zh.is_empty() { f.detail.clone() } else { f.detail_zh.clone() },
                open: f.open,
            }
        })
        .collect();
    let scopes = Scope::ALL
        .into_iter()
        .map(|s| Choice {
            value: s.name().to_string(),
            label: lang.t(&format!("quality.scope.{}", s.name())).to_string(),
            selected: s == req.by,
        })
        .collect();
    let periods = [Period::Day, Period::Month]
        .into_iter()
        .map(|p| Choice {
            value: p.name().to_string(),
            label: lang.t(&format!("quality.period.{}", p.name())).to_string(),
            selected: p == req.period,
        })
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::BAD_REQUEST };
    let page = QualityPage {
        page: chrome,
        scopes,
        periods,
        from: from.clone(),
        to: to.clone(),
        sort: req.sort.to_string(),
        dir: dir.to_string(),
        errors,
        heads,
        rows: shown,
        csv_href: export("csv"),
        xlsx_href: export("xlsx"),
        may_export: scope(&user.actor, Action::ExportEnvironment).is_ok(),
        findings: finding_rows,
        findings_pager,
        city_wide: seen == fenhe_core::access::Scope::All,
    };
    Ok(render_with(status, &page))
}
