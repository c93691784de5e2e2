//! `/registry`: the registry's administration — enterprises, outlets, limits, devices, users and
//! tokens, imports and exports — as tabs of one area. Handlers are thin: `fenhe_app`'s use cases
//! ask the policy (ManageRegistry, ManageDevices, ManageUsers), check the forms with the import's
//! rules and audit every change; the pages show a use case's field errors beside their fields and
//! keep what was typed.

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use fenhe_app::registry_admin::{EditError, FieldError};
use fenhe_core::access::{Action, Actor, authorize};

use crate::chrome::{Chrome, ErrorPage, render_with};
use crate::error::internal;
use crate::i18n::Lang;
use crate::routes::denied_page;
use crate::session::PageUser;
use crate::state::AppState;

mod entries;
mod files;
mod limits;
mod users;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/registry", get(index))
        .merge(entries::routes())
        .merge(limits::routes())
        .merge(users::routes())
        .merge(files::routes())
}

/// A tab of the registry area: its message key, address and the action it needs.
struct TabDef {
    key: &'static str,
    href: &'static str,
    action: Action,
}

const TABS: &[TabDef] = &[
    TabDef { key: "registry.tab.enterprises", href: "/registry/enterprises", action: Action::ManageRegistry },
    TabDef { key: "registry.tab.outlets", href: "/registry/outlets", action: Action::ManageRegistry },
    TabDef { key: "registry.tab.limits", href: "/registry/limits", action: Action::ManageRegistry },
    TabDef { key: "registry.tab.devices", href: "/registry/devices", action: Action::ManageDevices },
    TabDef { key: "registry.tab.users", href: "/registry/users", action: Action::ManageUsers },
    TabDef { key: "registry.tab.import", href: "/registry/import", action: Action::ManageRegistry },
];

/// A tab as the page shows it.
#[derive(Debug, Clone)]
pub(crate) struct Tab {
    pub label: &'static str,
    pub href: &'static str,
    pub current: bool,
}

/// The tabs `actor` may open, `current` marked.
pub(crate) fn tabs(actor: &Actor, lang: Lang, current: &str) -> Vec<Tab> {
    TABS.iter()
        .filter(|t| authorize(actor, t.action, fenhe_core::access::Target::City).is_ok())
        .map(|t| Tab { label: lang.t(t.key), href: t.href, current: t.href == current })
        .collect()
}

/// `/registry`: the first tab the actor may open; a role with none gets the 403 page.
async fn index(PageUser(user): PageUser, lang: Lang) -> Response {
    match tabs(&user.actor, lang, "").first() {
        Some(t) => Redirect::to(t.href).into_response(),
        None => {
            let page = Chrome::signed_in(lang, "/registry", &user.actor, &user.csrf);
            denied_page(page, fenhe_core::access::Denied::Forbidden)
        }
    }
}

/// One field of a form: what it is called, what it holds (as typed), how it is entered, and the
/// problem found with it.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub value: String,
    /// `text`, `number`, `date`, `password`, `select`, `checkbox` or `textarea`.
    pub kind: &'static str,
    /// A select's options: value and label.
    pub options: Vec<(String, String)>,
    pub hint: Option<&'static str>,
    pub required: bool,
    /// Shown but not changed (an entry's id once it exists).
    pub readonly: bool,
    pub error: Option<String>,
}

impl Field {
    pub fn text(name: &'static str, label: &'static str, value: &str) -> Field {
        Field {
            name,
            label,
            value: value.to_string(),
            kind: "text",
            options: Vec::new(),
            hint: None,
            required: false,
            readonly: false,
            error: None,
        }
    }
    pub fn kind(mut self, kind: &'static str) -> Field {
        self.kind = kind;
        self
    }
    pub fn required(mut self) -> Field {
        self.required = true;
        self
    }
    pub fn readonly(mut self, yes: bool) -> Field {
        self.readonly = yes;
        self
    }
    pub fn hint(mut self, hint: &'static str) -> Field {
        self.hint = Some(hint);
        self
    }
    pub fn select(mut self, options: Vec<(String, String)>) -> Field {
        self.kind = "select";
        self.options = options;
        self
    }
    /// The input's `type`: numbers are typed as text, so that what was typed comes back as it was
    /// even when it is not a number.
    pub fn input_type(&self) -> &'static str {
        match self.kind {
            "number" => "text",
            k => k,
        }
    }
    /// Whether a select's option or a checkbox is the current value.
    pub fn is(&self, value: &str) -> bool {
        self.value == value
    }
}

/// Put each problem beside its field (`fields` named as the form names them); problems of no
/// field of the form are returned to be shown above it.
pub(crate) fn place_errors(fields: &mut [Field], errors: &[FieldError], lang: Lang) -> Vec<String> {
    let mut general = Vec::new();
    for e in errors {
        let text = explain(&e.message, lang);
        match fields.iter_mut().find(|f| f.name == e.field) {
            Some(f) => {
                f.error = Some(match f.error.take() {
                    Some(before) => format!("{before}; {text}"),
                    None => text,
                })
            }
            None => general.push(format!("{}: {text}", e.field)),
        }
    }
    general
}

