//! Kafka clients configured the way the pipeline's delivery guarantees need them.
//!
//! Producers wait for every in-sync replica and are idempotent, so an acknowledged event is
//! durable and a retried send is not duplicated by the broker; consumers never auto-commit, so
//! the processor commits only what ClickHouse has stored.

mod batch_producer;
mod commit;
mod consumer_context;
pub mod framing;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ioc_service::Secret;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::types::RDKafkaErrorCode;
use serde::Deserialize;

pub use batch_producer::{Batch, BatchContext, BatchProducer, Outcomes};
pub use commit::commit_reported;
pub use consumer_context::{hold_fetching, PartitionEndsContext};

/// How much a consumer prefetches, in KiB (librdkafka's `queued.max.messages.kbytes`).
const CONSUMER_PREFETCH_KBYTES: &str = "4096";
/// How long librdkafka waits before fetching again for a partition whose prefetch queue was
/// full (`consumer_config`).
const CONSUMER_FETCH_BACKOFF_MS: &str = "20";

/// How long the broker holds a consumer's fetch that found nothing new, in milliseconds
/// (`consumer_noting_partition_ends`).
const CONSUMER_FETCH_WAIT_MAX_MS: &str = "100";

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
    /// Whether the processor creates its topics at start (if missing). Off where topics are
    /// declared elsewhere (Strimzi KafkaTopic resources) and the service's user may not create.
    pub create_topics: bool,
    /// `min.insync.replicas` of the topics the processor creates: with acks=all, how many
    /// replicas must have an event before it is acknowledged. Unset: the broker's default, which
    /// is 1 on Kafka, so the leader alone could acknowledge; set it to the replication factor
    /// less one where the topics are not declared elsewhere (the chart does).
    pub min_insync_replicas: Option<u32>,
    /// `retention.ms`, in hours, of the source topics the processor creates. Unset: the broker's
    /// default (7 days on Kafka).
    pub retention_hours: Option<u64>,
    /// `retention.ms`, in hours, of the dead-letter topic the processor creates: the time left to
    /// fix a rule and replay. Unset: the broker's default.
    pub dead_letter_retention_hours: Option<u64>,
    /// librdkafka's `security.protocol`: `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    pub security_protocol: String,
    /// `sasl.mechanism` with a SASL protocol: `SCRAM-SHA-512`, `SCRAM-SHA-256` or `PLAIN`.
    pub sasl_mechanism: String,
    /// The SASL user.
    pub sasl_username: String,
    /// The SASL password (never logged).
    pub sasl_password: Secret,
    /// PEM file of the certificate authority the brokers' certificates chain to (TLS protocols);
    /// unset: the system's trust store.
    pub ssl_ca_location: Option<PathBuf>,
}

