//! The route's path segment, refused as the API's JSON error.
//!
//! axum's own `Path` refuses a segment it cannot decode (`/v1/units/%FF`, not UTF-8) with a
//! plain-text 400, not the `{"error", "message"}` body the OpenAPI document promises for every
//! error. This wraps it and keeps axum's reason. (The query needs no such wrapper: its
//! parameters, read into a map of strings, are decoded lossily and never refused; a value that
//! is not what a parameter takes is refused by the parameter's own check.)

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use crate::error::ApiError;

/// The one `{…}` segment of the route, as text.
pub struct Segment(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(segment)) => Ok(Segment(segment)),
            Err(rejection) => Err(ApiError::BadRequest(format!("the path cannot be read: {}", rejection.body_text()))),
        }
    }
}
