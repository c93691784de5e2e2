//! Names of the workflow machines in the page language (the catalogue's `wf.*` keys), and the
//! deadline as people read it. A name the catalogue lacks shows as itself, so a machine's new
//! state is visible, not blank (a test keeps the catalogue complete).

use fenhe_core::china_time;
use fenhe_core::workflow::Kind;

use crate::i18n::Lang;

fn named(prefix: &str, name: &str, lang: Lang) -> String {
    lang.try_t(&format!("{prefix}.{name}")).map(str::to_string).unwrap_or_else(|| name.to_string())
}

/// The kind's name as a list's title (整改任务).
pub(crate) fn kind_label(kind: Kind, lang: Lang) -> String {
    named("wf.kind", kind.name(), lang)
}

/// One item of the kind (隐患).
pub(crate) fn one_label(kind: Kind, lang: Lang) -> String {
    named("wf.one", kind.name(), lang)
}

pub(crate) fn state_label(state: &str, lang: Lang) -> String {
    named("wf.state", state, lang)
}

pub(crate) fn action_label(action: &str, lang: Lang) -> String {
    named("wf.action", action, lang)
}

pub(crate) fn field_label(field: &str, lang: Lang) -> String {
    named("wf.field", field, lang)
}

pub(crate) fn choice_label(value: &str, lang: Lang) -> String {
    named("wf.choice", value, lang)
}

/// A deadline as the regulations word it: a deadline falls at the end of its China-time day,
/// `YYYY-MM-DD 24:00`; one at another instant shows that minute.
pub(crate) fn deadline_text(due_at: i64) -> String {
    if china_time::day_start(due_at) == due_at {
        format!("{} 24:00", china_time::date_of(due_at.saturating_sub(1)))
    } else {
        china_time::minute_text(due_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_at_midnight_is_the_end_of_the_day_before() {
        // 2026-05-01 00:00 China time is the end of 2026-04-30.
        let t = china_time::parse("2026-05-01T00:00:00+08:00").unwrap();
        assert_eq!(deadline_text(t), "2026-04-30 24:00");
        assert_eq!(deadline_text(t + 90 * 60_000), "2026-05-01 01:30");
    }

    /// Every name a machine declares has its label in both languages (a new state or field
    /// added to a machine fails here until it is named).
    #[test]
    fn every_name_of_every_machine_has_a_label() {
        use fenhe_core::workflow::FieldKind;
        let mut missing = Vec::new();
        let mut need = |key: String| {
            if Lang::Zh.try_t(&key).is_none() || Lang::En.try_t(&key).is_none() {
                missing.push(key);
            }
        };
        for kind in Kind::ALL {
            let m = kind.machine();
            need(format!("wf.kind.{}", kind.name()));
            need(format!("wf.one.{}", kind.name()));
            m.states().iter().for_each(|s| need(format!("wf.state.{s}")));
            let specs = m.creation_fields().iter().chain(m.actions().iter().flat_map(|a| a.fields.iter()));
            for f in specs {
                need(format!("wf.field.{}", f.name));
                if let FieldKind::Choice(values) = f.kind {
                    values.iter().for_each(|v| need(format!("wf.choice.{v}")));
                }
            }
            m.actions().iter().for_each(|a| need(format!("wf.action.{}", a.name)));
        }
        assert!(missing.is_empty(), "no label for {missing:?}");
    }

    #[test]
    fn names_follow_the_language_and_unknown_ones_show_as_themselves() {
        assert_eq!(state_label("in_progress", Lang::Zh), "整改中");
        assert_eq!(action_label("submit", Lang::En), "Submit for acceptance");
        assert_eq!(state_label("no_such_state", Lang::Zh), "no_such_state");
    }
}