/// The values `security_protocol` may take.
pub const SECURITY_PROTOCOLS: [&str; 4] = ["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"];
/// The values `sasl_mechanism` may take.
pub const SASL_MECHANISMS: [&str; 3] = ["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"];

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "127.0.0.1:9092".into(),
            topic_prefix: "ioc".into(),
            message_timeout_ms: 15_000,
            partitions: 3,
            replication_factor: 1,
            producer_queue_kbytes: 256 * 1024,
            create_topics: true,
            min_insync_replicas: None,
            retention_hours: None,
            dead_letter_retention_hours: None,
            security_protocol: "PLAINTEXT".into(),
            sasl_mechanism: String::new(),
            sasl_username: String::new(),
            sasl_password: Secret::default(),
            ssl_ca_location: None,
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
    /// What is wrong with the settings, if anything, naming the setting to fix: the security
    /// settings ([`KafkaConfig::security_problem`]) and the produce timeout.
    pub fn problem(&self) -> Option<String> {
        if self.message_timeout_ms == 0 {
            // librdkafka reads 0 as no timeout: a produce Kafka never acknowledges would wait
            // for ever, and ingest would never answer its source (nor count the events as
            // unacknowledged for IocIngestKafkaUnacknowledged).
            return Some(
                "kafka.message_timeout_ms is 0, which librdkafka reads as waiting for ever; set how long a produce \
                 may wait for the broker (15000 by default)"
                    .into(),
            );
        }
        if let Some(replicas) = self.min_insync_replicas {
            if replicas == 0 || i64::from(replicas) > i64::from(self.replication_factor) {
                return Some(format!(
                    "kafka.min_insync_replicas {replicas} must be 1 to kafka.replication_factor ({}): more replicas \
                     than a topic has would refuse every event",
                    self.replication_factor
                ));
            }
        }
        if self.retention_hours == Some(0) || self.dead_letter_retention_hours == Some(0) {
            return Some(
                "kafka.retention_hours and kafka.dead_letter_retention_hours must be above zero when set".into(),
            );
        }
        self.security_problem()
    }

    /// What is wrong with the security settings, if anything, naming the setting to fix.
    pub fn security_problem(&self) -> Option<String> {
        let protocol = self.security_protocol.as_str();
        if !SECURITY_PROTOCOLS.contains(&protocol) {
            return Some(format!(
                "kafka.security_protocol {protocol:?} is not one of {}",
                SECURITY_PROTOCOLS.join(", ")
            ));
        }
        let sasl = protocol.starts_with("SASL_");
        if sasl && !SASL_MECHANISMS.contains(&self.sasl_mechanism.as_str()) {
            return Some(format!(
                "kafka.sasl_mechanism {:?} is not one of {} (needed with {protocol})",
                self.sasl_mechanism,
                SASL_MECHANISMS.join(", ")
            ));
        }
        if sasl && (self.sasl_username.is_empty() || self.sasl_password.is_empty()) {
            return Some(format!("kafka.sasl_username and kafka.sasl_password are needed with {protocol}"));
        }
        let sasl_settings =
            !self.sasl_mechanism.is_empty() || !self.sasl_username.is_empty() || !self.sasl_password.is_empty();
        if !sasl && sasl_settings {
            return Some(format!(
                "kafka.sasl_* settings are set but kafka.security_protocol {protocol} does not use SASL; \
                 set it to SASL_SSL (or SASL_PLAINTEXT)"
            ));
        }
        match &self.ssl_ca_location {
            Some(_) if !protocol.ends_with("SSL") => {
                Some(format!("kafka.ssl_ca_location is set but kafka.security_protocol {protocol} does not use TLS"))
            }
            Some(path) if !path.is_file() => {
                Some(format!("kafka.ssl_ca_location {} is not a readable file", path.display()))
            }
            _ => None,
        }
    }

    fn base(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.brokers).set("security.protocol", &self.security_protocol);
        if self.security_protocol.starts_with("SASL_") {
            config
                .set("sasl.mechanism", &self.sasl_mechanism)
                .set("sasl.username", &self.sasl_username)
                .set("sasl.password", self.sasl_password.expose());
        }
        if let Some(ca) = &self.ssl_ca_location {
            config.set("ssl.ca.location", ca.display().to_string());
        }
        config
    }

    /// An idempotent producer that waits for all in-sync replicas.
    pub fn producer(&self) -> Result<FutureProducer, KafkaSetupError> {
        self.producer_config()
            .create()
            .map_err(|source| KafkaSetupError::Client { brokers: self.brokers.clone(), source })
    }

    fn producer_config(&self) -> ClientConfig {
        let mut config = self.base();
        config
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("message.timeout.ms", self.message_timeout_ms.to_string())
            .set("linger.ms", "5")
            .set("compression.type", "lz4")
            .set("queue.buffering.max.kbytes", self.producer_queue_kbytes.to_string())
            // As the consumers: partitions added to a topic (ops/kubernetes.md) get events within
            // 10 s instead of librdkafka's default of 5 minutes.
            .set("topic.metadata.refresh.interval.ms", "10000");
        config
    }

    /// The same producer for batches awaited together (ingest: one request's events), reporting
    /// librdkafka's statistics to `on_stats` every `interval_ms`.
    pub fn batch_producer(
        &self,
        interval_ms: u64,
        on_stats: impl Fn(&rdkafka::Statistics) + Send + Sync + 'static,
    ) -> Result<BatchProducer, KafkaSetupError> {
        self.producer_config()
            .set("statistics.interval.ms", interval_ms.to_string())
            .create_with_context(BatchContext::new(on_stats))
            .map_err(|source| KafkaSetupError::Client { brokers: self.brokers.clone(), source })
    }

    /// A consumer in `group` that never commits on its own and starts from the earliest offset.
    pub fn consumer(&self, group: &str) -> Result<StreamConsumer, KafkaSetupError> {
        self.consumer_config(group)
            .create()
            .map_err(|source| KafkaSetupError::Client { brokers: self.brokers.clone(), source })
    }

    /// [`KafkaConfig::consumer`] that also tells when it has delivered everything a partition
    /// held: `recv` then yields `KafkaError::PartitionEOF` (librdkafka's `enable.partition.eof`).
    pub fn consumer_noting_partition_ends(
        &self,
        group: &str,
    ) -> Result<StreamConsumer<PartitionEndsContext>, KafkaSetupError> {
        self.consumer_config(group)
            .set("enable.partition.eof", "true")
            // librdkafka reports a partition's end once a fetch at the end comes back empty,
            // and the broker holds such a fetch this long (500 ms by default) in case data
            // comes. A backlog's last batch waits for that report (the processor's pipeline):
            // 100 ms costs an idle consumer eight fetch requests a second more per broker
            // (ten instead of two); the processor runs one consumer per source.
            .set("fetch.wait.max.ms", CONSUMER_FETCH_WAIT_MAX_MS)
            .create_with_context(PartitionEndsContext::default())
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
            .set("topic.metadata.refresh.interval.ms", "10000")
            // librdkafka prefetches up to 64 MiB per consumer by default; the processor runs one
            // consumer per source, which made draining a backlog peak near 190 MB (ops/bench).
            // 4 MiB refilled every 20 ms (below) keeps a batch of 20,000 rows fed: 128 MB at peak
            // and 2.5 s for 288,199 rows, against 141 MB and 2.2 s with 8 MiB.
            .set("queued.max.messages.kbytes", CONSUMER_PREFETCH_KBYTES)
            // With the queue full, librdkafka postpones the partition's next fetch by this much
            // (1 s by default): with a bounded queue, draining a backlog stalled up to a second
            // between batches (ops/bench: 5.4 s for 288,199 rows, half of it waiting). Its
            // documentation advises lowering it when the queue thresholds are lowered.
            .set("fetch.queue.backoff.ms", CONSUMER_FETCH_BACKOFF_MS);
        config
    }

    /// An admin client with the connection and security settings.
    pub fn admin(&self) -> Result<AdminClient<DefaultClientContext>, KafkaSetupError> {
        self.base().create().map_err(|source| KafkaSetupError::Client { brokers: self.brokers.clone(), source })
    }

    /// Creates the source topics `topics` if they do not exist yet, with `min_insync_replicas`
    /// and `retention_hours`; existing topics are left as they are.
    pub async fn ensure_topics(&self, topics: &[String]) -> Result<(), KafkaSetupError> {
        let wanted: Vec<_> = topics.iter().map(|topic| (topic.as_str(), self.retention_hours)).collect();
        self.create_missing(&wanted).await
    }

    /// [`KafkaConfig::ensure_topics`] for the source topics `topics` and the dead-letter topic
    /// `dead_letters` (with `dead_letter_retention_hours`) together: the processor's start.
    pub async fn ensure_topics_and_dead_letters(
        &self,
        topics: &[String],
        dead_letters: &str,
    ) -> Result<(), KafkaSetupError> {
        let mut wanted: Vec<_> = topics.iter().map(|topic| (topic.as_str(), self.retention_hours)).collect();
        wanted.push((dead_letters, self.dead_letter_retention_hours));
        self.create_missing(&wanted).await
    }

    /// The settings a created topic gets beyond the broker's defaults.
    pub fn topic_settings(&self, retention_hours: Option<u64>) -> Vec<(&'static str, String)> {
        let mut settings = Vec::new();
        if let Some(replicas) = self.min_insync_replicas {
            settings.push(("min.insync.replicas", replicas.to_string()));
        }
        if let Some(hours) = retention_hours {
            settings.push(("retention.ms", (hours * 3_600_000).to_string()));
        }
        settings
    }

    /// Creates those of `wanted` (each topic with its retention) that the brokers do not list.
    /// The brokers' metadata is asked first, because a topic creation goes through the cluster's
    /// controller: asking to create topics that all exist took 0.1 s each time on the local
    /// stack, on every start of the processor (BENCHMARKS.md, the processor's start), and the
    /// metadata answers in tens of milliseconds with the client's start. The creation still
    /// tolerates "already exists", for a topic another process created in between.
    async fn create_missing(&self, wanted: &[(&str, Option<u64>)]) -> Result<(), KafkaSetupError> {
        let admin = self.admin()?;
        let (admin, listed) = tokio::task::spawn_blocking(move || {
            let listed = admin.inner().fetch_metadata(None, METADATA_TIMEOUT).map(|metadata| {
                metadata
                    .topics()
                    .iter()
                    .filter(|topic| topic.error().is_none())
                    .map(|topic| topic.name().to_owned())
                    .collect::<std::collections::HashSet<_>>()
            });
            (admin, listed)
        })
        .await
        .map_err(|error| KafkaSetupError::CreateTopic { topic: topic_names(wanted), reason: error.to_string() })?;
        // Unreadable metadata is no reason to give up: the creation below asks the controller.
        let missing: Vec<_> = match &listed {
            Ok(listed) => wanted.iter().filter(|(topic, _)| !listed.contains(*topic)).collect(),
            Err(error) => {
                tracing::warn!(%error, "could not list the brokers' topics; asking to create them all");
                wanted.iter().collect()
            }
        };
        if missing.is_empty() {
            // Closing a client waits for its threads (about 50 ms here): not on the start's path.
            tokio::task::spawn_blocking(move || drop(admin));
            return Ok(());
        }
        let settings: Vec<_> =
            missing.iter().map(|(_, retention_hours)| self.topic_settings(*retention_hours)).collect();
        let new_topics: Vec<NewTopic<'_>> = missing
            .iter()
            .zip(&settings)
            .map(|((topic, _), settings)| {
                settings.iter().fold(
                    NewTopic::new(topic, self.partitions, TopicReplication::Fixed(self.replication_factor)),
                    |topic, (key, value)| topic.set(key, value),
                )
            })
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = admin.create_topics(&new_topics, &options).await.map_err(|error| KafkaSetupError::CreateTopic {
            topic: topic_names(missing.iter().copied()),
            reason: error.to_string(),
        });
        // Off the runtime's threads either way (closing waits for the client's threads).
        tokio::task::spawn_blocking(move || drop(admin));
        for result in results? {
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

/// How long `create_missing` waits for the brokers' list of topics.
const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

/// The names of `topics`, comma separated, for an error.
fn topic_names<'a>(topics: impl IntoIterator<Item = &'a (&'a str, Option<u64>)>) -> String {
    topics.into_iter().map(|(topic, _)| *topic).collect::<Vec<_>>().join(",")
}

/// Asks the brokers for metadata through `producer`: `Ok` when they answer within `timeout`.
pub async fn check_reachable<P, C>(producer: Arc<P>, timeout: Duration) -> Result<(), String>
where
    P: Producer<C> + Send + Sync + 'static,
    C: rdkafka::producer::ProducerContext + 'static,
{
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_settings_follow_the_configuration_and_bad_ones_are_named() {
        let plain = KafkaConfig::default();
        assert!(plain.topic_settings(None).is_empty(), "unset: the broker's defaults");
        let set = KafkaConfig { replication_factor: 3, min_insync_replicas: Some(2), ..KafkaConfig::default() };
        assert_eq!(
            set.topic_settings(Some(720)),
            [("min.insync.replicas", "2".to_owned()), ("retention.ms", "2592000000".to_owned())]
        );
        assert!(set.problem().is_none());
        let over = KafkaConfig { replication_factor: 1, min_insync_replicas: Some(2), ..KafkaConfig::default() };
        assert!(over.problem().expect("refused").contains("kafka.min_insync_replicas 2"));
        let zero = KafkaConfig { retention_hours: Some(0), ..KafkaConfig::default() };
        assert!(zero.problem().expect("refused").contains("retention_hours"));
    }

    fn secured() -> KafkaConfig {
        KafkaConfig {
            security_protocol: "SASL_SSL".into(),
            sasl_mechanism: "SCRAM-SHA-512".into(),
            sasl_username: "ioc-ingest".into(),
            sasl_password: Secret::new("s3cret"),
            ..KafkaConfig::default()
        }
    }

    #[test]
    fn security_settings_reach_librdkafka_and_the_password_never_prints() {
        let config = secured();
        assert_eq!(config.security_problem(), None);
        let client = config.base();
        assert_eq!(client.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(client.get("sasl.mechanism"), Some("SCRAM-SHA-512"));
        assert_eq!(client.get("sasl.username"), Some("ioc-ingest"));
        assert_eq!(client.get("sasl.password"), Some("s3cret"));
        assert!(!format!("{config:?}").contains("s3cret"));
        assert_eq!(KafkaConfig::default().base().get("sasl.password"), None);
    }

    #[test]
    fn inconsistent_security_settings_are_refused_with_the_setting_to_fix() {
        let cases = [
            (KafkaConfig { security_protocol: "TLS".into(), ..secured() }, "kafka.security_protocol"),
            (KafkaConfig { sasl_mechanism: "GSSAPI".into(), ..secured() }, "kafka.sasl_mechanism"),
            (KafkaConfig { sasl_password: Secret::default(), ..secured() }, "kafka.sasl_password"),
            (KafkaConfig { security_protocol: "SSL".into(), ..secured() }, "SASL_SSL"),
            (
                KafkaConfig { ssl_ca_location: Some("/nonexistent/ca.crt".into()), ..secured() },
                "/nonexistent/ca.crt is not a readable file",
            ),
            (
                KafkaConfig { ssl_ca_location: Some("/etc/hostname".into()), ..KafkaConfig::default() },
                "does not use TLS",
            ),
        ];
        for (config, expected) in cases {
            let problem = config.security_problem().unwrap_or_else(|| panic!("accepted: {config:?}"));
            assert!(problem.contains(expected), "{problem:?} should mention {expected:?}");
        }
    }

    #[test]
    fn a_produce_timeout_of_zero_is_refused_and_the_security_settings_still_checked() {
        let problem = KafkaConfig { message_timeout_ms: 0, ..KafkaConfig::default() }.problem();
        assert!(problem.is_some_and(|p| p.contains("kafka.message_timeout_ms")), "0 accepted");
        assert_eq!(KafkaConfig { message_timeout_ms: 1, ..KafkaConfig::default() }.problem(), None);
        let insecure = KafkaConfig { security_protocol: "TLS".into(), ..secured() };
        assert!(insecure.problem().is_some_and(|p| p.contains("kafka.security_protocol")));
    }
}
