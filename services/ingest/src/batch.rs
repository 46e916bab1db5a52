//! The batch endpoint: validate every event, produce the valid ones, answer once Kafka has
//! acknowledged them.

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use ioc_domain::{Event, Source};
use ioc_kafka::{framing, Batch};
use ioc_service::trace::{TraceParent, TRACEPARENT};
use ioc_service::trace_export::{HopSpan, KeyValue, SpanKind};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::Producer;
use rdkafka::types::RDKafkaErrorCode;
use serde::Serialize;

use crate::body::{self, Limits, Slot};
use crate::error::IngestError;
use crate::limits;
use crate::messages;
use crate::outcome::{Rejection, Unacknowledged};
use crate::rate_limit::Refusal;
use crate::AppState;

/// The name of the span exported for each request (OpenTelemetry's HTTP convention: method and
/// route).
const REQUEST_SPAN: &str = "POST /v1/sources/{source}/events";

/// What happened to one event of the batch.
#[derive(Debug, Serialize)]
pub struct EventResult {
    /// Position of the event in the batch (0-based).
    pub index: usize,
    /// The event's id, when it could be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// `accepted` (Kafka has it), `rejected` (invalid, do not resend as is) or `unacknowledged`
    /// (Kafka did not confirm it: resend).
    pub status: &'static str,
    /// Why it was rejected or not acknowledged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The answer to a batch.
#[derive(Debug, Serialize)]
pub struct BatchResponse {
    /// Events Kafka acknowledged.
    pub accepted: usize,
    /// Events refused as invalid.
    pub rejected: usize,
    /// Events that were valid but not acknowledged by Kafka.
    pub unacknowledged: usize,
    /// One entry per event, in request order.
    pub results: Vec<EventResult>,
}

/// `POST /v1/sources/{source}/events`
pub async fn post_events(
    State(state): State<Arc<AppState>>,
    source_name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    // A name that is not UTF-8 names no source either: the same JSON 404 listing the sources,
    // instead of axum's plain-text 400.
    let source_name = source_name.map_or_else(|_| "(not UTF-8)".to_owned(), |Path(name)| name);
    let label = if source_name.parse::<Source>().is_ok() { source_name.as_str() } else { "unknown" };
    let response = match handle(&state, &source_name, &headers, body).await {
        Ok(response) => response,
        Err(error) => {
            if !matches!(error, IngestError::Unavailable(_)) {
                tracing::info!(source = label, error = error.code(), message = %error, "batch refused");
            }
            error.into_response()
        }
    };
    state.metrics.requests.with_label_values(&[label, response.status().as_str()]).inc();
    state.metrics.request_seconds.with_label_values(&[label]).observe(started.elapsed().as_secs_f64());
    response
}

async fn handle(state: &AppState, source_name: &str, headers: &HeaderMap, body: Body) -> Result<Response, IngestError> {
    let received_at = SystemTime::now();
    let source: Source =
        source_name.parse().map_err(|e: ioc_domain::UnknownSource| IngestError::UnknownSource(e.to_string()))?;
    state.keys.authorize(headers, source)?;
    // Bounded work: a saturated replica says so at once instead of queueing without limit.
    let _permit = state.in_flight.try_acquire().map_err(|_| {
        IngestError::Unavailable(format!(
            "ingest is saturated ({} requests in flight); retry later",
            state.config.max_in_flight_requests
        ))
    })?;
    let _counted = InFlight::count(&state.metrics.in_flight);
    let framing = body::framing(headers)?;
    let limits = Limits {
        max_body_bytes: state.config.max_body_bytes,
        max_decompressed_bytes: state.config.max_decompressed_bytes,
        max_events: state.config.max_events_per_request,
        max_event_bytes: state.config.max_event_bytes,
    };
    let deadline = std::time::Duration::from_millis(state.config.body_read_timeout_ms);
    let bytes = tokio::time::timeout(deadline, body::read(headers, body, limits)).await.map_err(|_| {
        IngestError::SlowBody(format!(
            "the request body did not arrive within {} ms (body_read_timeout_ms); send it at once, or in smaller requests",
            state.config.body_read_timeout_ms
        ))
    })??;
    state.metrics.received_bytes.with_label_values(&[source.as_str()]).inc_by(bytes.len() as u64);
    let slots = body::parse(&bytes, framing, &limits)?;
    state.rate_limiter.take(source, slots.len()).map_err(|refusal| match refusal {
        Refusal::Wait { seconds } => IngestError::RateLimited { source_name: source, retry_after: seconds },
        Refusal::OverBurst { burst } => IngestError::TooLarge(format!(
            "{} events in one request, more than the {burst} {source} may send at once (its rate limit's burst); \
                 split the batch into requests of at most {burst} events",
            slots.len()
        )),
    })?;

    let mut results: Vec<EventResult> = Vec::with_capacity(slots.len());
    let mut valid: Vec<(usize, Event)> = Vec::with_capacity(slots.len());
    // One clock reading for the batch: its events were received together.
    let now = chrono::Utc::now();
    for (index, slot) in slots.into_iter().enumerate() {
        match check(state, source, slot, now) {
            Ok(event) => {
                results.push(EventResult {
                    index,
                    event_id: Some(event.event_id.to_string()),
                    status: "accepted",
                    reason: None,
                });
                valid.push((index, event));
            }
            Err((event_id, rejection)) => {
                state.metrics.rejections.with_label_values(&[source.as_str(), rejection.kind()]).inc();
                results.push(EventResult { index, event_id, status: "rejected", reason: Some(rejection.to_string()) });
            }
        }
    }

    // The request's trace (the source's traceparent, or a new one); its events carry this
    // service's span as their parent to the processor (ioc_service::trace). With the span export
    // on, that span is the one exported for the request.
    let incoming = headers.get(TRACEPARENT).and_then(|value| value.to_str().ok()).and_then(TraceParent::parse);
    let span = HopSpan::begin(REQUEST_SPAN, SpanKind::Server, incoming.as_ref(), received_at);
    let trace =
        span.trace_parent().unwrap_or_else(|| incoming.map_or_else(TraceParent::new_root, |incoming| incoming.child()));
    let produced = valid.len();
    let unacknowledged = produce(state, source, valid, &trace).await;
    tracing::debug!(%source, trace_id = %trace.trace_id_hex(), produced, unacknowledged = unacknowledged.len(), "events produced to kafka");
    for (index, failure) in &unacknowledged {
        state.metrics.delivery_errors.with_label_values(&[source.as_str(), failure.kind()]).inc();
        results[*index].status = "unacknowledged";
        results[*index].reason = Some(failure.to_string());
    }
    let count = |status: &str| results.iter().filter(|r| r.status == status).count();
    let response = BatchResponse {
        accepted: count("accepted"),
        rejected: count("rejected"),
        unacknowledged: count("unacknowledged"),
        results,
    };
    span.end(
        vec![
            KeyValue::new("http.request.method", "POST"),
            KeyValue::new("http.route", REQUEST_SPAN.trim_start_matches("POST ")),
            KeyValue::new("ioc.source", source.as_str()),
            KeyValue::new("ioc.events.accepted", response.accepted as i64),
            KeyValue::new("ioc.events.rejected", response.rejected as i64),
            KeyValue::new("ioc.events.unacknowledged", response.unacknowledged as i64),
        ],
        (response.unacknowledged > 0).then(|| format!("kafka did not acknowledge {} events", response.unacknowledged)),
    );
    let metrics = &state.metrics.events;
    metrics.with_label_values(&[source.as_str(), "accepted"]).inc_by(response.accepted as u64);
    metrics.with_label_values(&[source.as_str(), "rejected"]).inc_by(response.rejected as u64);
    metrics.with_label_values(&[source.as_str(), "unacknowledged"]).inc_by(response.unacknowledged as u64);

    if response.unacknowledged > 0 {
        tracing::warn!(%source, unacknowledged = response.unacknowledged, "kafka did not acknowledge events");
        let mut reply = (StatusCode::SERVICE_UNAVAILABLE, Json(response)).into_response();
        reply.headers_mut().insert(axum::http::header::RETRY_AFTER, crate::error::RETRY_AFTER_SECONDS.into());
        return Ok(reply);
    }
    // A batch in which nothing was acceptable is the sender's error, not a success.
    let status = if response.accepted == 0 { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok((status, Json(response)).into_response())
}

/// Counts a request in `ioc_ingest_in_flight_requests` while it lives.
struct InFlight<'a>(&'a prometheus::IntGauge);

impl<'a> InFlight<'a> {
    fn count(gauge: &'a prometheus::IntGauge) -> Self {
        gauge.inc();
        InFlight(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Validates one slot and prepares it for Kafka; on refusal returns the id (if readable) and why.
fn check(
    state: &AppState,
    source: Source,
    slot: Slot,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Event, (Option<String>, Rejection)> {
    let raw = slot.map_err(|reason| (None, Rejection::Malformed(reason)))?;
    // Parsed here, one event at a time, and dropped at the end of this call (body::RawEvent).
    let parsed = raw.parsed().map_err(|reason| (None, Rejection::Malformed(reason)))?;
    let value = parsed.value();
    // The id is copied only for a refusal's answer.
    let event_id = || value.get("event_id").and_then(|v| v.as_str()).map(str::to_owned);
    limits::check_shape(value, &state.event_limits).map_err(|reason| (event_id(), Rejection::OverLimit(reason)))?;
    let mut event = state.contract.check_parsed(&parsed).map_err(|e| (event_id(), Rejection::Contract(e)))?;
    limits::check_time(event.occurred_at, now, &state.event_limits)
        .map_err(|reason| (event_id(), Rejection::OutOfTime(reason)))?;
    if event.source != source {
        return Err((event_id(), Rejection::WrongSource { event: event.source, endpoint: source }));
    }
    event.pseudonymise(|clear| state.pseudonymiser.hash(clear));
    event.received_at = Some(now);
    Ok(event)
}

/// Produces the events, several per message (messages.rs), and waits for Kafka; returns the
/// index and failure of each event that was not acknowledged: every event of a message that was
/// not.
async fn produce(
    state: &AppState,
    source: Source,
    events: Vec<(usize, Event)>,
    trace: &TraceParent,
) -> Vec<(usize, Unacknowledged)> {
    let topic = source.topic(&state.config.kafka.topic_prefix);
    let traceparent = trace.to_string();
    let (messages, mut failed) = messages::pack(events, state.config.max_events_per_message);
    let batch = Batch::new(&state.producer, messages.len());
    for (position, message) in messages.iter().enumerate() {
        let mut headers =
            OwnedHeaders::new_with_capacity(2).insert(Header { key: TRACEPARENT, value: Some(&traceparent) });
        if message.framed {
            headers = headers.insert(Header { key: framing::FRAMING, value: Some(framing::NDJSON) });
        }
        if let Err(error) = batch.send(position, &topic, message.key.as_bytes(), &message.payload, headers) {
            let error = error.to_string();
            failed.extend(message.events.iter().map(|&index| (index, Unacknowledged::Refused(error.clone()))));
        }
    }
    state.metrics.producer_queue.set(i64::from(state.producer.in_flight_count()));
    let waiting = Instant::now();
    let not_acknowledged = batch.settled().await;
    state.metrics.kafka_ack_seconds.with_label_values(&[source.as_str()]).observe(waiting.elapsed().as_secs_f64());
    for (position, error) in not_acknowledged {
        // librdkafka purges what it still holds when the producer is dropped. Every request holds
        // the producer, so none should wait then; the kind stays for the day one does.
        let failure = match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::PurgeQueue | RDKafkaErrorCode::PurgeInflight) => Unacknowledged::Cancelled,
            _ => Unacknowledged::NotAcknowledged(error.to_string()),
        };
        failed.extend(messages[position].events.iter().map(|&index| (index, failure.clone())));
    }
    failed.sort_unstable_by_key(|(index, _)| *index);
    failed
}
