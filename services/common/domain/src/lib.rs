//! The domain every service shares: the event contract (typed events and their JSON Schemas),
//! the indicator catalogue ([`indicators`]), the names of the pre-aggregated measures
//! ([`measures`]), the rules of the dossier lifecycle ([`rules`]) and the province's time zone.
//!
//! The JSON Schemas under `schemas/events/` are the contract with source systems; the Rust types
//! here are what services work with after an event passed [`Contract::check`]. Both are tested
//! against every example under `schemas/events/examples/`.

mod contract;
mod event;
mod event_json;
pub mod indicators;
pub mod measures;
mod parsed_event;
pub mod rules;
mod source;
mod whole_number;

pub use contract::{Contract, ContractError};
pub use event::{
    CanaryProbe, Channel, ClassHeld, ClassTopic, ComplaintKind, ComplaintSubject, CourseCompleted, DocumentExchanged,
    DossierComplaintFiled, DossierDigitised, DossierPaid, DossierRated, DossierReceived, DossierRef, DossierResolved,
    DossierResultReturned, DossierSnapshot, Event, EventBody, LearnerRegistered, Outcome, PaymentMethod, RecordLevel,
    ResultForm, Satisfaction, ServiceLevel, SkillsCertified, SkillsVneidConfirmed, TargetGroup, WorkRecordClosed,
    WorkRecordOpened, CANARY_PROBE_TYPE, CANARY_UNIT_CODE,
};
pub use parsed_event::ParsedEvent;
pub use source::{dead_letter_topic, Source, UnknownSource};

/// The province's time zone, as ClickHouse and the API name it. The SQL files write it in their
/// column types (`DateTime('Asia/Ho_Chi_Minh')`), which Rust cannot reach.
pub const TIME_ZONE: &str = "Asia/Ho_Chi_Minh";

/// [`TIME_ZONE`]'s offset: event time is bucketed in local time (UTC+07:00, no daylight saving).
pub const LOCAL_OFFSET_SECONDS: i32 = 7 * 3600;

/// The local time zone as a chrono offset.
pub fn local_offset() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(LOCAL_OFFSET_SECONDS).unwrap_or_else(|| unreachable!())
}

/// Today in local time, the day the indicators' periods are counted in.
pub fn local_today() -> chrono::NaiveDate {
    chrono::Utc::now().with_timezone(&local_offset()).date_naive()
}
