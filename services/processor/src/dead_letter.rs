//! Sends messages that cannot be processed to the dead-letter topic, with their provenance.

/// The headers a dead letter carries (read back by `ioc-processor dlq`, dead_letter_admin.rs).
pub mod header {
    /// The topic it was consumed from.
    pub const SOURCE_TOPIC: &str = "ioc.source_topic";
    /// Its partition there.
    pub const SOURCE_PARTITION: &str = "ioc.source_partition";
    /// Its offset there.
    pub const SOURCE_OFFSET: &str = "ioc.source_offset";
    /// On a letter from a message of several events (ioc_kafka::framing): the line, 0-based,
    /// of the event it holds. The letter's payload is that event alone, so a replay sends it
    /// back as a message of its own.
    pub const SOURCE_LINE: &str = "ioc.source_line";
    /// Why it could not be processed.
    pub const ERROR: &str = "ioc.error";
    /// When it was dead-lettered (RFC 3339).
    pub const FAILED_AT: &str = "ioc.failed_at";
    /// On a replayed copy: the dead letter it came from (`partition/offset`).
    pub const REPLAYED_FROM: &str = "ioc.replayed_from";
    /// On a letter whose payload was too large for the producer: the original payload's size in
    /// bytes. The letter holds only its first [`super::PAYLOAD_EXCERPT_BYTES`] (and of its key
    /// the first [`super::KEY_EXCERPT_BYTES`]; none of either if even that was refused), so it
    /// cannot be replayed; the original stays in its source topic at the offset above until
    /// retention.
    pub const PAYLOAD_CUT_FROM: &str = "ioc.payload_cut_from";
}

/// What a dead letter keeps of a payload too large to produce whole.
pub const PAYLOAD_EXCERPT_BYTES: usize = 64 * 1024;
/// What it keeps of the key then (librdkafka counts the key against the same limit).
pub const KEY_EXCERPT_BYTES: usize = 1024;

use std::time::Duration;

use clickhouse::Row;
use prometheus::IntCounter;
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use serde::Serialize;
use tokio::sync::watch;

/// Whether [`DeadLetters::send`] wrote the letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Written {
    /// Kafka acknowledged it: the message's offset may be committed.
    Yes,
    /// Not acknowledged when the shutdown came: the offset must stay uncommitted.
    No,
}

/// A dead letter's position and reason, stored in `dead_letters` with the batch it interrupted,
/// so that every consumed offset is accounted for (completeness, monitor.rs).
#[derive(Debug, Clone, PartialEq, Row, Serialize)]
pub struct DeadLetterRow {
    /// The source whose topic it was consumed from.
    pub source: String,
    /// Its partition there.
    pub kafka_partition: u16,
    /// Its offset there.
    pub kafka_offset: u64,
    /// Its event's line in the message (0 for a message of one event, or one dead-lettered
    /// whole).
    pub kafka_line: u32,
    /// The message's events (1 for a message dead-lettered whole).
    pub kafka_events: u32,
    /// The reason's kind (`decode::DeadLetterReason::kind`).
    pub reason: String,
    /// The reason's text.
    pub error: String,
    /// When (unix seconds).
    pub failed_at: u32,
}

/// What a dead letter sends of `bytes` after being refused as too large `refusals` times: all
/// of it, its first `most` bytes, then nothing.
fn excerpt(bytes: &[u8], most: usize, refusals: u8) -> Option<&[u8]> {
    match refusals {
        0 => Some(bytes),
        1 => Some(&bytes[..bytes.len().min(most)]),
        _ => None,
    }
}

/// What goes into one dead letter: the message it came from (its topic, position and key), and
/// the payload to keep: the message's own, or one event's line of it.
pub struct Letter<'m, M: Message> {
    /// The message consumed.
    pub message: &'m M,
    /// The bytes the letter holds.
    pub payload: Option<&'m [u8]>,
    /// The event's line in the message, when it holds several.
    pub line: Option<usize>,
}

/// Produces dead letters and waits for Kafka's acknowledgement before the offset may be committed.
#[derive(Clone)]
pub struct DeadLetters {
    producer: FutureProducer,
    topic: String,
}

impl DeadLetters {
    /// Dead letters go to `topic`.
    pub fn new(producer: FutureProducer, topic: String) -> Self {
        DeadLetters { producer, topic }
    }

