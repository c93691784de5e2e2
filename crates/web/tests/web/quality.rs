//! `/quality` and `/api/v1/rates`: every route × role, the rates summed within the actor's
//! scope (an enterprise user's industry and city rows are their own enterprise's), sorting,
//! the CSV and XLSX of exactly the table shown, and the data-quality findings — over rates and
//! findings written through the store as the compliance engine writes them.

use axum::http::StatusCode;
use fenhe_core::access::Role;
use fenhe_core::compliance::{Aggregate, Evaluation, Finding, FindingKind, Period, Rate};

use crate::alarms::{D0, DAY, HOUR, outlet_of, roles};
use crate::app::TestApp;

fn rate(
    mn: &str,
    outlet: &str,
    start: i64,
    expected: u32,
    received: u32,
    valid: u32,
    exceeding: u32,
) -> Rate {
    Rate {
        mn: mn.into(),
        outlet: outlet.into(),
        period: Period::Day,
        start,
        expected,
        received,
        valid,
        transmission: f64::from(received) / f64::from(expected),
        validity: f64::from(valid) / f64::from(received),
        effective_transmission: f64::from(valid) / f64::from(expected),
        compliance: Some(f64::from(24 - exceeding) / 24.0),
        judged_hours: 24,
        exceeding_hours: exceeding,
    }
}

fn finding(mn: &str, kind: FindingKind, start: i64) -> Finding {
    Finding {
        mn: mn.into(),
        factor: None,
        kind,
        start,
        end: start + 2 * HOUR,
        detail: format!("{} seen", kind.name()),
        detail_zh: format!("发现{}", kind.name_zh()),
        open: false,
    }
}

fn hour(mn: &str, outlet: &str, start: i64) -> Aggregate {
    Aggregate {
        mn: mn.into(),
        outlet: outlet.into(),
        factor: "a21026".into(),
        period: Period::Hour,
        start,
        mean: Some(10.0),
        converted_mean: Some(10.0),
        min: Some(10.0),
        max: Some(10.0),
        valid_units: 60,
        records: 60,
        valid: true,
        reason: None,
        limit: Some(35.0),
        limit_min: None,
        exceeds: false,
    }
}

/// Two days of rates: E01 sends 90 % of its records, E02 60 %; findings for each.
async fn seeded() -> TestApp {
    let registry = fenhe_core::demo::city();
    let (o1, mn1) = outlet_of(&registry, "E01");
    let (o2, mn2) = outlet_of(&registry, "E02");
    let app = TestApp::builder().registry(registry).build().await;
    for day in [D0, D0 + DAY] {
        // E01's device sent data in 18 hours of the first day and in none of the second.
        let hours =
            if day == D0 { (0..18).map(|h| hour(&mn1, &o1, day + h * HOUR)).collect() } else { vec![] };
        let ev = Evaluation {
            hours,
            rates: vec![rate(&mn1, &o1, day, 1440, 1296, 1200, 2)],
            findings: vec![finding(&mn1, FindingKind::ConstantValue, day + 3 * HOUR)],
            ..Default::default()
        };
        app.store.save_evaluation(&mn1, day, day + DAY, &ev).await.unwrap();
        let ev = Evaluation {
            rates: vec![rate(&mn2, &o2, day, 1440, 864, 800, 0)],
            findings: vec![finding(&mn2, FindingKind::Offline, day + 5 * HOUR)],
            ..Default::default()
        };
        app.store.save_evaluation(&mn2, day, day + DAY, &ev).await.unwrap();
    }
    app
}

const PERIOD: &str = "from=2026-11-10&to=2026-11-11";

/// The rate table's rows: each row's cells as text.
fn table_rows(page: &str) -> Vec<Vec<String>> {
    let Some(start) = page.find("id=\"rates-table\"") else { return Vec::new() };
    let body = &page[start..];
    let body = &body[body.find("<tbody>").unwrap()..body.find("</tbody>").unwrap()];
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|c| {
                    let c = &c[c.find('>').unwrap() + 1..];
                    c[..c.find("</td>").unwrap()].to_string()
                })
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn the_page_for_every_role() {
    let app = seeded().await;
    assert_eq!(app.get("/quality").await.status, StatusCode::SEE_OTHER);
    for (name, role) in roles() {
        let b = app.signed_in(name, role.clone()).await;
        let r = app.get_as(&format!("/quality?{PERIOD}"), &b).await;
        match role {
            Role::Department { .. } => assert_eq!(r.status, StatusCode::FORBIDDEN, "{name}"),
            Role::Enterprise { .. } => {
                assert_eq!(r.status, StatusCode::OK);
                let page = r.text();
                let rows = table_rows(&page);
                assert_eq!(rows.len(), 2, "their enterprise's two days");
                assert!(rows.iter().all(|r| r[0].starts_with("E01 ")), "{rows:?}");
                assert!(!page.contains("E02"), "nothing of another enterprise, not even in the findings");
                assert!(page.contains("数据恒值") && !page.contains("设备离线"), "their own findings only");
                assert!(page.contains("id=\"own-scope-note\""), "says whose figures the rows are");
            }
            _ => {
                assert_eq!(r.status, StatusCode::OK, "{name}");
                let rows = table_rows(&r.text());
                assert_eq!(rows.len(), 4, "{name}");
                assert_eq!(rows[0][1], "2026-11-10");
                // Online (18 of 24 hours with data), transmission 1296/1440, validity 1200/1296
                // (valid / received), effective 1200/1440 (valid / expected), compliance 22/24.
                assert_eq!(rows[0][3], "75.0", "{rows:?}");
                assert_eq!(&rows[0][7..11], ["90.0", "92.6", "83.3", "91.7"], "{rows:?}");
                assert_eq!(rows[1][3], "0.0", "no hour with data on the second day: {rows:?}");
            }
        }
    }
}

