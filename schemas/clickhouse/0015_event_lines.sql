-- Which event of its Kafka message each stored row and each dead letter is, and how many events
-- the message held: with several events to a message (ingest's `max_events_per_message`,
-- schemas/events/README.md "On Kafka") completeness is then counted in events, not messages
-- (ioc-processor's monitor.rs): a message counts as stored only once each of its events is on
-- a row, or has its event on one, or is dead-lettered. `kafka_line` is the event's line in the
-- message (0 for a message of one event; lines of nothing but white space are counted, so the
-- lines of a message need not follow each other), `kafka_events` the message's number of
-- events. Rows and letters stored before this migration read 0 and 1: one event, the whole
-- message, as they were counted until then.
ALTER TABLE portal_events ADD COLUMN kafka_line UInt32 AFTER kafka_offset, ADD COLUMN kafka_events UInt32 DEFAULT 1 AFTER kafka_line;
ALTER TABLE edoc_events ADD COLUMN kafka_line UInt32 AFTER kafka_offset, ADD COLUMN kafka_events UInt32 DEFAULT 1 AFTER kafka_line;
ALTER TABLE training_events ADD COLUMN kafka_line UInt32 AFTER kafka_offset, ADD COLUMN kafka_events UInt32 DEFAULT 1 AFTER kafka_line;

-- The offsets tables (migration 0010) keep one row per offset, so the events of a message of
-- several would fold into one there, and a cluster cannot change their order (18.16 refuses
-- MODIFY ORDER BY ... ON CLUSTER): each event's line gets a row of its own in a table of lines,
-- written by ClickHouse at each insert into the raw table as before. The offsets tables are no
-- longer written; what they hold (line 0 of one event each, as it was counted) is read until
-- the topics' retention has removed those offsets (ops/runbook.md, IocEventsMissing).
-- The old writers go first: a row inserted by another replica between the two statements (an
-- upgrade's rolling restart) has no position row, so a resend folded into it would read as
-- missing, but no position row can stand for a line it does not hold.
DROP TABLE IF EXISTS portal_offsets_writer;
DROP TABLE IF EXISTS edoc_offsets_writer;
DROP TABLE IF EXISTS training_offsets_writer;

CREATE TABLE IF NOT EXISTS portal_event_lines
(
    kafka_partition UInt16,
    kafka_offset    UInt64,
    kafka_line      UInt32,
    kafka_events    UInt32,
    unit_code       String,
    entity_id       String,
    event_id        String,
    occurred_at     DateTime('Asia/Ho_Chi_Minh'),
    received_at     DateTime('Asia/Ho_Chi_Minh')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (kafka_partition, kafka_offset, kafka_line);

CREATE TABLE IF NOT EXISTS edoc_event_lines
(
    kafka_partition UInt16,
    kafka_offset    UInt64,
    kafka_line      UInt32,
    kafka_events    UInt32,
    unit_code       String,
    entity_id       String,
    event_id        String,
    occurred_at     DateTime('Asia/Ho_Chi_Minh'),
    received_at     DateTime('Asia/Ho_Chi_Minh')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (kafka_partition, kafka_offset, kafka_line);

CREATE TABLE IF NOT EXISTS training_event_lines
(
    kafka_partition UInt16,
    kafka_offset    UInt64,
    kafka_line      UInt32,
    kafka_events    UInt32,
    unit_code       String,
    entity_id       String,
    event_id        String,
    occurred_at     DateTime('Asia/Ho_Chi_Minh'),
    received_at     DateTime('Asia/Ho_Chi_Minh')
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(received_at)
ORDER BY (kafka_partition, kafka_offset, kafka_line);

CREATE MATERIALIZED VIEW IF NOT EXISTS portal_event_lines_writer TO portal_event_lines AS
SELECT kafka_partition, kafka_offset, kafka_line, kafka_events, unit_code, dossier_id AS entity_id, event_id, occurred_at, received_at
FROM portal_events;

CREATE MATERIALIZED VIEW IF NOT EXISTS edoc_event_lines_writer TO edoc_event_lines AS
SELECT kafka_partition, kafka_offset, kafka_line, kafka_events, unit_code, record_id AS entity_id, event_id, occurred_at, received_at
FROM edoc_events;

CREATE MATERIALIZED VIEW IF NOT EXISTS training_event_lines_writer TO training_event_lines AS
SELECT kafka_partition, kafka_offset, kafka_line, kafka_events, unit_code, learner_id AS entity_id, event_id, occurred_at, received_at
FROM training_events;

-- A dead letter is one event of its message (or the whole message, when its events cannot be
-- told apart: line 0 of 1), and two letters of one message no longer fold into one row. (A copy
-- on every node in a cluster: altered without ON CLUSTER, which 18.16 refuses here.)
ALTER TABLE dead_letters ADD COLUMN kafka_line UInt32 AFTER kafka_offset, ADD COLUMN kafka_events UInt32 DEFAULT 1 AFTER kafka_line, MODIFY ORDER BY (source, kafka_partition, kafka_offset, kafka_line);
