//! ioc-processor against real Kafka and ClickHouse: poison messages go to the dead-letter
//! topic with their provenance and do not block the topic; migrations apply once.

use std::collections::BTreeSet;
use std::time::Duration;

use ioc_clickhouse::ClickHouseConfig;
use ioc_domain::{dead_letter_topic, Source};
use ioc_e2e::topic_reader::{first_messages, header};
use ioc_e2e::{on_stop, post_ndjson, random_name, spawn, Pipeline};
use ioc_kafka::{hold_fetching, KafkaConfig, PartitionEndsContext};
use ioc_processor::dead_letter::header as names;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::OwnedMessage;
use rdkafka::producer::FutureRecord;
use rdkafka::{Message, Offset, TopicPartitionList};

const EXAMPLE: &str = include_str!("../../../schemas/events/examples/valid/dossier.received.json");

/// Sends the example dossier event through ingest and waits until it is stored.
async fn send_example_and_wait(pipeline: &Pipeline) {
    let response =
        post_ndjson(&pipeline.ingest.url, Source::Portal, &pipeline.keys[&Source::Portal], EXAMPLE.replace('\n', ""))
            .await;
    assert_eq!(response.status(), 200);
    pipeline.wait_for_events(1, Duration::from_secs(60)).await;
}

/// The first `count` messages of the pipeline's dead-letter topic, each within 30 s.
async fn dead_letters(pipeline: &Pipeline, count: usize) -> Vec<OwnedMessage> {
    first_messages(&pipeline.kafka, &dead_letter_topic(&pipeline.kafka.topic_prefix), count).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_dead_lettered_and_the_events_behind_it_are_stored() {
    let pipeline = Pipeline::start().await;
    let topic = Source::Portal.topic(&pipeline.kafka.topic_prefix);
    let producer = pipeline.kafka.producer().expect("producer");
    // Bypasses ingest, as a misconfigured producer would, keyed like the valid dossier below so
    // both land in the same partition and the valid event really queues behind the poison.
    let poison = FutureRecord::to(&topic).key("H37.105-261005-0001").payload("{\"this is\": \"not an event\"}");
    producer.send(poison, Duration::from_secs(10)).await.expect("poison produced");

    send_example_and_wait(&pipeline).await;

    let letters = dead_letters(&pipeline, 1).await;
    let letter = &letters[0];
    assert_eq!(letter.payload(), Some(&b"{\"this is\": \"not an event\"}"[..]));
    let header = |name: &str| header(letter, name).unwrap_or_else(|| panic!("header {name} missing"));
    assert_eq!(header(names::SOURCE_TOPIC), topic);
    assert!(header(names::ERROR).contains("undecodable"));
    header(names::SOURCE_OFFSET).parse::<i64>().expect("numeric offset");
    pipeline.stop().await;
}

const RESOLVED: &str = include_str!("../../../schemas/events/examples/valid/dossier.resolved.json");
const DIGITISED: &str = include_str!("../../../schemas/events/examples/valid/dossier.digitised.json");
const WORK_RECORD: &str = include_str!("../../../schemas/events/examples/valid/work_record.opened.json");

/// A message of several events (ioc_kafka::framing), as ingest writes them: each event that
/// cannot be stored is dead-lettered alone, with its line, and the others of the message are
/// stored; a message framed in a way the processor does not know is dead-lettered whole. The
/// completeness check counts the events of such messages, one lost from a message and all of
/// a message's lost alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_event_of_a_message_of_several_is_dead_lettered_alone_and_the_rest_stored() {
    use ioc_kafka::framing::{FRAMING, NDJSON};
    use rdkafka::message::Header;
    let pipeline = Pipeline::start().await;
    let topic = Source::Portal.topic(&pipeline.kafka.topic_prefix);
    let producer = pipeline.kafka.producer().expect("producer");
    let one_line = |text: &str| text.replace('\n', "");
    let lines = [one_line(RESOLVED), "{oops".to_owned(), one_line(DIGITISED), one_line(WORK_RECORD)];
    let payload = format!("{}\n", lines.join("\n"));
    let framed = rdkafka::message::OwnedHeaders::new().insert(Header { key: FRAMING, value: Some(NDJSON) });
    let record = FutureRecord::to(&topic).key("H37.105-261005-0001").payload(&payload).headers(framed);
    producer.send(record, Duration::from_secs(10)).await.expect("the message of several events is produced");
    let unknown = rdkafka::message::OwnedHeaders::new().insert(Header { key: FRAMING, value: Some("avro") });
    let record = FutureRecord::to(&topic).key("H37.105-261005-0001").payload(&lines[0]).headers(unknown);
    producer.send(record, Duration::from_secs(10)).await.expect("the message of an unknown framing is produced");

    // The two portal events of the first message, and the example sent through ingest behind
    // both messages in the same partition.
    let example = EXAMPLE.replace('\n', "");
    let response = post_ndjson(&pipeline.ingest.url, Source::Portal, &pipeline.keys[&Source::Portal], example).await;
    assert_eq!(response.status(), 200);
    pipeline.wait_for_events(3, Duration::from_secs(60)).await;
    let stored = pipeline
        .count(
            "SELECT toUInt64(count()) FROM portal_events WHERE event_id IN \
        ('7f1c2a8e-5b3d-4c1e-9a0f-2d6b8e4c1a04', '7f1c2a8e-5b3d-4c1e-9a0f-2d6b8e4c1a03')",
        )
        .await;
    assert_eq!(stored, 2, "the first message's valid events are stored, the bad lines between them did not stop them");

    let mut letters: Vec<(Option<String>, Vec<u8>, String)> = dead_letters(&pipeline, 3)
        .await
        .iter()
        .map(|letter| {
            let error = header(letter, names::ERROR).unwrap_or_default();
            (header(letter, names::SOURCE_LINE), letter.payload().unwrap_or_default().to_vec(), error)
        })
        .collect();
    letters.sort();
    let (line, payload, error) = &letters[0];
    assert_eq!((line.as_deref(), payload.as_slice()), (None, lines[0].as_bytes()), "the unknown framing, whole");
    assert!(error.contains("\"avro\""), "{error}");
    let (line, payload, error) = &letters[1];
    assert_eq!((line.as_deref(), payload.as_slice()), (Some("1"), &b"{oops"[..]), "the garbage line alone");
    assert!(error.contains("undecodable"), "{error}");
    let (line, payload, error) = &letters[2];
    assert_eq!((line.as_deref(), payload.as_slice()), (Some("3"), lines[3].as_bytes()), "the edoc event alone");
    assert!(error.contains("does not belong"), "{error}");
    // Each letter's event can be replayed alone: it is a message of one event.
    let config = ioc_processor::ProcessorConfig {
        kafka: pipeline.kafka.clone(),
        group_prefix: random_name("admin"),
        ..ioc_processor::ProcessorConfig::default()
    };
    let listed = ioc_processor::dead_letter_admin::list(&config).expect("listed");
    let mut listed_lines: Vec<Option<String>> = listed.iter().map(|letter| letter.source_line.clone()).collect();
    listed_lines.sort();
    assert_eq!(listed_lines, [None, Some("1".to_owned()), Some("3".to_owned())]);
    // Every event's position is accounted for (completeness, monitor.rs): `dead_letters` keeps
    // where letters came from, one row per message and line once ClickHouse merges it, and each
    // says how many events its message held.
    let positions = pipeline
        .count("SELECT toUInt64(uniqExact(kafka_partition, kafka_offset)) FROM dead_letters WHERE source = 'portal'")
        .await;
    assert_eq!(positions, 2, "the two messages' positions");
    let letters = pipeline
        .count("SELECT toUInt64(count()) FROM dead_letters FINAL WHERE source = 'portal' AND kafka_events = 4")
        .await;
    assert_eq!(letters, 2, "the first message's two letters, each of one of its four events, merged apart");
    // The first message has rows and letters both: its four events are stored or dead-lettered,
    // each once. With the unknown framing's message and the example's, six events were consumed
    // and six are accounted for.
    let after = chrono::Utc::now().timestamp();
    let figures = ioc_e2e::completeness_checked_after(&pipeline.processor.url, after).await.expect("a check");
    assert_eq!(figures, (6.0, 6.0, 0.0), "completeness (acknowledged, stored, missing)");
    // One event of the first message lost behind the pipeline's back: the message's other row
    // still holds its offset, yet the lost event shows.
    pipeline
        .clickhouse
        .client()
        .query("ALTER TABLE portal_events DELETE WHERE event_id = '7f1c2a8e-5b3d-4c1e-9a0f-2d6b8e4c1a03'")
        .execute()
        .await
        .expect("delete");
    let missing = "ioc_processor_completeness_missing_events";
    let seen = ioc_e2e::wait_for_metric(&pipeline.processor.url, missing, &[], |missing| missing > 0.0).await;
    assert_eq!(seen, 1.0, "the one event lost from a message of several");
    let after = chrono::Utc::now().timestamp();
    let figures = ioc_e2e::completeness_checked_after(&pipeline.processor.url, after).await.expect("a check");
    assert_eq!(figures, (6.0, 5.0, 1.0), "completeness after the loss (acknowledged, stored, missing)");
    // A message whose every event is lost, with no letter left to say how many it held: the
    // positions written as its rows were stored (`portal_event_lines`) still say it, so each
    // of its events counts as missing, not the message as one.
    let ids = [
        "7f1c2a8e-5b3d-4c1e-9a0f-2d6b8e4c1b01",
        "7f1c2a8e-5b3d-4c1e-9a0f-2d6b8e4c1b02",
        "7f1c2a8e-5b3d-4c1e-9a0f-2d6b8e4c1b03",
    ];
    let example = EXAMPLE.replace('\n', "");
    let batch: Vec<String> = ids.iter().map(|id| example.replace("7f1c2a8e-5b3d-4c1e-9a0f-2d6b8e4c1a01", id)).collect();
    let response =
        post_ndjson(&pipeline.ingest.url, Source::Portal, &pipeline.keys[&Source::Portal], batch.join("\n")).await;
    assert_eq!(response.status(), 200);
    pipeline.wait_for_events(5, Duration::from_secs(60)).await;
    let listed = format!("'{}'", ids.join("', '"));
    let one_message = pipeline
        .count(&format!(
            "SELECT toUInt64(uniqExact(kafka_partition, kafka_offset) * 10 + max(kafka_events)) FROM portal_events \
             WHERE event_id IN ({listed})"
        ))
        .await;
    assert_eq!(one_message, 13, "ingest wrote the three events as one message of three (10 x messages + events)");
    pipeline
        .clickhouse
        .client()
        .query(&format!("ALTER TABLE portal_events DELETE WHERE event_id IN ({listed})"))
        .execute()
        .await
        .expect("delete");
    let seen = ioc_e2e::wait_for_metric(&pipeline.processor.url, missing, &[], |missing| missing > 1.0).await;
    assert_eq!(seen, 4.0, "the earlier loss and each of the three events of the message lost whole");
    let after = chrono::Utc::now().timestamp();
    let figures = ioc_e2e::completeness_checked_after(&pipeline.processor.url, after).await.expect("a check");
    assert_eq!(figures, (9.0, 5.0, 4.0), "completeness after losing a whole message (acknowledged, stored, missing)");
    pipeline.stop().await;
}

