-- The facts of every dossier that got an event inserted since the last cycle, recomputed from
-- all its events (docs/indicators.md states each rule; services/simulator/src/truth.rs reads
-- the same rules directly, event by event). Parameters, in order: the clock part of this
-- computation's version (below), the supplement waiting time in seconds (ioc_domain::rules), three times, the instants
-- (unix seconds) from which and before which inserted events count as new (the cycle's `since`
-- and `covered_until`), the number of slices the dossiers are cut into and the one computed here
-- (by the hash of their id: a slice's events are held in memory at once, about 700 bytes each on
-- ClickHouse 18.16, and every dossier of a year at once went over a 4 GB limit; cycle.rs), and
-- the time of the oldest event of those dossiers (the touched query found it), which keeps the
-- read to the monthly partitions their events are in: without it every month of the history was
-- read (0.2-0.5 s of a portal cycle with 15 months loaded, 0.06 s with it, ops/bench).
-- A dossier belongs to the unit of its first opening event; the table keeps versions per (unit,
-- dossier), so when a first opening event from another unit arrives late, the row written under
-- the unit that held the dossier until then would stay. Every unit of the dossier's opening
-- events therefore gets this version: the owner's row, and for each other unit the same facts
-- marked `superseded`, which readers leave out (`a_dossier_whose_unit_changes_counts_once`).
-- The newest version of a dossier wins (ReplacingMergeTree, FINAL). A version is first the number
-- of the dossier's events this computation read, then the writer's clock (milliseconds, below
-- 2^44): every replica reads every event visible when it runs, and events are never taken away,
-- so a computation that saw more of them is the newer one whatever the clocks of the processor
-- replicas say. The clock alone let a replica whose clock ran ahead keep facts it had computed
-- before another replica saw the dossier's next event, until the one after
-- (`facts_a_replica_wrote_with_its_clock_ahead_give_way_to_the_dossiers_next_events` in
-- tests/e2e/tests/rollup_incremental.rs). Equal counts are the same events, so the clock then
-- only orders computations under different rules. Events removed by hand therefore need the
-- facts emptied before a recomputation (ops/runbook.md).
-- ClickHouse 18.16 compatible: greatest() and least() take two arguments, no arrayFold.
INSERT INTO dossier_facts (
    dossier_id, unit_code, procedure_code, channel, service_level, fee_bearing, backlog,
    received_at, tracked_from, due_at, paused_seconds, clock_stopped, late_at,
    resolved, resolved_at, outcome, resolved_on_time, processing_seconds,
    withdrawn, withdrawn_at, abandoned, abandoned_at, closed, closed_at, overdue_while_open,
    result_returned, result_returned_at, result_electronic,
    digitised, reused, paid_online, full_online,
    rated, rated_at, dissatisfied, complained, flagged,
    last_at, version, bound_at, superseded
)
SELECT
    dossier_id, written_unit, procedure_code, channel, service_level, fee_bearing, backlog,
    received_at, tracked_from, due_at, paused_seconds, clock_stopped, late_at,
    resolved, resolved_at, outcome,
    -- On time: by the due time extended by the pauses, or while the clock was stopped.
    resolved AND (clock_stopped OR resolved_at <= late_at) AS resolved_on_time,
    if(resolved, toUInt32(greatest(toInt64(resolved_at) - toInt64(received_at) - toInt64(paused_before_resolution), 0)), 0)
        AS processing_seconds,
    withdrawn, withdrawn_at, abandoned, abandoned_at, closed, closed_at,
    NOT clock_stopped AND (NOT closed OR late_at < closed_at) AS overdue_while_open,
    result_returned, result_returned_at, result_electronic,
    digitised, reused, paid_online,
    channel = 'online' AND service_level = 'full_online' AND (NOT fee_bearing OR paid_online) AS full_online,
    rated, rated_at, dissatisfied, complained,
    dissatisfied OR complained AS flagged,
    -- The latest instant a measure of this dossier is dated on.
    greatest(greatest(greatest(tracked_from, resolved_at), greatest(closed_at, result_returned_at)),
             if(clock_stopped, tracked_from, late_at)) AS last_at,
    toUInt64(least(events_read, 1048575)) * 17592186044416 + ? AS version,
    -- No earlier than last_at, and never earlier when more of the dossier's events are read
    -- (migration 0016 says why): each term is a maximum, or a maximum less a minimum, taken
    -- over the events. Its newest event; its latest supplement request plus the waiting time
    -- (a return for want of supplements); and the latest due time, pushed by the largest
    -- snapshot's paused time and by the counted pauses: each starts at its request or at the
    -- resume before, whichever is later, so they never overlap, and together they last no
    -- longer than from the first request to the last resume. Clamped to the last second a
    -- DateTime holds (2106), which last_at cannot pass either: a source may send any due time.
    toDateTime(least(toUInt64(4294967295), greatest(
        greatest(toUInt64(newest_event_at), toUInt64(arrayReduce('max', arrayPushBack(all_requests, toUInt32(0)))) + ?),
        toUInt64(latest_due_at) + toUInt64(most_paused_before)
            + toUInt64(if(empty(resumes) OR empty(all_requests), 0,
                  greatest(toInt64(arrayReduce('max', resumes)) - toInt64(all_requests[1]), 0))))),
        'Asia/Ho_Chi_Minh') AS bound_at,
    written_unit != unit_code AS superseded
