//! The e-office system: documents sent and received, and work records opened and closed (a few
//! closed twice), at province and commune level.

use std::collections::HashMap;

use chrono::{Datelike, Duration, NaiveDate, Timelike, Weekday};
use ioc_domain::{DocumentExchanged, EventBody, RecordLevel, ResultForm, Source, WorkRecordClosed, WorkRecordOpened};
use ioc_reference::{Unit, UnitKind};
use rand::Rng;

use super::{draw_count, local_time, office_time, EventFactory, Scenario, UnitProfile};

/// Work records opened per working day by one unit at scale 1.
const RECORDS_PER_DEPARTMENT_DAY: f64 = 40.0;
const RECORDS_PER_COMMUNE_DAY: f64 = 12.0;
/// Reference shares processed on the network (docs/domain.md).
const ONLINE_RATE_PROVINCE: f64 = 0.95;
const ONLINE_RATE_COMMUNE: f64 = 0.75;
const CLASSIFIED_SHARE: f64 = 0.03;
/// One work record in this many is reopened and closed again two days later, processed the other
/// way and classified the other way: it counts once, on its first close, as that close says
/// (docs/indicators.md). Chosen by
/// the record's serial, not drawn, so that every other event of a seed stays as it was.
const CLOSED_AGAIN_EVERY: u64 = 10;
const CLOSED_AGAIN_AFTER_DAYS: i64 = 2;
/// One document in this many (counted over every issuer's numbers) is sent, or received,
/// again three days later in the other form (paper first and electronically later, or the
/// reverse) and with the signature the other way where it can be: it counts once, on the day of
/// its first event, as that event says (docs/indicators.md, "E-documents and work records").
const EXCHANGED_AGAIN_EVERY: u64 = 20;
const EXCHANGED_AGAIN_AFTER_DAYS: i64 = 3;
/// Official documents sent (and, separately, received) per working day by one unit at scale 1.
const DOCUMENTS_PER_DEPARTMENT_DAY: f64 = 30.0;
const DOCUMENTS_PER_COMMUNE_DAY: f64 = 8.0;
const ELECTRONIC_DOCUMENT_RATE: f64 = 0.95;
const SIGNED_SHARE_OF_ELECTRONIC: f64 = 0.92;

/// Document numbers as agencies give them: each numbers its own documents in sequence
/// ("15/UBND", "15/STC"), so two communes' "15/UBND" are different documents, and starts again
/// from the first number every 1 January (Decree 30/2020/ND-CP: a document's number counts the
/// documents its agency issued in the year, and a received document's is its place in the
/// year's register of arrivals), so "15/UBND" of 2025 and of 2026 are different documents too. A
/// scenario's sequences start at its serial base (`serial_base`), so separately generated
/// scenarios do not reuse a number.
#[derive(Debug, Default)]
pub struct Numbering {
    /// The last number given, by unit, direction (sent or received) and local year.
    next: HashMap<(String, bool, i32), u64>,
    base: u64,
    /// Numbers given so far by every issuer: which documents are exchanged again.
    issued: u64,
}

impl Numbering {
    /// Numbers from `base + 1` on, for every issuer (see `serial_base`).
    pub fn starting_at(base: u64) -> Self {
        Numbering { next: HashMap::new(), base, issued: 0 }
    }

    /// The next number of `unit`'s sequence in `year`, and whether its document is exchanged
    /// again (`EXCHANGED_AGAIN_EVERY`): `Some(true)` on paper first (every other one of them,
    /// since paper is rare), `Some(false)` in the form drawn first.
    fn number(&mut self, unit: &Unit, sent: bool, year: i32) -> (String, Option<bool>) {
        self.issued += 1;
        let again = self
            .issued
            .is_multiple_of(EXCHANGED_AGAIN_EVERY)
            .then(|| (self.issued / EXCHANGED_AGAIN_EVERY).is_multiple_of(2));
        let next = self.next.entry((unit.code.clone(), sent, year)).or_insert(self.base);
        *next += 1;
        let place = *next;
        let issuer = match unit.kind {
            UnitKind::Department => unit.code.as_str(),
            _ => "UBND",
        };
        // A received document is known by its place in the receiver's register of arrivals
        // ("số đến"), which the schema's `document_id` of `document.received` asks for.
        let number = if sent { format!("{place}/{issuer}") } else { format!("{place}/CV-DEN") };
        (number, again)
    }
}

