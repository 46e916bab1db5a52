//! ioc-ingest's configuration: defaults, then `IOC_INGEST_CONFIG` (a TOML file), then
//! `IOC_INGEST__...` environment variables.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ioc_domain::Source;
use ioc_kafka::KafkaConfig;
use ioc_service::{ConfigError, Secret};
use serde::Deserialize;

/// Everything ioc-ingest needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Address to listen on.
    pub listen: String,
    /// Kafka brokers and topic naming.
    pub kafka: KafkaConfig,
    /// Per source, the SHA-256 (hex) of each bearer key it may use. Two keys per source let a
    /// key rotate without downtime. Clear keys are never configured.
    pub keys: BTreeMap<String, Vec<String>>,
    /// HMAC key for pseudonymising citizen ID and phone numbers (at least 32 characters).
    pub pseudonymisation_key: Secret,
    /// Largest request body accepted, as sent (compressed or not).
    pub max_body_bytes: usize,
    /// Largest body accepted after gzip decompression (guards against gzip bombs).
    pub max_decompressed_bytes: usize,
    /// Most events accepted in one request.
    pub max_events_per_request: usize,
    /// Largest single event, as JSON text.
    pub max_event_bytes: usize,
    /// Most events of a request produced in one Kafka message, one per line (ioc_kafka's
    /// `framing`); a message also closes once it reaches 256 KiB. 500, the default, takes
    /// ingest's and the processor's CPU per event down by a fifth to a third against 1
    /// (BENCHMARKS.md), and the processor's completeness check still counts each event
    /// (schemas/events/README.md, "On Kafka"). 1 produces each event as a message of its own
    /// without the framing header, the only layout a processor older than December 2026 reads
    /// (ops/kubernetes.md, "Upgrade").
    pub max_events_per_message: usize,
    /// Longest string value or field name in an event, in characters.
    pub max_string_chars: usize,
    /// Deepest nesting of objects and arrays in an event.
    pub max_depth: usize,
    /// Events older than this many days are refused (a backfill needs an operator to raise it).
    pub max_event_age_days: i64,
    /// Events more than this many seconds in the future are refused (source clock skew).
    pub max_future_seconds: i64,
    /// Digests of keys that were revoked: refused with a message saying so.
    pub revoked_keys: Vec<String>,
    /// Per source, the events per second it may send (a token bucket per ingest replica);
    /// sources not listed are not limited. A request over the rate gets 429 with Retry-After;
    /// one with more events than the burst can never pass and gets 413, asking to split it.
    pub rate_limits: BTreeMap<String, RateLimit>,
    /// Requests processed at once by this replica; more are answered 503 with Retry-After.
    /// (Bytes waiting for Kafka are bounded by `kafka.producer_queue_kbytes`.)
    pub max_in_flight_requests: usize,
    /// On SIGTERM, how long requests in flight may still take before the process exits anyway
    /// (their senders get no answer and resend).
    pub shutdown_deadline_ms: u64,
    /// How long a request's body may take to arrive once its headers have: a slower one gets
    /// 408 and frees its place among `max_in_flight_requests`, which senders trickling their
    /// bodies would otherwise hold for as long as they liked.
    pub body_read_timeout_ms: u64,
    /// How many HTTP connections stay open at once, how long one may wait for a request's
    /// head and how long an answer may wait for the client to read it (`[connections]`:
    /// `max_open`, `header_timeout_ms`, `write_timeout_ms`).
    pub connections: ioc_service::ConnectionLimits,
}

/// A token bucket: `events_per_second` refill, `burst` capacity.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained rate.
    pub events_per_second: f64,
    /// Largest burst (and the largest request that can ever pass).
    pub burst: f64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            listen: "0.0.0.0:8081".into(),
            kafka: KafkaConfig::default(),
            keys: BTreeMap::new(),
            pseudonymisation_key: Secret::default(),
            max_body_bytes: 5 * 1024 * 1024,
            max_decompressed_bytes: 20 * 1024 * 1024,
            max_events_per_request: 10_000,
            max_event_bytes: 64 * 1024,
            max_events_per_message: 500,
            max_string_chars: 2_000,
            max_depth: 8,
            max_event_age_days: 400,
            max_future_seconds: 300,
            revoked_keys: Vec::new(),
            rate_limits: BTreeMap::new(),
            max_in_flight_requests: 256,
            shutdown_deadline_ms: 20_000,
            // A 5 MB body (the default limit) at 2 Mbit/s.
            body_read_timeout_ms: 20_000,
            connections: ioc_service::ConnectionLimits::default(),
        }
    }
}

/// The largest `max_event_bytes`. Each accepted event goes into a Kafka message as its text
/// again, with `received_at` added and pseudonyms (64 hex characters) in place of the
/// identifiers, so a little larger than what was sent, after at most 256 KiB of other events
/// (messages.rs). librdkafka refuses a message over its `message.max.bytes` (1,000,000 bytes by
/// default) before sending it, and ingest answers that as not acknowledged (503, resend), so a
/// valid event above it would be resent for ever. Half of that leaves room.
const MAX_EVENT_BYTES: usize = 512 * 1024;

