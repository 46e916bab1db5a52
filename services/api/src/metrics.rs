//! Prometheus metrics of ioc-api, declared once.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// The service's metrics.
#[derive(Clone)]
pub struct ApiMetrics {
    /// Registry served at `/metrics`.
    pub registry: Registry,
    /// Requests by route and status.
    pub requests: IntCounterVec,
    /// Time to compute an answer, by endpoint.
    pub query_seconds: HistogramVec,
}

impl ApiMetrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("ioc_api_requests_total", "requests by route and status"),
            &["route", "status"],
        )?;
        let query_seconds = HistogramVec::new(
            HistogramOpts::new("ioc_api_query_seconds", "time to compute an answer")
                .buckets(vec![0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]),
            &["endpoint"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(query_seconds.clone()))?;
        Ok(ApiMetrics { registry, requests, query_seconds })
    }
}

/// Middleware counting every request by its route template (not its raw path, which would let
/// clients create unbounded label values).
pub async fn count_request(metrics: ApiMetrics, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    metrics.requests.with_label_values(&[&route, response.status().as_str()]).inc();
    response
}
