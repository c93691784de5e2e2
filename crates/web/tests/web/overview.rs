//! `/` and `/api/v1/overview`: the overview's figures within the actor's scope, for every role;
//! an enterprise user's overview holds nothing of another enterprise.

use axum::http::StatusCode;
use fenhe_core::access::Role;
use fenhe_core::compliance::{AlarmDraft, Period, Rate, Severity};
use fenhe_core::registry::Device;
use fenhe_web::{LiveSnapshot, OnlineDevice};

use crate::app::TestApp;

pub fn roles() -> Vec<(&'static str, Role)> {
    vec![
        ("root", Role::Admin),
        ("mayor", Role::Leader),
        ("officer", Role::Bureau),
        ("fgw1", Role::Department { department: "fgw".into() }),
        ("e01", Role::Enterprise { enterprise: "E01".into() }),
    ]
}

/// The first device of enterprise `e` in the demo city.
pub fn device_of(e: &str) -> Device {
    let city = fenhe_core::demo::city();
    city.devices.iter().find(|d| city.outlet(&d.outlet).is_some_and(|o| o.enterprise == e)).unwrap().clone()
}

pub fn draft(d: &Device, kind: &str, start: i64) -> AlarmDraft {
    AlarmDraft {
        key: format!("test:{}:{kind}:{start}", d.mn),
        mn: d.mn.clone(),
        outlet: d.outlet.clone(),
        factor: None,
        kind: kind.into(),
        severity: Severity::Warning,
        start,
        end: start + 3_600_000,
        active: true,
        title_zh: format!("测试{}", d.mn),
        title_en: format!("test {}", d.mn),
        detail_zh: String::new(),
        detail_en: String::new(),
    }
}

fn now() -> i64 {
    fenhe_core::china_time::now_ms()
}

/// The table `id` of a page (from its opening tag to its end).
fn table<'a>(page: &'a str, id: &str) -> &'a str {
    let at = page.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no table {id}: {page}"));
    let rest = &page[at..];
    &rest[..rest.find("</table>").unwrap()]
}

#[tokio::test]
async fn the_overview_counts_within_the_actors_scope() {
    let city = fenhe_core::demo::city();
    let e01_devices: Vec<String> = city
        .devices
        .iter()
        .filter(|d| city.outlet(&d.outlet).is_some_and(|o| o.enterprise == "E01"))
        .map(|d| d.mn.clone())
        .collect();
    let other = device_of("E02").mn;
    let online = |mn: &str| OnlineDevice { mn: mn.into(), peer: "10.0.0.1:1".into(), since: 0 };
    let live =
        LiveSnapshot { devices_online: vec![online(&e01_devices[0]), online(&other)], ..Default::default() };
    let total = city.devices.len();
    let total_enterprises = city.enterprises.len();
    let app = TestApp::builder().registry(city).live(live).build().await;

    let officer = app.signed_in("officer", Role::Bureau).await;
    let page = app.get_as("/", &officer).await.text();
    assert!(page.contains("<span id=\"devices-online\">2</span>"), "{page}");
    assert!(page.contains(&format!("<span id=\"devices-total\">{total}</span>")), "{page}");
    assert!(page.contains("id=\"open-alarms\">0</div>") && page.contains("当前没有未关闭的报警"), "{page}");
    // The table is there for the live script, hidden until alarms come.
    assert!(page.contains("<table class=\"table\" id=\"alarms-by-kind\" hidden>"), "{page}");
    assert!(page.contains("全市"));
    // E01 and E02 have a device connected; nothing was ever received from the others.
    let states = table(&page, "enterprise-states");
    assert_eq!(states.matches("state-compliant").count(), 2, "{states}");
    assert_eq!(states.matches("state-no_data").count(), total_enterprises - 2, "{states}");
    // No day has rates yet: the page says when the trend will appear.
    assert!(page.contains("尚无日统计"), "{page}");
    assert!(page.contains("data-chart=\"map\""));

    let e01 = app.signed_in("e01", Role::Enterprise { enterprise: "E01".into() }).await;
    let page = app.get_as("/", &e01).await.text();
    assert!(page.contains("<span id=\"devices-online\">1</span>"), "{page}");
    assert!(page.contains(&format!("<span id=\"devices-total\">{}</span>", e01_devices.len())), "{page}");
    assert!(page.contains("本企业"));
    let states = table(&page, "enterprise-states");
    assert_eq!(states.matches("<tr data-enterprise=").count(), 1, "{states}");

    let dept = app.signed_in("fgw1", Role::Department { department: "fgw".into() }).await;
    let page = app.get_as("/", &dept).await.text();
    assert!(page.contains("您的角色暂无可查看的数据页面") && !page.contains("devices-online"), "{page}");
    assert!(!page.contains("overview-data"), "no figures for a role without environmental data");
}

