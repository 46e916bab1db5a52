-- The training events the measures count (certificates, VNeID confirmations, classes held), a
-- second time, with the 64-bit hashes of the learner, household and class they are matched by.
--
-- Why: a cycle of the latest months finds the learners and households with an event in them,
-- then aggregates all their events, of every month, to tell a first certificate from a later
-- one (services/processor/src/rollup/training_measures.sql). To find those events it read the
-- learner id of every training event and hashed it: registrations and completed courses are
-- nearly three rows in four and count for nothing. Here the cycle reads a number of the counted
-- rows alone: the training measures of the latest months took 0.61 s, and take 0.25 s, with a
-- year loaded (ioc_bench_history's database, 6.1 million training events, 1.7 million counted).
--
-- A ClickHouse materialized view writes each counted row inserted into training_events here in
-- the same insert, with the same partitions and order, so redeliveries fold the same way in
-- both. The rows stored before this migration are copied by its last statement, after the view
-- exists: a row inserted in between is in the copy twice until a merge folds it, which the
-- measures do not see (a first time and a `> 0` count are the same over a row twice, and the
-- statement may run again after a failure). An insert under way when the view is created and
-- ending after the copy began would be missed by both: upgrade with the processors stopped
-- (ops/runbook.md, "Upgrading to migration 0017"). A row changed or removed by hand in
-- training_events must be changed or removed here too (ops/runbook.md, "Numbers look wrong
-- after a manual change to raw tables"); a restore of training_events' parts fires no view.
CREATE TABLE IF NOT EXISTS training_milestones
(
    event_id        String,
    type            String,
    occurred_at     DateTime('Asia/Ho_Chi_Minh'),
    unit_code       String,
    learner_id      String,
    household_ref   String,
    target_group    String,
    vneid_confirmed UInt8,
    of_adult_age    UInt8,
    class_id        String,
    topic           String,
    attendees       UInt32,
    -- cityHash64 of learner_id, household_ref and class_id, written by both statements below:
    -- ClickHouse 18.16 fills no default in a view's target, nor computes a MATERIALIZED column
    -- in an insert through a Distributed table (a cluster).
    learner_key     UInt64,
    household_key   UInt64,
    class_key       UInt64
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (unit_code, learner_id, event_id);

CREATE MATERIALIZED VIEW IF NOT EXISTS training_milestones_writer TO training_milestones AS
SELECT event_id, type, occurred_at, unit_code, learner_id, household_ref, target_group, vneid_confirmed,
       of_adult_age, class_id, topic, attendees,
       cityHash64(learner_id) AS learner_key, cityHash64(household_ref) AS household_key, cityHash64(class_id) AS class_key
FROM training_events
WHERE type IN ('skills.certified', 'skills.vneid_confirmed', 'class.held');

INSERT INTO training_milestones (event_id, type, occurred_at, unit_code, learner_id, household_ref, target_group,
                                 vneid_confirmed, of_adult_age, class_id, topic, attendees,
                                 learner_key, household_key, class_key)
SELECT event_id, type, occurred_at, unit_code, learner_id, household_ref, target_group, vneid_confirmed,
       of_adult_age, class_id, topic, attendees,
       cityHash64(learner_id) AS learner_key, cityHash64(household_ref) AS household_key, cityHash64(class_id) AS class_key
FROM training_events
WHERE type IN ('skills.certified', 'skills.vneid_confirmed', 'class.held');