/// A message the broker took compressed but the processor's producer refuses as a dead letter
/// (over librdkafka's `message.max.bytes`, 1,000,000 bytes) used to be retried for ever, with the
/// source's pipeline waiting behind it on every replica. Its letter now holds the payload's
/// first 64 KiB (of a huge key, its first KiB), marked with the original's size, and `dlq replay`
/// passes it over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_too_large_to_produce_is_cut_and_the_events_behind_it_are_stored() {
    let pipeline = Pipeline::start().await;
    let topic = Source::Portal.topic(&pipeline.kafka.topic_prefix);
    // A producer that bypasses ingest, allowed larger messages than the processor's own.
    let producer: rdkafka::producer::FutureProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &pipeline.kafka.brokers)
        .set("message.max.bytes", "4000000")
        .set("compression.type", "lz4")
        .create()
        .expect("producer");
    let huge = format!("{{\"this is\": \"not an event\", \"padding\": \"{}\"}}", "a".repeat(1_500_000));
    let record = FutureRecord::to(&topic).key("H37.105-261005-0001").payload(&huge);
    producer.send(record, Duration::from_secs(10)).await.expect("the huge message is taken, compressed");
    // librdkafka counts the key too: a huge key with a small payload.
    let huge_key = "k".repeat(1_500_000);
    let record = FutureRecord::to(&topic).key(&huge_key).payload("{\"small\": true}");
    producer.send(record, Duration::from_secs(10)).await.expect("the huge key is taken, compressed");

    send_example_and_wait(&pipeline).await;

    let mut letters: Vec<_> = dead_letters(&pipeline, 2)
        .await
        .iter()
        .map(|letter| {
            let cut_from = header(letter, names::PAYLOAD_CUT_FROM);
            (letter.key().map(<[u8]>::to_vec), letter.payload().map(<[u8]>::to_vec), cut_from)
        })
        .collect();
    letters.sort_by_key(|(key, _, _)| key.as_ref().map(Vec::len));
    let (key, payload, cut_from) = &letters[0];
    assert_eq!(key.as_deref(), Some(&b"H37.105-261005-0001"[..]), "a key within the limit is kept");
    let payload = payload.as_deref().expect("an excerpt of the payload");
    assert_eq!(payload.len(), ioc_processor::dead_letter::PAYLOAD_EXCERPT_BYTES);
    assert_eq!(payload, &huge.as_bytes()[..payload.len()], "the payload's first bytes");
    assert_eq!(cut_from, &Some(huge.len().to_string()), "the letter says how large the original was");
    let (key, payload, cut_from) = &letters[1];
    assert_eq!(
        key.as_ref().map(Vec::len),
        Some(ioc_processor::dead_letter::KEY_EXCERPT_BYTES),
        "the key's first bytes"
    );
    assert_eq!(payload.as_deref(), Some(&b"{\"small\": true}"[..]));
    assert!(cut_from.is_some(), "the letter is marked as an excerpt");

    let config = ioc_processor::ProcessorConfig {
        kafka: pipeline.kafka.clone(),
        group_prefix: random_name("admin"),
        ..ioc_processor::ProcessorConfig::default()
    };
    let listed = ioc_processor::dead_letter_admin::list(&config).expect("listed");
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().any(|letter| letter.payload_cut_from == Some(huge.len().to_string())));
    let replayed = ioc_processor::dead_letter_admin::replay(&config).await.expect("replay runs");
    assert_eq!(replayed, 0, "an excerpt is not replayed");
    pipeline.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_apply_once_and_an_edited_one_or_a_newer_schema_is_refused() {
    let pipeline = Pipeline::start().await;
    // The binary's embedded migrations and reference data, as an image runs them.
    let config = ioc_processor::ProcessorConfig {
        clickhouse: pipeline.clickhouse.clone(),
        ..ioc_processor::ProcessorConfig::default()
    };
    let again = ioc_processor::migrate(&config).await.expect("second run");
    assert!(again.is_empty(), "migrations applied twice: {again:?}");
    assert_eq!(pipeline.count("SELECT toUInt64(count()) FROM ref_units").await, 161);

    let mut edited = ioc_clickhouse::embedded_migrations();
    edited[0].text.push_str("\n-- edited\n");
    let refused = ioc_clickhouse::migrate(&pipeline.clickhouse, &edited).await.expect_err("edited migration refused");
    assert!(refused.to_string().contains("0001_events.sql was changed after it was applied"), "{refused}");

    // A database a newer version migrated: an older binary (one migration fewer) refuses it,
    // saying so, and changes nothing.
    let mut older = ioc_clickhouse::embedded_migrations();
    let newest = older.pop().expect("at least one migration");
    let before = pipeline.count("SELECT toUInt64(count()) FROM schema_migrations").await;
    let refused = ioc_clickhouse::migrate(&pipeline.clickhouse, &older).await.expect_err("newer schema refused");
    let message = refused.to_string();
    assert!(message.contains("is newer than this binary") && message.contains(&newest.name), "{message}");
    assert_eq!(pipeline.count("SELECT toUInt64(count()) FROM schema_migrations").await, before);
    pipeline.stop().await;
}

