//! The supervision pages (`/tasks`, `/hazards`, `/retrofits`, `/{kind}/new`, `/{kind}/{id}`, the
//! alarm page's review, `/files/{sha256}`): each page for each role (another enterprise's item is
//! the same 404 as a missing one), a refused creation form back with 422 and each problem beside
//! its field, actions posted from the forms moving the state (and 409 / 403 / 422 shown on the
//! page, state unchanged), a file attached through a form and read back under the item's access.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fenhe_app::workflows::{self, WorkflowSettings};
use fenhe_core::access::{Actor, Role};
use fenhe_core::workflow::{Fields, Kind};

use crate::alarms::{roles, seeded};
use crate::app::{Browser, TestApp, TestResponse};

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn now() -> i64 {
    fenhe_core::china_time::now_ms()
}

/// A date `days` from today, China time.
fn date_in(days: i64) -> String {
    fenhe_core::china_time::date_of(now() + days * 86_400_000).to_string()
}

/// A task of `enterprise` made by the bureau through the app, as the API would.
async fn task_for(app: &TestApp, enterprise: &str) -> i64 {
    let due = date_in(10);
    let f = fields(&[
        ("enterprise", enterprise),
        ("problem", "除尘器滤袋破损"),
        ("measures", "更换滤袋"),
        ("lead_unit", "bureau"),
        ("responsible", "张三"),
        ("kind", "time_limited"),
        ("due", &due),
    ]);
    let bureau = Actor::new("officer-app", Role::Bureau);
    workflows::create(
        app.store.as_ref(),
        &WorkflowSettings::default(),
        &bureau,
        Kind::Tasks,
        &f,
        Vec::new(),
        now(),
    )
    .await
    .expect("the task is created")
}

/// POST a form as a signed-in browser, with its CSRF token.
async fn post(app: &TestApp, b: &Browser, path: &str, pairs: &[(&str, &str)]) -> TestResponse {
    let mut all = vec![("csrf", b.csrf.as_str())];
    all.extend_from_slice(pairs);
    app.post_form(path, &all, Some(&format!("fenhe_session={}", b.session))).await
}

/// POST a multipart form (as the pages' forms are) with one file.
async fn post_multipart(
    app: &TestApp,
    b: &Browser,
    path: &str,
    pairs: &[(&str, &str)],
    file: (&str, &str, &[u8]),
) -> TestResponse {
    let boundary = "----fenhe-test-boundary";
    let mut body = Vec::new();
    for (k, v) in [("csrf", b.csrf.as_str())].iter().chain(pairs) {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes(),
        );
    }
    let (name, ct, bytes) = file;
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: {ct}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .header(header::COOKIE, format!("fenhe_session={}", b.session))
        .body(Body::from(body))
        .expect("a valid request");
    app.send(req).await
}

async fn state_of(app: &TestApp, kind: &str, id: i64) -> String {
    app.store.item(kind, id).await.expect("the store answers").expect("the item exists").state
}