/// The widest event-age window ingest accepts: a century back, as far as anyone backfills.
const MAX_EVENT_AGE_DAYS: i64 = 36_500;
/// The furthest ahead an event may be dated: a day of clock skew.
const MAX_FUTURE_SECONDS: i64 = 86_400;

impl IngestConfig {
    /// Reads the configuration from the file named by `IOC_INGEST_CONFIG` (if set) and the
    /// environment, and validates it.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var_os("IOC_INGEST_CONFIG").map(PathBuf::from);
        let list_keys = ["keys.portal", "keys.edoc", "keys.training", "revoked_keys"];
        let config: IngestConfig = ioc_service::load_config("IOC_INGEST", file.as_deref(), &list_keys)?;
        config.validate()?;
        Ok(config)
    }

    /// The per-event limits these settings describe.
    pub fn event_limits(&self) -> crate::limits::EventLimits {
        crate::limits::EventLimits {
            max_depth: self.max_depth,
            max_string_chars: self.max_string_chars,
            max_age: chrono::Duration::days(self.max_event_age_days),
            max_future: chrono::Duration::seconds(self.max_future_seconds),
        }
    }

    /// Refuses settings the service cannot run with, saying which and how to fix it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        if let Some(problem) = self.kafka.problem() {
            return invalid(problem);
        }
        for name in self.keys.keys() {
            if name.parse::<Source>().is_err() {
                return invalid(format!("keys.{name}: unknown source; expected portal, edoc or training"));
            }
        }
        for source in Source::ALL {
            let hashes = self.keys.get(source.as_str()).map(Vec::as_slice).unwrap_or_default();
            if hashes.is_empty() {
                return invalid(format!(
                    "keys.{source}: no key configured; set IOC_INGEST__KEYS__{} to the SHA-256 hex of the source's bearer key \
                     (e.g. printf %s \"$KEY\" | sha256sum)",
                    source.as_str().to_uppercase()
                ));
            }
            if let Some(bad) = hashes.iter().find(|h| h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit())) {
                // A digest written to a file by `sha256sum | cut` ends with a newline, which a
                // Secret made `--from-file` keeps: say so, since the value looks right when printed.
                let hint = if bad.trim() != bad { " (it has spaces or a newline around it: remove them)" } else { "" };
                return invalid(format!(
                    "keys.{source}: {bad:?} is not a SHA-256 hex digest (64 hex characters){hint}"
                ));
            }
        }
        if self.pseudonymisation_key.expose().len() < 32 {
            return invalid(
                "pseudonymisation_key: must be at least 32 characters; set IOC_INGEST__PSEUDONYMISATION_KEY from the secret store"
                    .into(),
            );
        }
        if self.max_body_bytes == 0 || self.max_decompressed_bytes < self.max_body_bytes {
            return invalid("max_decompressed_bytes must be at least max_body_bytes, and both above zero".into());
        }
        if self.max_event_bytes > MAX_EVENT_BYTES {
            return invalid(format!(
                "max_event_bytes is {}, more than {MAX_EVENT_BYTES}: an event that large may not fit in one Kafka \
                 message (librdkafka's message.max.bytes, 1,000,000), and would be refused at every resend",
                self.max_event_bytes
            ));
        }
        if self.max_events_per_request == 0
            || self.max_events_per_message == 0
            || self.max_event_bytes == 0
            || self.max_string_chars == 0
            || self.max_depth == 0
        {
            return invalid(
                "max_events_per_request, max_events_per_message, max_event_bytes, max_string_chars and max_depth \
                 must be above zero"
                    .into(),
            );
        }
        // Bounded above too: the window is computed from now on every request (a bound past
        // chrono's range panicked there), and a wider one only lets through times the store
        // cannot hold, which the contract refuses anyway.
        if !(1..=MAX_EVENT_AGE_DAYS).contains(&self.max_event_age_days)
            || !(0..=MAX_FUTURE_SECONDS).contains(&self.max_future_seconds)
        {
            return invalid(format!(
                "max_event_age_days must be 1 to {MAX_EVENT_AGE_DAYS} and max_future_seconds 0 to {MAX_FUTURE_SECONDS}"
            ));
        }
        if self.max_in_flight_requests == 0 {
            return invalid("max_in_flight_requests must be above zero".into());
        }
        if self.body_read_timeout_ms == 0 {
            return invalid("body_read_timeout_ms must be above zero (milliseconds a body may take to arrive)".into());
        }
        if let Some(problem) = self.connections.problem("connections") {
            return invalid(problem);
        }
        for (name, limit) in &self.rate_limits {
            if name.parse::<Source>().is_err() {
                return invalid(format!("rate_limits.{name}: unknown source; expected portal, edoc or training"));
            }
            if !(limit.events_per_second > 0.0 && limit.burst >= 1.0) {
                return invalid(format!(
                    "rate_limits.{name}: events_per_second must be above zero and burst at least 1"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_event_time_window_is_bounded_both_ways() {
        let at =
            |days: i64, future: i64| IngestConfig { max_event_age_days: days, max_future_seconds: future, ..valid() };
        assert!(at(MAX_EVENT_AGE_DAYS, MAX_FUTURE_SECONDS).validate().is_ok());
        for (days, future) in
            [(0, 300), (MAX_EVENT_AGE_DAYS + 1, 300), (400, -1), (400, MAX_FUTURE_SECONDS + 1), (i64::MAX, 300)]
        {
            let error = at(days, future).validate().expect_err("refused").to_string();
            assert!(error.contains("max_event_age_days must be 1 to"), "{days}, {future}: {error}");
        }
    }

    #[test]
    fn a_produce_timeout_of_zero_is_refused() {
        let config = IngestConfig {
            kafka: ioc_kafka::KafkaConfig { message_timeout_ms: 0, ..ioc_kafka::KafkaConfig::default() },
            ..valid()
        };
        let error = config.validate().expect_err("refused").to_string();
        assert!(error.contains("kafka.message_timeout_ms"), "{error}");
    }

    #[test]
    fn an_event_limit_past_what_one_kafka_message_holds_is_refused() {
        let with = |bytes: usize| IngestConfig { max_event_bytes: bytes, ..valid() };
        assert!(with(MAX_EVENT_BYTES).validate().is_ok());
        let error = with(MAX_EVENT_BYTES + 1).validate().expect_err("refused").to_string();
        assert!(error.contains("max_event_bytes") && error.contains("message.max.bytes"), "{error}");
    }

    fn valid() -> IngestConfig {
        let hash = "a".repeat(64);
        IngestConfig {
            keys: Source::ALL.iter().map(|s| (s.as_str().to_owned(), vec![hash.clone()])).collect(),
            pseudonymisation_key: Secret::new("k".repeat(32)),
            ..IngestConfig::default()
        }
    }

    #[test]
    fn a_toml_file_sets_every_kind_of_field_and_typos_are_refused() {
        let dir = std::env::temp_dir().join(format!("ioc-ingest-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let file = dir.join("ingest.toml");
        let hash = "b".repeat(64);
        std::fs::write(
            &file,
            format!(
                "listen = \"127.0.0.1:9999\"\npseudonymisation_key = \"{key}\"\nrevoked_keys = [\"{hash}\"]\n\
                 [keys]\nportal = [\"{hash}\"]\nedoc = [\"{hash}\"]\ntraining = [\"{hash}\"]\n\
                 [rate_limits.portal]\nevents_per_second = 100.0\nburst = 1000.0\n[kafka]\nbrokers = \"kafka:9092\"\n",
                key = "k".repeat(40)
            ),
        )
        .expect("write");
        // A prefix no environment sets, so only the file counts.
        let config: IngestConfig = ioc_service::load_config("IOC_TEST_UNSET_PREFIX", Some(&file), &[]).expect("loads");
        config.validate().expect("valid");
        assert_eq!((config.listen.as_str(), config.kafka.brokers.as_str()), ("127.0.0.1:9999", "kafka:9092"));
        assert_eq!(config.revoked_keys, vec![hash.clone()]);
        assert_eq!(config.rate_limits["portal"], RateLimit { events_per_second: 100.0, burst: 1000.0 });
        assert_eq!(config.max_events_per_request, IngestConfig::default().max_events_per_request);

        std::fs::write(&file, "listne = \"127.0.0.1:1\"\n").expect("write");
        let typo = ioc_service::load_config::<IngestConfig>("IOC_TEST_UNSET_PREFIX", Some(&file), &[]);
        assert!(typo.expect_err("typo refused").to_string().contains("listne"));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn a_complete_config_is_valid() {
        assert!(valid().validate().is_ok());
    }

    #[test]
    fn missing_key_bad_hash_and_short_secret_are_refused_with_the_setting_named() {
        let mut config = valid();
        config.keys.remove("edoc");
        assert!(config.validate().unwrap_err().to_string().contains("keys.edoc"));

        let mut config = valid();
        config.keys.insert("portal".into(), vec!["not-a-hash".into()]);
        assert!(config.validate().unwrap_err().to_string().contains("SHA-256"));

        // A digest read from a file with its newline (ops/kubernetes.md's install once did).
        let mut config = valid();
        config.keys.insert("portal".into(), vec![format!("{}\n", "a".repeat(64))]);
        assert!(config.validate().unwrap_err().to_string().contains("a newline around it"));

        let mut config = valid();
        config.pseudonymisation_key = Secret::new("short");
        let message = config.validate().unwrap_err().to_string();
        assert!(message.contains("pseudonymisation_key") && !message.contains("short"));
    }
}