/// Every `migrate` reloads the reference data while the API, the processor's checks and the
/// analysts read it. A reader must see the whole data before the reload or the whole data after
/// it: a list of units cut in half gives a wrong province total, and the API keeps an answer
/// until the rollups next advance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_sees_the_reference_data_whole_while_it_is_reloaded() {
    let clickhouse = ioc_e2e::migrated_database(random_name("ioc_reference_"), ioc_e2e::clickhouse_url()).await;
    let _dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
    let reference = ioc_reference::ReferenceData::embedded().expect("reference data");
    let whole = [
        reference.units.len() as u64,
        reference.denominators.len() as u64,
        reference.procedures.len() as u64,
        reference.targets.len() as u64,
    ];
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Counts {
        units: u64,
        denominators: u64,
        procedures: u64,
        targets: u64,
    }
    let sql = "SELECT toUInt64((SELECT count() FROM ref_units)) AS units, \
               toUInt64((SELECT count() FROM ref_denominators)) AS denominators, \
               toUInt64((SELECT count() FROM ref_procedures)) AS procedures, \
               toUInt64((SELECT count() FROM ref_targets)) AS targets";
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let reader = {
        let client = clickhouse.client();
        tokio::spawn(async move {
            let (mut reads, mut torn) = (0_u32, Vec::new());
            while !*stopped.borrow() {
                let counts: Counts = client.query(sql).fetch_one().await.expect("the reference tables read");
                let seen = [counts.units, counts.denominators, counts.procedures, counts.targets];
                if seen != whole {
                    torn.push(seen);
                }
                reads += 1;
            }
            (reads, torn)
        })
    };
    for _ in 0..25 {
        ioc_clickhouse::load_reference_data(&clickhouse, &reference).await.expect("reloaded");
    }
    stop.send(true).expect("the reader listens");
    let (reads, torn) = reader.await.expect("the reader ran");
    assert!(reads >= 25, "the reader read {reads} times during 25 reloads");
    assert!(torn.is_empty(), "{} of {reads} reads saw part of the data (whole: {whole:?}): {torn:?}", torn.len());

    // Only the newest load and the one before it are kept, with their marks.
    let loads = ioc_e2e::reference_loads_kept(&clickhouse, Duration::from_secs(30)).await;
    assert_eq!(loads, 2, "loads kept after 25 reloads");

    // A load that stopped half way (its units written, then ClickHouse went away) is never
    // shown: it has no mark in ref_loads.
    let half =
        "INSERT INTO ref_units_loads SELECT toUInt64(9e15), code, name, kind, former_province FROM ref_units LIMIT 3";
    clickhouse.client().query(half).execute().await.expect("half a load written");
    let counts: Counts = clickhouse.client().query(sql).fetch_one().await.expect("read");
    assert_eq!(counts.units, whole[0], "a load without its mark was shown");
}

