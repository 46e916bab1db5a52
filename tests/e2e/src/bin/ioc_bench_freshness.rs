//! ioc-bench-freshness: how old the numbers on the screen are under a steady load, with history
//! already loaded. Runs ingest, the processor (rollups at their production settings) and the
//! API as release processes on a database `ioc_bench` filled (a simulated year), sends a steady
//! load to ingest, and meanwhile sends a probe event every second (bench/freshness.rs), each
//! timed from ingest's acknowledgement until `GET /v1/kpis` answers with rollups that include
//! it. Also reports the rollup cycle's mean duration over that history. The months the
//! live cycles recompute are first filled to the province's real volume (bench/backdrop.rs).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use ioc_clickhouse::ClickHouseConfig;
use ioc_domain::Source;
use ioc_e2e::bench::report::{self, Measure};
use ioc_e2e::bench::{freshness, milliseconds_at, sibling_binary, steady, svg};
use ioc_e2e::process::{api_env, free_port, ingest_env, processor_env, ServiceProcess};
use ioc_kafka::KafkaConfig;
use ioc_reference::ReferenceData;
use ioc_simulator::Scenario;
use rand::SeedableRng;

#[derive(Parser)]
#[command(about = "Measures freshness under a steady load with history loaded")]
struct Cli {
    /// Kafka bootstrap servers.
    #[arg(long, default_value = "127.0.0.1:9092")]
    kafka: String,
    /// ClickHouse HTTP endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8123")]
    clickhouse: String,
    /// The database holding the history (ioc_bench loads it); its rollups must be up to date.
    #[arg(long, default_value = "ioc_bench")]
    database: String,
    /// Offered load, events per second.
    #[arg(long, default_value_t = 2000)]
    rate: usize,
    /// How long probes are sent under the load (after a 20 s warm-up).
    #[arg(long, default_value_t = 180)]
    seconds: u64,
    /// The volume the days from the first of the month before the load are filled to, as a share
    /// of the province's (bench/backdrop.rs): 1.0 for a real figure, 0 to add nothing.
    #[arg(long, default_value_t = 1.0)]
    backdrop_scale: f64,
    /// A probe is sent every this many milliseconds, whether or not the ones before arrived.
    #[arg(long, default_value_t = 1000)]
    probe_every_ms: u64,
    /// The processor's rollup interval (default: its configuration's default).
    #[arg(long)]
    rollup_interval_ms: Option<u64>,
    /// The processor's rollup margin, which holds each cycle's `covered_until` that many seconds
    /// before its start (default: its configuration's default, 0).
    #[arg(long)]
    rollup_margin_seconds: Option<u32>,
    /// Name of the freshness figure in the results (another name keeps a run with other
    /// rollup settings beside the default one); the cycle's figure is named after it.
    #[arg(long, default_value = "freshness_p99_ms")]
    name: String,
    /// The processor's log filter (RUST_LOG), for example `warn,ioc_processor::rollup=debug` for
    /// each cycle's steps; its log is in the temp dir (ioc-bench-fresh-processor-*.log).
    #[arg(long, default_value = "warn")]
    processor_log: String,
    #[command(flatten)]
    outputs: report::Outputs,
    /// Also draw each probe's times against when it was sent, as SVG, into this file.
    #[arg(long)]
    svg: Option<PathBuf>,
}

/// About how many events the simulator makes for one day of the whole province (scale 1.0).
const EVENTS_PER_DAY_AT_SCALE_1: usize = 40_000;

