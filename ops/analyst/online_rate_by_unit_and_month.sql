-- Online submission rate (Decision 766 indicator 3.3) per unit and month: dossiers received
-- through the online channel / dossiers received. Change the two dates to choose the months.
-- Run: clickhouse-client --user analyst --password analyst --database ioc < this file
SELECT
    unit_code,
    toStartOfMonth(day) AS month,
    sumIf(value, measure = 'received_online') AS received_online,
    sumIf(value, measure = 'received') AS received,
    received_online / received AS online_rate
FROM v_daily_measures
WHERE source = 'portal'
  AND measure IN ('received', 'received_online')
  AND dimension = ''
  AND day >= toDate('2026-03-01') AND day < toDate('2026-04-01')
GROUP BY unit_code, month
ORDER BY unit_code, month
