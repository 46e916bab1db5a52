-- The portal's measures (ioc_events::measures) of every day from the given month on, from the
-- newest facts of each dossier. Every parameter is the first day recomputed; {recent ...} and
-- {history ...} are kept when the rollup recomputes the latest months or more (cycle.rs).
INSERT INTO {staging} (source, day, unit_code, measure, dimension, value)
-- Each measure travels as its position in this list and is named once grouped: carrying the
-- names through the ARRAY JOIN (24 per dossier) made the query a quarter slower (1.7 s against
-- 1.3 s over 260,000 dossiers, ops/bench). indexOf() of a name not listed is 0, which the
-- unit tests of cycle.rs refuse.
WITH ['received', 'received_online', 'received_fee_bearing', 'received_paid_online',
      'received_reusing', 'opened', 'closed', 'overdue', 'overdue_closed', 'resolved',
      'processing_seconds', 'resolved_on_time', 'resolved_digitised_electronic',
      'resolved_full_online', 'resolved_unsatisfactory', 'flagged', 'flagged_closed',
      'overdue_unflagged', 'overdue_unflagged_closed', 'returned_unsupplemented',
      'results_returned', 'results_returned_electronic'] AS measure_names
SELECT 'portal', tupleElement(m, 3) AS day, unit_code, measure_names[tupleElement(m, 1)] AS measure, tupleElement(m, 2) AS dimension,
       sum(tupleElement(m, 4)) AS value
FROM
(
    SELECT
        *,
        -- Stocks count a dossier from the moment it is followed (its reception, or the go-live
        -- snapshot of the backlog), so nothing about it is dated before that. (greatest() drops
        -- the time zone on ClickHouse 18.16: toTimeZone puts it back, or toDate would be UTC's.)
        toTimeZone(greatest(closed_at, tracked_from), 'Asia/Ho_Chi_Minh') AS ended_at,
        toTimeZone(greatest(late_at, tracked_from), 'Asia/Ho_Chi_Minh') AS overdue_at
    -- The newest facts of each dossier with a measure dated in the recomputed months. FINAL
    -- merges every dossier of the history (0.7 s with a year loaded, ops/bench), whatever the
    -- months; when only the latest months are recomputed, reading the candidates' rows alone
    -- and keeping each one's newest version, as FINAL would, costs what those months hold (a
    -- dossier whose newest facts end in them has that version among the candidates).
    FROM {history dossier_facts FINAL}{recent
    (
        SELECT *
        FROM dossier_facts
        WHERE dossier_id IN (SELECT dossier_id FROM dossier_facts WHERE last_at >= toDateTime(toDate(?), 'Asia/Ho_Chi_Minh'))
        ORDER BY version DESC
        LIMIT 1 BY unit_code, dossier_id
    )}
    WHERE last_at >= toDateTime(toDate(?), 'Asia/Ho_Chi_Minh')
)
-- Each dossier adds 1 (or its seconds) to the measures it meets, on the local day of the
-- instant that measure is about; docs/indicators.md says how indicators combine them.
ARRAY JOIN arrayFilter(x -> tupleElement(x, 4) > 0 AND tupleElement(x, 3) >= toDate(?), [
    -- Receptions in the period (the backlog was received before the stream started).
    (indexOf(measure_names, 'received'), '', toDate(received_at), toUInt64(NOT backlog)),
    (indexOf(measure_names, 'received_online'), '', toDate(received_at), toUInt64(NOT backlog AND channel = 'online')),
    (indexOf(measure_names, 'received_fee_bearing'), '', toDate(received_at), toUInt64(NOT backlog AND fee_bearing)),
    (indexOf(measure_names, 'received_paid_online'), '', toDate(received_at), toUInt64(NOT backlog AND fee_bearing AND paid_online)),
    (indexOf(measure_names, 'received_reusing'), '', toDate(received_at), toUInt64(NOT backlog AND reused)),
    -- What is open at a period's end: opened before it, not ended before it.
    (indexOf(measure_names, 'opened'), '', toDate(tracked_from), toUInt64(1)),
    (indexOf(measure_names, 'closed'), '', toDate(ended_at), toUInt64(closed)),
    (indexOf(measure_names, 'overdue'), '', toDate(overdue_at), toUInt64(overdue_while_open)),
    (indexOf(measure_names, 'overdue_closed'), '', toDate(ended_at), toUInt64(overdue_while_open AND closed)),
    -- Resolutions in the period.
    (indexOf(measure_names, 'resolved'), '', toDate(resolved_at), toUInt64(resolved)),
    (indexOf(measure_names, 'resolved'), procedure_code, toDate(resolved_at), toUInt64(resolved)),
    (indexOf(measure_names, 'processing_seconds'), '', toDate(resolved_at), toUInt64(processing_seconds)),
    (indexOf(measure_names, 'processing_seconds'), procedure_code, toDate(resolved_at), toUInt64(processing_seconds)),
    (indexOf(measure_names, 'resolved_on_time'), '', toDate(resolved_at), toUInt64(resolved_on_time)),
    (indexOf(measure_names, 'resolved_digitised_electronic'), '', toDate(resolved_at), toUInt64(resolved AND digitised AND result_electronic)),
    (indexOf(measure_names, 'resolved_full_online'), '', toDate(resolved_at), toUInt64(resolved AND full_online)),
    -- 5.4: late, dissatisfied or complained about, each dossier once.
    (indexOf(measure_names, 'resolved_unsatisfactory'), '', toDate(resolved_at), toUInt64(resolved AND (NOT resolved_on_time OR flagged))),
    (indexOf(measure_names, 'flagged'), '', toDate(tracked_from), toUInt64(flagged)),
    (indexOf(measure_names, 'flagged_closed'), '', toDate(ended_at), toUInt64(flagged AND closed)),
    (indexOf(measure_names, 'overdue_unflagged'), '', toDate(overdue_at), toUInt64(overdue_while_open AND NOT flagged)),
    (indexOf(measure_names, 'overdue_unflagged_closed'), '', toDate(ended_at), toUInt64(overdue_while_open AND closed AND NOT flagged)),
    (indexOf(measure_names, 'returned_unsupplemented'), '', toDate(abandoned_at), toUInt64(abandoned)),
    (indexOf(measure_names, 'results_returned'), '', toDate(result_returned_at), toUInt64(result_returned)),
    (indexOf(measure_names, 'results_returned_electronic'), '', toDate(result_returned_at), toUInt64(result_returned AND result_electronic))
]) AS m
GROUP BY day, unit_code, tupleElement(m, 1), dimension
