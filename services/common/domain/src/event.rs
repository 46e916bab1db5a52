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
    #[serde(deserialize_with = "crate::event_json::fixed", serialize_with = "crate::event_json::fixed_text")]
    pub occurred_at: DateTime<FixedOffset>,
    /// Five-digit national code of the commune-level unit, or a provincial department code.
    pub unit_code: String,
    /// When ingest accepted the event (set by ingest, ignored from sources).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::event_json::utc_option",
        serialize_with = "crate::event_json::utc_option_text"
    )]
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
    /// `dossier.supplement_requested`
    #[serde(rename = "dossier.supplement_requested")]
    DossierSupplementRequested(DossierRef),
    /// `dossier.resumed`
    #[serde(rename = "dossier.resumed")]
    DossierResumed(DossierRef),
    /// `dossier.paid`
    #[serde(rename = "dossier.paid")]
    DossierPaid(DossierPaid),
    /// `dossier.withdrawn`
    #[serde(rename = "dossier.withdrawn")]
    DossierWithdrawn(DossierRef),
    /// `dossier.rated`
    #[serde(rename = "dossier.rated")]
    DossierRated(DossierRated),
    /// `dossier.complaint_filed`
    #[serde(rename = "dossier.complaint_filed")]
    DossierComplaintFiled(DossierComplaintFiled),
    /// `dossier.snapshot`
    #[serde(rename = "dossier.snapshot")]
    DossierSnapshot(DossierSnapshot),
    /// `document.sent`
    #[serde(rename = "document.sent")]
    DocumentSent(DocumentExchanged),
    /// `document.received`
    #[serde(rename = "document.received")]
    DocumentReceived(DocumentExchanged),
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
    /// `course.completed`
    #[serde(rename = "course.completed")]
    CourseCompleted(CourseCompleted),
    /// `class.held`
    #[serde(rename = "class.held")]
    ClassHeld(ClassHeld),
    /// `skills.vneid_confirmed`
    #[serde(rename = "skills.vneid_confirmed")]
    SkillsVneidConfirmed(SkillsVneidConfirmed),
    /// `canary.probe`: a synthetic event any source may carry, sent by `ioc-canary` to measure
    /// how long an event takes to reach the API; no indicator counts it.
    #[serde(rename = "canary.probe")]
    CanaryProbe(CanaryProbe),
}

