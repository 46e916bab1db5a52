//! A producer for batches of messages awaited together, as ingest awaits one request's events.
//!
//! rdkafka's `FutureProducer` gives every message a future of its own: a channel allocated per
//! message, a wake-up of the awaiting task per delivery, and the futures joined again. Measured
//! with `ioc_bench_bare_producer` on 289,008 events (BENCHMARKS.md, "What limits each figure"),
//! that machinery cost about 1.9 microseconds of CPU per event, more than half of what kcat
//! spends on a whole event. Here librdkafka's delivery callback records each message's outcome
//! in its batch, and only the batch's last delivery wakes the task awaiting it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rdkafka::client::ClientContext;
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedHeaders;
use rdkafka::producer::{BaseRecord, DeliveryResult, ProducerContext, ThreadedProducer};
use tokio::sync::Notify;

/// The outcomes of one batch's messages, filled in by librdkafka's delivery callback.
#[derive(Debug)]
pub struct Outcomes {
    /// Messages whose delivery is still awaited.
    awaited: AtomicUsize,
    /// The position in the batch and the error of each message Kafka did not acknowledge.
    failed: Mutex<Vec<(usize, KafkaError)>>,
    /// Woken by the last delivery.
    settled: Notify,
}

impl Outcomes {
    /// One message fewer to await; the last one wakes the batch's task.
    fn settle_one(&self) {
        if self.awaited.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.settled.notify_one();
        }
    }

    fn record_failure(&self, position: usize, error: KafkaError) {
        // A poisoned lock means a callback panicked while pushing; its entries are still valid.
        self.failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((position, error));
    }
}

/// What librdkafka hands back with each delivery report: the message's batch and position.
pub type DeliveryOpaque = Box<(Arc<Outcomes>, usize)>;

/// A client context that records each delivery in its batch and hands librdkafka's periodic
/// statistics to a callback (the only way to the producer's queue size in bytes).
pub struct BatchContext {
    on_stats: Box<dyn Fn(&rdkafka::Statistics) + Send + Sync>,
}

impl BatchContext {
    /// A context calling `on_stats` with each statistics report (when `statistics.interval.ms`
    /// is set).
    pub fn new(on_stats: impl Fn(&rdkafka::Statistics) + Send + Sync + 'static) -> Self {
        BatchContext { on_stats: Box::new(on_stats) }
    }
}

impl ClientContext for BatchContext {
    fn stats(&self, statistics: rdkafka::Statistics) {
        (self.on_stats)(&statistics);
    }
}

impl ProducerContext for BatchContext {
    type DeliveryOpaque = DeliveryOpaque;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: DeliveryOpaque) {
        let (outcomes, position) = *opaque;
        if let Err((error, _)) = result {
            outcomes.record_failure(position, error.clone());
        }
        outcomes.settle_one();
    }
}

/// The producer type: librdkafka's own thread serves the delivery callbacks.
pub type BatchProducer = ThreadedProducer<BatchContext>;

/// One batch of messages under way: send each with its position, then await them all.
pub struct Batch<'p> {
    producer: &'p BatchProducer,
    outcomes: Arc<Outcomes>,
}

impl<'p> Batch<'p> {
    /// A batch of at most `len` messages on `producer`; each of them must be sent or skipped
    /// before [`Batch::settled`] can end.
    pub fn new(producer: &'p BatchProducer, len: usize) -> Self {
        let outcomes =
            Outcomes { awaited: AtomicUsize::new(len), failed: Mutex::new(Vec::new()), settled: Notify::new() };
        Batch { producer, outcomes: Arc::new(outcomes) }
    }

    /// Hands the message at `position` to librdkafka; `Err` when it refuses it at once (its
    /// queue is full, the topic is unknown), and the message is then no longer awaited.
    pub fn send(
        &self,
        position: usize,
        topic: &str,
        key: &[u8],
        payload: &[u8],
        headers: OwnedHeaders,
    ) -> Result<(), KafkaError> {
        let record = BaseRecord::with_opaque_to(topic, Box::new((self.outcomes.clone(), position)))
            .key(key)
            .payload(payload)
            .headers(headers);
        self.producer.send(record).map_err(|(error, _refused)| {
            self.outcomes.settle_one();
            error
        })
    }

    /// One message of the batch that will not be sent (it could not be encoded).
    pub fn skip(&self) {
        self.outcomes.settle_one();
    }

    /// Waits until every message of the batch is acknowledged or failed; the position and error
    /// of each that failed, in no particular order.
    pub async fn settled(self) -> Vec<(usize, KafkaError)> {
        // `notify_one` keeps its wake-up for a waiter that comes later, so the last delivery
        // cannot be missed between the check and the wait.
        while self.outcomes.awaited.load(Ordering::Acquire) > 0 {
            self.outcomes.settled.notified().await;
        }
        std::mem::take(&mut *self.outcomes.failed.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::KafkaConfig;

    /// A producer whose broker never answers (nothing listens on port 1), so every message
    /// fails once `message.timeout.ms` passes: librdkafka itself, no broker needed.
    fn producer_to_nowhere() -> BatchProducer {
        let config = KafkaConfig { brokers: "127.0.0.1:1".into(), message_timeout_ms: 300, ..KafkaConfig::default() };
        config.batch_producer(60_000, |_| {}).expect("a producer needs no broker to be created")
    }

    #[tokio::test]
    async fn every_failure_comes_back_with_its_position_and_the_batch_settles() {
        let producer = producer_to_nowhere();
        let batch = Batch::new(&producer, 4);
        for position in [0, 1, 3] {
            batch.send(position, "t", b"key", b"{}", OwnedHeaders::new()).expect("queued");
        }
        batch.skip(); // position 2 could not be encoded
        let settled = tokio::time::timeout(Duration::from_secs(30), batch.settled()).await;
        let mut failed: Vec<usize> =
            settled.expect("the batch settles once every delivery is reported").into_iter().map(|(p, _)| p).collect();
        failed.sort_unstable();
        assert_eq!(failed, [0, 1, 3], "each unacknowledged message, by its position, and no other");
    }

    #[tokio::test]
    async fn an_empty_batch_and_a_refused_message_settle_at_once() {
        let producer = producer_to_nowhere();
        assert!(Batch::new(&producer, 0).settled().await.is_empty());
        let batch = Batch::new(&producer, 1);
        // librdkafka refuses a message larger than message.max.bytes (1 MB) at once.
        let refused = batch.send(0, "t", b"key", &vec![b'x'; 2_000_000], OwnedHeaders::new());
        assert!(refused.is_err(), "an oversized message is refused when sent");
        let settled = tokio::time::timeout(Duration::from_secs(5), batch.settled()).await;
        assert!(settled.expect("a refused message is not awaited").is_empty());
    }
}
