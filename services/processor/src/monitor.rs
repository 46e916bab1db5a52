//! What the consumer loops cannot see from inside: how far behind each partition is, and
//! whether every consumed event is accounted for.
//!
//! - **Lag**, per source and partition: the partition's end offset (the broker's high
//!   watermark) minus the group's committed offset, both asked of the broker, so it keeps
//!   growing while the pipeline is paused or stuck.
//! - **Completeness**, per source: every event of the messages below the group's committed
//!   position (and not yet removed by retention) was acknowledged to a source by ingest
//!   (acks=all) and consumed; each must be in ClickHouse once, as a row or as a dead letter
//!   (migrations 0009 and 0015 store each event's offset and line in its message). Events that
//!   are neither are lost; the count must stay 0. Counting distinct positions makes
//!   redeliveries harmless. A source's resend is a second offset of the same event: once
//!   ClickHouse merges the two rows, one offset is on no row, and it counts as stored because
//!   its event still is (migrations 0010 and 0015 keep every position's event, and
//!   [`stored_events_sql`] looks them up). Kafka's offsets are the same whichever ingest replica produced an event,
//!   so the figure holds with any number of replicas of either service (each processor reports
//!   the same number; alerts take the maximum). A message holds one event unless ingest's
//!   `max_events_per_message` is raised; every row and letter of a message says how many it
//!   held, so a message of several counts as stored only once each of its events is, and an
//!   offset ClickHouse knows nothing of is a message lost whole, counted as one event
//!   (schemas/events/README.md, "On Kafka").
//! - **Unknown units**, per source, every twentieth round: stored events whose unit the
//!   reference data does not list (unknown_units.rs).
//!
//! Each ClickHouse check is given up after its limit ([`COMPLETENESS_LIMIT`],
//! [`UNKNOWN_UNITS_LIMIT`]): one round runs every check in turn, so a node that took a query and
//! never answered froze every source's lag gauge for good, and alert IocConsumerLagGrowing could
//! not fire. A hung node now delays a round by at most those limits (the lag gauges move on
//! between the checks).

use std::sync::Arc;
use std::time::Duration;

use clickhouse::Row;
use ioc_domain::Source;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use serde::Deserialize;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::pipeline::PipelineContext;
use crate::unknown_units;

/// Where one partition stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionPosition {
    /// The partition.
    pub partition: i32,
    /// Its first offset still in the log (retention removes older ones).
    pub low: i64,
    /// The offset its next message will get.
    pub high: i64,
    /// The group's committed offset (the next to consume), if it committed one.
    pub committed: Option<i64>,
}

impl PartitionPosition {
    /// Messages not yet consumed and committed.
    pub fn lag(&self) -> i64 {
        // A committed offset below the log's start points at messages retention removed: the
        // consumer goes on from the start.
        (self.high - self.committed.unwrap_or(self.low).max(self.low)).max(0)
    }

    /// The offsets that must be accounted for: from the log's start to the committed position.
    pub fn accounted_range(&self) -> Option<(i64, i64)> {
        self.committed.filter(|committed| *committed > self.low).map(|committed| (self.low, committed))
    }
}

/// The unknown units are checked every this many rounds (5 minutes at the default 15 s): the
/// query reads every stored event's unit code (unknown_units.rs), and the figure moves only when
/// a source sends a new code or the reference data changes.
const UNKNOWN_UNITS_EVERY: u64 = 20;

/// The longest a completeness check may take, all its counts together: a recount still under
/// way then is given up and the counts so far stand (each is a lower bound, so a loss is still
/// reported); the first count given up fails the check.
const COMPLETENESS_LIMIT: Duration = Duration::from_secs(60);

/// The longest the unknown-units check (one scan of every stored event's unit code) may take.
const UNKNOWN_UNITS_LIMIT: Duration = Duration::from_secs(120);

/// `check`, given up at `ends`, which is `limit` after its check began.
async fn bounded<T, E: std::fmt::Display>(
    ends: Instant,
    limit: Duration,
    check: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout_at(ends, check).await {
        Ok(done) => done.map_err(|error| error.to_string()),
        Err(_) => Err(format!("no answer from ClickHouse within the check's {} s; given up", limit.as_secs_f64())),
    }
}

