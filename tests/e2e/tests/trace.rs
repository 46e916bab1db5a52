//! One batch followed through the logs: ingest and the processor run as processes with JSON
//! logs (`IOC_LOG_FORMAT=json`); a request carries a W3C `traceparent`, and its trace id must
//! show in ingest's line about producing the events and in the processor's line about storing
//! the batch that holds them. Every log line must be a JSON object.

use std::time::Duration;

use ioc_domain::Source;
use ioc_e2e::process::{binary, free_port, ingest_env, processor_env, ServiceProcess};
use ioc_e2e::{fresh_stack, random_keys};

const EXAMPLE: &str = include_str!("../../../schemas/events/examples/valid/dossier.received.json");
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_followed_by_its_trace_id_from_the_request_to_the_insert() {
    let (kafka, clickhouse) = fresh_stack("tr", "ioc_trace_").await;
    let keys = random_keys();
    let logging = [("IOC_LOG_FORMAT", "json"), ("RUST_LOG", "info,ioc_ingest=debug,ioc_processor=debug")];
    let (ingest_port, processor_port) = (free_port(), free_port());
    let mut processor = ServiceProcess::start(
        "processor-trace",
        binary("ioc-processor"),
        processor_port,
        processor_env(&kafka, &clickhouse, processor_port, &logging),
    )
    .await;
    let mut ingest = ServiceProcess::start(
        "ingest-trace",
        binary("ioc-ingest"),
        ingest_port,
        ingest_env(&kafka, &keys, ingest_port, &logging),
    )
    .await;

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
