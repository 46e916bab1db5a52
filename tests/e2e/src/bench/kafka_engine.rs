//! ClickHouse's own Kafka engine beside ioc-processor: a `Kafka` table per topic, read by a
//! materialized view into the same raw table, the way one would wire Kafka to ClickHouse with
//! nothing in between. It validates nothing, dead-letters nothing and records no Kafka position
//! (a message it cannot parse stops its table), so it is the floor of what consuming and storing
//! those messages costs ClickHouse, not an equivalent of the processor.
//!
//! On ClickHouse 18.16 (the local stack) the engine's consumer group starts at the end of the
//! topic when it has no committed offset, so the group's offsets are committed at the beginning
//! first; and its JSONEachRow reads no ISO 8601 time into a DateTime, so times are read as text
//! and parsed in the view.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use ioc_clickhouse::ClickHouseConfig;
use ioc_domain::Source;
use ioc_kafka::KafkaConfig;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::process_stats::cpu_seconds;
use super::processor::wait_until_stored;

/// What the engine did.
#[derive(Debug, Clone, Copy)]
pub struct EngineRun {
    /// Rows stored.
    pub rows: u64,
    /// From the views' creation to the last row stored (the engine flushes a partial block after
    /// `stream_flush_interval_ms`, 7.5 s by default, which this includes).
    pub wall: Duration,
    /// The ClickHouse server's CPU seconds over that time.
    pub clickhouse_cpu_seconds: f64,
}

/// The process id of the local stack's ClickHouse server (ops/dev writes it).
pub fn local_clickhouse_pid() -> anyhow::Result<u32> {
    let path = crate::repo_root().join(".stack/clickhouse/clickhouse.pid");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("{}: is the local stack up (ops/dev up)?", path.display()))?;
    text.trim().parse().with_context(|| format!("{}: not a process id: {text:?}", path.display()))
}

/// Drains `kafka`'s topics (already filled) into `clickhouse` (migrated by the caller) through
/// Kafka engine tables and materialized views, and waits until `expected` rows are stored.
pub async fn run_kafka_engine(
    kafka: &KafkaConfig,
    clickhouse: &ClickHouseConfig,
    expected: u64,
    clickhouse_pid: u32,
) -> anyhow::Result<EngineRun> {
    let client = clickhouse.client();
    let group = crate::random_name("bench-kafka-engine");
    let mut views = Vec::new();
    for source in Source::ALL {
        let topic = source.topic(&kafka.topic_prefix);
        let fields = message_fields(kafka, &topic).await?;
        let columns: BTreeMap<String, Column> = client
            .query("SELECT name, type, default_expression FROM system.columns WHERE database = ? AND table = ?")
            .bind(&clickhouse.database)
            .bind(source.events_table())
            .fetch_all::<(String, String, String)>()
            .await?
            .into_iter()
            .map(|(name, kind, default)| (name, Column { kind, default }))
            .collect();
        // A group per topic: a simple consumer's commit is refused once a group has members.
        let group = format!("{group}-{}", source.as_str());
        start_at_beginning(kafka, &topic, &group)?;
        let table = format!("kafka_{}", source.as_str());
        let (engine_columns, select) = wiring(&fields, &columns);
        client
            .query(&format!(
                "CREATE TABLE {table} ({engine_columns}) ENGINE = Kafka SETTINGS kafka_broker_list = '{brokers}', \
                 kafka_topic_list = '{topic}', kafka_group_name = '{group}', kafka_format = 'JSONEachRow', \
                 kafka_num_consumers = 1, kafka_max_block_size = 65536",
                brokers = kafka.brokers
            ))
            .execute()
            .await
            .with_context(|| format!("creating the Kafka engine table of {topic}"))?;
        views.push((source, table, select));
    }
    let (started, cpu_before) = (Instant::now(), cpu_seconds(clickhouse_pid)?);
    for (source, table, select) in &views {
        client
            .query(&format!(
                "CREATE MATERIALIZED VIEW {table}_view TO {} AS SELECT {select} FROM {table}",
                source.events_table()
            ))
            .execute()
            .await
            .with_context(|| format!("creating the view of {table}"))?;
    }
    let rows = wait_until_stored(&client, expected, "the Kafka engine (ClickHouse's log says why not more)").await?;
    let run =
        EngineRun { rows, wall: started.elapsed(), clickhouse_cpu_seconds: cpu_seconds(clickhouse_pid)? - cpu_before };
    // The views first, so the engine stops consuming before its tables go.
    for (_, table, _) in &views {
        client.query(&format!("DROP TABLE IF EXISTS {table}_view")).execute().await?;
        client.query(&format!("DROP TABLE IF EXISTS {table}")).execute().await?;
    }
    Ok(run)
}

/// How a JSON value of a message is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    Boolean,
}

