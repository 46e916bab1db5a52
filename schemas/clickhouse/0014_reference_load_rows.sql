-- A reference file emptied to its header empties its table. Migration 0013's views showed the
-- newest complete load that holds rows of their table, so a load with no rows for a table (the
-- targets file left with its header only, say) left the previous load's rows on the screen: a
-- target the province had withdrawn still shown against the indicators. A view could not tell
-- a load with no rows from a load whose rows had not reached the node yet.
--
-- Each load now records, before its completion mark, how many rows it wrote to each table. A
-- view shows the newest complete load that either wrote no row to its table or whose rows the
-- node holds, all of them (the count matches): an empty file shows an empty table, and a node
-- still fetching a table's rows keeps showing that table's previous load whole, as before
-- (services/common/clickhouse/src/reference.rs).
--
-- The loads already complete get their counts from the rows they hold (a load that wrote no
-- rows to a table before this migration cannot be told apart, and is taken as not received:
-- the first load after this migration settles it). A load written by an older binary after this
-- migration has no counts and is not shown; `migrate` loads the files again right after the
-- migrations, so only a second, older `migrate` run at the same time could write one.

CREATE TABLE IF NOT EXISTS ref_load_rows
(
    load_id    UInt64,
    table_name String,
    row_count  UInt64
)
ENGINE = MergeTree
ORDER BY (load_id, table_name);

INSERT INTO ref_load_rows (load_id, table_name, row_count)
SELECT load_id, 'ref_units', count() FROM ref_units_loads WHERE load_id IN (SELECT load_id FROM ref_loads)
GROUP BY load_id;
INSERT INTO ref_load_rows (load_id, table_name, row_count)
SELECT load_id, 'ref_denominators', count() FROM ref_denominators_loads WHERE load_id IN (SELECT load_id FROM ref_loads)
GROUP BY load_id;
INSERT INTO ref_load_rows (load_id, table_name, row_count)
SELECT load_id, 'ref_procedures', count() FROM ref_procedures_loads WHERE load_id IN (SELECT load_id FROM ref_loads)
GROUP BY load_id;
INSERT INTO ref_load_rows (load_id, table_name, row_count)
SELECT load_id, 'ref_targets', count() FROM ref_targets_loads WHERE load_id IN (SELECT load_id FROM ref_loads)
GROUP BY load_id;

DROP TABLE IF EXISTS ref_units;
CREATE VIEW ref_units AS
SELECT code, name, kind, former_province
FROM ref_units_loads
WHERE load_id = (
    SELECT max(load_id) FROM ref_load_rows
    WHERE table_name = 'ref_units' AND load_id IN (SELECT load_id FROM ref_loads)
      AND (row_count = 0 OR (load_id, row_count) IN (SELECT load_id, count() FROM ref_units_loads GROUP BY load_id)));

DROP TABLE IF EXISTS ref_denominators;
CREATE VIEW ref_denominators AS
SELECT unit_code, measure, value
FROM ref_denominators_loads
WHERE load_id = (
    SELECT max(load_id) FROM ref_load_rows
    WHERE table_name = 'ref_denominators' AND load_id IN (SELECT load_id FROM ref_loads)
      AND (row_count = 0
           OR (load_id, row_count) IN (SELECT load_id, count() FROM ref_denominators_loads GROUP BY load_id)));

DROP TABLE IF EXISTS ref_procedures;
CREATE VIEW ref_procedures AS
SELECT code, name_vi, name_en, fee_bearing, service_level, legal_days
FROM ref_procedures_loads
WHERE load_id = (
    SELECT max(load_id) FROM ref_load_rows
    WHERE table_name = 'ref_procedures' AND load_id IN (SELECT load_id FROM ref_loads)
      AND (row_count = 0
           OR (load_id, row_count) IN (SELECT load_id, count() FROM ref_procedures_loads GROUP BY load_id)));

DROP TABLE IF EXISTS ref_targets;
CREATE VIEW ref_targets AS
SELECT indicator, year, kind, target, source
FROM ref_targets_loads
WHERE load_id = (
    SELECT max(load_id) FROM ref_load_rows
    WHERE table_name = 'ref_targets' AND load_id IN (SELECT load_id FROM ref_loads)
      AND (row_count = 0 OR (load_id, row_count) IN (SELECT load_id, count() FROM ref_targets_loads GROUP BY load_id)));
