//! Kafka as production runs it: SCRAM-SHA-512 over TLS (the local stack's second listener,
//! ops/dev). The services' security settings reach librdkafka and the whole pipeline works
//! through them; a wrong password or an untrusted certificate makes ingest not ready, saying why.

use std::time::Duration;

use chrono::NaiveDate;
use ioc_e2e::{random_name, repo_root, secure_kafka, Pipeline};
use ioc_reference::ReferenceData;
use ioc_service::Secret;
use ioc_simulator::{simulate, Faults, Scenario, Sender};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pipeline_runs_over_scram_and_tls() {
    let pipeline = Pipeline::start_with_kafka(secure_kafka(random_name("t"))).await;
    let reference = ReferenceData::load(&repo_root().join("schemas/reference")).expect("reference data");
    let scenario = Scenario { start: NaiveDate::from_ymd_opt(2026, 10, 12).expect("date"), days: 2, scale: 0.01 };
    let run = simulate(20261012, &scenario, Faults::default(), 250, &reference);
    let sender = Sender::new(&pipeline.ingest.url, pipeline.keys.clone());
    sender.send_all(&run.batches).await.expect("ingest acknowledges every batch over SASL_SSL");
    pipeline.wait_for_events(run.events.len() as u64, Duration::from_secs(120)).await;
    let differences = ioc_e2e::indicator_differences(&pipeline.api.url, &run.truth).await;
    assert!(differences.is_empty(), "indicators differ:\n{}", differences.join("\n"));
    pipeline.stop().await;
}

/// `/readyz` of an ingest using `kafka`, once it has had time to try.
async fn ingest_readiness(kafka: ioc_kafka::KafkaConfig) -> (u16, String) {
    let config = ioc_e2e::ingest_config(&kafka, &ioc_e2e::random_keys());
    let ingest =
        ioc_e2e::spawn(|listener, stopped| ioc_ingest::serve(config, listener, ioc_e2e::on_stop(stopped))).await;
    let client = reqwest::Client::new();
    // Readiness asks the brokers each time; give librdkafka a few attempts.
    let mut answer = (0, String::new());
    for _ in 0..3 {
        let response = client.get(format!("{}/readyz", ingest.url)).send().await.expect("ingest answers");
        answer = (response.status().as_u16(), response.text().await.unwrap_or_default());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    ingest.stop().await.expect("ingest stops");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_or_an_untrusted_broker_is_not_ready() {
    let good = secure_kafka(random_name("t"));
    assert_eq!(ingest_readiness(good.clone()).await.0, 200, "the right settings are ready");

    let wrong_password = ioc_kafka::KafkaConfig { sasl_password: Secret::new("not-the-password"), ..good.clone() };
    let (status, body) = ingest_readiness(wrong_password).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("kafka"), "the reason names Kafka: {body}");

    // Without the local CA, the broker's certificate is not trusted (the system store does not
    // know it).
    let untrusted = ioc_kafka::KafkaConfig { ssl_ca_location: None, ..good };
    let (status, body) = ingest_readiness(untrusted).await;
    assert_eq!(status, 503, "{body}");
}
