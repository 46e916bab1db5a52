//! ioc-processor's configuration: defaults, then `IOC_PROCESSOR_CONFIG` (a TOML file), then
//! `IOC_PROCESSOR__...` environment variables.

use std::path::PathBuf;

use ioc_clickhouse::ClickHouseConfig;
use ioc_domain::Source;
use ioc_kafka::KafkaConfig;
use ioc_service::ConfigError;
use serde::Deserialize;

/// Everything ioc-processor needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessorConfig {
    /// Address of the health and metrics endpoint.
    pub listen: String,
    /// Kafka brokers and topic naming.
    pub kafka: KafkaConfig,
    /// Where raw events are stored.
    pub clickhouse: ClickHouseConfig,
    /// Consumer groups are `{group_prefix}.{source}`.
    pub group_prefix: String,
    /// Sources this instance consumes (all by default; split them to scale independently).
    pub sources: Vec<Source>,
    /// A batch is written when it holds this many rows...
    pub batch_max_rows: usize,
    /// ...or when its messages add up to this many bytes...
    pub batch_max_bytes: usize,
    /// ...or when its first row has waited this long...
    pub batch_max_wait_ms: u64,
    /// A batch that gathered less than a tenth of `batch_max_rows` in this time is live
    /// traffic, not a backlog, and is written then (at most `batch_max_wait_ms`); a fuller one
    /// is written when its partitions have nothing more if it began a second behind (a backlog
    /// read from Kafka), else once nothing more came during this time. Live events reach
    /// ClickHouse sooner, at most 1000 / this inserts a second per source and instance, while a
    /// backlog still fills whole batches.
    pub batch_live_wait_ms: u64,
    /// On SIGTERM, how long the whole shutdown may take: the last batches stored and committed,
    /// then a last rollup round in what is left; past it the process exits anyway (uncommitted
    /// messages are consumed again after the restart, an abandoned round is run again).
    pub shutdown_deadline_ms: u64,
    /// Longest pause between two attempts to write a batch ClickHouse refused.
    pub max_retry_backoff_ms: u64,
    /// How long one attempt to write a batch may take, in seconds, from its first byte sent to
    /// ClickHouse's answer (its materialized views and a quorum's replicas included). Past it the
    /// attempt counts as failed and is retried like a refused one (the rows again, which the
    /// tables fold if the first attempt did land). Without it, a node that took the connection
    /// and never answered (a hung disk, a network cut after connecting) held the source's
    /// pipeline for good. At most [`MAX_INSERT_TIMEOUT_SECONDS`].
    pub insert_timeout_seconds: u64,
    /// A folder of versioned SQL migrations for `ioc-processor migrate`; unset (the default):
    /// the migrations embedded in the binary.
    pub migrations_dir: Option<PathBuf>,
    /// A folder of reference data files for `ioc-processor migrate`; unset (the default): the
    /// files embedded in the binary.
    pub reference_dir: Option<PathBuf>,
    /// Whether this instance keeps the rollups (pre-aggregated indicators) up to date. Safe to
    /// run in several replicas (each cycle is idempotent). Each one holds its cycles back for
    /// its own inserts under way only (rollup/in_flight.rs). A processor that writes without
    /// running the rollup dates each attempt's rows at the next second of its clock; the cycles
    /// of the others cover that second once it has begun, so they need `rollup_margin_seconds`
    /// of at least the time its inserts take.
    pub rollup_enabled: bool,
    /// The least time between the starts of two rounds of rollup cycles (one per source): a
    /// round that takes longer is followed by the next at once.
    pub rollup_interval_ms: u64,
    /// Whether the rollup task recomputes every month of the history when it starts. Off (the
    /// default), it resumes from the last recorded progress of its sources when the rules that
    /// recorded it are its own (rollup/resume.rs), and recomputes everything only when they are
    /// not. Turn it on for one start after changing raw events by hand (a dropped partition, a
    /// corrected row): the rollups follow the events inserted, not the ones changed. After
    /// removing events, empty `dossier_facts` first (ops/runbook.md): a facts version ranks by
    /// the events it was computed from, and one from fewer events ranks below the stored one.
    pub rollup_recompute_on_start: bool,
    /// How far before the recorded progress a start resumes, in seconds. Another replica's
    /// cycles pass the date of an insert still under way (its writer's own next cycle takes it
    /// in); if that writer dies before then, a start that resumed from the newest progress
    /// would never read those rows. Covers inserts retried against a failing ClickHouse for up
    /// to this long; a start reads this much again, once (a few hundred events at the
    /// province's volume).
    pub rollup_resume_lookback_seconds: u32,
    /// The most events one query of the rollup takes in when it recomputes dossiers' facts:
    /// ClickHouse holds them at once, about 700 bytes each, so this bounds the memory of a
    /// start that recomputes everything (rollup/cycle.rs, `CycleOptions`). Lower it when
    /// ClickHouse's `max_memory_usage` is below 1 GB.
    pub rollup_facts_events_per_slice: u64,
    /// How many seconds a rollup cycle stays behind what this process's own inserts allow
    /// (rollup/in_flight.rs: it dates its rows and covers them exactly), for rows it cannot
    /// see: 0 with one processor; 1 with replicas whose clocks NTP keeps within a second of each
    /// other (the API shows the furthest progress of any replica). Add to it the replication lag
    /// accepted when `clickhouse.insert_quorum` is below the replicas of a shard (a cycle may read
    /// a replica the rows have not reached), and the insert time of processors that write
    /// without the rollup, if either can happen.
    pub rollup_margin_seconds: u32,
    /// The ClickHouse nodes the rollup may run on, each node's own address (not a Service or a
    /// balancer over several): a cycle's statements use tables it creates on the node it talks
    /// to (rollup/nodes.rs). It starts on the first that answers its start's reads and moves to
    /// the next after a failed cycle.
    /// Empty (the default): `clickhouse.url`, which must then reach one node.
    pub rollup_clickhouse_urls: Vec<String>,
    /// How long a ClickHouse node may take over one rollup cycle before the cycle fails and the
    /// rollup moves to the next node (the start's reads of progress and leftovers get at most
    /// 30 s of it). A node that took the connection and then never answers (a hung disk, a
    /// network cut after connecting) otherwise held the rollup until the system's TCP timeouts,
    /// a quarter of an hour or more, or for good. Must exceed the longest cycle: a start that
    /// recomputes everything took 67 s for 16 months on 2 cores (BENCHMARKS.md); raise it for a
    /// longer history on slower nodes. At most 3600: every replica sweeps away the staging tables
    /// older than an hour.
    pub rollup_cycle_timeout_seconds: u64,
    /// How often consumer lag is read from the broker (completeness is checked every fourth
    /// time; monitor.rs). 0 turns both off.
    pub monitor_interval_ms: u64,
    /// How long `ioc-processor migrate` keeps trying while ClickHouse does not answer or refuses
    /// a statement, before it fails: on a first install the migration Job starts while the
    /// operator is still creating the ClickHouse and Keeper pods (minutes), and a Job gives up
    /// after a few quick retries of its own. Refusals that no wait can change (a migration
    /// edited after it was applied, a database migrated by a newer binary) fail at once.
    pub migrate_wait_seconds: u64,
}

