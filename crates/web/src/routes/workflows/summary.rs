//! What other pages show of the workflows: the overview's tile of overdue items (per kind,
//! linking to each list's overdue filter) and the enterprise page's section (its alarms awaiting
//! explanation, open tasks, hazards and retrofits, with counts and the items themselves).

use fenhe_app::workflows::{self, ListFilter, WorkflowError};
use fenhe_core::access::Actor;
use fenhe_core::china_time;
use fenhe_core::workflow::Kind;

use super::labels::{deadline_text, kind_label, state_label};
use super::view::state_class;
use crate::error::AppError;
use crate::i18n::Lang;
use crate::local_path;
use crate::state::AppState;

/// The overview's tile: overdue items in the person's scope.
pub(crate) struct OverdueTile {
    pub total: u64,
    /// `(label, count, href)` per kind.
    pub kinds: Vec<(String, u64, String)>,
}

/// Where a kind's overdue items are listed.
fn overdue_href(kind: Kind) -> String {
    match kind {
        // Alarm reviews have no list of their own: the open alarms are where they are explained.
        Kind::Alarms => "/alarms?status=open".to_string(),
        k => format!("/{}?overdue=1", k.name()),
    }
}

/// The tile, or `None` when the person's role sees no workflow at all.
pub(crate) async fn overdue_tile(
    state: &AppState,
    actor: &Actor,
    lang: Lang,
) -> Result<Option<OverdueTile>, AppError> {
    let counts = match workflows::overdue_counts(state.store.as_ref(), actor, china_time::now_ms()).await {
        Ok(c) => c,
        Err(WorkflowError::Denied(_)) => return Ok(None),
        Err(WorkflowError::Refused(r)) => {
            return Err(crate::error::internal(std::io::Error::other(r.to_string())));
        }
        Err(WorkflowError::Store(e)) => return Err(e.into()),
    };
    let total = counts.iter().map(|(_, n)| n).sum();
    let kinds = counts.into_iter().map(|(k, n)| (kind_label(k, lang), n, overdue_href(k))).collect();
    Ok(Some(OverdueTile { total, kinds }))
}

/// An open item in the enterprise page's section.
pub(crate) struct OpenItem {
    pub href: String,
    pub title: String,
    pub state: String,
    pub state_class: &'static str,
    pub due: String,
    pub overdue: bool,
}

/// One kind's line of the enterprise page's section.
pub(crate) struct KindBlock {
    pub label: &'static str,
    pub count: u64,
    pub href: String,
    pub items: Vec<OpenItem>,
}

/// Items of a kind shown per block; the count says how many there are in all.
const SHOWN: u32 = 5;

/// The enterprise page's section for enterprise `id`: for each kind, its open items (an alarm
/// review awaiting the enterprise's explanation, the other kinds in any state not closed).
pub(crate) async fn enterprise_blocks(
    state: &AppState,
    actor: &Actor,
    id: &str,
    lang: Lang,
) -> Result<Vec<KindBlock>, AppError> {
    let now = china_time::now_ms();
    let store = state.store.as_ref();
    let mut blocks = Vec::new();
    let kinds = [
        (Kind::Alarms, "wf.ent.awaiting"),
        (Kind::Tasks, "wf.ent.open_tasks"),
        (Kind::Hazards, "wf.ent.hazards"),
        (Kind::Retrofits, "wf.ent.retrofits"),
    ];
    for (kind, key) in kinds {
        let m = kind.machine();
        let open: Vec<&str> = match kind {
            Kind::Alarms => vec!["awaiting_explanation"],
            _ => m.states().iter().copied().filter(|s| !m.closed_states().contains(s)).collect(),
        };
        let mut block = KindBlock {
            label: lang.t(key),
            count: 0,
            href: match kind {
                Kind::Alarms => format!("/alarms?enterprise={}&status=open", local_path::encode(id)),
                k => format!("/{}?enterprise={}", k.name(), local_path::encode(id)),
            },
            items: Vec::new(),
        };
        for s in open {
            let filter = ListFilter {
                enterprise: Some(id.to_string()),
                department: None,
                state: Some(s.to_string()),
                overdue: false,
                text: None,
            };
            let list = match workflows::list(store, actor, kind, &filter, 1, SHOWN, now).await {
                Ok(l) => l,
                // A role that may not see this kind sees no block for it.
                Err(WorkflowError::Denied(_)) => break,
                Err(WorkflowError::Refused(r)) => {
                    return Err(crate::error::internal(std::io::Error::other(r.to_string())));
                }
                Err(WorkflowError::Store(e)) => return Err(e.into()),
            };
            block.count += list.total;
            for i in list.items {
                if block.items.len() < SHOWN as usize {
                    block.items.push(OpenItem {
                        href: format!("/{}/{}", kind.name(), i.id),
                        title: i.title.clone(),
                        state: state_label(&i.state, lang),
                        state_class: state_class(i.closed, i.overdue),
                        due: i.due_at.map(deadline_text).unwrap_or_else(|| "—".into()),
                        overdue: i.overdue,
                    });
                }
            }
        }
        blocks.push(block);
    }
    Ok(blocks)
}
