-- The analysts' stable interface: views whose names and columns only change with a new
-- migration, documented in schemas/clickhouse/DICTIONARY.md. The tables behind them may be
-- reorganised; these stay. Example queries over them: ops/analyst/.

CREATE VIEW IF NOT EXISTS v_units AS
SELECT code, name, kind, former_province FROM ref_units;

CREATE VIEW IF NOT EXISTS v_procedures AS
SELECT code, name_vi, name_en, fee_bearing, service_level, legal_days FROM ref_procedures;

CREATE VIEW IF NOT EXISTS v_denominators AS
SELECT unit_code, measure, value FROM ref_denominators;

CREATE VIEW IF NOT EXISTS v_targets AS
SELECT indicator, year, target, source FROM ref_targets;

-- One row per received dossier, its newest version only.
CREATE VIEW IF NOT EXISTS v_dossiers AS
SELECT
    dossier_id, unit_code, procedure_code, channel, service_level, fee_bearing, received_at, due_at,
    paused_seconds, clock_stopped, late_at, resolved, resolved_at, outcome, resolved_on_time,
    processing_seconds, withdrawn, withdrawn_at, closed, closed_at, overdue_while_open,
    result_returned, result_returned_at, result_electronic, digitised, reused, paid_online,
    rated, rated_at, dissatisfied
FROM dossier_facts FINAL;

-- The additive daily counts every dashboard number is built from.
CREATE VIEW IF NOT EXISTS v_daily_measures AS
SELECT source, day, unit_code, measure, dimension, value FROM measures_daily;

-- How fresh the rollups are, per source.
CREATE VIEW IF NOT EXISTS v_rollup_state AS
SELECT source, max(covered_until) AS covered_until, max(refreshed_at) AS refreshed_at, max(newest_event) AS newest_event
FROM rollup_state GROUP BY source;
