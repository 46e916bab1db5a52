//! Pure functions from a decoded event to the row of its source's table.

use clickhouse::Row;
use ioc_domain::{Event, EventBody, Source};
use serde::Serialize;

use crate::row_text::{variant_name, EventIdText};

/// Why an event cannot become a row (it goes to the dead-letter topic).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransformError {
    /// The event belongs to another source's table.
    #[error("event type {0} does not belong to this table")]
    WrongTable(&'static str),
    /// A time does not fit ClickHouse's DateTime (1970 to 2106-02-07).
    #[error("{field} {value} is outside what ClickHouse DateTime can store")]
    TimeOutOfRange {
        /// The field.
        field: &'static str,
        /// The value.
        value: String,
    },
}

/// Where an event was in Kafka: its message's partition and offset, its line in the message
/// and the message's number of events; stored with its row, so completeness can be counted in
/// events (migrations 0009 and 0015).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KafkaPosition {
    /// The partition.
    pub partition: i32,
    /// The offset in it.
    pub offset: i64,
    /// The event's line in its message (ioc_kafka::framing::ndjson_lines); 0 for a message of
    /// one event.
    pub line: u32,
    /// The events of its message; 1 for a message of one event.
    pub events: u32,
}

impl Default for KafkaPosition {
    /// The only event of a message at offset 0 of partition 0.
    fn default() -> Self {
        KafkaPosition { partition: 0, offset: 0, line: 0, events: 1 }
    }
}

/// A row's Kafka columns: `kafka_partition`, `kafka_offset`, `kafka_line`, `kafka_events`.
struct PositionColumns(u16, u64, u32, u32);

impl KafkaPosition {
    fn columns(self) -> PositionColumns {
        PositionColumns(
            u16::try_from(self.partition).unwrap_or(u16::MAX),
            u64::try_from(self.offset).unwrap_or(0),
            self.line,
            self.events,
        )
    }
}

/// A ClickHouse table fed by one source.
pub trait SourceTable: Send + Sync + 'static {
    /// The row type, matching the table's columns by name.
    type Row: clickhouse::RowOwned + clickhouse::RowWrite + Serialize + Send + Sync + 'static;
    /// The table name.
    const TABLE: &'static str;
    /// Maps an event of this source, found at `position`, to its row (not dated yet), moving
    /// the event's strings into it.
    fn row(event: Event, position: KafkaPosition) -> Result<Self::Row, TransformError>;
    /// Dates `row` with the second (unix) its insert began (rollup/in_flight.rs).
    fn date(row: &mut Self::Row, inserted_at: u32);
    /// The row's `occurred_at` (unix seconds): its table is partitioned by its local month
    /// ([`partition_month`]).
    fn occurred_at(row: &Self::Row) -> u32;
}

/// The partition of the events tables a row with `occurred_at` (unix seconds) goes to:
/// `toYYYYMM(occurred_at)` of a `DateTime('Asia/Ho_Chi_Minh')` column (schemas/clickhouse/
/// 0001_events.sql), as `YYYYMM`. The zone was UTC+08:00 until 1975-06-13 00:00 local (the tz
/// database's Asia/Ho_Chi_Minh, which ClickHouse follows), UTC+07:00 since.
pub fn partition_month(occurred_at: u32) -> u32 {
    /// 1975-06-12T16:00:00Z, when the zone moved from UTC+08:00 to UTC+07:00.
    const UTC_PLUS_8_UNTIL: u32 = 171_820_800;
    let offset = if occurred_at < UTC_PLUS_8_UNTIL {
        chrono::FixedOffset::east_opt(8 * 3600).unwrap_or_else(ioc_domain::local_offset)
    } else {
        ioc_domain::local_offset()
    };
    let local = chrono::DateTime::from_timestamp(i64::from(occurred_at), 0).unwrap_or_default().with_timezone(&offset);
    crate::rollup::yyyymm(local.date_naive())
}

fn seconds(field: &'static str, time: chrono::DateTime<chrono::FixedOffset>) -> Result<u32, TransformError> {
    u32::try_from(time.timestamp()).map_err(|_| TransformError::TimeOutOfRange { field, value: time.to_rfc3339() })
}