/// A reference file left with its header only empties its table at the next load: the targets
/// withdrawn must leave the screen, not stay from the load before. A node that has the load's
/// mark but not yet all of a table's rows keeps showing that table's previous load whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reference_file_emptied_to_its_header_empties_its_table() {
    let clickhouse = ioc_e2e::migrated_database(random_name("ioc_reference_"), ioc_e2e::clickhouse_url()).await;
    let _dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
    let client = clickhouse.client();
    let count = |table: &'static str| {
        let client = client.clone();
        async move {
            let sql = format!("SELECT toUInt64(count()) FROM {table}");
            client.query(&sql).fetch_one::<u64>().await.expect("a reference table read")
        }
    };
    let full = ioc_reference::ReferenceData::embedded().expect("reference data");
    assert!(!full.targets.is_empty() && !full.units.is_empty(), "the embedded files hold targets and units");
    ioc_clickhouse::load_reference_data(&clickhouse, &full).await.expect("loaded");
    assert_eq!(count("ref_targets").await, full.targets.len() as u64, "the targets loaded");

    let mut withdrawn = full.clone();
    withdrawn.targets.clear();
    ioc_clickhouse::load_reference_data(&clickhouse, &withdrawn).await.expect("reloaded without targets");
    assert_eq!(count("ref_targets").await, 0, "the targets of the load before stayed after their file was emptied");
    assert_eq!(count("ref_units").await, full.units.len() as u64, "the units of the load");

    // A load whose mark and counts reached this node before all of its units (a replica still
    // fetching them): the units of the load before stay, whole.
    let unreceived = format!(
        "INSERT INTO ref_load_rows (load_id, table_name, row_count) \
         VALUES (toUInt64(9e15), 'ref_units', {}), (toUInt64(9e15), 'ref_targets', 0)",
        full.units.len()
    );
    client.query(&unreceived).execute().await.expect("counts of a load not received");
    let some = "INSERT INTO ref_units_loads \
                SELECT toUInt64(9e15), code, name, kind, former_province FROM ref_units LIMIT 3";
    client.query(some).execute().await.expect("a few of its units");
    client.query("INSERT INTO ref_loads (load_id) VALUES (toUInt64(9e15))").execute().await.expect("its mark");
    assert_eq!(count("ref_units").await, full.units.len() as u64, "a load whose rows had not all arrived was shown");

    // The file filled again: the targets are back.
    ioc_clickhouse::load_reference_data(&clickhouse, &full).await.expect("reloaded with targets");
    assert_eq!(count("ref_targets").await, full.targets.len() as u64, "the targets filled again");

    // A load an older binary marked without counts, which the views skip, is not taken for the
    // load they show: the next load keeps the one they show, for a node still fetching its rows.
    let shown: u64 =
        client.query("SELECT toUInt64(max(load_id)) FROM ref_loads").fetch_one().await.expect("the load shown");
    let uncounted = format!("INSERT INTO ref_loads (load_id) VALUES ({})", shown + 1000);
    client.query(&uncounted).execute().await.expect("a mark with no counts");
    ioc_clickhouse::load_reference_data(&clickhouse, &full).await.expect("reloaded");
    let pending = format!(
        "SELECT toUInt64(count()) FROM system.mutations WHERE database = '{}' AND is_done = 0",
        clickhouse.database
    );
    let started = std::time::Instant::now();
    while client.query(&pending).fetch_one::<u64>().await.expect("mutations read") > 0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the deletions of old loads did not end in 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kept = format!("SELECT toUInt64(count()) FROM ref_units_loads WHERE load_id = {shown}");
    let kept: u64 = client.query(&kept).fetch_one().await.expect("the load before read");
    assert_eq!(kept, full.units.len() as u64, "the load the views showed before the last load was deleted");
}

/// A fresh database with the embedded migrations applied up to `name`, not it: a deployment of
/// the release before that migration. Also the migrations, for the test to migrate across it,
/// and the guard that drops the database at the end.
async fn migrated_before(name: &str) -> (ClickHouseConfig, Vec<ioc_clickhouse::Migration>, ioc_e2e::DropDatabase) {
    let clickhouse = ClickHouseConfig {
        url: ioc_e2e::clickhouse_url(),
        database: random_name("ioc_upgrade_"),
        ..ClickHouseConfig::default()
    };
    let dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
    let migrations = ioc_clickhouse::embedded_migrations();
    let upgrade = migrations.iter().position(|m| m.name == name).unwrap_or_else(|| panic!("migration {name}"));
    ioc_clickhouse::migrate(&clickhouse, &migrations[..upgrade])
        .await
        .unwrap_or_else(|e| panic!("migrated up to {name}: {e}"));
    (clickhouse, migrations, dropped)
}

/// The upgrade across migrations 0013 and 0014: the reference tables become views of their
/// loads, and what they held is their first load, its rows counted, so that they do not read
/// empty before `migrate` loads the files (old pods still serve meanwhile).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_data_held_before_the_loads_stays_readable_across_the_upgrade() {
    let (clickhouse, migrations, _dropped) = migrated_before("0013_reference_loads.sql").await;
    let client = clickhouse.client();
    for held in [
        "INSERT INTO ref_units VALUES ('00001', 'Xã Một', 'xa', ''), ('00002', 'Phường Hai', 'phuong', '')",
        "INSERT INTO ref_denominators VALUES ('00001', 'households', 120)",
        "INSERT INTO ref_procedures VALUES ('1.0001', 'Thủ tục', 'Procedure', 1, 'full', 5)",
        "INSERT INTO ref_targets VALUES ('on_time_rate', 2026, 'target', 0.95, 'Decision 1')",
    ] {
        client.query(held).execute().await.expect("the reference data of a deployment before 0013");
    }
    ioc_clickhouse::migrate(&clickhouse, &migrations).await.expect("migrated across 0013");
    let units: Vec<String> =
        client.query("SELECT name FROM ref_units ORDER BY code").fetch_all().await.expect("the units read");
    assert_eq!(units, ["Xã Một", "Phường Hai"], "the units held before the upgrade");
    let sql = "SELECT toUInt64((SELECT sum(value) FROM ref_denominators) + (SELECT count() FROM ref_procedures) \
               + (SELECT count() FROM ref_targets))";
    let rest: u64 = client.query(sql).fetch_one().await.expect("the rest read");
    assert_eq!(rest, 122, "the denominator, the procedure and the target held before the upgrade");
}

