//! The demo's month of supervision (督办整改), seeded once into a demo database through the
//! app's own use cases (`fenhe_app::workflows::{create, act}`), so every item has a real history
//! and audit trail: alarms explained and reviewed (accepted; rejected, which opens a task),
//! rectification tasks in every state (some overdue), general and major hazards, and two
//! retrofit projects (one accepted with a stricter limit). Each step is dated in the past month
//! (the use cases take the instant as an argument), the people are the demo's accounts.
//!
//! Seeded only when the database has no task yet, so a second `fenhe demo` keeps what is there
//! (and whatever was done through the pages since).

use anyhow::{Context as _, Result, bail};
use fenhe_app::workflows::{self, WorkflowError, WorkflowSettings};
use fenhe_core::access::{Actor, Role};
use fenhe_core::china_time;
use fenhe_core::workflow::{Fields, Kind};
use fenhe_store::{AlarmQuery, ItemQuery, Store};

const DAY_MS: i64 = 86_400_000;

/// What was seeded, for the demo's start-up lines.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    pub alarms_reviewed: usize,
    pub tasks: usize,
    pub hazards: usize,
    pub retrofits: usize,
}

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// `YYYY-MM-DD` of the China-time day of `t`.
fn date(t: i64) -> String {
    china_time::date_of(t).to_string()
}

/// `YYYY-MM-DDTHH:MM` of `t`, China time (the machines' date-time fields).
fn datetime(t: i64) -> String {
    china_time::minute_text(t).replace(' ', "T")
}

fn bureau() -> Actor {
    Actor::new("bureau", Role::Bureau)
}

fn enterprise(id: &str) -> Actor {
    Actor::new(id.to_lowercase(), Role::Enterprise { enterprise: id.to_string() })
}

fn department(code: &str) -> Actor {
    Actor::new(code, Role::Department { department: code.to_string() })
}

/// Says which step of the story failed, with the refusal's reasons.
fn step_error(what: &str, e: WorkflowError) -> anyhow::Error {
    let why = match &e {
        WorkflowError::Refused(r) => r.describe(true),
        other => other.to_string(),
    };
    anyhow::anyhow!("seeding the demo's supervision: {what}: {why}")
}

struct Seeder<'a> {
    store: &'a dyn Store,
    settings: &'a WorkflowSettings,
}

impl Seeder<'_> {
    async fn create(&self, who: &Actor, kind: Kind, at: i64, f: &[(&str, &str)]) -> Result<i64> {
        workflows::create(self.store, self.settings, who, kind, &fields(f), Vec::new(), at)
            .await
            .map_err(|e| step_error(&format!("create {}", kind.name()), e))
    }

    async fn act(
        &self,
        who: &Actor,
        kind: Kind,
        id: i64,
        at: i64,
        action: &str,
        f: &[(&str, &str)],
    ) -> Result<()> {
        workflows::act(self.store, self.settings, who, kind, id, action, &fields(f), Vec::new(), at)
            .await
            .map(|_| ())
            .map_err(|e| step_error(&format!("{action} on {} {id}", kind.name()), e))
    }

    /// The task a rejected (or real-exceedance) alarm review opened, by its source.
    async fn task_from(&self, alarm: i64) -> Result<Option<i64>> {
        let source = format!("alarms/{alarm}");
        let tasks = self.store.items(&ItemQuery { kind: "tasks".into(), ..Default::default() }).await?;
        Ok(tasks.into_iter().find(|t| t.source.as_deref() == Some(source.as_str())).map(|t| t.id))
    }
}

