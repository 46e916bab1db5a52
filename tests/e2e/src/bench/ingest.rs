//! ioc-ingest beside kcat on the same events: NDJSON batches over HTTP from several senders,
//! each event validated, pseudonymised and produced with acks=all, against kcat producing the
//! same lines, keyed the same way, with the same producer settings. Both are compared by events
//! per CPU-second of their own process (the broker's work is the same for both and left out).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ioc_domain::{Event, Source};
use ioc_kafka::KafkaConfig;

use super::process_stats::{cpu_seconds, peak_rss_mb};
use crate::process::{free_port, ingest_env, ServiceProcess};

/// What one side of the comparison did.
#[derive(Debug, Clone, Copy)]
pub struct ProducerRun {
    /// Events Kafka acknowledged.
    pub events: usize,
    /// From the first request (or kcat's start) to the last acknowledgement.
    pub wall: Duration,
    /// CPU seconds of the producing process over that time.
    pub cpu_seconds: f64,
    /// Its peak resident memory, MiB.
    pub peak_rss_mb: f64,
}

impl ProducerRun {
    /// Events per wall-clock second.
    pub fn per_second(&self) -> f64 {
        self.events as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Events per CPU-second of the producing process.
    pub fn per_cpu_second(&self) -> f64 {
        self.events as f64 / self.cpu_seconds.max(1e-9)
    }
}

/// Sends `events` through an `ioc-ingest` process (`binary`) producing to `kafka`: NDJSON
/// batches of `batch` events from `senders` concurrent clients, as the source systems do.
pub async fn run_ingest(
    binary: &Path,
    kafka: &KafkaConfig,
    events: &[Event],
    batch: usize,
    senders: usize,
) -> anyhow::Result<ProducerRun> {
    let keys = crate::random_keys();
    let port = free_port();
    let mut ingest =
        ServiceProcess::start("bench-ingest", binary.to_owned(), port, ingest_env(kafka, &keys, port, &[])).await;
    let pid = ingest.pid().context("ingest has no process id")?;
    let bodies = Arc::new(ndjson_batches(events, batch));
    let next = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::new();
    let cpu_before = cpu_seconds(pid)?;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..senders {
        let (bodies, next, client, keys, url) =
            (bodies.clone(), next.clone(), client.clone(), keys.clone(), ingest.url.clone());
        tasks.spawn(async move {
            let mut accepted = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((source, body)) = bodies.get(i) else { return anyhow::Ok(accepted) };
                accepted += post(&client, &url, &keys, *source, body.clone()).await?;
            }
        });
    }
    let mut accepted = 0;
    while let Some(done) = tasks.join_next().await {
        accepted += done??;
    }
    let wall = started.elapsed();
    let run = ProducerRun {
        events: accepted,
        wall,
        cpu_seconds: cpu_seconds(pid)? - cpu_before,
        peak_rss_mb: peak_rss_mb(pid)?,
    };
    ingest.terminate(Duration::from_secs(20)).await;
    anyhow::ensure!(accepted == events.len(), "ingest accepted {accepted} of {} events", events.len());
    Ok(run)
}

/// One POST; the number of events ingest accepted, or an error naming what it refused.
async fn post(
    client: &reqwest::Client,
    url: &str,
    keys: &BTreeMap<Source, String>,
    source: Source,
    body: Vec<u8>,
) -> anyhow::Result<usize> {
    #[derive(serde::Deserialize)]
    struct Answer {
        accepted: usize,
        rejected: usize,
    }
    let response = client
        .post(format!("{url}/v1/sources/{source}/events"))
        .bearer_auth(&keys[&source])
        .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
        .body(body)
        .send()
        .await?;
    let status = response.status();
    let text = response.text().await?;
    anyhow::ensure!(status.is_success(), "ingest answered {status}: {text}");
    let answer: Answer = serde_json::from_str(&text).with_context(|| format!("ingest's answer: {text}"))?;
    anyhow::ensure!(answer.rejected == 0, "ingest rejected {} events: {text}", answer.rejected);
    Ok(answer.accepted)
}

/// The events as NDJSON request bodies of at most `batch` events, one source per body.
fn ndjson_batches(events: &[Event], batch: usize) -> Vec<(Source, Vec<u8>)> {
    let mut bodies = Vec::new();
    for source in Source::ALL {
        let of_source: Vec<&Event> = events.iter().filter(|e| e.source == source).collect();
        for chunk in of_source.chunks(batch.max(1)) {
            bodies.push((source, ioc_simulator::sender::ndjson(chunk.iter().copied())));
        }
    }
    bodies
}

/// A program that produces a file of `key<TAB>payload` lines to one topic, its CPU time taken
/// by the shell's `time`.
pub enum LineProducer {
    /// kcat, the anchor: acks=all, idempotence, lz4 and a 5 ms linger, as ingest's producer.
    Kcat,
    /// `ioc_bench_bare_producer`: the Kafka client configured and called as ingest does, with
    /// nothing else; `batch` events awaited together by each of `senders`, as ingest's requests,
    /// `per_message` to a message as ingest's `max_events_per_message` packs them.
    KafkaClient {
        /// Where the program is.
        binary: PathBuf,
        /// Events awaited together.
        batch: usize,
        /// Batches under way at once.
        senders: usize,
        /// Most events per message, as ingest's `max_events_per_message`.
        per_message: usize,
    },
}

