-- Which event each stored Kafka offset carried, one table per source. The raw tables keep one
-- row per event_id once ClickHouse merges them (ReplacingMergeTree), so a source's resend (the
-- same event at a second offset) loses one of its two positions there, and completeness
-- (ioc-processor's monitor.rs) would count a stored event as lost. These rows are written by
-- ClickHouse itself at each insert into a raw table: a materialized view fires on the inserted
-- block, before any merge, and keeps every offset with its event's sort key. An offset is
-- stored while a row with that key is. (occurred_at bounds that lookup to the raw table's
-- monthly partitions where the events can be.) One table per source, like the raw tables, because a
-- replicated table takes one quorum insert at a time.
-- Rows older than the topics' retention are never read again: a month's partition can be
-- dropped (ops/runbook.md, IocEventsMissing, "Keep <source>_offsets bounded").
CREATE TABLE IF NOT EXISTS portal_offsets
(
    kafka_partition UInt16,
    kafka_offset    UInt64,
    unit_code       String,
    entity_id       String,
    event_id        String,
    occurred_at     DateTime('Asia/Ho_Chi_Minh'),
    received_at     DateTime('Asia/Ho_Chi_Minh')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (kafka_partition, kafka_offset);

CREATE TABLE IF NOT EXISTS edoc_offsets
(
    kafka_partition UInt16,
    kafka_offset    UInt64,
    unit_code       String,
    entity_id       String,
    event_id        String,
    occurred_at     DateTime('Asia/Ho_Chi_Minh'),
    received_at     DateTime('Asia/Ho_Chi_Minh')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (kafka_partition, kafka_offset);

CREATE TABLE IF NOT EXISTS training_offsets
(
    kafka_partition UInt16,
    kafka_offset    UInt64,
    unit_code       String,
    entity_id       String,
    event_id        String,
    occurred_at     DateTime('Asia/Ho_Chi_Minh'),
    received_at     DateTime('Asia/Ho_Chi_Minh')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (kafka_partition, kafka_offset);

CREATE MATERIALIZED VIEW IF NOT EXISTS portal_offsets_writer TO portal_offsets AS
SELECT kafka_partition, kafka_offset, unit_code, dossier_id AS entity_id, event_id, occurred_at, received_at
FROM portal_events;

CREATE MATERIALIZED VIEW IF NOT EXISTS edoc_offsets_writer TO edoc_offsets AS
SELECT kafka_partition, kafka_offset, unit_code, record_id AS entity_id, event_id, occurred_at, received_at
FROM edoc_events;

CREATE MATERIALIZED VIEW IF NOT EXISTS training_offsets_writer TO training_offsets AS
SELECT kafka_partition, kafka_offset, unit_code, learner_id AS entity_id, event_id, occurred_at, received_at
FROM training_events;
