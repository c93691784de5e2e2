//! What every page's frame shows around its content (`templates/base.html`): the language, the
//! navigation the actor may use, the signed-in person with sign-out and password change, and
//! the addresses of the stylesheet and script. A page template holds a [`Chrome`] as `page`.

use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use fenhe_core::access::{Action, Actor, scope};

use crate::assets;
use crate::error::{AppError, internal};
use crate::i18n::Lang;
use crate::local_path;

/// An entry of the navigation: the page's message key, its address when the page exists, and
/// the action a role needs to see it (`None`: everyone signed in).
struct NavEntry {
    key: &'static str,
    href: Option<&'static str>,
    action: Option<Action>,
    /// Other pages this entry stands for (marked current there too).
    also: &'static [&'static str],
}

/// The navigation in its order. Pages still to be built have no address and are not shown;
/// each gets its address when it exists.
const NAV: &[NavEntry] = &[
    NavEntry { key: "nav.overview", href: Some("/"), action: None, also: &[] },
    NavEntry { key: "nav.screen", href: Some("/screen"), action: Some(Action::ViewCity), also: &[] },
    NavEntry {
        key: "nav.enterprises",
        href: Some("/enterprises"),
        action: Some(Action::ViewProfile),
        also: &[],
    },
    NavEntry { key: "nav.alarms", href: Some("/alarms"), action: Some(Action::ViewEnvironment), also: &[] },
    NavEntry { key: "nav.devices", href: Some("/devices"), action: Some(Action::ViewEnvironment), also: &[] },
    NavEntry { key: "nav.quality", href: Some("/quality"), action: Some(Action::ViewEnvironment), also: &[] },
    // Every role sees supervision: the app narrows the items to the person's scope (an
    // enterprise's own, a department's, the city's).
    NavEntry {
        key: "nav.supervision",
        href: Some("/tasks"),
        action: Some(Action::ViewWorkflow),
        also: &["/hazards", "/retrofits"],
    },
    NavEntry {
        key: "nav.registry",
        href: Some("/registry"),
        action: Some(Action::ManageRegistry),
        also: &[],
    },
    NavEntry { key: "nav.audit", href: Some("/audit"), action: Some(Action::ViewAudit), also: &[] },
    NavEntry { key: "nav.system", href: Some("/system"), action: Some(Action::ViewSystem), also: &[] },
];

#[derive(Debug, Clone)]
pub struct NavLink {
    pub label: &'static str,
    pub href: &'static str,
    pub current: bool,
}

/// The signed-in person as the top bar shows them.
#[derive(Debug, Clone)]
pub struct UserBadge {
    pub username: String,
    pub role: &'static str,
    /// The unit of a department or enterprise role.
    pub unit: Option<String>,
}

/// The frame of a page.
#[derive(Debug, Clone)]
pub struct Chrome {
    pub lang: Lang,
    /// The page's own path and query, for the language switch to come back to.
    pub path: String,
    pub user: Option<UserBadge>,
    pub nav: Vec<NavLink>,
    /// The session's CSRF token, for the sign-out form (empty without a session).
    pub csrf: String,
}

impl Chrome {
    /// The frame of a page seen by `actor` (with the session's CSRF token) at `path`.
    pub fn signed_in(lang: Lang, path: &str, actor: &Actor, csrf: &str) -> Chrome {
        let bare = path.split('?').next().unwrap_or(path);
        let nav = NAV
            .iter()
            .filter(|e| e.action.is_none_or(|a| scope(actor, a).is_ok()))
            .filter_map(|e| {
                e.href.map(|href| {
                    let current = [href].iter().chain(e.also).any(|p| {
                        bare == *p
                            || (*p != "/" && bare.strip_prefix(*p).is_some_and(|rest| rest.starts_with('/')))
                    });
                    NavLink { label: lang.t(e.key), href, current }
                })
            })
            .collect();
        let unit = match &actor.role {
            fenhe_core::access::Role::Department { department } => Some(department.clone()),
            fenhe_core::access::Role::Enterprise { enterprise } => Some(enterprise.clone()),
            _ => None,
        };
        let user =
            UserBadge { username: actor.username.clone(), role: actor.role.label(lang.is_english()), unit };
        Chrome { lang, path: path.to_string(), user: Some(user), nav, csrf: csrf.to_string() }
    }

    /// The frame of a page for someone not signed in (the sign-in page, the licences).
    pub fn anonymous(lang: Lang, path: &str) -> Chrome {
        Chrome { lang, path: path.to_string(), user: None, nav: Vec::new(), csrf: String::new() }
    }

    /// A message in the page's language.
    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    /// The content-hashed address of an embedded file.
    pub fn asset(&self, name: &str) -> String {
        assets::url(name)
    }

    /// The language switch's link to `code`, coming back to this page.
    pub fn lang_href(&self, code: &str) -> String {
        format!("/lang/{code}?next={}", local_path::encode(&self.path))
    }
}

/// A rendered page, or a 500 when a template fails (which askama's compile-time checks make a
/// matter of a value's `Display`, not of the template).
pub fn render(t: &impl Template) -> Result<Html<String>, AppError> {
    t.render().map(Html).map_err(internal)
}

/// [`render`] with a status other than 200.
pub fn render_with(status: axum::http::StatusCode, t: &impl Template) -> Response {
    match render(t) {
        Ok(html) => (status, html).into_response(),
        Err(e) => e.into_response(),
    }
}

/// A page that says what went wrong (a refused form), in the frame of the person's pages.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub page: Chrome,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use fenhe_core::access::Role;

    use super::*;

    fn labels(role: Role) -> Vec<&'static str> {
        Chrome::signed_in(Lang::En, "/", &Actor::new("x", role), "c").nav.iter().map(|n| n.label).collect()
    }

    #[test]
    fn the_navigation_follows_the_policy() {
        let data = ["Enterprises", "Alarms", "Devices", "Data quality", "Supervision"];
        let city = [&["Overview", "Wall screen"][..], &data[..]].concat();
        assert_eq!(labels(Role::Admin), [&city[..], &["Registry", "Audit log", "System status"]].concat());
        assert_eq!(labels(Role::Bureau), [&city[..], &["System status"]].concat());
        assert_eq!(labels(Role::Leader), city);
        assert_eq!(
            labels(Role::Enterprise { enterprise: "E01".into() }),
            [&["Overview"][..], &data[..]].concat()
        );
        assert_eq!(
            labels(Role::Department { department: "fgw".into() }),
            ["Overview", "Enterprises", "Supervision"]
        );
    }

    #[test]
    fn the_current_page_is_marked_and_the_switch_comes_back() {
        let c = Chrome::signed_in(Lang::Zh, "/system?x=1", &Actor::new("a", Role::Admin), "c");
        assert!(c.nav.iter().any(|n| n.href == "/system" && n.current));
        assert!(c.nav.iter().any(|n| n.href == "/" && !n.current));
        assert_eq!(c.lang_href("en"), "/lang/en?next=/system%3Fx%3D1");
        // The supervision entry stands for each kind's pages.
        let c = Chrome::signed_in(Lang::En, "/hazards/3", &Actor::new("a", Role::Bureau), "c");
        assert!(c.nav.iter().any(|n| n.href == "/tasks" && n.current));
        assert!(c.nav.iter().filter(|n| n.current).count() == 1);
    }
}
