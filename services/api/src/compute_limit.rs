//! At most `max_answers_computing` answers are computed at once; the other requests that need
//! one wait their turn, for at most `answer_wait_ms`, and are then refused with a 503 saying so.
//!
//! Each answer being computed holds what ClickHouse sent for it (a 148-unit ranking is tens of
//! thousands of rows) until it is reduced to the response. Without a bound, a wall of screens
//! asking while answers are not kept (`answer_cache_refresh_ms = 0`, or the cache's watcher
//! cannot read the rollups' state) held one such answer per screen: 202 to 221 MB for 64 at
//! once (ops/bench), over the 150 MB a replica is given. ClickHouse serves only as many queries
//! in parallel as it has cores, so a queue in front of it costs little time. Kept answers
//! (answer_cache.rs, which sits in front of this limit) need no turn.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// The turns of the answers being computed.
pub struct ComputeLimit {
    turns: Arc<Semaphore>,
    at_once: usize,
    wait: Duration,
    refused: prometheus::IntCounter,
}

impl ComputeLimit {
    /// `at_once` answers computed at once (at least one), a request waiting at most `wait` for
    /// its turn; refusals are counted in `refused`.
    pub fn new(at_once: usize, wait: Duration, refused: prometheus::IntCounter) -> Self {
        let at_once = at_once.max(1);
        ComputeLimit { turns: Arc::new(Semaphore::new(at_once)), at_once, wait, refused }
    }
}

/// Middleware: runs the request once it has a turn, or answers 503 after waiting `wait`.
pub async fn take_turn(State(limit): State<Arc<ComputeLimit>>, request: Request, next: Next) -> Response {
    // The semaphore is never closed: an error can only be the wait running out.
    let Ok(Ok(_turn)) = tokio::time::timeout(limit.wait, limit.turns.clone().acquire_owned()).await else {
        limit.refused.inc();
        return ApiError::Saturated(format!(
            "the API is computing {} answers at once and this request waited {} ms for its turn; retry in a second",
            limit.at_once,
            limit.wait.as_millis()
        ))
        .into_response();
    };
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    use super::*;

    /// A route whose handler takes `hold` and records how many run at once.
    fn app(
        at_once: usize,
        wait: Duration,
        hold: Duration,
        running: Arc<AtomicUsize>,
        most: Arc<AtomicUsize>,
    ) -> Router {
        let limit =
            Arc::new(ComputeLimit::new(at_once, wait, prometheus::IntCounter::new("refused", "refused").unwrap()));
        let handler = move || {
            let (running, most) = (running.clone(), most.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(hold).await;
                running.fetch_sub(1, Ordering::SeqCst);
                "answer"
            }
        };
        Router::new().route("/", get(handler)).route_layer(axum::middleware::from_fn_with_state(limit, take_turn))
    }

    async fn statuses(app: Router, requests: usize) -> Vec<(StatusCode, String)> {
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..requests {
            let app = app.clone();
            calls.spawn(async move {
                let response = app.oneshot(Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
                let status = response.status();
                let retry_after = response.headers().get("retry-after").is_some();
                let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
                let body = String::from_utf8_lossy(&body).into_owned();
                assert_eq!(retry_after, status == StatusCode::SERVICE_UNAVAILABLE, "Retry-After only on a refusal");
                (status, body)
            });
        }
        calls.join_all().await
    }

    #[tokio::test]
    async fn no_more_answers_than_allowed_are_computed_at_once_and_the_rest_wait() {
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let hold = Duration::from_millis(50);
        let answered = statuses(app(2, Duration::from_secs(10), hold, running, most.clone()), 8).await;
        assert!(answered.iter().all(|(status, _)| *status == StatusCode::OK), "{answered:?}");
        assert_eq!(most.load(Ordering::SeqCst), 2, "answers computed at once");
    }

    #[tokio::test]
    async fn a_request_that_waited_too_long_is_refused_saying_why() {
        let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        // The turn is held far longer than the others wait, so a stalled runtime cannot wake
        // with both timers expired and hand the turn on before the waiters give up.
        let hold = Duration::from_secs(2);
        let answered = statuses(app(1, Duration::from_millis(10), hold, running, most), 3).await;
        let refused: Vec<_> =
            answered.iter().filter(|(status, _)| *status == StatusCode::SERVICE_UNAVAILABLE).collect();
        assert_eq!(answered.len() - refused.len(), 1, "one had the turn: {answered:?}");
        assert_eq!(refused.len(), 2, "{answered:?}");
        assert!(refused
            .iter()
            .all(|(_, body)| body.contains("computing 1 answers at once") && body.contains("saturated")));
    }
}
