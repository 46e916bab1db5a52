//! Sends messages that cannot be processed to the dead-letter topic, with their provenance.

use std::time::Duration;

use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};

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

    /// Sends `message` with headers naming where it came from and why it failed. Retries until
    /// Kafka takes it: a dead letter must not be lost either.
    pub async fn send(&self, message: &impl Message, error: &str) {
        let failed_at = chrono::Utc::now().to_rfc3339();
        let partition = message.partition().to_string();
        let offset = message.offset().to_string();
        loop {
            let headers = OwnedHeaders::new()
                .insert(Header { key: "ioc.source_topic", value: Some(message.topic()) })
                .insert(Header { key: "ioc.source_partition", value: Some(&partition) })
                .insert(Header { key: "ioc.source_offset", value: Some(&offset) })
                .insert(Header { key: "ioc.error", value: Some(error) })
                .insert(Header { key: "ioc.failed_at", value: Some(&failed_at) });
            let mut record = FutureRecord::<[u8], [u8]>::to(&self.topic).headers(headers);
            if let Some(key) = message.key() {
                record = record.key(key);
            }
            if let Some(payload) = message.payload() {
                record = record.payload(payload);
            }
            match self.producer.send(record, Duration::from_secs(10)).await {
                Ok(_) => return,
                Err((kafka_error, _)) => {
                    tracing::warn!(topic = %self.topic, error = %kafka_error, "failed to write dead letter; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}
