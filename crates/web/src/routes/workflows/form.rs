//! Forms built from a machine's field specs (`FieldSpec`): one input per field, in the page
//! language — a choice as a select of labelled values, a date as a date input, a department as
//! a select of the configured departments, an enterprise as a select of the registry's
//! enterprises in the person's scope — with what was typed and each problem beside its field.

use fenhe_core::workflow::{FieldKind, FieldProblem, FieldSpec, Fields, tasks};

use super::labels::{choice_label, field_label};
use crate::i18n::Lang;

/// What the selects offer: `(code, label)` of the configured departments and of the enterprises
/// the person may choose.
pub(crate) struct Options {
    pub departments: Vec<(String, String)>,
    pub enterprises: Vec<(String, String)>,
}

/// One input of a form, ready for `workflow_fields.html`.
pub(crate) struct FormField {
    pub name: &'static str,
    pub label: String,
    /// `text`, `textarea`, `select`, `multi`, `date`, `datetime-local`, `number`.
    pub input: &'static str,
    pub required: bool,
    pub value: String,
    /// `(value, label)`; a select's first, empty, option is the template's.
    pub options: Vec<(String, String)>,
    pub error: Option<String>,
}

impl FormField {
    /// Whether `v` is (one of) the value(s) typed.
    pub fn is(&self, v: &str) -> bool {
        if self.input == "multi" { self.value.split(',').any(|x| x.trim() == v) } else { self.value == v }
    }
    pub fn wide(&self) -> bool {
        self.input == "textarea"
    }
}

/// The inputs of `specs`, filled with `typed` and the problems of `problems`.
pub(crate) fn fields(
    specs: &[FieldSpec],
    typed: &Fields,
    problems: &[FieldProblem],
    options: &Options,
    lang: Lang,
) -> Vec<FormField> {
    specs
        .iter()
        .map(|spec| {
            let (input, choices) = match spec.kind {
                FieldKind::Text => ("text", Vec::new()),
                FieldKind::LongText => ("textarea", Vec::new()),
                FieldKind::Choice(values) => {
                    ("select", values.iter().map(|v| (v.to_string(), choice_label(v, lang))).collect())
                }
                FieldKind::Date => ("date", Vec::new()),
                FieldKind::DateTime => ("datetime-local", Vec::new()),
                FieldKind::Number => ("number", Vec::new()),
                // A task's lead unit may be the bureau itself, which is no department.
                FieldKind::Department if spec.name == "lead_unit" => {
                    let bureau = (tasks::BUREAU.to_string(), choice_label(tasks::BUREAU, lang));
                    ("select", std::iter::once(bureau).chain(options.departments.iter().cloned()).collect())
                }
                FieldKind::Department => ("select", options.departments.clone()),
                FieldKind::Departments => ("multi", options.departments.clone()),
                FieldKind::Enterprise => ("select", options.enterprises.clone()),
            };
            let error = problems
                .iter()
                .filter(|p| p.field == spec.name)
                .map(|p| p.problem.describe(lang.is_english()))
                .reduce(|a, b| format!("{a}; {b}"));
            FormField {
                name: spec.name,
                label: field_label(spec.name, lang),
                input,
                required: spec.required,
                value: typed.get(spec.name).cloned().unwrap_or_default(),
                options: choices,
                error,
            }
        })
        .collect()
}

/// Problems about fields the form does not show (a rule across fields named after none of
/// them), so none is lost: `label: problem`.
pub(crate) fn other_problems(specs: &[FieldSpec], problems: &[FieldProblem], lang: Lang) -> Vec<String> {
    problems
        .iter()
        .filter(|p| !specs.iter().any(|s| s.name == p.field))
        .map(|p| format!("{}: {}", field_label(&p.field, lang), p.problem.describe(lang.is_english())))
        .collect()
}

#[cfg(test)]
mod tests {
    use fenhe_core::workflow::Problem;

    use super::*;

    const SPECS: &[FieldSpec] = &[
        FieldSpec { name: "grade", kind: FieldKind::Choice(&["general", "major"]), required: true },
        FieldSpec { name: "deadline", kind: FieldKind::Date, required: false },
        FieldSpec { name: "supporting_units", kind: FieldKind::Departments, required: false },
    ];

    #[test]
    fn inputs_follow_the_specs_with_values_and_problems() {
        let typed = Fields::from([
            ("deadline".to_string(), "2026-13-01".to_string()),
            ("supporting_units".to_string(), "a,b".to_string()),
        ]);
        let problems = vec![
            FieldProblem { field: "deadline".into(), problem: Problem::NotADate },
            FieldProblem { field: "funds".into(), problem: Problem::Missing },
        ];
        let options = Options { departments: vec![("a".into(), "A".into())], enterprises: Vec::new() };
        let f = fields(SPECS, &typed, &problems, &options, Lang::En);
        assert_eq!(f[0].input, "select");
        assert_eq!(f[0].options[1], ("major".to_string(), "Major".to_string()));
        assert_eq!((f[1].input, f[1].value.as_str()), ("date", "2026-13-01"));
        assert_eq!(f[1].error.as_deref(), Some("must be a date, YYYY-MM-DD"));
        assert!(f[2].is("b") && !f[2].is("c"));
        assert_eq!(other_problems(SPECS, &problems, Lang::Zh), vec!["整改资金（万元）: 必填".to_string()]);
    }
}