FROM
(
    SELECT
        *,
        -- The dossier ends at the first of its resolution, its withdrawal and its return for
        -- want of supplements; a resolution counts only when it comes first.
        abandoned OR has_end AS closed,
        if(abandoned, abandoned_at, end0) AS closed_at,
        has_resolution AND resolution_at <= end0 AND NOT abandoned AS resolved,
        if(resolved, resolution_at, toDateTime(0, 'Asia/Ho_Chi_Minh')) AS resolved_at,
        has_withdrawal AND NOT resolved AND NOT abandoned AS withdrawn,
        if(withdrawn, withdrawal_at, toDateTime(0, 'Asia/Ho_Chi_Minh')) AS withdrawn_at,
        -- The part of the counted pauses before the resolution (an open pause ends there).
        base_paused
          + toUInt32(arraySum(arrayMap((s, u) -> if(s < toUInt32(resolution_at) AND u > s, least(u, toUInt32(resolution_at)) - s, 0),
                arraySlice(starts, 1, counted), arraySlice(resumes, 1, counted))))
          + if(clock_stopped AND open_from < toUInt32(resolution_at), toUInt32(resolution_at) - open_from, 0)
          AS paused_before_resolution
    FROM
    (
        SELECT
            *,
            -- Returned for want of supplements: a counted request whose resume did not come
            -- within the waiting time, before the dossier ended otherwise (`deadline < end0`;
            -- requests are all before `end0`).
            if(long_pause > 0, requests[long_pause], if(clock_stopped, open_request, 0)) AS unanswered,
            toDateTime(unanswered + ?, 'Asia/Ho_Chi_Minh') AS deadline,
            unanswered > 0 AND (NOT has_end OR deadline < end0) AS abandoned,
            if(abandoned, deadline, toDateTime(0, 'Asia/Ho_Chi_Minh')) AS abandoned_at
        FROM
        (
            SELECT
                *,
                -- The k-th supplement request pairs with the k-th resume. A request counts when it
                -- is made before the due time as already extended by the counted pauses before
                -- it; once one does not (the dossier was late), no later one can.
                least(length(requests), length(resumes)) AS pairs,
                arraySlice(resumes, 1, pairs) AS paired_resumes,
                -- A request made while the one before still waits stops the clock only from
                -- that one's resume: overlapping waits are one pause, not their sum.
                arrayMap((r, previous) -> greatest(r, previous),
                    arraySlice(requests, 1, pairs), arraySlice(arrayPushFront(paired_resumes, toUInt32(0)), 1, pairs)) AS starts,
                arrayMap((s, u) -> toUInt32(greatest(toInt64(u) - toInt64(s), 0)), starts, paired_resumes) AS pauses,
                -- Each request's own wait for its answer, which the waiting time limits.
                arrayMap((r, u) -> toInt64(u) - toInt64(r), arraySlice(requests, 1, pairs), paired_resumes) AS waits,
                arrayMap((r, c, p) -> toInt64(r) < toInt64(due_at) + toInt64(base_paused) + toInt64(c) - toInt64(p),
                    arraySlice(requests, 1, pairs), arrayCumSum(pauses), pauses) AS counts,
                arrayFirstIndex(x -> NOT x, counts) AS first_uncounted,
                if(first_uncounted = 0, pairs, toUInt64(first_uncounted - 1)) AS counted_by_due,
                -- A counted request answered after the waiting time returned the dossier at the
                -- wait's end: it is the last one that counts.
                arrayFirstIndex(w -> w > ?, arraySlice(waits, 1, counted_by_due)) AS long_pause,
                if(long_pause > 0, toUInt64(long_pause), counted_by_due) AS counted,
                base_paused + toUInt32(arraySum(arraySlice(pauses, 1, counted))) AS paused_seconds,
                -- A request still waiting for its resume stops the clock, if it counts: from
                -- the last resume if it was made before that.
                if(length(requests) > pairs, requests[pairs + 1], 0) AS open_request,
                if(open_request > 0 AND pairs > 0, greatest(open_request, resumes[pairs]), open_request) AS open_from,
                long_pause = 0 AND counted = pairs AND open_request > 0
                    AND toInt64(open_request) < toInt64(due_at) + toInt64(paused_seconds) AS clock_stopped,
                toDateTime(toUInt32(due_at) + paused_seconds, 'Asia/Ho_Chi_Minh') AS late_at
            FROM
            (
                SELECT
                    *,
                    -- Requests after the dossier ended are not part of its handling.
                    arrayFilter(r -> NOT has_end OR r < toUInt32(end0), all_requests) AS requests
                FROM
                (
                    SELECT
                        dossier_id,
                        -- The reception event wins over a go-live snapshot of the same dossier.
                        countIf(type = 'dossier.received') = 0 AS backlog,
                        argMinIf(unit_code, opening_key, opening) AS unit_code,
                        argMinIf(procedure_code, opening_key, opening) AS procedure_code,
                        argMinIf(channel, opening_key, opening) AS channel,
                        argMinIf(service_level, opening_key, opening) AS service_level,
                        argMinIf(fee_bearing, opening_key, opening) AS fee_bearing,
                        argMinIf(due_at, opening_key, opening) AS due_at,
                        if(backlog, argMinIf(dossier_received_at, occurred_at, type = 'dossier.snapshot'),
                           minIf(occurred_at, type = 'dossier.received')) AS received_at,
                        if(backlog, minIf(occurred_at, type = 'dossier.snapshot'), received_at) AS tracked_from,
                        -- The clock time paused before go-live is known from the snapshot alone (no
                        -- source sends the pauses before it joined), even when a reception wins.
                        argMinIf(paused_seconds, occurred_at, type = 'dossier.snapshot') AS base_paused,
                        -- For bound_at (above).
                        max(occurred_at) AS newest_event_at,
                        maxIf(event_due_at, opening) AS latest_due_at,
                        maxIf(paused_seconds, type = 'dossier.snapshot') AS most_paused_before,
                        arraySort(groupArrayIf(toUInt32(occurred_at), type = 'dossier.supplement_requested')) AS all_requests,
                        arraySort(groupArrayIf(toUInt32(occurred_at), type = 'dossier.resumed')) AS resumes,
                        countIf(type = 'dossier.resolved') > 0 AS has_resolution,
                        minIf(occurred_at, type = 'dossier.resolved') AS resolution_at,
                        argMinIf(outcome, occurred_at, type = 'dossier.resolved') AS outcome,
                        countIf(type = 'dossier.withdrawn') > 0 AS has_withdrawal,
                        minIf(occurred_at, type = 'dossier.withdrawn') AS withdrawal_at,
                        has_resolution OR has_withdrawal AS has_end,
                        if(has_resolution AND has_withdrawal, least(resolution_at, withdrawal_at),
                           if(has_resolution, resolution_at, withdrawal_at)) AS end0,
                        -- The first return dates the result; it is electronic if any return was.
                        countIf(type = 'dossier.result_returned') > 0 AS result_returned,
                        minIf(occurred_at, type = 'dossier.result_returned') AS result_returned_at,
                        countIf(type = 'dossier.result_returned' AND result_form = 'electronic') > 0 AS result_electronic,
                        -- A component reused from the data warehouse is a digitised one. A go-live
                        -- snapshot carries what happened before it in the same columns.
                        countIf(type IN ('dossier.digitised', 'dossier.snapshot') AND (components_digitised > 0 OR components_reused > 0)) > 0 AS digitised,
                        countIf(type IN ('dossier.digitised', 'dossier.snapshot') AND components_reused > 0) > 0 AS reused,
                        countIf(type IN ('dossier.paid', 'dossier.snapshot') AND payment_method = 'online') > 0 AS paid_online,
                        countIf(type = 'dossier.rated') > 0 AS rated,
                        minIf(occurred_at, type = 'dossier.rated') AS rated_at,
                        argMinIf(satisfaction, occurred_at, type = 'dossier.rated') = 'dissatisfied' AS dissatisfied,
                        countIf(type IN ('dossier.complaint_filed', 'dossier.snapshot') AND complaint_subject IN ('reception', 'handling')) > 0 AS complained,
                        groupUniqArrayIf(event_unit, opening) AS opening_units,
                        count() AS events_read
                    FROM
                    (
                        -- Each event once, even before ReplacingMergeTree has merged its redeliveries.
                        SELECT
                            *,
                            type IN ('dossier.received', 'dossier.snapshot') AS opening,
                            unit_code AS event_unit,
                            -- due_at is the dossier's own above (the first opening event's).
                            due_at AS event_due_at,
                            toUInt64(type = 'dossier.snapshot') * 4294967296 + toUInt32(occurred_at) AS opening_key
                        FROM portal_events
                        -- By the ids' hashes, as the touched query (cycle.rs) says why.
                        WHERE cityHash64(dossier_id) IN
                            (SELECT cityHash64(dossier_id) FROM portal_events
                             WHERE inserted_at >= toDateTime(?) AND inserted_at < toDateTime(?)
                               AND type != 'canary.probe' AND cityHash64(dossier_id) % ? = ?)
                          AND occurred_at >= toDateTime(?)
                        LIMIT 1 BY event_id
                    )
                    GROUP BY dossier_id
                    HAVING countIf(opening) > 0
                )
            )
        )
    )
)
ARRAY JOIN opening_units AS written_unit
