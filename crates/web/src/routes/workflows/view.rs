//! An item as its page shows it — facts, deadline, the timeline of its history with who, when,
//! what, the fields and the files of each step — and one form per action the person may take
//! now. The same section is the item page's body and the alarm page's review.

use std::collections::HashMap;

use fenhe_app::workflows::ItemView;
use fenhe_core::access::Role;
use fenhe_core::china_time;
use fenhe_core::workflow::{FieldKind, FieldProblem, Fields, Kind, tasks};
use fenhe_store::StoredFile;

use super::form::{self, FormField, Options};
use super::labels::{action_label, choice_label, deadline_text, field_label, one_label, state_label};
use crate::i18n::Lang;

/// A file of a step, as a link.
pub(crate) struct FileLink {
    pub href: String,
    pub name: String,
    pub size: String,
}

/// One step of the history.
pub(crate) struct TimelineRow {
    pub at: String,
    pub who: String,
    pub action: String,
    /// `state → state` when the step changed the state.
    pub change: Option<String>,
    pub fields: Vec<(String, String)>,
    pub files: Vec<FileLink>,
}

/// The form of one allowed action.
pub(crate) struct ActionForm {
    pub name: &'static str,
    pub label: String,
    pub fields: Vec<FormField>,
    /// Problems of the last post of this form about no field shown.
    pub general: Vec<String>,
}

impl ActionForm {
    /// Whether a field of the last post of this form was refused (the form is then shown open).
    pub fn has_errors(&self) -> bool {
        self.fields.iter().any(|f| f.error.is_some())
    }
}

/// A refused post, for the page: which action and why, in the page language.
pub(crate) struct Refused {
    pub action: String,
    pub message: String,
    pub typed: Fields,
    pub problems: Vec<FieldProblem>,
}

/// The section an item page (and an alarm's review) shows.
pub(crate) struct ItemSection {
    pub id: i64,
    pub title: String,
    pub kind_label: String,
    pub enterprise: String,
    pub enterprise_name: String,
    pub state: String,
    pub state_class: &'static str,
    pub deadline: Option<String>,
    pub overdue: bool,
    pub created: String,
    pub source: Option<(String, Option<String>)>,
    pub facts: Vec<(String, String)>,
    pub timeline: Vec<TimelineRow>,
    pub forms: Vec<ActionForm>,
    /// Where the action forms post.
    pub action_url: String,
    /// What went wrong with the last post, if it was refused.
    pub refusal: Option<String>,
}

/// The badge class of a state: closed, late, or open.
pub(crate) fn state_class(closed: bool, overdue: bool) -> &'static str {
    if closed {
        "state-ok"
    } else if overdue {
        "state-bad"
    } else {
        "state-warn"
    }
}

/// A field's value for people: a choice by its label, a department or enterprise by its name.
pub(crate) fn value_text(kind: Option<FieldKind>, value: &str, options: &Options, lang: Lang) -> String {
    let name_of = |list: &[(String, String)], code: &str| {
        list.iter().find(|(c, _)| c == code).map(|(_, l)| l.clone()).unwrap_or_else(|| code.to_string())
    };
    match kind {
        Some(FieldKind::Choice(values)) if values.contains(&value) => choice_label(value, lang),
        Some(FieldKind::Department) if value == tasks::BUREAU => choice_label(value, lang),
        Some(FieldKind::Department) => name_of(&options.departments, value),
        Some(FieldKind::Departments) => value
            .split(',')
            .map(|c| name_of(&options.departments, c.trim()))
            .collect::<Vec<_>>()
            .join(if lang.is_english() { ", " } else { "、" }),
        Some(FieldKind::Enterprise) => name_of(&options.enterprises, value),
        // An instant as the pages write one (`2026-12-04 03:34`, not the form's `T`).
        _ if is_datetime(value) => value.replacen('T', " ", 1),
        _ => value.to_string(),
    }
}

/// `YYYY-MM-DDTHH:MM` (a date-time field, or one the app records such as `raised_at`).
fn is_datetime(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 16
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 => *c == b':',
            _ => c.is_ascii_digit(),
        })
}

/// The field kinds a machine declares, by name (its creation fields and every action's). A name
/// used as a choice by one action and as text by another (`reason`) keeps the choice, so a chosen
/// value shows by its label; text that is no choice value shows as typed ([`value_text`]).
fn field_kinds(kind: Kind) -> HashMap<&'static str, FieldKind> {
    let m = kind.machine();
    let mut kinds = HashMap::new();
    for f in m.creation_fields().iter().chain(m.actions().iter().flat_map(|a| a.fields.iter())) {
        let keep = matches!(kinds.get(f.name), Some(FieldKind::Choice(_)));
        if !keep {
            kinds.insert(f.name, f.kind);
        }
    }
    kinds
}

fn who(actor: &str, role: &str, lang: Lang) -> String {
    if actor == "system" {
        return lang.t("wf.item.system").to_string();
    }
    // The role's label; the unit does not change it.
    let role = match role {
        "admin" => Role::Admin,
        "leader" => Role::Leader,
        "bureau" => Role::Bureau,
        "department" => Role::Department { department: String::new() },
        "enterprise" => Role::Enterprise { enterprise: String::new() },
        _ => return actor.to_string(),
    };
    if lang.is_english() {
        format!("{actor} ({})", role.label(true))
    } else {
        format!("{actor}（{}）", role.label(false))
    }
}

