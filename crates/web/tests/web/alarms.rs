//! `/alarms`, `/alarms/{id}`, `/api/v1/alarms` and `/api/v1/alarms/{id}`: every route × role,
//! an enterprise user's isolation (another enterprise's alarm is the same 404 as a missing one),
//! the filters, the pages, and the detail's chart data — over alarms and hourly results written
//! through the store as the compliance engine writes them.

use axum::http::StatusCode;
use fenhe_core::access::Role;
use fenhe_core::compliance::{Aggregate, AlarmDraft, Evaluation, Period, Severity};
use fenhe_core::registry::Registry;
use fenhe_store::{AlarmQuery, AlarmStatus};

use crate::app::{Browser, TestApp};

pub const HOUR: i64 = 3_600_000;
pub const DAY: i64 = 24 * HOUR;
/// 2026-11-10 00:00 China time.
pub const D0: i64 = 1_794_240_000_000;

/// The first outlet of `enterprise` in the demo registry and the MN of its device.
pub fn outlet_of(r: &Registry, enterprise: &str) -> (String, String) {
    let o = r.outlets.iter().find(|o| o.enterprise == enterprise).expect("the enterprise has an outlet");
    let d = r.devices.iter().find(|d| d.outlet == o.id).expect("the outlet has a device");
    (o.id.clone(), d.mn.clone())
}

fn draft(
    mn: &str,
    outlet: &str,
    key: &str,
    kind: &str,
    severity: Severity,
    start: i64,
    active: bool,
) -> AlarmDraft {
    AlarmDraft {
        key: key.into(),
        mn: mn.into(),
        outlet: outlet.into(),
        factor: (kind != "offline").then(|| "a21026".to_string()),
        kind: kind.into(),
        severity,
        start,
        end: start + 2 * HOUR,
        active,
        title_zh: format!("{key} 标题"),
        title_en: format!("{key} title"),
        detail_zh: "详情".into(),
        detail_en: "detail".into(),
    }
}

fn hour(mn: &str, outlet: &str, start: i64, mean: f64) -> Aggregate {
    Aggregate {
        mn: mn.into(),
        outlet: outlet.into(),
        factor: "a21026".into(),
        period: Period::Hour,
        start,
        mean: Some(mean),
        converted_mean: Some(mean * 1.1),
        min: Some(mean),
        max: Some(mean),
        valid_units: 60,
        records: 60,
        valid: true,
        reason: None,
        limit: Some(35.0),
        limit_min: None,
        exceeds: mean * 1.1 > 35.0,
    }
}

/// The demo registry with: E01 — an open serious exceedance (with its hours stored), a
/// resolved offline alarm and an open constant-value warning; E02 — one open exceedance.
pub struct Seeded {
    pub app: TestApp,
    pub e01_exceedance: i64,
    pub e01_offline: i64,
    pub e02_exceedance: i64,
}

pub async fn seeded() -> Seeded {
    let registry = fenhe_core::demo::city();
    let (o1, mn1) = outlet_of(&registry, "E01");
    let (o2, mn2) = outlet_of(&registry, "E02");
    let app = TestApp::builder().registry(registry).build().await;
    let s = &app.store;
    let hours: Vec<Aggregate> = (0..12)
        .map(|h| hour(&mn1, &o1, D0 + h * HOUR, if (6..8).contains(&h) { 50.0 } else { 20.0 }))
        .collect();
    let ev = Evaluation { hours, ..Default::default() };
    s.save_evaluation(&mn1, D0, D0 + DAY, &ev).await.expect("hours saved");
    let e01 = vec![
        draft(&mn1, &o1, "episode:e01", "exceedance", Severity::Serious, D0 + 6 * HOUR, true),
        draft(&mn1, &o1, "finding:e01-constant", "constant_value", Severity::Warning, D0 + 9 * HOUR, true),
    ];
    s.sync_alarms(&mn1, D0, D0 + DAY, &e01, D0 + DAY).await.expect("alarms raised");
    let off = draft(&mn1, &o1, "finding:e01-offline", "offline", Severity::Warning, D0 + 2 * DAY, false);
    s.sync_alarms(&mn1, D0 + 2 * DAY, D0 + 3 * DAY, &[off], D0 + 3 * DAY)
        .await
        .expect("alarm stored resolved");
    let e02 = draft(&mn2, &o2, "episode:e02", "exceedance", Severity::Critical, D0 + 4 * HOUR, true);
    s.sync_alarms(&mn2, D0, D0 + DAY, &[e02], D0 + 4 * DAY).await.expect("alarm raised");
    let all = s.alarms(&AlarmQuery::default()).await.expect("alarms");
    let id = |key: &str| all.iter().find(|a| a.draft.key == key).map(|a| a.id).expect("stored");
    Seeded {
        e01_exceedance: id("episode:e01"),
        e01_offline: id("finding:e01-offline"),
        e02_exceedance: id("episode:e02"),
        app,
    }
}