#[tokio::test]
async fn an_enterprise_users_city_and_industry_rows_are_their_own_figures() {
    let app = seeded().await;
    app.add_user("e01", Role::Enterprise { enterprise: "E01".into() }).await;
    app.add_user("officer", Role::Bureau).await;
    let mine = app.token("e01").await;
    let all = app
        .get_bearer(&format!("/api/v1/rates?scope=city&{PERIOD}"), &app.token("officer").await)
        .await
        .json();
    assert_eq!(all["items"][0]["expected"], 2880);
    assert_eq!(all["items"][0]["received"], 1296 + 864);
    assert_eq!(
        (all["items"][0]["online_hours"].as_u64(), all["items"][0]["period_hours"].as_u64()),
        (Some(18), Some(48))
    );
    for scope in ["city", "industry"] {
        let r = app.get_bearer(&format!("/api/v1/rates?scope={scope}&{PERIOD}"), &mine).await.json();
        let items = r["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{scope}: {r}");
        assert!(items.iter().all(|i| i["expected"] == 1440 && i["received"] == 1296), "{scope}: {r}");
        assert!(items.iter().all(|i| i["period_hours"] == 24), "their device's hours only: {r}");
    }
}

#[tokio::test]
async fn columns_sort_both_ways_and_the_period_picker_keeps_its_values() {
    let app = seeded().await;
    let b = app.signed_in("officer", Role::Bureau).await;
    let page = app.get_as(&format!("/quality?{PERIOD}&sort=transmission&dir=desc"), &b).await.text();
    let rows = table_rows(&page);
    assert!(rows[0][0].starts_with("E01 ") && rows[3][0].starts_with("E02 "), "{rows:?}");
    assert!(
        page.contains("name=\"from\" value=\"2026-11-10\"")
            && page.contains("name=\"to\" value=\"2026-11-11\"")
    );
    assert!(page.contains("sort=transmission&#38;dir=asc"), "the current column's link turns the order");
    let asc = table_rows(&app.get_as(&format!("/quality?{PERIOD}&sort=transmission"), &b).await.text());
    assert!(asc[0][0].starts_with("E02 "), "{asc:?}");
    // By outlet, per month.
    let months = app.get_as("/quality?scope=outlet&period=month&from=2026-11-01&to=2026-11-30", &b).await;
    assert_eq!(months.status, StatusCode::OK);
    assert!(months.text().contains("value=\"month\" selected"));
    // Nothing in the period: the empty state says what to do.
    let none = app.get_as("/quality?from=2020-01-01&to=2020-01-02", &b).await.text();
    assert!(none.contains("所选期间没有统计结果") && none.contains("没有发现数据质量问题"), "{none}");
    // A wrong value is named beside its field.
    let bad = app.get_as("/quality?scope=province", &b).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("class=\"field-error\">请选择列表中的统计范围。"), "{}", bad.text());
    let en = app.get_as("/quality?period=week&lang=en", &b).await.text();
    assert!(en.contains("class=\"field-error\">The period is a day or a month."), "{en}");
}

