//! The workflows' uniform API (issue 18): `POST /api/v1/{kind}` answers 201 with the id, an
//! action the state does not allow is 409 with the state unchanged, a role that may not is 403,
//! bad fields are 422 naming each, an enterprise user gets the same 404 for another
//! enterprise's item as for a missing one, a rejected alarm explanation opens a task naming the
//! alarm in its `source`, and the history keeps every step.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fenhe_core::access::Role;
use serde_json::{Value, json};

use crate::alarms::seeded;
use crate::app::{TestApp, TestResponse};

async fn post(app: &TestApp, path: &str, token: &str, body: &Value) -> TestResponse {
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(serde_json::to_vec(body).expect("JSON")))
        .expect("a valid request");
    app.send(req).await
}

/// A date `days` from today, China time (a task's `due` may not be before today).
fn day_from_today(days: i64) -> String {
    let now = fenhe_core::china_time::now_ms();
    fenhe_core::china_time::date_of(now + days * 86_400_000).to_string()
}

struct World {
    app: TestApp,
    officer: String,
    e01: String,
    e02: String,
    mayor: String,
    e01_alarm: i64,
}

async fn world() -> World {
    let s = seeded().await;
    let app = s.app;
    app.store
        .upsert_department(&fenhe_store::Department {
            code: "yjj".into(),
            name_zh: "应急管理局".into(),
            name_en: "Emergency management".into(),
            service_office: false,
        })
        .await
        .expect("a department");
    app.add_user("officer", Role::Bureau).await;
    app.add_user("e01", Role::Enterprise { enterprise: "E01".into() }).await;
    app.add_user("e02", Role::Enterprise { enterprise: "E02".into() }).await;
    app.add_user("mayor", Role::Leader).await;
    World {
        officer: app.token("officer").await,
        e01: app.token("e01").await,
        e02: app.token("e02").await,
        mayor: app.token("mayor").await,
        e01_alarm: s.e01_exceedance,
        app,
    }
}

fn task_body(enterprise: &str) -> Value {
    json!({
        "enterprise": enterprise,
        "problem": "脱硫设施运行不正常",
        "measures": "检修脱硫塔",
        "lead_unit": "bureau",
        "responsible": "张三",
        "kind": "time_limited",
        "due": day_from_today(20),
    })
}

