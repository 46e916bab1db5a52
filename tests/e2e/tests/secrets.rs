//! Secrets and personal data never reach logs or metrics: ingest runs as a process at debug log
//! level with JSON logs, takes good, bad and unauthorised requests, and its log and /metrics are searched for
//! the clear bearer key, the pseudonymisation key and the citizen's clear identifiers.

use std::collections::BTreeMap;

use ioc_domain::Source;
use ioc_e2e::process::{binary, free_port, ingest_env, ServiceProcess};
use ioc_e2e::{kafka_brokers, random_name};
use serde_json::{json, Value};

const EXAMPLE: &str = include_str!("../../../schemas/events/examples/valid/dossier.received.json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_clear_identifier_in_logs_or_metrics() {
    let bearer = format!("portal-secret-{}", uuid::Uuid::new_v4().simple());
    let pseudonymisation_key = format!("hmac-secret-{}", uuid::Uuid::new_v4().simple());
    let port = free_port();
    let prefix = random_name("s");
    let kafka = ioc_kafka::KafkaConfig { brokers: kafka_brokers(), topic_prefix: prefix.clone(), ..Default::default() };
    kafka.ensure_topics(&[Source::Portal.topic(&prefix)]).await.expect("topic");
    let keys: BTreeMap<Source, String> = Source::ALL
        .iter()
        .map(|s| (*s, if *s == Source::Portal { bearer.clone() } else { format!("{s}-other") }))
        .collect();
    let env = ingest_env(
        &kafka,
        &keys,
        port,
        // JSON logs carry every field of every event (trace ids included), so none is left out.
        &[
            ("IOC_INGEST__PSEUDONYMISATION_KEY", &pseudonymisation_key),
            ("RUST_LOG", "debug"),
            ("IOC_LOG_FORMAT", "json"),
        ],
    );
    let mut ingest = ServiceProcess::start("ingest-secrets", binary("ioc-ingest"), port, env).await;

    let event: Value = serde_json::from_str(EXAMPLE).expect("example");
    let mut malformed = event.clone();
    malformed["applicant_id"] = json!("0251900012"); // ten digits: refused, and must not be logged
    malformed["event_id"] = json!("7f1c2a8e-5b3d-4c1e-9a0f-2d6b8e4c1a09");
    let client = reqwest::Client::new();
    let url = format!("{}/v1/sources/portal/events", ingest.url);
    for (key, body) in [
        (bearer.as_str(), format!("{event}\n{malformed}\n")),
        ("a-wrong-key-that-must-not-be-logged", format!("{event}\n")),
        (bearer.as_str(), "{not json".to_owned()),
    ] {
        client
            .post(&url)
            .bearer_auth(key)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .expect("sent");
    }
    let metrics =
        client.get(format!("{}/metrics", ingest.url)).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("ioc_ingest_events_total"), "metrics served");
    ingest.terminate(std::time::Duration::from_secs(20)).await;
    let log = ingest.log_text();
    assert!(log.len() > 200, "the debug log is too short to mean anything: {log}");
    for secret in [
        bearer.as_str(),
        pseudonymisation_key.as_str(),
        "a-wrong-key-that-must-not-be-logged",
        "025190001234",
        "0251900012",
        "0912345678",
    ] {
        assert!(!log.contains(secret), "{secret} found in the log");
        assert!(!metrics.contains(secret), "{secret} found in /metrics");
    }
}
