//! ioc-processor beside a plain INSERT: the processor drains topics already filled (by the
//! ingest run) into a fresh database, rollups off, so this is its consume-decode-insert path
//! alone; then the rows it stored are exported and inserted again with one
//! `INSERT ... FORMAT JSONEachRow` per table over HTTP, the floor of what writing those rows
//! costs ClickHouse.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use ioc_clickhouse::ClickHouseConfig;
use ioc_domain::Source;
use ioc_kafka::KafkaConfig;

use super::process_stats::{cpu_seconds, peak_rss_mb};
use crate::process::{free_port, processor_env, ServiceProcess};

/// What the processor did.
#[derive(Debug, Clone)]
pub struct ProcessorRun {
    /// Rows stored.
    pub rows: u64,
    /// From the (first) processor's start to the last row stored: start-up and the consumers'
    /// joining of their groups are included (well under a second: the local brokers do not
    /// delay a new group's first rebalance), the migrations are not (they ran before).
    pub wall: Duration,
    /// The processors' CPU seconds, start-up included.
    pub cpu_seconds: f64,
    /// Its peak resident memory, MiB.
    pub peak_rss_mb: f64,
    /// Batches written (from its metrics).
    pub batches: f64,
    /// The same, per instance (`run_processors`).
    pub batches_per_instance: Vec<f64>,
    /// Their mean time from the first insert attempt to ClickHouse's acknowledgement, ms.
    pub mean_insert_ms: f64,
    /// The mean time of a batch's offset commit, until the broker's answer (the pipeline waits
    /// for it before reading on), ms.
    pub mean_commit_ms: f64,
    /// The ClickHouse server's CPU seconds over the same time (its share of the work: parsing
    /// and storing the inserts, and the harness's counting of rows).
    pub clickhouse_cpu_seconds: f64,
}

/// Starts an `ioc-processor` process (`binary`) on `kafka`'s topics into `clickhouse` (which
/// the caller migrated, served by process `clickhouse_pid`) and waits until `expected` rows are
/// stored.
pub async fn run_processor(
    binary: &Path,
    kafka: &KafkaConfig,
    clickhouse: &ClickHouseConfig,
    expected: u64,
    clickhouse_pid: u32,
) -> anyhow::Result<ProcessorRun> {
    run_processors(binary, kafka, clickhouse, expected, clickhouse_pid, 1).await
}

/// `run_processor` with `instances` processes in the same consumer groups, sharing the topics'
/// partitions: CPU seconds are summed over them, memory is the largest peak, batches and
/// insert times are over all of them.
pub async fn run_processors(
    binary: &Path,
    kafka: &KafkaConfig,
    clickhouse: &ClickHouseConfig,
    expected: u64,
    clickhouse_pid: u32,
    instances: usize,
) -> anyhow::Result<ProcessorRun> {
    let group = crate::random_name("bench");
    // Timed from the first start: an instance consumes as soon as it is up, before the next
    // one is. Their start-up (a fraction of a second each, migrations done) is included.
    let (started, clickhouse_before) = (Instant::now(), cpu_seconds(clickhouse_pid)?);
    // All at once, so the groups' first assignment already spreads the partitions over them.
    let processors = futures::future::join_all((0..instances.max(1)).map(|_| {
        let port = free_port();
        let extra = [("IOC_PROCESSOR__ROLLUP_ENABLED", "false"), ("IOC_PROCESSOR__GROUP_PREFIX", group.as_str())];
        let env = processor_env(kafka, clickhouse, port, &extra);
        ServiceProcess::start("bench-processor", binary.to_owned(), port, env)
    }))
    .await;
    let pids =
        processors.iter().map(|p| p.pid().context("processor has no process id")).collect::<Result<Vec<_>, _>>()?;
    let cpu = |pids: &[u32]| pids.iter().map(|pid| cpu_seconds(*pid)).sum::<anyhow::Result<f64>>();
    let rows = wait_until_stored(&clickhouse.client(), expected, "the processors").await?;
    let wall = started.elapsed();
    let (cpu_after, clickhouse_after) = (cpu(&pids)?, cpu_seconds(clickhouse_pid)?);
    let (mut insert_seconds, mut batches_per_instance, mut peak) = (0.0, Vec::new(), 0.0_f64);
    let (mut commit_seconds, mut commits) = (0.0, 0.0);
    for (processor, pid) in processors.iter().zip(&pids) {
        insert_seconds += processor_metric(&processor.url, "ioc_processor_batch_write_seconds_sum").await;
        commit_seconds += processor_metric(&processor.url, "ioc_processor_commit_seconds_sum").await;
        commits += processor_metric(&processor.url, "ioc_processor_commit_seconds_count").await;
        batches_per_instance.push(processor_metric(&processor.url, "ioc_processor_batch_write_seconds_count").await);
        peak = peak.max(peak_rss_mb(*pid)?);
    }
    let batches: f64 = batches_per_instance.iter().sum();
    for mut processor in processors {
        processor.terminate(Duration::from_secs(30)).await;
    }
    Ok(ProcessorRun {
        batches,
        batches_per_instance,
        mean_insert_ms: insert_seconds / batches.max(1.0) * 1000.0,
        mean_commit_ms: commit_seconds / f64::max(commits, 1.0) * 1000.0,
        rows,
        wall,
        cpu_seconds: cpu_after,
        clickhouse_cpu_seconds: clickhouse_after - clickhouse_before,
        peak_rss_mb: peak,
    })
}

