//! Typed events: the common envelope and one body per event type.

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::Source;

/// One telemetry event as it travels from ingest to the processor.
///
/// Source systems send the envelope fields and a body; ingest adds `received_at` and replaces
/// personal identifiers by keyed hashes (see [`Event::pseudonymise`]) before the event reaches Kafka.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// UUID chosen by the source: the idempotency key from ingest to ClickHouse.
    pub event_id: Uuid,
    /// The source system that sent the event.
    pub source: Source,
    /// Event time in the source system, with its offset.
    pub occurred_at: DateTime<FixedOffset>,
    /// Five-digit national code of the commune-level unit, or a provincial department code.
    pub unit_code: String,
    /// When ingest accepted the event (set by ingest, ignored from sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<DateTime<Utc>>,
    /// What happened.
    #[serde(flatten)]
    pub body: EventBody,
}

/// The type-specific part of an event, tagged by its `type` field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum EventBody {
    /// `dossier.received`
    #[serde(rename = "dossier.received")]
    DossierReceived(DossierReceived),
    /// `dossier.digitised`
    #[serde(rename = "dossier.digitised")]
    DossierDigitised(DossierDigitised),
    /// `dossier.resolved`
    #[serde(rename = "dossier.resolved")]
    DossierResolved(DossierResolved),
    /// `dossier.result_returned`
    #[serde(rename = "dossier.result_returned")]
    DossierResultReturned(DossierResultReturned),
    /// `work_record.opened`
    #[serde(rename = "work_record.opened")]
    WorkRecordOpened(WorkRecordOpened),
    /// `work_record.closed`
    #[serde(rename = "work_record.closed")]
    WorkRecordClosed(WorkRecordClosed),
    /// `learner.registered`
    #[serde(rename = "learner.registered")]
    LearnerRegistered(LearnerRegistered),
    /// `skills.certified`
    #[serde(rename = "skills.certified")]
    SkillsCertified(SkillsCertified),
}

impl EventBody {
    /// The `type` string of this body, as in the schema file names.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventBody::DossierReceived(_) => "dossier.received",
            EventBody::DossierDigitised(_) => "dossier.digitised",
            EventBody::DossierResolved(_) => "dossier.resolved",
            EventBody::DossierResultReturned(_) => "dossier.result_returned",
            EventBody::WorkRecordOpened(_) => "work_record.opened",
            EventBody::WorkRecordClosed(_) => "work_record.closed",
            EventBody::LearnerRegistered(_) => "learner.registered",
            EventBody::SkillsCertified(_) => "skills.certified",
        }
    }

    /// The source system that emits this type of event.
    pub fn source(&self) -> Source {
        match self {
            EventBody::DossierReceived(_)
            | EventBody::DossierDigitised(_)
            | EventBody::DossierResolved(_)
            | EventBody::DossierResultReturned(_) => Source::Portal,
            EventBody::WorkRecordOpened(_) | EventBody::WorkRecordClosed(_) => Source::Edoc,
            EventBody::LearnerRegistered(_) | EventBody::SkillsCertified(_) => Source::Training,
        }
    }

    /// The id of the entity the event is about (dossier, work record, learner): the Kafka key,
    /// so that one entity's events stay ordered in one partition.
    pub fn entity_id(&self) -> &str {
        match self {
            EventBody::DossierReceived(e) => &e.dossier_id,
            EventBody::DossierDigitised(e) => &e.dossier_id,
            EventBody::DossierResolved(e) => &e.dossier_id,
            EventBody::DossierResultReturned(e) => &e.dossier_id,
            EventBody::WorkRecordOpened(e) => &e.record_id,
            EventBody::WorkRecordClosed(e) => &e.record_id,
            EventBody::LearnerRegistered(e) => &e.learner_id,
            EventBody::SkillsCertified(e) => &e.learner_id,
        }
    }
}

impl Event {
    /// Replaces every personal identifier (citizen ID number, phone number) by `hash(clear)`
    /// and drops the clear value, so that it never reaches Kafka, ClickHouse or a log line.
    pub fn pseudonymise(&mut self, hash: impl Fn(&str) -> String) {
        match &mut self.body {
            EventBody::DossierReceived(dossier) => {
                if let Some(clear) = dossier.applicant_id.take() {
                    dossier.applicant_ref = Some(hash(&clear));
                }
                if let Some(clear) = dossier.applicant_phone.take() {
                    dossier.applicant_phone_ref = Some(hash(&clear));
                }
            }
            EventBody::LearnerRegistered(learner) => {
                if let Some(clear) = learner.citizen_id.take() {
                    learner.citizen_ref = Some(hash(&clear));
                }
            }
            _ => {}
        }
    }
}

