//! 设备 devices: every page and API route × role (allowed, 403, and 404 for another
//! enterprise's device exactly as for a missing one), the inbox kept from enterprises, commands
//! queued through the form (CSRF required) and the API, listed and audited, and a device
//! registered from the inbox — over the real SQLite store with real HJ 212 frames written to it.

use axum::http::StatusCode;
use fenhe_core::access::Role;
use fenhe_core::{FrameRecord, Registry, Verdict};
use fenhe_store::{AuditQuery, CommandStatus, FrameQuery, IngestItem};
use fenhe_web::{LiveSnapshot, OnlineDevice};

use crate::app::{Browser, TestApp, hidden};

const STRANGER: &str = "99999990000042";

fn roles() -> Vec<(&'static str, Role)> {
    vec![
        ("root", Role::Admin),
        ("mayor", Role::Leader),
        ("officer", Role::Bureau),
        ("fgw1", Role::Department { department: "fgw".into() }),
        ("e01", Role::Enterprise { enterprise: "E01".into() }),
    ]
}

/// The first device of enterprise `e`.
fn device_of(reg: &Registry, e: &str) -> String {
    reg.devices.iter().find(|d| reg.outlet(&d.outlet).is_some_and(|o| o.enterprise == e)).unwrap().mn.clone()
}

fn packet(mn: &str, pw: &str, data_time: &str) -> Vec<u8> {
    hj212::PacketBuilder::new("2051", mn)
        .qn("20251202080000000")
        .st("22")
        .pw(pw)
        .version(hj212::Version::V2017, true)
        .data_time(&hj212::DateTime::parse(data_time).unwrap().0)
        .factor("a34013", [("Avg", "12.5".to_string()), ("Flag", "N".to_string())])
        .build()
}

fn item(mn: &str, verdict: Verdict, bytes: Vec<u8>, reason: Option<&str>) -> IngestItem {
    IngestItem {
        frame: FrameRecord {
            received_at: fenhe_core::china_time::now_ms(),
            peer: "10.0.0.1:5000".into(),
            mn: Some(mn.into()),
            cn: Some("2051".into()),
            bytes,
            verdict,
            reason: reason.map(String::from),
            deviations: String::new(),
        },
        measurements: vec![],
    }
}

/// The demo city with E01's first device online, a frame of it and of E02's first device, a
/// rejected frame of E01's device, and three frames of an unregistered sender.
struct World {
    app: TestApp,
    mine: String,
    theirs: String,
    /// A frame id of `mine` and one of `theirs`.
    my_frame: i64,
    their_frame: i64,
}

async fn world() -> World {
    let city = fenhe_core::demo::city();
    let mine = device_of(&city, "E01");
    let theirs = device_of(&city, "E02");
    let live = LiveSnapshot {
        devices_online: vec![OnlineDevice { mn: mine.clone(), peer: "10.0.0.1:5000".into(), since: 0 }],
        ..Default::default()
    };
    let app = TestApp::builder().registry(city).live(live).build().await;
    let mut bad = packet(&mine, "x", "20251202080100");
    let at = bad.len() - 6;
    bad[at] = if bad[at] == b'0' { b'1' } else { b'0' };
    let items = vec![
        item(&mine, Verdict::Accepted, packet(&mine, "x", "20251202080000"), None),
        item(&mine, Verdict::Rejected, bad, Some("crc: declared and computed CRC differ")),
        item(&theirs, Verdict::Accepted, packet(&theirs, "x", "20251202080000"), None),
        item(
            STRANGER,
            Verdict::Unregistered,
            packet(STRANGER, "s3cret", "20251202080000"),
            Some("auth: unknown MN"),
        ),
        item(
            STRANGER,
            Verdict::Unregistered,
            packet(STRANGER, "s3cret", "20251202080500"),
            Some("auth: unknown MN"),
        ),
        item(
            STRANGER,
            Verdict::Unregistered,
            packet(STRANGER, "s3cret", "20251202081000"),
            Some("auth: unknown MN"),
        ),
    ];
    app.store.write_batch(&items).await.unwrap();
    let first = |mn: &str| {
        let q = FrameQuery { mn: Some(mn.into()), limit: Some(1), ..Default::default() };
        let store = app.store.clone();
        async move { store.frames(&q).await.unwrap()[0].id }
    };
    let my_frame = first(&mine).await;
    let their_frame = first(&theirs).await;
    World { app, mine, theirs, my_frame, their_frame }
}

