//! Why a page's or an API route's query could not answer: the policy refused (which, for another
//! enterprise's object, is the very answer a missing object gets), the request itself is wrong
//! (said with what and where), or the store failed.

use fenhe_core::access::Denied;

/// What went wrong answering a query of the enterprise and outlet views.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// Refused by the policy, or no such object: both [`Denied::NotFound`] for an id, so that
    /// another enterprise's object and a missing one cannot be told apart.
    #[error(transparent)]
    Denied(#[from] Denied),
    /// A parameter of the request is wrong; the message names it and says what is expected.
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    Store(#[from] fenhe_store::StoreError),
}

impl ViewError {
    /// No such object (answered exactly as another enterprise's).
    pub fn not_found() -> ViewError {
        ViewError::Denied(Denied::NotFound)
    }
}
