//! Every way a request can fail, mapped to one status code and a JSON body saying what is wrong.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ioc_domain::Source;
use serde_json::json;

/// Seconds a source should wait before retrying when Kafka is unavailable.
pub const RETRY_AFTER_SECONDS: u64 = 5;

/// A request-level failure (per-event problems are reported in the batch response instead).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The path names no known source.
    #[error("{0}")]
    UnknownSource(String),
    /// No key, a malformed header, or a key nobody owns.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// No endpoint at this path.
    #[error("{0}")]
    NoSuchEndpoint(String),
    /// The path exists, not for this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A valid key of another source.
    #[error("this key belongs to source {key_source}, not {requested}; send {key_source}'s events to /v1/sources/{key_source}/events, or use {requested}'s key")]
    WrongSource {
        /// Whose key it is.
        key_source: Source,
        /// Which source the request was for.
        requested: Source,
    },
    /// Content-Type or Content-Encoding not supported.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// Body, decompressed body or event count over the limit.
    #[error("{0}")]
    TooLarge(String),
    /// The body did not arrive in time.
    #[error("{0}")]
    SlowBody(String),
    /// The body cannot be read as a batch of events.
    #[error("{0}")]
    MalformedBody(String),
    /// Kafka did not acknowledge every accepted event; nothing unacknowledged is reported accepted.
    #[error("{0}")]
    Unavailable(String),
    /// The source is over its rate; retry after the given seconds.
    #[error("source {source_name} is over its rate limit; retry in {retry_after} s")]
    RateLimited {
        /// The source.
        source_name: Source,
        /// Seconds to wait.
        retry_after: u64,
    },
}

impl IngestError {
    fn status(&self) -> StatusCode {
        match self {
            IngestError::UnknownSource(_) | IngestError::NoSuchEndpoint(_) => StatusCode::NOT_FOUND,
            IngestError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            IngestError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            IngestError::WrongSource { .. } => StatusCode::FORBIDDEN,
            IngestError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IngestError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::SlowBody(_) => StatusCode::REQUEST_TIMEOUT,
            IngestError::MalformedBody(_) => StatusCode::BAD_REQUEST,
            IngestError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            IngestError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    /// Every code [`IngestError::code`] gives, for the OpenAPI document's test (keep beside it).
    pub const CODES: [&'static str; 11] = [
        "unknown_source",
        "not_found",
        "method_not_allowed",
        "unauthenticated",
        "forbidden",
        "unsupported_media_type",
        "payload_too_large",
        "request_timeout",
        "malformed_body",
        "unavailable",
        "rate_limited",
    ];

    /// A stable machine-readable code for the `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            IngestError::UnknownSource(_) => "unknown_source",
            IngestError::NoSuchEndpoint(_) => "not_found",
            IngestError::MethodNotAllowed(_) => "method_not_allowed",
            IngestError::Unauthenticated(_) => "unauthenticated",
            IngestError::WrongSource { .. } => "forbidden",
            IngestError::UnsupportedMediaType(_) => "unsupported_media_type",
            IngestError::TooLarge(_) => "payload_too_large",
            IngestError::SlowBody(_) => "request_timeout",
            IngestError::MalformedBody(_) => "malformed_body",
            IngestError::Unavailable(_) => "unavailable",
            IngestError::RateLimited { .. } => "rate_limited",
        }
    }
}

impl IntoResponse for IngestError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = Json(json!({ "error": self.code(), "message": self.to_string() }));
        let mut response = (status, body).into_response();
        let retry_after = match self {
            IngestError::RateLimited { retry_after, .. } => Some(retry_after),
            IngestError::Unavailable(_) => Some(RETRY_AFTER_SECONDS),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}