/// How a citizen submitted a dossier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Through the online public-service portal.
    Online,
    /// At a one-stop counter.
    InPerson,
    /// By public post.
    Post,
}

/// Online service level of a procedure (Decree 42/2022).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceLevel {
    /// "Toàn trình": every step online.
    FullOnline,
    /// "Một phần": some steps online.
    PartialOnline,
    /// Not offered online.
    Offline,
}

/// Outcome of a resolved dossier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The request was granted.
    Approved,
    /// The request was refused.
    Rejected,
}

/// Form in which a dossier's result was returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultForm {
    /// An electronic result ("kết quả điện tử").
    Electronic,
    /// A paper result only.
    Paper,
}

/// Government level of a work record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordLevel {
    /// Provincial departments and agencies.
    Province,
    /// Commune-level units.
    Commune,
}

/// Target group of the digital-skills programme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetGroup {
    /// Civil servants and public employees.
    CivilServant,
    /// Secondary, vocational and university students.
    Student,
    /// Adults in the community.
    Adult,
    /// Workers of enterprises and cooperatives.
    Worker,
}

impl TargetGroup {
    /// Every group, in a stable order.
    pub const ALL: [TargetGroup; 4] =
        [TargetGroup::CivilServant, TargetGroup::Student, TargetGroup::Adult, TargetGroup::Worker];

    /// The name used in events, tables and indicator ids.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetGroup::CivilServant => "civil_servant",
            TargetGroup::Student => "student",
            TargetGroup::Adult => "adult",
            TargetGroup::Worker => "worker",
        }
    }
}

impl RecordLevel {
    /// The name used in events and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordLevel::Province => "province",
            RecordLevel::Commune => "commune",
        }
    }
}

/// A dossier was received by a unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DossierReceived {
    /// Dossier code.
    pub dossier_id: String,
    /// Procedure code from the national catalogue.
    pub procedure_code: String,
    /// How it was submitted.
    pub channel: Channel,
    /// Online service level of the procedure.
    pub service_level: ServiceLevel,
    /// Legal due time of the result.
    pub due_at: DateTime<FixedOffset>,
    /// Whether the procedure charges a fee.
    pub fee_bearing: bool,
    /// Clear citizen ID number: only between the source and ingest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applicant_id: Option<String>,
    /// Clear phone number: only between the source and ingest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applicant_phone: Option<String>,
    /// Keyed hash of the citizen ID number, set by ingest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applicant_ref: Option<String>,
    /// Keyed hash of the phone number, set by ingest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applicant_phone_ref: Option<String>,
}

/// Components of a dossier were digitised, or reused from digitised data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DossierDigitised {
    /// Dossier code.
    pub dossier_id: String,
    /// Components digitised.
    pub components_digitised: u16,
    /// Components reused from already digitised data.
    pub components_reused: u16,
}

/// A dossier was resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DossierResolved {
    /// Dossier code.
    pub dossier_id: String,
    /// Approved or rejected.
    pub outcome: Outcome,
}

/// A dossier's result was returned to the citizen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DossierResultReturned {
    /// Dossier code.
    pub dossier_id: String,
    /// Electronic or paper.
    pub result_form: ResultForm,
}

/// A work record was opened in the e-office system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkRecordOpened {
    /// Work record id.
    pub record_id: String,
    /// Province or commune level.
    pub level: RecordLevel,
    /// State-secret record.
    pub classified: bool,
}

/// A work record was closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkRecordClosed {
    /// Work record id.
    pub record_id: String,
    /// Province or commune level.
    pub level: RecordLevel,
    /// State-secret record (excluded from the online rate).
    pub classified: bool,
    /// Processed end to end on the network.
    pub processed_online: bool,
}

/// A learner registered on a digital-skills platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnerRegistered {
    /// Pseudonymous learner id on the platform.
    pub learner_id: String,
    /// Pseudonymous household reference.
    pub household_ref: String,
    /// Target group.
    pub target_group: TargetGroup,
    /// Clear citizen ID number: only between the source and ingest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citizen_id: Option<String>,
    /// Keyed hash of the citizen ID number, set by ingest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citizen_ref: Option<String>,
}

/// A learner passed the proctored test and was certified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillsCertified {
    /// Pseudonymous learner id on the platform.
    pub learner_id: String,
    /// Pseudonymous household reference.
    pub household_ref: String,
    /// Target group.
    pub target_group: TargetGroup,
    /// Certificate number.
    pub certificate_id: String,
    /// Completion confirmed on the citizen's VNeID.
    pub vneid_confirmed: bool,
}
