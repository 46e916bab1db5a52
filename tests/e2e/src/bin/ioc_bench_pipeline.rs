//! ioc-bench-pipeline: ioc-ingest beside kcat and ioc-processor beside a plain INSERT, on the
//! same simulated events, on the local stack; the figures are merged into a BENCHMARKS.json
//! (and its Markdown table). `ops/bench` runs it with release builds; the smoke test with a
//! handful of events. See BENCHMARKS.md for what each figure means.

use anyhow::Context;
use chrono::NaiveDate;
use clap::Parser;
use ioc_clickhouse::ClickHouseConfig;
use ioc_e2e::bench::ingest::LineProducer;
use ioc_e2e::bench::report::{self, Measure};
use ioc_e2e::bench::{ingest, kafka_engine, processor, sibling_binary};
use ioc_kafka::KafkaConfig;
use ioc_processor::ProcessorConfig;
use ioc_reference::ReferenceData;
use ioc_simulator::Scenario;
use rand::SeedableRng;

#[derive(Parser)]
#[command(about = "Measures ingest against kcat and the processor against a plain INSERT")]
struct Cli {
    /// Kafka bootstrap servers.
    #[arg(long, default_value = "127.0.0.1:9092")]
    kafka: String,
    /// ClickHouse HTTP endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8123")]
    clickhouse: String,
    /// First simulated day.
    #[arg(long, default_value = "2026-03-02")]
    start: NaiveDate,
    /// Simulated days (at scale 1.0 a day is about 40,000 events).
    #[arg(long, default_value_t = 8)]
    days: u32,
    /// Share of the province's volume.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Events per request to ingest.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Clients sending to ingest at once.
    #[arg(long, default_value_t = 6)]
    senders: usize,
    /// Runs of each side; the median run is reported (the CPU figures of one run moved by a
    /// third from run to run on the 2-core machine).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    #[command(flatten)]
    outputs: report::Outputs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ioc_service::init_logging();
    let cli = Cli::parse();
    let root = ioc_e2e::repo_root();
    let reference = ReferenceData::load(&root.join("schemas/reference"))?;
    let scenario = Scenario { start: cli.start, days: cli.days, scale: cli.scale };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20_260_302);
    let (events, _) = ioc_simulator::generate::generate(&scenario, &reference, &mut rng);
    anyhow::ensure!(!events.is_empty(), "the scenario produced no event: raise --days or --scale");
    eprintln!("{} events generated ({} days at scale {})", events.len(), cli.days, cli.scale);
    let work_dir = std::env::temp_dir().join(ioc_e2e::random_name("ioc-bench"));
    std::fs::create_dir_all(&work_dir)?;

    // Ingest, then kcat, on the same events, each into topics of its own.
    let kafka = |prefix: &str| KafkaConfig {
        brokers: cli.kafka.clone(),
        topic_prefix: ioc_e2e::random_name(prefix),
        ..KafkaConfig::default()
    };
    // Each run of ingest into topics of its own: the processor drains the first run's.
    let repeats = cli.repeats.max(1);
    let (mut ingest_runs, mut kcat_runs, mut pipeline_topics) = (Vec::new(), Vec::new(), Vec::new());
    let (mut kcat_topics, mut client_runs) = (Vec::new(), Vec::new());
    // What the Kafka client costs ingest by itself: the ceiling of ingest's ratio to kcat.
    // Ingest's events per Kafka message: its default, or what the environment gives the ingest
    // processes the harness starts (they inherit it), so that the bare producer packs the same.
    let per_message = std::env::var("IOC_INGEST__MAX_EVENTS_PER_MESSAGE")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(ioc_ingest::IngestConfig::default().max_events_per_message);
    let bare_producer = LineProducer::KafkaClient {
        binary: sibling_binary("ioc_bench_bare_producer")?,
        batch: cli.batch,
        senders: cli.senders,
        per_message,
    };
    // kcat's and the bare producer's input, written once for every run (work_dir goes at the end).
    let line_files = ingest::write_line_files(&events, &work_dir)?;
    for _ in 0..repeats {
        let ingest_kafka = kafka("bench-ingest");
        let topics: Vec<String> = ioc_domain::Source::ALL.iter().map(|s| s.topic(&ingest_kafka.topic_prefix)).collect();
        // The dead-letter topic too: the processor's timed start is that of a deployment whose
        // topics exist, as the plain INSERT's tables do.
        let dead_letters = ioc_domain::dead_letter_topic(&ingest_kafka.topic_prefix);
        ingest_kafka
            .ensure_topics_and_dead_letters(&topics, &dead_letters)
            .await
            .context("creating ingest's topics")?;
        ingest_runs.push(
            ingest::run_ingest(&sibling_binary("ioc-ingest")?, &ingest_kafka, &events, cli.batch, cli.senders).await?,
        );
        let kcat_kafka = kafka("bench-kcat");
        kcat_runs.push(ingest::run_line_producer(&LineProducer::Kcat, &kcat_kafka, &line_files).await?);
        kcat_topics.push(kcat_kafka);
        let client_kafka = kafka("bench-client");
        client_runs.push(ingest::run_line_producer(&bare_producer, &client_kafka, &line_files).await?);
        kcat_topics.push(client_kafka);
        pipeline_topics.push(ingest_kafka);
    }
    let pipeline_kafka = pipeline_topics.swap_remove(0);
    let ingested = ingest_runs[median_index(&ingest_runs, ingest::ProducerRun::per_cpu_second)];
    let kcat = kcat_runs[median_index(&kcat_runs, ingest::ProducerRun::per_cpu_second)];
    let client = client_runs[median_index(&client_runs, ingest::ProducerRun::per_cpu_second)];
    eprintln!("ingest: {ingest_runs:?}\nkcat: {kcat_runs:?}\nthe Kafka client alone: {client_runs:?}");

    // The processor drains what ingest produced; then the same rows by one plain INSERT each.
    let database = |prefix: &str| ClickHouseConfig {
        url: cli.clickhouse.clone(),
        database: ioc_e2e::random_name(prefix),
        ..ClickHouseConfig::default()
    };
    // And ClickHouse's Kafka engine drains the same topics.
    let processed_dbs: Vec<ClickHouseConfig> = (0..repeats).map(|_| database("bench_processor")).collect();
    // The anchor is timed as often as the processor: one plain INSERT of these rows moved from
    // 0.53 to 0.93 s between runs on the 2-core machine, which alone swung the ratio from 0.37
    // to 0.66 when it ran once.
    let inserted_dbs: Vec<ClickHouseConfig> = (0..repeats).map(|_| database("bench_insert")).collect();
    let engine_db = database("bench_engine");
    for config in processed_dbs.iter().chain(&inserted_dbs).chain([&engine_db]) {
        ioc_processor::migrate(&ProcessorConfig { clickhouse: config.clone(), ..ProcessorConfig::default() }).await?;
    }
    let expected = events.len() as u64;
    let clickhouse_pid = kafka_engine::local_clickhouse_pid()?;
    // Each run in a consumer group of its own, from the topics' start, into a database of its own.
    let mut processor_runs = Vec::new();
    for processed_db in &processed_dbs {
        processor_runs.push(
            processor::run_processor(
                &sibling_binary("ioc-processor")?,
                &pipeline_kafka,
                processed_db,
                expected,
                clickhouse_pid,
            )
            .await?,
        );
    }
    let processed_db = &processed_dbs[0];
    // Rows per second, by which the runs of the processor and of the plain INSERT are ranked.
    let run_rate = |run: &processor::ProcessorRun| run.rows as f64 / run.wall.as_secs_f64();
    let insert_run_rate = |took: &std::time::Duration| expected as f64 / took.as_secs_f64();
    let processed = processor_runs[median_index(&processor_runs, run_rate)].clone();
    let mut insert_runs = Vec::new();
    for inserted_db in &inserted_dbs {
        let (inserted_rows, took) = processor::plain_insert(processed_db, inserted_db).await?;
        anyhow::ensure!(inserted_rows == expected, "the plain INSERT stored {inserted_rows} rows, not {expected}");
        insert_runs.push(took);
    }
    // By rate, as the processor's runs: with an even count, both take the faster middle run.
    let insert_took = insert_runs[median_index(&insert_runs, insert_run_rate)];
    let inserted_rows = expected;
    let engine = kafka_engine::run_kafka_engine(&pipeline_kafka, &engine_db, expected, clickhouse_pid).await?;
    eprintln!(
        "processor: {processor_runs:?}\nplain insert: {inserted_rows} rows in {insert_runs:?}\nKafka engine: {engine:?}"
    );
    for config in processed_dbs.iter().chain(&inserted_dbs).chain([&engine_db]) {
        config.server_client().query(&format!("DROP DATABASE IF EXISTS {}", config.database)).execute().await?;
    }
    std::fs::remove_dir_all(&work_dir).ok();
    for topics in pipeline_topics.iter().chain(&kcat_topics).chain([&pipeline_kafka]) {
        ioc_e2e::topics::clean_up_topics_of(topics).await;
    }

    let insert_rate = inserted_rows as f64 / insert_took.as_secs_f64().max(1e-9);
    let processor_rate = processed.rows as f64 / processed.wall.as_secs_f64().max(1e-9);
    let measures = [
        Measure::compared(
            "ingest_vs_kcat",
            "events per CPU-second of the producing process",
            ingested.per_cpu_second(),
            kcat.per_cpu_second(),
            "ratio >= 0.5",
            format!(
                "{} events in batches of {} from {} senders, at most {per_message} per Kafka message, acks=all; the median of \
                 {repeats} runs each (ingest {}; kcat {}); wall-clock: ingest {:.0} events/s, kcat {:.0} events/s \
                 (kcat's own start-up included)",
                events.len(),
                cli.batch,
                cli.senders,
                spread(&ingest_runs, ingest::ProducerRun::per_cpu_second),
                spread(&kcat_runs, ingest::ProducerRun::per_cpu_second),
                ingested.per_second(),
                kcat.per_second()
            ),
        ),
        Measure::compared(
            "kafka_client_vs_kcat",
            "events per CPU-second of the producing process",
            client.per_cpu_second(),
            kcat.per_cpu_second(),
            "ratio >= 0.5",
            format!(
                "the ceiling of ingest_vs_kcat: kcat's input (the same events, already serialised) produced by \
                 ioc_bench_bare_producer, the Kafka client configured and called as ingest does (at most \
                 {per_message} events per message, with a traceparent header; {} events awaited together by {} senders) and \
                 nothing else; the median of \
                 {repeats} runs ({}); ingest reaches {:.2} of it",
                cli.batch,
                cli.senders,
                spread(&client_runs, ingest::ProducerRun::per_cpu_second),
                ingested.per_cpu_second() / client.per_cpu_second().max(1e-9)
            ),
        ),
        Measure::compared(
            "processor_vs_client_insert",
            "rows per second",
            processor_rate,
            insert_rate,
            "ratio >= 0.5",
            format!(
                "{} rows from pre-filled topics, rollups off, timed from the processor's start to the last row \
                 stored, the median of {repeats} runs ({}); it used {:.0} rows per CPU-second of its own, in {:.0} \
                 batches each inserted in {:.0} ms and committed in {:.1} ms on average; the anchor is one INSERT ... \
                 FORMAT JSONEachRow per table over HTTP of the same rows, the median of {repeats} runs ({} rows/s)",
                processed.rows,
                spread(&processor_runs, run_rate),
                processed.rows as f64 / processed.cpu_seconds.max(1e-9),
                processed.batches,
                processed.mean_insert_ms,
                processed.mean_commit_ms,
                spread(&insert_runs, insert_run_rate)
            ),
        ),
        Measure::compared(
            "processor_vs_kafka_engine",
            "rows per CPU-second (the consuming process and ClickHouse together)",
            processed.rows as f64 / (processed.cpu_seconds + processed.clickhouse_cpu_seconds).max(1e-9),
            engine.rows as f64 / engine.clickhouse_cpu_seconds.max(1e-9),
            "ratio >= 1",
            format!(
                "the same {} events; the processor used {:.2} CPU-s and ClickHouse {:.2} CPU-s storing them ({:.0} rows \
                 per CPU-second of the processor alone); ClickHouse's Kafka engine (a Kafka table and a materialized \
                 view per topic into the same tables, blocks of up to 65,536 rows, no validation, dead letters or \
                 positions) used {:.2} CPU-s of ClickHouse and {:.1} s of wall time ({:.0} rows/s, its last partial \
                 block waiting for the 7.5 s flush interval)",
                processed.rows,
                processed.cpu_seconds,
                processed.clickhouse_cpu_seconds,
                processed.rows as f64 / processed.cpu_seconds.max(1e-9),
                engine.clickhouse_cpu_seconds,
                engine.wall.as_secs_f64(),
                engine.rows as f64 / engine.wall.as_secs_f64().max(1e-9)
            ),
        ),
        Measure::alone(
            "rss_ingest_mb",
            "MiB, peak resident (VmHWM)",
            ingested.peak_rss_mb,
            "pipeline <= 150",
            "after the ingest benchmark above".into(),
        ),
        Measure::alone(
            "rss_processor_mb",
            "MiB, peak resident (VmHWM)",
            processed.peak_rss_mb,
            "pipeline <= 150",
            "after draining the topics above".into(),
        ),
    ];
    let engines = engine_versions(&cli.clickhouse).await;
    let table = cli.outputs.publish(&engines, &measures)?;
    println!("{table}");
    Ok(())
}

