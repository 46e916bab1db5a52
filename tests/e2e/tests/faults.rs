//! Fault scenarios against the real local Kafka and ClickHouse, with ingest and the processor as
//! separate processes: broker and database outages, SIGKILLs, a flood and poison events. In every
//! scenario each acknowledged event must be stored exactly once in effect, and every indicator
//! must equal the ground truth. The figures are written to target/figures/reliability-single-node.md;
//! `ops/record-figures` puts them (with the cluster test's) into the committed RELIABILITY.md.
//!
//! The scenarios stop and start the shared local stack, so they run one after another in a
//! single test. They take a few minutes: `cargo test -p ioc-e2e --test faults`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use ioc_clickhouse::ClickHouseConfig;
use ioc_domain::Source;
use ioc_e2e::process::{binary, free_port, ingest_env, processor_env, ServiceProcess};
use ioc_e2e::prometheus::{alert_expression, has_data, Prometheus};
use ioc_e2e::{fresh_stack, on_stop, random_keys, repo_root, spawn, Running};
use ioc_reference::ReferenceData;
use ioc_simulator::{simulate, Batch, Faults, Scenario, Sender, Simulation};

/// One row of RELIABILITY.md.
struct Figures {
    scenario: &'static str,
    offered: usize,
    acknowledged: usize,
    retried_requests: usize,
    stored: u64,
    duplicate_rows: u64,
    exact: bool,
    note: String,
}

/// The pipeline of one scenario: processes for ingest and processor, api in-process.
struct Cluster {
    kafka: ioc_kafka::KafkaConfig,
    clickhouse: ClickHouseConfig,
    keys: BTreeMap<Source, String>,
    ingest: ServiceProcess,
    processor: ServiceProcess,
    api: Running,
}

fn dev(args: &[&str]) {
    let status = std::process::Command::new(repo_root().join("ops/dev")).args(args).status().expect("ops/dev runs");
    assert!(status.success(), "ops/dev {args:?} failed");
}

impl Cluster {
    async fn start() -> Cluster {
        let (kafka, clickhouse) = fresh_stack("f", "ioc_fault_").await;
        let keys = random_keys();
        let processor_port = free_port();
        let processor_env = processor_env(
            &kafka,
            &clickhouse,
            processor_port,
            &[("IOC_PROCESSOR__BATCH_MAX_WAIT_MS", "300"), ("IOC_PROCESSOR__MAX_RETRY_BACKOFF_MS", "2000")],
        );
        let ingest_port = free_port();
        let ingest_env = ingest_env(&kafka, &keys, ingest_port, &[("IOC_INGEST__KAFKA__MESSAGE_TIMEOUT_MS", "5000")]);
        // The processor creates the topics; start it first.
        let processor =
            ServiceProcess::start("processor", binary("ioc-processor"), processor_port, processor_env).await;
        let ingest = ServiceProcess::start("ingest", binary("ioc-ingest"), ingest_port, ingest_env).await;
        let api_config = ioc_api::ApiConfig { clickhouse: clickhouse.clone(), ..ioc_api::ApiConfig::default() };
        let api = spawn(|listener, stopped| ioc_api::serve(api_config, listener, on_stop(stopped))).await;
        Cluster { kafka, clickhouse, keys, ingest, processor, api }
    }

