//! SIGTERM: the processor stores and commits the batch it holds, then exits within its
//! deadline; after a restart nothing is consumed twice. Ingest exits within its deadline too.
//! A ClickHouse that takes the connection and answers nothing does not hold the processor past
//! its deadline: the batch it could not store is left for the next start. Nor does a dead
//! letter Kafka will not take: the message stays uncommitted and is dead-lettered after the
//! restart.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use ioc_domain::dead_letter_topic;
use ioc_e2e::process::ServiceProcess;
use ioc_e2e::relay::Relay;
use ioc_e2e::{fresh_stack, ingest_config, on_stop, random_keys, repo_root, spawn};
use ioc_reference::ReferenceData;
use ioc_simulator::{simulate, Faults, Scenario, Sender};
use rdkafka::admin::{AdminOptions, AlterConfig, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::consumer::Consumer;
use rdkafka::producer::FutureRecord;
use rdkafka::TopicPartitionList;

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
    let ingest_grace = grace_after_sigterm(Duration::from_millis(config.shutdown_deadline_ms));
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
    let exited = processor.terminate(grace_after_sigterm(Duration::from_secs(10))).await;
    assert!(exited, "processor still running {:?} after SIGTERM, when Kubernetes kills it", asked.elapsed());
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
    let took = asked.elapsed();
    assert!(took < ingest_grace, "ingest took {took:?} to stop; Kubernetes kills it at {ingest_grace:?}");
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
    let exited = processor.terminate(grace_after_sigterm(Duration::from_secs(3))).await;
    let took = asked.elapsed();
    let log = processor.log_text();
    assert!(exited, "processor still running {took:?} after SIGTERM, when Kubernetes kills it\n{log}");
    // Ended by the deadline, not by something else giving way: the pending batch was given up
    // (the line is logged only when the deadline ends the pipelines, lib.rs).
    assert!(log.contains("it will be consumed again"), "no batch was given up at the deadline:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_kafka_will_not_take_does_not_hold_the_shutdown_and_is_not_lost() {
    let stage = LettersRefused::set_up("sl").await;
    let mut processor = stage.processor("processor-letter-refused", &[]).await;
    // Valid portal events, then one that cannot be decoded.
    let valid = stage.valid_events(20);
    let mut payloads: Vec<Vec<u8>> = valid.iter().map(|e| serde_json::to_vec(e).expect("json")).collect();
    payloads.push(b"not an event".to_vec());
    let poison_offset = *stage.produce(&payloads).await.last().expect("offsets");
    stage.letter_refused(&processor).await;

    let asked = Instant::now();
    let exited = processor.terminate(grace_after_sigterm(Duration::from_secs(5))).await;
    let took = asked.elapsed();
    let log = processor.log_text();
    assert!(exited, "processor still running {took:?} after SIGTERM, when Kubernetes kills it\n{log}");
    assert!(log.contains(LETTER_GIVEN_UP), "the unwritten dead letter was not said:\n{log}");
    assert_eq!(
        stage.stored().await,
        valid.len() as u64,
        "the batch before the poison message was stored on the way out"
    );
    assert_eq!(stage.committed().await, poison_offset, "committed past an unwritten dead letter");

    // Kafka takes letters again: after the restart the poison message is dead-lettered and
    // committed, and nothing else is stored again.
    stage.allow_letters().await;
    let logged_before = processor.log_text().len();
    processor.restart().await;
    let dead = ioc_e2e::wait_for_metric(
        &processor.url,
        ioc_service::metric_names::PROCESSOR_DEAD_LETTERS,
        &[("source", "portal"), ("reason", "undecodable")],
        |dead| dead >= 1.0,
    )
    .await;
    assert_eq!(dead, 1.0, "the poison message was not dead-lettered after the restart");
    // Its batch (the letter alone) waits 60 s: a clean stop stores and commits it.
    assert!(processor.terminate(Duration::from_secs(20)).await, "processor did not exit by itself after SIGTERM");
    let log = processor.log_text().split_off(logged_before);
    assert!(!log.contains("too large to produce"), "the letter was cut after the topic was fixed:\n{log}");
    assert_eq!(stage.committed().await, poison_offset + 1, "the dead letter's offset was not committed");
    let letters_stored: u64 = stage
        .clickhouse
        .client()
        .query("SELECT toUInt64(count()) FROM dead_letters WHERE source = 'portal' AND kafka_offset = ?")
        .bind(poison_offset)
        .fetch_one()
        .await
        .expect("dead letters");
    assert_eq!(letters_stored, 1, "the dead letter's position was not stored with its batch");
    assert_eq!(stage.stored().await, valid.len() as u64, "events stored twice");
    stage.clean_up().await;
}

/// How long a process may take after SIGTERM in these tests: what the chart leaves it before
/// Kubernetes kills the pod, less what these processes do not spend. The grace period is the
/// shutdown deadline plus 15 s (charts/ioc/templates/_helpers.tpl, `ioc.terminationGrace`): the
/// preStop pause spends 5 s of it before SIGTERM is sent, and the span export's last send may
/// take 5 more after the deadline; these processes export no spans. How far past its own
/// deadline the exit goes (the runtime's 1 s for blocking work, librdkafka closing) is not
/// asserted to the second: on a loaded 2-core CI machine it once took 1.7 s after the
/// deadline's log line.
fn grace_after_sigterm(deadline: Duration) -> Duration {
    deadline + Duration::from_secs(5)
}

/// What the processor logs when it stops before a message's dead letter is written.
const LETTER_GIVEN_UP: &str = "stopping before the message's dead letter was written";

/// A database, topics whose dead-letter topic refuses every letter (its messages may hold 64
/// bytes: less than a letter's headers alone), and a processor group of their own.
struct LettersRefused {
    kafka: ioc_kafka::KafkaConfig,
    clickhouse: ioc_clickhouse::ClickHouseConfig,
    group_prefix: String,
    topic: String,
    letters: String,
    _dropped: ioc_e2e::DropDatabase,
}

impl LettersRefused {
    async fn set_up(name: &str) -> LettersRefused {
        let (kafka, clickhouse) = fresh_stack(name, "ioc_shutdown_letter_").await;
        let _dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
        let letters = dead_letter_topic(&kafka.topic_prefix);
        let refusing = NewTopic::new(&letters, 1, TopicReplication::Fixed(1)).set("max.message.bytes", "64");
        let admin = kafka.admin().expect("admin");
        for result in admin.create_topics(&[refusing], &admin_options()).await.expect("create the dead-letter topic") {
            result.expect("dead-letter topic created");
        }
        let topic = ioc_domain::Source::Portal.topic(&kafka.topic_prefix);
        LettersRefused { kafka, clickhouse, group_prefix: ioc_e2e::random_name("g"), topic, letters, _dropped }
    }

    /// A processor whose batches wait 60 s unless full, with a 5 s shutdown deadline.
    async fn processor(&self, name: &str, more: &[(&str, &str)]) -> ServiceProcess {
        let mut extra = vec![
            ("IOC_PROCESSOR__BATCH_MAX_WAIT_MS", "60000"),
            ("IOC_PROCESSOR__BATCH_LIVE_WAIT_MS", "60000"),
            ("IOC_PROCESSOR__ROLLUP_INTERVAL_MS", "60000"),
            ("IOC_PROCESSOR__SHUTDOWN_DEADLINE_MS", "5000"),
            ("IOC_PROCESSOR__GROUP_PREFIX", self.group_prefix.as_str()),
        ];
        extra.extend_from_slice(more);
        ServiceProcess::processor(name, &self.kafka, &self.clickhouse, &extra).await
    }

    /// `count` simulated portal events, pseudonymised.
    fn valid_events(&self, count: usize) -> Vec<ioc_domain::Event> {
        let reference = ReferenceData::load(&repo_root().join("schemas/reference")).expect("reference");
        let scenario = Scenario { start: NaiveDate::from_ymd_opt(2026, 9, 1).expect("date"), days: 1, scale: 0.01 };
        let run = simulate(79, &scenario, Faults::default(), 200, &reference);
        let events: Vec<ioc_domain::Event> = run
            .events
            .iter()
            .filter(|e| e.source == ioc_domain::Source::Portal)
            .take(count)
            .map(|e| {
                let mut event = e.clone();
                event.pseudonymise(|_| "0".repeat(64));
                event
            })
            .collect();
        assert_eq!(events.len(), count, "the simulated day has {count} portal events");
        events
    }

    /// Produces `payloads` to partition 0 of the portal topic without ingest; their offsets.
    async fn produce(&self, payloads: &[Vec<u8>]) -> Vec<i64> {
        ioc_e2e::produce_together(&self.kafka, &self.topic, payloads).await
    }

    /// Waits until the processor retried a refused dead letter.
    async fn letter_refused(&self, processor: &ServiceProcess) {
        let failures = ioc_e2e::wait_for_metric(
            &processor.url,
            "ioc_processor_dead_letter_failures_total",
            &[("source", "portal")],
            |failed| failed >= 2.0,
        )
        .await;
        assert!(failures >= 2.0, "the dead letter was not refused and retried ({failures} failed attempts)");
    }

    /// Lets the dead-letter topic take letters, and waits until the broker applies it (it
    /// applies a topic's new settings a moment after it answered): until it takes a message
    /// longer than a letter's headers.
    async fn allow_letters(&self) {
        let config = AlterConfig::new(ResourceSpecifier::Topic(&self.letters)).set("max.message.bytes", "1048588");
        let admin = self.kafka.admin().expect("admin");
        for result in admin.alter_configs(&[config], &admin_options()).await.expect("alter the dead-letter topic") {
            result.expect("dead-letter topic altered");
        }
        let producer = self.kafka.producer().expect("producer");
        let probe = vec![b'x'; 2048];
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Err((error, _)) =
            producer.send(FutureRecord::<str, [u8]>::to(&self.letters).payload(&probe), Duration::from_secs(10)).await
        {
            assert!(Instant::now() < deadline, "the dead-letter topic still refuses 2 KiB: {error}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn stored(&self) -> u64 {
        let sql = "SELECT toUInt64(count()) FROM portal_events";
        self.clickhouse.client().query(sql).fetch_one().await.expect("count")
    }

    /// The offset the processor's portal group committed on partition 0 (-1 when none).
    async fn committed(&self) -> i64 {
        let consumer = self.kafka.consumer(&format!("{}.portal", self.group_prefix)).expect("consumer");
        let mut wanted = TopicPartitionList::new();
        wanted.add_partition(&self.topic, 0);
        let list = tokio::task::spawn_blocking(move || consumer.committed_offsets(wanted, Duration::from_secs(10)))
            .await
            .expect("join")
            .expect("committed offsets");
        list.elements().first().and_then(|element| element.offset().to_raw()).unwrap_or(-1)
    }

    async fn clean_up(self) {
        ioc_e2e::topics::clean_up_topics_of(&self.kafka).await;
    }
}

fn admin_options() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)))
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