/// A rule's message for people: the rules speak English with the values in question; in
/// Chinese a known kind of problem is said in Chinese (the English detail stays in English
/// pages, where it adds the values).
pub(crate) fn explain(message: &str, lang: Lang) -> String {
    if lang.is_english() {
        return message.to_string();
    }
    const KINDS: &[(&str, &str)] = &[
        ("is not a valid unified social credit code", "registry.err.uscc"),
        ("is used by another", "registry.err.taken"),
        ("no enterprise has id", "registry.err.no_enterprise"),
        ("no outlet has id", "registry.err.no_outlet"),
        ("is above max", "registry.err.min_above_max"),
        ("a second limit for", "registry.err.second_limit"),
        ("has neither max nor min", "registry.err.no_bound"),
        ("is not an HJ 212 factor code", "registry.err.factor"),
        ("is not a date", "registry.err.date"),
        ("must be non-empty without", "registry.err.device_password"),
        ("is not 1–24 letters and digits", "registry.err.mn"),
        ("applies to flue gas outlets only", "registry.err.o2_gas_only"),
        ("is not below 21", "registry.err.o2_range"),
        ("is not within", "registry.err.range"),
        ("is outside", "registry.err.range"),
        ("is not one of 1, 2, 3", "registry.err.minute_interval"),
        ("is not a whole number", "registry.err.whole"),
        ("is not a number", "registry.err.number"),
        ("must be a non-negative number", "registry.err.non_negative"),
        ("is not a non-negative amount", "registry.err.non_negative"),
        ("is not FACTOR=KG", "registry.err.permit"),
        ("has no name", "registry.err.contact"),
        ("is not one of", "registry.err.choice"),
        ("is not flue_gas or wastewater", "registry.err.choice"),
        ("is not 2005, 2017 or 2025", "registry.err.choice"),
        ("is not standard, modbus", "registry.err.choice"),
        ("is empty", "registry.err.empty"),
        ("is required", "registry.err.empty"),
    ];
    match KINDS.iter().find(|(pattern, _)| message.contains(pattern)) {
        // The USCC's check character is worth seeing whatever the language.
        Some((_, "registry.err.uscc")) => {
            let detail = message.rsplit_once(": ").map(|(_, d)| d).unwrap_or("");
            match uscc_detail(detail) {
                Some(d) => format!("{}（{d}）", lang.t("registry.err.uscc")),
                None => lang.t("registry.err.uscc").to_string(),
            }
        }
        Some((_, key)) => lang.t(key).to_string(),
        None => message.to_string(),
    }
}

/// The USCC rule's detail in Chinese (`check character is 'X' but should be 'Y'`, a length, a
/// character not allowed).
fn uscc_detail(detail: &str) -> Option<String> {
    let quoted: Vec<&str> = detail.split('\'').skip(1).step_by(2).collect();
    if detail.starts_with("check character") && quoted.len() == 2 {
        return Some(format!("校验位为 {}，应为 {}", quoted[0], quoted[1]));
    }
    if let Some(n) = detail.strip_prefix("must be 18 characters, found ") {
        return Some(format!("应为 18 位，实为 {n} 位"));
    }
    if let Some(pos) = detail.split("at position ").nth(1).and_then(|r| r.split(' ').next()) {
        return Some(format!("第 {pos} 位字符不允许"));
    }
    None
}

/// A use case's refusal as a page: 403 for a role that may not, 404 for a missing entry.
pub(crate) fn edit_error(page: Chrome, e: EditError) -> Response {
    match e {
        EditError::Denied(d) => denied_page(page, d),
        EditError::NotFound { .. } => denied_page(page, fenhe_core::access::Denied::NotFound),
        EditError::Invalid(errors) => {
            // Forms render their own errors; this is for a form that has no page of its own.
            let message =
                errors.iter().map(|e| explain(&e.message, page.lang)).collect::<Vec<_>>().join("; ");
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &ErrorPage { page, message })
        }
        EditError::Store(s) => internal(s).into_response(),
    }
}

/// The path and query a page was asked at, for its frame's language switch.
pub(crate) fn here(uri: &axum::http::Uri) -> &str {
    uri.path_and_query().map(|p| p.as_str()).unwrap_or("/registry")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_problems_are_said_in_chinese_with_their_detail() {
        let m = "\"91350100M000100Y44\" is not a valid unified social credit code: check character is '4' but should be '3'";
        assert_eq!(explain(m, Lang::Zh), "统一社会信用代码无效（校验位为 4，应为 3）");
        assert_eq!(explain(m, Lang::En), m);
        assert_eq!(explain("min 40 is above max 30", Lang::Zh), "下限高于上限");
        assert_eq!(explain("\"x\" is not a number", Lang::Zh), "不是有效的数字");
        assert_eq!(
            explain("something new", Lang::Zh),
            "something new",
            "an unknown problem is shown as it is"
        );
    }

    #[test]
    fn errors_go_beside_their_fields() {
        let mut fields = vec![Field::text("uscc", "USCC", "x"), Field::text("name", "Name", "")];
        let errors = vec![
            FieldError { field: "uscc".into(), message: "is empty".into() },
            FieldError { field: "elsewhere".into(), message: "is empty".into() },
        ];
        let general = place_errors(&mut fields, &errors, Lang::En);
        assert_eq!(fields[0].error.as_deref(), Some("is empty"));
        assert_eq!(fields[1].error, None);
        assert_eq!(general, ["elsewhere: is empty"]);
    }
}
