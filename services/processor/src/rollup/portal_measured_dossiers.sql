-- The newest facts of each dossier with a measure dated from the given month on, with only the
-- columns the portal's measures read, into a table of the cycle's own ({dossiers}, dropped with
-- the staging tables). portal_measures.sql then reads it once per kind of instant a measure is
-- dated on. Every parameter is the first day recomputed; {recent ...} and {history ...} are
-- kept when the rollup recomputes the latest months or more, {months ...} when it recomputes a
-- few older months alone (given as a list of yyyymm) for a few units (a tuple of
-- their codes): then a dossier is measured when some version of its facts in one of those
-- units has an instant in one of the months and its last_at no earlier than the first of them
-- (its newest version in the unit is kept, whatever it holds; ended_at and overdue_at below are
-- each one of the instants looked at; cycle.rs). The table is ordered by unit first, so only
-- those units' rows are read.
CREATE TABLE {dossiers} ENGINE = Log AS
SELECT
    unit_code, procedure_code, received_at, tracked_from, resolved_at, abandoned_at, result_returned_at,
    -- Stocks count a dossier from the moment it is followed (its reception, or the go-live
    -- snapshot of the backlog), so nothing about it is dated before that. (greatest() drops
    -- the time zone on ClickHouse 18.16: toTimeZone puts it back, or toDate would be UTC's.)
    toTimeZone(greatest(closed_at, tracked_from), 'Asia/Ho_Chi_Minh') AS ended_at,
    toTimeZone(greatest(late_at, tracked_from), 'Asia/Ho_Chi_Minh') AS overdue_at,
    backlog, channel = 'online' AS online, fee_bearing, paid_online, reused, closed, overdue_while_open,
    resolved, processing_seconds, resolved_on_time, digitised, result_electronic, full_online, flagged,
    abandoned, result_returned
-- FINAL merges every dossier of the history (0.7 s with a year loaded, ops/bench), whatever the
-- months; when only the latest months are recomputed, the versions in the partitions of
-- dossier_facts_by_bound from the first of them on are read, and each dossier's newest kept, as
-- FINAL would: every dossier with a measure dated there has its newest version among them
-- (migration 0016), and the last line drops those whose newest version has none. They are
-- stored together there, while in dossier_facts they are spread among every dossier of the
-- history (reading them there cost 0.45 s with a year loaded, 0.19 s now, ops/bench's
-- database). For old months, the candidates are matched by their ids' 64-bit hashes, as
-- training_measures.sql says why: a dossier of another id that shares a hash keeps its newest
-- version, which the months' filter of portal_measures.sql drops. A version is a candidate
-- for old months only if its last_at is in them or after: last_at is the latest instant any of
-- its measures is dated on (dossier_facts.sql), and that two-number test spares the months'
-- test of seven instants on most versions of a long history (with the hashes, 0.81 to 0.48 s
-- for one old month with a year loaded, ops/bench's database).
FROM {history dossier_facts FINAL}{recent
(
    SELECT *
    FROM dossier_facts_by_bound
    WHERE bound_at >= toDateTime(toDate(?), 'Asia/Ho_Chi_Minh')
    ORDER BY version DESC
    LIMIT 1 BY unit_code, dossier_id
)}{months
(
    SELECT *
    FROM dossier_facts
    WHERE unit_code IN OLD_UNITS AND cityHash64(dossier_id) IN
        (SELECT cityHash64(dossier_id) FROM dossier_facts
         WHERE unit_code IN OLD_UNITS AND last_at >= toDateTime(toDate(?), 'Asia/Ho_Chi_Minh')
           AND (has(OLD_MONTHS, toYYYYMM(received_at)) OR has(OLD_MONTHS, toYYYYMM(tracked_from))
                OR has(OLD_MONTHS, toYYYYMM(closed_at)) OR has(OLD_MONTHS, toYYYYMM(late_at))
                OR has(OLD_MONTHS, toYYYYMM(resolved_at)) OR has(OLD_MONTHS, toYYYYMM(abandoned_at))
                OR has(OLD_MONTHS, toYYYYMM(result_returned_at))))
    ORDER BY version DESC
    LIMIT 1 BY unit_code, dossier_id
)}
-- A unit that no longer holds the dossier keeps its row, marked (dossier_facts.sql).
WHERE last_at >= toDateTime(toDate(?), 'Asia/Ho_Chi_Minh') AND NOT superseded