/// The upgrade across migration 0017: the training events stored before it that the measures
/// count are copied into `training_milestones` with their ids' hashes, and those inserted after
/// it are written there by the view; the others are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counted_training_events_stored_before_the_upgrade_are_copied_and_later_ones_written() {
    let (clickhouse, migrations, _dropped) = migrated_before("0017_training_milestones.sql").await;
    let client = clickhouse.client();
    // Every copied column different in every row (and the rows in different months), so that a
    // column copied into another's place, or left out, shows.
    let insert = |rows: &[(&str, &str)], first: u32| {
        let values: Vec<String> = rows
            .iter()
            .zip(first..)
            .map(|((id, kind), n)| {
                format!(
                    "('{id}', '{kind}', toDateTime({}), '{n:05}', 'L{n}', 'H{n}', 'G{n}', {}, {}, 'C{n}', 'T{n}', {})",
                    1_767_225_600 + n * 3_000_000,
                    n % 2,
                    (n + 1) % 2,
                    10 + n
                )
            })
            .collect();
        format!(
            "INSERT INTO training_events (event_id, type, occurred_at, unit_code, learner_id, household_ref, \
             target_group, vneid_confirmed, of_adult_age, class_id, topic, attendees) VALUES {}",
            values.join(", ")
        )
    };
    let before = [
        ("b1", "skills.certified"),
        ("b2", "learner.registered"),
        ("b3", "skills.vneid_confirmed"),
        ("b4", "class.held"),
        ("b5", "course.completed"),
    ];
    client.query(&insert(&before, 1)).execute().await.expect("training events of a deployment before 0017");
    ioc_clickhouse::migrate(&clickhouse, &migrations).await.expect("migrated across 0017");
    let after = [
        ("a1", "skills.certified"),
        ("a2", "learner.registered"),
        ("a3", "class.held"),
        ("a4", "skills.vneid_confirmed"),
    ];
    client.query(&insert(&after, 6)).execute().await.expect("training events after 0017");

    let row = |table: &str| {
        format!(
            "SELECT concat(event_id, '|', type, '|', toString(toUInt32(occurred_at)), '|', unit_code, '|', learner_id, \
             '|', household_ref, '|', target_group, '|', toString(vneid_confirmed), '|', toString(of_adult_age), '|', \
             class_id, '|', topic, '|', toString(attendees)) FROM {table} WHERE event_id IN ('a1', 'a3', 'a4', 'b1', 'b3', 'b4') \
             ORDER BY event_id"
        )
    };
    let stored: Vec<String> = client.query(&row("training_events")).fetch_all().await.expect("the raw rows read");
    let copied: Vec<String> = client.query(&row("training_milestones")).fetch_all().await.expect("the copy read");
    assert_eq!(stored.len(), 6, "the counted events stored: {stored:?}");
    assert_eq!(copied, stored, "the counted events, copied or written, each column in its place");
    let sql = "SELECT toUInt64(count()), toUInt64(countIf(learner_key = cityHash64(learner_id) \
               AND household_key = cityHash64(household_ref) AND class_key = cityHash64(class_id))) FROM training_milestones";
    let (rows, hashed): (u64, u64) = client.query(sql).fetch_one().await.expect("the copy counted");
    assert_eq!((rows, hashed), (6, 6), "no other event copied, each with its ids' hashes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_and_replayed_once_and_still_counted_once() {
    let pipeline = Pipeline::start().await;
    let portal_topic = Source::Portal.topic(&pipeline.kafka.topic_prefix);
    // The event arrives normally...
    send_example_and_wait(&pipeline).await;
    // ...and a copy of it sits in the dead-letter topic, as an older processor version that
    // could not handle it would have left it.
    let producer = pipeline.kafka.producer().expect("producer");
    let headers = rdkafka::message::OwnedHeaders::new()
        .insert(rdkafka::message::Header { key: names::SOURCE_TOPIC, value: Some(&portal_topic) })
        .insert(rdkafka::message::Header { key: names::SOURCE_PARTITION, value: Some("0") })
        .insert(rdkafka::message::Header { key: names::SOURCE_OFFSET, value: Some("41") })
        .insert(rdkafka::message::Header { key: names::ERROR, value: Some("unsupported by processor 0.0.9") });
    let dlq = dead_letter_topic(&pipeline.kafka.topic_prefix);
    let letter = FutureRecord::to(&dlq).key("H37.105-261005-0001").payload(EXAMPLE).headers(headers);
    producer.send(letter, Duration::from_secs(10)).await.expect("dead letter produced");

    let config = ioc_processor::ProcessorConfig {
        kafka: pipeline.kafka.clone(),
        group_prefix: random_name("admin"),
        ..ioc_processor::ProcessorConfig::default()
    };
    let listed = ioc_processor::dead_letter_admin::list(&config).expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].error.as_deref(), Some("unsupported by processor 0.0.9"));
    assert_eq!(listed[0].event_id.as_deref(), Some("7f1c2a8e-5b3d-4c1e-9a0f-2d6b8e4c1a01"));
    assert_eq!(listed[0].source_topic.as_deref(), Some(portal_topic.as_str()));

    assert_eq!(ioc_processor::dead_letter_admin::replay(&config).await.expect("replay"), 1);
    // The replayed copy reaches the table (a second row)...
    let started = std::time::Instant::now();
    while pipeline.count("SELECT toUInt64(count()) FROM portal_events").await < 2 {
        assert!(started.elapsed() < Duration::from_secs(60), "replayed event not stored");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // ...but the event still counts once, and a second replay has nothing left to do. The
    // answer must come from rollups that took the copy in: the processor dates a stored row up
    // to a second later, and without this wait the cycles had most likely not reached it, so
    // the count could not show a copy counted twice.
    assert_eq!(pipeline.count("SELECT toUInt64(uniqExact(event_id)) FROM portal_events").await, 1);
    ioc_e2e::wait_for_rollups(&pipeline.clickhouse, &pipeline.api.url, Duration::from_secs(60)).await;
    let kpis: serde_json::Value =
        reqwest::get(format!("{}/v1/kpis?from=2026-10-01&to=2026-10-31&unit=07900", pipeline.api.url))
            .await
            .expect("api")
            .json()
            .await
            .expect("json");
    assert_eq!(kpis["indicators"][0]["denominator"], 1, "{kpis}");
    assert_eq!(ioc_processor::dead_letter_admin::replay(&config).await.expect("second replay"), 0);
    assert_eq!(ioc_processor::dead_letter_admin::list(&config).expect("list").len(), 1, "listing never consumes");
    pipeline.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_stopped_by_a_letter_keeps_the_position_of_those_before_it() {
    let kafka = KafkaConfig {
        brokers: ioc_e2e::kafka_brokers(),
        topic_prefix: random_name("dlqstop"),
        ..KafkaConfig::default()
    };
    let portal_topic = Source::Portal.topic(&kafka.topic_prefix);
    let dlq = dead_letter_topic(&kafka.topic_prefix);
    kafka.ensure_topics(&[portal_topic.clone(), dlq.clone()]).await.expect("topics");
    // Three letters in one partition, in order; the second does not say where it came from.
    let producer = kafka.producer().expect("producer");
    for (key, says_its_topic) in [("first", true), ("nameless", false), ("third", true)] {
        let mut letter = FutureRecord::to(&dlq).partition(0).key(key).payload(EXAMPLE);
        if says_its_topic {
            let from_portal = rdkafka::message::Header { key: names::SOURCE_TOPIC, value: Some(&portal_topic) };
            letter = letter.headers(rdkafka::message::OwnedHeaders::new().insert(from_portal));
        }
        producer.send(letter, Duration::from_secs(10)).await.expect("dead letter produced");
    }
    let config = ioc_processor::ProcessorConfig {
        kafka: kafka.clone(),
        group_prefix: random_name("admin"),
        ..ioc_processor::ProcessorConfig::default()
    };
    // Each run stops at the nameless letter; the first run replays the letter before it, the
    // second starts at the nameless one and sends nothing again.
    for replayed_before in [1, 0] {
        let error = ioc_processor::dead_letter_admin::replay(&config).await.expect_err("stopped");
        let message = format!("{error:#}");
        assert!(
            message.contains(&format!("replay stopped after {replayed_before} letters"))
                && message.contains("dead letter at 0/1 has no ioc.source_topic header"),
            "{message}"
        );
    }
    let in_portal_topic = ioc_e2e::bench::ingest::messages_in(&kafka, &[portal_topic]).expect("count");
    assert_eq!(in_portal_topic, 1, "the letter before the stop is replayed once over the two runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_valid_example_is_stored_with_its_fields_in_their_columns() {
    let pipeline = Pipeline::start().await;
    let dir = ioc_e2e::repo_root().join("schemas/events/examples/valid");
    let mut per_source: std::collections::BTreeMap<Source, String> = std::collections::BTreeMap::new();
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("examples") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("example");
        let event: serde_json::Value = serde_json::from_str(&text).expect("json");
        let source: Source = event["source"].as_str().expect("source").parse().expect("known source");
        per_source.entry(source).or_default().push_str(&format!("{event}\n"));
        // wait_for_events counts what is not a canary probe; the probe is checked below.
        count += u64::from(event["type"] != ioc_domain::CANARY_PROBE_TYPE);
    }
    for (source, body) in per_source {
        let response = post_ndjson(&pipeline.ingest.url, source, &pipeline.keys[&source], body).await;
        assert_eq!(response.status(), 200, "{source}: {}", response.text().await.unwrap_or_default());
    }
    pipeline.wait_for_events(count, Duration::from_secs(60)).await;
    let value = |sql: &'static str| pipeline.count(sql);
    assert_eq!(value("SELECT toUInt64(sum(amount_vnd)) FROM portal_events WHERE type = 'dossier.paid'").await, 50_000);
    assert_eq!(value("SELECT toUInt64(count()) FROM portal_events WHERE satisfaction = 'satisfied'").await, 1);
    assert_eq!(
        value("SELECT toUInt64(count()) FROM edoc_events WHERE document_id != '' AND form = 'electronic' AND digitally_signed = 1").await,
        2
    );
    assert_eq!(value("SELECT toUInt64(sum(attendees)) FROM training_events WHERE topic = 'digital_payment'").await, 42);
    assert_eq!(value("SELECT toUInt64(count()) FROM training_events WHERE course_code = 'KNS-CB-01'").await, 1);
    // The go-live snapshot, a petition, adulthood (sent or by group) and a late VNeID confirmation.
    assert_eq!(
        value(
            "SELECT toUInt64(sum(paused_seconds)) FROM portal_events WHERE type = 'dossier.snapshot' \
               AND dossier_received_at = toDateTime('2026-09-20 09:30:00', 'Asia/Ho_Chi_Minh')"
        )
        .await,
        86_400
    );
    // What happened before go-live, as the snapshot says, in the columns of the events it stands for.
    assert_eq!(
        value(
            "SELECT toUInt64(count()) FROM portal_events WHERE type = 'dossier.snapshot' AND components_digitised = 2 \
               AND components_reused = 1 AND payment_method = 'online' AND complaint_subject = 'handling'"
        )
        .await,
        1
    );
    assert_eq!(
        value("SELECT toUInt64(count()) FROM portal_events WHERE complaint_kind = 'petition' AND complaint_subject = 'handling'")
            .await,
        1
    );
    assert_eq!(
        value("SELECT toUInt64(sum(of_adult_age)) FROM training_events WHERE type = 'skills.certified'").await,
        2
    );
    assert_eq!(
        value("SELECT toUInt64(count()) FROM training_events WHERE type = 'skills.vneid_confirmed' AND certificate_id != ''")
            .await,
        1
    );
    // The probe has no entity key, so it may sit in another partition's batch: give it time.
    let probe = format!(
        "SELECT toUInt64(count()) FROM training_events WHERE type = '{}' AND unit_code = '{}'",
        ioc_domain::CANARY_PROBE_TYPE,
        ioc_domain::CANARY_UNIT_CODE
    );
    let started = std::time::Instant::now();
    while pipeline.count(&probe).await == 0 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(pipeline.count(&probe).await, 1, "the canary probe example is stored like any event");
    pipeline.stop().await;
}

/// Polls `consumer` for `wait`, noting the partition of each message.
async fn poll_for(consumer: &StreamConsumer<PartitionEndsContext>, wait: Duration, seen: &mut BTreeSet<i32>) {
    let until = tokio::time::Instant::now() + wait;
    while let Ok(received) = tokio::time::timeout_at(until, consumer.recv()).await {
        if let Ok(message) = received {
            seen.insert(message.partition());
        }
    }
}

/// A fresh portal topic of `partitions` partitions, and a consumer of it in `group` holding
/// every partition.
async fn alone_in_a_group(partitions: i32, group: &str) -> (KafkaConfig, String, StreamConsumer<PartitionEndsContext>) {
    let kafka = KafkaConfig {
        brokers: ioc_e2e::kafka_brokers(),
        topic_prefix: random_name("t"),
        partitions,
        ..KafkaConfig::default()
    };
    let topic = Source::Portal.topic(&kafka.topic_prefix);
    kafka.ensure_topics(std::slice::from_ref(&topic)).await.expect("topic");
    let consumer = kafka.consumer_noting_partition_ends(group).expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    rebalance_until(&consumer, None, usize::try_from(partitions).unwrap_or(0)).await;
    (kafka, topic, consumer)
}

/// Polls both consumers until `first` holds `count` partitions (its group rebalanced).
async fn rebalance_until(first: &StreamConsumer<PartitionEndsContext>, second: Option<&StreamConsumer>, count: usize) {
    let until = tokio::time::Instant::now() + Duration::from_secs(60);
    let assigned = || first.assignment().map_or(0, |list| list.count());
    while assigned() != count {
        assert!(tokio::time::Instant::now() < until, "no rebalance gave {count} partitions within 60 s");
        let polls = async {
            if let Some(second) = second {
                let _ = tokio::time::timeout(Duration::from_millis(200), second.recv()).await;
            }
        };
        let (_, _) = tokio::join!(tokio::time::timeout(Duration::from_millis(200), first.recv()), polls);
    }
}

/// The processor pauses its partitions while ClickHouse refuses a batch. librdkafka keeps a
/// partition's pause across its revocation: a partition paused, taken by another instance
/// during the outage and given back after it, was never fetched again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_paused_before_a_rebalance_is_fetched_again_when_it_comes_back() {
    let group = random_name("hold");
    let (kafka, topic, first) = alone_in_a_group(2, &group).await;

    // ClickHouse refuses: the first instance holds its two partitions; a second one joins and
    // takes one of them; ClickHouse is back and the first releases what it holds now.
    hold_fetching(&first, true).expect("hold");
    let second: StreamConsumer = kafka.consumer(&group).expect("second consumer");
    second.subscribe(&[&topic]).expect("subscribe");
    rebalance_until(&first, Some(&second), 1).await;
    hold_fetching(&first, false).expect("release");
    // The second instance stops: its partition comes back to the first.
    drop(second);
    rebalance_until(&first, None, 2).await;

    let producer = kafka.producer().expect("producer");
    for partition in 0..2 {
        let record = FutureRecord::to(&topic).partition(partition).key("k").payload("{}");
        producer.send(record, Duration::from_secs(10)).await.expect("produced");
    }
    let mut seen = BTreeSet::new();
    poll_for(&first, Duration::from_secs(15), &mut seen).await;
    assert_eq!(seen, BTreeSet::from([0, 1]), "partitions fetched after the rebalances");
}