pub fn roles() -> Vec<(&'static str, Role)> {
    vec![
        ("root", Role::Admin),
        ("mayor", Role::Leader),
        ("officer", Role::Bureau),
        ("fgw1", Role::Department { department: "fgw".into() }),
        ("e01", Role::Enterprise { enterprise: "E01".into() }),
    ]
}

/// The list's row titles, in order.
fn titles(page: &str) -> Vec<String> {
    page.split("<td><a href=\"/alarms/")
        .skip(1)
        .map(|p| {
            let t = &p[p.find('>').unwrap() + 1..];
            t[..t.find('<').unwrap()].to_string()
        })
        .collect()
}

#[tokio::test]
async fn the_list_for_every_role() {
    let s = seeded().await;
    let app = &s.app;
    assert_eq!(app.get("/alarms").await.status, StatusCode::SEE_OTHER, "a stranger is sent to sign in");
    for (name, role) in roles() {
        let b = app.signed_in(name, role.clone()).await;
        let r = app.get_as("/alarms", &b).await;
        match role {
            Role::Department { .. } => {
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{name}");
                assert!(!r.text().contains("episode:"), "{name}");
            }
            Role::Enterprise { .. } => {
                assert_eq!(r.status, StatusCode::OK, "{name}");
                let page = r.text();
                let mut t = titles(&page);
                t.sort();
                assert_eq!(t, ["episode:e01 标题", "finding:e01-constant 标题", "finding:e01-offline 标题"]);
                assert!(!page.contains("episode:e02"), "another enterprise's alarm leaks");
                // Only their own enterprise is offered in the filter.
                assert!(page.contains("<option value=\"E01\"") && !page.contains("<option value=\"E02\""));
            }
            _ => {
                assert_eq!(r.status, StatusCode::OK, "{name}");
                let t = titles(&r.text());
                // Newest raised first.
                assert_eq!(t[0], "episode:e02 标题", "{name}");
                assert_eq!(t.len(), 4, "{name}");
            }
        }
    }
}

