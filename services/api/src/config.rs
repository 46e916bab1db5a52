//! ioc-api's configuration: defaults, then `IOC_API_CONFIG` (a TOML file), then `IOC_API__...`
//! environment variables.

use std::path::PathBuf;

use ioc_clickhouse::ClickHouseConfig;
use ioc_service::ConfigError;
use serde::Deserialize;

/// Everything ioc-api needs to run.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Address to listen on.
    pub listen: String,
    /// Where the indicators are computed.
    pub clickhouse: ClickHouseConfig,
    /// Longest period one request may ask for, in days.
    pub max_range_days: i64,
    /// Most points one series may have.
    pub max_series_points: usize,
    /// Prometheus endpoints of ingest and processor replicas whose rejected and dead-letter
    /// counters the dashboard's pipeline panel adds up (comma-separated in the environment);
    /// empty: those counts show as unknown.
    pub pipeline_metrics_urls: Vec<String>,
    /// The dashboard's built assets (`npm run build` in services/api/web), served at `/`.
    pub web_dir: PathBuf,
    /// How often, in milliseconds, the API checks whether the rollups advanced, which drops the
    /// answers it kept (answer_cache.rs): the most an answer can lag the rollups. 0 keeps no
    /// answer (every request goes to ClickHouse). Each check is one query of `rollup_state`
    /// (a row per source); 200 ms keeps the lag small against rollup rounds of 1 to 4 s.
    pub answer_cache_refresh_ms: u64,
    /// Most bytes of answers kept at once, with the requests' keys (about 100 bytes each with
    /// the URL); the cache starts over when it would hold more.
    pub answer_cache_max_bytes: usize,
    /// Most answers computed from ClickHouse at once (compute_limit.rs); each holds ClickHouse's
    /// rows for it until reduced, so this bounds the memory a burst of requests takes.
    pub max_answers_computing: usize,
    /// How long, in milliseconds, a request waits for its turn to compute an answer before it
    /// is refused with a 503 (`saturated`).
    pub answer_wait_ms: u64,
    /// On SIGTERM, how long, in milliseconds, the server waits for requests in flight before it
    /// stops (a client that stopped reading its answer would otherwise hold the shutdown until
    /// the pod is killed).
    pub shutdown_deadline_ms: u64,
    /// How many HTTP connections stay open at once, how long one may wait for a request's
    /// head and how long an answer may wait for the client to read it (`[connections]`:
    /// `max_open`, `header_timeout_ms`, `write_timeout_ms`).
    pub connections: ioc_service::ConnectionLimits,
    /// The day the answers take as today (local), instead of the clock's: for tests that
    /// need a given weekday. Not read from the configuration file or the environment.
    #[serde(skip)]
    pub today: Option<chrono::NaiveDate>,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            listen: "0.0.0.0:8080".into(),
            clickhouse: ClickHouseConfig::default(),
            max_range_days: 5 * 366,
            max_series_points: 400,
            pipeline_metrics_urls: Vec::new(),
            web_dir: "services/api/web/dist".into(),
            answer_cache_refresh_ms: 200,
            answer_cache_max_bytes: 32 << 20,
            max_answers_computing: 8,
            answer_wait_ms: 10_000,
            shutdown_deadline_ms: 20_000,
            connections: ioc_service::ConnectionLimits::default(),
            today: None,
        }
    }
}

impl ApiConfig {
    /// Reads and validates the configuration.
    pub fn load() -> Result<Self, ConfigError> {
        let file = std::env::var_os("IOC_API_CONFIG").map(PathBuf::from);
        let config: ApiConfig = ioc_service::load_config("IOC_API", file.as_deref(), &["pipeline_metrics_urls"])?;
        config.validate()?;
        Ok(config)
    }

    /// Refuses settings the service cannot run with.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_range_days < 1 || self.max_series_points < 1 {
            return Err(ConfigError::Invalid("max_range_days and max_series_points must be at least 1".into()));
        }
        if self.max_answers_computing < 1 {
            return Err(ConfigError::Invalid(
                "max_answers_computing must be at least 1 (answers computed from ClickHouse at once)".into(),
            ));
        }
        if let Some(problem) = self.connections.problem("connections") {
            return Err(ConfigError::Invalid(problem));
        }
        ioc_clickhouse::check_identifier(&self.clickhouse.database)
            .map_err(|e| ConfigError::Invalid(format!("clickhouse.database: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_turn_to_compute_an_answer_is_refused() {
        let config = ApiConfig { max_answers_computing: 0, ..ApiConfig::default() };
        let error = config.validate().expect_err("refused").to_string();
        assert!(error.contains("max_answers_computing must be at least 1"), "{error}");
        assert!(ApiConfig::default().validate().is_ok(), "the defaults run");
    }
}
