//! Extractors whose rejections are [`AppError`]s: a malformed body, query or path answers with
//! the same JSON error body as every other failure instead of axum's plain-text rejection.
//! Handlers use these in place of axum's `Json`, `Query` and `Path`.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{AppError, bad_request, unprocessable};

/// A JSON request body (or response). Unparsable JSON or a wrong content type is a 400; JSON
/// of the wrong shape (a missing field, a string for a number) is a 422.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> AppError {
    match r {
        JsonRejection::JsonDataError(e) => unprocessable(e.body_text()),
        JsonRejection::JsonSyntaxError(e) => bad_request(e.body_text()),
        JsonRejection::MissingJsonContentType(_) => {
            bad_request("expected a request with the header Content-Type: application/json")
        }
        other => bad_request(other.body_text()),
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Query parameters; any that do not parse make a 400 naming the problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|r: QueryRejection| bad_request(r.body_text()))
    }
}

/// Path parameters (`/api/v1/outlets/{id}`); one that does not parse is a 400.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|r: PathRejection| bad_request(r.body_text()))
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use axum::routing::{get, post};
    use serde::Deserialize;
    use tower::ServiceExt;

    use super::*;

    #[derive(Debug, Deserialize, Serialize)]
    struct Limit {
        factor: String,
        value: f64,
    }

    fn app() -> Router {
        Router::new()
            .route("/echo", post(|Json(l): Json<Limit>| async move { Json(l) }))
            .route("/q", get(|Query(l): Query<Limit>| async move { Json(l) }))
            .route("/p/{n}", get(|Path(n): Path<u32>| async move { Json(n) }))
    }

    async fn call(req: Request<Body>) -> (StatusCode, serde_json::Value) {
        let r = app().oneshot(req).await.unwrap();
        let status = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn post_body(ct: Option<&str>, body: &str) -> Request<Body> {
        let mut b = Request::post("/echo");
        if let Some(ct) = ct {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(Body::from(body.to_string())).unwrap()
    }

    #[tokio::test]
    async fn a_good_body_passes_through() {
        let (s, v) = call(post_body(Some("application/json"), r#"{"factor":"a21026","value":35}"#)).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["factor"], "a21026");
        assert_eq!(v["value"], 35.0);
    }

    #[tokio::test]
    async fn body_rejections_use_the_error_body() {
        let (s, v) = call(post_body(Some("application/json"), "{not json")).await;
        assert_eq!((s, &v["error"]["code"]), (StatusCode::BAD_REQUEST, &"bad_request".into()));

        let (s, v) = call(post_body(Some("application/json"), r#"{"factor":"a21026","value":"high"}"#)).await;
        assert_eq!((s, &v["error"]["code"]), (StatusCode::UNPROCESSABLE_ENTITY, &"unprocessable".into()));
        assert!(v["error"]["message"].as_str().unwrap().contains("value"), "{v}");

        let (s, v) = call(post_body(None, r#"{"factor":"a21026","value":1}"#)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(v["error"]["message"].as_str().unwrap().contains("Content-Type"), "{v}");
    }

    #[tokio::test]
    async fn query_and_path_rejections_are_400s() {
        let (s, v) = call(Request::get("/q?factor=a21026&value=1.5").body(Body::empty()).unwrap()).await;
        assert_eq!((s, &v["value"]), (StatusCode::OK, &1.5.into()));

        let (s, v) = call(Request::get("/q?factor=a21026").body(Body::empty()).unwrap()).await;
        assert_eq!((s, &v["error"]["code"]), (StatusCode::BAD_REQUEST, &"bad_request".into()));

        let (s, v) = call(Request::get("/p/x").body(Body::empty()).unwrap()).await;
        assert_eq!((s, &v["error"]["code"]), (StatusCode::BAD_REQUEST, &"bad_request".into()));
    }
}
