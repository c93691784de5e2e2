//! The pages' frame: navigation by role, the language switch, every template in both
//! languages (the overview's figures are in `overview.rs`).

use axum::http::{StatusCode, header};
use fenhe_core::access::Role;

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
            Role::Admin => &[
                "/",
                "/screen",
                "/enterprises",
                "/alarms",
                "/devices",
                "/quality",
                "/tasks",
                "/registry",
                "/audit",
                "/system",
            ],
            Role::Bureau => {
                &["/", "/screen", "/enterprises", "/alarms", "/devices", "/quality", "/tasks", "/system"]
            }
            Role::Leader => &["/", "/screen", "/enterprises", "/alarms", "/devices", "/quality", "/tasks"],
            Role::Enterprise { .. } => &["/", "/enterprises", "/alarms", "/devices", "/quality", "/tasks"],
            _ => &["/", "/enterprises", "/tasks"],
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
            Role::Admin | Role::Bureau => &["/", "/screen", "/system", "/account/password"],
            Role::Leader => &["/", "/screen", "/account/password"],
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