/// The processor's commits report the broker's answer: a refused one is counted. Refused here
/// by a real broker: metadata longer than its `offset.metadata.max.bytes` (4096 by default). An
/// asynchronous commit, as the processor made them before, returns before the answer and
/// rust-rdkafka never reports it (fede1024/rust-rdkafka#856).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_the_broker_refuses_is_reported() {
    let (_, topic, consumer) = alone_in_a_group(1, &random_name("commits")).await;
    let consumer = std::sync::Arc::new(consumer);
    let list = |metadata: &str| {
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(&topic, 0, Offset::Offset(0)).expect("offset");
        for mut element in list.elements() {
            element.set_metadata(metadata);
        }
        list
    };
    let commit = |list: TopicPartitionList| {
        let (reported, report) = tokio::sync::oneshot::channel();
        let reporter = move |result: &Result<(), String>, _took: Duration| {
            let _ = reported.send(result.clone());
        };
        let returned =
            ioc_kafka::commit_reported(std::sync::Arc::clone(&consumer), list, Duration::from_secs(30), reporter);
        async move { (returned.await, report.await.expect("reported once")) }
    };

    let (returned, reported) = commit(list("batch")).await;
    assert_eq!((returned, reported), (Some(Ok(())), Ok(())), "an accepted commit");
    let (returned, reported) = commit(list(&"x".repeat(5_000))).await;
    assert_eq!(returned.as_ref(), Some(&reported), "the answer returned is the one reported");
    let error = reported.expect_err("the broker refuses the commit");
    assert!(error.contains("metadata"), "the broker's reason: {error}");
}