/// Seed the month ending at `now`, unless the database already has tasks.
pub async fn seed(store: &dyn Store, settings: &WorkflowSettings, now: i64) -> Result<Option<Seeded>> {
    let existing = store.count_items(&ItemQuery { kind: "tasks".into(), ..Default::default() }).await?;
    if existing > 0 {
        return Ok(None);
    }
    let s = Seeder { store, settings };
    let mut out = Seeded::default();
    let day = |d: i64| now - d * DAY_MS;
    let b = bureau();

    // Alarms of the backfilled days, oldest first: the first ones explained and reviewed, the
    // newest left to explain (some past their deadline).
    let mut alarms = store.alarms(&AlarmQuery::default()).await.context("reading the demo's alarms")?;
    // Exceedances first (what the review is for), then other findings, oldest first.
    alarms.sort_by_key(|a| (a.draft.kind != "exceedance", a.raised_at, a.id));
    let registry = store.registry().await?;
    let owner = |outlet: &str| registry.outlet(outlet).map(|o| o.enterprise.clone());
    let reviewed: Vec<_> = alarms.iter().filter(|a| owner(&a.draft.outlet).is_some()).take(4).collect();
    for (n, a) in reviewed.iter().enumerate() {
        let Some(e) = owner(&a.draft.outlet) else { continue };
        let who = enterprise(&e);
        // The engine judged the backfilled days when the demo started, so its alarms were raised
        // just now: their steps are spread between the raising and now (never before the
        // raising, never in the future), their periods inside the backfilled days.
        let span = (now - a.raised_at).max(0);
        let at = |k: i64| a.raised_at + span * k / 6;
        let (explained, reviewed_at) = (at(1), at(2));
        let period_to = a.draft.end.min(explained);
        let period_from = a.draft.start.min(period_to - 60_000);
        let period = [("period_from", datetime(period_from)), ("period_to", datetime(period_to))];
        let (reason, text): (&str, &str) = match n {
            0 => ("equipment_fault", "烟气分析仪采样管路堵塞，已于当日清理并更换滤芯，期间数据无效。"),
            1 => ("process_upset", "原料配比波动导致短时浓度升高，已调整工况。"),
            2 => ("real_exceedance", "脱硫系统循环泵故障导致确属超标，已抢修恢复。"),
            _ => ("calibration", "第三方运维单位例行校准，校准期间数据标记为维护。"),
        };
        let mut f: Vec<(&str, &str)> = vec![("reason", reason), ("text", text)];
        if reason == "equipment_fault" || reason == "calibration" {
            f.extend(period.iter().map(|(k, v)| (*k, v.as_str())));
        }
        s.act(&who, Kind::Alarms, a.id, explained, "explain", &f).await?;
        match n {
            // Accepted: the explanation holds.
            0 => {
                s.act(&b, Kind::Alarms, a.id, reviewed_at, "accept", &[("text", "说明属实，予以认可。")])
                    .await?
            }
            // Rejected: the reason does not hold, a task is opened and worked on.
            1 => {
                s.act(
                    &b,
                    Kind::Alarms,
                    a.id,
                    reviewed_at,
                    "reject",
                    &[("reason", "工况波动不能作为超标理由，请查明原因并整改。")],
                )
                .await?;
                if let Some(task) = s.task_from(a.id).await? {
                    let e = enterprise(&e);
                    s.act(&e, Kind::Tasks, task, at(3), "start", &[]).await?;
                    s.act(
                        &e,
                        Kind::Tasks,
                        task,
                        at(4),
                        "submit",
                        &[("evidence", "已调整原料配比控制规程，附近三日小时均值均达标。")],
                    )
                    .await?;
                }
            }
            // A real exceedance accepted: the task it opens is the follow-up.
            2 => {
                s.act(
                    &b,
                    Kind::Alarms,
                    a.id,
                    reviewed_at,
                    "accept",
                    &[("text", "确属超标，转整改任务跟踪。")],
                )
                .await?
            }
            // Explained, awaiting the bureau's review.
            _ => {}
        }
        out.alarms_reviewed += 1;
    }

    // Rectification tasks created by the bureau (and one by a department) over the month.
    let task = |e: &'static str, problem: &'static str, measures: &'static str, kind: &'static str| {
        [
            ("enterprise", e),
            ("problem", problem),
            ("measures", measures),
            ("responsible", "企业环保负责人"),
            ("kind", kind),
        ]
    };
    // 1. Accepted (销号).
    let due = date(day(14));
    let mut f = task(
        "E04",
        "焦炉烟囱颗粒物在线监测数据多次超标",
        "检修布袋除尘器，更换破损滤袋，提交检修记录。",
        "time_limited",
    )
    .to_vec();
    f.extend([("lead_unit", "bureau"), ("due", due.as_str())]);
    let t1 = s.create(&b, Kind::Tasks, day(28), &f).await?;
    s.act(&enterprise("E04"), Kind::Tasks, t1, day(27), "start", &[]).await?;
    s.act(
        &enterprise("E04"),
        Kind::Tasks,
        t1,
        day(17),
        "submit",
        &[("evidence", "已更换滤袋 312 条，附检修记录与更换后七日监测数据。")],
    )
    .await?;
    s.act(&b, Kind::Tasks, t1, day(15), "accept", &[("text", "现场核实整改到位，予以销号。")]).await?;
    // 2. In progress and overdue.
    let due = date(day(5));
    let mut f =
        task("E05", "废水总排口氨氮浓度持续偏高", "排查生化系统运行情况，增设应急处理设施。", "time_limited")
            .to_vec();
    f.extend([("lead_unit", "bureau"), ("due", due.as_str())]);
    let t2 = s.create(&b, Kind::Tasks, day(25), &f).await?;
    s.act(&enterprise("E05"), Kind::Tasks, t2, day(24), "start", &[]).await?;
    // 3. Assigned, not yet started.
    let due = date(day(-10));
    let mut f = task(
        "E09",
        "烧结机头烟气在线监测设备运维记录不全",
        "补齐运维台账，落实第三方运维责任。",
        "immediate",
    )
    .to_vec();
    f.extend([("lead_unit", "bureau"), ("due", due.as_str())]);
    s.create(&b, Kind::Tasks, day(3), &f).await?;
    // 4. Submitted for acceptance, past its deadline.
    let due = date(day(3));
    let mut f = task("E10", "电炉除尘系统无组织排放", "密闭物料输送，加装集气罩。", "time_limited").to_vec();
    f.extend([("lead_unit", "bureau"), ("due", due.as_str())]);
    let t4 = s.create(&b, Kind::Tasks, day(18), &f).await?;
    s.act(&enterprise("E10"), Kind::Tasks, t4, day(17), "start", &[]).await?;
    s.act(
        &enterprise("E10"),
        Kind::Tasks,
        t4,
        day(2),
        "submit",
        &[("evidence", "集气罩已安装，附照片与验收监测报告。")],
    )
    .await?;
    // 5. Extension requested.
    let (due, asked) = (date(day(-5)), date(day(-20)));
    let mut f = task("E07", "焦炉煤气脱硫效率不达标", "更换脱硫剂，优化再生工艺。", "long_term").to_vec();
    f.extend([("lead_unit", "bureau"), ("due", due.as_str())]);
    let t5 = s.create(&b, Kind::Tasks, day(15), &f).await?;
    s.act(&enterprise("E07"), Kind::Tasks, t5, day(14), "start", &[]).await?;
    s.act(
        &enterprise("E07"),
        Kind::Tasks,
        t5,
        day(2),
        "request_extension",
        &[("due", asked.as_str()), ("reason", "脱硫剂供货周期延长，需至下月到货。")],
    )
    .await?;
    // 6. Extension approved, then rejected once at acceptance: in progress again.
    let (due, asked) = (date(day(8)), date(day(-12)));
    let mut f =
        task("E12", "窑尾烟气氮氧化物小时均值超标", "SNCR 系统喷枪检修，调整氨水喷入量。", "time_limited")
            .to_vec();
    f.extend([("lead_unit", "bureau"), ("due", due.as_str())]);
    let t6 = s.create(&b, Kind::Tasks, day(22), &f).await?;
    let e12 = enterprise("E12");
    s.act(&e12, Kind::Tasks, t6, day(21), "start", &[]).await?;
    s.act(
        &e12,
        Kind::Tasks,
        t6,
        day(12),
        "request_extension",
        &[("due", asked.as_str()), ("reason", "喷枪备件需厂家定制。")],
    )
    .await?;
    s.act(&b, Kind::Tasks, t6, day(11), "approve_extension", &[("text", "同意延期。")]).await?;
    s.act(&e12, Kind::Tasks, t6, day(4), "submit", &[("evidence", "喷枪已更换，附检修记录。")]).await?;
    s.act(&b, Kind::Tasks, t6, day(2), "reject", &[("reason", "缺少更换后的连续监测数据，请补充。")]).await?;
    // 7. A task led by a department (工信局), assigned and overdue.
    let due = date(day(2));
    let mut f =
        task("E11", "落后产能设备未按期拆除", "拆除 2 台落后电炉，提交拆除影像资料。", "time_limited")
            .to_vec();
    f.extend([("lead_unit", "gxj"), ("due", due.as_str())]);
    s.create(&b, Kind::Tasks, day(20), &f).await?;
    out.tasks =
        usize::try_from(store.count_items(&ItemQuery { kind: "tasks".into(), ..Default::default() }).await?)
            .unwrap_or(usize::MAX);

    // Hidden hazards: general ones from self-inspection and an inspection, major ones supervised.
    let h1 = s
        .create(
            &enterprise("E03"),
            Kind::Hazards,
            day(26),
            &[("enterprise", "E03"), ("grade", "general"), ("description", "氨水储罐区围堰有裂缝。")],
        )
        .await?;
    s.act(&enterprise("E03"), Kind::Hazards, h1, day(25), "start", &[]).await?;
    s.act(
        &enterprise("E03"),
        Kind::Hazards,
        h1,
        day(20),
        "submit",
        &[("evidence", "围堰已修补并做防渗处理，附照片。")],
    )
    .await?;
    s.act(&b, Kind::Hazards, h1, day(18), "accept", &[]).await?;
    s.create(
        &b,
        Kind::Hazards,
        day(9),
        &[
            ("enterprise", "E06"),
            ("grade", "general"),
            ("description", "危废暂存间标识不全，台账记录不完整。"),
        ],
    )
    .await?;
    let deadline = date(day(-20));
    let h3 = s
        .create(
            &b,
            Kind::Hazards,
            day(24),
            &[
                ("enterprise", "E04"),
                ("grade", "major"),
                ("description", "煤气柜活塞密封老化，存在煤气泄漏风险。"),
                ("measures", "更换活塞密封油及密封装置，加装泄漏报警。"),
                ("funds", "180"),
                ("deadline", deadline.as_str()),
                ("responsible", "设备副总"),
                ("contingency_plan", "煤气泄漏专项应急预案（2026 版），已组织演练。"),
                ("supervising_department", "yjj"),
            ],
        )
        .await?;
    let e04 = enterprise("E04");
    s.act(&e04, Kind::Hazards, h3, day(23), "start", &[]).await?;
    let checked = datetime(day(6));
    s.act(
        &department("yjj"),
        Kind::Hazards,
        h3,
        day(6),
        "check",
        &[("findings", "密封装置已更换，泄漏报警已安装，待联调。"), ("checked_at", checked.as_str())],
    )
    .await?;
    s.act(&e04, Kind::Hazards, h3, day(3), "submit", &[("evidence", "联调完成，附报警系统测试记录。")])
        .await?;
    let deadline = date(day(-40));
    s.create(
        &b,
        Kind::Hazards,
        day(8),
        &[
            ("enterprise", "E13"),
            ("grade", "major"),
            ("description", "水泥窑余热锅炉压力容器超期未检。"),
            ("measures", "停炉委托特检机构检验，更换不合格部件。"),
            ("funds", "45"),
            ("deadline", deadline.as_str()),
            ("responsible", "生产副总"),
            ("contingency_plan", "锅炉事故应急预案。"),
            ("supervising_department", "yjj"),
        ],
    )
    .await?;
    out.hazards = 4;

    // Retrofits: one accepted with a stricter limit from the next day, one under way.
    let (start, end) = (date(day(29)), date(day(5)));
    let r1 = s
        .create(
            &b,
            Kind::Retrofits,
            day(30),
            &[
                ("enterprise", "E01"),
                ("title", "1# 机组超低排放改造"),
                ("outlets", "E01-DA001"),
                ("planned_start", start.as_str()),
                ("planned_end", end.as_str()),
                ("investment", "3200"),
                ("description", "脱硫塔增容、湿式电除尘改造，二氧化硫按 35 mg/m³ 控制。"),
            ],
        )
        .await?;
    let actual_start = date(day(28));
    s.act(
        &enterprise("E01"),
        Kind::Retrofits,
        r1,
        day(27),
        "report_progress",
        &[("progress", "30"), ("text", "脱硫塔基础施工完成。"), ("actual_start", actual_start.as_str())],
    )
    .await?;
    s.act(
        &enterprise("E01"),
        Kind::Retrofits,
        r1,
        day(15),
        "report_progress",
        &[("progress", "80"), ("text", "湿电本体安装完成。")],
    )
    .await?;
    let actual_end = date(day(6));
    s.act(
        &enterprise("E01"),
        Kind::Retrofits,
        r1,
        day(6),
        "complete",
        &[("actual_end", actual_end.as_str())],
    )
    .await?;
    let limit_from = date(day(3));
    s.act(
        &b,
        Kind::Retrofits,
        r1,
        day(4),
        "accept",
        &[
            ("text", "验收合格。"),
            ("limit_factor", "a21026"),
            ("limit_value", "35"),
            ("limit_from", limit_from.as_str()),
        ],
    )
    .await?;
    let (start, end) = (date(day(20)), date(day(-60)));
    let r2 = s
        .create(
            &b,
            Kind::Retrofits,
            day(21),
            &[
                ("enterprise", "E09"),
                ("title", "烧结机头烟气脱硝改造"),
                ("outlets", "E09-DA001"),
                ("planned_start", start.as_str()),
                ("planned_end", end.as_str()),
                ("investment", "5600"),
            ],
        )
        .await?;
    let actual_start = date(day(19));
    s.act(
        &enterprise("E09"),
        Kind::Retrofits,
        r2,
        day(10),
        "report_progress",
        &[("progress", "45"), ("text", "SCR 反应器钢结构安装中。"), ("actual_start", actual_start.as_str())],
    )
    .await?;
    out.retrofits = 2;
    if out.tasks == 0 {
        bail!("seeding the demo's supervision made no task");
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use fenhe_core::compliance::{AlarmDraft, Severity};
    use fenhe_core::workflow::Kind as K;

    use super::*;

    /// Open alarms of E01 and E02 (an exceedance each and a data-quality finding of E01), raised
    /// three hours before `now`, as the engine raises them.
    async fn alarms(store: &dyn Store, now: i64) {
        let registry = store.registry().await.unwrap();
        for (n, e) in ["E01", "E02", "E01", "E02", "E01"].iter().enumerate() {
            let o = registry.outlets.iter().find(|o| o.enterprise == *e).unwrap();
            let d = registry.devices.iter().find(|d| d.outlet == o.id).unwrap();
            let start = now - 6 * 3_600_000 + n as i64 * 60_000;
            let draft = AlarmDraft {
                key: format!("episode:{n}"),
                mn: d.mn.clone(),
                outlet: o.id.clone(),
                factor: Some("a21026".into()),
                kind: "exceedance".into(),
                severity: Severity::Serious,
                start,
                end: start + 2 * 3_600_000,
                active: true,
                title_zh: format!("二氧化硫超标 {n}"),
                title_en: format!("SO2 exceedance {n}"),
                detail_zh: "详情".into(),
                detail_en: "detail".into(),
            };
            store
                .sync_alarms(&d.mn, start, start + 2 * 3_600_000, &[draft], now - 3 * 3_600_000)
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn a_month_of_supervision_in_every_state_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = fenhe_store::open(dir.path().join("demo.db").to_str().unwrap()).await.unwrap();
        store.import_registry(&fenhe_core::demo::city()).await.unwrap();
        let now = china_time::now_ms();
        alarms(store.as_ref(), now).await;
        let settings = WorkflowSettings::default();
        let seeded =
            seed(store.as_ref(), &settings, now).await.unwrap().expect("seeded on an empty database");
        assert_eq!(seeded, Seeded { alarms_reviewed: 4, tasks: 9, hazards: 4, retrofits: 2 });

        let items = |kind: &str| {
            let store = store.clone();
            let kind = kind.to_string();
            async move { store.items(&ItemQuery { kind, ..Default::default() }).await.unwrap() }
        };
        let states =
            |list: &[fenhe_store::Item]| list.iter().map(|i| i.state.clone()).collect::<BTreeSet<_>>();
        // Every state a task can be in, some past their deadline and not closed.
        let tasks = items("tasks").await;
        let every: BTreeSet<String> = K::Tasks.machine().states().iter().map(|s| s.to_string()).collect();
        assert_eq!(states(&tasks), every);
        assert!(
            tasks.iter().any(|t| t.state != "accepted" && t.due_at.is_some_and(|d| d < now)),
            "an overdue task"
        );
        // Tasks opened by the alarms' reviews name them.
        assert_eq!(
            tasks.iter().filter(|t| t.source.as_deref().is_some_and(|s| s.starts_with("alarms/"))).count(),
            2
        );
        // Alarm reviews accepted, rejected and awaiting the bureau.
        let reviews = items("alarms").await;
        assert_eq!(states(&reviews), ["accepted", "explained", "rejected"].map(String::from).into());
        // General and major hazards; one retrofit accepted, one under way.
        let hazards = items("hazards").await;
        let grades: BTreeSet<_> = hazards.iter().filter_map(|h| h.fields.get("grade").cloned()).collect();
        assert_eq!(grades, ["general", "major"].map(String::from).into());
        assert_eq!(states(&items("retrofits").await), ["accepted", "in_progress"].map(String::from).into());
        // The history is real: every step is there, dated in the past month, never in the future.
        let first =
            tasks.iter().find(|t| t.fields.get("enterprise").map(String::as_str) == Some("E04")).unwrap();
        let steps = store.steps("tasks", first.id).await.unwrap();
        let actions: Vec<_> = steps.iter().map(|s| s.action.as_str()).collect();
        assert_eq!(actions, ["create", "start", "submit", "accept"]);
        assert!(steps.iter().all(|s| s.at <= now && s.at >= now - 31 * DAY_MS));

        // Once: a second run keeps what is there.
        assert_eq!(seed(store.as_ref(), &settings, now).await.unwrap(), None);
    }
}