#[tokio::test]
async fn open_alarms_are_counted_by_kind_within_the_actors_scope() {
    let (mine, theirs) = (device_of("E01"), device_of("E02"));
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    let t0 = now() - 86_400_000;
    let drafts = [draft(&mine, "exceedance", t0), draft(&mine, "exceedance", t0 + 7_200_000)];
    app.store.sync_alarms(&mine.mn, t0, t0 + 86_400_000, &drafts, t0).await.unwrap();
    let other = [draft(&theirs, "offline", t0)];
    app.store.sync_alarms(&theirs.mn, t0, t0 + 86_400_000, &other, t0).await.unwrap();

    let officer = app.signed_in("officer", Role::Bureau).await;
    let page = app.get_as("/", &officer).await.text();
    assert!(page.contains("id=\"open-alarms\">3</div>"), "{page}");
    assert!(page.contains("id=\"alarms-by-kind-empty\" hidden>"), "{page}");
    // Most frequent first, named in the page's language.
    let kinds = table(&page, "alarms-by-kind");
    let (exceed, offline) = (
        kinds.find("<td>超标</td><td class=\"num\">2</td>"),
        kinds.find("<td>设备离线</td><td class=\"num\">1</td>"),
    );
    assert!(exceed.is_some() && offline.is_some() && exceed < offline, "{kinds}");
    let en = app.get_as("/?lang=en", &officer).await.text();
    let kinds = table(&en, "alarms-by-kind");
    assert!(kinds.contains("<td>Exceedance</td>") && kinds.contains("<td>device offline</td>"), "{kinds}");
    // An open exceedance makes its enterprise "exceeding" on the map and in the table.
    // It leads the table, which puts what needs attention first.
    let states = table(&page, "enterprise-states");
    let first = &states[states.find("<tr data-enterprise=").unwrap()..];
    let first = &first[..first.find("</tr>").unwrap()];
    assert!(first.starts_with("<tr data-enterprise=\"E01\"><td><a href=\"/enterprises/E01\">"), "{states}");
    assert!(first.contains("state-exceeding"), "{first}");

    let e01 = app.signed_in("e01", Role::Enterprise { enterprise: "E01".into() }).await;
    let page = app.get_as("/", &e01).await.text();
    assert!(page.contains("id=\"open-alarms\">2</div>"), "{page}");
    assert!(!table(&page, "alarms-by-kind").contains("设备离线"), "{page}");
}

/// Everything an enterprise user's overview shows — page, embedded data, API — is theirs alone.
#[tokio::test]
async fn an_enterprise_users_overview_holds_nothing_of_another_enterprise() {
    let city = fenhe_core::demo::city();
    let (mine, theirs) = (device_of("E01"), device_of("E02"));
    let their_name = city.enterprise("E02").unwrap().name.clone();
    let their_outlet = city.outlet(&theirs.outlet).unwrap().clone();
    let live = LiveSnapshot {
        devices_online: vec![OnlineDevice { mn: theirs.mn.clone(), peer: "10.0.0.2:1".into(), since: 0 }],
        ..Default::default()
    };
    let app = TestApp::builder().registry(city).live(live).build().await;
    let t0 = now() - 86_400_000;
    for d in [&mine, &theirs] {
        app.store.sync_alarms(&d.mn, t0, t0 + 86_400_000, &[draft(d, "exceedance", t0)], t0).await.unwrap();
    }
    let e01 = app.signed_in("e01", Role::Enterprise { enterprise: "E01".into() }).await;
    let token = app.token("e01").await;
    for text in [
        app.get_as("/", &e01).await.text(),
        app.get_as("/?lang=en", &e01).await.text(),
        app.get_as("/api/v1/overview", &e01).await.text(),
        app.get_bearer("/api/v1/overview", &token).await.text(),
    ] {
        for leak in ["E02", theirs.mn.as_str(), their_name.as_str(), their_outlet.id.as_str()] {
            assert!(!text.contains(leak), "{leak} in {text}");
        }
        assert!(text.contains(&mine.outlet), "{text}");
    }
    let v = app.get_bearer("/api/v1/overview", &token).await.json();
    assert_eq!(v["city_wide"], false);
    assert_eq!(v["enterprise"], "E01");
    assert_eq!((v["open_alarms"].as_u64(), v["devices_online"].as_u64()), (Some(1), Some(0)));
}