/// Runs the checks every `interval` (completeness every fourth time, unknown units every
/// twentieth) until `stopped`.
pub async fn run(context: Arc<PipelineContext>, interval: Duration, mut stopped: watch::Receiver<bool>) {
    let config = &context.config;
    let mut watched = Vec::new();
    for source in &config.sources {
        let group = format!("{}.{}", config.group_prefix, source.as_str());
        // A client of the group that never joins it: it reads the group's committed offsets and
        // the partitions' ends without taking part in the assignment.
        match config.kafka.base_consumer(&group) {
            Ok(consumer) => watched.push((*source, Arc::new(consumer))),
            Err(error) => tracing::warn!(%source, %error, "cannot watch lag and completeness"),
        }
    }
    let mut round: u64 = 0;
    loop {
        for (source, consumer) in &watched {
            let topic = source.topic(&config.kafka.topic_prefix);
            let consumer = consumer.clone();
            let positions = tokio::task::spawn_blocking(move || positions(&consumer, &topic)).await;
            let positions = match positions {
                Ok(Ok(positions)) => positions,
                Ok(Err(error)) => {
                    tracing::debug!(%source, %error, "cannot read the partitions' positions");
                    continue;
                }
                Err(_) => continue,
            };
            for position in &positions {
                let partition = position.partition.to_string();
                context.metrics.consumer_lag.with_label_values(&[source.as_str(), &partition]).set(position.lag());
            }
            if round.is_multiple_of(4) {
                match completeness(&context.clickhouse, *source, &positions, COMPLETENESS_LIMIT).await {
                    Ok((acknowledged, stored)) => {
                        let label = [source.as_str()];
                        context.metrics.completeness_acknowledged.with_label_values(&label).set(acknowledged);
                        context.metrics.completeness_stored.with_label_values(&label).set(stored);
                        let missing = (acknowledged - stored).max(0);
                        context.metrics.completeness_missing.with_label_values(&label).set(missing);
                        let now = chrono::Utc::now().timestamp();
                        context.metrics.completeness_checked.with_label_values(&label).set(now);
                        if missing > 0 {
                            tracing::error!(%source, missing, acknowledged, stored, "consumed events missing from clickhouse");
                        }
                    }
                    // The gauges keep their last value; ..._checked_timestamp_seconds says how
                    // old it is (alert IocCompletenessUnchecked).
                    Err(error) => {
                        tracing::warn!(%source, %error, "completeness check failed; the figure is stale until the next check succeeds")
                    }
                }
            }
        }
        // Apart from Kafka's positions, which it does not need.
        if round.is_multiple_of(UNKNOWN_UNITS_EVERY) {
            for source in &config.sources {
                check_unknown_units(&context, *source).await;
            }
        }
        round += 1;
        tokio::select! {
            _ = stopped.changed() => return,
            () = tokio::time::sleep(interval) => {}
        }
        if *stopped.borrow() {
            return;
        }
    }
}

/// Counts `source`'s stored events of units the reference data does not list into
/// `ioc_processor_unknown_unit_events`, and names the codes in a warning when the count changes
/// (from the gauge's last value: 0 before the first check).
async fn check_unknown_units(context: &PipelineContext, source: Source) {
    let ends = Instant::now() + UNKNOWN_UNITS_LIMIT;
    match bounded(ends, UNKNOWN_UNITS_LIMIT, unknown_units::check(&context.clickhouse, source)).await {
        Ok(found) => {
            let gauge = context.metrics.unknown_unit_events.with_label_values(&[source.as_str()]);
            let events = i64::try_from(found.events).unwrap_or(i64::MAX);
            let before = gauge.get();
            gauge.set(events);
            let now = chrono::Utc::now().timestamp();
            context.metrics.unknown_units_checked.with_label_values(&[source.as_str()]).set(now);
            if events > 0 && events != before {
                tracing::warn!(
                    %source,
                    events = found.events,
                    codes = %found.listed(),
                    "stored events of units the reference data does not list: the province's totals count them, \
                     no unit does; add the units to the reference data or have the source correct its codes \
                     (ops/runbook.md, IocUnknownUnits)"
                );
            }
        }
        // The count keeps its last value; ..._checked_timestamp_seconds says how old it is
        // (alert IocUnknownUnitsUnchecked).
        Err(error) => tracing::warn!(%source, %error, "unknown units check failed; the figure is stale"),
    }
}

/// Every partition of `topic`: its log's start and end, and the group's committed offset.
fn positions(consumer: &BaseConsumer, topic: &str) -> Result<Vec<PartitionPosition>, rdkafka::error::KafkaError> {
    let timeout = Duration::from_secs(5);
    let metadata = consumer.fetch_metadata(Some(topic), timeout)?;
    let partitions: Vec<i32> = metadata.topics().iter().flat_map(|t| t.partitions().iter().map(|p| p.id())).collect();
    let mut list = TopicPartitionList::new();
    for partition in &partitions {
        list.add_partition(topic, *partition);
    }
    let committed = consumer.committed_offsets(list, timeout)?;
    let mut out = Vec::with_capacity(partitions.len());
    for partition in partitions {
        let (low, high) = consumer.fetch_watermarks(topic, partition, timeout)?;
        let committed = committed.find_partition(topic, partition).and_then(|e| match e.offset() {
            Offset::Offset(offset) => Some(offset),
            _ => None,
        });
        out.push(PartitionPosition { partition, low, high, committed });
    }
    Ok(out)
}

