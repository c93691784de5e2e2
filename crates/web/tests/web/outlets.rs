//! `/outlets/{id}` and `/api/v1/outlets…` for every role: the outlets a role may see, the series
//! at each resolution over real stored data (the limit in force changing at its effective date,
//! flags, invalid hours, the exceedance episode), the CSV and XLSX downloads, bad parameters
//! refused with the reason, and another enterprise's outlet answered exactly as a missing one.

use axum::http::{StatusCode, header};

use crate::app::TestApp;
use crate::enterprise_seed::{self, PM};
use crate::enterprises::{Roles, roles};

const WINDOW: &str = "from=2024-12-31&to=2025-01-01";

async fn seeded() -> (TestApp, Roles, String, String) {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    let t = roles(&app).await;
    let (e, outlet, _) = enterprise_seed::coke_oven_across_the_limit_change(app.store.as_ref()).await;
    (app, t, e, outlet)
}

#[tokio::test]
async fn every_route_answers_each_role_as_the_policy_says() {
    let (app, t, e, outlet) = seeded().await;
    assert_ne!(e, "E01", "the coke oven is another enterprise's than the enterprise user's");
    let series = format!("/api/v1/outlets/{outlet}/series?resolution=hour&{WINDOW}&factor={PM}");
    let routes = [
        format!("/outlets/{outlet}"),
        format!("/api/v1/outlets/{outlet}"),
        series.clone(),
        format!("{series}&format=csv"),
        format!("{series}&format=xlsx"),
        format!("/api/v1/outlets?enterprise={e}"),
    ];
    for route in &routes {
        for (who, token) in [("admin", &t.admin), ("leader", &t.leader), ("bureau", &t.bureau)] {
            let r = app.get_bearer(route, token).await;
            assert_eq!(r.status, StatusCode::OK, "{who} {route}: {}", r.text());
        }
        // A department officer may not see environmental data at all: 403, whatever the id.
        let r = app.get_bearer(route, &t.department).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "department {route}");
        let missing =
            route.replace(&outlet, "E99-DA001").replace(&format!("enterprise={e}"), "enterprise=E99");
        assert_eq!(app.get_bearer(&missing, &t.department).await.status, StatusCode::FORBIDDEN, "{missing}");
        // The enterprise user: another enterprise's outlet is not found, exactly as a missing one.
        let other = app.get_bearer(route, &t.own).await;
        let none = app.get_bearer(&missing, &t.own).await;
        assert_eq!(other.status, StatusCode::NOT_FOUND, "own {route}: {}", other.text());
        assert_eq!(none.status, StatusCode::NOT_FOUND, "own {missing}");
        if route.starts_with("/api/") {
            assert_eq!(other.body, none.body, "{route}");
            assert_eq!(other.content_type(), none.content_type());
        } else {
            assert_eq!(other.text().replace(&outlet, "X"), none.text().replace("E99-DA001", "X"));
        }
        // No session at all.
        let r = app.get(route).await;
        assert!(
            matches!(r.status, StatusCode::UNAUTHORIZED | StatusCode::SEE_OTHER),
            "{route}: {}",
            r.status
        );
    }
    // The enterprise user's own outlets, every route.
    let own = app.get_bearer("/api/v1/outlets", &t.own).await.json();
    let ids: Vec<&str> = own["items"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["E01-DA001", "E01-DA002"], "{own}");
    for route in [
        "/outlets/E01-DA001".to_string(),
        "/api/v1/outlets/E01-DA001".to_string(),
        "/api/v1/outlets?enterprise=E01".to_string(),
        "/api/v1/outlets/E01-DA001/series?resolution=day".to_string(),
        "/api/v1/outlets/E01-DA001/series?resolution=minute&format=csv".to_string(),
        "/api/v1/outlets/E01-DA001/series?format=xlsx".to_string(),
    ] {
        let r = app.get_bearer(&route, &t.own).await;
        assert_eq!(r.status, StatusCode::OK, "own {route}: {}", r.text());
    }
    let all = app.get_bearer("/api/v1/outlets?per_page=500", &t.admin).await.json();
    assert_eq!(all["total"].as_u64(), Some(fenhe_core::demo::city().outlets.len() as u64));
}

