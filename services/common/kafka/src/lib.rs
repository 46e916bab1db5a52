//! Kafka clients configured the way the pipeline's delivery guarantees need them.
//!
//! Producers wait for every in-sync replica and are idempotent, so an acknowledged event is
//! durable and a retried send is not duplicated by the broker; consumers never auto-commit, so
//! the processor commits only what ClickHouse has stored.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::types::RDKafkaErrorCode;
use serde::Deserialize;

/// Where the brokers are and how topics are named.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers, comma separated.
    pub brokers: String,
    /// Topic names are `{topic_prefix}.{source}.v1`; tests use a random prefix.
    pub topic_prefix: String,
    /// How long a produce may wait for the broker before the event counts as not accepted.
    pub message_timeout_ms: u64,
    /// Partitions given to topics the services create.
    pub partitions: i32,
    /// Replication factor of topics the services create (1 on the local stack, 3 in production).
    pub replication_factor: i32,
    /// Most KiB a producer holds for Kafka; when full, new events are refused at once instead of
    /// queueing without bound (ingest then answers 503).
    pub producer_queue_kbytes: u64,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "127.0.0.1:9092".into(),
            topic_prefix: "ioc".into(),
            message_timeout_ms: 15_000,
            partitions: 3,
            replication_factor: 1,
            producer_queue_kbytes: 256 * 1024,
        }
    }
}

/// A Kafka client could not be created or an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum KafkaSetupError {
    /// librdkafka refused the configuration.
    #[error("failed to create a kafka client for {brokers}: {source}")]
    Client {
        /// The bootstrap servers.
        brokers: String,
        /// What librdkafka said.
        source: KafkaError,
    },
    /// Topic creation failed for a reason other than "already exists".
    #[error("failed to create topic {topic}: {reason}")]
    CreateTopic {
        /// The topic.
        topic: String,
        /// What the broker said.
        reason: String,
    },
}

impl KafkaConfig {
    fn base(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers);
        config
    }

    /// An idempotent producer that waits for all in-sync replicas.
    pub fn producer(&self) -> Result<FutureProducer, KafkaSetupError> {
        self.base()
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", self.message_timeout_ms.to_string())
            .set("linger.ms", "5")
            .set("compression.type", "lz4")
            .set("queue.buffering.max.kbytes", self.producer_queue_kbytes.to_string())
            .create()
            .map_err(|source| KafkaSetupError::Client { brokers: self.brokers.clone(), source })
    }

    /// A consumer in `group` that never commits on its own and starts from the earliest offset.
    pub fn consumer(&self, group: &str) -> Result<StreamConsumer, KafkaSetupError> {
        self.consumer_config(group)
            .create()
            .map_err(|source| KafkaSetupError::Client { brokers: self.brokers.clone(), source })
    }

    /// The same consumer for synchronous tools (e.g. the dead-letter commands).
    pub fn base_consumer(&self, group: &str) -> Result<BaseConsumer, KafkaSetupError> {
        self.consumer_config(group)
            .create()
            .map_err(|source| KafkaSetupError::Client { brokers: self.brokers.clone(), source })
    }

    fn consumer_config(&self, group: &str) -> ClientConfig {
        let mut config = self.base();
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("session.timeout.ms", "10000")
            .set("topic.metadata.refresh.interval.ms", "10000");
        config
    }

    /// Creates `topics` if they do not exist yet; existing topics are left as they are.
    pub async fn ensure_topics(&self, topics: &[String]) -> Result<(), KafkaSetupError> {
        let admin: AdminClient<DefaultClientContext> =
            self.base().create().map_err(|source| KafkaSetupError::Client { brokers: self.brokers.clone(), source })?;
        let new_topics: Vec<NewTopic<'_>> = topics
            .iter()
            .map(|topic| NewTopic::new(topic, self.partitions, TopicReplication::Fixed(self.replication_factor)))
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = admin
            .create_topics(&new_topics, &options)
            .await
            .map_err(|error| KafkaSetupError::CreateTopic { topic: topics.join(","), reason: error.to_string() })?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(KafkaSetupError::CreateTopic { topic, reason: code.to_string() });
                }
            }
        }
        Ok(())
    }
}

/// Asks the brokers for metadata: `Ok` when they answer within `timeout`.
pub async fn check_reachable(producer: FutureProducer, timeout: Duration) -> Result<(), String> {
    let asked = tokio::task::spawn_blocking(move || {
        producer
            .client()
            .fetch_metadata(None, timeout)
            .map(|_| ())
            .map_err(|error| format!("kafka unreachable: {error}"))
    });
    match asked.await {
        Ok(result) => result,
        Err(error) => Err(format!("kafka metadata check failed: {error}")),
    }
}