/// The longest `insert_timeout_seconds`: below librdkafka's `max.poll.interval.ms` (300 s by
/// default, which ioc_kafka leaves as it is), since an attempt is not interrupted to poll.
pub const MAX_INSERT_TIMEOUT_SECONDS: u64 = 240;

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            listen: "0.0.0.0:8082".into(),
            kafka: KafkaConfig::default(),
            clickhouse: ClickHouseConfig::default(),
            group_prefix: "ioc-processor".into(),
            sources: Source::ALL.to_vec(),
            // Live traffic closes batches on the wait; a backlog (after an outage) fills them,
            // and fewer, larger parts cost ClickHouse less to store and merge (ops/bench: 1.56
            // CPU-s of ClickHouse for 288,199 rows in batches of 5,000, 1.10 in 20,000).
            batch_max_rows: 20_000,
            batch_max_bytes: 16 * 1024 * 1024,
            batch_max_wait_ms: 1_000,
            // Four inserts a second per source and instance at most: small parts that
            // ClickHouse merges cheaply, and 0.75 s less between an event and its rollup.
            batch_live_wait_ms: 250,
            shutdown_deadline_ms: 20_000,
            max_retry_backoff_ms: 30_000,
            // Batches take about 0.1 s locally (BENCHMARKS.md); two minutes leaves room for a
            // loaded cluster and a quorum's replicas.
            insert_timeout_seconds: 120,
            migrations_dir: None,
            reference_dir: None,
            rollup_enabled: true,
            // A leader's screen lags an event by up to a round of the sources' cycles plus its
            // own source's cycle (BENCHMARKS.md); an idle cycle costs ClickHouse about 0.15 s
            // with a year loaded.
            rollup_interval_ms: 1_000,
            rollup_recompute_on_start: false,
            rollup_resume_lookback_seconds: 900,
            rollup_facts_events_per_slice: crate::rollup::CycleOptions::default().facts_events_per_slice,
            // One server by default (values-production.yaml sets 1 for the cluster).
            rollup_margin_seconds: 0,
            rollup_clickhouse_urls: Vec::new(),
            // Nine times a start's recomputation of 16 months here, under IocRollupStalled's
            // 15 minutes.
            rollup_cycle_timeout_seconds: 600,
            monitor_interval_ms: 15_000,
            // Inside the chart's migration Job deadline (migrations.activeDeadlineSeconds, 600).
            migrate_wait_seconds: 300,
        }
    }
}