    /// The producer, for readiness checks.
    pub fn producer(&self) -> &FutureProducer {
        &self.producer
    }

    /// Sends `letter` with headers naming where it came from and why it failed. Retries until
    /// Kafka takes it, each failed attempt counted in `failures`: a dead letter must not be lost
    /// either. Until `shutdown` is signalled: then it gives up ([`Written::No`]), and the caller
    /// must not commit the message's offset, so that it is consumed again at the next start.
    /// Without this, a processor whose Kafka was down (or refused the letter) at SIGTERM retried
    /// until it was killed. A payload the producer refuses as
    /// too large (a producer that bypassed ingest can write one the broker takes compressed)
    /// would be refused at every retry, and the source's pipeline would wait behind it for good:
    /// it is sent again cut to [`PAYLOAD_EXCERPT_BYTES`] (its key to [`KEY_EXCERPT_BYTES`]),
    /// marked [`header::PAYLOAD_CUT_FROM`], and without either if that is refused too.
    pub async fn send<M: Message>(
        &self,
        letter: &Letter<'_, M>,
        error: &str,
        shutdown: &watch::Receiver<bool>,
        failures: &IntCounter,
    ) -> Written {
        // Waiting on a copy: waiting marks the value seen, and the caller's own wait for the
        // shutdown (`changed()`) must still see it.
        let mut shutdown = shutdown.clone();
        let failed_at = chrono::Utc::now().to_rfc3339();
        let message = letter.message;
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        let (key, payload) = (message.key(), letter.payload);
        let line = letter.line.map(|line| line.to_string());
        let payload_size = payload.map_or(0, <[u8]>::len);
        let cut_from = payload_size.to_string();
        // Refused as too large: 0 never, 1 once (cut to the excerpts), 2 twice (neither sent).
        let mut refused_as_too_large: u8 = 0;
        loop {
            let mut headers = OwnedHeaders::new()
                .insert(Header { key: header::SOURCE_TOPIC, value: Some(message.topic()) })
                .insert(Header { key: header::SOURCE_PARTITION, value: Some(&partition) })
                .insert(Header { key: header::SOURCE_OFFSET, value: Some(&offset) })
                .insert(Header { key: header::ERROR, value: Some(error) })
                .insert(Header { key: header::FAILED_AT, value: Some(&failed_at) });
            if let Some(line) = &line {
                headers = headers.insert(Header { key: header::SOURCE_LINE, value: Some(line) });
            }
            if refused_as_too_large > 0 {
                headers = headers.insert(Header { key: header::PAYLOAD_CUT_FROM, value: Some(&cut_from) });
            }
            let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic).headers(headers);
            if let Some(key) = key.and_then(|key| excerpt(key, KEY_EXCERPT_BYTES, refused_as_too_large)) {
                record = record.key(key);
            }
            if let Some(payload) =
                payload.and_then(|payload| excerpt(payload, PAYLOAD_EXCERPT_BYTES, refused_as_too_large))
            {
                record = record.payload(payload);
            }
            // A send can wait for Kafka up to the producer's message.timeout.ms; the shutdown
            // does not wait for it. Dropping the future does not take the message back from
            // librdkafka: it may still be written, and the message is dead-lettered again at
            // the next start, so the topic can hold two letters of it (`dlq list` shows both and
            // `dlq replay` sends both; the event, if it is stored after all, counts once).
            let sent = tokio::select! {
                sent = self.producer.send(record, Duration::from_secs(10)) => sent,
                _ = shutdown.wait_for(|stop| *stop) => return Written::No,
            };
            match sent {
                Ok(_) => return Written::Yes,
                Err((kafka_error, _))
                    if refused_as_too_large < 2
                        && kafka_error.rdkafka_error_code() == Some(RDKafkaErrorCode::MessageSizeTooLarge) =>
                {
                    tracing::warn!(topic = %self.topic, error = %kafka_error, size = payload_size, %partition, %offset, "dead letter too large to produce; sending less of it");
                    refused_as_too_large += 1;
                }
                Err((kafka_error, _)) => {
                    failures.inc();
                    tracing::warn!(topic = %self.topic, error = %kafka_error, %partition, %offset, "failed to write dead letter; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        _ = shutdown.wait_for(|stop| *stop) => return Written::No,
                    }
                }
            }
        }
    }
}
