//! ioc-bench: loads a simulated year of the whole province into ClickHouse, brings the rollups
//! up to date, and measures how fast ioc-api answers the dashboard's heaviest questions.
//!
//! The events go straight into the raw tables through the processor's own row mapping (not
//! through ingest and Kafka: their throughput is not what this measures, and a year through
//! them takes an hour on a laptop). See BENCHMARKS.md for how to run it and the figures.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::NaiveDate;
use clap::Parser;
use ioc_clickhouse::ClickHouseConfig;
use ioc_domain::Source;
use ioc_e2e::bench::report::{self, Measure};
use ioc_e2e::bench::{milliseconds_at, process_stats, sibling_binary};
use ioc_e2e::process::{api_env, free_port, ServiceProcess};
use ioc_processor::ProcessorConfig;
use ioc_reference::ReferenceData;
use ioc_simulator::Scenario;
use rand::SeedableRng;

#[derive(Parser)]
#[command(about = "Loads a simulated year and measures ioc-api's latency")]
struct Cli {
    /// ClickHouse HTTP endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8123")]
    clickhouse: String,
    /// Database to (re)create and load.
    #[arg(long, default_value = "ioc_bench")]
    database: String,
    /// First simulated day.
    #[arg(long, default_value = "2026-01-01")]
    start: NaiveDate,
    /// Simulated days.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// Share of the province's volume (1.0 = about 1.4 million dossiers a year).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Timed requests per question.
    #[arg(long, default_value_t = 300)]
    requests: usize,
    /// Keep the data already loaded in the database (skip generation and loading).
    #[arg(long)]
    reuse: bool,
    /// Also write the figures, as Markdown, to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Clients asking at once in the concurrent phase (a wall of screens).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Requests per question in the concurrent phase.
    #[arg(long, default_value_t = 3000)]
    concurrent_requests: usize,
    /// Only load the data (and rebuild the rollups); time nothing. For ioc_bench_freshness.
    #[arg(long)]
    load_only: bool,
    /// Merge the API's figures into this results file (BENCHMARKS.json).
    #[arg(long)]
    json: Option<PathBuf>,
    /// With `--json`: also rewrite the generated section of this Markdown file.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ioc_service::init_logging();
    let cli = Cli::parse();
    let root = ioc_e2e::repo_root();
    let clickhouse =
        ClickHouseConfig { url: cli.clickhouse.clone(), database: cli.database.clone(), ..Default::default() };
    let client = clickhouse.client();
    let mut lines = vec![format!(
        "Scenario: {} days from {} at scale {}, database `{}`, {} timed requests per question.",
        cli.days, cli.start, cli.scale, cli.database, cli.requests
    )];

