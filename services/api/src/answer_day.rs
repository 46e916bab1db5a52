//! The local day a request is answered for, read once when it arrives. Periods left open ("to
//! today") end on it, and the answer cache keys on it: read twice, a request that waited for a
//! compute turn (compute_limit.rs, up to `answer_wait_ms`) across midnight would keep the next
//! day's answer under the day before's key, and serve it until midnight's requests move on.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::NaiveDate;

use crate::AppState;

/// The day of the request (an extension that [`stamp`] sets on every route that reads it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AnswerDay(pub NaiveDate);

/// Middleware: today (local), or the day the configuration sets for tests (`ApiConfig::today`).
pub async fn stamp(State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    let day = state.config.today.unwrap_or_else(ioc_domain::local_today);
    request.extensions_mut().insert(AnswerDay(day));
    next.run(request).await
}
