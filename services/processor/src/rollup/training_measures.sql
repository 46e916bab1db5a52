-- The training platforms' measures (ioc_events::measures) of every day from the given month on.
-- Every parameter is the first day recomputed; {recent ...} is kept when the rollup recomputes
-- the latest months only (cycle.rs). Each kind of entity lists the (measure, dimension, day,
-- value) it adds; every list has the same type, so the kinds can be stacked.
INSERT INTO {staging} (source, day, unit_code, measure, dimension, value)
SELECT 'training', tupleElement(m, 3) AS day, unit_code, tupleElement(m, 1) AS measure, tupleElement(m, 2) AS dimension,
       sum(tupleElement(m, 4)) AS value
FROM
(
    -- A learner counts once, on the day of their first certificate, in its unit and group; a
    -- learner of adult age also counts as an adult, whatever the group (a certified civil
    -- servant is a certified adult), and as confirmed on VNeID from the day both hold (the
    -- confirmation may come with the certificate or after it).
    SELECT unit_code, [
        ('certified', target_group, toDate(certified_at), toUInt64(1)),
        ('certified_adult', '', toDate(certified_at), toUInt64(adult)),
        ('certified_adult_vneid', '', toDate(toTimeZone(greatest(certified_at, confirmed_at), 'Asia/Ho_Chi_Minh')), toUInt64(adult AND confirmed))
    ] AS measures
    FROM
    (
        SELECT
            learner_id,
            argMinIf(unit_code, occurred_at, type = 'skills.certified') AS unit_code,
            minIf(occurred_at, type = 'skills.certified') AS certified_at,
            argMinIf(target_group, occurred_at, type = 'skills.certified') AS target_group,
            argMinIf(of_adult_age, occurred_at, type = 'skills.certified') AS adult,
            countIf(vneid_confirmed = 1 OR type = 'skills.vneid_confirmed') > 0 AS confirmed,
            minIf(occurred_at, vneid_confirmed = 1 OR type = 'skills.vneid_confirmed') AS confirmed_at
        -- The counted events alone, with their ids' hashes (migration 0017): nearly three in four
        -- training events (registrations, completed courses) count for nothing here.
        FROM training_milestones
        -- Recomputing the latest months: each kind's dates are some event's time, so only the
        -- learners, households and classes with an event in them can be counted there, and
        -- their events alone are aggregated, not every learner of the history. Matched by the
        -- ids' 64-bit hashes, stored: a set of numbers is looked up faster than one of strings,
        -- and an entity of another id that shares a hash is aggregated too and dated before
        -- the months, which drop it (ARCHITECTURE.md, "Rollups"). As a PREWHERE: the hashes
        -- are read first and the other columns only for the rows found (ClickHouse moved the
        -- type's test there by itself, which reads a string of every row for little).
        {recent PREWHERE learner_key IN (SELECT learner_key FROM training_milestones
                             WHERE type IN ('skills.certified', 'skills.vneid_confirmed')
                               AND occurred_at >= toDateTime(toDate(?), 'Asia/Ho_Chi_Minh'))}
        WHERE type IN ('skills.certified', 'skills.vneid_confirmed')
        GROUP BY learner_id
        HAVING countIf(type = 'skills.certified') > 0
    )
    UNION ALL
    -- A household ("Gia đình số") counts once, on the day its first member is certified.
    SELECT argMin(unit_code, occurred_at) AS unit_code,
           [('households_certified', '', toDate(min(occurred_at)), toUInt64(1))] AS measures
    FROM training_milestones
      {recent PREWHERE household_key IN (SELECT household_key FROM training_milestones
                            WHERE type = 'skills.certified' AND occurred_at >= toDateTime(toDate(?), 'Asia/Ho_Chi_Minh'))}
    WHERE type = 'skills.certified' AND household_ref != ''
    GROUP BY household_ref
    UNION ALL
    -- A class counts once, with its topic and attendees, on the day it was held.
    SELECT unit_code, [
        ('classes_held', '', toDate(held_at), toUInt64(1)),
        ('classes_held', topic, toDate(held_at), toUInt64(1)),
        ('class_attendees', '', toDate(held_at), attendees),
        ('class_attendees', topic, toDate(held_at), attendees)
    ] AS measures
    FROM
    (
        SELECT argMin(unit_code, occurred_at) AS unit_code, min(occurred_at) AS held_at,
               argMin(topic, occurred_at) AS topic, toUInt64(argMin(attendees, occurred_at)) AS attendees
        FROM training_milestones WHERE type = 'class.held'
          {recent AND class_key IN (SELECT class_key FROM training_milestones WHERE type = 'class.held'
                           AND occurred_at >= toDateTime(toMonday(toDate(?)), 'Asia/Ho_Chi_Minh'))}
        GROUP BY class_id
    )
    UNION ALL
    -- A unit's week (Monday to Sunday) with at least one class counts once, on its Sunday: the
    -- plan asks every commune for classes every week. Every unit's weeks are kept: the API
    -- counts those of the communes and wards the reference data lists when it answers (the
    -- denominator's too), so that a commune added to it, or a department, needs no recompute.
    SELECT unit_code, [('class_weeks', '', week + 6, toUInt64(1))] AS measures
    FROM
    (
        SELECT argMin(unit_code, occurred_at) AS unit_code, toMonday(toDate(min(occurred_at))) AS week
        FROM training_milestones WHERE type = 'class.held'
          -- A week counted on a Sunday of the period began on its Monday.
          {recent AND class_key IN (SELECT class_key FROM training_milestones WHERE type = 'class.held'
                           AND occurred_at >= toDateTime(toMonday(toDate(?)), 'Asia/Ho_Chi_Minh'))}
        GROUP BY class_id
    )
    GROUP BY unit_code, week
)
ARRAY JOIN arrayFilter(x -> tupleElement(x, 4) > 0 AND tupleElement(x, 3) >= toDate(?), measures) AS m
GROUP BY day, unit_code, measure, dimension