#[tokio::test]
async fn csv_and_xlsx_hold_exactly_the_table_shown() {
    let app = seeded().await;
    let b = app.signed_in("officer", Role::Bureau).await;
    let page = app.get_as(&format!("/quality?{PERIOD}&sort=transmission&dir=desc"), &b).await.text();
    let shown = table_rows(&page);
    let href = page.split("href=\"/api/v1/rates?").nth(1).expect("a CSV link");
    let href = format!("/api/v1/rates?{}", &href[..href.find('"').unwrap()]).replace("&#38;", "&");
    assert!(href.contains("format=csv"), "{href}");
    let csv = app.get_as(&href, &b).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.content_type().starts_with("text/csv"));
    assert!(csv.headers["content-disposition"].to_str().unwrap().contains(".csv"));
    let text = csv.text();
    assert!(text.starts_with('\u{feff}'), "a byte-order mark for Excel");
    let lines: Vec<&str> =
        text.trim_start_matches('\u{feff}').split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("名称,日期,设备数,") && lines[0].contains("传输率（%）"), "{}", lines[0]);
    let body: Vec<Vec<String>> =
        lines[1..].iter().map(|l| l.split(',').map(str::to_string).collect()).collect();
    assert_eq!(body, shown, "the CSV is the table on the page, in its order");
    let en = app.get_as(&href.replace("lang=zh", "lang=en"), &b).await.text();
    assert!(en.contains("Name,Date,Devices,"), "{en}");
    let xlsx = app.get_as(&href.replace("format=csv", "format=xlsx"), &b).await;
    assert_eq!(xlsx.status, StatusCode::OK);
    assert!(xlsx.content_type().contains("spreadsheetml"));
    assert_eq!(&xlsx.body[..2], b"PK");
    // An enterprise user's download holds their figures only.
    let e = app.signed_in("e02", Role::Enterprise { enterprise: "E02".into() }).await;
    let theirs = app.get_as(&format!("/api/v1/rates?scope=enterprise&{PERIOD}&format=csv"), &e).await.text();
    assert_eq!(theirs.matches("\r\n").count(), 3, "header and their two days: {theirs}");
    assert!(!theirs.contains("E01"), "{theirs}");
}

#[tokio::test]
async fn the_api_for_every_role_and_its_errors() {
    let app = seeded().await;
    app.get("/api/v1/rates").await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    for (name, role) in roles() {
        app.add_user(name, role.clone()).await;
        let token = app.token(name).await;
        let r = app.get_bearer(&format!("/api/v1/rates?{PERIOD}"), &token).await;
        let csv = app.get_bearer(&format!("/api/v1/rates?{PERIOD}&format=csv"), &token).await;
        match role {
            Role::Department { .. } => {
                r.error(StatusCode::FORBIDDEN, "forbidden");
                csv.error(StatusCode::FORBIDDEN, "forbidden");
            }
            Role::Enterprise { .. } => {
                let v = r.json();
                assert_eq!(v["items"].as_array().unwrap().len(), 2);
                assert!(v["items"].as_array().unwrap().iter().all(|i| i["key"] == "E01"));
                assert_eq!(csv.status, StatusCode::OK);
            }
            _ => {
                let v = r.json();
                assert_eq!((v["scope"].as_str(), v["period"].as_str()), (Some("enterprise"), Some("day")));
                assert_eq!(v["from"], "2026-11-10T00:00:00+08:00");
                assert_eq!(v["to"], "2026-11-12T00:00:00+08:00");
                assert_eq!(v["items"].as_array().unwrap().len(), 4, "{name}");
                assert_eq!(v["items"][0]["transmission"], 0.9);
                assert_eq!(
                    (v["items"][0]["online_hours"].as_u64(), v["items"][0]["period_hours"].as_u64()),
                    (Some(18), Some(24))
                );
                assert_eq!(v["items"][0]["online"], 0.75);
                assert_eq!(csv.status, StatusCode::OK);
            }
        }
    }
    let token = app.token("officer").await;
    for (q, field) in [
        ("scope=province", "scope"),
        ("period=week", "period"),
        ("from=yesterday", "from"),
        ("sort=colour", "sort"),
        ("format=pdf", "format"),
        ("from=2026-11-12&to=2026-11-01", "to"),
    ] {
        let msg = app
            .get_bearer(&format!("/api/v1/rates?{q}"), &token)
            .await
            .error(StatusCode::BAD_REQUEST, "bad_request");
        assert!(msg.starts_with(field), "{q}: {msg}");
    }
}

#[tokio::test]
async fn a_finding_that_began_before_the_period_and_runs_into_it_is_listed() {
    let registry = fenhe_core::demo::city();
    let (_, mn) = outlet_of(&registry, "E03");
    let app = TestApp::builder().registry(registry).build().await;
    let outage = Finding { end: D0 + HOUR, ..finding(&mn, FindingKind::Offline, D0 - 2 * HOUR) };
    app.store.replace_findings(&mn, D0 - DAY, D0 + DAY, None, std::slice::from_ref(&outage)).await.unwrap();
    let b = app.signed_in("officer", Role::Bureau).await;
    let page = app.get_as("/quality?from=2026-11-10&to=2026-11-10", &b).await.text();
    assert!(page.contains("2026-11-09 22:00") && page.contains("设备离线"), "{page}");
    let later = app.get_as("/quality?from=2026-11-11&to=2026-11-11", &b).await.text();
    assert!(!later.contains("设备离线"), "over before that period");
}
