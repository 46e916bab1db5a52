//! API errors, each mapped to one status code and a JSON body saying what is wrong.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// A failed request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request's parameters are wrong; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// No such path under `/v1/`; the message names the ones there are.
    #[error("{0}")]
    NotFound(String),
    /// A bug on our side; the details go to the log.
    #[error("internal error, see the service log")]
    Internal(String),
    /// ClickHouse failed; the details go to the log, not to the client.
    #[error("the indicator store is unavailable, try again shortly")]
    Store(#[from] clickhouse::error::Error),
    /// ClickHouse did not answer within this long; the request is refused rather than held.
    #[error("the indicator store did not answer within {} s, try again shortly", .0.as_secs())]
    StoreTimedOut(std::time::Duration),
    /// Too many answers are being computed; the message says how many and how long it waited.
    #[error("{0}")]
    Saturated(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
            ApiError::Store(error) => {
                tracing::error!(%error, "clickhouse query failed");
                (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
            }
            ApiError::StoreTimedOut(_) => {
                tracing::error!("a clickhouse query took longer than the API waits");
                (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable")
            }
            ApiError::Saturated(_) => (StatusCode::SERVICE_UNAVAILABLE, "saturated"),
        };
        let mut response = (status, Json(json!({ "error": code, "message": self.to_string() }))).into_response();
        if matches!(self, ApiError::Saturated(_)) {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}
