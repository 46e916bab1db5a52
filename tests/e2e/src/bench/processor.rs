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
#[derive(Debug, Clone, Copy)]
pub struct ProcessorRun {
    /// Rows stored.
    pub rows: u64,
    /// From the processor answering ready to the last row stored: its consumers' joining of
    /// their groups is included (well under a second: the local brokers do not delay a new
    /// group's first rebalance), its migrations are not (they ran before).
    pub wall: Duration,
    /// The processor's CPU seconds over that time.
    pub cpu_seconds: f64,
    /// Its peak resident memory, MiB.
    pub peak_rss_mb: f64,
    /// Batches written (from its metrics).
    pub batches: f64,
    /// Their mean time from the first insert attempt to ClickHouse's acknowledgement, ms.
    pub mean_insert_ms: f64,
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
    let port = free_port();
    let env = processor_env(kafka, clickhouse, port, &[("IOC_PROCESSOR__ROLLUP_ENABLED", "false")]);
    let mut processor = ServiceProcess::start("bench-processor", binary.to_owned(), port, env).await;
    let pid = processor.pid().context("processor has no process id")?;
    let (started, cpu_before, clickhouse_before) = (Instant::now(), cpu_seconds(pid)?, cpu_seconds(clickhouse_pid)?);
    let client = clickhouse.client();
    let deadline = started + Duration::from_secs(1800);
    let rows = loop {
        let rows = stored_rows(&client).await?;
        if rows >= expected {
            break rows;
        }
        anyhow::ensure!(Instant::now() < deadline, "the processor stored {rows} of {expected} rows in 30 minutes");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let metric = |name: &'static str| processor_metric(&processor.url, name);
    let (insert_seconds, batches) = (
        metric("ioc_processor_batch_write_seconds_sum").await,
        metric("ioc_processor_batch_write_seconds_count").await,
    );
    let run = ProcessorRun {
        batches,
        mean_insert_ms: insert_seconds / batches.max(1.0) * 1000.0,
        rows,
        wall: started.elapsed(),
        cpu_seconds: cpu_seconds(pid)? - cpu_before,
        clickhouse_cpu_seconds: cpu_seconds(clickhouse_pid)? - clickhouse_before,
        peak_rss_mb: peak_rss_mb(pid)?,
    };
    processor.terminate(Duration::from_secs(30)).await;
    Ok(run)
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