#[tokio::test]
async fn the_list_filters_keep_their_values_and_speak_the_page_language() {
    let s = seeded().await;
    let app = &s.app;
    let b = app.signed_in("officer", Role::Bureau).await;
    let get = |q: &'static str| {
        let b = b.clone();
        async move { app.get_as(&format!("/alarms?{q}"), &b).await }
    };
    let r = get("kind=offline").await;
    assert_eq!(titles(&r.text()), ["finding:e01-offline 标题"]);
    assert!(r.text().contains("<option value=\"offline\" selected>设备离线</option>"), "the kind is kept");
    assert_eq!(titles(&get("status=open&severity=serious").await.text()).len(), 2);
    assert_eq!(titles(&get("enterprise=E02").await.text()), ["episode:e02 标题"]);
    let (o1, _) = outlet_of(&fenhe_core::demo::city(), "E01");
    let by_outlet = app.get_as(&format!("/alarms?outlet={o1}&status=resolved"), &b).await.text();
    assert_eq!(titles(&by_outlet), ["finding:e01-offline 标题"]);
    // The period: days, China time, both included.
    let r = get("from=2026-11-12&to=2026-11-12").await;
    assert_eq!(titles(&r.text()), ["finding:e01-offline 标题"]);
    assert!(r.text().contains("name=\"from\" value=\"2026-11-12\""), "the date is kept");
    assert_eq!(titles(&get("to=2026-11-09").await.text()).len(), 0);
    // English: the kinds and states in English.
    let en = get("lang=en&kind=offline").await.text();
    assert!(en.contains("device offline") && en.contains("Resolved"), "{en}");
    // Nothing matches: the empty state says what to do.
    let none = get("kind=clock_skew").await.text();
    assert!(none.contains("没有符合筛选条件的报警") && none.contains("href=\"/alarms\""), "{none}");
    // A wrong value: 400 with the message next to its field.
    let bad = get("severity=huge&from=yesterday").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let text = bad.text();
    // Beside its field, in the page language.
    assert!(text.contains("<span class=\"field-error\">请选择列表中的级别。</span>"), "{text}");
    assert!(text.contains("<span class=\"field-error\">日期格式应为 年-月-日"), "{text}");
}

#[tokio::test]
async fn the_list_pages_server_side() {
    let registry = fenhe_core::demo::city();
    let (o1, mn1) = outlet_of(&registry, "E01");
    let app = TestApp::builder().registry(registry).build().await;
    let drafts: Vec<AlarmDraft> = (0..57)
        .map(|i| draft(&mn1, &o1, &format!("k{i:02}"), "exceedance", Severity::Warning, D0 + i * HOUR, true))
        .collect();
    app.store.sync_alarms(&mn1, D0, D0 + 10 * DAY, &drafts, D0).await.unwrap();
    let b = app.signed_in("e01", Role::Enterprise { enterprise: "E01".into() }).await;
    let first = app.get_as("/alarms?kind=exceedance", &b).await.text();
    assert_eq!(titles(&first).len(), 50);
    assert!(first.contains("href=\"/alarms?kind=exceedance&#38;page=2\""), "the next page keeps the filter");
    assert!(first.contains("1 / 2"));
    let second = app.get_as("/alarms?kind=exceedance&page=2", &b).await.text();
    assert_eq!(titles(&second).len(), 7);
    let bad = app.get_as("/alarms?page=0", &b).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("页码应为从 1 开始的整数。"), "{}", bad.text());
    // The API pages the same list.
    let token = app.token("e01").await;
    let p = app.get_bearer("/api/v1/alarms?per_page=20&page=3", &token).await.json();
    assert_eq!((p["total"].as_u64(), p["items"].as_array().map(Vec::len)), (Some(57), Some(17)));
}

/// The 404 page for `path`, with the path itself removed (the language switch repeats it).
async fn not_found_page(app: &TestApp, b: &Browser, path: &str) -> String {
    let r = app.get_as(path, b).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    r.text().replace(path, "")
}

#[tokio::test]
async fn the_detail_for_every_role_and_another_enterprises_alarm_is_not_found() {
    let s = seeded().await;
    let app = &s.app;
    let own = format!("/alarms/{}", s.e01_exceedance);
    let other = format!("/alarms/{}", s.e02_exceedance);
    assert_eq!(app.get(&own).await.status, StatusCode::SEE_OTHER);
    for (name, role) in roles() {
        let b = app.signed_in(name, role.clone()).await;
        match role {
            Role::Department { .. } => {
                for path in [&own, &other, &"/alarms/999999".to_string()] {
                    assert_eq!(app.get_as(path, &b).await.status, StatusCode::FORBIDDEN, "{name} {path}");
                }
            }
            Role::Enterprise { .. } => {
                let page = app.get_as(&own, &b).await;
                assert_eq!(page.status, StatusCode::OK);
                let other_page = not_found_page(app, &b, &other).await;
                let missing = not_found_page(app, &b, "/alarms/999999").await;
                let garbage = not_found_page(app, &b, "/alarms/abc").await;
                assert_eq!(other_page, missing, "another enterprise's alarm looks exactly like none");
                assert_eq!(missing, garbage);
                assert!(!other_page.contains("episode:e02"));
            }
            _ => {
                assert_eq!(app.get_as(&own, &b).await.status, StatusCode::OK, "{name}");
                assert_eq!(app.get_as(&other, &b).await.status, StatusCode::OK, "{name}");
                assert_eq!(app.get_as("/alarms/999999", &b).await.status, StatusCode::NOT_FOUND, "{name}");
            }
        }
    }
}

