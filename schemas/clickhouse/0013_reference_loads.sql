-- Reference data replaced in one step. Every `ioc-processor migrate` reloads the reference files,
-- and used to empty each table and then fill it: a query between the two (the API's unit list,
-- a commune's denominator, the processor's unknown-unit check, an analyst's join) saw no units
-- or half of them and answered with a wrong number, which the API could keep until the
-- rollups' next advance. Each table is now a view of the newest complete load: a load writes
-- every row of a table in one INSERT under a new `load_id` (one block, one part, which appears
-- whole), so a reader sees the previous load or the new one, never a mix. The loads before the
-- previous one are deleted after each load (services/common/clickhouse/src/reference.rs).
-- The tables are named as before, so every query, view and analyst keeps them. They are empty
-- from this migration until the reference data is loaded, which `migrate` does right after it.

CREATE TABLE IF NOT EXISTS ref_units_loads
(
    load_id         UInt64,
    code            String,
    name            String,
    kind            String,
    former_province String
)
ENGINE = MergeTree
ORDER BY (load_id, code);

CREATE TABLE IF NOT EXISTS ref_denominators_loads
(
    load_id   UInt64,
    unit_code String,
    measure   String,
    value     UInt64
)
ENGINE = MergeTree
ORDER BY (load_id, unit_code, measure);

CREATE TABLE IF NOT EXISTS ref_procedures_loads
(
    load_id       UInt64,
    code          String,
    name_vi       String,
    name_en       String,
    fee_bearing   UInt8,
    service_level String,
    legal_days    UInt16
)
ENGINE = MergeTree
ORDER BY (load_id, code);

CREATE TABLE IF NOT EXISTS ref_targets_loads
(
    load_id   UInt64,
    indicator String,
    year      UInt16,
    kind      String,
    target    Float64,
    source    String
)
ENGINE = MergeTree
ORDER BY (load_id, indicator, year);

DROP TABLE IF EXISTS ref_units;
CREATE VIEW ref_units AS
SELECT code, name, kind, former_province
FROM ref_units_loads
WHERE load_id = (SELECT max(load_id) FROM ref_units_loads);

DROP TABLE IF EXISTS ref_denominators;
CREATE VIEW ref_denominators AS
SELECT unit_code, measure, value
FROM ref_denominators_loads
WHERE load_id = (SELECT max(load_id) FROM ref_denominators_loads);

DROP TABLE IF EXISTS ref_procedures;
CREATE VIEW ref_procedures AS
SELECT code, name_vi, name_en, fee_bearing, service_level, legal_days
FROM ref_procedures_loads
WHERE load_id = (SELECT max(load_id) FROM ref_procedures_loads);

DROP TABLE IF EXISTS ref_targets;
CREATE VIEW ref_targets AS
SELECT indicator, year, kind, target, source
FROM ref_targets_loads
WHERE load_id = (SELECT max(load_id) FROM ref_targets_loads);