impl World {
    /// Every GET route of the area for `mn` (the device's own routes) and the city's.
    fn routes(&self, mn: &str, frame: i64) -> Vec<String> {
        vec![
            format!("/devices/{mn}"),
            format!("/devices/{mn}?frames=rejected"),
            format!("/devices/{mn}/frames/{frame}"),
            format!("/devices/{mn}/commands"),
            format!("/api/v1/devices/{mn}"),
            format!("/api/v1/devices/{mn}/frames"),
            format!("/api/v1/devices/{mn}/commands"),
        ]
    }
}

#[tokio::test]
async fn every_route_answers_each_role_as_the_policy_says() {
    let w = world().await;
    let mut browsers = Vec::new();
    for (name, role) in roles() {
        browsers.push((name, w.app.signed_in(name, role).await));
    }
    let own = w.routes(&w.mine, w.my_frame);
    let city = ["/devices", "/api/v1/devices"];
    let inbox = ["/devices/inbox", "/api/v1/inbox"];
    let register = format!("/devices/inbox/{STRANGER}/register");
    for (name, b) in &browsers {
        let (see, inbox_ok, register_ok) = match *name {
            "root" | "officer" => (true, true, true),
            "mayor" => (true, true, false),
            "fgw1" => (false, false, false),
            _ => (true, false, false), // e01
        };
        let want = |ok: bool| if ok { StatusCode::OK } else { StatusCode::FORBIDDEN };
        for path in own.iter().map(String::as_str).chain(city) {
            assert_eq!(w.app.get_as(path, b).await.status, want(see), "{name} {path}");
        }
        for path in inbox {
            assert_eq!(w.app.get_as(path, b).await.status, want(inbox_ok), "{name} {path}");
        }
        assert_eq!(w.app.get_as(&register, b).await.status, want(register_ok), "{name} {register}");
    }
    // A stranger is sent to sign in (pages) or gets the JSON 401 (API).
    assert_eq!(w.app.get("/devices").await.status, StatusCode::SEE_OTHER);
    w.app.get("/api/v1/devices").await.error(StatusCode::UNAUTHORIZED, "unauthorized");
}

/// Pages carry the path they are at (the language switch): compare them with the MN masked.
fn masked(body: &str, mn: &str) -> String {
    body.replace(mn, "MN")
}

