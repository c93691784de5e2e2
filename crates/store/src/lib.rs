//! fenhe's persistence, by role: [`IngestStore`] (frames and measurements), [`RegistryStore`],
//! [`CommandStore`], [`ResultStore`] (the compliance engine's inputs and results),
//! [`AlarmStore`], [`LeaseStore`], and the identity and audit layer of the web application:
//! [`AccountStore`] (users, API tokens, departments), [`SessionStore`], [`SignInStore`] and
//! [`AuditStore`]; and the supervision workflows: [`WorkflowStore`] (tracked items of every
//! kind, their history and attachments). [`Store`] is all of them plus [`Migrate`], implemented for
//! every type that implements them; a backend that lacks a method does not compile.
//! [`sqlite::SqliteStore`] is the embedded default (`./fenhe.db`); [`postgres::PgStore`] is the
//! production store, shared by several processes. Both pass the same conformance suite
//! (`tests/conformance.rs`). Time instants are epoch milliseconds (UTC).
//!
//! Decisions are not made here: the revision rule, the alarm lifecycle and the command statuses
//! are `fenhe_core`'s (`revision`, `alarm`, `command`); a backend loads, applies and stores.
//!
//! Ingest writes go through [`writer::Writer`], a single task that batches submitted frames into
//! one transaction and answers each submitter only after that transaction committed — which is
//! what lets the gateway acknowledge a packet only once it is durable.

use async_trait::async_trait;

pub mod accounts;
pub mod alarms;
pub mod audit;
pub mod commands;
pub mod error;
pub mod ingest;
pub mod leases;
mod own_thread;
pub mod postgres;
pub mod registry;
pub mod results;
pub mod secrets;
pub mod sessions;
pub mod sign_ins;
pub mod sqlite;
mod workflow_rows;
pub mod workflows;
pub mod write_health;
pub mod writer;

pub use accounts::{AccountStore, ApiToken, Department, NewToken, NewUser, User};
pub use alarms::{AlarmQuery, AlarmStore};
pub use audit::{AuditEntry, AuditQuery, AuditStore, NewAuditEntry};
pub use commands::{Command, CommandStore, NewCommand};
pub use error::StoreError;
pub use ingest::{
    DeviceActivity, FrameCount, FrameQuery, InboxEntry, InboxQuery, IngestItem, IngestRules, IngestStore,
    ItemOutcome, MeasurementQuery, MnFrameCount, PendingRevision, RevisionDecision, RevisionQuery,
    RevisionStatus, StoredCounts, StoredFrame, StoredMeasurement,
};
pub use leases::{Lease, LeaseStore};
pub use registry::{ImportRecord, ImportSummary, RegistryStore, StoredImport};
pub use results::{
    AggregateQuery, DirtyDay, EmissionQuery, EpisodeQuery, FindingQuery, MONTHLY_FINDING_KINDS, RateQuery,
    ResultStore,
};
pub use sessions::{Session, SessionStore};
pub use sign_ins::{SignInAttempt, SignInStore};
pub use workflows::{
    Item, ItemChange, ItemFields, ItemQuery, NewItem, NewStep, Step, StepOutcome, StoredFile, WorkflowStore,
};
// The alarm and command lifecycles are decisions of the domain (fenhe_core); re-exported here
// because every caller of the store handles them.
pub use fenhe_core::alarm::{Alarm, AlarmStatus, AlarmSync, RESOLUTION_CLEARED, RESOLUTION_WITHDRAWN};
pub use fenhe_core::command::CommandStatus;

/// Every role trait, for code that calls a concrete backend (`SqliteStore`) rather than an
/// `Arc<dyn Store>` (whose methods need no import).
pub mod prelude {
    pub use crate::{
        AccountStore, AlarmStore, AuditStore, CommandStore, IngestStore, LeaseStore, Migrate, RegistryStore,
        ResultStore, SessionStore, SignInStore, Store, WorkflowStore,
    };
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Bringing a database's schema up to this version.
#[async_trait]
pub trait Migrate: Send + Sync {
    /// Apply pending migrations.
    async fn migrate(&self) -> Result<()>;
}

/// Everything fenhe persists: every role. Callers hold an `Arc<dyn Store>` and call any role's
/// methods on it; a part that needs one role only can take that role's trait.
pub trait Store:
    Migrate
    + IngestStore
    + RegistryStore
    + CommandStore
    + ResultStore
    + AlarmStore
    + LeaseStore
    + AccountStore
    + SessionStore
    + SignInStore
    + AuditStore
    + WorkflowStore
    + 'static
{
}

impl<T> Store for T where
    T: Migrate
        + IngestStore
        + RegistryStore
        + CommandStore
        + ResultStore
        + AlarmStore
        + LeaseStore
        + AccountStore
        + SessionStore
        + SignInStore
        + AuditStore
        + WorkflowStore
        + 'static
{
}

/// `db` as it may be shown in messages and logs: a PostgreSQL URL's password replaced by `***`
/// (a path is shown as it is).
pub fn shown(db: &str) -> std::borrow::Cow<'_, str> {
    if !postgres::is_postgres_url(db) {
        return std::borrow::Cow::Borrowed(db);
    }
    // scheme://user:password@host…: the password is between the first ':' after "//" and the
    // last '@' before the path.
    let Some(start) = db.find("//").map(|i| i + 2) else { return std::borrow::Cow::Borrowed(db) };
    let end = db[start..].find('/').map_or(db.len(), |i| start + i);
    let authority = &db[start..end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => std::borrow::Cow::Owned(format!(
            "{}{}:***{}",
            &db[..start],
            &authority[..colon],
            &db[start + at..]
        )),
        _ => std::borrow::Cow::Borrowed(db),
    }
}

/// Open a store from `--db`: a path or `sqlite://…` (SQLite), or `postgres://…` /
/// `postgresql://…` (PostgreSQL, see [`postgres::PgStore::open`]). Migrations are applied.
pub async fn open(db: &str) -> Result<std::sync::Arc<dyn Store>> {
    if postgres::is_postgres_url(db) {
        let s = postgres::PgStore::open(db).await?;
        s.migrate().await?;
        return Ok(std::sync::Arc::new(s));
    }
    let s = sqlite::SqliteStore::open(db).await?;
    s.migrate().await?;
    Ok(std::sync::Arc::new(s))
}

#[cfg(test)]
mod shown_tests {
    #[test]
    fn a_password_is_not_shown() {
        assert_eq!(
            super::shown("postgres://u:secret@h:5432/db?schema=x"),
            "postgres://u:***@h:5432/db?schema=x"
        );
        assert_eq!(super::shown("postgresql://u:p@ss@h/db"), "postgresql://u:***@h/db");
        assert_eq!(super::shown("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::shown("postgres://h:5432/db"), "postgres://h:5432/db");
        assert_eq!(super::shown("./a:b@c.db"), "./a:b@c.db");
    }
}
