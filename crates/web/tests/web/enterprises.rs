//! `/enterprises`, `/enterprises/{id}` and their API routes for every role: who sees which
//! enterprises, what a department officer sees (profiles only), and another enterprise's file
//! answered exactly as a missing one.

use axum::http::StatusCode;
use fenhe_core::access::Role;

use crate::app::{TestApp, TestResponse};
use crate::enterprise_seed;

/// The demo city with one user and token per role; the enterprise user is E01's.
pub struct Roles {
    pub admin: String,
    pub leader: String,
    pub bureau: String,
    pub department: String,
    /// E01's user.
    pub own: String,
}

pub async fn roles(app: &TestApp) -> Roles {
    let mut tokens = Vec::new();
    for (name, role) in [
        ("root", Role::Admin),
        ("leader", Role::Leader),
        ("officer", Role::Bureau),
        ("fgw1", Role::Department { department: "fgw".into() }),
        ("e01", Role::Enterprise { enterprise: "E01".into() }),
    ] {
        app.add_user(name, role).await;
        tokens.push(app.token(name).await);
    }
    let mut t = tokens.into_iter();
    let mut next = || t.next().expect("five tokens");
    Roles { admin: next(), leader: next(), bureau: next(), department: next(), own: next() }
}

/// A 404 page's body with the asked-for id taken out (the language switch links back to the
/// page's own address): what is left must not differ between another's id and a missing one.
fn without(r: &TestResponse, id: &str) -> String {
    r.text().replace(id, "ID")
}

#[tokio::test]
async fn the_list_shows_each_role_what_it_may_see() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    let t = roles(&app).await;
    for token in [&t.admin, &t.leader, &t.bureau, &t.department] {
        let r = app.get_bearer("/api/v1/enterprises?per_page=100", token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.json()["total"], 19);
    }
    let own = app.get_bearer("/api/v1/enterprises", &t.own).await.json();
    assert_eq!(own["total"], 1, "{own}");
    assert_eq!(own["items"][0]["id"], "E01");
    // A department officer reads profiles, not states.
    let dept = app.get_bearer("/api/v1/enterprises", &t.department).await.json();
    assert!(dept["items"][0]["state"].is_null(), "{dept}");
    let bureau = app.get_bearer("/api/v1/enterprises", &t.bureau).await.json();
    assert_eq!(bureau["items"][0]["state"], "no_data", "{bureau}");

    let page = app.get_bearer("/enterprises", &t.own).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("href=\"/enterprises/E01\""), "{html}");
    assert!(!html.contains("href=\"/enterprises/E02\""));
    let page = app.get_bearer("/enterprises", &t.admin).await.text();
    assert!(page.contains("href=\"/enterprises/E02\"") && page.contains("id=\"enterprise-count\">19 "));
    // Twenty a page: the city's 19 fit on one.
    assert!(!page.contains("rel=\"next\""), "{page}");
}

#[tokio::test]
async fn the_list_filters_searches_and_pages() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    let t = roles(&app).await;
    let coking = app.get_bearer("/api/v1/enterprises?industry=coking", &t.admin).await.json();
    assert_eq!(coking["total"], 5, "{coking}");
    assert!(coking["items"].as_array().unwrap().iter().all(|e| e["industry"] == "coking"));
    let cat = app.get_bearer("/api/v1/enterprises?category=4%C2%B7%E7%85%A4%E7%94%B5", &t.admin).await.json();
    assert!(cat["total"].as_u64().unwrap() >= 3, "{cat}");
    let found =
        app.get_bearer("/api/v1/enterprises?q=%E5%B0%A7%E9%83%BD%E7%84%A6%E5%8C%96", &t.admin).await.json();
    assert_eq!(found["total"], 1, "{found}");
    let paged = app.get_bearer("/api/v1/enterprises?per_page=5&page=4", &t.admin).await.json();
    assert_eq!((paged["items"].as_array().unwrap().len(), paged["total"].as_u64()), (4, Some(19)));
    let bad = app.get_bearer("/api/v1/enterprises?page=0", &t.admin).await;
    assert!(bad.error(StatusCode::BAD_REQUEST, "bad_request").contains("from 1"));

    // The page shows the filtered rows only.
    let html = app.get_bearer("/enterprises?industry=coking", &t.admin).await.text();
    assert_eq!(html.matches("<tr>").count(), 1 + 5, "a head row and five enterprises");
    let none = app.get_bearer("/enterprises?q=nothing-like-this", &t.admin).await.text();
    assert!(none.contains("class=\"empty\"") && none.contains("href=\"/enterprises\""), "{none}");
    // An enterprise user cannot reach another enterprise through a filter or a search.
    let other = app.get_bearer("/api/v1/enterprises?q=E02", &t.own).await.json();
    assert_eq!(other["total"], 0);
}