/// `/api/v1/overview` for every role: the city's, the enterprise's own, 403, and 401 for nobody.
#[tokio::test]
async fn the_overview_api_answers_each_role() {
    let city = fenhe_core::demo::city();
    let n = city.enterprises.len();
    let app = TestApp::builder().registry(city).build().await;
    app.get("/api/v1/overview").await.error(StatusCode::UNAUTHORIZED, "unauthorized");
    for (name, role) in roles() {
        app.add_user(name, role.clone()).await;
        let token = app.token(name).await;
        let r = app.get_bearer("/api/v1/overview", &token).await;
        match role {
            Role::Department { .. } => {
                r.error(StatusCode::FORBIDDEN, "forbidden");
            }
            Role::Enterprise { .. } => {
                assert_eq!(r.status, StatusCode::OK, "{name}");
                let v = r.json();
                assert_eq!(v["city_wide"], false);
                assert_eq!(v["enterprises"].as_array().unwrap().len(), 1);
                assert_eq!(v["enterprises"][0]["id"], "E01");
            }
            _ => {
                assert_eq!(r.status, StatusCode::OK, "{name}");
                let v = r.json();
                assert_eq!(v["city_wide"], true, "{name}");
                assert_eq!(v["enterprises"].as_array().unwrap().len(), n, "{name}");
                assert!(v["enterprises"].as_array().unwrap().iter().all(|e| e["state"] == "no_data"));
                assert!(v["today"]["start"].as_str().unwrap().ends_with("T00:00:00+08:00"), "{v}");
            }
        }
    }
    let doc = app.get_bearer("/api/v1/openapi.json", &app.token("root").await).await.json();
    assert!(doc["paths"]["/api/v1/overview"]["get"].is_object(), "{doc}");
    assert!(doc["components"]["schemas"]["OverviewJson"].is_object());
}

/// The month's rates come from the stored month rows, shown as percentages on the tiles.
#[tokio::test]
async fn the_month_rates_are_the_stored_ones() {
    let d = device_of("E01");
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    let month = fenhe_core::china_time::month_start(now());
    let rate = Rate {
        mn: d.mn.clone(),
        outlet: d.outlet.clone(),
        period: Period::Month,
        start: month,
        expected: 1000,
        received: 800,
        valid: 700,
        transmission: 0.8,
        // valid / received and valid / expected.
        validity: 0.875,
        effective_transmission: 0.7,
        compliance: Some(0.9),
        judged_hours: 10,
        exceeding_hours: 1,
    };
    app.store.save_monthly(&d.mn, month, &[], &[rate], &[]).await.unwrap();
    let officer = app.signed_in("officer", Role::Bureau).await;
    let page = app.get_as("/", &officer).await.text();
    let tile = |id: &str| {
        let at = page.find(&format!("id=\"{id}\"")).unwrap();
        page[at..at + page[at..].find("</section>").unwrap().min(600)].to_string()
    };
    assert!(
        tile("rate-transmission").contains("<span data-rate-month>80.0%</span>"),
        "{}",
        tile("rate-transmission")
    );
    assert!(tile("rate-validity").contains("<span data-rate-month>87.5%</span>"));
    assert!(tile("rate-compliance").contains("<span data-rate-month>90.0%</span>"));
    // No hour judged today: today's figures are a dash, not 0 %.
    assert!(tile("rate-transmission").contains("data-rate-today>—</div>"));
    // Another enterprise's user does not see E01's month.
    let e02 = app.signed_in("e02", Role::Enterprise { enterprise: "E02".into() }).await;
    let v = app.get_as("/api/v1/overview", &e02).await.json();
    assert!(v["month"]["transmission"].is_null(), "{v}");
}
