-- The portal's measures (ioc_events::measures) of every day from the given month on, from the
-- dossiers portal_measured_dossiers.sql put in {dossiers}. Every parameter is the first day
-- recomputed. Each dossier adds 1 (or its seconds) to the measures it meets, on the local day of
-- the instant that measure is about; docs/indicators.md says how indicators combine them.
--
-- The dossiers are summed per unit and day once for each instant a measure is dated on, and
-- only those sums go through the ARRAY JOIN: a list of 24 (measure, day, value) per dossier,
-- as first written, took 1.9 s for the 365,000 dossiers of two months of a loaded year, and
-- this 0.35 s after 0.65 s for the dossiers' table (ops/bench). A (unit, day, measure,
-- dimension) comes out of one branch only, so nothing is summed again after the ARRAY JOIN;
-- sums of 0 are left out, as the days before the first one recomputed, and, when a few old
-- months are recomputed alone (portal_measured_dossiers.sql), the days of the other months.
INSERT INTO {staging} (source, day, unit_code, measure, dimension, value)
SELECT 'portal', day, unit_code, tupleElement(m, 1) AS measure, tupleElement(m, 2) AS dimension, tupleElement(m, 3) AS value
FROM
(
    -- Receptions in the period (the backlog was received before the stream started).
    SELECT unit_code, toDate(received_at) AS day, [
        ('received', '', sum(toUInt64(NOT backlog))),
        ('received_online', '', sum(toUInt64(NOT backlog AND online))),
        ('received_fee_bearing', '', sum(toUInt64(NOT backlog AND fee_bearing))),
        ('received_paid_online', '', sum(toUInt64(NOT backlog AND fee_bearing AND paid_online))),
        ('received_reusing', '', sum(toUInt64(NOT backlog AND reused)))
    ] AS sums
    FROM {dossiers} GROUP BY unit_code, day
    UNION ALL
    -- What is open at a period's end: opened before it, not ended before it.
    SELECT unit_code, toDate(tracked_from) AS day, [
        ('opened', '', sum(toUInt64(1))),
        ('flagged', '', sum(toUInt64(flagged)))
    ] AS sums
    FROM {dossiers} GROUP BY unit_code, day
    UNION ALL
    SELECT unit_code, toDate(ended_at) AS day, [
        ('closed', '', sum(toUInt64(closed))),
        ('overdue_closed', '', sum(toUInt64(overdue_while_open AND closed))),
        ('flagged_closed', '', sum(toUInt64(flagged AND closed))),
        ('overdue_unflagged_closed', '', sum(toUInt64(overdue_while_open AND closed AND NOT flagged)))
    ] AS sums
    FROM {dossiers} GROUP BY unit_code, day
    UNION ALL
    SELECT unit_code, toDate(overdue_at) AS day, [
        ('overdue', '', sum(toUInt64(overdue_while_open))),
        ('overdue_unflagged', '', sum(toUInt64(overdue_while_open AND NOT flagged)))
    ] AS sums
    FROM {dossiers} GROUP BY unit_code, day
    UNION ALL
    -- Resolutions in the period; 5.4: late, dissatisfied or complained about, each dossier once.
    SELECT unit_code, toDate(resolved_at) AS day, [
        ('resolved', '', sum(toUInt64(resolved))),
        ('processing_seconds', '', sum(toUInt64(processing_seconds))),
        ('resolved_on_time', '', sum(toUInt64(resolved_on_time))),
        ('resolved_digitised_electronic', '', sum(toUInt64(resolved AND digitised AND result_electronic))),
        ('resolved_full_online', '', sum(toUInt64(resolved AND full_online))),
        ('resolved_unsatisfactory', '', sum(toUInt64(resolved AND (NOT resolved_on_time OR flagged))))
    ] AS sums
    FROM {dossiers} GROUP BY unit_code, day
    UNION ALL
    -- The same two per procedure (the dimension).
    SELECT unit_code, toDate(resolved_at) AS day, [
        ('resolved', procedure_code, sum(toUInt64(resolved))),
        ('processing_seconds', procedure_code, sum(toUInt64(processing_seconds)))
    ] AS sums
    FROM {dossiers} GROUP BY unit_code, procedure_code, day
    UNION ALL
    SELECT unit_code, toDate(abandoned_at) AS day, [
        ('returned_unsupplemented', '', sum(toUInt64(abandoned)))
    ] AS sums
    FROM {dossiers} GROUP BY unit_code, day
    UNION ALL
    SELECT unit_code, toDate(result_returned_at) AS day, [
        ('results_returned', '', sum(toUInt64(result_returned))),
        ('results_returned_electronic', '', sum(toUInt64(result_returned AND result_electronic)))
    ] AS sums
    FROM {dossiers} GROUP BY unit_code, day
)
ARRAY JOIN sums AS m
WHERE day >= toDate(?) AND tupleElement(m, 3) > 0{months AND has(OLD_MONTHS, toYYYYMM(day))}
