-- A dossier belongs to the unit of its first opening event (docs/indicators.md), and
-- dossier_facts keeps the versions of its facts per (unit, dossier). When a first opening event
-- from another unit arrives after the dossier's facts were written, the row under the unit that
-- held it until then would stay, and the dossier counted in both units. The rollup now writes
-- each version under every unit of the dossier's opening events, marked `superseded` for all
-- but the owner (services/processor/src/rollup/dossier_facts.sql); the readers leave those rows
-- out. Existing rows get 0, including the rows the old rollup left under a unit that lost its
-- dossier; the rollup recomputes every dossier at its next start (its rules changed), which
-- writes a newer, marked version over each of those.
ALTER TABLE dossier_facts ADD COLUMN superseded UInt8 AFTER version;

DROP TABLE IF EXISTS v_dossiers;
CREATE VIEW v_dossiers AS
SELECT
    dossier_id, unit_code, procedure_code, channel, service_level, fee_bearing, backlog,
    received_at, tracked_from, due_at, paused_seconds, clock_stopped,
    if(clock_stopped, NULL, late_at) AS late_at,
    resolved, if(resolved, resolved_at, NULL) AS resolved_at, outcome, resolved_on_time, processing_seconds,
    withdrawn, if(withdrawn, withdrawn_at, NULL) AS withdrawn_at,
    abandoned, if(abandoned, abandoned_at, NULL) AS abandoned_at,
    closed, if(closed, closed_at, NULL) AS closed_at, overdue_while_open,
    result_returned, if(result_returned, result_returned_at, NULL) AS result_returned_at, result_electronic,
    digitised, reused, paid_online, full_online,
    rated, if(rated, rated_at, NULL) AS rated_at, dissatisfied, complained, flagged
FROM dossier_facts FINAL
WHERE NOT superseded;
