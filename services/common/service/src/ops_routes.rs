//! `/healthz`, `/readyz` and `/metrics`, the same on every service.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use prometheus::{Encoder, Registry, TextEncoder};

/// Answers whether the service's dependencies (Kafka, ClickHouse) work right now.
pub trait Readiness: Send + Sync + 'static {
    /// `Ok(())` when ready, otherwise what is not working.
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
}

#[derive(Clone)]
struct OpsState {
    registry: Registry,
    readiness: Arc<dyn Readiness>,
}

/// Routes for liveness, readiness and Prometheus metrics, to merge into a service's router.
pub fn ops_router<S: Clone + Send + Sync + 'static>(registry: Registry, readiness: Arc<dyn Readiness>) -> Router<S> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(OpsState { registry, readiness })
}

async fn readyz(State(state): State<OpsState>) -> Response {
    match state.readiness.check().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}")).into_response(),
    }
}

async fn metrics(State(state): State<OpsState>) -> Response {
    let encoder = TextEncoder::new();
    let mut body = Vec::new();
    if let Err(error) = encoder.encode(&state.registry.gather(), &mut body) {
        return (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to encode metrics: {error}")).into_response();
    }
    ([(header::CONTENT_TYPE, encoder.format_type().to_owned())], body).into_response()
}
