//! One source's consumer loop: decode → transform → batch → write → commit.
//!
//! A batch is written when it is full (rows or bytes) or its first message has waited
//! `batch_max_wait_ms`, whichever comes first; a batch that gathered less than a tenth of
//! `batch_max_rows` in its first `batch_live_wait_ms` is live traffic, not a backlog, and is
//! written then; a fuller one whose first message was already a second old when it came (a
//! backlog read from Kafka) as soon as every assigned partition has nothing more, and any other
//! once nothing more came during a live wait. Offsets are committed only after ClickHouse acknowledged the insert.
//! While ClickHouse refuses inserts, the partitions are paused (no more fetching, bounded
//! memory) but the consumer keeps polling so it stays in its group; they resume once the batch
//! is stored (and a resume librdkafka refuses is tried again, resume_retry.rs). A crash
//! anywhere before the commit redelivers the batch, and the tables deduplicate it.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ioc_domain::Source;
use ioc_kafka::framing::{self, Framing};
use ioc_kafka::{hold_fetching, PartitionEndsContext};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use rdkafka::Message;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::batch::Batch;
use crate::batch_traces::{BatchTraces, Store};
use crate::dead_letter::{DeadLetterRow, DeadLetters, Letter, Written};
use crate::decode::{decode, DeadLetterReason, DecodeError};
use crate::metrics::ProcessorMetrics;
use crate::resume_retry::ResumeRetry;
use crate::transform::KafkaPosition;
use crate::transform::SourceTable;
use crate::write::{insert_dead_letters, insert_once};
use crate::ProcessorConfig;
use ioc_service::trace::{TraceParent, TRACEPARENT};
use rdkafka::message::Headers;

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
    /// Where the writers register their inserts under way for the rollup task
    /// (rollup/in_flight.rs).
    pub inserts: crate::rollup::InsertsInFlight,
    /// When the shutdown must be over, set once it begins (lib.rs): the pipelines' last batches
    /// get until then, not a deadline of their own.
    pub shutdown_ends: std::sync::OnceLock<Instant>,
}

/// A batch with fewer than `batch_max_rows / LIVE_SHARE` rows after the live wait is live
/// traffic: at the default 20,000 rows and 250 ms, under 8,000 rows a second. A backlog is read
/// twenty times faster than that (ops/bench: 160,000 rows a second), so it still fills batches.
const LIVE_SHARE: usize = 10;

/// How long a flush waits for the broker's answer to its commit before the pipeline reads on
/// (the commit goes on; its outcome is counted when it comes). A commit takes a few
/// milliseconds when Kafka is up; while the group's coordinator is unreachable librdkafka holds
/// it up to the session timeout (10 s), then fails it, which is counted.
const COMMIT_WAIT: Duration = Duration::from_secs(5);

/// How old a batch's first message must be when it comes for the batch to be a backlog's: live
/// traffic reaches the processor within tens of milliseconds of its acknowledgement (ops/bench's
/// freshness part: stored within 0.33 s at p99, the 0.25 s live wait included). Kafka's message
/// timestamp is the producer's clock (ingest's): if the processor's clock runs more than this
/// ahead of ingest's, every batch counts as behind, and live traffic heavy enough to gather a
/// tenth of a batch between two moments at the partitions' ends is written at those moments
/// instead of filling whole batches (more, smaller inserts; nothing is lost). Keep the hosts'
/// clocks synchronised (NTP), as ClickHouse's rollup margin needs anyway.
const BEHIND: Duration = Duration::from_secs(1);

