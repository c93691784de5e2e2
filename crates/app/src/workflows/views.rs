//! Reading items: a kind's list under the actor's scope and the list's filters, one item with
//! its history, files and the actions the caller may take, and the open items past their
//! deadline per kind (the overview's and the header's counts).

use std::collections::BTreeSet;

use fenhe_core::access::{Actor, Denied};
use fenhe_core::registry::Registry;
use fenhe_core::workflow::{ItemFacts, Kind, Problem};
use fenhe_store::{Item, ItemQuery, Store};

use super::access::{self, ItemScope};
use super::{ItemList, ItemSummary, ItemView, ListFilter, WorkflowError, WorkflowSettings, alarm_reviews};

/// An item as its machine sees it.
pub(crate) fn facts(item: &Item) -> ItemFacts<'_> {
    ItemFacts {
        state: &item.state,
        enterprise: &item.enterprise,
        department: item.department.as_deref(),
        fields: &item.fields,
        due_at: item.due_at,
        created_at: item.created_at,
    }
}

/// Whether `state` is one of the kind's closed states.
pub(crate) fn is_closed(kind: Kind, state: &str) -> bool {
    kind.machine().closed_states().contains(&state)
}

/// An item as a list shows it, at `now`.
pub(crate) fn summary(kind: Kind, item: &Item, registry: &Registry, now: i64) -> ItemSummary {
    let closed = is_closed(kind, &item.state);
    ItemSummary {
        kind,
        id: item.id,
        state: item.state.clone(),
        closed,
        enterprise: item.enterprise.clone(),
        enterprise_name: registry
            .enterprise(&item.enterprise)
            .map_or_else(|| item.enterprise.clone(), |e| e.name.clone()),
        department: item.department.clone(),
        title: item.title.clone(),
        due_at: item.due_at,
        overdue: !closed && item.due_at.is_some_and(|d| d < now),
        created_at: item.created_at,
        updated_at: item.updated_at,
    }
}

/// The store query of a list's filter (without paging and without the actor's scope).
fn query(kind: Kind, filter: &ListFilter, now: i64) -> Result<ItemQuery, WorkflowError> {
    let machine = kind.machine();
    let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(String::from);
    let mut q = ItemQuery {
        kind: kind.name().to_string(),
        enterprise: text(&filter.enterprise),
        department: text(&filter.department),
        text: text(&filter.text),
        ..ItemQuery::default()
    };
    if let Some(state) = text(&filter.state) {
        if !machine.states().contains(&state.as_str()) {
            let allowed = machine.states().iter().map(|s| s.to_string()).collect();
            return Err(WorkflowError::field("state", Problem::NotOneOf { allowed }));
        }
        q.states = vec![state];
    }
    if filter.overdue {
        q.due_before = Some(now);
        q.exclude_states = machine.closed_states().iter().map(|s| s.to_string()).collect();
    }
    Ok(q)
}

/// The items of `kind` that `actor` may see and that match `filter`: page `page` (from 1) of
/// `per_page`, newest first. A filter naming another enterprise finds nothing, as one naming
/// an enterprise that does not exist. A `state` the kind does not have is 422.
pub async fn list(
    store: &dyn Store,
    actor: &Actor,
    kind: Kind,
    filter: &ListFilter,
    page: u32,
    per_page: u32,
    now: i64,
) -> Result<ItemList, WorkflowError> {
    let scope = access::item_scope(actor)?;
    let page = page.max(1);
    let per_page = per_page.max(1);
    let offset = (page - 1).saturating_mul(per_page);
    let mut q = query(kind, filter, now)?;
    let empty = ItemList { items: Vec::new(), total: 0, page, per_page };
    let (items, total) = match &scope {
        ItemScope::Enterprise(own) => {
            if q.enterprise.as_deref().is_some_and(|e| e != own) {
                return Ok(empty);
            }
            q.enterprise = Some(own.clone());
            paged(store, q, offset, per_page).await?
        }
        ItemScope::All => paged(store, q, offset, per_page).await?,
        // A department's items are found by a field too (a task's supporting units), which the
        // store does not index: the kind's items matching the filter are read and narrowed
        // here. A city has hundreds of these, not millions.
        ItemScope::Department(_) => {
            let all: Vec<Item> = store
                .items(&q)
                .await?
                .into_iter()
                .filter(|i| access::includes(&scope, kind, &i.enterprise, i.department.as_deref(), &i.fields))
                .collect();
            let total = all.len() as u64;
            (all.into_iter().skip(offset as usize).take(per_page as usize).collect(), total)
        }
    };
    let registry = store.registry().await?;
    let items = items.iter().map(|i| summary(kind, i, &registry, now)).collect();
    Ok(ItemList { items, total, page, per_page })
}

