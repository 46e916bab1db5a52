//! A backfill over more than 100 months (ingest's `max_event_age_days` raised for it) reaches the
//! processor as batches whose rows fall in more monthly partitions than a current ClickHouse
//! takes in one INSERT (`max_partitions_per_insert_block`, 100 by default; 18.16 has no such
//! limit), and its first rollup cycle recomputes every month from the earliest into its staging
//! tables in one INSERT ... SELECT. Both refusals were retried for ever: the source stopped,
//! and the dashboard's numbers with it. The processor now writes such a batch in several
//! inserts, by month, and the rollup lifts the limit for its own statements: every event is
//! stored and every month rolled up, on a current engine (chdb,
//! tests/e2e/src/current_engine.rs) and on 18.16.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use ioc_domain::Source;
use ioc_e2e::current_engine::CurrentEngine;
use ioc_e2e::process::ServiceProcess;
use ioc_e2e::{clickhouse_url, kafka_brokers, migrated_database, random_name, repo_root};
use ioc_kafka::KafkaConfig;
use ioc_reference::ReferenceData;
use ioc_simulator::{simulate, Faults, Scenario};

/// Months the backfill spans, one event in each.
const MONTHS: u32 = 150;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_over_150_months_is_stored_and_rolled_up_on_a_current_engine_and_on_18_16() {
    let engine = CurrentEngine::start();
    eprintln!("current engine: {}", engine.banner);
    for url in [engine.url.clone(), clickhouse_url()] {
        let clickhouse = migrated_database(random_name("ioc_backfill_"), url.clone()).await;
        let _dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
        let kafka = KafkaConfig { brokers: kafka_brokers(), topic_prefix: random_name("bf"), ..KafkaConfig::default() };
        let extra = [("IOC_PROCESSOR__BATCH_MAX_WAIT_MS", "3000")];
        let mut processor = ServiceProcess::processor("processor-backfill", &kafka, &clickhouse, &extra).await;

        // Simulated dossiers' receptions moved one month apart, from January 2012, produced
        // together (as a backfill's batch would come) to one partition, without ingest.
        let reference = ReferenceData::load(&repo_root().join("schemas/reference")).expect("reference");
        let scenario = Scenario { start: NaiveDate::from_ymd_opt(2026, 9, 1).expect("date"), days: 2, scale: 0.05 };
        let run = simulate(81, &scenario, Faults::default(), 200, &reference);
        let mut dossiers = std::collections::BTreeSet::new();
        let first = chrono::DateTime::parse_from_rfc3339("2012-01-10T09:00:00+07:00").expect("time");
        let events: Vec<ioc_domain::Event> = run
            .events
            .iter()
            .filter(|e| matches!(e.body, ioc_domain::EventBody::DossierReceived(_)))
            // One reception per dossier: a dossier counts once, at its first (the simulator
            // sends some twice).
            .filter(|e| dossiers.insert(e.body.entity_id().to_owned()))
            .take(MONTHS as usize)
            .zip(0..MONTHS)
            .map(|(e, month)| {
                let mut event = e.clone();
                event.occurred_at = first.checked_add_months(chrono::Months::new(month)).expect("month");
                event.pseudonymise(|_| "0".repeat(64));
                event
            })
            .collect();
        assert_eq!(events.len(), MONTHS as usize, "the simulated days have {MONTHS} receptions");
        let topic = Source::Portal.topic(&kafka.topic_prefix);
        let payloads: Vec<Vec<u8>> = events.iter().map(|e| serde_json::to_vec(e).expect("json")).collect();
        ioc_e2e::produce_together(&kafka, &topic, &payloads).await;

        let count = "SELECT toUInt64(count()), toUInt64(uniqExact(toYYYYMM(occurred_at))) FROM portal_events";
        let deadline = Instant::now() + Duration::from_secs(60);
        let (stored, months) = loop {
            let (stored, months): (u64, u64) = clickhouse.client().query(count).fetch_one().await.expect("count");
            if stored >= u64::from(MONTHS) || Instant::now() > deadline {
                break (stored, months);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let log = processor.log_text();
        assert_eq!(stored, u64::from(MONTHS), "events stored on {url}\n{log}");
        assert_eq!(months, u64::from(MONTHS), "monthly partitions on {url}");
        let batches = ioc_e2e::metric(&processor.url, "ioc_processor_batch_rows_count", &[("source", "portal")])
            .await
            .unwrap_or(0.0);
        assert_eq!(batches, 1.0, "the events came as one batch, as a backfill's would, on {url}");

        // Rolled up: each reception counts in its own month (the measures' months).
        let rolled_up = "SELECT toUInt64(uniqExact(toYYYYMM(day))) FROM measures_daily \
                         WHERE source = 'portal' AND measure = 'received' AND day < toDate('2026-01-01')";
        let deadline = Instant::now() + Duration::from_secs(60);
        let months_rolled_up = loop {
            let months: u64 = clickhouse.client().query(rolled_up).fetch_one().await.expect("measures");
            if months >= u64::from(MONTHS) || Instant::now() > deadline {
                break months;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let log = processor.log_text();
        assert_eq!(months_rolled_up, u64::from(MONTHS), "months of receptions rolled up on {url}\n{log}");
        processor.kill();
        ioc_e2e::topics::clean_up_topics_of(&kafka).await;
    }
}
