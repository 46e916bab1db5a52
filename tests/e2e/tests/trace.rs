//! One batch followed through the logs: ingest and the processor run as processes with JSON
//! logs (`IOC_LOG_FORMAT=json`); a request carries a W3C `traceparent`, and its trace id must
//! show in ingest's line about producing the events and in the processor's line about storing
//! the batch that holds them. Every log line must be a JSON object.
//!
//! With the span export on (`OTEL_EXPORTER_OTLP_ENDPOINT`), the same journey arrives in a real
//! OpenTelemetry Collector as spans: ingest's request span, a child of the sender's
//! `traceparent`, and the processor's insert span, a child of ingest's.

use std::time::Duration;

use ioc_domain::Source;
use ioc_e2e::otel_collector::{Collector, ReceivedSpan};
use ioc_e2e::process::ServiceProcess;
use ioc_e2e::{fresh_stack, random_keys};

const EXAMPLE: &str = include_str!("../../../schemas/events/examples/valid/dossier.received.json");
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_followed_by_its_trace_id_from_the_request_to_the_insert() {
    let (kafka, clickhouse) = fresh_stack("tr", "ioc_trace_").await;
    let _dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
    let keys = random_keys();
    let logging = [("IOC_LOG_FORMAT", "json"), ("RUST_LOG", "info,ioc_ingest=debug,ioc_processor=debug")];
    let mut processor = ServiceProcess::processor("processor-trace", &kafka, &clickhouse, &logging).await;
    let mut ingest = ServiceProcess::ingest("ingest-trace", &kafka, &keys, &logging).await;

    let response = reqwest::Client::new()
        .post(format!("{}/v1/sources/portal/events", ingest.url))
        .bearer_auth(&keys[&Source::Portal])
        .header("content-type", "application/x-ndjson")
        .header("traceparent", format!("00-{TRACE_ID}-00f067aa0ba902b7-01"))
        .body(EXAMPLE.replace('\n', ""))
        .send()
        .await
        .expect("ingest answers");
    assert_eq!(response.status(), 200);

    // The processor logs the batch once it is stored and committed.
    let started = std::time::Instant::now();
    while !processor.log_text().contains("batch stored and committed") {
        assert!(started.elapsed() < Duration::from_secs(60), "the batch was not stored:\n{}", processor.log_text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ingest.terminate(Duration::from_secs(20)).await;
    processor.terminate(Duration::from_secs(20)).await;

    let lines = |log: String| -> Vec<serde_json::Value> {
        log.lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}")))
            .collect()
    };
    let ingest_lines = lines(ingest.log_text());
    let produced = ingest_lines
        .iter()
        .find(|line| line["message"] == "events produced to kafka")
        .unwrap_or_else(|| panic!("no line about producing the events: {ingest_lines:?}"));
    assert_eq!(produced["trace_id"], TRACE_ID, "{produced}");
    let processor_lines = lines(processor.log_text());
    let stored = processor_lines
        .iter()
        .find(|line| line["message"] == "batch stored and committed" && line["source"] == "portal")
        .unwrap_or_else(|| panic!("no line about storing the batch: {processor_lines:?}"));
    assert!(stored["trace_ids"].as_str().is_some_and(|ids| ids.contains(TRACE_ID)), "{stored}");
}

/// OTLP's span kinds (SPAN_KIND_SERVER, SPAN_KIND_CONSUMER).
const SERVER: u64 = 2;
const CONSUMER: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_follow_a_request_to_its_insert_in_an_opentelemetry_collector() {
    let collector = Collector::start().await;
    let (kafka, clickhouse) = fresh_stack("ts", "ioc_spans_").await;
    let _dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
    let keys = random_keys();
    // The processor's batch exporter sends every 200 ms; ingest's would wait ten minutes, so its
    // spans arrive only through the flush of a graceful shutdown, which is checked that way.
    let export = |delay_ms| {
        [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", delay_ms),
            ("RUST_LOG", "info"),
        ]
    };
    let mut processor = ServiceProcess::processor("processor-spans", &kafka, &clickhouse, &export("200")).await;
    let mut ingest = ServiceProcess::ingest("ingest-spans", &kafka, &keys, &export("600000")).await;

    // Three requests: one in the sender's sampled trace, one with no trace (ingest starts one),
    // one in a trace the sender chose not to sample (nothing may be exported for it).
    const UNSAMPLED: &str = "0af7651916cd43dd8448eb211c80319c";
    let event = |n: u32| EXAMPLE.replace('\n', "").replace("1a01", &format!("{n:04}"));
    let client = reqwest::Client::new();
    for (n, traceparent) in [
        (1, Some(format!("00-{TRACE_ID}-00f067aa0ba902b7-01"))),
        (2, None),
        (3, Some(format!("00-{UNSAMPLED}-b7ad6b7169203331-00"))),
    ] {
        let mut request = client
            .post(format!("{}/v1/sources/portal/events", ingest.url))
            .bearer_auth(&keys[&Source::Portal])
            .header("content-type", "application/x-ndjson")
            .body(event(n));
        if let Some(traceparent) = traceparent {
            request = request.header("traceparent", traceparent);
        }
        let response = request.send().await.expect("ingest answers");
        assert_eq!(response.status(), 200, "request {n}");
    }

    let inserts = |spans: &[ReceivedSpan]| spans.iter().filter(|s| s.service == "ioc-processor").count();
    let spans = collector.wait_for(Duration::from_secs(60), |spans| inserts(spans) >= 2).await;
    assert!(inserts(&spans) >= 2, "the processor's insert spans did not arrive: {spans:#?}");
    assert!(spans.iter().all(|s| s.service != "ioc-ingest"), "ingest sent spans before its shutdown: {spans:#?}");
    ingest.terminate(Duration::from_secs(20)).await;
    processor.terminate(Duration::from_secs(20)).await;
    let spans = collector
        .wait_for(Duration::from_secs(10), |spans| spans.iter().filter(|s| s.service == "ioc-ingest").count() >= 2)
        .await;

    let requests: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.service == "ioc-ingest").collect();
    let stores: Vec<&ReceivedSpan> = spans.iter().filter(|s| s.service == "ioc-processor").collect();
    assert_eq!(
        (requests.len(), stores.len()),
        (2, 2),
        "one request span and one insert span per sampled request: {spans:#?}"
    );
    assert!(spans.iter().all(|s| s.field("traceId") != UNSAMPLED), "the unsampled trace was exported: {spans:#?}");

    // The sender's trace: its span is the request span's parent.
    let request =
        requests.iter().find(|s| s.field("traceId") == TRACE_ID).expect("the request span of the sender's trace");
    assert_eq!(request.field("parentSpanId"), "00f067aa0ba902b7");
    // The request that came without a trace: ingest's span is the root of a new one.
    let root = requests.iter().find(|s| s.field("traceId") != TRACE_ID).expect("the request span of the new trace");
    assert_eq!(root.field("parentSpanId"), "", "{root:?}");
    for request in [request, root] {
        assert_eq!(request.field("name"), "POST /v1/sources/{source}/events");
        assert_eq!(request.span["kind"], SERVER);
        assert_eq!(request.attribute("ioc.source").and_then(|v| v["stringValue"].as_str()), Some("portal"));
        assert_eq!(request.attribute("ioc.events.accepted").and_then(|v| v["intValue"].as_str()), Some("1"));
        // Each request's insert span is a child of the request span, in the same trace, and
        // began after the request did.
        let store = stores
            .iter()
            .find(|s| s.field("parentSpanId") == request.field("spanId"))
            .unwrap_or_else(|| panic!("no insert span under {request:?}: {stores:#?}"));
        assert_eq!(store.field("traceId"), request.field("traceId"));
        assert_eq!(store.field("name"), "INSERT portal_events");
        assert_eq!(store.span["kind"], CONSUMER);
        assert_eq!(store.attribute("ioc.request.messages").and_then(|v| v["intValue"].as_str()), Some("1"));
        assert!(store.nanos("startTimeUnixNano") >= request.nanos("startTimeUnixNano"), "{store:?} {request:?}");
        assert!(store.nanos("endTimeUnixNano") >= store.nanos("startTimeUnixNano"));
    }
    // No personal data leaves with the spans: none of the event's identifiers or contents.
    let exported = serde_json::to_string(&spans.iter().map(|s| &s.span).collect::<Vec<_>>()).expect("json");
    for personal in ["025190001234", "0912345678", "H37.105-261005-0001", "1.001612"] {
        assert!(!exported.contains(personal), "{personal} was exported: {exported}");
    }
}
