//! ioc-processor against real Kafka and ClickHouse: poison messages go to the dead-letter
//! topic with their provenance and do not block the topic; migrations apply once.

use std::time::Duration;

use ioc_domain::{dead_letter_topic, Source};
use ioc_e2e::{post_ndjson, random_name, Pipeline};
use ioc_processor::dead_letter::header as names;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Headers;
use rdkafka::producer::FutureRecord;
use rdkafka::Message;

const EXAMPLE: &str = include_str!("../../../schemas/events/examples/valid/dossier.received.json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_dead_lettered_and_the_events_behind_it_are_stored() {
    let pipeline = Pipeline::start().await;
    let topic = Source::Portal.topic(&pipeline.kafka.topic_prefix);
    let producer = pipeline.kafka.producer().expect("producer");
    // Bypasses ingest, as a misconfigured producer would, keyed like the valid dossier below so
    // both land in the same partition and the valid event really queues behind the poison.
    let poison = FutureRecord::to(&topic).key("H37.105-261005-0001").payload("{\"this is\": \"not an event\"}");
    producer.send(poison, Duration::from_secs(10)).await.expect("poison produced");

    let response =
        post_ndjson(&pipeline.ingest.url, Source::Portal, &pipeline.keys[&Source::Portal], EXAMPLE.replace('\n', ""))
            .await;
    assert_eq!(response.status(), 200);
    pipeline.wait_for_events(1, Duration::from_secs(60)).await;

    let consumer: StreamConsumer = pipeline.kafka.consumer(&random_name("g")).expect("consumer");
    consumer.subscribe(&[&dead_letter_topic(&pipeline.kafka.topic_prefix)]).expect("subscribe");
    let letter = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .expect("a dead letter within 30s")
        .expect("message");
    assert_eq!(letter.payload(), Some(&b"{\"this is\": \"not an event\"}"[..]));
    let headers = letter.headers().expect("provenance headers");
    let header = |name: &str| {
        headers
            .iter()
            .find(|h| h.key == name)
            .and_then(|h| h.value)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_else(|| panic!("header {name} missing"))
    };
    assert_eq!(header(names::SOURCE_TOPIC), topic);
    assert!(header(names::ERROR).contains("undecodable"));
    header(names::SOURCE_OFFSET).parse::<i64>().expect("numeric offset");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_are_listed_and_replayed_once_and_still_counted_once() {
    let pipeline = Pipeline::start().await;
    let portal_topic = Source::Portal.topic(&pipeline.kafka.topic_prefix);
    // The event arrives normally...
    let response =
        post_ndjson(&pipeline.ingest.url, Source::Portal, &pipeline.keys[&Source::Portal], EXAMPLE.replace('\n', ""))
            .await;
    assert_eq!(response.status(), 200);
    pipeline.wait_for_events(1, Duration::from_secs(60)).await;
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
