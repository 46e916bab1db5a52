//! ioc-bench-bare-producer: the Kafka client alone, configured as ingest configures it
//! (`ioc_kafka`'s producer: acks=all, idempotence, lz4, a 5 ms linger) and producing as ingest
//! does (a batch's events up to `--per-message` to a message, one per line, closed at 256 KiB,
//! as ingest's `max_events_per_message` packs them; one `traceparent` header per message,
//! batches awaited together by several senders), from kcat's input file (`key<TAB>payload` lines, already
//! serialised). Beside kcat on the same file
//! it measures what the client library costs ingest before any HTTP, parsing or validation
//! (`ioc_bench_pipeline`; BENCHMARKS.md, "What limits each figure").

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use ioc_kafka::{framing, Batch, KafkaConfig};
use ioc_service::trace::{TraceParent, TRACEPARENT};
use rdkafka::message::{Header, OwnedHeaders};

#[derive(Parser)]
#[command(about = "Produces kcat's input file with the Kafka client as ingest uses it")]
struct Cli {
    /// Kafka bootstrap servers.
    #[arg(long, default_value = "127.0.0.1:9092")]
    kafka: String,
    /// The topic to produce to.
    #[arg(long)]
    topic: String,
    /// `key<TAB>payload` lines, as kcat reads them with `-K '\t' -l`.
    #[arg(long)]
    file: PathBuf,
    /// Events awaited together, as one request's events are in ingest.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Batches under way at once, as ingest's concurrent requests.
    #[arg(long, default_value_t = 6)]
    senders: usize,
    /// Most events per message, as ingest's `max_events_per_message` (1: each event a message
    /// of its own without the framing header).
    #[arg(long, default_value_t = 1)]
    per_message: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The lines stay in the file's bytes (kept as positions): the program should cost what the
    // client costs, not copies of its input.
    let text: Arc<Vec<u8>> =
        Arc::new(std::fs::read(&cli.file).with_context(|| format!("reading {}", cli.file.display()))?);
    let mut lines = Vec::new();
    let mut start = 0;
    for (number, line) in text.split(|byte| *byte == b'\n').enumerate() {
        let end = start + line.len();
        if !line.is_empty() {
            let tab = line
                .iter()
                .position(|byte| *byte == b'\t')
                .with_context(|| format!("line {} of {} has no tab after its key", number + 1, cli.file.display()))?;
            lines.push((start, start + tab, end));
        }
        start = end + 1;
    }
    let batches: Arc<Vec<Vec<(usize, usize, usize)>>> =
        Arc::new(lines.chunks(cli.batch.max(1)).map(<[_]>::to_vec).collect());
    let producer = Arc::new(
        KafkaConfig { brokers: cli.kafka.clone(), ..KafkaConfig::default() }
            .batch_producer(1000, |_| {})
            .context("creating the producer")?,
    );
    let traceparent = TraceParent::new_root().to_string();
    let next = Arc::new(AtomicUsize::new(0));
    let per_message = cli.per_message.max(1);
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..cli.senders.max(1) {
        let (text, batches, next, producer, topic, traceparent) =
            (text.clone(), batches.clone(), next.clone(), producer.clone(), cli.topic.clone(), traceparent.clone());
        senders.spawn(async move {
            let (mut produced, mut messages) = (0, 0);
            while let Some(lines) = batches.get(next.fetch_add(1, Ordering::Relaxed)) {
                let packed = pack(&text, lines, per_message);
                let batch = Batch::new(&producer, packed.len());
                for (position, (key, payload)) in packed.iter().enumerate() {
                    let mut headers = OwnedHeaders::new_with_capacity(2)
                        .insert(Header { key: TRACEPARENT, value: Some(&traceparent) });
                    if per_message > 1 {
                        headers = headers.insert(Header { key: framing::FRAMING, value: Some(framing::NDJSON) });
                    }
                    batch.send(position, &topic, key, payload, headers)?;
                }
                if let Some((position, error)) = batch.settled().await.into_iter().next() {
                    anyhow::bail!("message {position} of a batch was not acknowledged: {error}");
                }
                produced += lines.len();
                messages += packed.len();
            }
            anyhow::Ok((produced, messages))
        });
    }
    let (mut produced, mut messages) = (0, 0);
    while let Some(done) = senders.join_next().await {
        let (events, sent) = done??;
        produced += events;
        messages += sent;
    }
    anyhow::ensure!(produced == lines.len(), "produced {produced} of {} lines", lines.len());
    // The harness checks the topic holds this many messages (ioc_e2e::bench::ingest).
    println!("{produced} produced in {messages} messages");
    Ok(())
}

/// A batch's lines (`start`, `tab`, `end` in `text`) as messages of up to `per_message` events or
/// ingest's 256 KiB, each keyed by its first line's key: (key, payload). With `per_message` 1,
/// each line's payload as it is.
fn pack<'t>(text: &'t [u8], lines: &[(usize, usize, usize)], per_message: usize) -> Vec<(&'t [u8], Vec<u8>)> {
    let mut messages: Vec<(&[u8], Vec<u8>)> = Vec::new();
    let mut held = 0;
    for &(start, tab, end) in lines {
        let payload = &text[tab + 1..end];
        match messages.last_mut() {
            Some((_, message)) if held < per_message && message.len() < ioc_ingest::MESSAGE_CLOSE_BYTES => {
                message.push(b'\n');
                message.extend_from_slice(payload);
                held += 1;
            }
            _ => {
                messages.push((&text[start..tab], payload.to_vec()));
                held = 1;
            }
        }
    }
    messages
}