async fn paged(
    store: &dyn Store,
    mut q: ItemQuery,
    offset: u32,
    per_page: u32,
) -> Result<(Vec<Item>, u64), WorkflowError> {
    let total = store.count_items(&q).await?;
    q.limit = Some(per_page);
    q.offset = Some(offset);
    Ok((store.items(&q).await?, total))
}

/// Item `id` of `kind` as `actor` may see it, with the actions they may take at `now`. Missing
/// and out of scope are both [`Denied::NotFound`]. For `alarms` the id is the engine alarm's;
/// an alarm no one has acted on shows its review as it would open.
pub async fn get(
    store: &dyn Store,
    settings: &WorkflowSettings,
    actor: &Actor,
    kind: Kind,
    id: i64,
    now: i64,
) -> Result<ItemView, WorkflowError> {
    access::item_scope(actor)?;
    let registry = store.registry().await?;
    let (item, stored) = load(store, settings, &registry, kind, id).await?.ok_or(Denied::NotFound)?;
    access::check_item(actor, kind, &item)?;
    view(store, &registry, actor, kind, item, stored, now).await
}

/// The item of `kind` and `id`, and whether it is stored (an alarm's review may not be yet).
pub(crate) async fn load(
    store: &dyn Store,
    settings: &WorkflowSettings,
    registry: &Registry,
    kind: Kind,
    id: i64,
) -> Result<Option<(Item, bool)>, WorkflowError> {
    if let Some(item) = store.item(kind.name(), id).await? {
        return Ok(Some((item, true)));
    }
    if kind != Kind::Alarms {
        return Ok(None);
    }
    Ok(alarm_reviews::pending(store, settings, registry, id).await?.map(|item| (item, false)))
}

/// The page's view of a loaded item.
pub(crate) async fn view(
    store: &dyn Store,
    registry: &Registry,
    actor: &Actor,
    kind: Kind,
    item: Item,
    stored: bool,
    now: i64,
) -> Result<ItemView, WorkflowError> {
    let history = if stored { store.steps(kind.name(), item.id).await? } else { Vec::new() };
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    for hash in history.iter().flat_map(|s| s.files.iter()) {
        if seen.insert(hash.clone())
            && let Some(f) = store.file_info(hash).await?
        {
            files.push(f);
        }
    }
    let allowed = kind.machine().allowed(&facts(&item), actor, now);
    Ok(ItemView {
        summary: summary(kind, &item, registry, now),
        fields: item.fields.clone(),
        source: item.source.clone(),
        allowed,
        history,
        files,
        escalated_at: item.escalated_at,
    })
}

/// How many open items of each kind in `actor`'s scope are past their deadline at `now`.
pub async fn overdue_counts(
    store: &dyn Store,
    actor: &Actor,
    now: i64,
) -> Result<Vec<(Kind, u64)>, WorkflowError> {
    let scope = access::item_scope(actor)?;
    let overdue = ListFilter { overdue: true, ..ListFilter::default() };
    let mut out = Vec::new();
    for kind in Kind::ALL {
        let mut q = query(kind, &overdue, now)?;
        let n = match &scope {
            ItemScope::All => store.count_items(&q).await?,
            ItemScope::Enterprise(own) => {
                q.enterprise = Some(own.clone());
                store.count_items(&q).await?
            }
            ItemScope::Department(_) => store
                .items(&q)
                .await?
                .iter()
                .filter(|i| access::includes(&scope, kind, &i.enterprise, i.department.as_deref(), &i.fields))
                .count() as u64,
        };
        out.push((kind, n));
    }
    Ok(out)
}