fn size_text(bytes: i64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
    } else if bytes >= 1024 {
        format!("{:.0} KB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

fn file_link(sha: &str, files: &[StoredFile]) -> FileLink {
    match files.iter().find(|f| f.sha256 == sha) {
        Some(f) => FileLink { href: format!("/files/{sha}"), name: f.name.clone(), size: size_text(f.size) },
        None => FileLink {
            href: format!("/files/{sha}"),
            name: sha.chars().take(12).collect(),
            size: String::new(),
        },
    }
}

/// The section of `view`, its forms filled from `refused` when the last post was refused.
pub(crate) fn section(
    view: &ItemView,
    options: &Options,
    refused: Option<Refused>,
    lang: Lang,
) -> ItemSection {
    let s = &view.summary;
    let kinds = field_kinds(s.kind);
    let text = |name: &str, value: &str| value_text(kinds.get(name).copied(), value, options, lang);
    // The creation fields in the form's order, then what the steps added; the enterprise is
    // shown above already.
    let machine = s.kind.machine();
    let order = |k: &str| machine.creation_fields().iter().position(|f| f.name == k).unwrap_or(usize::MAX);
    let mut shown: Vec<(&String, &String)> = view.fields.iter().filter(|(k, _)| *k != "enterprise").collect();
    shown.sort_by_key(|(k, _)| order(k));
    let facts = shown.into_iter().map(|(k, v)| (field_label(k, lang), text(k, v))).collect();
    let timeline = view
        .history
        .iter()
        .rev()
        .map(|step| TimelineRow {
            at: china_time::minute_text(step.at),
            who: who(&step.actor, &step.role, lang),
            action: action_label(&step.action, lang),
            change: match &step.from_state {
                Some(from) if *from != step.to_state => {
                    Some(format!("{} → {}", state_label(from, lang), state_label(&step.to_state, lang)))
                }
                None => Some(state_label(&step.to_state, lang)),
                _ => None,
            },
            fields: step.fields.iter().map(|(k, v)| (field_label(k, lang), text(k, v))).collect(),
            files: step.files.iter().map(|h| file_link(h, &view.files)).collect(),
        })
        .collect();
    let actions = s.kind.machine().actions();
    let forms = view
        .allowed
        .iter()
        .filter_map(|name| actions.iter().find(|a| a.name == *name))
        .map(|a| {
            let (typed, problems) = match &refused {
                Some(r) if r.action == a.name => (r.typed.clone(), r.problems.clone()),
                _ => (Fields::new(), Vec::new()),
            };
            ActionForm {
                name: a.name,
                label: action_label(a.name, lang),
                fields: form::fields(a.fields, &typed, &problems, options, lang),
                general: form::other_problems(a.fields, &problems, lang),
            }
        })
        .collect();
    let source = view.source.as_ref().map(|src| {
        let href = src
            .split_once('/')
            .filter(|(k, id)| Kind::parse(k).is_some() && id.parse::<i64>().is_ok())
            .map(|_| format!("/{src}"));
        let label = match src.split_once('/') {
            Some((k, id)) if href.is_some() => {
                format!("{} {id}", Kind::parse(k).map(|k| one_label(k, lang)).unwrap_or_default())
            }
            // `manual`, `inspection`, `self_inspection` … by their label.
            _ => choice_label(src, lang),
        };
        (label, href)
    });
    ItemSection {
        id: s.id,
        title: s.title.clone(),
        kind_label: one_label(s.kind, lang),
        enterprise: s.enterprise.clone(),
        enterprise_name: s.enterprise_name.clone(),
        state: state_label(&s.state, lang),
        state_class: state_class(s.closed, s.overdue),
        deadline: s.due_at.map(deadline_text),
        overdue: s.overdue,
        created: china_time::minute_text(s.created_at),
        source,
        facts,
        timeline,
        forms,
        action_url: format!("/{}/{}/actions", s.kind.name(), s.id),
        refusal: refused.map(|r| r.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_people_write_them() {
        let options =
            Options { departments: vec![("yjj".into(), "应急管理局".into())], enterprises: Vec::new() };
        let kinds = field_kinds(Kind::Alarms);
        // `reason` is a choice when explaining and free text when rejecting.
        assert_eq!(
            value_text(kinds.get("reason").copied(), "process_upset", &options, Lang::En),
            "Process upset"
        );
        assert_eq!(value_text(kinds.get("reason").copied(), "理由不成立", &options, Lang::En), "理由不成立");
        assert_eq!(value_text(None, "2026-12-04T03:34", &options, Lang::Zh), "2026-12-04 03:34");
        assert_eq!(value_text(Some(FieldKind::Department), "yjj", &options, Lang::Zh), "应急管理局");
        assert_eq!(value_text(Some(FieldKind::Department), "bureau", &options, Lang::Zh), "生态环境局");
    }
}
