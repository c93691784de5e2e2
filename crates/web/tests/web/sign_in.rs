//! Signing in and out, the session cookie, CSRF, and the return path after sign-in.

use axum::http::{StatusCode, header};
use fenhe_core::access::Role;

use crate::app::{Browser, PASSWORD, TestApp, TestResponse, hidden};

#[tokio::test]
async fn signing_in_sets_a_guarded_session_cookie_and_goes_where_asked() {
    let app = TestApp::builder().build().await;
    app.add_user("officer", Role::Bureau).await;
    let r = app.post_login("officer", PASSWORD, "/system").await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/system"), "{}", r.text());
    let cookie = r.set_cookie("fenhe_session").expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP unless configured: {cookie}");
    // The sign-in form's token is spent.
    assert!(r.set_cookie("fenhe_login_csrf").unwrap().contains("Max-Age=0"));

    let secure = TestApp::builder().secure_cookies().build().await;
    secure.add_user("officer", Role::Bureau).await;
    let r = secure.post_login("officer", PASSWORD, "/").await;
    assert!(
        r.set_cookie("fenhe_session").unwrap().contains("; Secure"),
        "{:?}",
        r.set_cookie("fenhe_session")
    );
}

#[tokio::test]
async fn a_wrong_password_is_shown_in_the_form_in_the_pages_language() {
    let app = TestApp::builder().build().await;
    app.add_user("officer", Role::Bureau).await;
    let r = app.post_login("officer", "wrong password!", "/").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.set_cookie("fenhe_session").is_none());
    let page = r.text();
    assert!(page.contains("用户名或密码错误"), "{page}");
    // The name stays filled in; an unknown name gets the very same message.
    assert!(page.contains("value=\"officer\""), "{page}");
    let r = app.post_login("nobody", "wrong password!", "/").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text().contains("用户名或密码错误"));
    // A form without a password is a failed sign-in in the page, not a bare error.
    let csrf = app.login_form().await;
    let fields = [("csrf", csrf.as_str()), ("username", "officer")];
    let r = app.post_form("/login", &fields, Some(&format!("fenhe_login_csrf={csrf}"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text().contains("用户名或密码错误"));

    let csrf = app.login_form().await;
    let cookie = format!("fenhe_login_csrf={csrf}; lang=en");
    let fields = [("csrf", csrf.as_str()), ("username", "officer"), ("password", "nope"), ("next", "/")];
    let r = app.post_form("/login", &fields, Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.text().contains("Wrong username or password."), "{}", r.text());
}

#[tokio::test]
async fn repeated_failures_are_throttled_with_a_time_to_try_again() {
    let app = TestApp::builder().build().await;
    app.add_user("officer", Role::Bureau).await;
    let mut last = None;
    for _ in 0..6 {
        last = Some(app.post_login("officer", "wrong password!", "/").await);
    }
    let r = last.unwrap();
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text());
    let wait: i64 = r.headers[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=15 * 60).contains(&wait), "{wait}");
    assert!(r.text().contains("尝试次数过多"), "{}", r.text());
    // Even the right password is refused while throttled.
    let r = app.post_login("officer", PASSWORD, "/").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn the_sign_in_form_is_refused_without_its_csrf_token() {
    let app = TestApp::builder().build().await;
    app.add_user("officer", Role::Bureau).await;
    let csrf = app.login_form().await;
    let fields = [("csrf", csrf.as_str()), ("username", "officer"), ("password", PASSWORD)];
    // No cookie (another site's form), or a cookie that differs from the field.
    for cookie in [None, Some("fenhe_login_csrf=0000")] {
        let r = app.post_form("/login", &fields, cookie).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN);
        assert!(r.text().contains("表单已过期或来源不明"), "{}", r.text());
        assert!(r.set_cookie("fenhe_session").is_none());
    }
}