    async fn count(&self, sql: &str) -> u64 {
        self.clickhouse.client().query(sql).fetch_one::<u64>().await.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn distinct_and_rows(&self) -> (u64, u64) {
        let tables = ["portal_events", "edoc_events", "training_events"];
        let (mut distinct, mut rows) = (0, 0);
        for table in tables {
            distinct += self.count(&format!("SELECT toUInt64(uniqExact(event_id)) FROM {table}")).await;
            rows += self.count(&format!("SELECT toUInt64(count()) FROM {table}")).await;
        }
        (distinct, rows)
    }

    /// Waits until `expected` distinct events are stored (or `timeout`); returns what is stored.
    async fn wait_stored(&self, expected: u64, timeout: Duration) -> (u64, u64) {
        let started = Instant::now();
        loop {
            let (distinct, rows) = self.distinct_and_rows().await;
            if distinct >= expected || started.elapsed() > timeout {
                return (distinct, rows);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    async fn finish(
        self,
        scenario: &'static str,
        run: &Simulation,
        acknowledged: usize,
        retried_requests: usize,
        note: String,
    ) -> Figures {
        let (stored, rows) = self.wait_stored(run.events.len() as u64, Duration::from_secs(180)).await;
        ioc_e2e::wait_for_rollups(&self.clickhouse, &self.api.url, Duration::from_secs(120)).await;
        let differences = ioc_e2e::indicator_differences(&self.api.url, &run.truth).await;
        if !differences.is_empty() {
            eprintln!("{scenario}: {} indicator differences, first: {}", differences.len(), differences[0]);
        }
        let drop_database = format!("DROP DATABASE IF EXISTS {}", self.clickhouse.database);
        let Cluster { mut ingest, mut processor, api, clickhouse, .. } = self;
        ingest.kill();
        processor.kill();
        api.stop().await.expect("api stops");
        clickhouse.server_client().query(&drop_database).execute().await.ok();
        Figures {
            scenario,
            offered: run.events.len(),
            acknowledged,
            retried_requests,
            stored,
            duplicate_rows: rows - stored,
            exact: differences.is_empty(),
            note,
        }
    }
}

fn reference() -> ReferenceData {
    ReferenceData::load(&repo_root().join("schemas/reference")).expect("reference data")
}

/// About 2,500 events in batches of 50: sent with a pause between batches, the stream lasts
/// long enough for the fault to hit it in the middle.
fn steady_run(seed: u64) -> Simulation {
    let scenario = Scenario { start: NaiveDate::from_ymd_opt(2026, 9, 1).expect("date"), days: 6, scale: 0.02 };
    simulate(seed, &scenario, Faults::default(), 50, &reference())
}

/// A stream of batches being sent in a task, so the scenario can break things meanwhile.
struct Stream {
    task: tokio::task::JoinHandle<(usize, usize)>,
    batches_sent: Arc<AtomicUsize>,
}

impl Stream {
    /// Waits until `batches` batches were acknowledged, so a fault hits a stream that flows.
    async fn flowing(&self, batches: usize) {
        let started = Instant::now();
        while self.batches_sent.load(Ordering::Relaxed) < batches {
            assert!(started.elapsed() < Duration::from_secs(60), "the stream did not start flowing within 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// (acknowledged events, retried requests) once every batch was acknowledged.
    async fn done(self) -> (usize, usize) {
        self.task.await.expect("sender task")
    }
}

/// Sends the batches one after another with a pause between them: a steady stream.
fn send_steadily(ingest_url: String, keys: BTreeMap<Source, String>, batches: Vec<Batch>, pause: Duration) -> Stream {
    let batches_sent = Arc::new(AtomicUsize::new(0));
    let progress = batches_sent.clone();
    let task = tokio::spawn(async move {
        let sender = Sender::new(&ingest_url, keys);
        let (mut acknowledged, mut retries) = (0, 0);
        for batch in &batches {
            let (accepted, retried) = sender.send(batch).await.expect("ingest acknowledges every batch in the end");
            acknowledged += accepted;
            retries += retried;
            progress.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(pause).await;
        }
        (acknowledged, retries)
    });
    Stream { task, batches_sent }
}

async fn kafka_outage() -> Figures {
    let cluster = Cluster::start().await;
    let run = steady_run(101);
    let sending = send_steadily(
        cluster.ingest.url.clone(),
        cluster.keys.clone(),
        run.batches.clone(),
        Duration::from_millis(200),
    );
    // Prometheus, with the project's rules, watches ingest as it would in production.
    let prometheus = Prometheus::start(&[("ioc-ingest", &cluster.ingest.url)]).await;
    let alert = alert_expression("IocIngestKafkaUnacknowledged");
    sending.flowing(5).await;
    // The expression takes the counter's increase, which needs two samples: at the first
    // scrape it has no answer whatever ingest counts. Three samples of the flowing load first.
    let sampled = "min(count_over_time(ioc_ingest_events_total{outcome=\"unacknowledged\"}[1m])) >= 3";
    assert!(prometheus.wait_until(sampled, Duration::from_secs(30), has_data).await, "no samples: {sampled}");
    assert!(!has_data(&prometheus.query(&alert).await.expect("valid")), "the alert holds before the outage");
    let stopped = Instant::now();
    dev(&["stop", "kafka"]);
    // The alert's expression must hold while the broker is down (its `for:` then decides when
    // to page).
    let alerted = prometheus.wait_until(&alert, Duration::from_secs(28), has_data).await;
    tokio::time::sleep(Duration::from_secs(30).saturating_sub(stopped.elapsed())).await;
    dev(&["start", "kafka"]);
    let (acknowledged, retries) = sending.done().await;
    assert!(alerted, "IocIngestKafkaUnacknowledged's expression never held during the outage: {alert}");
    cluster
        .finish(
            "Kafka broker stopped 30 s under load",
            &run,
            acknowledged,
            retries,
            "ingest answered 503 + Retry-After while the broker was down".into(),
        )
        .await
}

async fn clickhouse_outage() -> Figures {
    let cluster = Cluster::start().await;
    let run = steady_run(102);
    let sending = send_steadily(
        cluster.ingest.url.clone(),
        cluster.keys.clone(),
        run.batches.clone(),
        Duration::from_millis(1000),
    );
    // ClickHouse finishes its open keep-alive connections before it stops (about 10 s): the
    // stream lasts about 50 s so events keep arriving while it is really down.
    sending.flowing(5).await;
    dev(&["stop", "clickhouse"]);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let metrics =
        reqwest::get(format!("{}/metrics", cluster.processor.url)).await.expect("metrics").text().await.expect("text");
    let paused = metrics.lines().filter(|l| l.starts_with("ioc_processor_paused{") && l.ends_with(" 1")).count();
    dev(&["start", "clickhouse"]);
    assert!(paused >= 1, "no source paused its partitions while clickhouse was down:\n{metrics}");
    let (acknowledged, retries) = sending.done().await;
    let note =
        format!("processor paused {paused} of 3 sources' partitions while ClickHouse was down, resumed by itself");
    cluster.finish("ClickHouse stopped 60 s while consuming", &run, acknowledged, retries, note).await
}

async fn processor_killed_ten_times() -> Figures {
    let mut cluster = Cluster::start().await;
    let run = steady_run(103);
    let sending = send_steadily(
        cluster.ingest.url.clone(),
        cluster.keys.clone(),
        run.batches.clone(),
        Duration::from_millis(400),
    );
    sending.flowing(2).await;
    let mut killed_while_sending = 0;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(900)).await;
        cluster.processor.kill();
        killed_while_sending += usize::from(!sending.is_finished());
        cluster.processor.restart().await;
    }
    let (acknowledged, retries) = sending.done().await;
    let note = format!(
        "restarted at once each time; {killed_while_sending} of the 10 kills hit while events were still arriving"
    );
    cluster.finish("Processor SIGKILLed 10 times mid-batch", &run, acknowledged, retries, note).await
}

async fn ingest_killed_under_load() -> Figures {
    let mut cluster = Cluster::start().await;
    let run = steady_run(104);
    let sending = send_steadily(
        cluster.ingest.url.clone(),
        cluster.keys.clone(),
        run.batches.clone(),
        Duration::from_millis(150),
    );
    sending.flowing(2).await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(800)).await;
        cluster.ingest.kill();
        tokio::time::sleep(Duration::from_secs(1)).await;
        cluster.ingest.restart().await;
    }
    let (acknowledged, retries) = sending.done().await;
    cluster
        .finish(
            "Ingest SIGKILLed 3 times under load",
            &run,
            acknowledged,
            retries,
            "the simulator resent what was not acknowledged".into(),
        )
        .await
}

/// The training source floods; events whose due time ClickHouse cannot store reach the portal's
/// topic without ingest (which refuses them), as from a misconfigured producer or an older
/// ingest, and fail processing; the e-document source's events must still be stored promptly.
async fn flood_and_poison() -> Figures {
    let cluster = Cluster::start().await;
    let scenario = Scenario { start: NaiveDate::from_ymd_opt(2026, 9, 1).expect("date"), days: 10, scale: 0.25 };
    let run = simulate(105, &scenario, Faults::default(), 500, &reference());
    let batches_of = |source: Source| run.batches.iter().filter(|b| b.source == source).cloned().collect::<Vec<_>>();
    let flood = batches_of(Source::Training);
    let flood_events: usize = flood.iter().map(|b| b.events.len()).sum();
    let portal = batches_of(Source::Portal);
    let poison_count = 200;
    let poison: Vec<ioc_domain::Event> = run
        .events
        .iter()
        .filter(|e| e.source == Source::Portal)
        .filter_map(|e| {
            let mut bad = e.clone();
            match &mut bad.body {
                ioc_domain::EventBody::DossierReceived(received) => {
                    received.due_at = "2200-01-01T17:00:00+07:00".parse().expect("time");
                    bad.event_id = uuid::Uuid::new_v4();
                    // No clear identifier on a topic, even a synthetic one.
                    bad.pseudonymise(|_| "0".repeat(64));
                    Some(bad)
                }
                _ => None,
            }
        })
        .take(poison_count)
        .collect();
    let producer = cluster.kafka.producer().expect("producer");
    let topic = Source::Portal.topic(&cluster.kafka.topic_prefix);
    for event in &poison {
        let payload = serde_json::to_vec(event).expect("json");
        let record = rdkafka::producer::FutureRecord::to(&topic).key(event.body.entity_id()).payload(&payload);
        producer.send(record, Duration::from_secs(10)).await.expect("poison produced");
    }

    let flooders: Vec<_> = flood
        .chunks(flood.len().div_ceil(2).max(1))
        .map(|part| send_steadily(cluster.ingest.url.clone(), cluster.keys.clone(), part.to_vec(), Duration::ZERO))
        .collect();
    let portal_sender = send_steadily(cluster.ingest.url.clone(), cluster.keys.clone(), portal, Duration::ZERO);

    // Probe the e-document source while the others flood: time from acknowledgement to storage.
    let sender = Sender::new(&cluster.ingest.url, cluster.keys.clone());
    let mut worst = Duration::ZERO;
    let (mut acknowledged, mut retries) = (0, 0);
    for batch in batches_of(Source::Edoc) {
        let (accepted, retried) = sender.send(&batch).await.expect("edoc batch acknowledged");
        acknowledged += accepted;
        retries += retried;
        let acked_at = Instant::now();
        let ids = batch.events.iter().map(|e| format!("'{}'", e.event_id)).collect::<Vec<_>>().join(",");
        let sql = format!("SELECT toUInt64(uniqExact(event_id)) FROM edoc_events WHERE event_id IN ({ids})");
        while cluster.count(&sql).await < batch.events.len() as u64 {
            assert!(acked_at.elapsed() < Duration::from_secs(60), "e-document events starved for 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        worst = worst.max(acked_at.elapsed());
    }
    for flooder in flooders {
        let (a, r) = flooder.done().await;
        acknowledged += a;
        retries += r;
    }
    let (a, r) = portal_sender.done().await;
    acknowledged += a;
    retries += r;
    let dead = dead_letters_reaching(&cluster.processor.url, poison_count, Duration::from_secs(60)).await;
    assert_eq!(dead, poison_count, "every poison event is dead-lettered");
    assert!(worst < Duration::from_secs(10), "e-document events waited {worst:?} behind the flood");
    let note = format!(
        "{flood_events} training events flooded; {poison_count} poison portal events, {dead} dead-lettered; e-document events stored at most {} ms after acknowledgement",
        worst.as_millis()
    );
    cluster.finish("Training flood + portal poison", &run, acknowledged, retries, note).await
}

/// Reads the processor's count of portal events dead-lettered for a time ClickHouse cannot hold
/// until it reaches `expected` or `timeout` passes.
async fn dead_letters_reaching(processor: &str, expected: usize, timeout: Duration) -> usize {
    let started = Instant::now();
    loop {
        let dead = ioc_e2e::metric(
            processor,
            ioc_service::metric_names::PROCESSOR_DEAD_LETTERS,
            &[("source", "portal"), ("reason", "time_out_of_range")],
        )
        .await
        .unwrap_or(0.0) as usize;
        if dead >= expected || started.elapsed() > timeout {
            return dead;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_events_survive_every_fault_exactly_once() {
    ioc_service::init_logging();
    let mut figures = Vec::new();
    figures.push(kafka_outage().await);
    figures.push(clickhouse_outage().await);
    figures.push(processor_killed_ten_times().await);
    figures.push(ingest_killed_under_load().await);
    figures.push(flood_and_poison().await);

    let mut report = String::from(
        "# Reliability figures\n\nMeasured by `cargo test -p ioc-e2e --test faults` (part of `ops/test`; the run writes target/figures/, `ops/record-figures` copies the figures here) against the real local \
         Kafka and ClickHouse; do not edit by hand. Offered: distinct events the simulator sent. Acknowledged: events ingest \
         answered as accepted (the same event again after a retry counts again). Stored: distinct events in ClickHouse. \
         Duplicate rows: stored rows beyond one per event, before ClickHouse merged them (redeliveries). Exact: every indicator \
         for the province and all 161 units equals the simulator's ground truth.\n\n\
         | scenario | offered | acknowledged | retried requests | stored | lost | duplicate rows | indicators exact | notes |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for f in &figures {
        let lost = (f.offered as u64).saturating_sub(f.stored);
        let _ = writeln!(
            report,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            f.scenario,
            f.offered,
            f.acknowledged,
            f.retried_requests,
            f.stored,
            lost,
            f.duplicate_rows,
            if f.exact { "yes" } else { "no" },
            f.note
        );
    }
    // Under target/, not over the committed file: a test run leaves the tree as it found it.
    let figures_dir = repo_root().join("target/figures");
    std::fs::create_dir_all(&figures_dir).expect("target/figures");
    std::fs::write(figures_dir.join("reliability-single-node.md"), &report)
        .expect("write target/figures/reliability-single-node.md");
    eprintln!("{report}");
    for f in &figures {
        assert_eq!(f.stored, f.offered as u64, "{}: events lost", f.scenario);
        assert!(f.acknowledged >= f.offered, "{}: not every event was acknowledged", f.scenario);
        assert!(f.exact, "{}: indicators differ from the ground truth", f.scenario);
    }
}
