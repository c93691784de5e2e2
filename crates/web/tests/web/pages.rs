//! The pages' frame: navigation by role, the language switch, every template in both
//! languages, and the overview's figures within the actor's scope.

use axum::http::{StatusCode, header};
use fenhe_core::access::Role;
use fenhe_web::{LiveSnapshot, OnlineDevice};

use crate::app::{Browser, TestApp};

fn roles() -> Vec<(&'static str, Role)> {
    vec![
        ("root", Role::Admin),
        ("mayor", Role::Leader),
        ("officer", Role::Bureau),
        ("fgw1", Role::Department { department: "fgw".into() }),
        ("e01", Role::Enterprise { enterprise: "E01".into() }),
    ]
}

/// The navigation's links, in order.
fn nav(page: &str) -> Vec<String> {
    let Some(start) = page.find("<nav class=\"mainnav\"") else { return Vec::new() };
    let block = &page[start..start + page[start..].find("</nav>").unwrap()];
    block.split("href=\"").skip(1).map(|p| p[..p.find('"').unwrap()].to_string()).collect()
}

#[tokio::test]
async fn each_role_sees_the_navigation_it_may_use() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    for (name, role) in roles() {
        let b = app.signed_in(name, role.clone()).await;
        let page = app.get_as("/", &b).await.text();
        let want: &[&str] = match role {
            Role::Admin => {
                &["/", "/enterprises", "/alarms", "/devices", "/quality", "/registry", "/audit", "/system"]
            }
            Role::Bureau => &["/", "/enterprises", "/alarms", "/devices", "/quality", "/system"],
            Role::Leader | Role::Enterprise { .. } => {
                &["/", "/enterprises", "/alarms", "/devices", "/quality"]
            }
            _ => &["/", "/enterprises"],
        };
        assert_eq!(nav(&page), want, "{name}");
        assert!(page.contains(&format!("<span class=\"user-name\">{name}</span>")), "{name}");
        assert!(page.contains(role.label(false)), "{name}");
        assert!(page.contains("action=\"/logout\"") && page.contains("/account/password"), "{name}");
    }
}

#[tokio::test]
async fn the_language_switch_sets_a_cookie_and_comes_back() {
    let app = TestApp::builder().build().await;
    let r = app.get("/lang/en?next=/login%3Fnext%3D/system").await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/login?next=/system"));
    assert!(r.set_cookie("lang").unwrap().starts_with("lang=en; Path=/"));
    let r = app.get("/lang/zh?next=https://evil.example/").await;
    assert_eq!(r.location(), "/");
    assert_eq!(app.get("/lang/fr").await.status, StatusCode::NOT_FOUND);

    let zh = app.get("/login").await.text();
    assert!(zh.contains("<html lang=\"zh-CN\">") && zh.contains("用户名"), "{zh}");
    assert!(zh.contains("href=\"/lang/en?next=/login\""), "{zh}");
    let en = app.get_with("/login", &[(header::COOKIE, "lang=en")]).await.text();
    assert!(en.contains("<html lang=\"en\">") && en.contains("Username"), "{en}");
    assert!(en.contains("href=\"/lang/zh?next=/login\""), "{en}");
    let en = app.get("/login?lang=en").await.text();
    assert!(en.contains("<html lang=\"en\">"), "{en}");
}