/// A processor (portal only, no rollup) whose ClickHouse is reached through a relay the test
/// can silence, and an ingest in front of it.
struct BehindRelay {
    relay: ioc_e2e::relay::Relay,
    processor: ioc_e2e::Running,
    ingest: ioc_e2e::Running,
    keys: std::collections::BTreeMap<Source, String>,
    clickhouse: ClickHouseConfig,
    _dropped: ioc_e2e::DropDatabase,
}

impl BehindRelay {
    async fn start(tune: impl FnOnce(&mut ioc_processor::ProcessorConfig)) -> BehindRelay {
        ioc_service::init_logging();
        let (kafka, clickhouse) = ioc_e2e::fresh_stack("t", "ioc_relayed_").await;
        let dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
        let node: std::net::SocketAddr =
            clickhouse.url.trim_start_matches("http://").parse().expect("the test's ClickHouse is host:port");
        let relay = ioc_e2e::relay::Relay::start(node).await;
        let mut config = ioc_processor::ProcessorConfig {
            kafka: kafka.clone(),
            clickhouse: ClickHouseConfig { url: relay.url.clone(), ..clickhouse.clone() },
            group_prefix: random_name("g"),
            sources: vec![Source::Portal],
            batch_max_wait_ms: 300,
            rollup_enabled: false,
            monitor_interval_ms: 0,
            ..ioc_processor::ProcessorConfig::default()
        };
        tune(&mut config);
        let processor = spawn(|listener, stopped| ioc_processor::serve(config, listener, on_stop(stopped))).await;
        let keys = ioc_e2e::random_keys();
        let ingest_config = ioc_e2e::ingest_config(&kafka, &keys);
        let ingest = spawn(|listener, stopped| ioc_ingest::serve(ingest_config, listener, on_stop(stopped))).await;
        BehindRelay { relay, processor, ingest, keys, clickhouse, _dropped: dropped }
    }

    /// Sends the example dossier event with `event_id`; ingest must accept it.
    async fn send(&self, event_id: &str) {
        let mut event: serde_json::Value = serde_json::from_str(EXAMPLE).expect("example");
        event["event_id"] = serde_json::Value::from(event_id);
        let response =
            post_ndjson(&self.ingest.url, Source::Portal, &self.keys[&Source::Portal], event.to_string()).await;
        assert_eq!(response.status(), 200, "ingest accepts {event_id}");
    }

    async fn stored(&self) -> u64 {
        let sql = "SELECT toUInt64(count()) FROM portal_events";
        self.clickhouse.client().query(sql).fetch_one::<u64>().await.expect("count")
    }

    /// Waits up to 60 s for `count` rows; returns how many there are.
    async fn wait_stored(&self, count: u64) -> u64 {
        let until = tokio::time::Instant::now() + Duration::from_secs(60);
        while self.stored().await < count && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        self.stored().await
    }

    async fn failed_inserts_reach(&self, count: f64) -> f64 {
        ioc_e2e::wait_for_metric(&self.processor.url, "ioc_processor_insert_failures_total", &[], |n| n >= count).await
    }
}

