-- The e-document system's measures (ioc_events::measures) of every day from the given month
-- on. Every parameter is the first day recomputed; {recent ...} is kept when the rollup
-- recomputes the latest months only (cycle.rs).
INSERT INTO {staging} (source, day, unit_code, measure, dimension, value)
SELECT 'edoc', toDate(first_at) AS day, unit_code, tupleElement(m, 1) AS measure, tupleElement(m, 2) AS dimension,
       sum(tupleElement(m, 3)) AS value
FROM
(
    -- Each document or work record once, on the day of its first event of that type. A
    -- document number is unique only within its agency ("123/UBND" exists in many), so the
    -- unit is part of its identity; so it is for work records. An agency numbers its documents
    -- (and registers those it receives) from 1 again every 1 January (Decree 30/2020/ND-CP),
    -- so a document's identity also holds the local year of its event: "15/UBND" of 2026 is
    -- not "15/UBND" of 2025. A work record's id is the e-office system's own, whose code
    -- holds the year the record was formed (Decree 30/2020/ND-CP), so it needs none (0).
    SELECT
        type,
        unit_code,
        concat(document_id, record_id) AS entity,
        if(type = 'work_record.closed', 0, toYear(occurred_at)) AS numbered_in,
        min(occurred_at) AS first_at,
        argMin(form, occurred_at) = 'electronic' AS electronic,
        argMin(digitally_signed, occurred_at) AS signed,
        argMin(level, occurred_at) AS level,
        argMin(classified, occurred_at) AS classified,
        argMin(processed_online, occurred_at) AS online
    FROM edoc_events
      -- Recomputing the latest months: only the entities with an event in them can be counted
      -- there (the HAVING below drops those with an earlier one), so their events alone are
      -- aggregated, not every entity of the history. They are found by their own id column
      -- (a document's row has no record id, a work record's no document id), whatever the
      -- unit: every row of each such (unit, entity) is read, and the same number in another
      -- unit with no event in the months, or of an earlier year, is dropped by the HAVING. Matching the pair
      -- (unit_code, concat(document_id, record_id)) instead cost 0.40 s against 0.24 s with a
      -- year of history (ops/bench, rollup_cycle_history_growth). The ids are matched by their
      -- 64-bit hashes, as training_measures.sql says why, and as a PREWHERE, as there: the ids
      -- are read first and the other columns of the rows found alone. (Left to itself,
      -- ClickHouse made the type's test the PREWHERE, which reads every row's type: the query
      -- took 0.29 s so and takes 0.23 s, the same rows, with a year loaded, ioc_bench_history's
      -- database.)
      {recent PREWHERE (cityHash64(document_id) IN
          (SELECT cityHash64(document_id) FROM edoc_events
           WHERE type IN ('document.sent', 'document.received') AND document_id != ''
             AND occurred_at >= toDateTime(toDate(?), 'Asia/Ho_Chi_Minh'))
        OR cityHash64(record_id) IN
          (SELECT cityHash64(record_id) FROM edoc_events
           WHERE type = 'work_record.closed' AND record_id != ''
             AND occurred_at >= toDateTime(toDate(?), 'Asia/Ho_Chi_Minh')))}
    WHERE type IN ('document.sent', 'document.received', 'work_record.closed')
    GROUP BY type, unit_code, entity, numbered_in
    HAVING first_at >= toDateTime(toDate(?), 'Asia/Ho_Chi_Minh')
)
ARRAY JOIN arrayFilter(x -> tupleElement(x, 3) > 0, [
    ('documents_sent', '', toUInt64(type = 'document.sent')),
    ('documents_sent_electronic', '', toUInt64(type = 'document.sent' AND electronic)),
    ('documents_sent_signed', '', toUInt64(type = 'document.sent' AND signed)),
    ('documents_received', '', toUInt64(type = 'document.received')),
    ('documents_received_electronic', '', toUInt64(type = 'document.received' AND electronic)),
    -- Classified work records are left out of both sides of the online rate.
    ('work_records_closed', level, toUInt64(type = 'work_record.closed' AND NOT classified)),
    ('work_records_closed_online', level, toUInt64(type = 'work_record.closed' AND NOT classified AND online))
]) AS m
GROUP BY day, unit_code, measure, dimension
