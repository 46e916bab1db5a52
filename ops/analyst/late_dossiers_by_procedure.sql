-- Dossiers late in a period, by procedure: resolved in the period after their due time (the
-- clock paused during supplement requests), plus still open at the end of the period and past
-- it. Their sum over procedures is the dashboard's "dossiers late" (dossiers_late).
-- Change period_start / period_end (local midnights) to choose the period. Times that did not
-- happen are NULL in v_dossiers, hence the ifNull around comparisons with them.
SELECT
    procedure_code,
    any(name_vi) AS procedure_name,
    countIf(resolved AND ifNull(resolved_at >= period_start AND resolved_at < period_end, 0) AND NOT resolved_on_time)
        AS resolved_late,
    countIf(tracked_from < period_end AND ifNull(closed_at >= period_end, 1)
            AND overdue_while_open AND ifNull(late_at < period_end, 0)) AS open_and_late,
    resolved_late + open_and_late AS late
FROM
(
    SELECT
        *,
        toDateTime('2026-03-01 00:00:00', 'Asia/Ho_Chi_Minh') AS period_start,
        toDateTime('2026-04-01 00:00:00', 'Asia/Ho_Chi_Minh') AS period_end
    FROM v_dossiers
) AS d
ANY LEFT JOIN (SELECT code AS procedure_code, name_vi FROM v_procedures) AS p USING procedure_code
GROUP BY procedure_code
ORDER BY late DESC, procedure_code
