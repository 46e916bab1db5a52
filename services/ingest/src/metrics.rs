//! Prometheus metrics of ioc-ingest, declared once.

use ioc_domain::Source;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

use crate::outcome::{Rejection, Unacknowledged};

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
    /// Time from producing a batch's events to Kafka's acknowledgement of all of them.
    pub kafka_ack_seconds: HistogramVec,
    /// Request body bytes (decompressed), by source.
    pub received_bytes: IntCounterVec,
    /// Requests being handled.
    pub in_flight: IntGauge,
    /// Messages in the producer's queue: sent to Kafka, not yet acknowledged.
    pub producer_queue: IntGauge,
    /// Bytes in the producer's queue, from librdkafka's statistics (every second).
    pub producer_queue_bytes: IntGauge,
    /// HTTP connections open (`ioc_service::serve_until`).
    pub connections_open: IntGauge,
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
        let kafka_ack_seconds = HistogramVec::new(
            HistogramOpts::new(
                "ioc_ingest_kafka_ack_seconds",
                "time from producing a batch to kafka's acknowledgement",
            )
            .buckets(vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0]),
            &["source"],
        )?;
        let received_bytes = IntCounterVec::new(
            Opts::new("ioc_ingest_received_bytes_total", "request body bytes (decompressed), by source"),
            &["source"],
        )?;
        let in_flight = IntGauge::new("ioc_ingest_in_flight_requests", "requests being handled")?;
        let producer_queue =
            IntGauge::new("ioc_ingest_producer_queue_messages", "messages sent to kafka and not yet acknowledged")?;
        registry.register(Box::new(kafka_ack_seconds.clone()))?;
        registry.register(Box::new(received_bytes.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        let producer_queue_bytes = IntGauge::new(
            "ioc_ingest_producer_queue_bytes",
            "bytes held in the producer's queue (librdkafka statistics, every second)",
        )?;
        registry.register(Box::new(producer_queue.clone()))?;
        registry.register(Box::new(producer_queue_bytes.clone()))?;
        let connections_open = ioc_service::open_connections_gauge(&registry, "ioc_ingest")?;
        // Every series of a known label starts at 0: increase() cannot see the first increment
        // of a series that appears at 1, so the first rejection after a restart would not alert.
        for source in Source::ALL.map(Source::as_str) {
            for outcome in ["accepted", "rejected", "unacknowledged"] {
                events.with_label_values(&[source, outcome]);
            }
            for kind in Rejection::KINDS {
                rejections.with_label_values(&[source, kind]);
            }
            for kind in Unacknowledged::KINDS {
                delivery_errors.with_label_values(&[source, kind]);
            }
            received_bytes.with_label_values(&[source]);
        }
        Ok(IngestMetrics {
            registry,
            events,
            requests,
            request_seconds,
            rejections,
            delivery_errors,
            kafka_ack_seconds,
            received_bytes,
            in_flight,
            producer_queue,
            producer_queue_bytes,
            connections_open,
        })
    }
}
