INSERT INTO {staging} (source, day, unit_code, measure, dimension, value)
SELECT 'training', toDate(first_at) AS day, unit_code, tupleElement(m, 1) AS measure, tupleElement(m, 2) AS dimension,
       sum(tupleElement(m, 3)) AS value
FROM
(
    -- A learner counts once, on the day of their first certificate, in its unit and group.
    SELECT 'learner' AS kind, learner_id AS entity, argMin(unit_code, occurred_at) AS unit_code,
           min(occurred_at) AS first_at, argMin(target_group, occurred_at) AS target_group,
           argMin(vneid_confirmed, occurred_at) AS vneid, '' AS topic, toUInt64(0) AS attendees
    FROM training_events WHERE type = 'skills.certified'
    GROUP BY learner_id
    UNION ALL
    -- A household ("Gia đình số") counts once, on the day its first member is certified.
    SELECT 'household' AS kind, household_ref AS entity, argMin(unit_code, occurred_at) AS unit_code,
           min(occurred_at) AS first_at, '' AS target_group, toUInt8(0) AS vneid, '' AS topic, toUInt64(0) AS attendees
    FROM training_events WHERE type = 'skills.certified' AND household_ref != ''
    GROUP BY household_ref
    UNION ALL
    SELECT 'class' AS kind, class_id AS entity, argMin(unit_code, occurred_at) AS unit_code,
           min(occurred_at) AS first_at, '' AS target_group, toUInt8(0) AS vneid, argMin(topic, occurred_at) AS topic,
           toUInt64(argMin(attendees, occurred_at)) AS attendees
    FROM training_events WHERE type = 'class.held'
    GROUP BY class_id
)
ARRAY JOIN arrayFilter(x -> tupleElement(x, 3) > 0, [
    ('certified', target_group, toUInt64(kind = 'learner')),
    ('certified_vneid', target_group, toUInt64(kind = 'learner' AND vneid)),
    ('households_certified', '', toUInt64(kind = 'household')),
    ('classes_held', '', toUInt64(kind = 'class')),
    ('classes_held', topic, toUInt64(kind = 'class')),
    ('class_attendees', '', attendees),
    ('class_attendees', topic, attendees)
]) AS m
WHERE first_at >= toDateTime(toDate(?), 'Asia/Ho_Chi_Minh')
GROUP BY day, unit_code, measure, dimension
