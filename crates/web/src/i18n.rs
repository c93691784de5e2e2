//! Chinese first, English too: the message catalogue of the pages and the language a request is
//! answered in. The catalogue is one table in this file, so a message cannot exist in one
//! language only; a test checks that every key the templates use is in it.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::cookies;

/// The name of the cookie the language switch sets.
pub const LANG_COOKIE: &str = "lang";

/// A language of the pages. Simplified Chinese unless the person chose English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// From the short code of the switch, the cookie and `?lang=` (`zh`, `en`); anything else is
    /// not a language we have.
    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "zh" | "zh-CN" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The value of `<html lang>` (ECharts and screen readers read it).
    pub fn html_code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn is_english(self) -> bool {
        self == Lang::En
    }

    /// The message `key` in this language; an unknown key shows as itself, so a slip is visible
    /// on the page rather than an empty space (the templates' keys are checked by a test).
    pub fn t(self, key: &str) -> &'static str {
        match catalogue().get(key) {
            Some((zh, en)) => match self {
                Lang::Zh => zh,
                Lang::En => en,
            },
            None => {
                tracing::warn!(key, "no such message");
                "??"
            }
        }
    }
}

/// `?lang=en` wins (a link can name its language), then the `lang` cookie, then Chinese.
impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let from_query = parts
            .uri
            .query()
            .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("lang=")).and_then(Lang::from_code));
        let from_cookie = || cookies::get(&parts.headers, LANG_COOKIE).and_then(|v| Lang::from_code(&v));
        Ok(from_query.or_else(from_cookie).unwrap_or_default())
    }
}

fn catalogue() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static MAP: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    MAP.get_or_init(|| MESSAGES.iter().map(|&(k, zh, en)| (k, (zh, en))).collect())
}