#[tokio::test]
async fn another_enterprises_device_is_not_found_exactly_like_a_missing_one() {
    let w = world().await;
    let b = w.app.signed_in("e01", Role::Enterprise { enterprise: "E01".into() }).await;
    let token = w.app.token("e01").await;
    let theirs = w.routes(&w.theirs, w.their_frame);
    let missing = w.routes("NOSUCHMN00001", w.their_frame);
    for (t, m) in theirs.iter().zip(&missing) {
        let (rt, rm) = (w.app.get_as(t, &b).await, w.app.get_as(m, &b).await);
        assert_eq!((rt.status, rm.status), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND), "{t}");
        assert_eq!(masked(&rt.text(), &w.theirs), masked(&rm.text(), "NOSUCHMN00001"), "{t}");
        assert!(!rt.text().contains("E02"), "{t} names the other enterprise");
        let (at, am) = (w.app.get_bearer(t, &token).await, w.app.get_bearer(m, &token).await);
        assert_eq!(at.status, am.status, "{t} by token");
    }
    // Another device's frame under one's own device: not found either.
    let r = w.app.get_as(&format!("/devices/{}/frames/{}", w.mine, w.their_frame), &b).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Naming another enterprise in the filter is answered as naming none that exists.
    let other = w.app.get_bearer("/api/v1/devices?enterprise=E02", &token).await;
    let none = w.app.get_bearer("/api/v1/devices?enterprise=E99", &token).await;
    assert_eq!((other.status, other.json()), (none.status, none.json()));
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    // The lists hold only the own enterprise's devices.
    let page = w.app.get_as("/devices", &b).await.text();
    assert!(page.contains(&w.mine) && !page.contains(&w.theirs), "{page}");
    let api = w.app.get_bearer("/api/v1/devices", &token).await.json();
    let items = api["items"].as_array().unwrap();
    assert!(!items.is_empty() && items.iter().all(|d| d["enterprise"] == "E01"), "{api}");
    // Nor a command to another's device (the role may not send any: 403 whatever the MN).
    let r = w
        .app
        .post_form(
            &format!("/devices/{}/commands", w.theirs),
            &[("csrf", &b.csrf), ("kind", "time_sync")],
            Some(&cookie(&b)),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

fn cookie(b: &Browser) -> String {
    format!("fenhe_session={}", b.session)
}

#[tokio::test]
async fn the_list_and_the_device_show_state_traffic_and_frames() {
    let w = world().await;
    let b = w.app.signed_in("officer", Role::Bureau).await;
    let page = w.app.get_as("/devices?state=online", &b).await.text();
    assert!(
        page.contains(&format!("/devices/{}", w.mine)) && !page.contains(&format!("/devices/{}\"", w.theirs)),
        "{page}"
    );
    assert!(page.contains("<span id=\"device-total\">1</span>"), "{page}");
    let page = w.app.get_as("/devices?enterprise=E02&state=offline", &b).await.text();
    assert!(page.contains(&w.theirs) && !page.contains(&w.mine), "{page}");
    let r = w.app.get_as("/devices?state=sleeping", &b).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("sleeping"));

    let api = w.app.get_as("/api/v1/devices?enterprise=E01&per_page=1", &b).await.json();
    assert_eq!((api["per_page"].as_u64(), api["items"].as_array().map(Vec::len)), (Some(1), Some(1)));
    let first = &api["items"][0];
    assert_eq!((first["mn"].as_str(), first["online"].as_bool()), (Some(w.mine.as_str()), Some(true)));
    assert_eq!((first["frames_today"].as_u64(), first["rejected_today"].as_u64()), (Some(2), Some(1)));

    let page = w.app.get_as(&format!("/devices/{}", w.mine), &b).await.text();
    assert!(page.contains("已设置（不显示）"), "the password is said to be set");
    let password = fenhe_core::demo::city().device(&w.mine).unwrap().password.clone();
    assert!(!page.contains(&format!(">{password}<")), "the password is never shown");
    assert!(page.contains("CRC") && page.contains("crc: declared and computed CRC differ"), "{page}");
    let rejected = w.app.get_as(&format!("/devices/{}?frames=rejected", w.mine), &b).await.text();
    assert_eq!(rejected.matches("verdict verdict-rejected").count(), 1, "{rejected}");
    assert!(!rejected.contains("verdict verdict-accepted"), "{rejected}");

    // A frame explained as `fenhe packet explain` explains it, in the page's language.
    let en = w.app.get_as(&format!("/devices/{}/frames/{}?lang=en", w.mine, w.my_frame), &b).await.text();
    assert!(en.contains("✔ accepted") && en.contains("1 frames: 1 accepted, 0 rejected"), "{en}");
    let frames =
        w.app.get_as(&format!("/api/v1/devices/{}/frames?verdict=rejected", w.mine), &b).await.json();
    let id = frames["items"][0]["id"].as_i64().unwrap();
    let zh = w.app.get_as(&format!("/devices/{}/frames/{id}", w.mine), &b).await.text();
    assert!(zh.contains("✘ 拒绝") && zh.contains("不通过：声明值与计算值不符"), "{zh}");
    let r = w.app.get_as(&format!("/api/v1/devices/{}/frames?verdict=odd", w.mine), &b).await;
    r.error(StatusCode::BAD_REQUEST, "bad_request");
    let dev = w.app.get_as(&format!("/api/v1/devices/{}", w.mine), &b).await.json();
    assert_eq!((dev["password_set"].as_bool(), dev.get("password")), (Some(true), None), "{dev}");
}