/// The settings whose environment value is a comma-separated list.
const LIST_KEYS: &[&str] = &["sources", "rollup_clickhouse_urls"];

impl ProcessorConfig {
    /// The nodes the rollup runs on (`rollup_clickhouse_urls`, or `clickhouse.url`), each with
    /// a client of its own bound to the pipeline's database.
    pub fn rollup_nodes(&self) -> crate::rollup::RollupNodes {
        let urls = if self.rollup_clickhouse_urls.is_empty() {
            vec![self.clickhouse.url.clone()]
        } else {
            self.rollup_clickhouse_urls.clone()
        };
        crate::rollup::RollupNodes::new(
            urls.into_iter()
                .map(|url| {
                    let node = ClickHouseConfig { url: url.clone(), ..self.clickhouse.clone() };
                    let client = node.client_connecting_within(crate::rollup::NODE_CONNECT_TIMEOUT);
                    (url, client)
                })
                .collect(),
        )
    }

    /// Reads and validates the configuration.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var_os("IOC_PROCESSOR_CONFIG").map(PathBuf::from);
        let config: ProcessorConfig = ioc_service::load_config("IOC_PROCESSOR", file.as_deref(), LIST_KEYS)?;
        config.validate()?;
        Ok(config)
    }

    /// Refuses settings the service cannot run with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |message: &str| Err(ConfigError::Invalid(message.to_owned()));
        if self.sources.is_empty() {
            return invalid("sources: at least one of portal, edoc, training is needed");
        }
        if self.batch_max_rows == 0
            || self.batch_max_wait_ms == 0
            || self.batch_max_bytes == 0
            || self.batch_live_wait_ms == 0
        {
            return invalid(
                "batch_max_rows, batch_max_bytes, batch_max_wait_ms and batch_live_wait_ms must be above zero",
            );
        }
        if !(1..=MAX_INSERT_TIMEOUT_SECONDS).contains(&self.insert_timeout_seconds) {
            return Err(ConfigError::Invalid(format!(
                "insert_timeout_seconds must be 1 to {MAX_INSERT_TIMEOUT_SECONDS}: the consumer is not polled during an \
                 attempt, and librdkafka drops it from its group after max.poll.interval.ms (300 s) without a poll"
            )));
        }
        if self.rollup_interval_ms == 0
            || self.rollup_facts_events_per_slice == 0
            || self.rollup_cycle_timeout_seconds == 0
        {
            return invalid(
                "rollup_interval_ms, rollup_facts_events_per_slice and rollup_cycle_timeout_seconds must be above zero",
            );
        }
        // The hourly sweep of every replica drops staging tables an hour old (rollup/mod.rs):
        // a longer cycle would lose its own.
        let swept_after = crate::rollup::ABANDONED_STAGING_AGE.as_secs();
        if self.rollup_cycle_timeout_seconds > swept_after {
            return Err(ConfigError::Invalid(format!(
                "rollup_cycle_timeout_seconds must be at most {swept_after}: older staging tables are swept away"
            )));
        }
        if let Some(problem) = self.kafka.problem() {
            return Err(ConfigError::Invalid(problem));
        }
        if let Some(url) =
            self.rollup_clickhouse_urls.iter().find(|url| !(url.starts_with("http://") || url.starts_with("https://")))
        {
            return Err(ConfigError::Invalid(format!(
                "rollup_clickhouse_urls: {url:?} is not an http:// or https:// address of a ClickHouse node"
            )));
        }
        ioc_clickhouse::check_identifier(&self.clickhouse.database)
            .map_err(|e| ConfigError::Invalid(format!("clickhouse.database: {e}")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_insert_timeout_past_the_consumers_poll_interval_is_refused() {
        let with = |seconds: u64| ProcessorConfig { insert_timeout_seconds: seconds, ..ProcessorConfig::default() };
        assert!(with(MAX_INSERT_TIMEOUT_SECONDS).validate().is_ok());
        for seconds in [0, MAX_INSERT_TIMEOUT_SECONDS + 1] {
            let error = with(seconds).validate().expect_err("refused").to_string();
            assert!(error.contains("insert_timeout_seconds must be 1 to 240"), "{seconds}: {error}");
        }
    }

    #[test]
    fn the_rollup_nodes_are_read_from_a_comma_separated_list() {
        // A prefix of its own: no other test reads these variables.
        std::env::set_var("IOC_PROCESSOR_CONFIG_TEST__ROLLUP_CLICKHOUSE_URLS", "http://ch-0-0:8123,http://ch-0-1:8123");
        let config: ProcessorConfig =
            ioc_service::load_config("IOC_PROCESSOR_CONFIG_TEST", None, LIST_KEYS).expect("configuration read");
        assert_eq!(config.rollup_clickhouse_urls, ["http://ch-0-0:8123", "http://ch-0-1:8123"]);
        config.validate().expect("valid");
        let nodes = config.rollup_nodes();
        let urls: Vec<&str> = nodes.all().map(|(url, _)| url).collect();
        assert_eq!(urls, ["http://ch-0-0:8123", "http://ch-0-1:8123"]);
    }

    #[test]
    fn without_rollup_nodes_the_rollup_uses_the_clickhouse_address() {
        let config = ProcessorConfig::default();
        let nodes = config.rollup_nodes();
        let urls: Vec<&str> = nodes.all().map(|(url, _)| url).collect();
        assert_eq!(urls, [config.clickhouse.url.as_str()]);
    }

    #[test]
    fn a_rollup_node_without_a_scheme_is_refused_by_name() {
        let config =
            ProcessorConfig { rollup_clickhouse_urls: vec!["ch-0-0:8123".into()], ..ProcessorConfig::default() };
        let error = config.validate().expect_err("refused").to_string();
        assert!(error.contains("rollup_clickhouse_urls") && error.contains("ch-0-0:8123"), "{error}");
    }

    #[test]
    fn a_rollup_cycle_without_time_to_run_is_refused_by_name() {
        ProcessorConfig::default().validate().expect("the defaults are valid");
        // 3600 is also the chart's schema's maximum (values.schema.json).
        for seconds in [0, 3_601] {
            let config = ProcessorConfig { rollup_cycle_timeout_seconds: seconds, ..ProcessorConfig::default() };
            let error = config.validate().expect_err("refused").to_string();
            assert!(error.contains("rollup_cycle_timeout_seconds"), "{seconds}: {error}");
        }
    }
}