/// One day of work records at `unit`.
pub fn day(
    factory: &mut EventFactory<'_>,
    scenario: &Scenario,
    day: NaiveDate,
    unit: &Unit,
    profile: &UnitProfile,
    numbering: &mut Numbering,
) {
    if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
        return;
    }
    let (level, per_day, online_rate) = match unit.kind {
        UnitKind::Department => (RecordLevel::Province, RECORDS_PER_DEPARTMENT_DAY, ONLINE_RATE_PROVINCE),
        _ => (RecordLevel::Commune, RECORDS_PER_COMMUNE_DAY, ONLINE_RATE_COMMUNE),
    };
    let documents_per_day = match unit.kind {
        UnitKind::Department => DOCUMENTS_PER_DEPARTMENT_DAY,
        _ => DOCUMENTS_PER_COMMUNE_DAY,
    };
    for sent in [true, false] {
        let documents = draw_count(factory.rng(), documents_per_day * scenario.scale);
        for _ in 0..documents {
            let (number, again) = numbering.number(unit, sent, day.year());
            document(factory, day, unit, profile, sent, number, again);
        }
    }
    let count = draw_count(factory.rng(), per_day * scenario.scale);
    for _ in 0..count {
        let record_id = factory.entity_id("HSCV", unit);
        let serial = factory.next_serial;
        let rng = factory.rng();
        let opened_at = office_time(rng, day);
        let classified = rng.gen_bool(CLASSIFIED_SHARE);
        let processed_online = rng.gen_bool(profile.rate(online_rate));
        let closed_at = opened_at + Duration::hours(rng.gen_range(4..24 * 20));
        let opened = WorkRecordOpened { record_id: record_id.clone(), level, classified };
        if factory.emit(Source::Edoc, unit, opened_at, EventBody::WorkRecordOpened(opened)) {
            let closed = WorkRecordClosed { record_id: record_id.clone(), level, classified, processed_online };
            let emitted = factory.emit(Source::Edoc, unit, closed_at, EventBody::WorkRecordClosed(closed));
            let first_close = factory.events.last().map(|event| event.event_id);
            if let (true, Some(first_close)) = (emitted && serial.is_multiple_of(CLOSED_AGAIN_EVERY), first_close) {
                let again =
                    WorkRecordClosed { record_id, level, classified: !classified, processed_online: !processed_online };
                let at = closed_at + Duration::days(CLOSED_AGAIN_AFTER_DAYS);
                factory.emit_derived(Source::Edoc, unit, at, EventBody::WorkRecordClosed(again), first_close);
            }
        }
    }
}

fn document(
    factory: &mut EventFactory<'_>,
    day: NaiveDate,
    unit: &Unit,
    profile: &UnitProfile,
    sent: bool,
    document_id: String,
    again: Option<bool>,
) {
    let rng = factory.rng();
    let at = office_time(rng, day);
    // 1 January is a public holiday: its documents are those the exchange axis carried at night,
    // before 07:00 local time, still 31 December in UTC, so that a year taken in UTC would put
    // them (the year's first numbers) with the year before's. From the time drawn, so the draws
    // after it stay as they were.
    let at = if day.ordinal() == 1 { local_time(day, at.minute() % 7, at.minute()) } else { at };
    let drawn_electronic = rng.gen_bool(profile.rate(ELECTRONIC_DOCUMENT_RATE));
    let drawn_signed = drawn_electronic && rng.gen_bool(SIGNED_SHARE_OF_ELECTRONIC);
    // Drawn as any other, then set: the draws after it stay as they were.
    let paper_first = again == Some(true);
    let (electronic, digitally_signed) = if paper_first { (false, false) } else { (drawn_electronic, drawn_signed) };
    let form = if electronic { ResultForm::Electronic } else { ResultForm::Paper };
    let exchanged = |document_id: String, form: ResultForm, digitally_signed: bool| {
        let body = DocumentExchanged { document_id, form, digitally_signed };
        if sent {
            EventBody::DocumentSent(body)
        } else {
            EventBody::DocumentReceived(body)
        }
    };
    let first = exchanged(document_id.clone(), form, digitally_signed);
    if factory.emit(Source::Edoc, unit, at, first) && again.is_some() {
        let Some(from) = factory.events.last().map(|event| event.event_id) else { return };
        // Only an electronic document carries a signature.
        let body =
            exchanged(document_id, if electronic { ResultForm::Paper } else { ResultForm::Electronic }, !electronic);
        factory.emit_derived(Source::Edoc, unit, at + Duration::days(EXCHANGED_AGAIN_AFTER_DAYS), body, from);
    }
}
