//! The errors a handler returns and how each reaches the client: one status per kind and one
//! JSON body for all of them, `{"error": {"code": "not_found", "message": "…"}}`, so a client
//! (the pages' scripts, the API's users) reads every failure the same way. An internal error is
//! logged with its cause chain and shown only as "internal server error": a database message
//! can name tables, paths or another enterprise's data.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A failed request, by what the client should understand from it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The request is malformed (unparsable body or query, a missing parameter).
    #[error("{0}")]
    BadRequest(String),
    /// No session or token, or one that has expired or was revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such route or object (also what a caller sees for an object it may not know exists).
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not with this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request contradicts what is stored (a duplicate id, a stale version).
    #[error("{0}")]
    Conflict(String),
    /// Well-formed but invalid content (a field out of range, a wrong type in a JSON body).
    #[error("{0}")]
    Unprocessable(String),
    /// A failure of ours; the cause is logged, not sent.
    #[error("internal error: {0}")]
    Internal(#[source] Cause),
}

pub fn bad_request(message: impl Into<String>) -> AppError {
    AppError::BadRequest(message.into())
}

pub fn unauthorized(message: impl Into<String>) -> AppError {
    AppError::Unauthorized(message.into())
}

pub fn forbidden(message: impl Into<String>) -> AppError {
    AppError::Forbidden(message.into())
}

pub fn not_found(message: impl Into<String>) -> AppError {
    AppError::NotFound(message.into())
}

pub fn conflict(message: impl Into<String>) -> AppError {
    AppError::Conflict(message.into())
}

pub fn unprocessable(message: impl Into<String>) -> AppError {
    AppError::Unprocessable(message.into())
}

pub fn internal(cause: impl Into<Cause>) -> AppError {
    AppError::Internal(cause.into())
}

impl AppError {
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable name of the kind (the body's `error.code`).
    pub fn code(&self) -> &'static str {
        match self {
            AppError::BadRequest(_) => "bad_request",
            AppError::Unauthorized(_) => "unauthorized",
            AppError::Forbidden(_) => "forbidden",
            AppError::NotFound(_) => "not_found",
            AppError::MethodNotAllowed(_) => "method_not_allowed",
            AppError::Conflict(_) => "conflict",
            AppError::Unprocessable(_) => "unprocessable",
            AppError::Internal(_) => "internal",
        }
    }

    /// What the client is told: the message, except for internal errors.
    fn public_message(&self) -> String {
        match self {
            AppError::Internal(_) => "internal server error".to_string(),
            other => other.to_string(),
        }
    }
}

/// A store failure is ours, not the client's: a handler that expects a particular store outcome
/// (an unknown id) maps it to the right kind itself.
impl From<fenhe_store::StoreError> for AppError {
    fn from(e: fenhe_store::StoreError) -> Self {
        AppError::Internal(Box::new(e))
    }
}

/// The JSON error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: &'static str,
    pub message: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(cause) = &self {
            tracing::error!(error = %error_chain(cause.as_ref()), "request failed");
        }
        let body = ErrorBody { error: ErrorDetail { code: self.code(), message: self.public_message() } };
        (self.status(), Json(body)).into_response()
    }
}

/// `outer: inner: innermost`, so a log line shows why, not only what.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_json(r: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn each_kind_has_its_status_and_the_shared_body() {
        let cases = [
            (bad_request("no"), 400, "bad_request"),
            (unauthorized("no"), 401, "unauthorized"),
            (forbidden("no"), 403, "forbidden"),
            (not_found("no"), 404, "not_found"),
            (conflict("no"), 409, "conflict"),
            (unprocessable("no"), 422, "unprocessable"),
        ];
        for (err, status, code) in cases {
            let r = err.into_response();
            assert_eq!(r.status().as_u16(), status);
            let v = body_json(r).await;
            assert_eq!(v["error"]["code"], code);
            assert_eq!(v["error"]["message"], "no");
        }
    }

    #[tokio::test]
    async fn internal_errors_hide_their_cause() {
        let cause = std::io::Error::other("/var/lib/fenhe/secret.db is locked");
        let r = internal(cause).into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let v = body_json(r).await;
        assert_eq!(v["error"]["code"], "internal");
        assert_eq!(v["error"]["message"], "internal server error");
    }

    #[test]
    fn the_logged_chain_names_every_cause() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::other("inner"));
        assert_eq!(error_chain(&e), "outer: inner");
    }
}