/// Key, Chinese, English.
const MESSAGES: &[(&str, &str, &str)] = &[
    ("app.name", "汾河 · 污染源在线监控", "fenhe · Emission monitoring"),
    ("app.city", "临汾市", "Linfen"),
    ("nav.label", "主导航", "Main navigation"),
    ("nav.overview", "总览", "Overview"),
    ("nav.screen", "大屏", "Wall screen"),
    ("nav.enterprises", "企业", "Enterprises"),
    ("nav.alarms", "报警", "Alarms"),
    ("nav.devices", "设备", "Devices"),
    ("nav.quality", "数据质量", "Data quality"),
    ("nav.registry", "登记", "Registry"),
    ("nav.audit", "审计", "Audit log"),
    ("nav.system", "运行状态", "System status"),
    ("lang.switch", "语言", "Language"),
    ("user.signed_in_as", "当前用户", "Signed in as"),
    ("user.password", "修改密码", "Change password"),
    ("user.sign_out", "退出", "Sign out"),
    ("footer.licenses", "开源许可", "Open-source licences"),
    ("login.title", "登录", "Sign in"),
    ("login.intro", "请使用您的账号登录。", "Sign in with your account."),
    ("login.username", "用户名", "Username"),
    ("login.password", "密码", "Password"),
    ("login.submit", "登录", "Sign in"),
    ("login.failed", "用户名或密码错误。", "Wrong username or password."),
    ("login.throttled", "尝试次数过多，请在以下时间后重试：", "Too many attempts. Try again after"),
    ("login.demo_title", "演示账号", "Demo accounts"),
    (
        "login.demo_note",
        "演示模式：以下账号仅用于演示，请勿在正式环境使用。",
        "Demo mode: these accounts exist for the demonstration only.",
    ),
    ("login.role", "角色", "Role"),
    ("password.title", "修改密码", "Change password"),
    ("password.old", "当前密码", "Current password"),
    ("password.new", "新密码", "New password"),
    ("password.repeat", "再次输入新密码", "Repeat the new password"),
    ("password.submit", "保存", "Save"),
    ("password.mismatch", "两次输入的新密码不一致。", "The two new passwords differ."),
    ("password.wrong_old", "当前密码不正确。", "The current password is wrong."),
    (
        "password.too_short",
        "新密码太短（字符数 / 最少字符数）",
        "The new password is too short (characters / at least)",
    ),
    ("password.too_long", "新密码太长。", "The new password is too long."),
    ("password.same_as_username", "新密码不能与用户名相同。", "The new password may not be the username."),
    ("password.padded", "新密码不能以空格开头或结尾。", "The new password may not begin or end with spaces."),
    ("password.changed", "密码已修改。", "Your password has been changed."),
    ("overview.title", "总览", "Overview"),
    ("overview.scope_city", "全市", "Whole city"),
    ("overview.scope_enterprise", "本企业", "Your enterprise"),
    ("overview.devices", "在线设备", "Devices online"),
    ("overview.devices_note", "在线 / 登记", "online / registered"),
    ("overview.frames", "本次运行接收报文", "Frames since start"),
    ("overview.frames_note", "自本进程启动以来", "since this process started"),
    ("overview.alarms", "未关闭报警", "Open alarms"),
    ("overview.alarms_by_kind", "未关闭报警（按类型）", "Open alarms by kind"),
    ("overview.kind", "类型", "Kind"),
    ("overview.count", "数量", "Count"),
    ("overview.no_alarms", "当前没有未关闭的报警。", "There are no open alarms."),
    (
        "overview.nothing_for_role",
        "您的角色暂无可查看的数据页面。",
        "There is no data page for your role yet.",
    ),
    ("system.title", "运行状态", "System status"),
    ("system.started", "启动时间", "Started"),
    ("system.connections", "当前连接", "Connections"),
    ("system.online", "在线设备", "Devices online"),
    ("system.registered", "登记设备", "Registered devices"),
    ("system.inbox", "待处理未登记设备", "Unregistered senders"),
    ("system.live_frames", "本次运行接收的报文", "Frames since start"),
    ("system.rejected", "拒收原因", "Rejected by reason"),
    ("system.stored", "累计存储", "Stored since the database was created"),
    ("system.devices", "在线设备", "Devices online"),
    ("system.verdict", "结果", "Verdict"),
    ("system.reason", "原因", "Reason"),
    ("system.count", "数量", "Count"),
    ("system.peer", "地址", "Peer"),
    ("system.since", "上线", "Since"),
    ("licenses.title", "开源许可", "Open-source licences"),
    (
        "licenses.intro",
        "本系统在浏览器中使用以下开源软件，均随程序发布，运行时不访问互联网。",
        "These open-source components run in your browser. They ship inside fenhe; nothing is fetched from the internet.",
    ),
    ("alarm.kind.exceedance", "超标", "Exceedance"),
    ("error.title", "出错了", "Something went wrong"),
    ("error.forbidden", "您的角色无权查看此页面。", "Your role may not see this page."),
    ("error.not_found", "没有找到此页面。", "There is no such page."),
    (
        "error.csrf",
        "表单已过期或来源不明，请刷新页面后重试。",
        "This form has expired or did not come from this site. Reload the page and try again.",
    ),
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_key_is_unique_and_has_both_languages() {
        let mut seen = HashSet::new();
        for (key, zh, en) in MESSAGES {
            assert!(seen.insert(key), "{key} twice");
            assert!(!zh.trim().is_empty() && !en.trim().is_empty(), "{key} lacks a language");
            // A Chinese text written in English by mistake (or the reverse) shows here.
            assert!(zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{key}: {zh}");
            assert!(!en.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{key}: {en}");
        }
    }

    /// Every `.t("…")` in the templates names a key of the catalogue.
    #[test]
    fn the_templates_use_only_known_keys() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for piece in text.split(".t(\"").skip(1) {
                let key = &piece[..piece.find('"').unwrap()];
                assert!(catalogue().contains_key(key), "unknown message key {key}");
                checked += 1;
            }
        }
        assert!(checked > 20, "the templates were not read ({checked} keys)");
    }

    #[test]
    fn lookups_follow_the_language() {
        assert_eq!(Lang::Zh.t("nav.overview"), "总览");
        assert_eq!(Lang::En.t("nav.overview"), "Overview");
        assert_eq!(Lang::En.t("no.such.key"), "??");
        assert_eq!(Lang::from_code("fr"), None);
        assert_eq!(Lang::default().html_code(), "zh-CN");
    }
}
