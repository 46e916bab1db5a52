//! Prometheus metrics of ioc-api, declared once.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// The service's metrics.
#[derive(Clone)]
pub struct ApiMetrics {
    /// Registry served at `/metrics`.
    pub registry: Registry,
    /// Requests by route and status.
    pub requests: IntCounterVec,
    /// Time to answer, by route.
    pub request_seconds: HistogramVec,
    /// Time of each ClickHouse query, by query (storage.rs).
    pub clickhouse_seconds: HistogramVec,
    /// Answers of cached routes by `result`: `hit`, `miss` (computed), `uncached` (the rollups'
    /// state is unknown, so nothing is kept).
    pub answer_cache: IntCounterVec,
    /// Bytes of answers kept for the current rollup state.
    pub answer_cache_bytes: IntGauge,
    /// Requests refused because they waited too long for a turn to compute their answer
    /// (compute_limit.rs).
    pub answers_refused: IntCounter,
    /// HTTP connections open (`ioc_service::serve_until`).
    pub connections_open: IntGauge,
}

impl ApiMetrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("ioc_api_requests_total", "requests by route and status"),
            &["route", "status"],
        )?;
        let buckets = vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
        let request_seconds = HistogramVec::new(
            HistogramOpts::new("ioc_api_request_duration_seconds", "time to answer a request").buckets(buckets.clone()),
            &["route"],
        )?;
        let clickhouse_seconds = HistogramVec::new(
            HistogramOpts::new("ioc_api_clickhouse_seconds", "time of one clickhouse query").buckets(buckets),
            &["query"],
        )?;
        let answer_cache = IntCounterVec::new(
            Opts::new("ioc_api_answer_cache_total", "answers of cached routes by result (hit, miss, uncached)"),
            &["result"],
        )?;
        let answer_cache_bytes =
            IntGauge::new("ioc_api_answer_cache_bytes", "bytes of answers kept for the current rollup state")?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(request_seconds.clone()))?;
        registry.register(Box::new(clickhouse_seconds.clone()))?;
        registry.register(Box::new(answer_cache.clone()))?;
        let answers_refused = IntCounter::new(
            "ioc_api_answers_refused_total",
            "requests refused (503 saturated) after waiting answer_wait_ms for a turn to compute their answer",
        )?;
        registry.register(Box::new(answer_cache_bytes.clone()))?;
        registry.register(Box::new(answers_refused.clone()))?;
        let connections_open = ioc_service::open_connections_gauge(&registry, "ioc_api")?;
        for result in ["hit", "miss", "uncached"] {
            answer_cache.with_label_values(&[result]);
        }
        Ok(ApiMetrics {
            registry,
            requests,
            request_seconds,
            clickhouse_seconds,
            answer_cache,
            answer_cache_bytes,
            answers_refused,
            connections_open,
        })
    }
}

/// Middleware counting and timing every request by its route template (not its raw path, which would let
/// clients create unbounded label values).
pub async fn count_request(metrics: ApiMetrics, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    metrics.requests.with_label_values(&[&route, response.status().as_str()]).inc();
    metrics.request_seconds.with_label_values(&[&route]).observe(started.elapsed().as_secs_f64());
    response
}