/// The state of one source's pipeline between two commits.
struct SourcePipeline<T: SourceTable> {
    context: Arc<PipelineContext>,
    source: Source,
    topic: String,
    /// Shared with the loops that receive from it: a message borrows the consumer it came from
    /// while the pipeline takes it in.
    consumer: Arc<StreamConsumer<PartitionEndsContext>>,
    batch: Batch<T::Row>,
    /// The dead letters of the batch, stored with it.
    dead_letters: Vec<DeadLetterRow>,
    /// A dead letter was given up at the shutdown: its message and every one after it stay out
    /// of the batch (a later offset of its partition committed would skip it for good).
    letter_unwritten: bool,
    /// The requests at ingest the batch's messages came from.
    traces: BatchTraces,
    /// When the oldest unwritten message must be written.
    deadline: Option<Instant>,
    /// When the batch's first message came.
    first_at: Option<Instant>,
    /// Whether the batch's first message was already [`BEHIND`] old when it came.
    began_behind: bool,
    /// The partitions whose end librdkafka reported with no message from them since.
    partitions_at_end: BTreeSet<i32>,
    /// Rows (and dead letters) of the batch when it was last looked at and kept (it filled
    /// like a backlog); `None` before the first look.
    rows_at_last_look: Option<usize>,
    /// Consumer errors since the last one logged, and when that was.
    consumer_errors: (u64, Option<Instant>),
    /// When to try again to resume fetching that librdkafka refused to resume after a flush.
    resume_retry: ResumeRetry,
}

/// How a flush ended.
#[derive(Debug, PartialEq, Eq)]
enum Flushed {
    /// Stored, and committed or not (a commit that fails or has no answer yet is harmless: the
    /// messages come again and the tables fold them).
    Stored {
        /// Whether the broker took the commit before the flush returned.
        committed: bool,
    },
    /// Not stored: shutdown was requested or the final deadline passed. Nothing was committed.
    Abandoned,
}

