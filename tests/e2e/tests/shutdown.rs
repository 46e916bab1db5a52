//! SIGTERM: the processor stores and commits the batch it holds, then exits within its
//! deadline; after a restart nothing is consumed twice. Ingest exits within its deadline too.
//! A ClickHouse that takes the connection and answers nothing does not hold the processor past
//! its deadline: the batch it could not store is left for the next start.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use ioc_e2e::process::ServiceProcess;
use ioc_e2e::relay::Relay;
use ioc_e2e::{fresh_stack, ingest_config, on_stop, random_keys, repo_root, spawn};
use ioc_reference::ReferenceData;
use ioc_simulator::{simulate, Faults, Scenario, Sender};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stores_and_commits_the_pending_batch_then_exits_in_time() {
    ioc_service::init_logging();
    let (kafka, clickhouse) = fresh_stack("sd", "ioc_shutdown_").await;
    // The deadline bounds the whole shutdown (the batch, then the rollup's last round); 10 s
    // leaves a slow debug build room for both. That one deadline bounds both is the next test's.
    let mut processor = holding_a_batch("processor-sigterm", &kafka, &clickhouse, "10000").await;

    let keys = random_keys();
    let mut config = ingest_config(&kafka, &keys);
    config.shutdown_deadline_ms = 3_000;
    let ingest = spawn(|listener, stopped| ioc_ingest::serve(config, listener, on_stop(stopped))).await;
    let reference = ReferenceData::load(&repo_root().join("schemas/reference")).expect("reference");
    let scenario = Scenario { start: NaiveDate::from_ymd_opt(2026, 9, 1).expect("date"), days: 2, scale: 0.01 };
    let run = simulate(77, &scenario, Faults::default(), 200, &reference);
    Sender::new(&ingest.url, keys).send_all(&run.batches).await.expect("sent");

    let count = |sql: &'static str| {
        let client = clickhouse.client();
        async move { client.query(sql).fetch_one::<u64>().await.expect("count") }
    };
    let stored =
        "SELECT toUInt64(assumeNotNull((SELECT count() FROM portal_events) + (SELECT count() FROM edoc_events) \
                  + (SELECT count() FROM training_events)))";
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(count(stored).await, 0, "the batch should still be pending (batch_max_wait_ms is 60 s)");

    let asked = Instant::now();
    assert!(processor.terminate(Duration::from_secs(20)).await, "processor did not exit by itself after SIGTERM");
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(11), "processor took {took:?} to stop; its deadline is 10 s");
    assert_eq!(count(stored).await, run.events.len() as u64, "the pending batch was stored on the way out");
    // And taken into the rollups on the way out: the last round runs after the last batches
    // are stored (rollup/mod.rs), so no row is dated at or after the progress it recorded.
    for source in ioc_domain::Source::ALL {
        let sql = format!(
            "SELECT toUInt64(countIf(inserted_at >= (SELECT max(covered_until) FROM rollup_state WHERE source = '{source}'))) \
             FROM {}",
            source.events_table()
        );
        let left: u64 = clickhouse.client().query(&sql).fetch_one().await.expect("rows past the progress");
        assert_eq!(left, 0, "{source}: rows stored on the way out that no rollup cycle took in");
    }

    // Committed too: a new processor in the same group finds nothing to consume again. Rows a
    // redelivery would write carry a later inserted_at, which survives ReplacingMergeTree merges.
    // inserted_at has one-second resolution, and a flush may be dated a second ahead (when a
    // rollup cycle claimed the second it began in: rollup/in_flight.rs): let both pass first.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let restarted_at: u32 = clickhouse.client().query("SELECT toUInt32(now())").fetch_one().await.expect("now");
    processor.restart().await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let rewritten: u64 = clickhouse
        .client()
        .query(
            "SELECT toUInt64(assumeNotNull((SELECT count() FROM portal_events WHERE inserted_at >= toDateTime(?)) \
             + (SELECT count() FROM edoc_events WHERE inserted_at >= toDateTime(?)) \
             + (SELECT count() FROM training_events WHERE inserted_at >= toDateTime(?))))",
        )
        .bind(restarted_at)
        .bind(restarted_at)
        .bind(restarted_at)
        .fetch_one()
        .await
        .expect("count");
    assert_eq!(rewritten, 0, "events consumed again after a clean stop");
    processor.kill();

    let asked = Instant::now();
    ingest.stop().await.expect("ingest stops cleanly");
    assert!(asked.elapsed() < Duration::from_secs(10), "ingest took {:?} to stop", asked.elapsed());
    clickhouse.server_client().query(&format!("DROP DATABASE {}", clickhouse.database)).execute().await.ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clickhouse_that_answers_nothing_does_not_hold_the_shutdown_past_its_deadline() {
    let (kafka, clickhouse) = fresh_stack("sh", "ioc_shutdown_hung_").await;
    let _dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
    let node: std::net::SocketAddr =
        clickhouse.url.trim_start_matches("http://").parse().expect("the test's ClickHouse is host:port");
    let relay = Relay::start(node).await;
    let relayed = ioc_clickhouse::ClickHouseConfig { url: relay.url.clone(), ..clickhouse.clone() };
    // One batch pending when the node falls silent, as in the test above. Its insert then hangs
    // (it never fails, so no retry asks for the deadline) and so would the rollup's last round:
    // the deadline counted from SIGTERM must end both.
    let mut processor = holding_a_batch("processor-hung-clickhouse", &kafka, &relayed, "3000").await;
    let keys = random_keys();
    let mut ingest = ServiceProcess::ingest("ingest-hung-clickhouse", &kafka, &keys, &[]).await;
    let reference = ReferenceData::load(&repo_root().join("schemas/reference")).expect("reference");
    let scenario = Scenario { start: NaiveDate::from_ymd_opt(2026, 9, 1).expect("date"), days: 1, scale: 0.01 };
    let run = simulate(78, &scenario, Faults::default(), 200, &reference);
    Sender::new(&ingest.url, keys).send_all(&run.batches).await.expect("sent");
    ingest.terminate(Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    relay.silence();

    let asked = Instant::now();
    assert!(processor.terminate(Duration::from_secs(20)).await, "processor did not exit by itself after SIGTERM");
    let took = asked.elapsed();
    let log = processor.log_text();
    assert!(took < Duration::from_secs(4), "processor took {took:?} to stop; its deadline is 3 s\n{log}");
    // Not a shutdown with nothing to store: the batch was pending and was given up.
    assert!(log.contains("it will be consumed again"), "no batch was given up at the deadline:\n{log}");
}

/// A processor whose batches wait long, live traffic too, so SIGTERM finds one pending; its
/// rollup rounds too, so only the last one, after the pending batch is stored, can take it in.
/// It stops within `deadline_ms` of SIGTERM.
async fn holding_a_batch(
    name: &str,
    kafka: &ioc_kafka::KafkaConfig,
    clickhouse: &ioc_clickhouse::ClickHouseConfig,
    deadline_ms: &str,
) -> ServiceProcess {
    let extra = [
        ("IOC_PROCESSOR__BATCH_MAX_WAIT_MS", "60000"),
        ("IOC_PROCESSOR__BATCH_LIVE_WAIT_MS", "60000"),
        ("IOC_PROCESSOR__ROLLUP_INTERVAL_MS", "60000"),
        ("IOC_PROCESSOR__SHUTDOWN_DEADLINE_MS", deadline_ms),
    ];
    ServiceProcess::processor(name, kafka, clickhouse, &extra).await
}
