-- Raw events, one table per source. Each row is one event as ingest accepted it (personal
-- identifiers already replaced by keyed hashes). Redelivered events carry the same event_id and
-- the same sort key, so ReplacingMergeTree folds them together on merge; indicators count
-- distinct entities, so they are exact before the merge too.
-- Times are stored as DateTime('Asia/Ho_Chi_Minh'): the instant is exact, and day/week/month
-- functions bucket in the province's local time.

CREATE TABLE IF NOT EXISTS portal_events
(
    event_id             String,
    type                 String,
    occurred_at          DateTime('Asia/Ho_Chi_Minh'),
    received_at          DateTime('Asia/Ho_Chi_Minh'),
    unit_code            String,
    dossier_id           String,
    procedure_code       String,
    channel              String,
    service_level        String,
    due_at               DateTime('Asia/Ho_Chi_Minh'),
    fee_bearing          UInt8,
    applicant_ref        String,
    outcome              String,
    result_form          String,
    components_digitised UInt16,
    components_reused    UInt16,
    inserted_at          DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (unit_code, dossier_id, event_id);

CREATE TABLE IF NOT EXISTS edoc_events
(
    event_id         String,
    type             String,
    occurred_at      DateTime('Asia/Ho_Chi_Minh'),
    received_at      DateTime('Asia/Ho_Chi_Minh'),
    unit_code        String,
    record_id        String,
    level            String,
    classified       UInt8,
    processed_online UInt8,
    inserted_at      DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (unit_code, record_id, event_id);

CREATE TABLE IF NOT EXISTS training_events
(
    event_id        String,
    type            String,
    occurred_at     DateTime('Asia/Ho_Chi_Minh'),
    received_at     DateTime('Asia/Ho_Chi_Minh'),
    unit_code       String,
    learner_id      String,
    household_ref   String,
    target_group    String,
    certificate_id  String,
    vneid_confirmed UInt8,
    citizen_ref     String,
    inserted_at     DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (unit_code, learner_id, event_id);
