-- What the rollup needs to know of all of a dossier's events to find the months its measures can
-- be dated in (services/processor/src/rollup/cycle.rs, `touched_sql`), kept per dossier as
-- ClickHouse aggregate states, written by ClickHouse itself at each insert into portal_events
-- (a materialized view, as for the offsets of migration 0010). A cycle used to aggregate every
-- event of the dossiers its new events touch, looking each one up against every stored event
-- (0.55 to 0.66 s with 16 months stored, growing with the history); sorted by dossier, the
-- lookup reads about what those dossiers hold (0.34 to 0.42 s, the same result; BENCHMARKS.md,
-- the cycle against the history).
-- The view writes within the insert of the raw rows, and a cycle covers an insert only once it
-- ended (services/processor/src/rollup/in_flight.rs): the cycle sees both. Every delivery adds
-- to the states, redeliveries included, as the raw table held them before ClickHouse merged
-- them: the counts can only be too high, which recomputes more months, never fewer. Times are
-- those the events carry; nothing here depends on the rules (the supplement waiting time is
-- added when the table is read). Events removed by hand leave their states, with the same
-- effect at worst (ops/runbook.md).
CREATE TABLE IF NOT EXISTS dossier_spans
(
    dossier_id      String,
    -- Every event, and the earliest of them.
    events          AggregateFunction(count),
    first_event     AggregateFunction(min, DateTime('Asia/Ho_Chi_Minh')),
    -- The events that date a measure (all but supplement requests and resumes): how many, the
    -- earliest, and the months (yyyymm) they fall in.
    dating_events   AggregateFunction(countIf, UInt8),
    first_dating    AggregateFunction(minIf, DateTime('Asia/Ho_Chi_Minh'), UInt8),
    dating_months   AggregateFunction(groupUniqArrayIf, UInt32, UInt8),
    -- Each supplement request's time (unix seconds): a return for want of supplements is dated
    -- at a request plus the waiting time.
    requests        AggregateFunction(groupUniqArrayIf, UInt32, UInt8),
    -- The opening events (reception, go-live snapshot) and what bounds the dossier's due time:
    -- the earliest opening, the earliest and latest due time they give, the snapshot's paused
    -- time, and the resumes (their number and the latest).
    openings        AggregateFunction(countIf, UInt8),
    first_opening   AggregateFunction(minIf, DateTime('Asia/Ho_Chi_Minh'), UInt8),
    due_from        AggregateFunction(minIf, DateTime('Asia/Ho_Chi_Minh'), UInt8),
    due_until       AggregateFunction(maxIf, DateTime('Asia/Ho_Chi_Minh'), UInt8),
    snapshot_paused AggregateFunction(maxIf, UInt32, UInt8),
    resumes         AggregateFunction(countIf, UInt8),
    last_resume     AggregateFunction(maxIf, DateTime('Asia/Ho_Chi_Minh'), UInt8)
)
ENGINE = AggregatingMergeTree
ORDER BY dossier_id
-- A cycle looks up a few thousand dossiers: small granules keep the rows read near theirs.
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS dossier_spans_writer TO dossier_spans AS
SELECT
    dossier_id,
    countState() AS events,
    minState(occurred_at) AS first_event,
    countIfState(type NOT IN ('dossier.supplement_requested', 'dossier.resumed')) AS dating_events,
    minIfState(occurred_at, type NOT IN ('dossier.supplement_requested', 'dossier.resumed')) AS first_dating,
    groupUniqArrayIfState(toYYYYMM(occurred_at), type NOT IN ('dossier.supplement_requested', 'dossier.resumed')) AS dating_months,
    groupUniqArrayIfState(toUInt32(occurred_at), type = 'dossier.supplement_requested') AS requests,
    countIfState(type IN ('dossier.received', 'dossier.snapshot')) AS openings,
    minIfState(occurred_at, type IN ('dossier.received', 'dossier.snapshot')) AS first_opening,
    minIfState(due_at, type IN ('dossier.received', 'dossier.snapshot')) AS due_from,
    maxIfState(due_at, type IN ('dossier.received', 'dossier.snapshot')) AS due_until,
    maxIfState(paused_seconds, type = 'dossier.snapshot') AS snapshot_paused,
    countIfState(type = 'dossier.resumed') AS resumes,
    maxIfState(occurred_at, type = 'dossier.resumed') AS last_resume
FROM portal_events
GROUP BY dossier_id;

-- The events stored before this migration, with the view's query (ClickHouse refuses POPULATE
-- with TO; ioc-clickhouse's tests keep the two the same). The view above already writes what is
-- inserted from now on, so an event inserted while this runs may be counted twice (too high:
-- safe, above); filling first would have missed it. About 20 s for a year of the province (10
-- million events).
INSERT INTO dossier_spans
SELECT
    dossier_id,
    countState() AS events,
    minState(occurred_at) AS first_event,
    countIfState(type NOT IN ('dossier.supplement_requested', 'dossier.resumed')) AS dating_events,
    minIfState(occurred_at, type NOT IN ('dossier.supplement_requested', 'dossier.resumed')) AS first_dating,
    groupUniqArrayIfState(toYYYYMM(occurred_at), type NOT IN ('dossier.supplement_requested', 'dossier.resumed')) AS dating_months,
    groupUniqArrayIfState(toUInt32(occurred_at), type = 'dossier.supplement_requested') AS requests,
    countIfState(type IN ('dossier.received', 'dossier.snapshot')) AS openings,
    minIfState(occurred_at, type IN ('dossier.received', 'dossier.snapshot')) AS first_opening,
    minIfState(due_at, type IN ('dossier.received', 'dossier.snapshot')) AS due_from,
    maxIfState(due_at, type IN ('dossier.received', 'dossier.snapshot')) AS due_until,
    maxIfState(paused_seconds, type = 'dossier.snapshot') AS snapshot_paused,
    countIfState(type = 'dossier.resumed') AS resumes,
    maxIfState(occurred_at, type = 'dossier.resumed') AS last_resume
FROM portal_events
GROUP BY dossier_id;
