INSERT INTO {staging} (source, day, unit_code, measure, dimension, value)
SELECT 'portal', tupleElement(m, 3) AS day, unit_code, tupleElement(m, 1) AS measure, tupleElement(m, 2) AS dimension,
       sum(tupleElement(m, 4)) AS value
FROM
(
    SELECT * FROM dossier_facts FINAL WHERE last_at >= toDateTime(toDate(?), 'Asia/Ho_Chi_Minh')
)
-- Each dossier adds 1 (or its seconds) to the measures it meets, on the local day of the
-- instant that measure is about; docs/indicators.md says how indicators combine them.
ARRAY JOIN arrayFilter(x -> tupleElement(x, 4) > 0 AND tupleElement(x, 3) >= toDate(?), [
    ('received', '', toDate(received_at), toUInt64(1)),
    ('received_online', '', toDate(received_at), toUInt64(channel = 'online')),
    ('received_fee_bearing', '', toDate(received_at), toUInt64(fee_bearing)),
    ('received_paid_online', '', toDate(received_at), toUInt64(fee_bearing AND paid_online)),
    ('received_reusing', '', toDate(received_at), toUInt64(reused)),
    ('resolved', '', toDate(resolved_at), toUInt64(resolved)),
    ('resolved', procedure_code, toDate(resolved_at), toUInt64(resolved)),
    ('processing_seconds', '', toDate(resolved_at), toUInt64(processing_seconds)),
    ('processing_seconds', procedure_code, toDate(resolved_at), toUInt64(processing_seconds)),
    ('resolved_on_time', '', toDate(resolved_at), toUInt64(resolved_on_time)),
    ('resolved_digitised_electronic', '', toDate(resolved_at), toUInt64(resolved AND digitised AND result_electronic)),
    ('withdrawn', '', toDate(withdrawn_at), toUInt64(withdrawn)),
    ('closed', '', toDate(closed_at), toUInt64(closed)),
    ('overdue', '', toDate(late_at), toUInt64(overdue_while_open)),
    ('overdue_closed', '', toDate(closed_at), toUInt64(overdue_while_open AND closed)),
    ('results_returned', '', toDate(result_returned_at), toUInt64(result_returned)),
    ('results_returned_electronic', '', toDate(result_returned_at), toUInt64(result_returned AND result_electronic)),
    ('rated', '', toDate(rated_at), toUInt64(rated)),
    ('rated_dissatisfied', '', toDate(rated_at), toUInt64(rated AND dissatisfied))
]) AS m
GROUP BY day, unit_code, measure, dimension
