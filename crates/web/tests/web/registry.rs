//! `/registry`: every route × role (administrators only; bureau officers the devices; enterprise
//! users never), CSRF on every form, field errors beside their fields with the values kept, the
//! audit of an edit, imports all or nothing, exports and pages without device passwords, users.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fenhe_core::access::Role;
use fenhe_store::AuditQuery;

use crate::app::{Browser, PASSWORD, TestApp, TestResponse};

fn roles() -> Vec<(&'static str, Role)> {
    vec![
        ("root", Role::Admin),
        ("mayor", Role::Leader),
        ("officer", Role::Bureau),
        ("fgw1", Role::Department { department: "fgw".into() }),
        ("e01", Role::Enterprise { enterprise: "E01".into() }),
    ]
}

async fn app() -> TestApp {
    TestApp::builder().registry(fenhe_core::demo::city()).build().await
}

fn cookie(b: &Browser) -> String {
    format!("fenhe_session={}", b.session)
}

async fn post(app: &TestApp, b: &Browser, path: &str, fields: &[(&str, &str)]) -> TestResponse {
    let mut all = vec![("csrf", b.csrf.as_str())];
    all.extend_from_slice(fields);
    app.post_form(path, &all, Some(&cookie(b))).await
}

/// The demo's first enterprise as its form posts it.
fn enterprise_fields(e: &fenhe_core::registry::Enterprise) -> Vec<(&'static str, String)> {
    let f = fenhe_app::registry_admin::EnterpriseForm::of(e);
    vec![
        ("id", f.id),
        ("name", f.name),
        ("uscc", f.uscc),
        ("ownership", f.ownership),
        ("industry", f.industry),
        ("category", f.category),
        ("address", f.address),
        ("longitude", f.longitude),
        ("latitude", f.latitude),
        ("contacts", f.contacts),
        ("permitted", f.permitted),
    ]
}