#[tokio::test]
async fn the_hourly_series_honours_the_limit_change_at_its_effective_date() {
    let (app, t, _, outlet) = seeded().await;
    let r = app
        .get_bearer(
            &format!("/api/v1/outlets/{outlet}/series?resolution=hour&{WINDOW}&factor={PM}"),
            &t.bureau,
        )
        .await;
    let s = r.json();
    assert_eq!(s["resolution"], "hour");
    assert_eq!(
        (s["from"].as_str(), s["to"].as_str()),
        (Some("2024-12-31T00:00:00+08:00"), Some("2025-01-02T00:00:00+08:00"))
    );
    let f = &s["factors"][0];
    assert_eq!((f["factor"].as_str(), f["converted"].as_bool()), (Some(PM), Some(true)));
    let points = f["points"].as_array().unwrap();
    assert_eq!(points.len(), 48, "{f}");
    // The limit steps: 15 until 2025-01-01 00:00, 10 from then on.
    let limits = f["limits"].as_array().unwrap();
    assert_eq!(limits.len(), 2, "{limits:?}");
    assert_eq!(
        (limits[0]["max"].as_f64(), limits[0]["to"].as_str()),
        (Some(15.0), Some("2025-01-01T00:00:00+08:00"))
    );
    assert_eq!(
        (limits[1]["max"].as_f64(), limits[1]["from"].as_str()),
        (Some(10.0), Some("2025-01-01T00:00:00+08:00"))
    );
    for p in points {
        let new_year = p["t"].as_str().unwrap().starts_with("2025-01-01");
        assert_eq!(p["limit"].as_f64(), Some(if new_year { 10.0 } else { 15.0 }), "{p}");
        let maintenance = p["t"] == "2024-12-31T10:00:00+08:00";
        let converted = if maintenance { None } else { Some(12.0) };
        assert_eq!(p["converted"].as_f64(), converted, "{p}");
        assert_eq!(p["valid"].as_bool(), Some(!maintenance), "{p}");
        // The same 12 mg/m³ is within the old limit and above the new one.
        assert_eq!(p["exceeds"].as_bool(), Some(new_year), "{p}");
    }
    let invalid = points.iter().find(|p| p["valid"] == false).unwrap();
    assert_eq!(invalid["reason"], "no_valid_data", "{invalid}");
    // One episode from the new limit's first hour; the maintenance hour as a flag band.
    let episodes = f["episodes"].as_array().unwrap();
    assert_eq!(episodes.len(), 1, "{episodes:?}");
    assert_eq!(episodes[0]["from"], "2025-01-01T00:00:00+08:00");
    assert_eq!(episodes[0]["limit"].as_f64(), Some(10.0));
    let flags = f["flags"].as_array().unwrap();
    assert!(flags.iter().any(|b| b["kind"] == "M" && b["from"] == "2024-12-31T10:00:00+08:00"), "{flags:?}");

    // Days: the day before within, the day of the change above.
    let d = app
        .get_bearer(
            &format!("/api/v1/outlets/{outlet}/series?resolution=day&{WINDOW}&factor={PM}"),
            &t.bureau,
        )
        .await
        .json();
    let days = d["factors"][0]["points"].as_array().unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!((days[0]["limit"].as_f64(), days[1]["limit"].as_f64()), (Some(15.0), Some(10.0)));

    // Without a factor every factor of the outlet comes, the limited ones first.
    let all = app.get_bearer(&format!("/api/v1/outlets/{outlet}/series?{WINDOW}"), &t.bureau).await.json();
    let codes: Vec<&str> =
        all["factors"].as_array().unwrap().iter().map(|f| f["factor"].as_str().unwrap()).collect();
    assert_eq!(&codes[..3], ["a34013", "a21026", "a21002"], "{codes:?}");
    assert!(codes.contains(&"a19001"));
}

#[tokio::test]
async fn minutes_carry_their_flags_and_their_converted_values() {
    let (app, t, _, outlet) = seeded().await;
    let url = format!(
        "/api/v1/outlets/{outlet}/series?resolution=minute&from=2024-12-31T09:30&to=2024-12-31T11:30&factor={PM}"
    );
    let s = app.get_bearer(&url, &t.admin).await.json();
    let f = &s["factors"][0];
    let points = f["points"].as_array().unwrap();
    assert_eq!(points.len(), 120);
    let flagged: Vec<_> = points.iter().filter(|p| p["flag"] == "M").collect();
    assert_eq!(flagged.len(), 60);
    assert!(flagged.iter().all(|p| p["valid"] == false));
    assert_eq!(points[0]["converted"].as_f64(), Some(12.0), "O2 8 % = the reference: {}", points[0]);
    let bands = f["flags"].as_array().unwrap();
    assert_eq!(bands.len(), 1, "{bands:?}");
    assert_eq!(
        (bands[0]["from"].as_str(), bands[0]["to"].as_str()),
        (Some("2024-12-31T10:00:00+08:00"), Some("2024-12-31T11:00:00+08:00"))
    );
}

