//! ioc-bench-scaling: the processor's throughput with 1, 2 and 4 partitions per topic and as many
//! processor instances in the same consumer groups, on the same simulated events (issue 12, goal
//! 6). For each count: fresh topics of that many partitions filled through ioc-ingest, a fresh
//! database, the instances started together, timed until every row is stored. Writes one figure
//! per count to the results and draws them as SVG.

use std::path::PathBuf;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Parser;
use ioc_clickhouse::ClickHouseConfig;
use ioc_e2e::bench::report::{self, Measure};
use ioc_e2e::bench::{ingest, kafka_engine, processor, sibling_binary, svg};
use ioc_kafka::KafkaConfig;
use ioc_processor::ProcessorConfig;
use ioc_reference::ReferenceData;
use ioc_simulator::Scenario;
use rand::SeedableRng;

#[derive(Parser)]
#[command(about = "Measures the processor's throughput with 1, 2 and 4 partitions and instances")]
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
    /// Simulated days (at scale 1.0 a day is about 40,000 events): enough for the drain to last
    /// well beyond the consumer groups' rebalances as instances join.
    #[arg(long, default_value_t = 24)]
    days: u32,
    /// Share of the province's volume.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Partition counts to measure, each with as many processor instances.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    partitions: Vec<usize>,
    #[command(flatten)]
    outputs: report::Outputs,
    /// Also draw rows per second against partitions, as SVG, into this file.
    #[arg(long)]
    svg: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ioc_service::init_logging();
    let cli = Cli::parse();
    anyhow::ensure!(cli.partitions.iter().all(|p| (1..=64).contains(p)), "--partitions: counts from 1 to 64");
    let reference = ReferenceData::load(&ioc_e2e::repo_root().join("schemas/reference"))?;
    let scenario = Scenario { start: cli.start, days: cli.days, scale: cli.scale };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20_260_302);
    let (events, _) = ioc_simulator::generate::generate(&scenario, &reference, &mut rng);
    anyhow::ensure!(!events.is_empty(), "the scenario produced no event: raise --days or --scale");
    let expected = events.len() as u64;
    let clickhouse_pid = kafka_engine::local_clickhouse_pid()?;

    let mut measures = Vec::new();
    let mut points = Vec::new();
    for &partitions in &cli.partitions {
        let kafka = KafkaConfig {
            brokers: cli.kafka.clone(),
            topic_prefix: ioc_e2e::random_name("bench-scale"),
            partitions: i32::try_from(partitions)?,
            ..KafkaConfig::default()
        };
        let topics: Vec<String> = ioc_domain::Source::ALL.iter().map(|s| s.topic(&kafka.topic_prefix)).collect();
        // With the dead-letter topic, as a deployment has them all (ioc_bench_pipeline).
        let dead_letters = ioc_domain::dead_letter_topic(&kafka.topic_prefix);
        kafka.ensure_topics_and_dead_letters(&topics, &dead_letters).await.context("creating the topics")?;
        ingest::run_ingest(&sibling_binary("ioc-ingest")?, &kafka, &events, 500, 6).await?;
        let database = ClickHouseConfig {
            url: cli.clickhouse.clone(),
            database: ioc_e2e::random_name("bench_scale"),
            ..ClickHouseConfig::default()
        };
        ioc_processor::migrate(&ProcessorConfig { clickhouse: database.clone(), ..ProcessorConfig::default() }).await?;
        let run = processor::run_processors(
            &sibling_binary("ioc-processor")?,
            &kafka,
            &database,
            expected,
            clickhouse_pid,
            partitions,
        )
        .await?;
        database.server_client().query(&format!("DROP DATABASE IF EXISTS {}", database.database)).execute().await?;
        ioc_e2e::topics::clean_up_topics_of(&kafka).await;
        eprintln!("{partitions} partitions and instances: {run:?}");
        let rate = run.rows as f64 / run.wall.as_secs_f64().max(1e-9);
        points.push((partitions as f64, rate));
        let note = format!(
            "{} rows from topics of {partitions} partitions per source, {partitions} processor instances in the same \
             groups, timed from the first start to the last row stored; the instances used {:.2} CPU-s, ClickHouse \
             {:.2} CPU-s, {:.0} batches of {:.0} ms on average ({} per instance); 2 cores for everything; the ratio \
             is to the first count",
            run.rows,
            run.cpu_seconds,
            run.clickhouse_cpu_seconds,
            run.batches,
            run.mean_insert_ms,
            run.batches_per_instance.iter().map(|b| format!("{b:.0}")).collect::<Vec<_>>().join("/")
        );
        let name = format!("processor_rows_per_s_{partitions}p");
        // The goal: the national design point of ops/capacity.md (1,000 events/s while a day
        // is caught up), whatever the count.
        let goal = "pipeline >= 1000";
        measures.push(match points.first() {
            Some((_, first)) if points.len() > 1 => {
                Measure::compared(&name, "rows per second", rate, *first, goal, note)
            }
            _ => Measure::alone(&name, "rows per second", rate, goal, note),
        });
    }
    if let Some(path) = &cli.svg {
        let chart = svg::Chart {
            title: format!("Processor throughput, {expected} rows, one machine of 2 cores"),
            x_label: "partitions per topic = processor instances".into(),
            y_label: "rows stored per second".into(),
            series: vec![svg::Series { name: "rows/s".into(), points }],
        };
        std::fs::write(path, svg::render(&chart)).with_context(|| format!("writing {}", path.display()))?;
    }
    let version: String = ClickHouseConfig { url: cli.clickhouse.clone(), ..ClickHouseConfig::default() }
        .server_client()
        .query("SELECT version()")
        .fetch_one()
        .await?;
    let table = cli.outputs.publish(&format!("ClickHouse {version}"), &measures)?;
    println!("{table}");
    Ok(())
}
