//! `fenhe revisions list|approve|reject`: changed values that arrived after the revision window,
//! waiting for the bureau (decisions audited as `cli`).

use std::io::Write;

use anyhow::Result;
use fenhe_app::audit::Caller;
use fenhe_app::revisions::{self, RevisionView};
use fenhe_core::china_time;
use fenhe_store::{RevisionDecision, RevisionStatus, Store};

fn avg(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |x| x.to_string())
}

/// `revisions list`: pending ones, or all with `all`.
pub async fn list(
    store: &dyn Store,
    all: bool,
    mn: Option<&str>,
    json_out: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let caller = Caller::cli(china_time::now_ms());
    let status = (!all).then_some(RevisionStatus::Pending);
    let views = revisions::list(store, &caller, status, mn).await?;
    if json_out {
        for v in &views {
            writeln!(out, "{}", serde_json::to_string(v)?)?;
        }
        return Ok(());
    }
    if views.is_empty() {
        writeln!(out, "没有待审修订 (no pending revisions)")?;
        return Ok(());
    }
    writeln!(out, "id\tstatus\tmn\tcn\tdata time\tfactor\tstored avg\trevised avg\treceived")?;
    for RevisionView { revision: r, stored } in &views {
        writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.id,
            r.status.name(),
            r.mn,
            r.cn,
            china_time::iso(r.data_time),
            r.factor,
            avg(stored.as_ref().and_then(|v| v.avg)),
            avg(r.values.avg),
            china_time::iso(r.received_at),
        )?;
    }
    Ok(())
}

/// `revisions approve ID` and `revisions reject ID [--reason]`.
pub async fn decide(
    store: &dyn Store,
    id: i64,
    decision: RevisionDecision,
    reason: Option<&str>,
    out: &mut dyn Write,
) -> Result<()> {
    let r = revisions::decide(store, &Caller::cli(china_time::now_ms()), id, decision, reason).await?;
    match decision {
        RevisionDecision::Approve => writeln!(
            out,
            "已批准 approved revision {id}: {} {} {} is now revision {} (its day is judged again)",
            r.mn,
            r.factor,
            china_time::iso(r.data_time),
            r.revision.unwrap_or_default()
        )?,
        RevisionDecision::Reject => writeln!(
            out,
            "已驳回 rejected revision {id}: {} {} {} keeps its stored value",
            r.mn,
            r.factor,
            china_time::iso(r.data_time)
        )?,
    }
    Ok(())
}
