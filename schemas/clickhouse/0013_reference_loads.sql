-- Reference data replaced in one step. Every `ioc-processor migrate` reloads the reference files,
-- and used to empty each table and then fill it: a query between the two (the API's unit list,
-- a commune's denominator, the processor's unknown-unit check, an analyst's join) saw no units
-- or half of them and answered with a wrong number, which the API could keep until the
-- rollups' next advance. Each table is now a view of a load: a load writes every row of each
-- table under a new `load_id`, then marks the load complete in `ref_loads`. A view shows the
-- newest complete load its table holds, so a reader sees the four tables switch together when
-- the mark is written (on a cluster, each node as soon as it holds the rows: a node still
-- fetching a table's new rows shows that table's previous load), and a load that failed half
-- way is never shown. The loads before the previous one are deleted after each load
-- (services/common/clickhouse/src/reference.rs). The tables keep their names and columns, so
-- every query, view and analyst keeps them. The data they hold becomes load 1 first, so that
-- they do not read empty between this migration and the load that follows it.

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

-- The loads marked complete, each once its four tables hold its rows.
CREATE TABLE IF NOT EXISTS ref_loads
(
    load_id   UInt64,
    loaded_at DateTime DEFAULT now()
)
ENGINE = MergeTree
ORDER BY load_id;

INSERT INTO ref_units_loads SELECT 1 AS load_id, code, name, kind, former_province FROM ref_units;
INSERT INTO ref_denominators_loads SELECT 1 AS load_id, unit_code, measure, value FROM ref_denominators;
INSERT INTO ref_procedures_loads
SELECT 1 AS load_id, code, name_vi, name_en, fee_bearing, service_level, legal_days FROM ref_procedures;
INSERT INTO ref_targets_loads SELECT 1 AS load_id, indicator, year, kind, target, source FROM ref_targets;
INSERT INTO ref_loads (load_id) VALUES (1);

DROP TABLE IF EXISTS ref_units;
CREATE VIEW ref_units AS
SELECT code, name, kind, former_province
FROM ref_units_loads
WHERE load_id = (SELECT max(load_id) FROM ref_units_loads WHERE load_id IN (SELECT load_id FROM ref_loads));

DROP TABLE IF EXISTS ref_denominators;
CREATE VIEW ref_denominators AS
SELECT unit_code, measure, value
FROM ref_denominators_loads
WHERE load_id = (SELECT max(load_id) FROM ref_denominators_loads WHERE load_id IN (SELECT load_id FROM ref_loads));

DROP TABLE IF EXISTS ref_procedures;
CREATE VIEW ref_procedures AS
SELECT code, name_vi, name_en, fee_bearing, service_level, legal_days
FROM ref_procedures_loads
WHERE load_id = (SELECT max(load_id) FROM ref_procedures_loads WHERE load_id IN (SELECT load_id FROM ref_loads));

DROP TABLE IF EXISTS ref_targets;
CREATE VIEW ref_targets AS
SELECT indicator, year, kind, target, source
FROM ref_targets_loads
WHERE load_id = (SELECT max(load_id) FROM ref_targets_loads WHERE load_id IN (SELECT load_id FROM ref_loads));
