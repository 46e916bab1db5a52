//! One source's consumer loop: decode → transform → batch → write → commit.
//!
//! A batch is written when it is full or its first message has waited `batch_max_wait_ms`,
//! whichever comes first; offsets are committed only after ClickHouse acknowledged the insert.
//! A crash anywhere before the commit redelivers the batch, and the tables deduplicate it.

use std::sync::Arc;
use std::time::Duration;

use ioc_events::Source;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::Message;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::batch::Batch;
use crate::dead_letter::DeadLetters;
use crate::decode::decode;
use crate::metrics::ProcessorMetrics;
use crate::transform::SourceTable;
use crate::write::write_with_retry;
use crate::ProcessorConfig;

/// What every source's pipeline shares.
pub struct PipelineContext {
    /// Service configuration.
    pub config: ProcessorConfig,
    /// ClickHouse client bound to the pipeline's database.
    pub clickhouse: clickhouse::Client,
    /// Where undecodable messages go.
    pub dead_letters: DeadLetters,
    /// Metrics.
    pub metrics: ProcessorMetrics,
}

/// Consumes `source` until `shutdown` turns true, then writes and commits what it holds.
pub async fn run<T: SourceTable>(
    context: Arc<PipelineContext>,
    source: Source,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let config = &context.config;
    let topic = source.topic(&config.kafka.topic_prefix);
    let group = format!("{}.{}", config.group_prefix, source.as_str());
    let consumer: StreamConsumer = config.kafka.consumer(&group)?;
    consumer.subscribe(&[&topic])?;
    tracing::info!(%source, %topic, %group, table = T::TABLE, "consuming");

    let max_wait = Duration::from_millis(config.batch_max_wait_ms);
    let mut batch: Batch<T::Row> = Batch::default();
    let mut deadline: Option<Instant> = None;
    loop {
        let flush_due = tokio::select! {
            received = consumer.recv() => {
                match received {
                    Ok(message) => {
                        let (partition, offset) = (message.partition(), message.offset());
                        match decode(message.payload(), source).and_then(|event| T::row(&event).map_err(|e| e.to_string())) {
                            Ok(row) => batch.push(row, partition, offset),
                            Err(reason) => {
                                tracing::warn!(%source, partition, offset, %reason, "dead-lettering message");
                                context.dead_letters.send(&message, &reason).await;
                                context.metrics.dead_letters.with_label_values(&[source.as_str()]).inc();
                                batch.track(partition, offset);
                            }
                        }
                        deadline.get_or_insert_with(|| Instant::now() + max_wait);
                        batch.rows.len() >= config.batch_max_rows
                    }
                    Err(error) => {
                        tracing::warn!(%source, %error, "kafka consumer error");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        false
                    }
                }
            }
            () = sleep_until(deadline) => true,
            _ = shutdown.changed() => {
                flush::<T>(&context, &consumer, &topic, source, &mut batch, &mut shutdown, CommitMode::Sync).await;
                tracing::info!(%source, "pipeline stopped");
                return Ok(());
            }
        };
        if flush_due {
            if !flush::<T>(
                &context,
                &consumer,
                &topic,
                source,
                &mut batch,
                &mut shutdown,
                CommitMode::Async,
            )
            .await
            {
                tracing::info!(%source, "pipeline stopped before its last batch was stored");
                return Ok(());
            }
            deadline = None;
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Writes and commits the batch. Returns `false` when shutdown interrupted the write.
async fn flush<T: SourceTable>(
    context: &PipelineContext,
    consumer: &StreamConsumer,
    topic: &str,
    source: Source,
    batch: &mut Batch<T::Row>,
    shutdown: &mut watch::Receiver<bool>,
    mode: CommitMode,
) -> bool {
    if batch.is_empty() {
        return true;
    }
    let started = std::time::Instant::now();
    if !batch.rows.is_empty() {
        let max_backoff = Duration::from_millis(context.config.max_retry_backoff_ms);
        if !write_with_retry::<T>(
            &context.clickhouse,
            &batch.rows,
            max_backoff,
            &context.metrics,
            shutdown,
        )
        .await
        {
            return false;
        }
        context
            .metrics
            .rows_written
            .with_label_values(&[T::TABLE])
            .inc_by(batch.rows.len() as u64);
    }
    context
        .metrics
        .batch_seconds
        .with_label_values(&[T::TABLE])
        .observe(started.elapsed().as_secs_f64());
    match batch
        .commit_list(topic)
        .and_then(|list| consumer.commit(&list, mode))
    {
        Ok(()) => tracing::debug!(%source, rows = batch.rows.len(), "batch stored and committed"),
        Err(error) => {
            // Stored but not committed: the messages come back after a rebalance or restart and
            // the tables fold the duplicates. Nothing is lost.
            context
                .metrics
                .commit_failures
                .with_label_values(&[source.as_str()])
                .inc();
            tracing::warn!(%source, %error, "failed to commit offsets after insert");
        }
    }
    batch.clear();
    true
}
