//! Prometheus metrics of ioc-processor, declared once.

use ioc_domain::Source;
use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

use crate::decode::DeadLetterReason;

/// The service's metrics.
#[derive(Clone)]
pub struct ProcessorMetrics {
    /// Registry served at `/metrics`.
    pub registry: Registry,
    /// Rows written, by table.
    pub rows_written: IntCounterVec,
    /// Messages sent to the dead-letter topic, by source and reason (`decode::DeadLetterReason`).
    pub dead_letters: IntCounterVec,
    /// Failed insert attempts (each is retried), by table.
    pub insert_failures: IntCounterVec,
    /// Failed attempts to write a dead letter (each is retried until Kafka takes it, and the
    /// source's pipeline waits behind it), by source.
    pub dead_letter_failures: IntCounterVec,
    /// Resumes of fetching librdkafka refused after a flush (retried; the source stays paused).
    pub resume_failures: IntCounterVec,
    /// Failed offset commits (the batch will be redelivered and deduplicated), by source: the
    /// broker's refusals included, counted when its answer comes (ioc_kafka::commit_reported).
    pub commit_failures: IntCounterVec,
    /// Time to write one batch, by table.
    pub batch_seconds: HistogramVec,
    /// Rows of each batch written, by source.
    pub batch_rows: HistogramVec,
    /// Time to commit a batch's offsets, until the broker's answer, by source.
    pub commit_seconds: HistogramVec,
    /// Messages between a partition's end and its group's committed offset, by source and
    /// partition (monitor.rs).
    pub consumer_lag: IntGaugeVec,
    /// Events of the messages below the committed positions of a source (within the topic's
    /// retention): each message's events, one for a message ClickHouse knows nothing of.
    pub completeness_acknowledged: IntGaugeVec,
    /// ...of them, stored or dead-lettered.
    pub completeness_stored: IntGaugeVec,
    /// ...of them, neither: lost between Kafka and ClickHouse. Must stay 0.
    pub completeness_missing: IntGaugeVec,
    /// Unix time the last completeness check of a source finished (the three gauges above are
    /// that old; 0 before the first).
    pub completeness_checked: IntGaugeVec,
    /// Stored events whose unit code is not in the reference data's units, by source
    /// (unknown_units.rs): in the province's totals and in no unit's. Should be 0.
    pub unknown_unit_events: IntGaugeVec,
    /// Unix time the last unknown units check of a source finished (0 before the first): a
    /// check that fails leaves the count as it was, and this says how old it is.
    pub unknown_units_checked: IntGaugeVec,
    /// Unix time before which every stored event is in the rollups, by source.
    pub rollup_covered_until: IntGaugeVec,
    /// Unix time of the newest event time stored, by source.
    pub newest_event: IntGaugeVec,
    /// 1 while a source's partitions are paused because ClickHouse refuses inserts.
    pub paused: IntGaugeVec,
    /// Errors reported by the Kafka consumer (connection losses and the like), by source.
    pub consumer_errors: IntCounterVec,
    /// Time of one rollup cycle, by source.
    pub rollup_seconds: HistogramVec,
    /// Failed rollup cycles (retried from the same point), by source.
    pub rollup_failures: IntCounterVec,
    /// Months of measures the rollup cycles recomputed, by source: about one or two a cycle
    /// under live traffic, every month of the history when a start recomputes everything.
    pub rollup_months: IntCounterVec,
    /// The position in `rollup_clickhouse_urls` of the ClickHouse node the rollup runs on (0:
    /// the first, or `clickhouse.url` when none is listed); it moves on after a failed cycle.
    pub rollup_node: IntGauge,
    /// Failed rollup cycles whose own staging table was missing on the node a statement
    /// reached: the rollup's ClickHouse address spreads connections over several nodes
    /// (rollup/nodes.rs). Must stay 0.
    pub rollup_staging_missing: IntCounter,
}