#[tokio::test]
async fn bad_parameters_say_what_is_wrong() {
    let (app, t, _, outlet) = seeded().await;
    let base = format!("/api/v1/outlets/{outlet}/series");
    let msg = |r: crate::app::TestResponse| r.error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(
        msg(app.get_bearer(&format!("{base}?from=yesterday"), &t.admin).await)
            .starts_with("from: \"yesterday\" is not a time")
    );
    assert!(msg(app.get_bearer(&format!("{base}?to=2025-02-30"), &t.admin).await).starts_with("to: "));
    assert!(
        msg(app.get_bearer(&format!("{base}?resolution=week"), &t.admin).await).contains("minute, hour, day")
    );
    let long = msg(app
        .get_bearer(&format!("{base}?resolution=minute&from=2024-11-01&to=2024-12-31"), &t.admin)
        .await);
    assert!(long.contains("longer than 31 days"), "{long}");
    assert!(
        msg(app.get_bearer(&format!("{base}?from=2025-01-02&to=2025-01-01"), &t.admin).await)
            .contains("before")
    );
    assert!(
        msg(app.get_bearer(&format!("{base}?factor=w01018"), &t.admin).await)
            .contains("not measured at outlet")
    );
    assert!(msg(app.get_bearer(&format!("{base}?format=pdf"), &t.admin).await).contains("json, csv, xlsx"));
    // The page shows the problem in its form instead of a chart.
    let page = app.get_bearer(&format!("/outlets/{outlet}?from=yesterday"), &t.admin).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("id=\"series-problem\"") && html.contains("yesterday"), "{html}");
    assert!(!html.contains("id=\"outlet-chart\""));
}

#[tokio::test]
async fn the_csv_opens_in_excel_and_holds_what_is_on_screen() {
    let (app, t, _, outlet) = seeded().await;
    let url = format!("/api/v1/outlets/{outlet}/series?resolution=hour&{WINDOW}&factor={PM}");
    let r = app.get_bearer(&format!("{url}&format=csv"), &t.admin).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.content_type().starts_with("text/csv"), "{}", r.content_type());
    let disposition = r.headers.get(header::CONTENT_DISPOSITION).unwrap().to_str().unwrap();
    assert!(disposition.contains(&format!("{outlet}_{PM}_hour_20241231-20250101.csv")), "{disposition}");
    assert!(r.body.starts_with(b"\xEF\xBB\xBF"), "the BOM first");
    let mut reader = csv::Reader::from_reader(&r.body[3..]);
    let head: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(head[4], "时间（北京时间）", "{head:?}");
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    let json = app.get_bearer(&url, &t.admin).await.json();
    assert_eq!(rows.len(), json["factors"][0]["points"].as_array().unwrap().len());
    assert_eq!(&rows[0][4], "2024-12-31 00:00");
    assert_eq!((&rows[0][6], &rows[0][9]), ("12", "15"));
    assert_eq!((&rows[47][4], &rows[47][9], &rows[47][12]), ("2025-01-01 23:00", "10", "是"));
    // In English when the person reads English.
    let en = app.get_bearer(&format!("{url}&format=csv&lang=en"), &t.admin).await;
    assert!(String::from_utf8_lossy(&en.body).contains("Time (China time)"));
}

#[tokio::test]
async fn the_xlsx_is_a_workbook_with_the_sheet() {
    let (app, t, _, outlet) = seeded().await;
    let r = app
        .get_bearer(
            &format!("/api/v1/outlets/{outlet}/series?resolution=day&{WINDOW}&factor={PM}&format=xlsx"),
            &t.leader,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.content_type(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    assert!(r.body.starts_with(b"PK\x03\x04"), "a zip archive");
    let has = |name: &[u8]| r.body.windows(name.len()).any(|w| w == name);
    assert!(has(b"xl/worksheets/sheet1.xml") && has(b"xl/workbook.xml"), "the workbook and its sheet");
}

#[tokio::test]
async fn the_page_links_its_series_and_downloads_and_marks_the_language() {
    let (app, t, e, outlet) = seeded().await;
    let html = app
        .get_bearer(
            &format!(
                "/outlets/{outlet}?resolution=hour&from=2024-12-31T00:00&to=2025-01-02T00:00&factor={PM}"
            ),
            &t.admin,
        )
        .await
        .text()
        .replace("&#38;", "&amp;");
    let series = format!(
        "/api/v1/outlets/{outlet}/series?resolution=hour&amp;from=2024-12-31T00%3A00%3A00%2B08%3A00&amp;to=2025-01-02T00%3A00%3A00%2B08%3A00&amp;factor={PM}"
    );
    assert!(html.contains(&format!("data-series=\"{series}\"")), "{html}");
    assert!(html.contains(&format!("href=\"{series}&amp;format=csv\"")));
    assert!(html.contains(&format!("href=\"{series}&amp;format=xlsx\"")));
    assert!(html.contains("outlet-chart.js") && html.contains("echarts.min.js"));
    assert!(html.contains(&format!("href=\"/enterprises/{e}\"")));
    assert!(html.contains("value=\"2024-12-31T00:00\""), "the period in the form");
    // No inline script or style: the chart's texts ride in a data attribute.
    assert!(!html.contains("style=\"") && !html.contains("<script>"));
    let en = app.get_bearer(&format!("/outlets/{outlet}?lang=en"), &t.admin).await.text();
    assert!(en.contains("Download CSV") && en.contains("&#34;measured&#34;:&#34;Measured&#34;"), "{en}");
}