    if !cli.reuse {
        clickhouse.server_client().query(&format!("DROP DATABASE IF EXISTS {}", cli.database)).execute().await?;
        let migrate = ProcessorConfig { clickhouse: clickhouse.clone(), ..ProcessorConfig::default() };
        ioc_processor::migrate(&migrate).await.context("migrations")?;
        let reference = ReferenceData::load(&root.join("schemas/reference"))?;
        let started = Instant::now();
        let mut day = cli.start;
        let end = cli.start + chrono::Days::new(u64::from(cli.days));
        let (mut events, mut chunk) = (0_usize, 0_u64);
        // A month at a time keeps memory flat; a dossier still open at a chunk's end simply
        // stays open (its later events fall outside the chunk).
        while day < end {
            let days = (end - day).num_days().min(31) as u32;
            let scenario = Scenario { start: day, days, scale: cli.scale };
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026 + chunk);
            let (generated, _) = ioc_simulator::generate::generate(&scenario, &reference, &mut rng);
            events += generated.len();
            ioc_e2e::load::insert_events(&client, &generated).await?;
            eprintln!("loaded up to {day}: {events} events");
            day = day + chrono::Days::new(u64::from(days));
            chunk += 1;
        }
        let loaded = started.elapsed();
        let started = Instant::now();
        for source in Source::ALL {
            ioc_processor::rollup::refresh_source(&client, source, 0, 0).await?;
        }
        let dossiers: u64 =
            client.query("SELECT toUInt64(uniqExact(dossier_id)) FROM dossier_facts").fetch_one().await?;
        lines.push(format!(
            "Loaded {events} events ({dossiers} dossiers) in {:.0} s; full rollup rebuild in {:.1} s.",
            loaded.as_secs_f64(),
            started.elapsed().as_secs_f64()
        ));
    }
    if cli.load_only {
        println!("{}", lines.join("\n"));
        return Ok(());
    }
    let rows: u64 = client.query("SELECT toUInt64(count()) FROM measures_daily").fetch_one().await?;
    lines.push(format!("measures_daily holds {rows} rows."));

    // The sequential phase measures what a question costs to compute: answers are not kept.
    let mut api_process = start_api(&clickhouse, 0).await?;
    let api = api_process.url.clone();

    let year = cli.start.format("%Y").to_string();
    let month = (cli.start + chrono::Days::new(u64::from(cli.days.saturating_sub(1)))).format("%Y-%m").to_string();
    let (month_from, month_to) = month_bounds(&month)?;
    let questions = [
        ("province KPIs, one month", format!("{api}/v1/kpis?from={month_from}&to={month_to}")),
        ("province KPIs, whole year", format!("{api}/v1/kpis?from={year}-01-01&to={year}-12-31")),
        ("148-unit ranking, one month (on-time rate)", format!("{api}/v1/rankings/on_time_rate?period={month}")),
        (
            "148-unit ranking, whole year (online rate)",
            format!("{api}/v1/rankings/online_submission_rate?period={year}"),
        ),
        ("unit profile, one month", format!("{api}/v1/units/07900?from={month_from}&to={month_to}")),
        (
            "series by day, whole year (on-time rate)",
            format!("{api}/v1/kpis/on_time_rate/series?bucket=day&from={year}-01-01&to={year}-12-31"),
        ),
    ];
    lines.push(String::new());
    lines.push("| question | p50 ms | p95 ms | p99 ms | max ms |".into());
    lines.push("|---|---:|---:|---:|---:|".into());
    let http = reqwest::Client::new();
    for (name, url) in &questions {
        for _ in 0..10 {
            fetch(&http, url).await?;
        }
        let mut times = Vec::with_capacity(cli.requests);
        for _ in 0..cli.requests {
            let started = Instant::now();
            fetch(&http, url).await?;
            times.push(started.elapsed());
        }
        times.sort();
        let at = |q: f64| milliseconds_at(&times, q);
        lines.push(format!("| {name} | {:.1} | {:.1} | {:.1} | {:.1} |", at(0.50), at(0.95), at(0.99), at(1.0)));
    }
    api_process.terminate(Duration::from_secs(10)).await;

    // A wall of screens: many clients asking the same questions at once while the rollups
    // advance every 5 s as the processor's would (a real cycle over no new events, which also
    // costs ClickHouse what the processor's idle cycle costs), with answers kept and not.
    lines.push(String::new());
    lines.push(format!(
        "{} clients at once, {} requests per question, rollup cycles every 5 s:",
        cli.concurrency, cli.concurrent_requests
    ));
    lines.push(String::new());
    lines.push("| question | answers kept | req/s | p50 ms | p99 ms | max ms |".into());
    lines.push("|---|---|---:|---:|---:|---:|".into());
    let cycles = tokio::spawn({
        let client = client.clone();
        async move {
            loop {
                tokio::time::sleep(Duration::from_secs(5)).await;
                for source in Source::ALL {
                    let now = chrono::Utc::now().timestamp() as u32;
                    if let Err(error) = ioc_processor::rollup::refresh_source(&client, source, now, 0).await {
                        eprintln!("rollup cycle failed: {error}");
                    }
                }
            }
        }
    });
    // (question, answers kept) -> (requests per second, p99 ms); and the API's peak memory.
    let mut wall_figures = std::collections::BTreeMap::new();
    // Per mode ("yes": answers kept, the API's default; "no": every request asks ClickHouse).
    let mut api_peak_mb = std::collections::BTreeMap::new();
    for (kept, refresh_ms) in [("no", 0), ("yes", ioc_api::ApiConfig::default().answer_cache_refresh_ms)] {
        let mut api_process = start_api(&clickhouse, refresh_ms).await?;
        let api = api_process.url.clone();
        let wall = [
            ("province KPIs, whole year", format!("{api}/v1/kpis?from={year}-01-01&to={year}-12-31")),
            ("148-unit ranking, one month", format!("{api}/v1/rankings/on_time_rate?period={month}")),
        ];
        for (name, url) in &wall {
            let (rate, times) = concurrent(&http, url, cli.concurrency, cli.concurrent_requests).await?;
            let at = |q: f64| milliseconds_at(&times, q);
            lines.push(format!("| {name} | {kept} | {rate:.0} | {:.1} | {:.1} | {:.1} |", at(0.50), at(0.99), at(1.0)));
            wall_figures.insert((*name, kept), (rate, at(0.99)));
        }
        if let Some(pid) = api_process.pid() {
            api_peak_mb.insert(kept, process_stats::peak_rss_mb(pid)?);
        }
        api_process.terminate(Duration::from_secs(10)).await;
    }
    cycles.abort();
    if let Some(json) = &cli.json {
        let measures = api_measures(&cli, &wall_figures, &api_peak_mb)?;
        let version: String = client.query("SELECT version()").fetch_one().await?;
        report::publish(json, cli.markdown.as_deref(), &format!("ClickHouse {version}"), &measures)?;
    }

    let text = lines.join("\n");
    println!("{text}");
    if let Some(path) = cli.report {
        std::fs::write(&path, format!("{text}\n")).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The wall-of-screens figures as BENCHMARKS.json measures (issue 12's names and goals).
fn api_measures(
    cli: &Cli,
    wall: &std::collections::BTreeMap<(&str, &str), (f64, f64)>,
    api_peak_mb: &std::collections::BTreeMap<&str, f64>,
) -> anyhow::Result<Vec<Measure>> {
    let figure = |question: &str, kept: &str| {
        wall.get(&(question, kept)).copied().with_context(|| format!("no figure for {question} ({kept})"))
    };
    let (kpis, ranking) = ("province KPIs, whole year", "148-unit ranking, one month");
    let (kpis_kept, kpis_asked) = (figure(kpis, "yes")?, figure(kpis, "no")?);
    let ranking_kept = figure(ranking, "yes")?;
    let peak =
        |kept: &str| api_peak_mb.get(kept).copied().with_context(|| format!("no peak memory (answers kept: {kept})"));
    let setting = format!(
        "{} clients at once, {} requests, {} days at scale {} loaded, rollup cycles every 5 s, answers kept",
        cli.concurrency, cli.concurrent_requests, cli.days, cli.scale
    );
    Ok(vec![
        Measure::alone("api_kpis_p99_ms", "ms, p99", kpis_kept.1, "pipeline <= 50", format!("{kpis}; {setting}")),
        Measure::alone(
            "api_ranking_p99_ms",
            "ms, p99",
            ranking_kept.1,
            "pipeline <= 50",
            format!("{ranking}; {setting}"),
        ),
        Measure::compared(
            "api_vs_clickhouse",
            "requests per second",
            kpis_kept.0,
            kpis_asked.0,
            "ratio >= 5",
            format!(
                "{kpis}; anchor: the same API with answers not kept, so each request sends its SQL to ClickHouse \
                 (its own overhead over raw ClickHouse was measured at about 0.8, issue 12)"
            ),
        ),
        Measure::alone(
            "rss_api_mb",
            "MiB, peak resident (VmHWM)",
            peak("yes")?,
            "pipeline <= 150",
            format!("the API as configured by default (answers kept) under the wall of screens; {setting}"),
        ),
        Measure::alone(
            "rss_api_no_cache_mb",
            "MiB, peak resident (VmHWM)",
            peak("no")?,
            "pipeline <= 150",
            format!(
                "the API with answers not kept (answer_cache_refresh_ms 0): of the {} clients' requests, at most {} \
                 compute their answers from ClickHouse at once (max_answers_computing), the others wait their turn; \
                 otherwise as above",
                cli.concurrency,
                ioc_api::ApiConfig::default().max_answers_computing
            ),
        ),
    ])
}

/// ioc-api as a process (the release binary beside this one) on a free port, keeping answers
/// per `refresh_ms` (0: not at all).
async fn start_api(clickhouse: &ClickHouseConfig, refresh_ms: u64) -> anyhow::Result<ServiceProcess> {
    let port = free_port();
    let env = api_env(clickhouse, port, &[("IOC_API__ANSWER_CACHE_REFRESH_MS", &refresh_ms.to_string())]);
    let api = ServiceProcess::start("bench-api", sibling_binary("ioc-api")?, port, env).await;
    // Let the watcher read the rollups' state once before the clock starts.
    tokio::time::sleep(Duration::from_millis(700)).await;
    Ok(api)
}

/// `requests` requests to `url` from `clients` tasks at once: requests per second and each
/// request's time, sorted.
async fn concurrent(
    http: &reqwest::Client,
    url: &str,
    clients: usize,
    requests: usize,
) -> anyhow::Result<(f64, Vec<Duration>)> {
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (http, url, next) = (http.clone(), url.to_owned(), next.clone());
        tasks.spawn(async move {
            let mut times = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < requests {
                let asked = Instant::now();
                fetch(&http, &url).await?;
                times.push(asked.elapsed());
            }
            anyhow::Ok(times)
        });
    }
    let mut times = Vec::with_capacity(requests);
    while let Some(done) = tasks.join_next().await {
        times.extend(done??);
    }
    let rate = times.len() as f64 / started.elapsed().as_secs_f64();
    times.sort();
    Ok((rate, times))
}

async fn fetch(http: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let response = http.get(url).send().await?;
    anyhow::ensure!(response.status().is_success(), "{url}: {}", response.status());
    response.bytes().await?;
    Ok(())
}

fn month_bounds(month: &str) -> anyhow::Result<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")?;
    Ok((first, first + chrono::Months::new(1) - chrono::Days::new(1)))
}