#[tokio::test]
async fn every_page_renders_for_every_role_and_another_enterprise_gets_404() {
    let s = seeded().await;
    let app = &s.app;
    let own = task_for(app, "E01").await;
    let other = task_for(app, "E02").await;
    assert_eq!(app.get("/tasks").await.status, StatusCode::SEE_OTHER, "a stranger is sent to sign in");
    for (name, role) in roles() {
        let b = app.signed_in(name, role.clone()).await;
        for list in ["/tasks", "/hazards", "/retrofits"] {
            let r = app.get_as(list, &b).await;
            assert_eq!(r.status, StatusCode::OK, "{name} {list}: {}", r.text());
            assert!(r.text().contains("督办整改"), "{name} {list}: the page has its title");
        }
        let list = app.get_as("/tasks", &b).await.text();
        let item = app.get_as(&format!("/tasks/{own}"), &b).await;
        let foreign = app.get_as(&format!("/tasks/{other}"), &b).await;
        let missing = app.get_as("/tasks/999999", &b).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{name}");
        assert_eq!(app.get_as("/tasks/x", &b).await.status, StatusCode::NOT_FOUND, "{name}");
        match &role {
            Role::Enterprise { .. } => {
                assert_eq!(item.status, StatusCode::OK, "{name}");
                assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{name}: another enterprise's task");
                // The same page as a missing one, but for the address the language switch returns to.
                let scrub = |page: String, id: &str| page.replace(&format!("/tasks/{id}"), "/tasks/ID");
                assert_eq!(scrub(foreign.text(), &other.to_string()), scrub(missing.text(), "999999"));
                assert!(
                    list.contains(&format!("href=\"/tasks/{own}\""))
                        && !list.contains(&format!("href=\"/tasks/{other}\""))
                );
                // The enterprise may start its own task: the form is there.
                assert!(item.text().contains("name=\"action\" value=\"start\""), "{name}");
            }
            Role::Department { .. } => {
                // A task led by the bureau is none of a department's.
                assert_eq!(item.status, StatusCode::NOT_FOUND, "{name}");
            }
            _ => {
                assert_eq!(item.status, StatusCode::OK, "{name}");
                assert_eq!(foreign.status, StatusCode::OK, "{name}");
                let page = item.text();
                assert!(page.contains("除尘器滤袋破损") && page.contains("已下达"), "{name}: {page}");
                assert!(page.contains(" 24:00"), "{name}: the deadline is the end of its day");
                assert!(
                    !page.contains("name=\"action\" value=\"start\""),
                    "{name}: only the enterprise starts"
                );
            }
        }
        // Every role gets a creation page; a role that may not create is refused when it posts.
        for kind in ["tasks", "hazards", "retrofits"] {
            let r = app.get_as(&format!("/{kind}/new"), &b).await;
            assert_eq!(r.status, StatusCode::OK, "{name} /{kind}/new");
        }
    }
}

#[tokio::test]
async fn the_pages_speak_english_too() {
    let s = seeded().await;
    let app = &s.app;
    let id = task_for(app, "E01").await;
    let b = app.signed_in("officer", Role::Bureau).await;
    let page = app.get_as(&format!("/tasks/{id}?lang=en"), &b).await.text();
    assert!(page.contains("Assigned") && page.contains("Rectification task"), "{page}");
    let list = app.get_as("/tasks?lang=en", &b).await.text();
    assert!(list.contains("Supervision") && list.contains("New rectification task"), "{list}");
    let form = app.get_as("/hazards/new?lang=en", &b).await.text();
    assert!(form.contains("<option value=\"major\">Major</option>"), "choices are labelled: {form}");
}