impl EventBody {
    /// The `type` string of this body, as in the schema file names.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventBody::DossierReceived(_) => "dossier.received",
            EventBody::DossierDigitised(_) => "dossier.digitised",
            EventBody::DossierResolved(_) => "dossier.resolved",
            EventBody::DossierResultReturned(_) => "dossier.result_returned",
            EventBody::DossierSupplementRequested(_) => "dossier.supplement_requested",
            EventBody::DossierResumed(_) => "dossier.resumed",
            EventBody::DossierPaid(_) => "dossier.paid",
            EventBody::DossierWithdrawn(_) => "dossier.withdrawn",
            EventBody::DossierRated(_) => "dossier.rated",
            EventBody::DossierComplaintFiled(_) => "dossier.complaint_filed",
            EventBody::DossierSnapshot(_) => "dossier.snapshot",
            EventBody::DocumentSent(_) => "document.sent",
            EventBody::DocumentReceived(_) => "document.received",
            EventBody::WorkRecordOpened(_) => "work_record.opened",
            EventBody::WorkRecordClosed(_) => "work_record.closed",
            EventBody::LearnerRegistered(_) => "learner.registered",
            EventBody::SkillsCertified(_) => "skills.certified",
            EventBody::CourseCompleted(_) => "course.completed",
            EventBody::ClassHeld(_) => "class.held",
            EventBody::SkillsVneidConfirmed(_) => "skills.vneid_confirmed",
            EventBody::CanaryProbe(_) => CANARY_PROBE_TYPE,
        }
    }

    /// Whether `source` may send this type of event: each type belongs to one source, except
    /// the canary probe, which travels through every source's path.
    pub fn belongs_to(&self, source: Source) -> bool {
        self.source().is_none_or(|own| own == source)
    }

    /// The source system that emits this type of event; `None` for the canary probe.
    pub fn source(&self) -> Option<Source> {
        Some(match self {
            EventBody::DossierReceived(_)
            | EventBody::DossierDigitised(_)
            | EventBody::DossierResolved(_)
            | EventBody::DossierResultReturned(_)
            | EventBody::DossierSupplementRequested(_)
            | EventBody::DossierResumed(_)
            | EventBody::DossierPaid(_)
            | EventBody::DossierWithdrawn(_)
            | EventBody::DossierRated(_)
            | EventBody::DossierComplaintFiled(_)
            | EventBody::DossierSnapshot(_) => Source::Portal,
            EventBody::WorkRecordOpened(_)
            | EventBody::WorkRecordClosed(_)
            | EventBody::DocumentSent(_)
            | EventBody::DocumentReceived(_) => Source::Edoc,
            EventBody::LearnerRegistered(_)
            | EventBody::SkillsCertified(_)
            | EventBody::CourseCompleted(_)
            | EventBody::ClassHeld(_)
            | EventBody::SkillsVneidConfirmed(_) => Source::Training,
            EventBody::CanaryProbe(_) => return None,
        })
    }

    /// The id of the entity the event is about (dossier, work record, learner): the Kafka key of
    /// the message it is in (of its first event, when a message holds several), which spreads
    /// the entities over the partitions. Nothing downstream relies on one entity's events
    /// staying in order.
    pub fn entity_id(&self) -> &str {
        match self {
            EventBody::DossierReceived(e) => &e.dossier_id,
            EventBody::DossierDigitised(e) => &e.dossier_id,
            EventBody::DossierResolved(e) => &e.dossier_id,
            EventBody::DossierResultReturned(e) => &e.dossier_id,
            EventBody::DossierSupplementRequested(e)
            | EventBody::DossierResumed(e)
            | EventBody::DossierWithdrawn(e) => &e.dossier_id,
            EventBody::DossierPaid(e) => &e.dossier_id,
            EventBody::DossierRated(e) => &e.dossier_id,
            EventBody::DossierComplaintFiled(e) => &e.dossier_id,
            EventBody::DossierSnapshot(e) => &e.dossier_id,
            EventBody::DocumentSent(e) | EventBody::DocumentReceived(e) => &e.document_id,
            EventBody::WorkRecordOpened(e) => &e.record_id,
            EventBody::WorkRecordClosed(e) => &e.record_id,
            EventBody::LearnerRegistered(e) => &e.learner_id,
            EventBody::SkillsCertified(e) => &e.learner_id,
            EventBody::CourseCompleted(e) => &e.learner_id,
            EventBody::ClassHeld(e) => &e.class_id,
            EventBody::SkillsVneidConfirmed(e) => &e.learner_id,
            EventBody::CanaryProbe(_) => "",
        }
    }
}

impl Event {
    /// What the schema cannot say is wrong with the event: times the store cannot hold, or that
    /// contradict each other.
    pub fn inconsistency(&self) -> Option<String> {
        // ClickHouse's DateTime holds whole seconds from 1970 to 2106 (unsigned 32 bits); a time
        // outside it was accepted and then dead-lettered by the processor, so the source heard
        // nothing of it. `occurred_at` also has ingest's narrower window (limits.rs).
        let unstorable = |field: &str, time: &DateTime<FixedOffset>| {
            u32::try_from(time.timestamp()).is_err().then(|| {
                format!(
                    "{field} {} is outside what the store can hold (1970-01-01T00:00:00Z to 2106-02-07T06:28:15Z)",
                    time.to_rfc3339()
                )
            })
        };
        let occurred = Some(("occurred_at", &self.occurred_at));
        let stored_times = match &self.body {
            EventBody::DossierReceived(received) => [occurred, Some(("due_at", &received.due_at)), None],
            EventBody::DossierSnapshot(snapshot) => [
                occurred,
                Some(("dossier_received_at", &snapshot.dossier_received_at)),
                Some(("due_at", &snapshot.due_at)),
            ],
            _ => [occurred, None, None],
        };
        if let Some(problem) = stored_times.into_iter().flatten().find_map(|(field, time)| unstorable(field, time)) {
            return Some(problem);
        }
        // The canary's unit code marks a probe everywhere downstream; another event under it
        // would be counted in the province's totals and in no unit's.
        if self.unit_code == CANARY_UNIT_CODE && !matches!(self.body, EventBody::CanaryProbe(_)) {
            return Some(format!(
                "unit_code {CANARY_UNIT_CODE} is reserved for the canary's probes ({CANARY_PROBE_TYPE}); \
                 send the commune's or agency's code from the reference data"
            ));
        }
        match &self.body {
            EventBody::DossierSnapshot(snapshot) if snapshot.dossier_received_at > self.occurred_at => Some(format!(
                "dossier_received_at {} is after the snapshot's occurred_at {}: a snapshot describes a dossier received before it",
                snapshot.dossier_received_at.to_rfc3339(),
                self.occurred_at.to_rfc3339()
            )),
            _ => None,
        }
    }

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
    /// Pupils from primary school on ("học sinh từ cấp tiểu học").
    Pupil,
    /// Adults of the community not registered in another group.
    Adult,
    /// Workers of enterprises and cooperatives.
    Worker,
}