fn received_seconds(event: &Event) -> Result<u32, TransformError> {
    match event.received_at {
        Some(at) => seconds("received_at", at.fixed_offset()),
        None => Ok(0),
    }
}

fn flag(value: bool) -> u8 {
    u8::from(value)
}

/// `portal_events`
pub struct PortalTable;

/// A row of `portal_events`; fields that do not apply to the event type are empty or zero.
#[derive(Debug, Default, Clone, PartialEq, Row, Serialize)]
pub struct PortalRow {
    event_id: EventIdText,
    r#type: &'static str,
    occurred_at: u32,
    received_at: u32,
    kafka_partition: u16,
    kafka_offset: u64,
    kafka_line: u32,
    kafka_events: u32,
    unit_code: String,
    dossier_id: String,
    procedure_code: String,
    channel: &'static str,
    service_level: &'static str,
    due_at: u32,
    fee_bearing: u8,
    applicant_ref: String,
    outcome: &'static str,
    result_form: &'static str,
    components_digitised: u16,
    components_reused: u16,
    payment_method: &'static str,
    amount_vnd: u64,
    satisfaction: &'static str,
    dossier_received_at: u32,
    paused_seconds: u32,
    complaint_kind: &'static str,
    complaint_subject: &'static str,
    /// When its insert began (the processor dates its rows: rollup/in_flight.rs).
    inserted_at: u32,
}

impl SourceTable for PortalTable {
    type Row = PortalRow;
    const TABLE: &'static str = Source::Portal.events_table();

    fn date(row: &mut PortalRow, inserted_at: u32) {
        row.inserted_at = inserted_at;
    }

    fn occurred_at(row: &PortalRow) -> u32 {
        row.occurred_at
    }

    fn row(event: Event, position: KafkaPosition) -> Result<PortalRow, TransformError> {
        let PositionColumns(kafka_partition, kafka_offset, kafka_line, kafka_events) = position.columns();
        let mut row = PortalRow {
            kafka_partition,
            kafka_offset,
            kafka_line,
            kafka_events,
            event_id: EventIdText(event.event_id),
            r#type: event.body.type_name(),
            occurred_at: seconds("occurred_at", event.occurred_at)?,
            received_at: received_seconds(&event)?,
            unit_code: event.unit_code,
            ..PortalRow::default()
        };
        // Each arm moves the dossier's id into the row, and what its type adds.
        match event.body {
            EventBody::DossierReceived(received) => {
                row.dossier_id = received.dossier_id;
                row.procedure_code = received.procedure_code;
                row.channel = variant_name(&received.channel);
                row.service_level = variant_name(&received.service_level);
                row.due_at = seconds("due_at", received.due_at)?;
                row.fee_bearing = flag(received.fee_bearing);
                row.applicant_ref = received.applicant_ref.unwrap_or_default();
            }
            EventBody::DossierDigitised(digitised) => {
                row.dossier_id = digitised.dossier_id;
                row.components_digitised = digitised.components_digitised;
                row.components_reused = digitised.components_reused;
            }
            EventBody::DossierResolved(resolved) => {
                row.dossier_id = resolved.dossier_id;
                row.outcome = variant_name(&resolved.outcome);
            }
            EventBody::DossierResultReturned(returned) => {
                row.dossier_id = returned.dossier_id;
                row.result_form = variant_name(&returned.result_form);
            }
            EventBody::DossierPaid(paid) => {
                row.dossier_id = paid.dossier_id;
                row.payment_method = variant_name(&paid.method);
                row.amount_vnd = paid.amount_vnd;
            }
            EventBody::DossierRated(rated) => {
                row.dossier_id = rated.dossier_id;
                row.satisfaction = variant_name(&rated.satisfaction);
            }
            EventBody::DossierComplaintFiled(complaint) => {
                row.dossier_id = complaint.dossier_id;
                row.complaint_kind = variant_name(&complaint.kind);
                row.complaint_subject = complaint.subject.as_str();
            }
            // The backlog at go-live: what a reception event would have said, plus the original
            // reception time and the pauses so far.
            EventBody::DossierSnapshot(snapshot) => {
                row.dossier_id = snapshot.dossier_id;
                row.procedure_code = snapshot.procedure_code;
                row.channel = variant_name(&snapshot.channel);
                row.service_level = variant_name(&snapshot.service_level);
                row.due_at = seconds("due_at", snapshot.due_at)?;
                row.fee_bearing = flag(snapshot.fee_bearing);
                row.dossier_received_at = seconds("dossier_received_at", snapshot.dossier_received_at)?;
                row.paused_seconds = snapshot.paused_seconds;
                // What happened before go-live, in the columns of the events it stands for
                // (dossier_facts.sql reads them on a snapshot's row too).
                row.components_digitised = snapshot.components_digitised.unwrap_or(0);
                row.components_reused = snapshot.components_reused.unwrap_or(0);
                row.payment_method = snapshot.payment_method.as_ref().map(variant_name).unwrap_or_default();
                row.complaint_subject = snapshot.complaint_subject.map(|s| s.as_str()).unwrap_or_default();
            }
            EventBody::DossierSupplementRequested(dossier)
            | EventBody::DossierResumed(dossier)
            | EventBody::DossierWithdrawn(dossier) => row.dossier_id = dossier.dossier_id,
            // A probe is stored like any event (so freshness and completeness see it); its type
            // and unit keep it out of every measure.
            EventBody::CanaryProbe(_) => {}
            other => return Err(TransformError::WrongTable(other.type_name())),
        }
        Ok(row)
    }
}

