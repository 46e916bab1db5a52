//! Names of the Prometheus metrics another component reads by name: declared once, registered
//! by the service that owns them and read by the others (the API's pipeline panel, the alert
//! rules and dashboards under ops/observability check theirs against these in tests).

/// ioc-ingest: events received, by `source` and `outcome` (`accepted`, `rejected`,
/// `unacknowledged`).
pub const INGEST_EVENTS: &str = "ioc_ingest_events_total";
/// ioc-processor: messages sent to the dead-letter topic, by `source` and `reason`.
pub const PROCESSOR_DEAD_LETTERS: &str = "ioc_processor_dead_letters_total";
/// ioc-canary: when a probe last reached the API, by `source` (unix seconds).
pub const CANARY_LAST_SUCCESS: &str = "ioc_canary_last_success_timestamp_seconds";
/// ioc-canary: seconds the last successful probe of `source` took to show in the API (the
/// dashboard's freshness, as a gauge for alerts and panels).
pub const CANARY_FRESHNESS: &str = "ioc_canary_freshness_seconds";
/// ioc-canary: seconds from sending a probe until the API showed it, by `source`.
pub const CANARY_LATENCY: &str = "ioc_canary_latency_seconds";
/// ioc-canary: probes by `source` and `outcome` (`succeeded`, `refused`, `timed_out`).
pub const CANARY_PROBES: &str = "ioc_canary_probes_total";
