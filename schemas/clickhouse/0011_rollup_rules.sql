-- Which rules (the rollup's SQL and the constants it binds, as a SHA-256) each cycle applied.
-- A processor that starts resumes from the last recorded covered_until when the newest row of
-- its source was written under the same rules, instead of recomputing every month of the
-- history; rows written before this migration have '' and never match, so the first start
-- after it recomputes once (services/processor/ARCHITECTURE.md, "Rollups").
ALTER TABLE rollup_state ADD COLUMN rules String AFTER events_last_5_minutes;