/// Warm-up before probes are timed: the consumer groups join and the first cycles run.
const WARM_UP: Duration = Duration::from_secs(20);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ioc_service::init_logging();
    let cli = Cli::parse();
    let clickhouse =
        ClickHouseConfig { url: cli.clickhouse.clone(), database: cli.database.clone(), ..ClickHouseConfig::default() };
    let client = clickhouse.client();
    // A history loaded by an earlier version gets the migrations since (the processor started
    // below writes what they add).
    let migrate = ioc_processor::ProcessorConfig { clickhouse: clickhouse.clone(), ..Default::default() };
    ioc_processor::migrate(&migrate).await.context("migrations")?;
    // Probes of earlier runs (the canary unit) aside: each probe is timed by its own row, not by
    // the newest data shown.
    let history: (u64, u32) = client
        .query("SELECT toUInt64(count()), toUInt32(max(occurred_at)) FROM portal_events WHERE unit_code != ?")
        .bind(ioc_domain::CANARY_UNIT_CODE)
        .fetch_one()
        .await
        .with_context(|| format!("reading the history in {}: load it first (ioc_bench)", cli.database))?;
    let newest = chrono::DateTime::from_timestamp(i64::from(history.1), 0).unwrap_or_default();
    // The load is dated before today; history dated after now would not be history.
    anyhow::ensure!(
        newest < chrono::Utc::now(),
        "the history in {} reaches {newest}, after now: load a year that ends before today (ioc_bench --start)",
        cli.database
    );
    let months: u64 =
        client.query("SELECT toUInt64(uniqExact(toStartOfMonth(occurred_at))) FROM portal_events").fetch_one().await?;

    // The load: the simulated days just before today, as live traffic would be (a cycle
    // recomputes from the earliest month its events touch: old dates would recompute the whole
    // history every cycle), and all older than any probe. The days before it, back to the first
    // of the month before, are first given the province's real volume where they lack it
    // (bench/backdrop.rs): the live cycles recompute those months.
    let reference = ReferenceData::load(&ioc_e2e::repo_root().join("schemas/reference"))?;
    let needed = cli.rate * (cli.seconds as usize + WARM_UP.as_secs() as usize + 60);
    let days = needed.div_ceil(EVENTS_PER_DAY_AT_SCALE_1).clamp(1, 25) as u32;
    let scale = (needed as f64 / (f64::from(days) * EVENTS_PER_DAY_AT_SCALE_1 as f64)).max(0.01);
    let today = ioc_domain::local_today();
    let start = today - chrono::Days::new(u64::from(days));
    let backdrop = ioc_e2e::bench::backdrop::fill(
        &client,
        &reference,
        start,
        cli.backdrop_scale,
        EVENTS_PER_DAY_AT_SCALE_1 as u64,
    )
    .await?;
    eprintln!("the live months' backdrop: {backdrop} events added before {start}");
    let folded = ioc_e2e::bench::backdrop::fold_duplicates(&client, start, today).await?;
    eprintln!("the live months' duplicates of earlier runs folded ({folded} month partitions)");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2024);
    let scenario = Scenario { start, days, scale };
    let (events, _) = ioc_simulator::generate::generate(&scenario, &reference, &mut rng);
    anyhow::ensure!(!events.is_empty(), "the load's scenario produced no event");
    eprintln!("{} events to offer at {} events/s", events.len(), cli.rate);

    let kafka = KafkaConfig {
        brokers: cli.kafka.clone(),
        topic_prefix: ioc_e2e::random_name("bench-fresh"),
        ..KafkaConfig::default()
    };
    let keys = ioc_e2e::random_keys();
    let defaults = ioc_processor::ProcessorConfig::default();
    let rollups = RollupSettings {
        interval_ms: cli.rollup_interval_ms.unwrap_or(defaults.rollup_interval_ms),
        margin_seconds: cli.rollup_margin_seconds.unwrap_or(defaults.rollup_margin_seconds),
    };
    let processor_port = free_port();
    let rollup_env = rollups.env();
    let mut processor_extra: Vec<(&str, &str)> = rollup_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    processor_extra.push(("RUST_LOG", cli.processor_log.as_str()));
    let processor = ServiceProcess::start(
        "bench-fresh-processor",
        sibling_binary("ioc-processor")?,
        processor_port,
        processor_env(&kafka, &clickhouse, processor_port, &processor_extra),
    )
    .await;
    let ingest_port = free_port();
    let ingest = ServiceProcess::start(
        "bench-fresh-ingest",
        sibling_binary("ioc-ingest")?,
        ingest_port,
        ingest_env(&kafka, &keys, ingest_port, &[]),
    )
    .await;
    let api_port = free_port();
    let api_env = api_env(&clickhouse, api_port, &[]);
    let api = ServiceProcess::start("bench-fresh-api", sibling_binary("ioc-api")?, api_port, api_env).await;

    let (load, counts) = steady::start(&ingest.url, keys.clone(), events, cli.rate);
    // A processor's first cycles after its start resume from the recorded progress, or
    // recompute the whole history when the rules changed (rollup/resume.rs):
    // what a restart costs, not the steady state timed here.
    let first_cycles = Instant::now();
    while rollup_cycles(&processor.url).await.1 < Source::ALL.len() as f64 {
        anyhow::ensure!(first_cycles.elapsed() < Duration::from_secs(1800), "no rollup cycle in 30 minutes");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let first_cycle_took = first_cycles.elapsed();
    tokio::time::sleep(WARM_UP).await;
    let cycles_before = rollup_cycles(&processor.url).await;
    let sender = std::sync::Arc::new(ioc_simulator::Sender::new(&ingest.url, keys));
    let mut times = Vec::new();
    // When each probe was sent (since the first), for the chart.
    let mut timeline = Vec::new();
    let mut failures = Vec::new();
    let accepted_before = counts.accepted.load(std::sync::atomic::Ordering::Relaxed);
    let started = Instant::now();
    // Probes go out on a steady beat, each waited for on its own, whatever the ones before are
    // doing: one after the other, a run of 150 s made about 30 probes and its p99 was their
    // slowest; and a probe sent only once the one before arrived tends to leave right after a
    // cycle began, which is not how a viewer's events arrive.
    let mut probes = tokio::task::JoinSet::new();
    let mut beat = tokio::time::interval(Duration::from_millis(cli.probe_every_ms.max(1)));
    for source in Source::ALL.iter().copied().cycle() {
        beat.tick().await;
        if started.elapsed() > Duration::from_secs(cli.seconds) {
            break;
        }
        let sent_at = started.elapsed();
        let (sender, client, api_url) = (sender.clone(), client.clone(), api.url.clone());
        probes.spawn(async move {
            let took = freshness::probe(&sender, &client, &api_url, source, Duration::from_secs(120)).await;
            (sent_at, took)
        });
    }
    while let Some(joined) = probes.join_next().await {
        match joined.context("a probe's task")? {
            (sent_at, Ok(took)) => {
                timeline.push((sent_at, took));
                times.push(took);
            }
            (_, Err(error)) => failures.push(format!("{error:#}")),
        }
    }
    timeline.sort_by_key(|(sent_at, _)| *sent_at);
    let offered_rate = (counts.accepted.load(std::sync::atomic::Ordering::Relaxed) - accepted_before) as f64
        / started.elapsed().as_secs_f64();
    load.abort();
    let failed_requests = counts.failed.load(std::sync::atomic::Ordering::Relaxed);
    let cycles_after = rollup_cycles(&processor.url).await;
    drop((api, ingest, processor));
    ioc_e2e::topics::clean_up_topics_of(&kafka).await;
    anyhow::ensure!(!times.is_empty(), "no probe arrived: {failures:?}");
    let mut in_kpis: Vec<Duration> = times.iter().map(|t| t.in_kpis).collect();
    let mut stored: Vec<Duration> = times.iter().map(|t| t.stored).collect();
    let mut all_sources: Vec<Duration> = times.iter().map(|t| t.all_sources).collect();
    in_kpis.sort();
    stored.sort();
    all_sources.sort();
    let cycles = cycles_after.1 - cycles_before.1;
    let mean_cycle = (cycles_after.0 - cycles_before.0) / cycles.max(1.0) * 1000.0;
    let setting = format!(
        "{} probes under {offered_rate:.0} events/s acknowledged (offered {}; {failed_requests} requests failed), \
         history: {} portal events over {months} months; rollups every {} ms with a {} s margin",
        times.len(),
        cli.rate,
        history.0,
        rollups.interval_ms,
        rollups.margin_seconds
    );
    let measures = [
        Measure::alone(
            &cli.name,
            "ms, p99, acknowledged to in GET /v1/kpis",
            milliseconds_at(&in_kpis, 0.99),
            "pipeline <= 5000",
            format!(
                "p50 {:.0} ms (in: its own source's rollups cover the second it was stored in); acknowledged to \
                 stored in ClickHouse: p50 {:.0} ms, p99 {:.0} ms; until every source's rollups cover it (the answer \
                 as a whole that recent): p50 {:.0} ms, p99 {:.0} ms; {} probes failed; {setting}",
                milliseconds_at(&in_kpis, 0.5),
                milliseconds_at(&stored, 0.5),
                milliseconds_at(&stored, 0.99),
                milliseconds_at(&all_sources, 0.5),
                milliseconds_at(&all_sources, 0.99),
                failures.len()
            ),
        ),
        Measure::alone(
            &cli.name.replace("freshness_p99_ms", "rollup_cycle_mean_ms"),
            "ms, mean per source",
            mean_cycle,
            "pipeline <= 5000",
            format!(
                "{cycles:.0} cycles while the probes ran (one source each); one cycle must fit in its interval or the \
                 rollups fall behind; the first cycles after the start (resumed from the progress recorded, or every month when the rules changed) took {:.0} s; {setting}",
                first_cycle_took.as_secs_f64()
            ),
        ),
    ];
    if let Some(path) = &cli.svg {
        let seconds = |d: Duration| d.as_secs_f64();
        let chart = svg::Chart {
            title: format!(
                "Freshness under {offered_rate:.0} events/s, a year loaded; rollups every {} ms, {} s margin",
                rollups.interval_ms, rollups.margin_seconds
            ),
            x_label: "seconds into the run (when the probe was sent)".into(),
            y_label: "seconds from acknowledgement".into(),
            series: vec![
                svg::Series {
                    name: "in GET /v1/kpis".into(),
                    points: timeline.iter().map(|(at, t)| (seconds(*at), seconds(t.in_kpis))).collect(),
                },
                svg::Series {
                    name: "every source's rollups past it".into(),
                    points: timeline.iter().map(|(at, t)| (seconds(*at), seconds(t.all_sources))).collect(),
                },
                svg::Series {
                    name: "stored".into(),
                    points: timeline.iter().map(|(at, t)| (seconds(*at), seconds(t.stored))).collect(),
                },
            ],
        };
        std::fs::write(path, svg::render(&chart)).with_context(|| format!("writing {}", path.display()))?;
    }
    let version: String = client.query("SELECT version()").fetch_one().await?;
    let table = cli.outputs.publish(&format!("ClickHouse {version}"), &measures)?;
    println!("{table}");
    for failure in failures.iter().take(5) {
        eprintln!("probe failed: {failure}");
    }
    Ok(())
}

/// The processor's rollup cycles so far, all sources together: (seconds spent, cycles).
async fn rollup_cycles(processor: &str) -> (f64, f64) {
    let sum = ioc_e2e::metric(processor, "ioc_processor_rollup_seconds_sum", &[]).await;
    let count = ioc_e2e::metric(processor, "ioc_processor_rollup_seconds_count", &[]).await;
    (sum.unwrap_or(0.0), count.unwrap_or(0.0))
}

/// The processor's rollup settings for the run (the test helpers shorten them; here they are
/// the configuration's defaults unless asked otherwise).
struct RollupSettings {
    interval_ms: u64,
    margin_seconds: u32,
}

impl RollupSettings {
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("IOC_PROCESSOR__ROLLUP_INTERVAL_MS", self.interval_ms.to_string()),
            ("IOC_PROCESSOR__ROLLUP_MARGIN_SECONDS", self.margin_seconds.to_string()),
        ]
    }
}