fn refs<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn only_administrators_open_the_registry_and_bureau_officers_its_devices() {
    let app = app().await;
    let r = fenhe_core::demo::city();
    let (outlet, mn) = (r.outlets[0].id.clone(), r.devices[0].mn.clone());
    let admin_only = [
        "/registry/enterprises".to_string(),
        "/registry/enterprises/new".into(),
        "/registry/enterprises/E01".into(),
        "/registry/enterprises/E02".into(),
        "/registry/outlets".into(),
        "/registry/outlets/new".into(),
        format!("/registry/outlets/{outlet}"),
        "/registry/limits".into(),
        format!("/registry/limits?outlet={outlet}"),
        "/registry/users".into(),
        "/registry/users/root".into(),
        "/registry/import".into(),
        "/registry/export.toml".into(),
        "/registry/export.json".into(),
    ];
    let devices =
        ["/registry/devices".to_string(), "/registry/devices/new".into(), format!("/registry/devices/{mn}")];
    for (name, role) in roles() {
        let b = app.signed_in(name, role.clone()).await;
        for path in &admin_only {
            let want = if role == Role::Admin { StatusCode::OK } else { StatusCode::FORBIDDEN };
            assert_eq!(app.get_as(path, &b).await.status, want, "{name} {path}");
        }
        for path in &devices {
            let want = if matches!(role, Role::Admin | Role::Bureau) {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(app.get_as(path, &b).await.status, want, "{name} {path}");
        }
        let index = app.get_as("/registry", &b).await;
        match role {
            Role::Admin => assert_eq!(index.location(), "/registry/enterprises"),
            Role::Bureau => assert_eq!(index.location(), "/registry/devices"),
            _ => assert_eq!(index.status, StatusCode::FORBIDDEN, "{name}"),
        }
    }
    // Missing entries are 404 for those who may look; an enterprise user gets 403 for its own
    // enterprise, another's and a missing one alike.
    let root = app.sign_in("root").await;
    for path in [
        "/registry/enterprises/E99",
        "/registry/outlets/nope",
        "/registry/devices/NOPE1",
        "/registry/users/nobody",
    ] {
        assert_eq!(app.get_as(path, &root).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let e01 = app.sign_in("e01").await;
    for path in ["/registry/enterprises/E01", "/registry/enterprises/E02", "/registry/enterprises/E99"] {
        let r = app.get_as(path, &e01).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}");
        assert!(!r.text().contains("91141000"), "{path}: no credit code leaks");
    }
    // A stranger is sent to sign in.
    let r = app.get("/registry/enterprises").await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/login?next=/registry/enterprises"));
}

#[tokio::test]
async fn every_form_post_needs_the_sessions_csrf_token_and_the_role() {
    let app = app().await;
    let r = fenhe_core::demo::city();
    let root = app.signed_in("root", Role::Admin).await;
    let e = enterprise_fields(&r.enterprises[0]);
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/registry/enterprises".into(), refs(&e)),
        ("/registry/enterprises/E01".into(), refs(&e)),
        (
            "/registry/outlets".into(),
            vec![("id", "X-1"), ("enterprise", "E01"), ("name", "x"), ("kind", "flue_gas")],
        ),
        (
            format!("/registry/outlets/{}", r.outlets[0].id),
            vec![("name", "x"), ("enterprise", "E01"), ("kind", "flue_gas")],
        ),
        (
            "/registry/limits".into(),
            vec![
                ("outlet", &r.outlets[0].id),
                ("factor", "a21026"),
                ("max", "1"),
                ("effective_from", "2030-01-01"),
            ],
        ),
        (
            "/registry/limits/remove".into(),
            vec![("outlet", &r.outlets[0].id), ("factor", "a21026"), ("effective_from", "2019-01-01")],
        ),
        (
            "/registry/devices".into(),
            vec![("mn", "NEW1"), ("outlet", &r.outlets[0].id), ("new_password", "abcdef")],
        ),
        (format!("/registry/devices/{}", r.devices[0].mn), vec![("outlet", &r.outlets[0].id)]),
        ("/registry/users".into(), vec![("username", "newbie"), ("role", "bureau"), ("password", PASSWORD)]),
        ("/registry/users/root/active".into(), vec![("active", "false")]),
        ("/registry/users/root/password".into(), vec![("password", PASSWORD), ("repeat", PASSWORD)]),
        ("/registry/tokens/1/revoke".into(), vec![]),
    ];
    let before = app.store.registry().await.unwrap();
    for (path, fields) in &posts {
        let r = app.post_form(path, fields, Some(&cookie(&root))).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} without a token");
        let mut wrong = vec![("csrf", "0".repeat(64))];
        wrong.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
        let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = app.post_form(path, &wrong, Some(&cookie(&root))).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{path} with another token");
    }
    // Other roles with their own valid token: refused by the policy.
    for (name, role) in roles().into_iter().skip(1) {
        let b = app.signed_in(name, role.clone()).await;
        for (path, fields) in &posts {
            let r = post(&app, &b, path, fields).await;
            let bureau_device = role == Role::Bureau && path.starts_with("/registry/devices");
            if bureau_device {
                assert_ne!(r.status, StatusCode::FORBIDDEN, "{name} {path}");
            } else {
                assert_eq!(r.status, StatusCode::FORBIDDEN, "{name} {path}: {}", r.text());
            }
        }
    }
    // The upload form too.
    let r = upload(&app, &root, "0", &[("city.toml", "".into())]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let after = app.store.registry().await.unwrap();
    assert_eq!(after.enterprises, before.enterprises);
    assert_eq!(after.outlets, before.outlets, "nothing was changed by a refused post");
    assert!(app.store.user("newbie").await.unwrap().is_none());
}

#[tokio::test]
async fn a_bad_uscc_shows_its_message_beside_the_field_and_keeps_what_was_typed() {
    let app = app().await;
    let root = app.signed_in("root", Role::Admin).await;
    let r = fenhe_core::demo::city();
    let mut fields = enterprise_fields(&r.enterprises[0]);
    fields[1].1 = "临汾测试焦化有限公司".into();
    fields[2].1 = "91350100M000100Y44".into();
    fields[8].1 = "north".into();
    let resp = post(&app, &root, "/registry/enterprises/E01", &refs(&fields)).await;
    assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = resp.text();
    assert!(page.contains("value=\"91350100M000100Y44\""), "the typed code is kept");
    assert!(page.contains("value=\"临汾测试焦化有限公司\""), "the typed name is kept");
    assert!(page.contains("value=\"north\""));
    let uscc_field = &page[page.find("id=\"f-uscc\"").unwrap()..];
    let next_field = uscc_field.find("<div class=\"field").unwrap();
    let beside = &uscc_field[..next_field];
    assert!(beside.contains("统一社会信用代码无效（校验位为 4，应为 3）"), "{beside}");
    assert!(page.contains("id=\"e-latitude\""), "the latitude's problem is beside it");
    assert_eq!(app.store.registry().await.unwrap().enterprises[0], r.enterprises[0], "nothing changed");

    // In English, the rule's own words.
    let en = app
        .send(
            Request::post("/registry/enterprises/E01")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, format!("{}; lang=en", cookie(&root)))
                .body(Body::from({
                    let mut all = vec![("csrf", root.csrf.clone())];
                    all.extend(fields.iter().map(|(k, v)| (*k, v.clone())));
                    serde_urlencoded::to_string(&all).unwrap()
                }))
                .unwrap(),
        )
        .await
        .text();
    assert!(en.contains("check character is &#39;4&#39; but should be &#39;3&#39;"), "{en}");

    // The refused attempt is on record, with what was typed.
    let refused = app
        .store
        .audit(&AuditQuery { action: Some("enterprise.refused".into()), limit: 5, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(refused.len(), 2);
    assert_eq!(refused[0].entry.actor, "root");
}

#[tokio::test]
async fn an_edit_is_saved_and_audited_with_before_and_after() {
    let app = app().await;
    let root = app.signed_in("root", Role::Admin).await;
    let r = fenhe_core::demo::city();
    let mut fields = enterprise_fields(&r.enterprises[0]);
    fields[6].1 = "临汾市尧都区新地址 1 号".into();
    let resp = post(&app, &root, "/registry/enterprises/E01", &refs(&fields)).await;
    assert_eq!((resp.status, resp.location()), (StatusCode::SEE_OTHER, "/registry/enterprises/E01?saved=1"));
    assert_eq!(app.store.registry().await.unwrap().enterprises[0].address, "临汾市尧都区新地址 1 号");
    let page = app.get_as("/registry/enterprises/E01?saved=1", &root).await.text();
    assert!(page.contains("已保存"), "{page}");

    let entries = app
        .store
        .audit(&AuditQuery { action: Some("enterprise.update".into()), limit: 5, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(entries.len(), 1);
    let e = &entries[0].entry;
    assert_eq!(e.before.as_ref().unwrap()["address"], r.enterprises[0].address.as_str());
    assert_eq!(e.after.as_ref().unwrap()["address"], "临汾市尧都区新地址 1 号");

    // The audit page shows the change by field.
    let audit = app.get_as("/audit?object=E01", &root).await;
    assert_eq!(audit.status, StatusCode::OK);
    let text = audit.text();
    assert!(text.contains("修改企业") && text.contains("临汾市尧都区新地址 1 号"), "{text}");
    assert!(text.contains("<th class=\"mono\">address</th>"), "{text}");

    // A new outlet, a limit on it, a device for it.
    let resp = post(
        &app,
        &root,
        "/registry/outlets",
        &[
            ("id", "E01-DA099"),
            ("enterprise", "E01"),
            ("name", "9#锅炉"),
            ("kind", "flue_gas"),
            ("reference_o2", "9"),
        ],
    )
    .await;
    assert_eq!(resp.location(), "/registry/outlets/E01-DA099?saved=1");
    let page = app.get_as("/registry/outlets/E01-DA099", &root).await.text();
    assert!(
        page.contains("href=\"/registry/limits?outlet=E01-DA099\""),
        "the outlet's page links its limits"
    );
    let resp = post(
        &app,
        &root,
        "/registry/limits",
        &[("outlet", "E01-DA099"), ("factor", "a21026"), ("max", "35"), ("effective_from", "2024-01-01")],
    )
    .await;
    assert_eq!(resp.location(), "/registry/limits?outlet=E01-DA099&saved=1");
    let resp = post(
        &app,
        &root,
        "/registry/devices",
        &[
            ("mn", "LF0099"),
            ("outlet", "E01-DA099"),
            ("protocol", "2017"),
            ("crc", "standard"),
            ("new_password", "pw-0099"),
            ("hourly", "on"),
        ],
    )
    .await;
    assert_eq!(resp.location(), "/registry/devices/LF0099?saved=1", "{}", resp.text());
    let stored = app.store.registry().await.unwrap();
    assert_eq!(stored.outlet("E01-DA099").unwrap().limits.len(), 1);
    assert_eq!(stored.device("LF0099").unwrap().password, "pw-0099");
}

#[tokio::test]
async fn a_limit_whose_minimum_is_above_its_maximum_is_refused_beside_the_minimum() {
    let app = app().await;
    let root = app.signed_in("root", Role::Admin).await;
    let outlet = fenhe_core::demo::city().outlets[0].clone();
    let resp = post(
        &app,
        &root,
        "/registry/limits",
        &[
            ("outlet", &outlet.id),
            ("factor", "w01001"),
            ("min", "9"),
            ("max", "6"),
            ("effective_from", "2030-01-01"),
        ],
    )
    .await;
    assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = resp.text();
    let min = &page[page.find("id=\"f-min\"").unwrap()..];
    assert!(min[..min.find("<div class=\"field").unwrap()].contains("下限高于上限"), "{page}");
    assert!(page.contains("value=\"9\"") && page.contains("value=\"2030-01-01\""));
    assert_eq!(app.store.registry().await.unwrap().outlets[0].limits, outlet.limits);

    // Removing a limit.
    let l = &outlet.limits[0];
    let from = l.effective_from.to_string();
    let resp = post(
        &app,
        &root,
        "/registry/limits/remove",
        &[("outlet", &outlet.id), ("factor", &l.factor), ("effective_from", &from)],
    )
    .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
    assert_eq!(app.store.registry().await.unwrap().outlets[0].limits.len(), outlet.limits.len() - 1);
}

#[tokio::test]
async fn device_passwords_are_never_shown_back() {
    let app = app().await;
    let root = app.signed_in("root", Role::Admin).await;
    let r = fenhe_core::demo::city();
    let d = &r.devices[0];
    let mut texts = vec![];
    for path in ["/registry/devices".to_string(), format!("/registry/devices/{}", d.mn)] {
        let page = app.get_as(&path, &root).await.text();
        assert!(page.contains("已设置"), "{path}");
        texts.push(page);
    }
    texts.push(app.get_as("/registry/export.toml", &root).await.text());
    texts.push(app.get_as("/registry/export.json", &root).await.text());
    for t in &texts {
        for device in &r.devices {
            assert!(
                !t.contains(&format!("\"{}\"", device.password))
                    && !t.contains(&format!("={}", device.password))
            );
        }
        assert!(!t.contains("password ="), "no password key in an export");
    }
    let json = app.get_as("/registry/export.json", &root).await;
    assert!(json.headers[header::CONTENT_DISPOSITION].to_str().unwrap().contains(".json"));
    let v: serde_json::Value = serde_json::from_slice(&json.body).unwrap();
    assert_eq!(v["devices"].as_array().unwrap().len(), r.devices.len());
    assert!(v["devices"][0].get("password").is_none());

    // Saving without a new password keeps the old one.
    let f = fenhe_app::registry_admin::DeviceForm::of(d);
    let resp = post(
        &app,
        &root,
        &format!("/registry/devices/{}", d.mn),
        &[
            ("outlet", &f.outlet),
            ("protocol", &f.protocol),
            ("crc", &f.crc),
            ("rtd_interval_s", "60"),
            ("minute_interval_min", "1"),
            ("max_segment_len", "1024"),
        ],
    )
    .await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER, "{}", resp.text());
    let stored = app.store.registry().await.unwrap().device(&d.mn).unwrap().clone();
    assert_eq!(
        (stored.password.as_str(), stored.rtd_interval_s, stored.hourly),
        (d.password.as_str(), 60, false)
    );
}

/// POST the upload form (multipart) with these files.
async fn upload(app: &TestApp, b: &Browser, csrf: &str, files: &[(&str, String)]) -> TestResponse {
    let boundary = "fenhe-test-boundary";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n");
    for (name, text) in files {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n{text}\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let req = Request::post("/registry/import")
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .header(header::COOKIE, cookie(b))
        .body(Body::from(body))
        .unwrap();
    app.send(req).await
}

#[tokio::test]
async fn an_import_with_errors_changes_nothing_and_lists_every_error_where_it_is() {
    let app = app().await;
    let root = app.signed_in("root", Role::Admin).await;
    let before = app.store.registry().await.unwrap();
    let mut changed = before.clone();
    changed.enterprises[1].name = "改名后的企业".into();
    changed.enterprises[1].uscc = "91141000MA0H00002X".into();
    changed.devices[2].outlet = "missing".into();
    let toml = fenhe_app::registry_files::to_toml(&changed).unwrap();
    let bad_csv = "mn,password,outlet,protocol\nM1,123456,E01-DA001,2018\n".to_string();
    let resp =
        upload(&app, &root, &root.csrf, &[("city.toml", toml.clone()), ("devices.csv", bad_csv)]).await;
    assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", resp.text());
    let page = resp.text();
    assert!(page.contains("未作任何修改"), "{page}");
    assert!(page.contains("devices.csv") && page.contains("protocol"), "{page}");
    assert_eq!(app.store.registry().await.unwrap(), before, "nothing of a refused upload is applied");
    let imports = app.store.imports(5).await.unwrap();
    assert!(!imports[0].record.ok);
    assert_eq!(imports[0].record.files, ["city.toml", "devices.csv"]);

    // Without the bad CSV, the TOML's own problems: each with its line and field.
    let resp = upload(&app, &root, &root.csrf, &[("city.toml", toml.clone())]).await;
    let page = resp.text();
    assert!(page.contains("enterprises[1].uscc") && page.contains("devices[2].outlet"), "{page}");
    let line = toml.lines().position(|l| l.starts_with("uscc = \"91141000MA0H00002X\"")).unwrap() + 1;
    assert!(page.contains(&format!("<td class=\"num\">{line}</td>")), "line {line}: {page}");
    assert_eq!(app.store.registry().await.unwrap(), before);

    // A sound file is applied, recorded and audited; the history lists all three attempts.
    changed.enterprises[1].uscc = before.enterprises[1].uscc.clone();
    changed.devices[2].outlet = before.devices[2].outlet.clone();
    let json = fenhe_app::registry_files::to_json(&changed).unwrap();
    let resp = upload(&app, &root, &root.csrf, &[("city.json", json)]).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    assert!(resp.text().contains("导入成功"));
    assert_eq!(app.store.registry().await.unwrap().enterprises[1].name, "改名后的企业");
    let history = app.get_as("/registry/import", &root).await.text();
    assert_eq!(history.matches("已拒绝").count(), 2, "{history}");
    assert_eq!(history.matches("class=\"tag tag-ok\"").count(), 1);
    let audited = app
        .store
        .audit(&AuditQuery { action: Some("registry.import".into()), limit: 5, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(audited.len(), 1);

    // An upload that is not a multipart form is refused on a page, in the person's language.
    let req = Request::post("/registry/import")
        .header(header::CONTENT_TYPE, "text/plain")
        .header(header::COOKIE, cookie(&root))
        .body(Body::from("not a form"))
        .unwrap();
    let resp = app.send(req).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert!(resp.text().contains("无法读取上传的文件"), "{}", resp.text());

    // An enterprise user cannot upload, whatever the file.
    let e01 = app.signed_in("e01", Role::Enterprise { enterprise: "E01".into() }).await;
    let resp = upload(&app, &e01, &e01.csrf, &[("city.json", String::new())]).await;
    assert_eq!(resp.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn administrators_add_users_reset_passwords_deactivate_and_revoke_tokens() {
    let app = app().await;
    let root = app.signed_in("root", Role::Admin).await;

    // A bad form: the username's problem beside it, the values kept, the password not.
    let resp = post(
        &app,
        &root,
        "/registry/users",
        &[
            ("username", "Zhang San"),
            ("display_name", "张三"),
            ("role", "enterprise"),
            ("enterprise", "E03"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = resp.text();
    assert!(
        page.contains("id=\"e-username\"")
            && page.contains("value=\"Zhang San\"")
            && page.contains("value=\"张三\"")
    );
    assert!(!page.contains(PASSWORD), "a typed password is never sent back");
    assert!(page.contains("<option value=\"E03\" selected>"), "{page}");
    let resp = post(
        &app,
        &root,
        "/registry/users",
        &[("username", "zhang"), ("role", "department"), ("password", PASSWORD)],
    )
    .await;
    assert!(resp.text().contains("id=\"e-department\""));

    let resp = post(
        &app,
        &root,
        "/registry/users",
        &[
            ("username", "zhang"),
            ("display_name", "张三"),
            ("role", "enterprise"),
            ("enterprise", "E03"),
            ("department", "fgw"),
            ("password", PASSWORD),
        ],
    )
    .await;
    assert_eq!(resp.location(), "/registry/users/zhang?notice=created", "{}", resp.text());
    let zhang = app.store.user("zhang").await.unwrap().unwrap();
    assert_eq!(zhang.role, Role::Enterprise { enterprise: "E03".into() });

    // The administrator's reset ends every session of the user.
    let session = app.sign_in("zhang").await;
    assert_eq!(app.get_as("/", &session).await.status, StatusCode::OK);
    let resp =
        post(&app, &root, "/registry/users/zhang/password", &[("password", "short"), ("repeat", "short")])
            .await;
    assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(resp.text().contains("id=\"e-password\""));
    let resp = post(
        &app,
        &root,
        "/registry/users/zhang/password",
        &[("password", "another good one"), ("repeat", "another good one")],
    )
    .await;
    assert_eq!(resp.location(), "/registry/users/zhang?notice=reset");
    assert_eq!(app.get_as("/", &session).await.status, StatusCode::SEE_OTHER, "the old session ended");
    assert_eq!(app.post_login("zhang", "another good one", "/").await.status, StatusCode::SEE_OTHER);

    // Tokens: listed on the user's page, revoked from it.
    let token = app.token("zhang").await;
    let page = app.get_as("/registry/users/zhang", &root).await.text();
    assert!(page.contains("/registry/tokens/") && !page.contains(&token), "the token itself is never shown");
    let id = page.split("/registry/tokens/").nth(1).unwrap().split('/').next().unwrap().to_string();
    let resp = post(&app, &root, &format!("/registry/tokens/{id}/revoke"), &[]).await;
    assert_eq!(resp.location(), "/registry/users/zhang?notice=revoked");
    assert_eq!(app.get_bearer("/api/v1/me", &token).await.status, StatusCode::UNAUTHORIZED);
    let again = post(&app, &root, &format!("/registry/tokens/{id}/revoke"), &[]).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    // Deactivation ends the sessions too.
    let signed = app.post_login("zhang", "another good one", "/").await;
    let session = Browser { session: signed.cookie("fenhe_session").unwrap(), csrf: String::new() };
    let resp = post(&app, &root, "/registry/users/zhang/active", &[("active", "false")]).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
    assert!(!app.store.user("zhang").await.unwrap().unwrap().active);
    assert_eq!(app.get_as("/", &session).await.status, StatusCode::SEE_OTHER);
    let users = app.get_as("/registry/users", &root).await.text();
    assert!(users.contains("已停用"), "{users}");
    assert_eq!(app.get_as("/registry/users/nobody", &root).await.status, StatusCode::NOT_FOUND);
}

/// A JSON request with a bearer token.
async fn api(
    app: &TestApp,
    method: &str,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> TestResponse {
    let mut b =
        Request::builder().method(method).uri(path).header(header::AUTHORIZATION, format!("Bearer {token}"));
    let body = match body {
        Some(v) => {
            b = b.header(header::CONTENT_TYPE, "application/json");
            Body::from(serde_json::to_vec(&v).unwrap())
        }
        None => Body::empty(),
    };
    app.send(b.body(body).unwrap()).await
}

#[tokio::test]
async fn the_registry_api_follows_the_same_policy_checks_and_audit() {
    let app = app().await;
    let r = fenhe_core::demo::city();
    let mut tokens = vec![];
    for (name, role) in roles() {
        app.add_user(name, role.clone()).await;
        tokens.push((role, app.token(name).await));
    }
    let mut new = serde_json::to_value(&r.enterprises[0]).unwrap();
    new["id"] = "E90".into();
    new["uscc"] = fenhe_core::uscc::complete("91141000MA0H90001").unwrap().into();
    let outlet = r.outlets[0].id.clone();
    let device =
        serde_json::json!({"mn": "API0001", "outlet": outlet, "password": "pw-api-1", "factors": ["a21026"]});
    for (role, token) in &tokens {
        let admin = *role == Role::Admin;
        let want = |ok: StatusCode| if admin { ok } else { StatusCode::FORBIDDEN };
        let resp = api(&app, "POST", "/api/v1/registry/enterprises", token, Some(new.clone())).await;
        assert_eq!(resp.status, want(StatusCode::CREATED), "{role:?} {}", resp.text());
        let resp = api(&app, "GET", "/api/v1/registry/imports", token, None).await;
        assert_eq!(resp.status, want(StatusCode::OK), "{role:?}");
        let resp = api(&app, "GET", "/api/v1/registry/export?format=bogus", token, None).await;
        assert_eq!(resp.status, want(StatusCode::BAD_REQUEST), "{role:?}: the policy comes first");
        let devices_ok = matches!(role, Role::Admin | Role::Bureau);
        let mut d = device.clone();
        d["mn"] = format!("API{}", role.name()).into();
        let resp = api(&app, "POST", "/api/v1/registry/devices", token, Some(d)).await;
        let want_device = if devices_ok { StatusCode::CREATED } else { StatusCode::FORBIDDEN };
        assert_eq!(resp.status, want_device, "{role:?} {}", resp.text());
        if devices_ok {
            let v = resp.json();
            assert_eq!(v["password_set"], true);
            assert!(!resp.text().contains("pw-api-1"), "the password is never sent back");
        }
    }
    assert_eq!(
        api(&app, "GET", "/api/v1/registry/imports", "nope", None).await.status,
        StatusCode::UNAUTHORIZED
    );

    let admin = &tokens[0].1;
    // A second creation of the same id, a bad USCC, a missing enterprise: 422 / 404, nothing changed.
    let again = api(&app, "POST", "/api/v1/registry/enterprises", admin, Some(new.clone())).await;
    assert!(
        again
            .error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable")
            .contains("id: \"E90\" is used by another")
    );
    let mut bad = new.clone();
    bad["uscc"] = "91350100M000100Y44".into();
    let msg = api(&app, "PUT", "/api/v1/registry/enterprises/E90", admin, Some(bad)).await;
    assert!(
        msg.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable").contains("uscc: "),
        "{}",
        msg.text()
    );
    let missing = api(&app, "PUT", "/api/v1/registry/enterprises/E99", admin, Some(new.clone())).await;
    missing.error(StatusCode::NOT_FOUND, "not_found");
    let shape =
        api(&app, "POST", "/api/v1/registry/enterprises", admin, Some(serde_json::json!({"id": 1}))).await;
    shape.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable");

    // Limits: added, checked, removed; each audited.
    let limit = serde_json::json!({"factor": "a21026", "max": 20.0, "effective_from": "2031-01-01"});
    let resp =
        api(&app, "POST", &format!("/api/v1/registry/outlets/{outlet}/limits"), admin, Some(limit)).await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    let bad =
        serde_json::json!({"factor": "a21026", "min": 30.0, "max": 20.0, "effective_from": "2032-01-01"});
    let resp =
        api(&app, "POST", &format!("/api/v1/registry/outlets/{outlet}/limits"), admin, Some(bad)).await;
    assert!(
        resp.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable").contains("min: min 30 is above max 20")
    );
    let path = format!("/api/v1/registry/outlets/{outlet}/limits?factor=a21026&effective_from=2031-01-01");
    assert_eq!(api(&app, "DELETE", &path, admin, None).await.status, StatusCode::OK);
    assert_eq!(api(&app, "DELETE", &path, admin, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.store.registry().await.unwrap().outlet(&outlet).unwrap().limits, r.outlets[0].limits);

    // A device changed without a password keeps it.
    let resp = api(
        &app,
        "PUT",
        "/api/v1/registry/devices/APIadmin",
        admin,
        Some(serde_json::json!({"mn": "ignored", "outlet": outlet, "rtd_interval_s": 60})),
    )
    .await;
    assert_eq!(resp.status, StatusCode::OK, "{}", resp.text());
    let stored = app.store.registry().await.unwrap().device("APIadmin").unwrap().clone();
    assert_eq!((stored.password.as_str(), stored.rtd_interval_s), ("pw-api-1", 60));

    let export = api(&app, "GET", "/api/v1/registry/export?format=toml", admin, None).await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(export.text().contains("APIadmin") && !export.text().contains("password"));
    let audited = app
        .store
        .audit(&AuditQuery { actor: Some("root".into()), limit: 100, ..Default::default() })
        .await
        .unwrap();
    let actions: Vec<&str> = audited.iter().map(|e| e.entry.action.as_str()).collect();
    for a in [
        "enterprise.create",
        "enterprise.refused",
        "limit.add",
        "limit.refused",
        "limit.remove",
        "device.create",
        "device.update",
    ] {
        assert!(actions.contains(&a), "{a} in {actions:?}");
    }
}

/// Counts what the web side tells the gateway.
#[derive(Default)]
struct Ear(std::sync::atomic::AtomicUsize);

impl fenhe_web::LiveStatus for Ear {
    fn snapshot(&self) -> fenhe_web::LiveSnapshot {
        fenhe_web::LiveSnapshot::default()
    }
    fn registry_changed(&self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn the_gateway_hears_of_saved_devices_and_imports_not_of_refusals() {
    let ear = std::sync::Arc::new(Ear::default());
    let app = TestApp::builder().registry(fenhe_core::demo::city()).live_status(ear.clone()).build().await;
    let heard = || ear.0.load(std::sync::atomic::Ordering::SeqCst);
    let root = app.signed_in("root", Role::Admin).await;
    let r = fenhe_core::demo::city();
    let d = &r.devices[0];
    let path = format!("/registry/devices/{}", d.mn);
    let resp = post(&app, &root, &path, &[("outlet", &d.outlet), ("new_password", "a;b")]).await;
    assert_eq!(resp.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(heard(), 0, "a refused form changes nothing to reload");
    let resp = post(&app, &root, &path, &[("outlet", &d.outlet), ("new_password", "fresh-pw")]).await;
    assert_eq!(resp.status, StatusCode::SEE_OTHER);
    assert_eq!(heard(), 1);
    let json = fenhe_app::registry_files::to_json(&r).unwrap();
    let resp = upload(&app, &root, &root.csrf, &[("city.json", json)]).await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(heard(), 2);
    // An enterprise's edit does not concern the gateway.
    let fields = enterprise_fields(&r.enterprises[0]);
    post(&app, &root, "/registry/enterprises/E01", &refs(&fields)).await;
    assert_eq!(heard(), 2);
}
