//! An audit entry's before and after, as the fields that changed: both JSON values flattened to
//! paths (`limits[1].max`, `contacts[0].phone`) and compared path by path, so a reader sees
//! "max: 50 → 30" instead of two documents to compare by eye.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// One changed field: its path and its value before and after (`None`: absent on that side).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub path: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// The fields that differ between `before` and `after`, in path order; every field of the one
/// side when the other is absent (a creation lists what was made).
pub fn changes(before: Option<&Value>, after: Option<&Value>) -> Vec<Change> {
    let (mut b, mut a) = (BTreeMap::new(), BTreeMap::new());
    if let Some(v) = before {
        flatten("", v, &mut b);
    }
    if let Some(v) = after {
        flatten("", v, &mut a);
    }
    let mut paths: Vec<&String> = b.keys().chain(a.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|p| {
            let (x, y) = (b.get(p), a.get(p));
            (x != y).then(|| Change { path: p.clone(), before: x.cloned(), after: y.cloned() })
        })
        .collect()
}

/// Leaves of `v` by path; an empty object or array is a leaf of its own (`[]`, `{}`).
fn flatten(path: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                flatten(&p, x, out);
            }
        }
        Value::Array(a) if !a.is_empty() => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{path}[{i}]"), x, out);
            }
        }
        Value::String(s) => {
            out.insert(path.to_string(), s.clone());
        }
        other => {
            out.insert(path.to_string(), other.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn c(path: &str, before: Option<&str>, after: Option<&str>) -> Change {
        Change { path: path.into(), before: before.map(Into::into), after: after.map(Into::into) }
    }

    #[test]
    fn only_what_changed_by_path() {
        let before =
            json!({"id": "E01", "name": "甲", "limits": [{"factor": "a21026", "max": 50.0}], "tags": []});
        let after = json!({"id": "E01", "name": "乙", "limits": [{"factor": "a21026", "max": 30.0},
                          {"factor": "a21002", "max": 100.0}], "tags": [], "active": false});
        assert_eq!(
            changes(Some(&before), Some(&after)),
            [
                c("active", None, Some("false")),
                c("limits[0].max", Some("50.0"), Some("30.0")),
                c("limits[1].factor", None, Some("a21002")),
                c("limits[1].max", None, Some("100.0")),
                c("name", Some("甲"), Some("乙")),
            ]
        );
    }

    #[test]
    fn a_creation_lists_every_field_and_equal_sides_nothing() {
        let v = json!({"mn": "M1", "factors": ["a21026"], "nested": {}});
        assert_eq!(
            changes(None, Some(&v)),
            [c("factors[0]", None, Some("a21026")), c("mn", None, Some("M1")), c("nested", None, Some("{}"))]
        );
        assert!(changes(Some(&v), Some(&v)).is_empty());
        assert!(changes(None, None).is_empty());
        assert_eq!(changes(Some(&json!([1])), None), [c("[0]", Some("1"), None)]);
    }
}