#[tokio::test]
async fn a_major_hazard_without_its_five_fields_comes_back_422_naming_each() {
    let s = seeded().await;
    let app = &s.app;
    let b = app.signed_in("officer", Role::Bureau).await;
    let r = post(
        app,
        &b,
        "/hazards/new",
        &[("enterprise", "E01"), ("grade", "major"), ("description", "煤气柜密封老化")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let page = r.text();
    for field in
        ["measures", "funds", "deadline", "responsible", "contingency_plan", "supervising_department"]
    {
        assert!(page.contains(&format!("id=\"f-e-{field}\"")), "no problem beside {field}: {page}");
    }
    assert!(page.contains("煤气柜密封老化"), "what was typed comes back");
    assert!(page.contains("<option value=\"major\" selected>"), "the choice is kept");
    // With them, it is registered and the browser goes to its page.
    let deadline = date_in(30);
    let r = post(
        app,
        &b,
        "/hazards/new",
        &[
            ("enterprise", "E01"),
            ("grade", "major"),
            ("description", "煤气柜密封老化"),
            ("measures", "更换密封"),
            ("funds", "120"),
            ("deadline", &deadline),
            ("responsible", "李四"),
            ("contingency_plan", "煤气泄漏应急预案"),
            ("supervising_department", "yjj"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    let at = r.location().to_string();
    assert!(at.starts_with("/hazards/"), "{at}");
    let page = app.get_as(&at, &b).await.text();
    assert!(page.contains("重大隐患") && page.contains("已登记"), "{page}");
    // A leader may not create: 403 with the reason on the form.
    let leader = app.signed_in("mayor", Role::Leader).await;
    let r = post(
        app,
        &leader,
        "/hazards/new",
        &[("enterprise", "E01"), ("grade", "general"), ("description", "x")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    // Without the form's token: refused before anything is looked at.
    let r = app
        .post_form("/hazards/new", &[("grade", "general")], Some(&format!("fenhe_session={}", b.session)))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn actions_posted_from_the_forms_move_the_state() {
    let s = seeded().await;
    let app = &s.app;
    let alarm = s.e01_exceedance;
    let e01 = app.signed_in("e01", Role::Enterprise { enterprise: "E01".into() }).await;
    let bureau = app.signed_in("officer", Role::Bureau).await;
    let e02 = app.signed_in("e02", Role::Enterprise { enterprise: "E02".into() }).await;

    // The alarm page shows its review, awaiting the enterprise's explanation.
    let page = app.get_as(&format!("/alarms/{alarm}"), &e01).await.text();
    assert!(page.contains("待说明") && page.contains("name=\"action\" value=\"explain\""), "{page}");
    // Another enterprise may not act on it: the same 404 as a missing alarm.
    let path = format!("/alarms/{alarm}/actions");
    let r =
        post(app, &e02, &path, &[("action", "explain"), ("reason", "process_upset"), ("text", "x")]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // A bad explanation: 422 with the problem beside its field, nothing stored.
    let r = post(app, &e01, &path, &[("action", "explain"), ("reason", "weather")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert!(r.text().contains("id=\"explain-e-reason\"") && r.text().contains("id=\"explain-e-text\""));
    // Explained, then rejected by the bureau: a task is opened naming the alarm.
    let r =
        post(app, &e01, &path, &[("action", "explain"), ("reason", "process_upset"), ("text", "工况波动")])
            .await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, format!("/alarms/{alarm}").as_str()));
    assert_eq!(state_of(app, "alarms", alarm).await, "explained");
    // The enterprise cannot review its own explanation: 403 shown on the page, state unchanged.
    let r = post(app, &e01, &path, &[("action", "accept")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    assert!(r.text().contains("您的角色不能进行该操作"));
    assert_eq!(state_of(app, "alarms", alarm).await, "explained");
    let r = post(app, &bureau, &path, &[("action", "reject"), ("reason", "理由不成立")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(state_of(app, "alarms", alarm).await, "rejected");
    let page = app.get_as(&format!("/alarms/{alarm}"), &bureau).await.text();
    assert!(
        page.contains("提交说明") && page.contains("驳回") && page.contains("理由不成立"),
        "the timeline: {page}"
    );
    let tasks = app
        .store
        .items(&fenhe_store::ItemQuery { kind: "tasks".into(), ..Default::default() })
        .await
        .unwrap();
    let source = format!("alarms/{alarm}");
    let task =
        tasks.iter().find(|t| t.source.as_deref() == Some(source.as_str())).expect("a task from the alarm");
    let task_page = app.get_as(&format!("/tasks/{}", task.id), &e01).await.text();
    assert!(
        task_page.contains(&format!("href=\"/alarms/{alarm}\"")),
        "the task names its alarm: {task_page}"
    );

    // The task: started from its form; started again is 409 with the state unchanged.
    let path = format!("/tasks/{}/actions", task.id);
    let r = post(app, &e01, &path, &[("action", "start")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(state_of(app, "tasks", task.id).await, "in_progress");
    let r = post(app, &e01, &path, &[("action", "start")]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text());
    assert!(r.text().contains("事项状态未改变"));
    assert_eq!(state_of(app, "tasks", task.id).await, "in_progress");
    // Submitted with a file from the multipart form; the file is on the timeline and readable
    // by the enterprise and the bureau, not by another enterprise.
    let photo = b"\x89PNG\r\n\x1a\nnot really a picture";
    let r = post_multipart(
        app,
        &e01,
        &path,
        &[("action", "submit"), ("evidence", "已更换滤袋")],
        ("整改照片.png", "image/png", photo),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(state_of(app, "tasks", task.id).await, "submitted");
    let page = app.get_as(&format!("/tasks/{}", task.id), &bureau).await.text();
    let at = page.find("href=\"/files/").expect("the file is linked");
    let href = &page[at + 6..];
    let href = &href[..href.find('"').unwrap()];
    assert!(page.contains("整改照片.png"), "{page}");
    let file = app.get_as(href, &e01).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.body, photo);
    assert_eq!(app.get_as(href, &e02).await.status, StatusCode::NOT_FOUND);
    // Accepted by the bureau: closed.
    let r = post(app, &bureau, &path, &[("action", "accept"), ("text", "整改到位")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(state_of(app, "tasks", task.id).await, "accepted");
}