/// Consumes `source` until `shutdown` turns true, then writes and commits what it holds until
/// the shutdown's end (`PipelineContext::shutdown_ends`). An insert that hangs past it is not
/// cut here: `serve` abandons the whole task then.
pub async fn run<T: SourceTable>(
    context: Arc<PipelineContext>,
    source: Source,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let config = &context.config;
    let topic = source.topic(&config.kafka.topic_prefix);
    let group = format!("{}.{}", config.group_prefix, source.as_str());
    let consumer = config.kafka.consumer_noting_partition_ends(&group)?;
    consumer.subscribe(&[&topic])?;
    tracing::info!(%source, %topic, %group, table = T::TABLE, "consuming");
    let mut pipeline = SourcePipeline::<T> {
        context: context.clone(),
        source,
        topic,
        consumer: Arc::new(consumer),
        batch: Batch::default(),
        dead_letters: Vec::new(),
        letter_unwritten: false,
        traces: BatchTraces::default(),
        deadline: None,
        first_at: None,
        began_behind: false,
        partitions_at_end: BTreeSet::new(),
        rows_at_last_look: None,
        consumer_errors: (0, None),
        resume_retry: ResumeRetry::default(),
    };

    let consumer = Arc::clone(&pipeline.consumer);
    loop {
        let flush_due = tokio::select! {
            received = consumer.recv() => match received {
                Ok(message) => match pipeline.accept(&message, &shutdown).await {
                    Written::Yes => pipeline.is_full(),
                    // Its dead letter was not written when the shutdown came: the batch before
                    // it is stored below, and it is consumed again at the next start.
                    Written::No => break,
                },
                // Everything the partition held is delivered: a backlog may have ended.
                Err(KafkaError::PartitionEOF(partition)) => pipeline.backlog_ended(partition),
                Err(error) => {
                    // librdkafka queues one error event per failed (re)connect; they are news, not
                    // a reason to wait: sleeping here once left messages stuck behind hundreds of
                    // queued "all brokers down" events long after the broker came back.
                    pipeline.report_consumer_error(&error);
                    false
                }
            },
            () = sleep_until(pipeline.deadline) => pipeline.wait_over(),
            () = sleep_until(pipeline.resume_retry.due_at()) => {
                pipeline.resume_fetching();
                false
            }
            _ = shutdown.changed() => break,
        };
        if flush_due && pipeline.flush(&mut shutdown, None).await == Flushed::Abandoned {
            break;
        }
        // A retry's wait inside the flush (wait_polling) may have seen the shutdown's signal,
        // which `changed()` above would then not report again: without this the pipeline went on
        // consuming until the deadline aborted it.
        if *shutdown.borrow() {
            break;
        }
    }
    let final_deadline = context
        .shutdown_ends
        .get()
        .copied()
        .unwrap_or_else(|| Instant::now() + Duration::from_millis(context.config.shutdown_deadline_ms));
    match pipeline.flush(&mut shutdown, Some(final_deadline)).await {
        Flushed::Stored { committed: true } => {
            tracing::info!(%source, "pipeline stopped, everything consumed is stored and committed")
        }
        Flushed::Stored { committed: false } => tracing::warn!(
            %source,
            "pipeline stopped, everything consumed is stored but its last commit was not confirmed; those messages will be consumed again"
        ),
        Flushed::Abandoned => {
            tracing::warn!(%source, "pipeline stopped with an unstored batch; it will be consumed again")
        }
    }
    Ok(())
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

impl<T: SourceTable> SourcePipeline<T> {
    /// Decodes and transforms one message's events into the batch, or dead-letters them. A
    /// message holds one event or, with the NDJSON framing header, one per line
    /// (ioc_kafka::framing). The message is read where librdkafka holds it: copying it out
    /// (`detach`, which also parses its headers) was an eighth of the processor's CPU (issue 12),
    /// and only the first messages of a batch have their trace header read.
    ///
    /// [`Written::No`] when an event was to be dead-lettered and the shutdown came first: none of
    /// the message's events is in the batch, and its offset must not be committed; nor is any
    /// message after it.
    async fn accept(&mut self, message: &BorrowedMessage<'_>, shutdown: &watch::Receiver<bool>) -> Written {
        if self.letter_unwritten {
            return Written::No;
        }
        match self.take_in(message, shutdown).await {
            Ok(()) => Written::Yes,
            Err(unwritten) => unwritten,
        }
    }

    /// [`SourcePipeline::accept`]'s work; `Err(Written::No)` as it says.
    async fn take_in(
        &mut self,
        message: &BorrowedMessage<'_>,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<(), Written> {
        let partition = message.partition();
        self.partitions_at_end.remove(&partition);
        let headers = message.headers();
        let header =
            |name: &str| headers.and_then(|headers| headers.iter().find(|h| h.key == name)).and_then(|h| h.value);
        if self.traces.wants_more() {
            if let Some(parent) =
                header(TRACEPARENT).and_then(|v| std::str::from_utf8(v).ok()).and_then(TraceParent::parse)
            {
                self.traces.note(parent);
            }
        }
        let offset = message.offset();
        let bytes = message.payload().map_or(0, <[u8]>::len);
        match framing::framing_of(header(framing::FRAMING)) {
            Framing::OneEvent => {
                let row = self.take_event(message, message.payload(), None, 1, shutdown).await?;
                self.take_rows(row, partition, offset, bytes);
            }
            Framing::Ndjson => {
                // The message's rows join the batch only once each of its events has its row or
                // its dead letter: a letter given up at the shutdown leaves the whole message
                // unconsumed.
                // Every row and letter of the message says how many events it holds, so that
                // completeness counts each of them (monitor.rs).
                let lines: Vec<(usize, &[u8])> = framing::ndjson_lines(message.payload().unwrap_or_default()).collect();
                let events = u32::try_from(lines.len()).unwrap_or(u32::MAX);
                let mut rows = Vec::with_capacity(lines.len());
                if lines.is_empty() {
                    // No event at all: dead-lettered as an empty message, so its offset is
                    // accounted for.
                    self.take_event(message, None, None, 1, shutdown).await?;
                }
                for (line, text) in lines {
                    rows.extend(self.take_event(message, Some(text), Some(line), events, shutdown).await?);
                }
                self.take_rows(rows, partition, offset, bytes);
            }
            Framing::Unknown(name) => {
                let reason = DeadLetterReason::from(DecodeError::UnknownFraming(name));
                self.dead_letter(message, message.payload(), None, 1, reason, shutdown).await?;
                self.take_rows(None, partition, offset, bytes);
            }
        }
        if self.deadline.is_none() {
            // The first look is at the live wait (wait_over decides then).
            let config = &self.context.config;
            let now = Instant::now();
            self.first_at = Some(now);
            self.deadline = Some(now + Duration::from_millis(config.batch_live_wait_ms.min(config.batch_max_wait_ms)));
            // Produced BEHIND or more before it came: the consumer is reading a backlog.
            let received_ms = chrono::Utc::now().timestamp_millis();
            self.began_behind = message
                .timestamp()
                .to_millis()
                .is_some_and(|produced_ms| received_ms.saturating_sub(produced_ms) >= BEHIND.as_millis() as i64);
        }
        Ok(())
    }

    /// Adds the rows of the message at `offset` of `partition` (`bytes` long) to the batch, the
    /// message's bytes counted once, with its first row; a message that gave none (its events
    /// dead-lettered) is still consumed.
    fn take_rows(&mut self, rows: impl IntoIterator<Item = T::Row>, partition: i32, offset: i64, bytes: usize) {
        let mut bytes = Some(bytes);
        for row in rows {
            self.batch.push(row, partition, offset, bytes.take().unwrap_or(0));
        }
        if bytes.is_some() {
            self.batch.track(partition, offset);
        }
    }

    /// One event of `message` (its whole payload, or line `line` of it; the message holds
    /// `events`): its row, or `None` once it is dead-lettered. `Err(Written::No)` when its
    /// letter was given up at the shutdown.
    async fn take_event(
        &mut self,
        message: &BorrowedMessage<'_>,
        payload: Option<&[u8]>,
        line: Option<usize>,
        events: u32,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<Option<T::Row>, Written> {
        let position =
            KafkaPosition { partition: message.partition(), offset: message.offset(), line: line_column(line), events };
        let row = decode(payload, self.source)
            .map_err(DeadLetterReason::from)
            .and_then(|event| T::row(event, position).map_err(DeadLetterReason::from));
        match row {
            Ok(row) => Ok(Some(row)),
            Err(reason) => {
                self.dead_letter(message, payload, line, events, reason, shutdown).await?;
                Ok(None)
            }
        }
    }

    /// Sends `payload` of `message` (line `line` of it, when it holds several events: `events`)
    /// to the dead-letter topic and keeps its row for `dead_letters`. `Err(Written::No)` when
    /// the shutdown came first.
    async fn dead_letter(
        &mut self,
        message: &BorrowedMessage<'_>,
        payload: Option<&[u8]>,
        line: Option<usize>,
        events: u32,
        reason: DeadLetterReason,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<(), Written> {
        let (partition, offset) = (message.partition(), message.offset());
        tracing::warn!(source = %self.source, partition, offset, ?line, %reason, "dead-lettering event");
        let failures = self.context.metrics.dead_letter_failures.with_label_values(&[self.source.as_str()]);
        let letter = Letter { message, payload, line };
        if self.context.dead_letters.send(&letter, &reason.to_string(), shutdown, &failures).await == Written::No {
            tracing::warn!(source = %self.source, partition, offset, "stopping before the message's dead letter was written; it will be consumed again");
            self.letter_unwritten = true;
            return Err(Written::No);
        }
        self.context.metrics.dead_letters.with_label_values(&[self.source.as_str(), reason.kind()]).inc();
        self.dead_letters.push(DeadLetterRow {
            source: self.source.as_str().to_owned(),
            kafka_partition: u16::try_from(partition).unwrap_or(u16::MAX),
            kafka_offset: u64::try_from(offset).unwrap_or(0),
            kafka_line: line_column(line),
            kafka_events: events,
            reason: reason.kind().to_owned(),
            error: reason.to_string(),
            failed_at: u32::try_from(chrono::Utc::now().timestamp()).unwrap_or(0),
        });
        Ok(())
    }

    /// The batch's deadline passed: whether to write it now. Looked at every live wait: a batch
    /// with less than a tenth of `batch_max_rows` is live traffic and is written; a fuller one is
    /// a backlog arriving and goes on filling, until nothing more came during a live wait (the
    /// backlog's end), it is full, or its first message waited `batch_max_wait_ms`.
    fn wait_over(&mut self) -> bool {
        let Some(first) = self.first_at else { return true };
        let config = &self.context.config;
        let held = self.batch.rows.len() + self.dead_letters.len();
        let live = self.holds_live_traffic();
        let stopped = self.rows_at_last_look == Some(held);
        let until_full = first + Duration::from_millis(config.batch_max_wait_ms);
        let now = Instant::now();
        if live || stopped || until_full <= now {
            return true;
        }
        self.rows_at_last_look = Some(held);
        self.deadline = Some(until_full.min(now + Duration::from_millis(config.batch_live_wait_ms)));
        false
    }

    /// The consumer delivered everything `partition` held: whether the batch is a backlog's
    /// last and is written now, instead of after a live wait without news (most of the time a
    /// backlog's last batch took, ops/bench). It is if it is backlog-sized, began behind (its
    /// first message was already [`BEHIND`] old when it came), and every partition assigned to
    /// this consumer is at its end: one partition that caught up while the others still drain
    /// must not cut their batches short. Live traffic, however fast or bursty (a source's
    /// request of hundreds of events arrives at once), reaches the ends after almost every
    /// fetch, and its batches must still fill (batching.rs).
    fn backlog_ended(&mut self, partition: i32) -> bool {
        self.partitions_at_end.insert(partition);
        if !self.began_behind || self.holds_live_traffic() {
            return false;
        }
        // The assignment changes with rebalances: a partition at its end that was since taken
        // away does not matter, one newly given is not at its end until librdkafka says so. One
        // taken away and given back keeps its old state until a message of it comes: at worst,
        // one batch is written before it is whole.
        self.consumer.assignment().is_ok_and(|assigned| {
            assigned.elements().iter().all(|element| self.partitions_at_end.contains(&element.partition()))
        })
    }

    /// Whether the batch is small enough to be live traffic rather than a backlog
    /// ([`LIVE_SHARE`]).
    fn holds_live_traffic(&self) -> bool {
        self.batch.rows.len() * LIVE_SHARE < self.context.config.batch_max_rows
    }

    /// Counts a consumer error and logs at most one line every 10 s per source.
    fn report_consumer_error(&mut self, error: &rdkafka::error::KafkaError) {
        self.context.metrics.consumer_errors.with_label_values(&[self.source.as_str()]).inc();
        let (count, logged_at) = &mut self.consumer_errors;
        *count += 1;
        if logged_at.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
            tracing::warn!(source = %self.source, %error, errors = *count, "kafka consumer errors (librdkafka keeps reconnecting)");
            *count = 0;
            *logged_at = Some(Instant::now());
        }
    }

    fn is_full(&self) -> bool {
        let config = &self.context.config;
        self.batch.rows.len() >= config.batch_max_rows || self.batch.bytes() >= config.batch_max_bytes
    }

    /// Writes the batch until ClickHouse takes it, then commits. Without `final_deadline` it
    /// retries until shutdown is requested; with one, until that instant.
    async fn flush(&mut self, shutdown: &mut watch::Receiver<bool>, final_deadline: Option<Instant>) -> Flushed {
        if self.batch.is_empty() {
            return Flushed::Stored { committed: true };
        }
        let started = std::time::Instant::now();
        let started_at = std::time::SystemTime::now();
        // Holds the rollup's cycles of this source behind the batch's date until it is stored or
        // given up, retries included (rollup/in_flight.rs).
        let under_way = self.context.inserts.begin(self.source);
        let mut retries = 0_u32;
        let max_backoff = Duration::from_millis(self.context.config.max_retry_backoff_ms);
        let mut backoff = Duration::from_millis(200);
        let mut paused = false;
        let outcome = loop {
            // Dated at every attempt: rows that came during a retry's wait joined the batch. The
            // whole attempt is bounded: a node that took the connection and answers nothing (or
            // reads slowly) held the pipeline for good, unpolled, so it also left its group.
            // Dropping the attempt drops its request.
            let timeout = Duration::from_secs(self.context.config.insert_timeout_seconds);
            let attempt = tokio::time::timeout(timeout, self.write_batch(under_way.date_of_attempt())).await;
            let error = match attempt {
                Ok(Ok(())) => break Flushed::Stored { committed: false },
                Ok(Err(error)) => error.to_string(),
                Err(_) => {
                    format!("ClickHouse did not take the batch within {} s (insert_timeout_seconds)", timeout.as_secs())
                }
            };
            self.context.metrics.insert_failures.with_label_values(&[T::TABLE]).inc();
            retries += 1;
            let give_up = match final_deadline {
                Some(deadline) => Instant::now() + backoff >= deadline,
                None => *shutdown.borrow(),
            };
            tracing::warn!(source = %self.source, table = T::TABLE, rows = self.batch.rows.len(), %error, give_up, retry_in_ms = backoff.as_millis() as u64, "failed to insert batch");
            if give_up {
                break Flushed::Abandoned;
            }
            if !paused {
                paused = self.set_paused(true);
            }
            self.wait_polling(backoff, shutdown, final_deadline.is_none()).await;
            backoff = (backoff * 2).min(max_backoff);
        };
        if paused || self.resume_retry.due_at().is_some() {
            self.resume_fetching();
        }
        if outcome == Flushed::Abandoned {
            return outcome;
        }
        let metrics = &self.context.metrics;
        metrics.rows_written.with_label_values(&[T::TABLE]).inc_by(self.batch.rows.len() as u64);
        metrics.batch_seconds.with_label_values(&[T::TABLE]).observe(started.elapsed().as_secs_f64());
        metrics.batch_rows.with_label_values(&[self.source.as_str()]).observe(self.batch.rows.len() as f64);
        // The commit's outcome is counted and logged when the broker answers (commit_reported);
        // the pipeline waits that long for it at most before it reads on, and at the shutdown
        // until the shutdown's end.
        let wait = final_deadline.map_or(COMMIT_WAIT, |deadline| deadline.saturating_duration_since(Instant::now()));
        let committed = match self.batch.commit_list(&self.topic) {
            Ok(list) => {
                let source = self.source;
                let failures = metrics.commit_failures.with_label_values(&[source.as_str()]);
                let seconds = metrics.commit_seconds.with_label_values(&[source.as_str()]);
                let report = move |result: &Result<(), String>, took: Duration| {
                    seconds.observe(took.as_secs_f64());
                    if let Err(error) = result {
                        // Stored but not committed: the messages come back after a rebalance or
                        // restart and the tables fold the duplicates. Nothing is lost.
                        failures.inc();
                        tracing::warn!(%source, %error, "failed to commit offsets after insert");
                    }
                };
                ioc_kafka::commit_reported(Arc::clone(&self.consumer), list, wait, report).await
            }
            Err(error) => {
                metrics.commit_failures.with_label_values(&[self.source.as_str()]).inc();
                tracing::warn!(source = %self.source, %error, "failed to list the offsets to commit after insert");
                Some(Err(error.to_string()))
            }
        };
        let commit_error = match &committed {
            Some(Ok(())) => None,
            Some(Err(error)) => Some(error.clone()),
            None => Some(format!(
                "not confirmed: no answer from the broker within {} ms (the commit goes on)",
                wait.as_millis()
            )),
        };
        self.traces.record_spans(&Store {
            source: self.source.as_str(),
            topic: &self.topic,
            table: T::TABLE,
            rows: self.batch.rows.len(),
            retries,
            started: started_at,
            commit_error,
        });
        if committed == Some(Ok(())) {
            tracing::debug!(
                source = %self.source,
                rows = self.batch.rows.len(),
                trace_ids = ?self.traces.logged_ids(),
                "batch stored and committed"
            );
        }
        self.batch.clear();
        self.dead_letters.clear();
        self.traces.clear();
        self.deadline = None;
        self.first_at = None;
        self.began_behind = false;
        self.rows_at_last_look = None;
        Flushed::Stored { committed: committed == Some(Ok(())) }
    }

    /// One attempt at storing the batch, its rows dated `inserted_at`: its rows, then its dead
    /// letters' positions.
    async fn write_batch(&mut self, inserted_at: u32) -> Result<(), clickhouse::error::Error> {
        for row in &mut self.batch.rows {
            T::date(row, inserted_at);
        }
        if !self.batch.rows.is_empty() {
            insert_once::<T>(&self.context.clickhouse, &self.batch.rows).await?;
        }
        if !self.dead_letters.is_empty() {
            insert_dead_letters(&self.context.clickhouse, &self.dead_letters).await?;
        }
        Ok(())
    }

    /// Pauses or resumes fetching on every assigned partition, and on those assigned while
    /// paused (ioc_kafka::hold_fetching); returns the new state.
    fn set_paused(&self, pause: bool) -> bool {
        match hold_fetching(&self.consumer, pause) {
            Ok(()) => {
                self.context.metrics.paused.with_label_values(&[self.source.as_str()]).set(i64::from(pause));
                tracing::info!(source = %self.source, pause, "changed fetching of assigned partitions");
                pause
            }
            Err(error) => {
                tracing::warn!(source = %self.source, %error, pause, "failed to pause or resume partitions");
                !pause
            }
        }
    }

    /// Resumes fetching after a flush paused it; if librdkafka refuses, the main loop tries
    /// again later (resume_retry.rs).
    fn resume_fetching(&mut self) {
        if self.set_paused(false) {
            self.context.metrics.resume_failures.with_label_values(&[self.source.as_str()]).inc();
            self.resume_retry.failed(Instant::now());
        } else {
            self.resume_retry.succeeded();
        }
    }

    /// Waits `wait` while still polling the consumer, so that it keeps its group membership.
    /// Few messages arrive meanwhile: librdkafka drops what it had fetched for a partition when
    /// the partition is paused (in a test, eleven messages produced together with a full
    /// batch's last never came while paused), but a partition
    /// assigned by a rebalance can deliver some before its pause. They join the batch.
    async fn wait_polling(&mut self, wait: Duration, shutdown: &mut watch::Receiver<bool>, stop_on_shutdown: bool) {
        let until = Instant::now() + wait;
        let consumer = Arc::clone(&self.consumer);
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(until) => return,
                received = consumer.recv() => {
                    // A dead letter given up at the shutdown: nothing more joins the batch. A
                    // wait that stops on the shutdown ends now; the final flush's wait goes on
                    // (the messages that come meanwhile stay out).
                    if let Ok(message) = received {
                        if self.accept(&message, shutdown).await == Written::No && stop_on_shutdown {
                            return;
                        }
                    }
                }
                _ = shutdown.changed(), if stop_on_shutdown => return,
            }
        }
    }
}

/// The `kafka_line` of an event: its line in a message of several, 0 for a message of one.
fn line_column(line: Option<usize>) -> u32 {
    line.map_or(0, |line| u32::try_from(line).unwrap_or(u32::MAX))
}