#[tokio::test]
async fn the_detail_shows_the_facts_the_history_and_the_data_around_the_period() {
    let s = seeded().await;
    let app = &s.app;
    let b = app.signed_in("officer", Role::Bureau).await;
    let (o1, mn1) = outlet_of(&fenhe_core::demo::city(), "E01");
    let page = app.get_as(&format!("/alarms/{}", s.e01_exceedance), &b).await.text();
    assert!(page.contains(&format!("href=\"/outlets/{o1}\"")), "links to the outlet page");
    assert!(page.contains(&mn1) && page.contains("SO₂ (a21026)") && page.contains("严重"));
    assert!(page.contains("2026-11-10 06:00 – 2026-11-10 08:00"), "the period");
    assert!(page.contains("alarm-chart.js") && page.contains("echarts.min.js"));
    // The chart's data: the stored hours of the window (the period ± 6 h), with the limit.
    let start = page.find("id=\"alarm-series\">").expect("the data block") + "id=\"alarm-series\">".len();
    let json: serde_json::Value =
        serde_json::from_str(&page[start..start + page[start..].find("</script>").unwrap()])
            .expect("the block is JSON");
    let hours = json["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 12, "{json}");
    assert_eq!(hours.iter().filter(|h| h[2] == true).count(), 2, "the two exceeding hours");
    assert_eq!(json["limit"][0][1], 35.0);
    assert_eq!((json["start"].as_i64(), json["from"].as_i64()), (Some(D0 + 6 * HOUR), Some(D0)));
    // A resolved alarm's history says when and why.
    let resolved = app.get_as(&format!("/alarms/{}?lang=en", s.e01_offline), &b).await.text();
    assert!(
        resolved.contains("Raised") && resolved.contains("Resolved") && resolved.contains("cleared"),
        "{resolved}"
    );
    // No hours stored for its window: the empty state points to the outlet page.
    assert!(resolved.contains("No stored data for this period"), "{resolved}");
}

#[tokio::test]
async fn the_api_lists_and_shows_under_the_same_policy() {
    let s = seeded().await;
    let app = &s.app;
    app.get("/api/v1/alarms").await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    for (name, role) in roles() {
        app.add_user(name, role.clone()).await;
        let token = app.token(name).await;
        let list = app.get_bearer("/api/v1/alarms", &token).await;
        let own = app.get_bearer(&format!("/api/v1/alarms/{}", s.e01_exceedance), &token).await;
        let other = app.get_bearer(&format!("/api/v1/alarms/{}", s.e02_exceedance), &token).await;
        let missing = app.get_bearer("/api/v1/alarms/999999", &token).await;
        match role {
            Role::Department { .. } => {
                list.error(StatusCode::FORBIDDEN, "forbidden");
                own.error(StatusCode::FORBIDDEN, "forbidden");
                other.error(StatusCode::FORBIDDEN, "forbidden");
            }
            Role::Enterprise { .. } => {
                let l = list.json();
                assert_eq!(l["total"], 3);
                assert!(
                    l["items"].as_array().unwrap().iter().all(|a| a["outlet"]
                        .as_str()
                        .unwrap()
                        .starts_with("E01-")
                        && a["enterprise"] == "E01")
                );
                assert_eq!(own.status, StatusCode::OK);
                assert_eq!(own.json()["alarm"]["enterprise"], "E01");
                assert_eq!(other.status, StatusCode::NOT_FOUND);
                assert_eq!(other.body, missing.body, "the same answer whether it exists or not");
                assert_eq!(app.get_bearer("/api/v1/alarms/x1", &token).await.body, missing.body);
                let filtered = app.get_bearer("/api/v1/alarms?enterprise=E02", &token).await.json();
                assert_eq!(filtered["total"], 0, "naming another enterprise finds nothing");
            }
            _ => {
                let l = list.json();
                assert_eq!(l["total"], 4, "{name}");
                assert_eq!(l["items"][0]["title_en"], "episode:e02 title", "newest first");
                assert_eq!(other.status, StatusCode::OK, "{name}");
                missing.error(StatusCode::NOT_FOUND, "not_found");
            }
        }
    }
    let token = app.token("officer").await;
    let d = app.get_bearer(&format!("/api/v1/alarms/{}", s.e01_exceedance), &token).await.json();
    assert_eq!(d["enterprise"], "E01");
    assert_eq!(d["alarm"]["kind"], "exceedance");
    assert_eq!(d["alarm"]["status"], AlarmStatus::Open.name());
    assert_eq!(d["alarm"]["start"], "2026-11-10T06:00:00+08:00");
    assert_eq!(d["series"]["hours"].as_array().unwrap().len(), 12);
    assert_eq!(d["history"][0]["step"], "raised");
    let f =
        app.get_bearer("/api/v1/alarms?kind=offline&status=resolved&from=2026-11-12", &token).await.json();
    assert_eq!(f["total"], 1);
    let msg = app
        .get_bearer("/api/v1/alarms?severity=huge", &token)
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(msg.contains("severity"), "{msg}");
    let msg = app
        .get_bearer("/api/v1/alarms?per_page=501", &token)
        .await
        .error(StatusCode::BAD_REQUEST, "bad_request");
    assert!(msg.contains("per_page"), "{msg}");
}

/// A security alarm the gateway raises (an address guessing device passwords) is the bureau's to
/// see in the alarm list, named as such; an enterprise's user does not see it (it belongs to no
/// enterprise's outlet).
#[tokio::test]
async fn a_security_alarm_is_listed_for_the_bureau_and_not_for_an_enterprise() {
    use fenhe_core::alarm::{Alarm, AlarmChange, AlarmSync, SECURITY_KEY_PREFIX, SECURITY_KIND};
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    let t = crate::enterprises::roles(&app).await;
    let key = format!("{SECURITY_KEY_PREFIX}password_guessing:192.0.2.7:{D0}");
    let mut draft = draft("", "", &key, SECURITY_KIND, Severity::Serious, D0, true);
    draft.factor = None;
    draft.title_en = "Suspected device password guessing: 192.0.2.7 refused for 15 minutes".into();
    draft.title_zh = "疑似猜测设备密码：192.0.2.7 已被拒绝接入 15 分钟".into();
    let alarm = Alarm {
        id: 0,
        draft,
        status: AlarmStatus::Open,
        resolution: None,
        raised_at: D0,
        updated_at: D0,
        resolved_at: None,
    };
    let change =
        AlarmChange { before: None, after: alarm, counts: AlarmSync { raised: 1, ..AlarmSync::default() } };
    app.store.apply_alarm_changes(std::slice::from_ref(&change)).await.unwrap();

    let list = app.get_bearer("/api/v1/alarms", &t.bureau).await.json();
    let items = list["items"].as_array().unwrap();
    assert!(items.iter().any(|a| a["kind"] == SECURITY_KIND), "{list}");
    let own = app.get_bearer("/api/v1/alarms", &t.own).await.json();
    assert!(!own["items"].as_array().unwrap().iter().any(|a| a["kind"] == SECURITY_KIND), "{own}");
    let html = app.get_bearer("/alarms?lang=en", &t.bureau).await.text();
    assert!(html.contains("192.0.2.7"), "the list shows the alarm");
    let html = app.get_bearer("/alarms", &t.bureau).await.text();
    assert!(html.contains("安全告警"), "named as a security alarm");
}