#[tokio::test]
async fn a_file_is_the_owners_and_anothers_is_not_found() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    let t = roles(&app).await;
    for token in [&t.admin, &t.leader, &t.bureau, &t.own] {
        let r = app.get_bearer("/enterprises/E01", token).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let html = r.text();
        assert!(html.contains("91141000MA0H00001"), "the USCC: {html}");
        assert!(html.contains("id=\"outlets\"") && html.contains("id=\"devices\""));
        let api = app.get_bearer("/api/v1/enterprises/E01", token).await.json();
        assert_eq!(api["id"], "E01");
        assert_eq!(api["environment"]["outlets"].as_array().map(Vec::len), Some(2), "{api}");
    }
    // Another enterprise's file and a missing one: the same 404, page and API.
    let other = app.get_bearer("/enterprises/E02", &t.own).await;
    let missing = app.get_bearer("/enterprises/E99", &t.own).await;
    assert_eq!((other.status, missing.status), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND));
    assert_eq!(without(&other, "E02"), without(&missing, "E99"));
    let other = app.get_bearer("/api/v1/enterprises/E02", &t.own).await;
    let missing = app.get_bearer("/api/v1/enterprises/E99", &t.own).await;
    other.error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(other.body, missing.body);
    // For the other roles a missing enterprise is a 404 too.
    app.get_bearer("/api/v1/enterprises/E99", &t.admin).await.error(StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.get_bearer("/enterprises/E99", &t.admin).await.status, StatusCode::NOT_FOUND);
    // A stranger is sent to sign in, or gets the API's 401.
    let r = app.get("/enterprises/E01").await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/login?next=/enterprises/E01"));
    app.get("/api/v1/enterprises/E01").await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    app.get("/api/v1/enterprises").await.error(StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn a_department_officer_reads_the_profile_only() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    let t = roles(&app).await;
    let r = app.get_bearer("/enterprises/E03", &t.department).await;
    assert_eq!(r.status, StatusCode::OK);
    let html = r.text();
    assert!(html.contains("id=\"profile-only\"") && html.contains("环保专员03"), "{html}");
    assert!(!html.contains("id=\"outlets\"") && !html.contains("id=\"devices\""));
    let api = app.get_bearer("/api/v1/enterprises/E03", &t.department).await.json();
    assert!(api["environment"].is_null(), "{api}");
    assert_eq!(api["contacts"][0]["name"], "环保专员03");
    app.get_bearer("/api/v1/enterprises/E99", &t.department).await.error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_file_shows_latest_values_states_emissions_alarms_and_devices() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    let t = roles(&app).await;
    let (e, outlet, mn) = enterprise_seed::coal_boiler_exceeding_now(app.store.as_ref()).await;
    assert_eq!(e, "E01");
    let f = app.get_bearer("/api/v1/enterprises/E01", &t.own).await.json();
    let env = &f["environment"];
    assert_eq!(env["state"], "exceeding", "{f}");
    let o = env["outlets"].as_array().unwrap().iter().find(|o| o["id"] == outlet.as_str()).unwrap();
    assert_eq!(o["state"], "exceeding");
    let so2 = o["latest"].as_array().unwrap().iter().find(|v| v["factor"] == enterprise_seed::SO2).unwrap();
    // 80 mg/m³ measured at the reference O2 (6 %): converted 80, above the 35 in force.
    assert_eq!((so2["mean"].as_f64(), so2["converted"].as_f64()), (Some(80.0), Some(80.0)), "{so2}");
    assert_eq!((so2["limit"].as_f64(), so2["exceeds"].as_bool()), (Some(35.0), Some(true)));
    let device = env["devices"].as_array().unwrap().iter().find(|d| d["mn"] == mn.as_str()).unwrap();
    assert_eq!(device["online"], true, "{device}");
    assert!(env["open_alarms"].as_array().unwrap().iter().any(|a| a["kind"] == "exceedance"), "{env}");
    let so2_kg = env["emissions"].as_array().unwrap().iter().find(|e| e["factor"] == enterprise_seed::SO2);
    assert!(so2_kg.is_some_and(|e| e["kg"].as_f64().unwrap() > 0.0), "{env}");

    let list = app.get_bearer("/api/v1/enterprises?industry=coal_power", &t.bureau).await.json();
    let e01 = list["items"].as_array().unwrap().iter().find(|e| e["id"] == "E01").unwrap();
    assert_eq!(e01["state"], "exceeding");

    let html = app.get_bearer("/enterprises/E01?lang=en", &t.admin).await.text();
    assert!(html.contains(&format!("href=\"/outlets/{outlet}\"")), "{html}");
    assert!(html.contains("Exceeding") && html.contains(&mn));
}

