-- The indicators as the official texts define them (docs/indicators.md): the events and facts
-- they need, and views that print the same on every ClickHouse version.

-- Contract v1, third round: a dossier's state at go-live (`dossier.snapshot`), feedback and
-- petitions about a dossier (`dossier.complaint_filed`), and whether a learner is of adult age
-- (`skills.certified`; as sent, or the group's default). Existing rows get the defaults, which
-- is what their event types never carry.
ALTER TABLE portal_events ADD COLUMN dossier_received_at DateTime('Asia/Ho_Chi_Minh') AFTER satisfaction;
ALTER TABLE portal_events ADD COLUMN paused_seconds UInt32 AFTER dossier_received_at;
ALTER TABLE portal_events ADD COLUMN complaint_kind String AFTER paused_seconds;
ALTER TABLE portal_events ADD COLUMN complaint_subject String AFTER complaint_kind;
ALTER TABLE training_events ADD COLUMN of_adult_age UInt8 AFTER attendees;

-- Targets are goals a text sets; thresholds are where a scoring index gives full marks.
ALTER TABLE ref_targets ADD COLUMN kind String AFTER year;

-- The facts of each dossier gain: whether it entered through a go-live snapshot and from when it
-- is followed; whether it went wholly online; feedback or petitions about it; its return for
-- want of supplements. The rollup recomputes every row at its next start.
ALTER TABLE dossier_facts ADD COLUMN backlog UInt8 AFTER fee_bearing;
ALTER TABLE dossier_facts ADD COLUMN tracked_from DateTime('Asia/Ho_Chi_Minh') AFTER received_at;
ALTER TABLE dossier_facts ADD COLUMN abandoned UInt8 AFTER withdrawn_at;
ALTER TABLE dossier_facts ADD COLUMN abandoned_at DateTime('Asia/Ho_Chi_Minh') AFTER abandoned;
ALTER TABLE dossier_facts ADD COLUMN full_online UInt8 AFTER paid_online;
ALTER TABLE dossier_facts ADD COLUMN complained UInt8 AFTER dissatisfied;
ALTER TABLE dossier_facts ADD COLUMN flagged UInt8 AFTER complained;

-- Views: every "no time" is NULL (ClickHouse 18.16 prints the zero DateTime as 0000-00-00
-- 00:00:00, later versions as 1970-01-01 07:00:00), and every time is local.
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
FROM dossier_facts FINAL;

DROP TABLE IF EXISTS v_targets;
CREATE VIEW v_targets AS
SELECT indicator, year, kind, target, source FROM ref_targets;

DROP TABLE IF EXISTS v_rollup_state;
CREATE VIEW v_rollup_state AS
SELECT
    source,
    toTimeZone(max(covered_until), 'Asia/Ho_Chi_Minh') AS covered_until,
    toTimeZone(max(refreshed_at), 'Asia/Ho_Chi_Minh') AS refreshed_at,
    if(max(newest_event) = toDateTime(0), NULL, max(newest_event)) AS newest_event
FROM rollup_state
GROUP BY source;
