//! Prometheus metrics of ioc-ingest, declared once.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// The service's metrics, registered in its own registry.
#[derive(Clone)]
pub struct IngestMetrics {
    /// Registry served at `/metrics`.
    pub registry: Registry,
    /// Events by source and outcome (`accepted`, `rejected`, `unacknowledged`).
    pub events: IntCounterVec,
    /// Requests by source and HTTP status.
    pub requests: IntCounterVec,
    /// Time from request to Kafka acknowledgement, by source.
    pub request_seconds: HistogramVec,
    /// Events refused, by source and reason (`outcome::Rejection::KINDS`).
    pub rejections: IntCounterVec,
    /// Valid events Kafka did not take, by source and reason (`outcome::Unacknowledged`).
    pub delivery_errors: IntCounterVec,
}

impl IngestMetrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let events = IntCounterVec::new(
            Opts::new(ioc_service::metric_names::INGEST_EVENTS, "events received, by source and outcome"),
            &["source", "outcome"],
        )?;
        let requests = IntCounterVec::new(
            Opts::new("ioc_ingest_requests_total", "batch requests, by source and HTTP status"),
            &["source", "status"],
        )?;
        let request_seconds = HistogramVec::new(
            HistogramOpts::new(
                "ioc_ingest_request_duration_seconds",
                "time to validate and get Kafka's acknowledgement",
            ),
            &["source"],
        )?;
        registry.register(Box::new(events.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(request_seconds.clone()))?;
        let rejections = IntCounterVec::new(
            Opts::new("ioc_ingest_rejected_events_total", "events refused, by source and reason"),
            &["source", "reason"],
        )?;
        let delivery_errors = IntCounterVec::new(
            Opts::new("ioc_ingest_delivery_errors_total", "valid events kafka did not take, by source and reason"),
            &["source", "reason"],
        )?;
        registry.register(Box::new(rejections.clone()))?;
        registry.register(Box::new(delivery_errors.clone()))?;
        Ok(IngestMetrics { registry, events, requests, request_seconds, rejections, delivery_errors })
    }
}