/// The index of the run whose `key` is the median (the upper one of an even count).
fn median_index<T>(runs: &[T], key: impl Fn(&T) -> f64) -> usize {
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by(|a, b| key(&runs[*a]).total_cmp(&key(&runs[*b])));
    order[runs.len() / 2]
}

/// Every run's `key`, rounded, in the order they ran: "81643, 132201, 139227".
fn spread<T>(runs: &[T], key: impl Fn(&T) -> f64) -> String {
    runs.iter().map(|run| format!("{:.0}", key(run))).collect::<Vec<_>>().join(", ")
}

/// ClickHouse's and kcat's versions, for the machine line.
async fn engine_versions(clickhouse: &str) -> String {
    let config = ClickHouseConfig { url: clickhouse.to_owned(), ..ClickHouseConfig::default() };
    let server = config.server_client().query("SELECT version()").fetch_one::<String>().await.unwrap_or_default();
    let kcat = std::process::Command::new("kcat")
        .arg("-V")
        .output()
        .map(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            // "Version 1.7.1 (JSON, ..., librdkafka 2.0.2 builtin.features=...)": the two versions.
            let line = text.lines().find_map(|l| l.strip_prefix("Version ")).unwrap_or_default();
            let kcat = line.split_whitespace().next().unwrap_or_default();
            let librdkafka = line.split("librdkafka ").nth(1).and_then(|rest| rest.split_whitespace().next());
            format!("{kcat} (librdkafka {})", librdkafka.unwrap_or("unknown"))
        })
        .unwrap_or_default();
    format!("ClickHouse {server}; kcat {kcat}")
}
