//! ioc-ingest: takes telemetry from the source systems over HTTP, checks it against the event
//! contract, pseudonymises personal identifiers and answers only after Kafka acknowledged it.

pub mod auth;
mod batch;
pub mod body;
pub mod config;
mod error;
pub mod limits;
mod messages;
mod metrics;
pub mod openapi;
pub mod outcome;
mod pseudonym;
mod rate_limit;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::routing::{get, post};
use axum::Router;
use ioc_domain::Contract;
use ioc_kafka::BatchProducer;
use ioc_service::Readiness;
use rdkafka::producer::Producer;
use tokio::net::TcpListener;

pub use batch::{BatchResponse, EventResult};
pub use config::IngestConfig;
pub use error::IngestError;
pub use messages::MESSAGE_CLOSE_BYTES;
pub use metrics::IngestMetrics;
pub use pseudonym::Pseudonymiser;

/// Shared state of the request handlers.
pub struct AppState {
    config: IngestConfig,
    contract: Contract,
    keys: auth::KeyRing,
    pseudonymiser: Pseudonymiser,
    producer: Arc<BatchProducer>,
    metrics: IngestMetrics,
    rate_limiter: rate_limit::RateLimiter,
    /// One permit per request being processed.
    in_flight: tokio::sync::Semaphore,
    /// Per-event limits, derived from the config once.
    event_limits: limits::EventLimits,
}

struct KafkaReadiness(Arc<BatchProducer>);

impl Readiness for KafkaReadiness {
    fn check(&self) -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(ioc_kafka::check_reachable(self.0.clone(), Duration::from_secs(3)))
    }
}

/// Builds the service's router.
pub fn router(state: Arc<AppState>) -> Router {
    let ops = ioc_service::ops_router(state.metrics.registry.clone(), Arc::new(KafkaReadiness(state.producer.clone())));
    Router::new()
        .route("/v1/sources/{source}/events", post(batch::post_events))
        .route("/openapi.json", get(|| async { ([(header::CONTENT_TYPE, "application/json")], openapi::DOCUMENT) }))
        // The handler enforces its own, configurable limits with clear messages.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
        .merge(ops)
        // Without these, a wrong path or method got an empty body: say what is served instead.
        .fallback(|uri: axum::http::Uri| async move {
            IngestError::NoSuchEndpoint(format!(
                "nothing is served at {}; events go to POST /v1/sources/{{portal|edoc|training}}/events",
                uri.path()
            ))
        })
        .method_not_allowed_fallback(|method: axum::http::Method, uri: axum::http::Uri| async move {
            IngestError::MethodNotAllowed(format!(
                "{method} is not served at {}; events are sent with POST, and /healthz, /readyz and /metrics are read with GET",
                uri.path()
            ))
        })
}

/// Runs ioc-ingest on `listener` until `shutdown` resolves, then flushes what Kafka still holds.
pub async fn serve(
    config: IngestConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    config.validate()?;
    let metrics = IngestMetrics::new().context("failed to register metrics")?;
    let queue_bytes = metrics.producer_queue_bytes.clone();
    let producer = Arc::new(config.kafka.batch_producer(1000, move |statistics| {
        queue_bytes.set(i64::try_from(statistics.msg_size).unwrap_or(i64::MAX));
    })?);
    let state = Arc::new(AppState {
        contract: Contract::new().context("failed to compile the event schemas")?,
        keys: auth::KeyRing::new(&config.keys, &config.revoked_keys),
        rate_limiter: rate_limit::RateLimiter::new(&config.rate_limits),
        in_flight: tokio::sync::Semaphore::new(config.max_in_flight_requests),
        event_limits: config.event_limits(),
        pseudonymiser: Pseudonymiser::new(config.pseudonymisation_key.expose().as_bytes()),
        producer: producer.clone(),
        metrics,
        config,
    });
    tracing::info!(address = %listener.local_addr()?, "ioc-ingest listening");
    // Graceful: stop accepting, let requests in flight get Kafka's answer, but never longer than
    // the configured deadline.
    let deadline = Duration::from_millis(state.config.shutdown_deadline_ms);
    let limits = state.config.connections.clone();
    let open = state.metrics.connections_open.clone();
    ioc_service::serve_until(listener, router(state), shutdown, deadline, limits, open)
        .await
        .context("http server failed")?;
    let flushed = tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(5))).await;
    if !matches!(flushed, Ok(Ok(()))) {
        tracing::warn!("kafka producer did not flush within 5s");
    }
    Ok(())
}
