//! `/static/{hash}/{name}`: the embedded files, cached for a year (their address changes with
//! their content), gzipped for a client that accepts it; `/static/licenses`: the vendored
//! components' licences, public like the files they cover.

use askama::Template;
use axum::Router;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::assets::{self, LICENSES, License};
use crate::chrome::{Chrome, render};
use crate::error::{AppError, not_found};
use crate::extract::Path;
use crate::i18n::Lang;
use crate::state::AppState;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/static/licenses", get(licenses))
        .route("/static/licenses/{name}", get(license_text))
        .route("/static/{hash}/{name}", get(file))
}

/// Whether the client takes gzip (`Accept-Encoding: gzip, br` and the like; `gzip;q=0` refuses).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.trim().split(';');
            let coding = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| {
                p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()).is_some_and(|q| q == 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

fn serve(asset: &'static assets::Asset, headers: &HeaderMap, cache: &'static str) -> Response {
    let mut h = HeaderMap::new();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    // Caches must keep the gzipped and the plain answer apart.
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    match &asset.gzip {
        Some(gz) if accepts_gzip(headers) => {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            (h, gz.clone()).into_response()
        }
        _ => (h, asset.bytes).into_response(),
    }
}

async fn file(Path((hash, name)): Path<(String, String)>, headers: HeaderMap) -> Result<Response, AppError> {
    // Hashing and compressing the first time is CPU work: off the async threads.
    let all = tokio::task::spawn_blocking(assets::all).await.map_err(crate::error::internal)?;
    // An old hash (a page cached from the previous build) is a miss, not the new content under
    // an address that promises to be immutable.
    let asset = all
        .iter()
        .find(|a| a.name == name && a.hash == hash)
        .ok_or_else(|| not_found(format!("no static file {hash}/{name}")))?;
    Ok(serve(asset, &headers, IMMUTABLE))
}

async fn license_text(Path(name): Path<String>, headers: HeaderMap) -> Result<Response, AppError> {
    let known = LICENSES.iter().any(|l| l.files.contains(&name.as_str()));
    let asset =
        assets::find(&name).filter(|_| known).ok_or_else(|| not_found(format!("no licence {name}")))?;
    Ok(serve(asset, &headers, "public, max-age=3600"))
}

#[derive(Template)]
#[template(path = "licenses.html")]
struct LicensesPage {
    page: Chrome,
    licenses: &'static [License],
}

async fn licenses(lang: Lang) -> Result<impl IntoResponse, AppError> {
    render(&LicensesPage { page: Chrome::anonymous(lang, "/static/licenses"), licenses: LICENSES })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(v: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
        h
    }

    #[test]
    fn gzip_is_sent_only_when_accepted() {
        assert!(accepts_gzip(&with("gzip, deflate, br")));
        assert!(accepts_gzip(&with("br;q=1.0, GZIP;q=0.5")));
        assert!(accepts_gzip(&with("*")));
        assert!(!accepts_gzip(&with("gzip;q=0, br")));
        assert!(!accepts_gzip(&with("br")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }
}