impl TargetGroup {
    /// Every group, in a stable order.
    pub const ALL: [TargetGroup; 5] =
        [TargetGroup::CivilServant, TargetGroup::Student, TargetGroup::Pupil, TargetGroup::Adult, TargetGroup::Worker];

    /// The name used in events, tables and indicator ids.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetGroup::CivilServant => "civil_servant",
            TargetGroup::Student => "student",
            TargetGroup::Pupil => "pupil",
            TargetGroup::Adult => "adult",
            TargetGroup::Worker => "worker",
        }
    }

    /// Whether a member of the group is of adult age when the certificate does not say:
    /// public-sector staff, workers and the community's adults are; pupils are not; students
    /// differ, so their certificates must say (the schema requires it).
    pub fn of_adult_age_by_default(self) -> bool {
        matches!(self, TargetGroup::CivilServant | TargetGroup::Adult | TargetGroup::Worker)
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
    #[serde(deserialize_with = "crate::event_json::fixed", serialize_with = "crate::event_json::fixed_text")]
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
    #[serde(deserialize_with = "crate::whole_number::read")]
    pub components_digitised: u16,
    /// Components reused from already digitised data.
    #[serde(deserialize_with = "crate::whole_number::read")]
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
    /// Whether the learner is of adult age; absent means the group's default
    /// ([`TargetGroup::of_adult_age_by_default`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub of_adult_age: Option<bool>,
}

impl SkillsCertified {
    /// Whether this certificate counts toward adult coverage: an adult is a person of adult
    /// age, whatever group they registered in.
    pub fn of_adult_age(&self) -> bool {
        self.of_adult_age.unwrap_or_else(|| self.target_group.of_adult_age_by_default())
    }
}

/// A certificate was confirmed on the learner's VNeID after it was issued.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillsVneidConfirmed {
    /// Pseudonymous learner id on the platform.
    pub learner_id: String,
    /// The certificate confirmed.
    pub certificate_id: String,
}

/// An event that only names its dossier (supplement requested, resumed, withdrawn).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DossierRef {
    /// Dossier code.
    pub dossier_id: String,
}

/// How a dossier's fee was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Through the national payment platform.
    Online,
    /// At the counter.
    Counter,
}

/// A dossier's fee was paid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DossierPaid {
    /// Dossier code.
    pub dossier_id: String,
    /// Online or at the counter.
    pub method: PaymentMethod,
    /// Amount in đồng.
    #[serde(deserialize_with = "crate::whole_number::read")]
    pub amount_vnd: u64,
}

/// A citizen's rating of a dossier's handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Satisfaction {
    /// Rất hài lòng.
    VerySatisfied,
    /// Hài lòng.
    Satisfied,
    /// Bình thường.
    Neutral,
    /// Không hài lòng.
    Dissatisfied,
}

/// The citizen rated a dossier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DossierRated {
    /// Dossier code.
    pub dossier_id: String,
    /// The rating.
    pub satisfaction: Satisfaction,
}

/// Feedback ("phản ánh") or a petition ("kiến nghị").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintKind {
    /// Phản ánh.
    Report,
    /// Kiến nghị.
    Petition,
}

/// What a complaint is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintSubject {
    /// The reception of the dossier.
    Reception,
    /// Its handling (delays, conduct, the result).
    Handling,
    /// The regulation behind the procedure, not this dossier's treatment.
    Regulation,
}

impl ComplaintSubject {
    /// Whether it counts against satisfaction (Decision 766, 5.4: "phản ánh, kiến nghị về việc
    /// tiếp nhận, giải quyết").
    pub fn about_the_dossier(self) -> bool {
        matches!(self, ComplaintSubject::Reception | ComplaintSubject::Handling)
    }

