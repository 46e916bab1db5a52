-- Where each stored event was in Kafka, and which messages went to the dead-letter topic: every
-- offset below a consumer group's committed position is then accounted for, stored once or
-- dead-lettered, and ioc-processor measures completeness as the offsets that are neither (it
-- must stay 0; ops/runbook.md). Rows stored before this migration keep 0 and are not counted.
ALTER TABLE portal_events ADD COLUMN kafka_partition UInt16 AFTER received_at;
ALTER TABLE portal_events ADD COLUMN kafka_offset UInt64 AFTER kafka_partition;
ALTER TABLE edoc_events ADD COLUMN kafka_partition UInt16 AFTER received_at;
ALTER TABLE edoc_events ADD COLUMN kafka_offset UInt64 AFTER kafka_partition;
ALTER TABLE training_events ADD COLUMN kafka_partition UInt16 AFTER received_at;
ALTER TABLE training_events ADD COLUMN kafka_offset UInt64 AFTER kafka_partition;

-- The messages ioc-processor sent to the dead-letter topic (`ioc-processor dlq list` shows them
-- with their payloads; here only where they came from and why).
CREATE TABLE IF NOT EXISTS dead_letters
(
    source          String,
    kafka_partition UInt16,
    kafka_offset    UInt64,
    reason          String,
    error           String,
    failed_at       DateTime
)
ENGINE = ReplacingMergeTree
ORDER BY (source, kafka_partition, kafka_offset);
