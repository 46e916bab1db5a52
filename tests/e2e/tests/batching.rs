//! When the processor writes a batch of live traffic: ingest and the processor as processes
//! against the local Kafka and ClickHouse, with a batch wait of two minutes and a caught-up wait
//! of 200 ms. Once the consumer has read everything its partitions held, each batch must be
//! stored after the short wait, not the long one: the first event sent, and again a later one
//! (a new batch, after the first was stored).

use std::time::{Duration, Instant};

use ioc_domain::Source;
use ioc_e2e::process::{binary, free_port, ingest_env, processor_env, ServiceProcess};
use ioc_e2e::{fresh_stack, random_keys};

const EXAMPLE: &str = include_str!("../../../schemas/events/examples/valid/dossier.received.json");

/// What the processor's batches would wait without the partition's end: far beyond the test's
/// patience, so a batch stored within it was closed by the caught-up wait.
const MAX_WAIT_MS: &str = "120000";
const PATIENCE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_are_stored_after_the_caught_up_wait_not_the_batch_wait() {
    let (kafka, clickhouse) = fresh_stack("bw", "ioc_batching_").await;
    let keys = random_keys();
    let (ingest_port, processor_port) = (free_port(), free_port());
    let mut processor = ServiceProcess::start(
        "processor-batching",
        binary("ioc-processor"),
        processor_port,
        processor_env(
            &kafka,
            &clickhouse,
            processor_port,
            &[
                ("IOC_PROCESSOR__BATCH_MAX_WAIT_MS", MAX_WAIT_MS),
                ("IOC_PROCESSOR__BATCH_CAUGHT_UP_WAIT_MS", "200"),
                ("IOC_PROCESSOR__ROLLUP_ENABLED", "false"),
            ],
        ),
    )
    .await;
    let mut ingest = ServiceProcess::start(
        "ingest-batching",
        binary("ioc-ingest"),
        ingest_port,
        ingest_env(&kafka, &keys, ingest_port, &[]),
    )
    .await;
    let client = reqwest::Client::new();
    for n in 1..=2_u64 {
        let event = EXAMPLE.replace('\n', "").replace("1a01", &format!("{n:04}"));
        let response = client
            .post(format!("{}/v1/sources/portal/events", ingest.url))
            .bearer_auth(&keys[&Source::Portal])
            .header("content-type", "application/x-ndjson")
            .body(event)
            .send()
            .await
            .expect("ingest answers");
        assert_eq!(response.status(), 200, "event {n}");
        let waited = stored(&clickhouse, n).await;
        eprintln!("event {n} stored {waited:?} after ingest acknowledged it");
    }
    ingest.terminate(Duration::from_secs(20)).await;
    processor.terminate(Duration::from_secs(20)).await;
}

/// Waits until `n` portal events are stored (panics after [`PATIENCE`]); how long it took.
async fn stored(clickhouse: &ioc_clickhouse::ClickHouseConfig, n: u64) -> Duration {
    let sql = format!("SELECT toUInt64(uniqExact(event_id)) FROM {}", Source::Portal.events_table());
    let client = clickhouse.client();
    let started = Instant::now();
    loop {
        let count: u64 = client.query(&sql).fetch_one().await.expect("count");
        if count >= n {
            return started.elapsed();
        }
        assert!(started.elapsed() < PATIENCE, "{n} events not stored after {PATIENCE:?}: {count} are");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
