//! Names of the Prometheus metrics another component reads by name: declared once, registered
//! by the service that owns them and read by the others (the API's pipeline panel, the alert
//! rules and dashboards under ops/observability check theirs against these in tests).

/// ioc-ingest: events received, by `source` and `outcome` (`accepted`, `rejected`,
/// `unacknowledged`).
pub const INGEST_EVENTS: &str = "ioc_ingest_events_total";
/// ioc-processor: messages sent to the dead-letter topic, by `source` and `reason`.
pub const PROCESSOR_DEAD_LETTERS: &str = "ioc_processor_dead_letters_total";