impl LineProducer {
    fn name(&self) -> &'static str {
        match self {
            LineProducer::Kcat => "kcat",
            LineProducer::KafkaClient { .. } => "ioc_bench_bare_producer",
        }
    }

    fn command(&self, brokers: &str, topic: &str, file: &Path) -> String {
        match self {
            LineProducer::Kcat => format!(
                "kcat -P -b {brokers} -t {topic} -K '\t' -l {} -X acks=all -X enable.idempotence=true \
                 -X linger.ms=5 -X compression.type=lz4",
                file.display()
            ),
            LineProducer::KafkaClient { binary, batch, senders, per_message } => format!(
                "{} --kafka {brokers} --topic {topic} --file {} --batch {batch} --senders {senders} \
                 --per-message {per_message}",
                binary.display(),
                file.display()
            ),
        }
    }
}

/// The events of one source as `key<TAB>payload` lines in a file, keyed by the entity as ingest
/// keys them: the input of every [`LineProducer`].
pub struct LineFile {
    source: Source,
    path: PathBuf,
    lines: usize,
}

/// Writes `events` into one [`LineFile`] per source under `work_dir`, once for all the runs that
/// read them.
pub fn write_line_files(events: &[Event], work_dir: &Path) -> anyhow::Result<Vec<LineFile>> {
    let mut files = Vec::new();
    for source in Source::ALL {
        let path = work_dir.join(format!("lines-{source}.tsv"));
        let mut text = Vec::new();
        let mut lines = 0;
        for event in events.iter().filter(|e| e.source == source) {
            text.extend_from_slice(event.body.entity_id().as_bytes());
            text.push(b'\t');
            text.extend_from_slice(&serde_json::to_vec(event)?);
            text.push(b'\n');
            lines += 1;
        }
        std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
        files.push(LineFile { source, path, lines });
    }
    Ok(files)
}

/// Produces `files` with `producer`, each to its source's topic under `kafka.topic_prefix`
/// (created with the pipeline's partition count).
pub async fn run_line_producer(
    producer: &LineProducer,
    kafka: &KafkaConfig,
    files: &[LineFile],
) -> anyhow::Result<ProducerRun> {
    let name = producer.name();
    let topics: Vec<String> = files.iter().map(|file| file.source.topic(&kafka.topic_prefix)).collect();
    kafka.ensure_topics(&topics).await.with_context(|| format!("creating {name}'s topics"))?;
    let mut run = ProducerRun { events: 0, wall: Duration::ZERO, cpu_seconds: 0.0, peak_rss_mb: 0.0 };
    let mut messages: usize = 0;
    for (file, topic) in files.iter().zip(&topics) {
        let script = format!("TIMEFORMAT='cpu %3U %3S'; time {}", producer.command(&kafka.brokers, topic, &file.path));
        let started = Instant::now();
        let output =
            tokio::task::spawn_blocking(move || std::process::Command::new("bash").arg("-c").arg(&script).output())
                .await?
                .with_context(|| format!("running {name} (ops/bench installs kcat and builds the rest)"))?;
        run.wall += started.elapsed();
        let stderr = String::from_utf8_lossy(&output.stderr);
        anyhow::ensure!(output.status.success(), "{name} failed: {stderr}");
        let cpu = stderr
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix("cpu "))
            .and_then(|times| times.split_whitespace().map(|t| t.parse::<f64>().ok()).sum::<Option<f64>>())
            .with_context(|| format!("no CPU time in {name}'s output: {stderr}"))?;
        run.cpu_seconds += cpu;
        run.events += file.lines;
        messages += match producer {
            LineProducer::Kcat => file.lines,
            // Several events to a message, as ingest writes them: the program says how many.
            LineProducer::KafkaClient { .. } => String::from_utf8_lossy(&output.stdout)
                .split_whitespace()
                .rev()
                .nth(1)
                .and_then(|count| count.parse().ok())
                .with_context(|| format!("no count of messages in {name}'s output"))?,
        };
    }
    // An exit status alone does not prove delivery: the topics must hold every message.
    let stored = messages_in(kafka, &topics)?;
    anyhow::ensure!(stored == messages as i64, "{name}'s topics hold {stored} messages, not {messages}");
    Ok(run)
}

/// Messages in `topics` (the sum of every partition's high watermark; the topics are new).
pub fn messages_in(kafka: &KafkaConfig, topics: &[String]) -> anyhow::Result<i64> {
    use rdkafka::consumer::Consumer;
    let consumer = kafka.base_consumer(&crate::random_name("bench-count"))?;
    let mut total = 0;
    for topic in topics {
        for partition in 0..kafka.partitions {
            let (_, high) = consumer.fetch_watermarks(topic, partition, Duration::from_secs(10))?;
            total += high;
        }
    }
    Ok(total)
}
