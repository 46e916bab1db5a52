//! When the processor writes a batch: ingest and the processor as processes against the local
//! Kafka and ClickHouse.
//!
//! - Live traffic (a batch that gathers less than a tenth of `batch_max_rows` within the live
//!   wait) is stored after the live wait of 200 ms, not the batch wait of two minutes: the first
//!   event sent, and again a later one (a new batch, after the first was stored).
//! - Traffic faster than that (3,000 events a second) fills whole batches, and the last one is
//!   written once nothing more came during a live wait. The load sends a request every 100 ms,
//!   so the live wait there is five of its ticks: a late tick must not look like the end.
//! - A backlog (events acknowledged before the processor started) fills whole batches, and its
//!   last one is written as soon as its three partitions have nothing more, not after live
//!   waits of a minute, nor when the first of them has nothing more.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use ioc_domain::Source;
use ioc_e2e::process::ServiceProcess;
use ioc_e2e::{fresh_stack, random_keys, repo_root};
use ioc_reference::ReferenceData;
use ioc_simulator::{simulate, Faults, Scenario, Sender};
use rand::SeedableRng;

const EXAMPLE: &str = include_str!("../../../schemas/events/examples/valid/dossier.received.json");

/// What the processor's batches wait at most: far beyond the test's patience, so a batch stored
/// within it was closed by the live wait.
const MAX_WAIT_MS: &str = "120000";
const PATIENCE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_events_are_stored_after_the_live_wait_not_the_batch_wait() {
    let (kafka, clickhouse) = fresh_stack("bw", "ioc_batching_").await;
    let _dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
    let keys = random_keys();
    let mut processor = ServiceProcess::processor(
        "processor-batching",
        &kafka,
        &clickhouse,
        &[
            ("IOC_PROCESSOR__BATCH_MAX_WAIT_MS", MAX_WAIT_MS),
            ("IOC_PROCESSOR__BATCH_LIVE_WAIT_MS", "200"),
            ("IOC_PROCESSOR__ROLLUP_ENABLED", "false"),
        ],
    )
    .await;
    let mut ingest = ServiceProcess::ingest("ingest-batching", &kafka, &keys, &[]).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_faster_than_live_still_fills_whole_batches() {
    const BATCH_ROWS: usize = 2_500;
    let (kafka, clickhouse) = fresh_stack("bb", "ioc_backlog_").await;
    let _dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
    let keys = random_keys();
    // Batches of 2,500 rows, a live wait of 500 ms: a source sending more than 250 events in
    // that time (500 a second) is not live traffic, and its batches must fill; once the load
    // stops, the last batch is written after a live wait without news, not after the batch wait
    // of two minutes (the wait for every portal event to be stored is shorter).
    // The load sends every 100 ms. A live wait of one tick cut batches whenever a request came a
    // few milliseconds late (24 batches for 14 in one CI run); five ticks held with three
    // busy loops taking the CPU. They bring about 900 portal events on average, fewer than a
    // batch: a processor that wrote at every look writes more than twice the batches (22 for
    // 10), and fails below.
    let mut processor = batching_processor("processor-backlog", &kafka, &clickhouse, BATCH_ROWS, "500").await;
    let mut ingest = ServiceProcess::ingest("ingest-backlog", &kafka, &keys, &ONE_EVENT_PER_MESSAGE).await;
    let reference = ReferenceData::load(&repo_root().join("schemas/reference")).expect("reference");
    let scenario = Scenario { start: NaiveDate::from_ymd_opt(2026, 9, 1).expect("date"), days: 10, scale: 0.1 };
    let (events, _) =
        ioc_simulator::generate::generate(&scenario, &reference, &mut rand_chacha::ChaCha8Rng::seed_from_u64(41));
    let portal = events.iter().filter(|event| event.source == Source::Portal).count();
    // 3,000 events a second, the portal's share (three in five on average; the simulated go-live
    // backlog at the start is all portal) well above 500 a second. The load stops once every
    // event is acknowledged; the requests still in flight then send a few events again.
    let (load, counts) = ioc_e2e::bench::steady::start(&ingest.url, keys, events.clone(), 3_000);
    let started = Instant::now();
    while counts.accepted.load(std::sync::atomic::Ordering::Relaxed) < events.len() {
        assert!(started.elapsed() < PATIENCE, "ingest did not take the {} events", events.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    load.abort();
    stored(&clickhouse, portal as u64).await;
    // The batches hold messages, and the requests in flight when the load stopped sent some
    // events again: count what the topic holds once ingest has answered them all, and wait for
    // the batches of every message (the last ones, copies among them, come after the events
    // are stored).
    ingest.terminate(Duration::from_secs(20)).await;
    let messages = portal_messages(&kafka);
    assert!(messages >= portal, "the portal topic holds {messages} messages for {portal} events");
    let batches = portal_batches(&processor.url, messages).await;
    processor.terminate(Duration::from_secs(20)).await;

    let fewest = messages.div_ceil(BATCH_ROWS);
    eprintln!(
        "{messages} portal messages ({portal} events of {}) in {batches} batches (at least {fewest})",
        events.len()
    );
    assert!(fewest >= 8, "too few portal events to tell: {portal}");
    // Whole batches but the last few (the load's start and end).
    assert!(batches <= fewest + 3, "{batches} batches for {messages} messages that fill {fewest}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_s_last_batch_is_written_when_its_partitions_are_drained() {
    const BATCH_ROWS: usize = 1_000;
    let (mut kafka, clickhouse) = fresh_stack("be", "ioc_backlog_end_").await;
    let _dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
    // Three partitions per topic, drained side by side: the first to reach its end must not
    // write the batch while the others still hold the backlog's rest.
    kafka.partitions = 3;
    let topics: Vec<String> = Source::ALL.iter().map(|source| source.topic(&kafka.topic_prefix)).collect();
    kafka.ensure_topics(&topics).await.expect("topics");
    let keys = random_keys();
    let mut ingest = ServiceProcess::ingest("ingest-backlog-end", &kafka, &keys, &ONE_EVENT_PER_MESSAGE).await;
    let reference = ReferenceData::load(&repo_root().join("schemas/reference")).expect("reference");
    let scenario = Scenario { start: NaiveDate::from_ymd_opt(2026, 9, 1).expect("date"), days: 2, scale: 0.1 };
    let run = simulate(43, &scenario, Faults::default(), 500, &reference);
    Sender::new(&ingest.url, keys).send_all(&run.batches).await.expect("the backlog is acknowledged");
    ingest.terminate(Duration::from_secs(20)).await;
    // A backlog is what waited in Kafka: every event at least a second and a half old by the
    // time the processor reads it (the processor's BEHIND is a second).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let portal = run.events.iter().filter(|event| event.source == Source::Portal).count();
    // The batches hold messages, and a request ingest answered late is sent again: count what
    // the topic holds.
    let messages = portal_messages(&kafka);
    assert!(messages >= portal, "the portal topic holds {messages} messages for {portal} events");
    let remainder = messages % BATCH_ROWS;
    assert!(
        remainder >= BATCH_ROWS / 10,
        "the backlog's last batch ({remainder} of {messages} portal messages) must be backlog-sized; change the seed"
    );

    // A live wait of a minute and a batch wait of two: without the partitions' ends, the last
    // batch would wait two live waits, beyond the test's patience.
    let mut processor = batching_processor("processor-backlog-end", &kafka, &clickhouse, BATCH_ROWS, "60000").await;
    let waited = stored(&clickhouse, portal as u64).await;
    eprintln!("{portal} portal events stored {waited:?} after the processor was ready");
    // Every event is stored; a request sent again (answered late under load) put a second copy
    // of its events in the topic, which may come in a batch after that: wait for every message.
    let batches = portal_batches(&processor.url, messages).await;
    processor.terminate(Duration::from_secs(20)).await;
    assert_eq!(batches, messages.div_ceil(BATCH_ROWS), "whole batches of {BATCH_ROWS}, then the remainder");
}

/// Ingest writing each event as a message of its own (its default, said here whatever the
/// default becomes), for the tests that count a batch's rows against the topic's messages: a
/// batch closes after a whole message, so with several events per message it holds up to one
/// message's events more than `batch_max_rows`, and the counts of whole batches below would not
/// hold.
const ONE_EVENT_PER_MESSAGE: [(&str, &str); 1] = [("IOC_INGEST__MAX_EVENTS_PER_MESSAGE", "1")];

/// The messages the portal topic holds, over its partitions: what the processor batches.
fn portal_messages(kafka: &ioc_kafka::KafkaConfig) -> usize {
    let topic = Source::Portal.topic(&kafka.topic_prefix);
    usize::try_from(ioc_e2e::bench::ingest::messages_in(kafka, &[topic]).expect("watermarks")).expect("a count")
}

/// The portal's label on the processor's metrics.
const PORTAL: [(&str, &str); 1] = [("source", "portal")];

/// The portal batches the processor at `url` wrote, from its metrics, once they hold `messages`
/// rows: the processor counts a batch after ClickHouse acknowledged it, so its rows can be seen
/// in the table a moment before the count includes it.
async fn portal_batches(url: &str, messages: usize) -> usize {
    let started = Instant::now();
    loop {
        let written = ioc_e2e::metric(url, "ioc_processor_batch_rows_sum", &PORTAL).await;
        if written.unwrap_or(0.0) >= messages as f64 {
            break;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "{written:?} of the {messages} portal messages written after {PATIENCE:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let batches = ioc_e2e::metric(url, "ioc_processor_batch_rows_count", &PORTAL).await;
    batches.expect("the processor counts its portal batches") as usize
}

/// A processor, rollups off, writing batches of `batch_rows` rows with a live wait of
/// `live_wait_ms` and the batch wait of [`MAX_WAIT_MS`]; ready when this returns.
async fn batching_processor(
    name: &str,
    kafka: &ioc_kafka::KafkaConfig,
    clickhouse: &ioc_clickhouse::ClickHouseConfig,
    batch_rows: usize,
    live_wait_ms: &str,
) -> ServiceProcess {
    let rows = batch_rows.to_string();
    ServiceProcess::processor(
        name,
        kafka,
        clickhouse,
        &[
            ("IOC_PROCESSOR__BATCH_MAX_ROWS", rows.as_str()),
            ("IOC_PROCESSOR__BATCH_MAX_WAIT_MS", MAX_WAIT_MS),
            ("IOC_PROCESSOR__BATCH_LIVE_WAIT_MS", live_wait_ms),
            ("IOC_PROCESSOR__ROLLUP_ENABLED", "false"),
        ],
    )
    .await
}
