//! `/`: the overview — rates today and this month, open alarms by kind, the outlets with the most
//! exceedance, 7- and 30-day trends, the schematic map and each enterprise's state now; live by
//! `/events`. The figures are the use case's ([`fenhe_app::city_overview`], through
//! [`crate::overview_view`]): the city's for the roles that see the city, the own enterprise's
//! for an enterprise user, and a plain note for a role with no environmental data (a department
//! officer, until the workflow pages).

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Html;
use axum::routing::get;
use fenhe_core::compliance::FindingKind;
use fenhe_store::Store;

use crate::alarm_labels::kind_label;
use crate::overview_cache::OverviewCache;

use crate::chrome::{Chrome, render};
use crate::error::AppError;
use crate::i18n::Lang;
use crate::overview_view::{self, OverviewJson};
use crate::routes::workflows::summary::{OverdueTile, overdue_tile};
use crate::session::PageUser;
use crate::state::{AppState, Live};

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/", get(page))
}

/// A rate tile: today big, the month beneath.
pub(crate) struct RateTile {
    pub id: &'static str,
    pub label: &'static str,
    pub today: String,
    pub month: String,
}

/// An enterprise's row in the state table.
pub(crate) struct EnterpriseRow {
    pub id: String,
    pub name: String,
    pub state: String,
    pub state_label: &'static str,
    pub online: String,
    pub open_alarms: usize,
}

/// The figures the template shows, formatted in the page's language.
pub(crate) struct Figures {
    pub o: OverviewJson,
    pub tiles: Vec<RateTile>,
    pub kinds: Vec<(String, usize)>,
    pub enterprises: Vec<EnterpriseRow>,
    /// The overview as JSON for the page's script (charts, map), escaped for a data block.
    pub data_json: String,
    /// When the figures were computed, `YYYY-MM-DD HH:MM` China time.
    pub at_text: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    page: Chrome,
    figures: Option<Figures>,
    /// Overdue supervision items in the person's scope.
    overdue: Option<OverdueTile>,
    /// The script's labels, as JSON for a data block.
    labels_json: String,
}

/// A share as a percentage with one decimal, or a dash when there is none.
pub(crate) fn percent(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{:.1}%", v * 100.0),
        _ => "—".to_string(),
    }
}

pub(crate) fn state_label(state: &str, lang: Lang) -> &'static str {
    lang.t(match state {
        "exceeding" => "overview.state.exceeding",
        "offline" => "overview.state.offline",
        "compliant" => "overview.state.compliant",
        _ => "overview.state.no_data",
    })
}

/// JSON safe inside `<script type="application/json">`: no `<` can close the block.
pub(crate) fn data_block(v: &impl serde::Serialize) -> Result<String, AppError> {
    let text = serde_json::to_string(v).map_err(crate::error::internal)?;
    Ok(text.replace('<', "\\u003c"))
}

/// The labels the overview's and the screen's scripts draw with, in the page's language.
pub(crate) fn labels(lang: Lang) -> Result<String, AppError> {
    let mut m = serde_json::Map::new();
    let keys = [
        "overview.state.exceeding",
        "overview.state.offline",
        "overview.state.compliant",
        "overview.state.no_data",
        "overview.rate.online",
        "overview.rate.transmission",
        "overview.rate.validity",
        "overview.rate.compliance",
        "overview.exceeding_hours",
        "overview.map.county",
        "overview.map.open",
        "overview.devices",
        "overview.alarms",
        "overview.event.alarm_raised",
        "overview.event.alarm_updated",
        "overview.event.alarm_resolved",
        "overview.event.device_online",
        "overview.event.device_offline",
        "overview.live.on",
        "overview.live.off",
        "overview.trend.none",
        "overview.month",
        "overview.today",
    ];
    for k in keys {
        m.insert(k.to_string(), lang.t(k).into());
    }
    let mut kinds = serde_json::Map::new();
    kinds.insert("exceedance".into(), kind_label("exceedance", lang).into());
    for k in FindingKind::ALL {
        kinds.insert(k.name().into(), kind_label(k.name(), lang).into());
    }
    m.insert("kinds".into(), kinds.into());
    m.insert("lang".into(), lang.code().into());
    data_block(&m)
}

pub(crate) fn figures(o: OverviewJson, lang: Lang) -> Result<Figures, AppError> {
    let tile = |id, key, today: Option<f64>, month: Option<f64>| RateTile {
        id,
        label: lang.t(key),
        today: percent(today),
        month: percent(month),
    };
    let tiles = vec![
        tile("rate-online", "overview.rate.online", o.today.online, o.month.online),
        tile("rate-transmission", "overview.rate.transmission", o.today.transmission, o.month.transmission),
        tile("rate-validity", "overview.rate.validity", o.today.validity, o.month.validity),
        tile("rate-compliance", "overview.rate.compliance", o.today.compliance, o.month.compliance),
    ];
    let kinds = o.alarms_by_kind.iter().map(|k| (kind_label(&k.kind, lang), k.count)).collect();
    // The table leads with what needs attention: exceeding, offline, no data, then compliant.
    let rank = |state: &str| match state {
        "exceeding" => 0,
        "offline" => 1,
        "no_data" => 2,
        _ => 3,
    };
    let mut ordered: Vec<_> = o.enterprises.iter().collect();
    ordered.sort_by(|a, b| rank(&a.state).cmp(&rank(&b.state)).then_with(|| a.id.cmp(&b.id)));
    let enterprises = ordered
        .into_iter()
        .map(|e| EnterpriseRow {
            id: e.id.clone(),
            name: e.name.clone(),
            state: e.state.clone(),
            state_label: state_label(&e.state, lang),
            online: format!("{} / {}", e.devices_online, e.devices),
            open_alarms: e.open_alarms,
        })
        .collect();
    let data_json = data_block(&o)?;
    let at_text = o.at.get(..16).unwrap_or(&o.at).replace('T', " ");
    Ok(Figures { o, tiles, kinds, enterprises, data_json, at_text })
}

async fn page(
    PageUser(user): PageUser,
    lang: Lang,
    uri: Uri,
    State(store): State<Arc<dyn Store>>,
    State(live): State<Live>,
    State(cache): State<Arc<OverviewCache>>,
    State(state): State<AppState>,
) -> Result<Html<String>, AppError> {
    let chrome = Chrome::signed_in(lang, uri.path(), &user.actor, &user.csrf);
    // A role that may not see environmental data gets the frame and a note instead of an error.
    let figures = match overview_view::load(store.as_ref(), &live, &cache, &user.actor).await? {
        Ok(o) => Some(figures(o, lang)?),
        Err(_) => None,
    };
    let overdue = overdue_tile(&state, &user.actor, lang).await?;
    render(&OverviewPage { page: chrome, figures, overdue, labels_json: labels(lang)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_percentages_and_absent_ones_a_dash() {
        assert_eq!(percent(Some(0.9876)), "98.8%");
        assert_eq!(percent(None), "—");
        assert_eq!(percent(Some(f64::NAN)), "—");
    }

    #[test]
    fn a_data_block_cannot_be_closed_by_its_content() {
        let s = data_block(&serde_json::json!({"name": "</script><script>alert(1)"})).unwrap();
        assert!(!s.contains('<'), "{s}");
        let back: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(back["name"], "</script><script>alert(1)");
    }
}