/// Every page there is, as each kind of person, in both languages: it renders, says which
/// language it is in, and shows no unknown message.
#[tokio::test]
async fn every_page_renders_in_both_languages() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    let mut browsers: Vec<(Browser, &[&str])> = Vec::new();
    for (name, role) in roles() {
        let pages: &[&str] = match role {
            Role::Admin | Role::Bureau => &["/", "/system", "/account/password"],
            _ => &["/", "/account/password"],
        };
        browsers.push((app.signed_in(name, role).await, pages));
    }
    for (lang, html) in [("zh", "zh-CN"), ("en", "en")] {
        for path in ["/login", "/static/licenses"] {
            let r = app.get(&format!("{path}?lang={lang}")).await;
            assert_eq!(r.status, StatusCode::OK, "{path}");
            let page = r.text();
            assert!(page.contains(&format!("<html lang=\"{html}\">")), "{path} {lang}");
            assert!(!page.contains("??"), "{path} {lang}: {page}");
        }
        for (b, pages) in &browsers {
            for path in *pages {
                let r = app.get_as(&format!("{path}?lang={lang}"), b).await;
                assert_eq!(r.status, StatusCode::OK, "{path}");
                let page = r.text();
                assert!(page.contains(&format!("<html lang=\"{html}\">")), "{path} {lang}");
                assert!(!page.contains("??"), "{path} {lang}: {page}");
            }
        }
        // The refused-form page too.
        let (b, _) = &browsers[0];
        let r = app
            .post_form(&format!("/logout?lang={lang}"), &[], Some(&format!("fenhe_session={}", b.session)))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.text().contains(&format!("<html lang=\"{html}\">")));
    }
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
    let other = city.devices.iter().find(|d| !e01_devices.contains(&d.mn)).unwrap().mn.clone();
    let online = |mn: &str| OnlineDevice { mn: mn.into(), peer: "10.0.0.1:1".into(), since: 0 };
    let live = LiveSnapshot {
        devices_online: vec![online(&e01_devices[0]), online(&other)],
        frames_by_verdict: vec![("accepted".into(), 120), ("rejected".into(), 4)],
        ..Default::default()
    };
    let total = city.devices.len();
    let app = TestApp::builder().registry(city).live(live).build().await;

    let officer = app.signed_in("officer", Role::Bureau).await;
    let page = app.get_as("/", &officer).await.text();
    assert!(page.contains("<span id=\"devices-online\">2</span><span class=\"tile-of\"> / "), "{page}");
    assert!(page.contains(&format!(" / {total}</span>")), "{page}");
    assert!(page.contains("id=\"frames\">124</div>"), "{page}");
    assert!(page.contains("id=\"open-alarms\">0</div>") && page.contains("当前没有未关闭的报警"), "{page}");
    assert!(page.contains("全市"));

    let e01 = app.signed_in("e01", Role::Enterprise { enterprise: "E01".into() }).await;
    let page = app.get_as("/", &e01).await.text();
    assert!(page.contains("<span id=\"devices-online\">1</span>"), "{page}");
    assert!(page.contains(&format!(" / {}</span>", e01_devices.len())), "{page}");
    // The gateway's counters are the whole city's: not for an enterprise.
    assert!(!page.contains("id=\"frames\""), "{page}");
    assert!(page.contains("本企业"));

    let dept = app.signed_in("fgw1", Role::Department { department: "fgw".into() }).await;
    let page = app.get_as("/", &dept).await.text();
    assert!(page.contains("您的角色暂无可查看的数据页面") && !page.contains("devices-online"), "{page}");
}

fn draft(mn: &str, outlet: &str, kind: &str, start: i64) -> fenhe_core::compliance::AlarmDraft {
    fenhe_core::compliance::AlarmDraft {
        key: format!("test:{mn}:{kind}:{start}"),
        mn: mn.into(),
        outlet: outlet.into(),
        factor: None,
        kind: kind.into(),
        severity: fenhe_core::compliance::Severity::Warning,
        start,
        end: start + 3_600_000,
        active: true,
        title_zh: "测试".into(),
        title_en: "test".into(),
        detail_zh: String::new(),
        detail_en: String::new(),
    }
}

#[tokio::test]
async fn open_alarms_are_counted_by_kind_within_the_actors_scope() {
    let city = fenhe_core::demo::city();
    let of = |e: &str| {
        city.devices
            .iter()
            .find(|d| city.outlet(&d.outlet).is_some_and(|o| o.enterprise == e))
            .unwrap()
            .clone()
    };
    let (mine, theirs) = (of("E01"), of("E02"));
    let app = TestApp::builder().registry(city.clone()).build().await;
    let t0 = 1_796_169_600_000;
    let drafts = [
        draft(&mine.mn, &mine.outlet, "exceedance", t0),
        draft(&mine.mn, &mine.outlet, "exceedance", t0 + 7_200_000),
    ];
    app.store.sync_alarms(&mine.mn, t0, t0 + 86_400_000, &drafts, t0).await.unwrap();
    let other = [draft(&theirs.mn, &theirs.outlet, "offline", t0)];
    app.store.sync_alarms(&theirs.mn, t0, t0 + 86_400_000, &other, t0).await.unwrap();

    let officer = app.signed_in("officer", Role::Bureau).await;
    let page = app.get_as("/", &officer).await.text();
    assert!(page.contains("id=\"open-alarms\">3</div>"), "{page}");
    // Most frequent first, named in the page's language.
    let table = &page[page.find("id=\"alarms-by-kind\"").unwrap()..];
    let (exceed, offline) = (
        table.find("<td>超标</td><td class=\"num\">2</td>"),
        table.find("<td>设备离线</td><td class=\"num\">1</td>"),
    );
    assert!(exceed.is_some() && offline.is_some() && exceed < offline, "{table}");
    let en = app.get_as("/?lang=en", &officer).await.text();
    assert!(en.contains("<td>Exceedance</td>") && en.contains("<td>device offline</td>"), "{en}");

    let e01 = app.signed_in("e01", Role::Enterprise { enterprise: "E01".into() }).await;
    let page = app.get_as("/", &e01).await.text();
    assert!(page.contains("id=\"open-alarms\">2</div>") && !page.contains("设备离线"), "{page}");
}
