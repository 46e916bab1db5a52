INSERT INTO dossier_facts
SELECT
    dossier_id, unit_code, procedure_code, channel, service_level, fee_bearing, received_at, due_at,
    paused_seconds, clock_stopped, late_at,
    resolved, resolved_at, outcome,
    resolved AND (clock_stopped OR resolved_at <= late_at) AS resolved_on_time,
    if(resolved, toUInt32(greatest(toInt64(resolved_at) - toInt64(received_at) - toInt64(paused_before_resolution), 0)), 0) AS processing_seconds,
    withdrawn, withdrawn_at,
    closed, closed_at,
    NOT clock_stopped AND (NOT closed OR late_at < closed_at) AS overdue_while_open,
    result_returned, result_returned_at, result_electronic,
    digitised, reused, paid_online,
    rated, rated_at, dissatisfied,
    -- greatest() takes two arguments on ClickHouse 18.16.
    greatest(greatest(greatest(received_at, resolved_at), greatest(withdrawn_at, result_returned_at)),
             greatest(rated_at, if(clock_stopped, received_at, late_at))) AS last_at,
    ? AS version
FROM
(
    SELECT
        dossier_id, unit_code, procedure_code, channel, service_level, fee_bearing, received_at, due_at,
        resolved, resolved_at, outcome, withdrawn, withdrawn_at,
        resolved OR withdrawn AS closed,
        if(resolved AND withdrawn, least(resolved_at, withdrawn_at), if(resolved, resolved_at, withdrawn_at)) AS closed_at,
        result_returned, result_returned_at, result_electronic, digitised, reused, paid_online, rated, rated_at, dissatisfied,
        -- The k-th supplement request pairs with the k-th resume; only requests made before the
        -- due time stop the clock, and one without its resume stops it until further notice.
        least(length(requests), length(resumes)) AS pairs,
        toUInt32(arraySum(arrayMap((r, u) -> if(r < toUInt32(due_at) AND u > r, u - r, 0),
            arraySlice(requests, 1, pairs), arraySlice(resumes, 1, pairs)))) AS paused_seconds,
        -- The part of those pauses before the resolution (a pause still running then ends there).
        toUInt32(arraySum(arrayMap((r, u) -> if(r < toUInt32(due_at) AND r < toUInt32(resolved_at) AND u > r,
                                              least(u, toUInt32(resolved_at)) - r, 0),
            arraySlice(requests, 1, pairs), arraySlice(resumes, 1, pairs)))
          + arraySum(arrayMap(r -> if(r < toUInt32(due_at) AND r < toUInt32(resolved_at), toUInt32(resolved_at) - r, 0),
            arraySlice(requests, pairs + 1)))) AS paused_before_resolution,
        arrayExists(r -> r < toUInt32(due_at), arraySlice(requests, pairs + 1)) AS clock_stopped,
        toDateTime(toUInt32(due_at) + paused_seconds, 'Asia/Ho_Chi_Minh') AS late_at
    FROM
    (
        SELECT
            dossier_id,
            argMinIf(unit_code, occurred_at, type = 'dossier.received') AS unit_code,
            argMinIf(procedure_code, occurred_at, type = 'dossier.received') AS procedure_code,
            argMinIf(channel, occurred_at, type = 'dossier.received') AS channel,
            argMinIf(service_level, occurred_at, type = 'dossier.received') AS service_level,
            argMinIf(fee_bearing, occurred_at, type = 'dossier.received') AS fee_bearing,
            minIf(occurred_at, type = 'dossier.received') AS received_at,
            argMinIf(due_at, occurred_at, type = 'dossier.received') AS due_at,
            arraySort(groupArrayIf(toUInt32(occurred_at), type = 'dossier.supplement_requested')) AS requests,
            arraySort(groupArrayIf(toUInt32(occurred_at), type = 'dossier.resumed')) AS resumes,
            countIf(type = 'dossier.resolved') > 0 AS resolved,
            minIf(occurred_at, type = 'dossier.resolved') AS resolved_at,
            argMinIf(outcome, occurred_at, type = 'dossier.resolved') AS outcome,
            countIf(type = 'dossier.withdrawn') > 0 AS withdrawn,
            minIf(occurred_at, type = 'dossier.withdrawn') AS withdrawn_at,
            countIf(type = 'dossier.result_returned') > 0 AS result_returned,
            minIf(occurred_at, type = 'dossier.result_returned') AS result_returned_at,
            argMinIf(result_form, occurred_at, type = 'dossier.result_returned') = 'electronic' AS result_electronic,
            countIf(type = 'dossier.digitised' AND components_digitised > 0) > 0 AS digitised,
            countIf(type = 'dossier.digitised' AND components_reused > 0) > 0 AS reused,
            countIf(type = 'dossier.paid' AND payment_method = 'online') > 0 AS paid_online,
            countIf(type = 'dossier.rated') > 0 AS rated,
            minIf(occurred_at, type = 'dossier.rated') AS rated_at,
            argMinIf(satisfaction, occurred_at, type = 'dossier.rated') = 'dissatisfied' AS dissatisfied
        FROM
        (
            -- Each event once, even before ReplacingMergeTree has merged its redeliveries.
            SELECT * FROM portal_events
            WHERE dossier_id IN (SELECT dossier_id FROM portal_events WHERE inserted_at >= toDateTime(?))
            LIMIT 1 BY event_id
        )
        GROUP BY dossier_id
        HAVING countIf(type = 'dossier.received') > 0
    )
)