    /// The name used in events and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            ComplaintSubject::Reception => "reception",
            ComplaintSubject::Handling => "handling",
            ComplaintSubject::Regulation => "regulation",
        }
    }
}

/// A citizen filed feedback or a petition about a dossier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DossierComplaintFiled {
    /// Dossier code.
    pub dossier_id: String,
    /// Feedback or petition.
    pub kind: ComplaintKind,
    /// What it is about.
    pub subject: ComplaintSubject,
}

/// A dossier received before the source joined the stream, still open when it did: its state at
/// that moment, so the backlog at go-live counts from then on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DossierSnapshot {
    /// Dossier code.
    pub dossier_id: String,
    /// Procedure code from the national catalogue.
    pub procedure_code: String,
    /// How it was submitted.
    pub channel: Channel,
    /// Online service level of the procedure.
    pub service_level: ServiceLevel,
    /// When it was received (before the snapshot). Not `received_at`: the envelope's
    /// `received_at` is the time ingest accepted the event.
    #[serde(deserialize_with = "crate::event_json::fixed", serialize_with = "crate::event_json::fixed_text")]
    pub dossier_received_at: DateTime<FixedOffset>,
    /// Legal due time set at reception, not extended by pauses.
    #[serde(deserialize_with = "crate::event_json::fixed", serialize_with = "crate::event_json::fixed_text")]
    pub due_at: DateTime<FixedOffset>,
    /// Whether the procedure charges a fee.
    pub fee_bearing: bool,
    /// Seconds the clock was stopped by supplement requests before the snapshot.
    #[serde(deserialize_with = "crate::whole_number::read")]
    pub paused_seconds: u32,
    /// Components digitised before the snapshot (what `dossier.digitised` events would have
    /// said, summed). The events from before go-live are never sent, so without these four the
    /// backlog counted as not digitised, not paid online and without a complaint
    /// (docs/indicators.md, "The backlog at go-live").
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::whole_number::read_option")]
    pub components_digitised: Option<u16>,
    /// Components reused from already digitised data before the snapshot (summed).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "crate::whole_number::read_option")]
    pub components_reused: Option<u16>,
    /// How the fee was paid before the snapshot: online when any part of it was; none: not paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<PaymentMethod>,
    /// What a complaint filed before the snapshot was about: reception or handling when any was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complaint_subject: Option<ComplaintSubject>,
}

/// An official document sent or received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentExchanged {
    /// Document number in the agency's system.
    pub document_id: String,
    /// Electronic or paper.
    pub form: ResultForm,
    /// Carries a digital signature.
    pub digitally_signed: bool,
}

/// A learner completed a course.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CourseCompleted {
    /// Pseudonymous learner id on the platform.
    pub learner_id: String,
    /// Course code.
    pub course_code: String,
}

/// Topic of a "Bình dân học vụ số" class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassTopic {
    /// Using the internet.
    Internet,
    /// Online public services.
    OnlinePublicServices,
    /// Digital payment.
    DigitalPayment,
    /// Digital safety.
    DigitalSafety,
    /// Online health care.
    OnlineHealth,
}

impl ClassTopic {
    /// Every topic, in a stable order.
    pub const ALL: [ClassTopic; 5] = [
        ClassTopic::Internet,
        ClassTopic::OnlinePublicServices,
        ClassTopic::DigitalPayment,
        ClassTopic::DigitalSafety,
        ClassTopic::OnlineHealth,
    ];

    /// The name used in events and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            ClassTopic::Internet => "internet",
            ClassTopic::OnlinePublicServices => "online_public_services",
            ClassTopic::DigitalPayment => "digital_payment",
            ClassTopic::DigitalSafety => "digital_safety",
            ClassTopic::OnlineHealth => "online_health",
        }
    }
}

/// A class was held in a commune.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassHeld {
    /// Class id.
    pub class_id: String,
    /// Topic.
    pub topic: ClassTopic,
    /// People who attended.
    #[serde(deserialize_with = "crate::whole_number::read")]
    pub attendees: u32,
}

/// The `type` of the canary probe.
pub const CANARY_PROBE_TYPE: &str = "canary.probe";

/// The unit code a canary probe carries: not a unit of the province, so no per-unit figure can
/// include it.
pub const CANARY_UNIT_CODE: &str = "CANARY";

/// A synthetic probe: nothing but the envelope.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CanaryProbe {}