/// `edoc_events`
pub struct EdocTable;

/// A row of `edoc_events`.
#[derive(Debug, Default, Clone, PartialEq, Row, Serialize)]
pub struct EdocRow {
    event_id: EventIdText,
    r#type: &'static str,
    occurred_at: u32,
    received_at: u32,
    kafka_partition: u16,
    kafka_offset: u64,
    kafka_line: u32,
    kafka_events: u32,
    unit_code: String,
    record_id: String,
    level: &'static str,
    classified: u8,
    processed_online: u8,
    document_id: String,
    form: &'static str,
    digitally_signed: u8,
    /// When its insert began (the processor dates its rows: rollup/in_flight.rs).
    inserted_at: u32,
}

impl SourceTable for EdocTable {
    type Row = EdocRow;
    const TABLE: &'static str = Source::Edoc.events_table();

    fn date(row: &mut EdocRow, inserted_at: u32) {
        row.inserted_at = inserted_at;
    }

    fn occurred_at(row: &EdocRow) -> u32 {
        row.occurred_at
    }

    fn row(event: Event, position: KafkaPosition) -> Result<EdocRow, TransformError> {
        let PositionColumns(kafka_partition, kafka_offset, kafka_line, kafka_events) = position.columns();
        let mut row = EdocRow {
            kafka_partition,
            kafka_offset,
            kafka_line,
            kafka_events,
            event_id: EventIdText(event.event_id),
            r#type: event.body.type_name(),
            occurred_at: seconds("occurred_at", event.occurred_at)?,
            received_at: received_seconds(&event)?,
            unit_code: event.unit_code,
            ..EdocRow::default()
        };
        // Work records and documents are different entities; each has its own id column.
        match event.body {
            EventBody::WorkRecordOpened(opened) => {
                row.record_id = opened.record_id;
                row.level = opened.level.as_str();
                row.classified = flag(opened.classified);
            }
            EventBody::WorkRecordClosed(closed) => {
                row.record_id = closed.record_id;
                row.level = closed.level.as_str();
                row.classified = flag(closed.classified);
                row.processed_online = flag(closed.processed_online);
            }
            EventBody::DocumentSent(document) | EventBody::DocumentReceived(document) => {
                row.document_id = document.document_id;
                row.form = variant_name(&document.form);
                row.digitally_signed = flag(document.digitally_signed);
            }
            // A probe is stored like any event (so freshness and completeness see it); its type
            // and unit keep it out of every measure.
            EventBody::CanaryProbe(_) => {}
            other => return Err(TransformError::WrongTable(other.type_name())),
        }
        Ok(row)
    }
}

/// `training_events`
pub struct TrainingTable;