impl ProcessorMetrics {
    /// Creates and registers every metric.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, label: &str| IntCounterVec::new(Opts::new(name, help), &[label]);
        let rows_written = counter("ioc_processor_rows_written_total", "rows written to clickhouse", "table")?;
        let dead_letters = IntCounterVec::new(
            Opts::new(ioc_service::metric_names::PROCESSOR_DEAD_LETTERS, "messages sent to the dead-letter topic"),
            &["source", "reason"],
        )?;
        let insert_failures =
            counter("ioc_processor_insert_failures_total", "failed insert attempts (retried)", "table")?;
        let commit_failures = counter("ioc_processor_commit_failures_total", "failed offset commits", "source")?;
        let dead_letter_failures = counter(
            "ioc_processor_dead_letter_failures_total",
            "failed attempts to write a dead letter (retried; the source waits behind it)",
            "source",
        )?;
        let resume_failures = counter(
            "ioc_processor_resume_failures_total",
            "refused attempts to resume fetching after a flush (retried; the source stays paused)",
            "source",
        )?;
        let batch_seconds = HistogramVec::new(
            HistogramOpts::new("ioc_processor_batch_write_seconds", "time to write one batch including retries"),
            &["table"],
        )?;
        registry.register(Box::new(rows_written.clone()))?;
        registry.register(Box::new(dead_letters.clone()))?;
        registry.register(Box::new(insert_failures.clone()))?;
        registry.register(Box::new(commit_failures.clone()))?;
        registry.register(Box::new(dead_letter_failures.clone()))?;
        registry.register(Box::new(resume_failures.clone()))?;
        let paused = IntGaugeVec::new(
            Opts::new("ioc_processor_paused", "1 while fetching is paused because clickhouse refuses inserts"),
            &["source"],
        )?;
        registry.register(Box::new(batch_seconds.clone()))?;
        registry.register(Box::new(paused.clone()))?;
        let consumer_errors =
            counter("ioc_processor_consumer_errors_total", "errors reported by the kafka consumer", "source")?;
        registry.register(Box::new(consumer_errors.clone()))?;
        let rollup_seconds = HistogramVec::new(
            HistogramOpts::new("ioc_processor_rollup_seconds", "time of one rollup cycle")
                .buckets(vec![0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0]),
            &["source"],
        )?;
        let rollup_failures =
            counter("ioc_processor_rollup_failures_total", "failed rollup cycles (retried)", "source")?;
        registry.register(Box::new(rollup_seconds.clone()))?;
        registry.register(Box::new(rollup_failures.clone()))?;
        let rollup_months =
            counter("ioc_processor_rollup_months_total", "months of measures recomputed by rollup cycles", "source")?;
        registry.register(Box::new(rollup_months.clone()))?;
        let rollup_node = IntGauge::new(
            "ioc_processor_rollup_node",
            "position in rollup_clickhouse_urls of the clickhouse node the rollup runs on",
        )?;
        registry.register(Box::new(rollup_node.clone()))?;
        let rollup_staging_missing = IntCounter::new(
            "ioc_processor_rollup_staging_missing_total",
            "failed rollup cycles whose staging table was not on the node a statement reached (must stay 0)",
        )?;
        registry.register(Box::new(rollup_staging_missing.clone()))?;
        let batch_rows = HistogramVec::new(
            HistogramOpts::new("ioc_processor_batch_rows", "rows of each batch written")
                .buckets(vec![1.0, 10.0, 100.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 20000.0]),
            &["source"],
        )?;
        let commit_seconds = HistogramVec::new(
            HistogramOpts::new("ioc_processor_commit_seconds", "time to commit a batch's offsets")
                .buckets(vec![0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0]),
            &["source"],
        )?;
        let gauge = |name: &str, help: &str, labels: &[&str]| IntGaugeVec::new(Opts::new(name, help), labels);
        let consumer_lag = gauge(
            "ioc_processor_consumer_lag",
            "messages between a partition's end and the group's committed offset",
            &["source", "partition"],
        )?;
        let completeness_acknowledged = gauge(
            "ioc_processor_completeness_acknowledged_events",
            "events of the messages below the committed positions (within retention)",
            &["source"],
        )?;
        let completeness_stored =
            gauge("ioc_processor_completeness_stored_events", "of them, stored once or dead-lettered", &["source"])?;
        let completeness_missing = gauge(
            "ioc_processor_completeness_missing_events",
            "of them, neither stored nor dead-lettered (must stay 0)",
            &["source"],
        )?;
        let completeness_checked = gauge(
            "ioc_processor_completeness_checked_timestamp_seconds",
            "unix time the last completeness check finished (the completeness gauges are that old)",
            &["source"],
        )?;
        let unknown_unit_events = gauge(
            "ioc_processor_unknown_unit_events",
            "stored events whose unit_code is not in the reference data (ref_units): in the province's totals, in no unit's",
            &["source"],
        )?;
        let unknown_units_checked = gauge(
            "ioc_processor_unknown_units_checked_timestamp_seconds",
            "unix time the last unknown units check finished (the unknown unit events gauge is that old)",
            &["source"],
        )?;
        let rollup_covered_until = gauge(
            "ioc_processor_rollup_covered_until_timestamp_seconds",
            "every event dated (inserted_at) before this unix time is in the rollups",
            &["source"],
        )?;
        let newest_event = gauge(
            "ioc_processor_newest_event_timestamp_seconds",
            "unix time of the newest event time stored (future ones excluded)",
            &["source"],
        )?;
        for metric in [
            &consumer_lag,
            &completeness_acknowledged,
            &completeness_stored,
            &completeness_missing,
            &completeness_checked,
            &unknown_unit_events,
            &unknown_units_checked,
        ] {
            registry.register(Box::new(metric.clone()))?;
        }
        for metric in [&rollup_covered_until, &newest_event] {
            registry.register(Box::new(metric.clone()))?;
        }
        registry.register(Box::new(batch_rows.clone()))?;
        registry.register(Box::new(commit_seconds.clone()))?;
        Ok(ProcessorMetrics {
            batch_rows,
            commit_seconds,
            consumer_lag,
            completeness_acknowledged,
            completeness_stored,
            completeness_missing,
            completeness_checked,
            unknown_unit_events,
            unknown_units_checked,
            rollup_covered_until,
            newest_event,
            registry,
            rows_written,
            dead_letters,
            insert_failures,
            dead_letter_failures,
            resume_failures,
            commit_failures,
            batch_seconds,
            paused,
            consumer_errors,
            rollup_seconds,
            rollup_failures,
            rollup_months,
            rollup_node,
            rollup_staging_missing,
        })
    }

    /// Creates every series of `sources` (those this processor consumes) at 0: increase() cannot see the first increment of
    /// a series that appears at 1 (the first dead letter after a restart would not alert), and a
    /// gauge that never appears cannot be told from a scrape that failed. Rollup coverage and
    /// the newest event stay at 0 until a cycle writes them, which the freshness alerts see.
    pub fn start_at_zero(&self, sources: &[Source]) {
        for &source in sources {
            let (label, table) = (source.as_str(), source.events_table());
            for reason in DeadLetterReason::KINDS {
                self.dead_letters.with_label_values(&[label, reason]);
            }
            self.rows_written.with_label_values(&[table]);
            self.insert_failures.with_label_values(&[table]);
            for counter in [
                &self.commit_failures,
                &self.dead_letter_failures,
                &self.resume_failures,
                &self.consumer_errors,
                &self.rollup_failures,
                &self.rollup_months,
            ] {
                counter.with_label_values(&[label]);
            }
            for gauge in [
                &self.paused,
                &self.completeness_acknowledged,
                &self.completeness_stored,
                &self.completeness_missing,
                &self.completeness_checked,
                &self.unknown_unit_events,
                &self.unknown_units_checked,
                &self.rollup_covered_until,
                &self.newest_event,
            ] {
                gauge.with_label_values(&[label]);
            }
        }
    }
}