#[tokio::test]
async fn a_task_is_created_worked_and_accepted_with_every_step_kept() {
    let w = world().await;
    let app = &w.app;
    let r = post(app, "/api/v1/tasks", &w.officer, &task_body("E01")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["id"].as_i64().expect("an id");
    let path = format!("/api/v1/tasks/{id}");

    let item = app.get_bearer(&path, &w.e01).await.json();
    assert_eq!(item["state"], "assigned");
    assert_eq!(item["enterprise"], "E01");
    assert_eq!(item["source"], "manual");
    assert!(item["due_at"].as_str().is_some(), "{item}");
    assert_eq!(item["allowed_actions"], json!(["start", "request_extension"]), "{item}");
    assert_eq!(item["history"].as_array().map(Vec::len), Some(1));

    // 409: the state does not allow it; nothing changes.
    let r = post(app, &format!("{path}/actions"), &w.officer, &json!({"action": "accept"})).await;
    r.error(StatusCode::CONFLICT, "conflict");
    assert_eq!(app.get_bearer(&path, &w.officer).await.json()["state"], "assigned");

    // 403: the bureau may not start the enterprise's work; a leader may do nothing.
    let r = post(app, &format!("{path}/actions"), &w.officer, &json!({"action": "start"})).await;
    r.error(StatusCode::FORBIDDEN, "forbidden");
    let r = post(app, &format!("{path}/actions"), &w.mayor, &json!({"action": "start"})).await;
    r.error(StatusCode::FORBIDDEN, "forbidden");

    let r = post(app, &format!("{path}/actions"), &w.e01, &json!({"action": "start"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["state"], "in_progress");

    // 422: the evidence is missing; the action is named when unknown.
    let r = post(app, &format!("{path}/actions"), &w.e01, &json!({"action": "submit"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let errors = r.json()["errors"].clone();
    assert_eq!(errors[0]["field"], "evidence", "{errors}");
    assert_eq!(errors[0]["problem"], "missing", "{errors}");
    assert!(errors[0]["message"].as_str().is_some_and(|m| !m.is_empty()));
    let r = post(app, &format!("{path}/actions"), &w.e01, &json!({"action": "fly"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["errors"][0]["field"], "action");

    let r =
        post(app, &format!("{path}/actions"), &w.e01, &json!({"action": "submit", "evidence": "检修记录"}))
            .await;
    assert_eq!(r.json()["state"], "submitted", "{}", r.text());
    let r =
        post(app, &format!("{path}/actions"), &w.officer, &json!({"action": "reject", "reason": "照片不清"}))
            .await;
    assert_eq!(r.json()["state"], "in_progress", "{}", r.text());
    post(app, &format!("{path}/actions"), &w.e01, &json!({"action": "submit", "evidence": "新照片"})).await;
    let r = post(app, &format!("{path}/actions"), &w.officer, &json!({"action": "accept"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let item = r.json();
    assert_eq!(item["state"], "accepted");
    assert_eq!(item["closed"], true);
    let steps: Vec<(String, String)> = item["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|s| (s["action"].as_str().unwrap_or("").into(), s["to_state"].as_str().unwrap_or("").into()))
        .collect();
    let expected = [
        ("create", "assigned"),
        ("start", "in_progress"),
        ("submit", "submitted"),
        ("reject", "in_progress"),
        ("submit", "submitted"),
        ("accept", "accepted"),
    ];
    let expected: Vec<(String, String)> =
        expected.iter().map(|(a, s)| (a.to_string(), s.to_string())).collect();
    assert_eq!(steps, expected);
    assert_eq!(item["history"][2]["fields"]["evidence"], "检修记录");
    assert_eq!(item["history"][3]["actor"], "officer");

    // The list: the bureau's and E01's, not E02's; `state` filters.
    let list = app.get_bearer("/api/v1/tasks?state=accepted", &w.officer).await.json();
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(app.get_bearer("/api/v1/tasks", &w.e02).await.json()["total"], 0);
    let r = app.get_bearer("/api/v1/tasks?state=flying", &w.officer).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn bad_fields_are_422_each_named() {
    let w = world().await;
    let body = json!({"enterprise": "E99", "kind": "someday", "due": "tomorrow", "lead_unit": "bureau"});
    let r = post(&w.app, "/api/v1/tasks", &w.officer, &body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let v = r.json();
    let mut fields: Vec<&str> =
        v["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["due", "enterprise", "kind", "measures", "problem", "responsible"], "{v}");
    assert_eq!(v["error"]["code"], "unprocessable");

    // A major hazard without its five in place names each of them.
    let body = json!({"enterprise": "E01", "grade": "major", "description": "储罐区防渗层破损"});
    let r = post(&w.app, "/api/v1/hazards", &w.officer, &body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    let v = r.json();
    let named: Vec<&str> =
        v["errors"].as_array().expect("errors").iter().filter_map(|e| e["field"].as_str()).collect();
    for f in ["measures", "funds", "deadline", "responsible", "contingency_plan", "supervising_department"] {
        assert!(named.contains(&f), "{f} in {v}");
    }

    // Numbers are taken as text; an object is not a field value.
    let mut ok = json!({"enterprise": "E01", "grade": "major", "description": "储罐区防渗层破损", "measures": "更换防渗层",
                        "funds": 12.5, "deadline": day_from_today(30), "responsible": "李四", "contingency_plan": "应急预案A",
                        "supervising_department": "yjj"});
    let r = post(&w.app, "/api/v1/hazards", &w.officer, &ok).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let id = r.json()["id"].as_i64().expect("id");
    let item = w.app.get_bearer(&format!("/api/v1/hazards/{id}"), &w.officer).await.json();
    assert_eq!(item["fields"]["funds"], "12.5", "{item}");
    assert_eq!(item["department"], "yjj");
    ok["funds"] = json!({"amount": 1});
    let r = post(&w.app, "/api/v1/hazards", &w.officer, &ok).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["errors"][0]["field"], "funds");
}

#[tokio::test]
async fn another_enterprises_item_is_the_same_404_as_a_missing_one() {
    let w = world().await;
    let app = &w.app;
    let id =
        post(app, "/api/v1/tasks", &w.officer, &task_body("E02")).await.json()["id"].as_i64().expect("id");
    let theirs = app.get_bearer(&format!("/api/v1/tasks/{id}"), &w.e01).await;
    let missing = app.get_bearer("/api/v1/tasks/999999", &w.e01).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!((theirs.status, theirs.text()), (missing.status, missing.text()));
    let act = post(app, &format!("/api/v1/tasks/{id}/actions"), &w.e01, &json!({"action": "start"})).await;
    let act_missing = post(app, "/api/v1/tasks/999999/actions", &w.e01, &json!({"action": "start"})).await;
    assert_eq!((act.status, act.text()), (act_missing.status, act_missing.text()));
    assert_eq!(app.get_bearer(&format!("/api/v1/tasks/{id}"), &w.e02).await.status, StatusCode::OK);
    // Creating for another enterprise is refused without telling whether it exists.
    let r = post(
        app,
        "/api/v1/hazards",
        &w.e01,
        &json!({"enterprise": "E02", "grade": "general", "description": "x"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text());
    // The other enterprise's alarm review too.
    let r = app.get_bearer(&format!("/api/v1/alarms/{}", w.e01_alarm), &w.e02).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r =
        post(app, &format!("/api/v1/alarms/{}/actions", w.e01_alarm), &w.e02, &json!({"action": "explain"}))
            .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_rejected_explanation_opens_a_task_naming_the_alarm() {
    let w = world().await;
    let app = &w.app;
    let alarm = w.e01_alarm;
    // Before anyone acts, the alarm shows its review as it opens.
    let detail = app.get_bearer(&format!("/api/v1/alarms/{alarm}"), &w.e01).await.json();
    assert_eq!(detail["alarm"]["id"], alarm, "the alarm's own fields are still there: {detail}");
    assert_eq!(detail["review"]["state"], "awaiting_explanation", "{detail}");
    assert!(detail["review"]["due_at"].as_str().is_some());
    assert_eq!(detail["review"]["allowed_actions"], json!(["explain"]));
    assert_eq!(detail["review"]["history"], json!([]));

    let actions = format!("/api/v1/alarms/{alarm}/actions");
    let explain = json!({"action": "explain", "reason": "process_upset", "text": "原料波动"});
    let r = post(app, &actions, &w.e01, &explain).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["state"], "explained");
    // Explaining twice is 409, the state unchanged.
    post(app, &actions, &w.e01, &explain).await.error(StatusCode::CONFLICT, "conflict");
    let r = post(app, &actions, &w.officer, &json!({"action": "reject", "reason": "与监测数据不符"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["state"], "rejected");

    let tasks = app.get_bearer("/api/v1/tasks?enterprise=E01", &w.officer).await.json();
    assert_eq!(tasks["total"], 1, "{tasks}");
    let id = tasks["items"][0]["id"].as_i64().expect("id");
    let task = app.get_bearer(&format!("/api/v1/tasks/{id}"), &w.e01).await.json();
    assert_eq!(task["source"], format!("alarms/{alarm}"), "{task}");
    assert_eq!(task["state"], "assigned");
    assert_eq!(task["history"][0]["actor"], "system");
    assert_eq!(task["history"][0]["fields"]["on_behalf_of"], "officer");

    let detail = app.get_bearer(&format!("/api/v1/alarms/{alarm}"), &w.officer).await.json();
    let steps: Vec<&str> = detail["review"]["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|s| s["action"].as_str())
        .collect();
    assert_eq!(steps, ["create", "explain", "reject"], "{detail}");
}

#[tokio::test]
async fn an_accepted_retrofit_sets_the_stricter_limit_on_its_outlets() {
    let w = world().await;
    let app = &w.app;
    app.add_user("root", Role::Admin).await;
    let root = app.token("root").await;
    let registry = app.store.registry().await.expect("registry");
    let outlet = registry
        .outlets
        .iter()
        .find(|o| o.enterprise == "E01" && !o.limits.is_empty())
        .expect("an outlet")
        .clone();
    let factor = outlet.limits[0].factor.clone();
    let theirs = registry.outlets.iter().find(|o| o.enterprise == "E02").expect("E02's").id.clone();
    let body = |outlets: &str| {
        json!({"enterprise": "E01", "title": "超低排放改造", "outlets": outlets, "planned_start": day_from_today(1),
               "planned_end": day_from_today(60), "investment": 300})
    };
    let r = post(app, "/api/v1/retrofits", &root, &body(&theirs)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text());
    assert_eq!(r.json()["errors"][0]["field"], "outlets");
    let r = post(app, "/api/v1/retrofits", &root, &body(&outlet.id)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let path = format!("/api/v1/retrofits/{}/actions", r.json()["id"]);
    let r = post(app, &path, &w.e01, &json!({"action": "report_progress", "progress": 50, "text": "施工中"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = post(app, &path, &w.e01, &json!({"action": "complete", "actual_end": day_from_today(0)})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let from = day_from_today(10);
    let accept = json!({"action": "accept", "limit_factor": factor, "limit_value": 10, "limit_from": from});
    let r = post(app, &path, &w.officer, &accept).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["state"], "accepted");
    let after = app.store.registry().await.expect("registry");
    let limits = &after.outlet(&outlet.id).expect("the outlet").limits;
    assert!(
        limits
            .iter()
            .any(|l| l.factor == factor && l.max == Some(10.0) && l.effective_from.to_string() == from),
        "{limits:?}"
    );
    assert_eq!(limits.len(), outlet.limits.len() + 1);
}

#[tokio::test]
async fn an_attachment_reaches_its_enterprise_and_the_bureau_only() {
    use fenhe_app::workflows::{self, Upload, WorkflowError, WorkflowSettings};
    let w = world().await;
    let app = &w.app;
    let settings = WorkflowSettings::default();
    let officer = fenhe_core::access::Actor::new("officer", Role::Bureau);
    let now = fenhe_core::china_time::now_ms();
    let verify: fenhe_core::workflow::Fields = [
        ("findings".to_string(), "现场核查：除尘器破损".to_string()),
        ("verified_at".to_string(), fenhe_core::workflow::fields::datetime_text(now - 3_600_000)),
    ]
    .into_iter()
    .collect();
    let photo = Upload {
        name: "现场照片.png".into(),
        content_type: "image/png".into(),
        bytes: b"\x89PNG\r\n\x1a\nnot really a picture".to_vec(),
    };
    // A file whose bytes are not of the type it claims is refused, and nothing is stored.
    let fake = Upload { content_type: "application/pdf".into(), ..photo.clone() };
    let kind = fenhe_core::workflow::Kind::Alarms;
    let r = workflows::act(
        app.store.as_ref(),
        &settings,
        &officer,
        kind,
        w.e01_alarm,
        "verify",
        &verify,
        vec![fake],
        now,
    )
    .await;
    assert!(
        matches!(r, Err(WorkflowError::Refused(fenhe_core::workflow::Refusal::Invalid(ref p))) if p[0].field == "files"),
        "{r:?}"
    );
    let view = workflows::act(
        app.store.as_ref(),
        &settings,
        &officer,
        kind,
        w.e01_alarm,
        "verify",
        &verify,
        vec![photo],
        now,
    )
    .await
    .expect("verified");
    assert_eq!(view.files.len(), 1);
    let sha = view.files[0].sha256.clone();
    let detail = app.get_bearer(&format!("/api/v1/alarms/{}", w.e01_alarm), &w.e01).await.json();
    assert_eq!(detail["review"]["files"][0]["url"], format!("/api/v1/files/{sha}"), "{detail}");
    assert_eq!(detail["review"]["history"][1]["files"][0], sha.as_str());

    let r = app.get_bearer(&format!("/api/v1/files/{sha}"), &w.e01).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, b"\x89PNG\r\n\x1a\nnot really a picture");
    assert_eq!(r.content_type(), "image/png");
    assert!(
        r.headers[header::CONTENT_DISPOSITION].to_str().unwrap().contains("%E7%8E%B0"),
        "the name, encoded"
    );
    assert_eq!(app.get_bearer(&format!("/api/v1/files/{sha}"), &w.officer).await.status, StatusCode::OK);
    let theirs = app.get_bearer(&format!("/api/v1/files/{sha}"), &w.e02).await;
    let missing = app.get_bearer(&format!("/api/v1/files/{}", "0".repeat(64)), &w.e02).await;
    let garbage = app.get_bearer("/api/v1/files/..%2F..%2Fetc", &w.e02).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND);
    assert_eq!((theirs.status, theirs.text()), (missing.status, missing.text()));
    assert_eq!(garbage.status, StatusCode::NOT_FOUND);
}