/// A metric of the processor summed over its labels (0 when absent).
async fn processor_metric(url: &str, name: &str) -> f64 {
    crate::metric(url, name, &[]).await.unwrap_or(0.0)
}

/// Rows in the three raw tables.
pub async fn stored_rows(client: &clickhouse::Client) -> anyhow::Result<u64> {
    let mut total = 0;
    for source in Source::ALL {
        let sql = format!("SELECT toUInt64(count()) FROM {}", source.events_table());
        total += client.query(&sql).fetch_one::<u64>().await?;
    }
    Ok(total)
}

/// Waits (up to 30 minutes) until the three raw tables hold `expected` distinct events, polling
/// every 100 ms; the rows they hold then. `writer` names who is storing them, for the error.
pub async fn wait_until_stored(client: &clickhouse::Client, expected: u64, writer: &str) -> anyhow::Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(1800);
    loop {
        let rows = stored_rows(client).await?;
        // Rows counted twice (redelivered around a rebalance) must not end the wait early.
        if rows >= expected && stored_events(client).await? >= expected {
            return Ok(rows);
        }
        anyhow::ensure!(Instant::now() < deadline, "{writer} stored {rows} of {expected} rows in 30 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Distinct events in the three raw tables (a redelivered event's second row not counted).
async fn stored_events(client: &clickhouse::Client) -> anyhow::Result<u64> {
    let mut total = 0;
    for source in Source::ALL {
        let sql = format!("SELECT toUInt64(uniqExact(event_id)) FROM {}", source.events_table());
        total += client.query(&sql).fetch_one::<u64>().await?;
    }
    Ok(total)
}

/// Exports every raw table of `from` and inserts it into the same table of `into` (migrated by
/// the caller) with one `INSERT ... FORMAT JSONEachRow` each; rows and the inserts' wall time.
pub async fn plain_insert(from: &ClickHouseConfig, into: &ClickHouseConfig) -> anyhow::Result<(u64, Duration)> {
    let http = reqwest::Client::new();
    let mut took = Duration::ZERO;
    for source in Source::ALL {
        let table = source.events_table();
        let rows = send(&http, from, &format!("SELECT * FROM {table} FORMAT JSONEachRow"), Vec::new()).await?;
        let started = Instant::now();
        send(&http, into, &format!("INSERT INTO {table} FORMAT JSONEachRow"), rows).await?;
        took += started.elapsed();
    }
    Ok((stored_rows(&into.client()).await?, took))
}

/// One statement over ClickHouse's HTTP interface with `body` as its data; the answer.
async fn send(
    http: &reqwest::Client,
    config: &ClickHouseConfig,
    query: &str,
    body: Vec<u8>,
) -> anyhow::Result<Vec<u8>> {
    // Without data, the statement itself is the body (18.16 refuses a POST without a body).
    let (params, body) = if body.is_empty() {
        (vec![("database", config.database.as_str())], query.as_bytes().to_vec())
    } else {
        (vec![("database", config.database.as_str()), ("query", query)], body)
    };
    let response = http
        .post(&config.url)
        .query(&params)
        .basic_auth(&config.user, Some(config.password.expose()))
        .body(body)
        .send()
        .await
        .with_context(|| format!("ClickHouse at {}", config.url))?;
    let status = response.status();
    let bytes = response.bytes().await?.to_vec();
    anyhow::ensure!(status.is_success(), "{query}: {}", String::from_utf8_lossy(&bytes));
    Ok(bytes)
}