#[tokio::test]
async fn an_outlet_silent_for_hours_still_shows_its_latest_values() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    let t = roles(&app).await;
    // Five hours ago: beyond the recent hours read first, within the week looked back over.
    let (_, outlet, mn, hour) = enterprise_seed::coal_boiler_silent_for(app.store.as_ref(), 5).await;
    let o = app.get_bearer(&format!("/api/v1/outlets/{outlet}"), &t.bureau).await.json();
    let so2 = o["latest"].as_array().unwrap().iter().find(|v| v["factor"] == enterprise_seed::SO2);
    let so2 = so2.unwrap_or_else(|| panic!("SO2's latest hour is shown: {o}"));
    assert_eq!(so2["mn"], mn.as_str());
    assert_eq!(so2["hour"], fenhe_core::china_time::iso(hour), "{so2}");
    assert_eq!(so2["mean"].as_f64(), Some(20.0), "{so2}");
}

#[tokio::test]
async fn the_years_emissions_add_up_the_engines_days() {
    use fenhe_core::compliance::Period;
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    let t = roles(&app).await;
    let (e, _, mn, day) = enterprise_seed::coal_boiler_day_two_months_ago(app.store.as_ref()).await;
    let now = fenhe_core::china_time::now_ms();
    let year = fenhe_core::china_time::year_start(now);
    // What the engine stored for the day, read as its day rows (the file reads month rows for
    // months before last month: the two must agree).
    let q = fenhe_store::EmissionQuery {
        mn: Some(mn.clone()),
        period: Some(Period::Day),
        from: Some(year),
        ..Default::default()
    };
    let days: f64 = app
        .store
        .emissions(&q)
        .await
        .unwrap()
        .iter()
        .filter(|r| r.factor == enterprise_seed::SO2)
        .map(|r| r.kg)
        .sum();
    if day >= year {
        assert!(days > 0.0, "the day's SO2 is an emission of the year");
    }
    let f = app.get_bearer(&format!("/api/v1/enterprises/{e}"), &t.bureau).await.json();
    let so2 = f["environment"]["emissions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["factor"] == enterprise_seed::SO2);
    let shown = so2.and_then(|r| r["kg"].as_f64()).unwrap_or(0.0);
    assert!(
        (shown - days).abs() < 1e-6 * days.max(1.0),
        "shown {shown} kg, the engine's days {days} kg: {f}"
    );
}
