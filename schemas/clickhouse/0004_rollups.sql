-- Pre-aggregated data for the dashboard and analysts, kept up to date by the rollup task of
-- ioc-processor (services/processor/src/rollup/). Nothing here is written by a materialized
-- view: every row is recomputed from the raw events, so duplicates and late events restate the
-- days they belong to instead of adding to them.

-- The procedure catalogue and the indicator targets (schemas/reference/, reloaded by migrate).
CREATE TABLE IF NOT EXISTS ref_procedures
(
    code          String,
    name_vi       String,
    name_en       String,
    fee_bearing   UInt8,
    service_level String,
    legal_days    UInt16
)
ENGINE = MergeTree
ORDER BY code;

CREATE TABLE IF NOT EXISTS ref_targets
(
    indicator String,
    year      UInt16,
    target    Float64,
    source    String
)
ENGINE = MergeTree
ORDER BY (indicator, year);

-- One row per dossier that has been received: what its events say, and the derived instants the
-- indicators count (docs/indicators.md explains each rule). Times are 0 (1970) where the flag
-- before them is 0. Recomputed whenever one of the dossier's events arrives; the newest version
-- wins (read with FINAL, or through the view v_dossiers).
CREATE TABLE IF NOT EXISTS dossier_facts
(
    dossier_id         String,
    unit_code          String,
    procedure_code     String,
    channel            String,
    service_level      String,
    fee_bearing        UInt8,
    received_at        DateTime('Asia/Ho_Chi_Minh'),
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
    closed             UInt8,
    closed_at          DateTime('Asia/Ho_Chi_Minh'),
    overdue_while_open UInt8,
    result_returned    UInt8,
    result_returned_at DateTime('Asia/Ho_Chi_Minh'),
    result_electronic  UInt8,
    digitised          UInt8,
    reused             UInt8,
    paid_online        UInt8,
    rated              UInt8,
    rated_at           DateTime('Asia/Ho_Chi_Minh'),
    dissatisfied       UInt8,
    last_at            DateTime('Asia/Ho_Chi_Minh'),
    version            UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (unit_code, dossier_id);

-- Additive counts per source, local day, unit, measure and dimension (a procedure code, a level,
-- a target group or a class topic; '' for the total). Every indicator of a period is a sum of
-- these over the period (flows) or over all days before its end (stocks). The rollup task
-- replaces a (source, month) partition as a whole, so a reader sees either the old or the new
-- month, never a mix inside one month.
CREATE TABLE IF NOT EXISTS measures_daily
(
    source    String,
    day       Date,
    unit_code String,
    measure   String,
    dimension String,
    value     UInt64
)
ENGINE = MergeTree
PARTITION BY (source, toYYYYMM(day))
ORDER BY (measure, dimension, unit_code, day);

-- How far each source's rollup has got: every raw event inserted before covered_until is in
-- measures_daily. The API serves it as freshness; tests wait on it.
CREATE TABLE IF NOT EXISTS rollup_state
(
    source        String,
    covered_until DateTime,
    refreshed_at  DateTime,
    newest_event  DateTime('Asia/Ho_Chi_Minh'),
    seconds       Float64
)
ENGINE = ReplacingMergeTree(refreshed_at)
ORDER BY source;