#[tokio::test]
async fn a_command_is_queued_listed_refreshed_and_audited() {
    let w = world().await;
    let officer = w.app.signed_in("officer", Role::Bureau).await;
    let path = format!("/devices/{}/commands", w.mine);

    // Without the session's CSRF token nothing is queued.
    let r = w.app.post_form(&path, &[("kind", "time_sync")], Some(&cookie(&officer))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r =
        w.app.post_form(&path, &[("csrf", "forged"), ("kind", "time_sync")], Some(&cookie(&officer))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(w.app.store.commands(Some(&w.mine), 10).await.unwrap().is_empty());

    // A leader reads but may not send.
    let mayor = w.app.signed_in("mayor", Role::Leader).await;
    let r =
        w.app.post_form(&path, &[("csrf", &mayor.csrf), ("kind", "time_sync")], Some(&cookie(&mayor))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let page = w.app.get_as(&format!("/devices/{}", w.mine), &mayor).await.text();
    assert!(!page.contains("form-time-sync"), "no forms for a leader");

    // A history request with a problem is shown again with the problem, nothing queued.
    let fields = [
        ("csrf", officer.csrf.as_str()),
        ("kind", "history"),
        ("data", "hour"),
        ("begin", "2025-12-01T10:00"),
        ("end", "2025-12-01T08:00"),
    ];
    let r = w.app.post_form(&path, &fields, Some(&cookie(&officer))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("结束时间：超出范围"), "{}", r.text());
    assert!(r.text().contains("value=\"2025-12-01T10:00\""), "the form keeps what was typed");
    assert!(w.app.store.commands(Some(&w.mine), 10).await.unwrap().is_empty());

    let fields = [
        ("csrf", officer.csrf.as_str()),
        ("kind", "history"),
        ("data", "hour"),
        ("begin", "2025-12-01T08:00"),
        ("end", "2025-12-01T10:00"),
    ];
    let r = w.app.post_form(&path, &fields, Some(&cookie(&officer))).await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, format!("/devices/{}?queued=1#commands", w.mine).as_str())
    );
    let queued = w.app.store.commands(Some(&w.mine), 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(
        (queued[0].new.cn.as_str(), queued[0].new.cp.as_str()),
        ("2061", "BeginTime=20251201080000;EndTime=20251201100000")
    );
    assert_eq!(queued[0].new.origin, "operator:officer");

    // Listed, and the list asks to be fetched again while the command is in flight.
    let partial = w.app.get_as(&path, &officer).await.text();
    assert!(
        partial.contains("data-status=\"queued\"") && partial.contains("hx-trigger=\"every 3s\""),
        "{partial}"
    );
    assert!(!partial.contains("<html"), "a partial, not a page");
    let e01 = w.app.signed_in("e01", Role::Enterprise { enterprise: "E01".into() }).await;
    assert!(
        w.app.get_as(&path, &e01).await.text().contains("data-status=\"queued\""),
        "the enterprise sees its queue"
    );
    let now = fenhe_core::china_time::now_ms();
    w.app
        .store
        .update_command(queued[0].id, CommandStatus::Sent, Some("20251202080000000"), 1, None, now)
        .await
        .unwrap();
    w.app
        .store
        .update_command(queued[0].id, CommandStatus::Done, None, 1, Some("9012 ExeRtn=1 执行成功"), now)
        .await
        .unwrap();
    let partial = w.app.get_as(&path, &officer).await.text();
    assert!(partial.contains("data-status=\"done\"") && partial.contains("ExeRtn=1"), "{partial}");
    assert!(!partial.contains("hx-trigger"), "nothing in flight: no more polling");

    // The API queues too (a bearer token needs no form token), and says what is wrong.
    let token = w.app.token("officer").await;
    let api_path = format!("/api/v1/devices/{}/commands", w.mine);
    let r =
        w.app.send(bearer_post(&api_path, &token, r#"{"kind":"set_minute_interval","interval":5}"#)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert_eq!((r.json()["cn"].as_str(), r.json()["cp"].as_str()), (Some("1064"), Some("MinInterval=5")));
    let r =
        w.app.send(bearer_post(&api_path, &token, r#"{"kind":"set_minute_interval","interval":7}"#)).await;
    assert!(r.error(StatusCode::UNPROCESSABLE_ENTITY, "unprocessable").contains("interval"));
    let e01_token = w.app.token("e01").await;
    let r = w.app.send(bearer_post(&api_path, &e01_token, r#"{"kind":"time_sync"}"#)).await;
    r.error(StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(w.app.store.commands(Some(&w.mine), 10).await.unwrap().len(), 2);

    let log = w
        .app
        .store
        .audit(&AuditQuery { action: Some("command.send".into()), limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|e| e.entry.actor == "officer" && e.entry.object_kind == "command"));
}

fn bearer_post(path: &str, token: &str, body: &str) -> axum::http::Request<axum::body::Body> {
    axum::http::Request::post(path)
        .header(axum::http::header::AUTHORIZATION, format!("Bearer {token}"))
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn a_sender_in_the_inbox_is_registered_and_audited() {
    let w = world().await;
    let officer = w.app.signed_in("officer", Role::Bureau).await;
    let inbox = w.app.get_as("/devices/inbox", &officer).await.text();
    let link = format!("/devices/inbox/{STRANGER}/register");
    assert!(inbox.contains(&link) && inbox.contains("s3cret"), "{inbox}");
    let api = w.app.get_as("/api/v1/inbox", &officer).await.json();
    assert_eq!((api["total"].as_u64(), api["items"][0]["registrable"].as_bool()), (Some(1), Some(true)));

    // The form is prefilled from what the sender sent.
    let form = w.app.get_as(&link, &officer).await.text();
    assert_eq!(hidden(&form, "mn").as_deref(), Some(STRANGER));
    assert!(
        form.contains("value=\"s3cret\"")
            && form.contains("name=\"minute_interval_min\" type=\"number\" min=\"1\" max=\"30\" value=\"5\""),
        "{form}"
    );
    assert!(form.contains("a34013"), "{form}");

    let outlet = fenhe_core::demo::city().outlets[0].id.clone();
    let fields = |csrf: &str, outlet: &str| {
        vec![
            ("csrf".to_string(), csrf.to_string()),
            ("mn".into(), STRANGER.into()),
            ("outlet".into(), outlet.to_string()),
            ("protocol".into(), "2017".into()),
            ("crc".into(), "standard".into()),
            ("password".into(), "s3cret".into()),
            ("minute_interval_min".into(), "5".into()),
            ("rtd_interval_s".into(), "30".into()),
        ]
    };
    let post = |f: Vec<(String, String)>| {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        axum::http::Request::post(link.as_str())
            .header(axum::http::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(axum::http::header::COOKIE, cookie(&officer))
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    // CSRF required.
    let r = w.app.send(post(fields("forged", &outlet))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // No outlet: the form again, saying so.
    let r = w.app.send(post(fields(&officer.csrf, ""))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().contains("排口：必填") && r.text().contains("aria-invalid=\"true\""), "{}", r.text());
    assert!(w.app.store.registry().await.unwrap().device(STRANGER).is_none());
    // A leader sees the inbox but not the way to register, and may not register.
    let mayor = w.app.signed_in("mayor", Role::Leader).await;
    let seen = w.app.get_as("/devices/inbox", &mayor).await.text();
    assert!(seen.contains(STRANGER) && !seen.contains(&link), "{seen}");
    let mut f = fields(&mayor.csrf, &outlet);
    f[0].1 = mayor.csrf.clone();
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = w.app.post_form(&link, &pairs, Some(&cookie(&mayor))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let r = w.app.send(post(fields(&officer.csrf, &outlet))).await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, format!("/devices/{STRANGER}?registered=1").as_str())
    );
    let reg = w.app.store.registry().await.unwrap();
    let d = reg.device(STRANGER).expect("registered");
    assert_eq!(
        (d.outlet.as_str(), d.minute_interval_min, d.factors.as_slice()),
        (outlet.as_str(), 5, ["a34013".to_string()].as_slice())
    );
    let page = w.app.get_as(&format!("/devices/{STRANGER}?registered=1"), &officer).await.text();
    assert!(page.contains("设备已登记"), "{page}");
    assert!(!w.app.get_as("/devices/inbox", &officer).await.text().contains(&link), "it left the inbox");
    let log = w
        .app
        .store
        .audit(&AuditQuery { action: Some("device.register".into()), limit: 10, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].entry.object_id.as_str(), log[0].entry.actor.as_str()), (STRANGER, "officer"));
    assert!(!log[0].entry.after.as_ref().unwrap().to_string().contains("s3cret"), "no password in the log");
}

#[tokio::test]
async fn the_devices_pages_render_in_both_languages() {
    let w = world().await;
    let b = w.app.signed_in("root", Role::Admin).await;
    let pages = [
        "/devices".to_string(),
        "/devices/inbox".to_string(),
        format!("/devices/inbox/{STRANGER}/register"),
        format!("/devices/{}", w.mine),
        format!("/devices/{}/frames/{}", w.mine, w.my_frame),
        format!("/devices/{}/commands", w.mine),
    ];
    for (lang, html) in [("zh", "zh-CN"), ("en", "en")] {
        for path in &pages {
            let r = w.app.get_as(&format!("{path}?lang={lang}"), &b).await;
            assert_eq!(r.status, StatusCode::OK, "{path}");
            let page = r.text();
            if !path.ends_with("/commands") {
                assert!(page.contains(&format!("<html lang=\"{html}\">")), "{path} {lang}");
            }
            assert!(!page.contains("??"), "{path} {lang}: {page}");
        }
    }
    let doc = w.app.get_as("/api/v1/openapi.json", &b).await.json();
    for p in [
        "/api/v1/devices",
        "/api/v1/devices/{mn}",
        "/api/v1/devices/{mn}/frames",
        "/api/v1/devices/{mn}/commands",
        "/api/v1/inbox",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} is described");
    }
    assert!(doc["paths"]["/api/v1/devices/{mn}/commands"].get("post").is_some());
}

#[tokio::test]
async fn the_inbox_pages_in_the_store() {
    let app = TestApp::builder().registry(fenhe_core::demo::city()).build().await;
    // 55 strangers, one frame each; the newest (54) first.
    let items: Vec<IngestItem> = (0..55)
        .map(|i| {
            let mn = format!("9999999{i:07}");
            let mut it =
                item(&mn, Verdict::Unregistered, packet(&mn, "pw", "20251202080000"), Some("auth: x"));
            it.frame.received_at = 1_764_000_000_000 + i64::from(i) * 1000;
            it
        })
        .collect();
    app.store.write_batch(&items).await.unwrap();
    let officer = app.signed_in("officer", Role::Bureau).await;
    let first = app.get_as("/devices/inbox", &officer).await.text();
    let second = app.get_as("/devices/inbox?page=2", &officer).await.text();
    let register = |n: u32| format!("/devices/inbox/9999999{n:07}/register");
    assert!(first.contains(&register(54)) && first.contains(&register(5)), "{first}");
    assert!(!first.contains(&register(4)));
    assert!(second.contains(&register(4)) && second.contains(&register(0)) && !second.contains(&register(5)));
    let api = app.get_as("/api/v1/inbox?per_page=20&page=3", &officer).await.json();
    assert_eq!(api["total"], 55);
    let mns: Vec<&str> = api["items"].as_array().unwrap().iter().map(|e| e["mn"].as_str().unwrap()).collect();
    assert_eq!(mns.len(), 15);
    assert_eq!((mns[0], mns[14]), ("99999990000014", "99999990000000"));
}
