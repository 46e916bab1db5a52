-- The rollup records, each cycle, how many events arrived in the five minutes before it, so the
-- dashboard's pipeline panel reads rollup_state alone and never scans the raw events.
ALTER TABLE rollup_state ADD COLUMN events_last_5_minutes UInt64 AFTER newest_event;