#[derive(Row, Deserialize)]
struct Counted {
    /// Offsets of the ranges with a row, a stored event or a dead letter.
    offsets: u64,
    /// The events of those offsets' messages.
    events: u64,
    /// Those events stored once or dead-lettered.
    stored: u64,
}

/// (events that must be accounted for, events stored once or dead-lettered) for `source`, its
/// counts given up `limit` after it began. Kafka knows the offsets; ClickHouse knows how many
/// events each message held (each row and letter says, migration 0015): an offset nothing in
/// ClickHouse speaks of is a message lost whole and counts as one event.
async fn completeness(
    client: &clickhouse::Client,
    source: Source,
    positions: &[PartitionPosition],
    limit: Duration,
) -> Result<(i64, i64), String> {
    let ends = Instant::now() + limit;
    let ranges: Vec<(i32, i64, i64)> =
        positions.iter().filter_map(|p| p.accounted_range().map(|(low, high)| (p.partition, low, high))).collect();
    let offsets: i64 = ranges.iter().map(|(_, low, high)| high - low).sum();
    if ranges.is_empty() {
        return Ok((0, 0));
    }
    // Partitions and offsets come from the broker and the source's name from the program, not
    // from input: safe to write into the SQL.
    let within: Vec<String> = ranges
        .iter()
        .map(|(partition, low, high)| {
            format!("(kafka_partition = {partition} AND kafka_offset >= {low} AND kafka_offset < {high})")
        })
        .collect();
    let within = within.join(" OR ");
    let sql = stored_events_sql(source, &within);
    // Each count can only overstate what is missing (see stored_events_sql): a shortfall is
    // counted again, and the count with the fewest missing kept. A real loss stays in every
    // count; a merge that raced a count does not.
    let counted = async || -> Result<(i64, i64), String> {
        // `local`: in a cluster, a subquery on a Distributed table may read the shard's own part.
        let query = client.query(&sql).with_setting("distributed_product_mode", "local");
        let counted = bounded(ends, limit, query.fetch_one::<Counted>()).await?;
        let whole = |count: u64| i64::try_from(count).unwrap_or(i64::MAX);
        let acknowledged = offsets.saturating_sub(whole(counted.offsets)).saturating_add(whole(counted.events));
        Ok((acknowledged, whole(counted.stored)))
    };
    let missing = |(acknowledged, stored): (i64, i64)| acknowledged - stored;
    let mut best = counted().await?;
    for attempt in 2..=COUNTS_ON_SHORTFALL {
        if missing(best) <= 0 {
            break;
        }
        match counted().await {
            Ok(recounted) if missing(recounted) < missing(best) => {
                tracing::debug!(%source, attempt, before = ?best, ?recounted, "a recount found events a merge had hidden");
                best = recounted;
            }
            Ok(_) => {}
            // The counts so far stand: each overstates the missing at worst.
            Err(error) => {
                tracing::debug!(%source, %error, "recount failed; keeping the best count so far");
                break;
            }
        }
    }
    Ok(best)
}

/// How many times a source's stored events are counted before a shortfall is reported.
/// Under load on the local stack a few counts in a hundred raced a merge (the province month
/// test, 2026-12-01: 3, 5 and 6 short counts in three runs, each of about 300 checks while the
/// month came in: a check every 2 s per source), so five make a false report negligible.
const COUNTS_ON_SHORTFALL: u32 = 5;