#[tokio::test]
async fn signed_in_forms_need_the_sessions_token() {
    let app = TestApp::builder().build().await;
    let b = app.signed_in("officer", Role::Bureau).await;
    let cookie = format!("fenhe_session={}", b.session);
    let r = app.post_form("/logout", &[("csrf", "forged")], Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text().contains("表单已过期或来源不明"));
    let r = app.post_form("/logout", &[], Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Still signed in.
    assert_eq!(app.get_as("/", &b).await.status, StatusCode::OK);

    let r = app.post_form("/logout", &[("csrf", &b.csrf)], Some(&cookie)).await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/login"));
    assert!(r.set_cookie("fenhe_session").unwrap().contains("Max-Age=0"));
    // The session is gone from the store, not only from the browser.
    let r = app.get_as("/", &b).await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/login"));
}

#[tokio::test]
async fn pages_send_strangers_to_sign_in_and_back_but_only_to_local_paths() {
    let app = TestApp::builder().build().await;
    let r = app.get("/account/password").await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/login?next=/account/password"));
    let r = app.get("/").await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/login"));

    // The form carries a local return path and drops anything else.
    let page = app.get("/login?next=/system").await.text();
    assert_eq!(hidden(&page, "next").as_deref(), Some("/system"));
    for evil in ["https://evil.example/", "//evil.example/x", "/\\evil.example"] {
        let page = app.get(&format!("/login?next={}", fenhe_web::local_path::encode(evil))).await.text();
        assert_eq!(hidden(&page, "next").as_deref(), Some("/"), "{evil}");
    }
    app.add_user("officer", Role::Bureau).await;
    let r = app.post_login("officer", PASSWORD, "https://evil.example/").await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/"));
}

async fn change(app: &TestApp, b: &Browser, old: &str, new: &str, repeat: &str) -> TestResponse {
    let cookie = format!("fenhe_session={}", b.session);
    let fields = [("csrf", b.csrf.as_str()), ("old", old), ("new", new), ("repeat", repeat)];
    app.post_form("/account/password", &fields, Some(&cookie)).await
}

#[tokio::test]
async fn a_signed_in_person_changes_their_password() {
    let app = TestApp::builder().build().await;
    let b = app.signed_in("officer", Role::Bureau).await;
    let new = "a much longer secret";
    let r = change(&app, &b, PASSWORD, new, "something else").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("两次输入的新密码不一致"));
    let r = change(&app, &b, "not my password", new, new).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("当前密码不正确"));
    let r = change(&app, &b, PASSWORD, "short", "short").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("新密码太短"), "{}", r.text());
    let r = change(&app, &b, PASSWORD, new, new).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text().contains("密码已修改"));
    // The session it was changed from stays; the new password signs in, the old one not.
    assert_eq!(app.get_as("/", &b).await.status, StatusCode::OK);
    assert_eq!(app.post_login("officer", PASSWORD, "/").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.post_login("officer", new, "/").await.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn demo_mode_lists_the_demo_accounts_on_the_sign_in_page() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).demo().build().await;
    let accounts =
        fenhe_app::accounts::ensure_demo_accounts(app.store.as_ref(), fenhe_core::china_time::now_ms())
            .await
            .unwrap();
    assert!(!accounts.is_empty());
    let page = app.get("/login").await.text();
    for a in &accounts {
        assert!(page.contains(&a.username) && page.contains(&a.password), "{} missing", a.username);
    }
    // Not outside demo mode.
    let plain = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    fenhe_app::accounts::ensure_demo_accounts(plain.store.as_ref(), 0).await.unwrap();
    assert!(!plain.get("/login").await.text().contains("演示账号"));
}

/// A partial update (htmx) after the session ended is told to load the sign-in page in the window,
/// coming back to the page shown, instead of having the sign-in page swapped into a fragment.
#[tokio::test]
async fn an_htmx_request_without_a_session_sends_the_window_to_sign_in() {
    use axum::http::HeaderName;
    let app = TestApp::builder().build().await;
    let r = app
        .get_with(
            "/alarms?page=2",
            &[
                (HeaderName::from_static("hx-request"), "true"),
                (HeaderName::from_static("hx-current-url"), "http://127.0.0.1:8080/alarms?kind=exceedance"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["hx-redirect"], "/login?next=/alarms%3Fkind%3Dexceedance");
    assert!(r.body.is_empty());
    // A plain request is still redirected.
    let r = app.get("/alarms").await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/login?next=/alarms"));
}
