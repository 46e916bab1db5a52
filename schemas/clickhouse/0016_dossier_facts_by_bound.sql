-- Every version of the dossiers' facts, a second time, in monthly partitions of a bound that
-- never goes down from one version of a dossier to the next (`bound_at`), so that the rollup's
-- cycles of the latest months read the dossiers that may have a measure there from the last
-- partitions alone, instead of every dossier of the history (dossier_facts is ordered by unit
-- and dossier, so those dossiers' rows are spread over the whole table: 0.45 s of a portal
-- cycle with a year loaded against 0.19 s, ops/bench's database).
--
-- `bound_at` is computed from the dossier's events (services/processor/src/rollup/
-- dossier_facts.sql): no earlier than any instant a measure of the dossier is dated on
-- (`last_at`), and never earlier for a computation that read more of its events. So the
-- newest version of a dossier is in the latest partition any of its versions is in, and a
-- reader of the partitions from a month on finds it whenever it finds an older one
-- (portal_measured_dossiers.sql). `last_at` itself can go down (a supplement request stops the
-- clock of a dossier whose due time was ahead), so partitions of `last_at` would keep an older
-- version of such a dossier there without the newer one.
--
-- A ClickHouse materialized view writes each version inserted into dossier_facts here too, in
-- the same insert. Versions written before this migration have no copy: the rollup's rules
-- change with it, so its next start recomputes every dossier's facts, and the copies, before
-- any cycle reads them. (During a rolling upgrade, a processor of the release before still
-- writes versions without `bound_at`: 1970, a partition no cycle reads, so such a dossier is
-- measured from an older version, or left out, until its next event; as for every change of the rules, a
-- processor restarted with `rollup_recompute_on_start` after the upgrade heals it.) The rollup
-- reads only the partitions from the month before the current one on: older partitions may be
-- dropped (ops/runbook.md).
ALTER TABLE dossier_facts ADD COLUMN bound_at DateTime('Asia/Ho_Chi_Minh') AFTER last_at;

CREATE TABLE IF NOT EXISTS dossier_facts_by_bound
(
    dossier_id         String,
    unit_code          String,
    procedure_code     String,
    channel            String,
    service_level      String,
    fee_bearing        UInt8,
    backlog            UInt8,
    received_at        DateTime('Asia/Ho_Chi_Minh'),
    tracked_from       DateTime('Asia/Ho_Chi_Minh'),
    due_at             DateTime('Asia/Ho_Chi_Minh'),
    paused_seconds     UInt32,
    clock_stopped      UInt8,
    late_at            DateTime('Asia/Ho_Chi_Minh'),
    resolved           UInt8,
    resolved_at        DateTime('Asia/Ho_Chi_Minh'),
    outcome            String,
    resolved_on_time   UInt8,
    processing_seconds UInt32,
    withdrawn          UInt8,
    withdrawn_at       DateTime('Asia/Ho_Chi_Minh'),
    abandoned          UInt8,
    abandoned_at       DateTime('Asia/Ho_Chi_Minh'),
    closed             UInt8,
    closed_at          DateTime('Asia/Ho_Chi_Minh'),
    overdue_while_open UInt8,
    result_returned    UInt8,
    result_returned_at DateTime('Asia/Ho_Chi_Minh'),
    result_electronic  UInt8,
    digitised          UInt8,
    reused             UInt8,
    paid_online        UInt8,
    full_online        UInt8,
    rated              UInt8,
    rated_at           DateTime('Asia/Ho_Chi_Minh'),
    dissatisfied       UInt8,
    complained         UInt8,
    flagged            UInt8,
    last_at            DateTime('Asia/Ho_Chi_Minh'),
    bound_at           DateTime('Asia/Ho_Chi_Minh'),
    version            UInt64,
    superseded         UInt8
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(bound_at)
ORDER BY (unit_code, dossier_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS dossier_facts_by_bound_writer TO dossier_facts_by_bound AS
SELECT
    dossier_id, unit_code, procedure_code, channel, service_level, fee_bearing, backlog,
    received_at, tracked_from, due_at, paused_seconds, clock_stopped, late_at,
    resolved, resolved_at, outcome, resolved_on_time, processing_seconds,
    withdrawn, withdrawn_at, abandoned, abandoned_at, closed, closed_at, overdue_while_open,
    result_returned, result_returned_at, result_electronic,
    digitised, reused, paid_online, full_online,
    rated, rated_at, dissatisfied, complained, flagged,
    last_at, bound_at, version, superseded
FROM dossier_facts;