/// Every field of every message of `topic`, with the kind of its values.
async fn message_fields(kafka: &KafkaConfig, topic: &str) -> anyhow::Result<BTreeMap<String, Kind>> {
    let consumer: StreamConsumer = kafka.consumer(&crate::random_name("bench-fields"))?;
    let (assignment, mut remaining) = first_offsets(&consumer, topic)?;
    consumer.assign(&assignment)?;
    let mut fields = BTreeMap::new();
    while remaining > 0 {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
            .await
            .with_context(|| format!("{topic}: no message for 30 s with {remaining} to read"))??;
        remaining -= 1;
        // One event per line: ingest's messages hold several (ioc_kafka::framing).
        for (_, line) in ioc_kafka::framing::ndjson_lines(message.payload().unwrap_or_default()) {
            let value: serde_json::Value =
                serde_json::from_slice(line).with_context(|| format!("{topic}: a message's line is not JSON"))?;
            for (name, value) in value.as_object().into_iter().flatten() {
                let kind = match value {
                    serde_json::Value::Bool(_) => Kind::Boolean,
                    serde_json::Value::Number(_) => Kind::Number,
                    _ => Kind::Text,
                };
                fields.insert(name.clone(), kind);
            }
        }
    }
    Ok(fields)
}

/// Commits the first offset of every partition of `topic` for `group`.
fn start_at_beginning(kafka: &KafkaConfig, topic: &str, group: &str) -> anyhow::Result<()> {
    let consumer: StreamConsumer = kafka.consumer(group)?;
    let (offsets, _) = first_offsets(&consumer, topic)?;
    // Assigned, not subscribed: the commit is a simple consumer's, outside any group generation.
    consumer.assign(&offsets)?;
    consumer.commit(&offsets, CommitMode::Sync).with_context(|| format!("committing {group}'s offsets on {topic}"))?;
    Ok(())
}

/// The first offset of every partition of `topic` (its low watermark), and how many messages
/// the partitions hold from there.
fn first_offsets(consumer: &StreamConsumer, topic: &str) -> anyhow::Result<(TopicPartitionList, i64)> {
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let mut offsets = TopicPartitionList::new();
    let mut messages = 0;
    for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
        let (low, high) = consumer.fetch_watermarks(topic, partition.id(), Duration::from_secs(10))?;
        offsets.add_partition_offset(topic, partition.id(), Offset::Offset(low))?;
        messages += high - low;
    }
    Ok((offsets, messages))
}

/// A column of a raw table: its type and its default expression ('' without one).
#[derive(Debug, Clone)]
struct Column {
    kind: String,
    default: String,
}

/// The Kafka table's columns (every message field: times and the fields the raw table lacks as
/// text, the others with the raw table's type) and the view's SELECT list (the fields the raw
/// table has, times parsed).
fn wiring(fields: &BTreeMap<String, Kind>, columns: &BTreeMap<String, Column>) -> (String, String) {
    let mut engine = Vec::new();
    let mut select = Vec::new();
    for (name, kind) in fields {
        match columns.get(name) {
            Some(column) if column.kind.starts_with("DateTime") => {
                engine.push(format!("{name} String"));
                select.push(format!("parseDateTimeBestEffortOrZero({name}) AS {name}"));
            }
            Some(column) => {
                engine.push(format!("{name} {}", column.kind));
                select.push(name.clone());
            }
            // A field the table does not keep: read, so JSONEachRow does not refuse the message.
            None => engine.push(match kind {
                Kind::Text => format!("{name} String"),
                Kind::Number => format!("{name} Float64"),
                Kind::Boolean => format!("{name} UInt8"),
            }),
        }
    }
    // A column the messages never carry: 18.16's views insert every column of the table, so it
    // gets its default (`inserted_at`'s now()) or its type's zero (the Kafka positions the
    // processor records).
    for (name, column) in columns.iter().filter(|(name, _)| !fields.contains_key(*name)) {
        let value = match column.kind.as_str() {
            _ if !column.default.is_empty() => column.default.clone(),
            "String" => "''".to_owned(),
            time if time.starts_with("DateTime") => "toDateTime(0)".to_owned(),
            number => format!("CAST(0 AS {number})"),
        };
        select.push(format!("{value} AS {name}"));
    }
    (engine.join(", "), select.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_read_as_text_unknown_fields_are_read_but_not_stored_and_absent_columns_are_zero() {
        let fields: BTreeMap<String, Kind> = [
            ("occurred_at".to_owned(), Kind::Text),
            ("fee_bearing".to_owned(), Kind::Boolean),
            ("source".to_owned(), Kind::Text),
            ("amount".to_owned(), Kind::Number),
        ]
        .into();
        let column = |kind: &str, default: &str| Column { kind: kind.to_owned(), default: default.to_owned() };
        let columns: BTreeMap<String, Column> = [
            ("occurred_at".to_owned(), column("DateTime('Asia/Ho_Chi_Minh')", "")),
            ("fee_bearing".to_owned(), column("UInt8", "")),
            ("due_at".to_owned(), column("DateTime('Asia/Ho_Chi_Minh')", "")),
            ("inserted_at".to_owned(), column("DateTime", "now()")),
            ("kafka_offset".to_owned(), column("UInt64", "")),
            ("outcome".to_owned(), column("String", "")),
        ]
        .into();
        let (engine, select) = wiring(&fields, &columns);
        assert_eq!(engine, "amount Float64, fee_bearing UInt8, occurred_at String, source String");
        assert_eq!(
            select,
            "fee_bearing, parseDateTimeBestEffortOrZero(occurred_at) AS occurred_at, toDateTime(0) AS due_at, \
             now() AS inserted_at, CAST(0 AS UInt64) AS kafka_offset, '' AS outcome"
        );
    }
}