/// An insert sent to a ClickHouse node that took the connection and then answers nothing (a hung
/// disk, a network cut after connecting) is given up after `insert_timeout_seconds` and retried:
/// without the bound it held the source's pipeline for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_insert_that_gets_no_answer_is_given_up_and_retried() {
    let behind = BehindRelay::start(|config| {
        config.max_retry_backoff_ms = 1_000;
        config.insert_timeout_seconds = 2;
    })
    .await;
    behind.send("9b0c3d9e-0000-4000-8000-000000000001").await;
    assert_eq!(behind.wait_stored(1).await, 1, "stored through the relay while it answers");
    behind.relay.silence();
    behind.send("9b0c3d9e-0000-4000-8000-000000000002").await;
    assert!(
        behind.failed_inserts_reach(1.0).await >= 1.0,
        "no insert attempt failed while ClickHouse answered nothing"
    );
    behind.relay.speak();
    assert_eq!(behind.wait_stored(2).await, 2, "the batch was retried once ClickHouse answered again");
    behind.ingest.stop().await.expect("ingest stops");
    behind.processor.stop().await.expect("processor stops");
}

/// A SIGTERM that comes while a flush waits between two attempts, the next one succeeding, ends
/// the pipeline then: the wait saw the signal, and the consuming loop used to go on (and commit
/// more batches) until the shutdown deadline aborted it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_during_a_retry_wait_ends_the_pipeline_once_the_batch_is_stored() {
    const DEADLINE: Duration = Duration::from_secs(60);
    let behind = BehindRelay::start(|config| {
        config.insert_timeout_seconds = 1;
        config.max_retry_backoff_ms = 10_000;
        config.shutdown_deadline_ms = DEADLINE.as_millis() as u64;
    })
    .await;
    behind.send("9b0c3d9e-0000-4000-8000-000000000003").await;
    assert_eq!(behind.wait_stored(1).await, 1, "stored through the relay while it answers");
    behind.relay.silence();
    behind.send("9b0c3d9e-0000-4000-8000-000000000004").await;
    // Six failed attempts: the flush now waits 6.4 s before the seventh (backoff from 0.2 s,
    // doubled each time), time enough for ClickHouse to come back and the signal to come.
    assert!(behind.failed_inserts_reach(6.0).await >= 6.0, "six attempts failed while ClickHouse answered nothing");
    behind.relay.speak();
    let BehindRelay { processor, ingest, clickhouse, _dropped, relay, .. } = behind;
    let asked = tokio::time::Instant::now();
    processor.stop().await.expect("processor stops");
    let took = asked.elapsed();
    let sql = "SELECT toUInt64(count()) FROM portal_events";
    let stored = clickhouse.client().query(sql).fetch_one::<u64>().await.expect("count");
    assert_eq!(stored, 2, "the batch under retry was stored before the pipeline ended");
    assert!(took < DEADLINE / 2, "the processor took {took:?} to stop, as if it ran until its deadline ({DEADLINE:?})");
    ingest.stop().await.expect("ingest stops");
    drop(relay);
}

/// On an external Kafka the processor creates the topics it finds missing, and Kafka's defaults
/// (one in-sync replica, 7 days for every topic) would then decide how durable the events are
/// and how long the dead letters wait for a replay. It gives each topic the configured settings
/// instead (the chart passes kafka.minInsyncReplicas and the retentions).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_topics_the_processor_creates_carry_the_configured_durability_and_retention() {
    use rdkafka::admin::{AdminOptions, ConfigSource, ResourceSpecifier};
    let kafka = KafkaConfig {
        brokers: ioc_e2e::kafka_brokers(),
        topic_prefix: random_name("created"),
        // The local broker has one replica, so 1 is the only value it can take; it counts as set
        // only if the topic carries it as its own (DynamicTopic), not as the broker's default.
        min_insync_replicas: Some(1),
        retention_hours: Some(48),
        dead_letter_retention_hours: Some(500),
        ..KafkaConfig::default()
    };
    // As after an upgrade that added the dead-letter topic: the source topics exist, so the
    // processor creates the missing one alone, with its own retention.
    let sources: Vec<String> = Source::ALL.iter().map(|source| source.topic(&kafka.topic_prefix)).collect();
    kafka.ensure_topics(&sources).await.expect("the source topics");
    let pipeline = Pipeline::start_with_kafka(kafka.clone()).await;
    let admin = kafka.admin().expect("admin client");
    let expected = [
        (Source::Portal.topic(&kafka.topic_prefix), "172800000"),
        (dead_letter_topic(&kafka.topic_prefix), "1800000000"),
    ];
    for (topic, retention_ms) in &expected {
        let described = admin
            .describe_configs(&[ResourceSpecifier::Topic(topic)], &AdminOptions::new())
            .await
            .expect("describe the topic's settings");
        let settings = described.into_iter().next().expect("one resource").expect("the topic exists");
        for (name, value) in [("min.insync.replicas", "1"), ("retention.ms", retention_ms)] {
            let entry = settings.get(name).unwrap_or_else(|| panic!("{topic} has no {name}"));
            assert_eq!(
                (entry.value.as_deref(), &entry.source),
                (Some(value), &ConfigSource::DynamicTopic),
                "{topic}: {name} set on the topic itself"
            );
        }
    }
    pipeline.stop().await;
}

/// On a first install the migration Job starts while ClickHouse's pods are still being created,
/// and a Job retries only a few times, quickly: `ioc-processor migrate` waits for ClickHouse
/// instead (migrate_wait_seconds) and applies the migrations once it answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_wait_for_a_clickhouse_that_comes_up_late() {
    ioc_service::init_logging();
    let node: std::net::SocketAddr =
        ioc_e2e::clickhouse_url().trim_start_matches("http://").parse().expect("the test's ClickHouse is host:port");
    let port = ioc_e2e::process::free_port();
    let clickhouse = ClickHouseConfig {
        url: format!("http://127.0.0.1:{port}"),
        database: random_name("ioc_late_"),
        ..ClickHouseConfig::default()
    };
    let _dropped =
        ioc_e2e::DropDatabase::at_end(&ClickHouseConfig { url: ioc_e2e::clickhouse_url(), ..clickhouse.clone() });
    let config = ioc_processor::ProcessorConfig {
        clickhouse,
        migrate_wait_seconds: 60,
        ..ioc_processor::ProcessorConfig::default()
    };
    let migrating = tokio::spawn(async move { ioc_processor::migrate(&config).await });
    // Nothing listens at the address yet: the first attempts are refused.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!migrating.is_finished(), "migrate gave up on a ClickHouse not up yet");
    let _node_up = ioc_e2e::relay::Relay::start_on(port, node).await;
    let applied = tokio::time::timeout(Duration::from_secs(60), migrating)
        .await
        .expect("migrate ends once ClickHouse answers")
        .expect("the task")
        .expect("migrations applied");
    assert_eq!(applied.len(), ioc_clickhouse::embedded_migrations().len(), "every migration applied: {applied:?}");
}