/// A row of `training_events`.
#[derive(Debug, Default, Clone, PartialEq, Row, Serialize)]
pub struct TrainingRow {
    event_id: EventIdText,
    r#type: &'static str,
    occurred_at: u32,
    received_at: u32,
    kafka_partition: u16,
    kafka_offset: u64,
    kafka_line: u32,
    kafka_events: u32,
    unit_code: String,
    learner_id: String,
    household_ref: String,
    target_group: &'static str,
    certificate_id: String,
    vneid_confirmed: u8,
    citizen_ref: String,
    course_code: String,
    class_id: String,
    topic: &'static str,
    attendees: u32,
    of_adult_age: u8,
    /// When its insert began (the processor dates its rows: rollup/in_flight.rs).
    inserted_at: u32,
}

impl SourceTable for TrainingTable {
    type Row = TrainingRow;
    const TABLE: &'static str = Source::Training.events_table();

    fn date(row: &mut TrainingRow, inserted_at: u32) {
        row.inserted_at = inserted_at;
    }

    fn occurred_at(row: &TrainingRow) -> u32 {
        row.occurred_at
    }

    fn row(event: Event, position: KafkaPosition) -> Result<TrainingRow, TransformError> {
        let PositionColumns(kafka_partition, kafka_offset, kafka_line, kafka_events) = position.columns();
        let mut row = TrainingRow {
            kafka_partition,
            kafka_offset,
            kafka_line,
            kafka_events,
            event_id: EventIdText(event.event_id),
            r#type: event.body.type_name(),
            occurred_at: seconds("occurred_at", event.occurred_at)?,
            received_at: received_seconds(&event)?,
            unit_code: event.unit_code,
            ..TrainingRow::default()
        };
        // Each arm moves the learner's id into the row, and what its type adds; classes are not
        // about one learner and have their own id column.
        match event.body {
            EventBody::LearnerRegistered(learner) => {
                row.learner_id = learner.learner_id;
                row.household_ref = learner.household_ref;
                row.target_group = learner.target_group.as_str();
                row.citizen_ref = learner.citizen_ref.unwrap_or_default();
            }
            EventBody::SkillsCertified(certified) => {
                // Stored resolved (as sent, or the group's default), so SQL needs no group rules.
                row.of_adult_age = flag(certified.of_adult_age());
                row.learner_id = certified.learner_id;
                row.household_ref = certified.household_ref;
                row.target_group = certified.target_group.as_str();
                row.certificate_id = certified.certificate_id;
                row.vneid_confirmed = flag(certified.vneid_confirmed);
            }
            EventBody::SkillsVneidConfirmed(confirmed) => {
                row.learner_id = confirmed.learner_id;
                row.certificate_id = confirmed.certificate_id;
            }
            EventBody::CourseCompleted(course) => {
                row.learner_id = course.learner_id;
                row.course_code = course.course_code;
            }
            EventBody::ClassHeld(class) => {
                row.class_id = class.class_id;
                row.topic = class.topic.as_str();
                row.attendees = class.attendees;
            }
            // A probe is stored like any event (so freshness and completeness see it); its type
            // and unit keep it out of every measure.
            EventBody::CanaryProbe(_) => {}
            other => return Err(TransformError::WrongTable(other.type_name())),
        }
        Ok(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: serde_json::Value) -> Event {
        serde_json::from_value(json).expect("valid event")
    }

    #[test]
    fn a_received_dossier_keeps_its_channel_due_time_and_only_the_hashed_applicant() {
        let received = event(serde_json::json!({
            "event_id": "7f1c2a8e-5b3d-4c1e-9a0f-2d6b8e4c1a01", "source": "portal", "type": "dossier.received",
            "occurred_at": "2026-10-05T08:15:00+07:00", "unit_code": "07900", "dossier_id": "D1",
            "procedure_code": "1.001612", "channel": "in_person", "service_level": "full_online",
            "due_at": "2026-10-08T17:00:00+07:00", "fee_bearing": true, "applicant_ref": "abc"
        }));
        let row = PortalTable::row(received, KafkaPosition::default()).expect("row");
        assert_eq!(row.channel, "in_person");
        assert_eq!(row.service_level, "full_online");
        assert_eq!(row.occurred_at, 1_791_162_900); // 2026-10-05T01:15:00Z
        assert_eq!(row.due_at, 1_791_453_600);
        assert_eq!((row.fee_bearing, row.applicant_ref.as_str()), (1, "abc"));
    }

    #[test]
    fn an_event_of_another_source_is_refused() {
        let closed = event(serde_json::json!({
            "event_id": "2b9d6c1e-0a4f-4e7b-8c3d-5f1a9e2b7c02", "source": "edoc", "type": "work_record.closed",
            "occurred_at": "2026-10-20T16:30:00+07:00", "unit_code": "07894", "record_id": "R1",
            "level": "commune", "classified": true, "processed_online": false
        }));
        assert_eq!(
            PortalTable::row(closed.clone(), KafkaPosition::default()),
            Err(TransformError::WrongTable("work_record.closed"))
        );
        let row = EdocTable::row(closed, KafkaPosition::default()).expect("row");
        assert_eq!((row.level, row.classified, row.processed_online), ("commune", 1, 0));
    }

    #[test]
    fn a_canary_probe_is_a_row_of_every_table_with_no_entity() {
        for source in Source::ALL {
            let probe = event(serde_json::json!({
                "event_id": "7c0e8a52-3f1d-4b6a-9e27-0d5b8c4f1a93", "source": source.as_str(), "type": "canary.probe",
                "occurred_at": "2026-10-01T09:00:00+07:00", "unit_code": "CANARY"
            }));
            let position = KafkaPosition { partition: 1, offset: 7, line: 2, events: 3 };
            let (kind, entity) = match source {
                Source::Portal => PortalTable::row(probe, position).map(|r| (r.r#type, r.dossier_id)),
                Source::Edoc => EdocTable::row(probe, position).map(|r| (r.r#type, r.document_id + &r.record_id)),
                Source::Training => TrainingTable::row(probe, position).map(|r| (r.r#type, r.learner_id + &r.class_id)),
            }
            .expect("a probe is stored in every source's table");
            assert_eq!((kind, entity.as_str()), ("canary.probe", ""), "{source}");
        }
    }

    #[test]
    fn every_row_says_where_its_event_was_in_kafka() {
        let at = KafkaPosition { partition: 3, offset: 41, line: 5, events: 9 };
        let probe = |source: Source| {
            event(serde_json::json!({
                "event_id": "7c0e8a52-3f1d-4b6a-9e27-0d5b8c4f1a93", "source": source.as_str(), "type": "canary.probe",
                "occurred_at": "2026-10-01T09:00:00+07:00", "unit_code": "CANARY"
            }))
        };
        let portal = PortalTable::row(probe(Source::Portal), at).expect("row");
        let edoc = EdocTable::row(probe(Source::Edoc), at).expect("row");
        let training = TrainingTable::row(probe(Source::Training), at).expect("row");
        let expected = (3, 41, 5, 9);
        assert_eq!((portal.kafka_partition, portal.kafka_offset, portal.kafka_line, portal.kafka_events), expected);
        assert_eq!((edoc.kafka_partition, edoc.kafka_offset, edoc.kafka_line, edoc.kafka_events), expected);
        assert_eq!(
            (training.kafka_partition, training.kafka_offset, training.kafka_line, training.kafka_events),
            expected
        );
        let alone = PortalTable::row(probe(Source::Portal), KafkaPosition::default()).expect("row");
        assert_eq!((alone.kafka_line, alone.kafka_events), (0, 1), "a message of one event");
    }

    #[test]
    fn documents_and_classes_fill_their_own_id_columns() {
        let sent = event(serde_json::json!({
            "event_id": "2b9d6c1e-0a4f-4e7b-8c3d-5f1a9e2b7c11", "source": "edoc", "type": "document.sent",
            "occurred_at": "2026-10-02T14:00:00+07:00", "unit_code": "STC", "document_id": "125-STC-NS",
            "form": "electronic", "digitally_signed": true
        }));
        let row = EdocTable::row(sent, KafkaPosition::default()).expect("row");
        assert_eq!((row.document_id.as_str(), row.record_id.as_str()), ("125-STC-NS", ""));
        assert_eq!((row.form, row.digitally_signed), ("electronic", 1));
        let held = event(serde_json::json!({
            "event_id": "c4e8a2f6-1d3b-4a5c-9e7f-0b2d4f6a8c12", "source": "training", "type": "class.held",
            "occurred_at": "2026-10-04T19:30:00+07:00", "unit_code": "07909", "class_id": "C1",
            "topic": "digital_payment", "attendees": 42
        }));
        let row = TrainingTable::row(held, KafkaPosition::default()).expect("row");
        assert_eq!(
            (row.class_id.as_str(), row.learner_id.as_str(), row.topic, row.attendees),
            ("C1", "", "digital_payment", 42)
        );
    }

    #[test]
    fn times_before_1970_are_refused_not_wrapped() {
        let old = event(serde_json::json!({
            "event_id": "c4e8a2f6-1d3b-4a5c-9e7f-0b2d4f6a8c02", "source": "training", "type": "skills.certified",
            "occurred_at": "1960-10-02T20:10:00+07:00", "unit_code": "07909", "learner_id": "L1",
            "household_ref": "H1", "target_group": "adult", "certificate_id": "C1", "vneid_confirmed": true
        }));
        assert!(matches!(
            TrainingTable::row(old, KafkaPosition::default()),
            Err(TransformError::TimeOutOfRange { .. })
        ));
    }

    #[test]
    fn a_snapshot_keeps_its_reception_and_pauses_and_adulthood_is_resolved() {
        let snapshot = event(serde_json::json!({
            "event_id": "7f1c2a8e-5b3d-4c1e-9a0f-2d6b8e4c1a31", "source": "portal", "type": "dossier.snapshot",
            "occurred_at": "2026-10-01T00:05:00+07:00", "unit_code": "07900", "dossier_id": "D9",
            "procedure_code": "1.001612", "channel": "post", "service_level": "offline",
            "dossier_received_at": "2026-09-20T09:30:00+07:00", "due_at": "2026-10-02T17:00:00+07:00",
            "fee_bearing": false, "paused_seconds": 3600
        }));
        let row = PortalTable::row(snapshot, KafkaPosition::default()).expect("row");
        assert_eq!((row.channel, row.paused_seconds), ("post", 3600));
        assert_eq!(row.dossier_received_at, 1_789_871_400); // 2026-09-20T02:30:00Z
        let certificate = |group: &str, adult: Option<bool>| {
            let mut json = serde_json::json!({
                "event_id": "c4e8a2f6-1d3b-4a5c-9e7f-0b2d4f6a8c02", "source": "training", "type": "skills.certified",
                "occurred_at": "2026-10-02T20:10:00+07:00", "unit_code": "07909", "learner_id": "L1",
                "household_ref": "H1", "target_group": group, "certificate_id": "C1", "vneid_confirmed": false
            });
            if let Some(adult) = adult {
                json["of_adult_age"] = adult.into();
            }
            TrainingTable::row(event(json), KafkaPosition::default()).expect("row").of_adult_age
        };
        assert_eq!(certificate("civil_servant", None), 1);
        assert_eq!(certificate("pupil", None), 0);
        assert_eq!(certificate("student", Some(true)), 1);
        assert_eq!(certificate("student", Some(false)), 0);
    }

    /// The row of every valid example event (schemas/events/examples/valid/): the table of its
    /// source, its id and type as the event has them, and the entity's id in the entity's column
    /// (each arm of `row` moves it there itself).
    #[test]
    fn every_example_keeps_its_id_type_unit_and_entity() {
        let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schemas/events/examples/valid");
        let mut seen = 0;
        for file in std::fs::read_dir(examples).expect("examples") {
            let path = file.expect("entry").path();
            let example: Event = serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("valid event");
            let (id, kind, unit) = (example.event_id.to_string(), example.body.type_name(), example.unit_code.clone());
            let entity = example.body.entity_id().to_owned();
            let position = KafkaPosition::default();
            let stored = match example.source {
                Source::Portal => PortalTable::row(example, position)
                    .map(|r| (r.event_id.to_string(), r.r#type, r.unit_code, r.dossier_id)),
                Source::Edoc => EdocTable::row(example, position)
                    .map(|r| (r.event_id.to_string(), r.r#type, r.unit_code, r.record_id + &r.document_id)),
                Source::Training => TrainingTable::row(example, position)
                    .map(|r| (r.event_id.to_string(), r.r#type, r.unit_code, r.learner_id + &r.class_id)),
            };
            assert_eq!(stored, Ok((id, kind, unit, entity)), "{}", path.display());
            seen += 1;
        }
        assert!(seen >= 20, "only {seen} examples");
    }
}