/// Counts, over the offsets of `within`, the offsets ClickHouse knows of, their messages' events
/// and the events among them that are stored: on a row of the source's table, or on no row
/// but with their event on one (a resend merged into the row of its other offset; migrations
/// 0010 and 0015 keep each offset's and line's event), or dead-lettered. An event is its
/// message's offset and its line there (migration 0015): with several events to a message,
/// each is accounted for on its own, and a message counts as many events as the most its rows
/// and letters say it held (rows stored before migration 0015 say 1, as they were counted).
/// Each event is counted once (a message of several events can have rows and dead letters
/// both), but the statement's reads of the raw table are not one snapshot: when the set of
/// `NOT IN (...)` (the events on a row) is taken before the first part reads the rows, a merge
/// landing in between folds a resend's offset out of both parts. Seen on 18.16 under load: a
/// count 479 short, and a query 0.1 s later found each of those offsets on a row or with its
/// event on one. So a count can find fewer stored events than there are, never more (every
/// one it counts is on a row or has its event on one), and an offset it misses whole counts
/// as one event not stored; [`completeness`] counts a shortfall again.
/// Only events on no row are looked up, by the table's sort key and from the month of the
/// earliest of them on (the raw tables are partitioned by month; resends are recent).
/// In a cluster the tables are Distributed. An offset's row is on the shard of its event's rows
/// (the views of migrations 0010 and 0015 write where the rows land), and so is every resend, so
/// each shard can answer for its own rows (`distributed_product_mode = local`, where ClickHouse applies it
/// to these nested subqueries); keys being unique across shards, reading every shard gives the
/// same count. The cluster test checks the count, and passed without the setting too.
fn stored_events_sql(source: Source, within: &str) -> String {
    let (table, entity) = (source.events_table(), source.entity_column());
    let name = source.as_str();
    // Each stored event's position within the ranges (migration 0015), and those written before
    // it, each the only event of its message as it was counted then. The ranges are tested in
    // each branch: 18.16 does not carry a test outside a subquery into it, and each table is
    // then read by its (partition, offset) key instead of whole.
    let positions = format!(
        "(SELECT kafka_partition, kafka_offset, kafka_line, kafka_events, unit_code, entity_id, event_id, occurred_at \
         FROM {lines} WHERE {within} UNION ALL \
         SELECT kafka_partition, kafka_offset, toUInt32(0) AS kafka_line, toUInt32(1) AS kafka_events, unit_code, \
         entity_id, event_id, occurred_at FROM {offsets} WHERE {within})",
        lines = source.event_lines_table(),
        offsets = source.offsets_table()
    );
    let unseen = format!(
        "({within}) AND (kafka_partition, kafka_offset, kafka_line) NOT IN \
         (SELECT kafka_partition, kafka_offset, kafka_line FROM {table} WHERE {within})"
    );
    // `counted` 1: an event stored or dead-lettered; 0: a position only saying how many events
    // its message held, so that a message whose every row is gone still counts all of them.
    format!(
        "SELECT toUInt64(count()) AS offsets, toUInt64(sum(held)) AS events, toUInt64(sum(least(found, held))) AS stored \
         FROM (SELECT kafka_partition, kafka_offset, max(kafka_events) AS held, \
         uniqExactIf(kafka_line, counted = 1) AS found FROM ( \
         SELECT kafka_partition, kafka_offset, kafka_line, kafka_events, toUInt8(1) AS counted FROM {table} WHERE {within} \
         UNION ALL \
         SELECT kafka_partition, kafka_offset, kafka_line, kafka_events, toUInt8(1) AS counted FROM {positions} \
         WHERE {unseen} AND (unit_code, entity_id, event_id) IN \
         (SELECT unit_code, {entity}, event_id FROM {table} \
         WHERE toYYYYMM(occurred_at) >= toYYYYMM((SELECT min(occurred_at) FROM {positions} WHERE {unseen})) \
         AND (unit_code, {entity}, event_id) IN (SELECT unit_code, entity_id, event_id FROM {positions} WHERE {unseen})) \
         UNION ALL \
         SELECT kafka_partition, kafka_offset, kafka_line, kafka_events, toUInt8(0) AS counted FROM {positions} \
         UNION ALL \
         SELECT kafka_partition, kafka_offset, kafka_line, kafka_events, toUInt8(1) AS counted FROM dead_letters \
         WHERE source = '{name}' AND ({within})) \
         GROUP BY kafka_partition, kafka_offset)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_and_the_offsets_to_account_for() {
        let behind = PartitionPosition { partition: 0, low: 10, high: 25, committed: Some(20) };
        assert_eq!((behind.lag(), behind.accounted_range()), (5, Some((10, 20))));
        let never_committed = PartitionPosition { partition: 1, low: 3, high: 9, committed: None };
        assert_eq!((never_committed.lag(), never_committed.accounted_range()), (6, None));
        let retention_passed = PartitionPosition { partition: 2, low: 30, high: 30, committed: Some(12) };
        assert_eq!((retention_passed.lag(), retention_passed.accounted_range()), (0, None));
    }

    #[tokio::test]
    async fn a_completeness_check_clickhouse_never_answers_is_given_up() {
        // A listener that takes the connection and never answers: a hung node.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("listener");
        let url = format!("http://{}", silent.local_addr().expect("address"));
        let held = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((connection, _)) = silent.accept().await {
                held.push(connection);
            }
        });
        let client = clickhouse::Client::default().with_url(url);
        let positions = [PartitionPosition { partition: 0, low: 0, high: 10, committed: Some(10) }];
        let check = completeness(&client, Source::Portal, &positions, Duration::from_millis(300));
        // Without the bound the check waits for ever; the outer bound only keeps the test from
        // hanging then.
        let outcome = tokio::time::timeout(Duration::from_secs(30), check).await.expect("the check returns");
        let error = outcome.expect_err("no answer is a failed check");
        assert!(error.contains("no answer from ClickHouse within the check's 0.3 s"), "{error}");
        held.abort();
    }
}
