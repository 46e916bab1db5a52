//! The ground truth: what every indicator must be, computed straight from the events the
//! simulator generated (each once), independently of the pipeline's rollups and SQL.
//!
//! The rules are the ones docs/indicators.md states, written here in their most direct form (for
//! example, "late" is read off the time the dossier's clock has run, not off a precomputed late
//! instant), so that a mistake in the pipeline's reading shows up as a difference.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate};
use ioc_events::indicators::{self as ids, DEFINITIONS};
use ioc_events::{Channel, Event, EventBody, PaymentMethod, RecordLevel, ResultForm, Satisfaction, TargetGroup};
use ioc_reference::ReferenceData;
use serde::{Deserialize, Serialize};

/// One indicator's expected numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    /// Expected numerator (the count, for counts).
    pub numerator: u64,
    /// Expected denominator; `None` for counts.
    pub denominator: Option<u64>,
}

/// Expected values for one period, for the province and for every unit. Keys are indicator ids,
/// and `id/key` for an entry of an indicator's breakdown (a procedure code, a class topic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// First day (local).
    pub from: NaiveDate,
    /// Last day (local, included).
    pub to: NaiveDate,
    /// Events generated (each counted once, before duplicates are injected).
    pub events: usize,
    /// Indicator id → expected numbers, whole province.
    pub province: BTreeMap<String, Expected>,
    /// Unit code → indicator id → expected numbers.
    pub units: BTreeMap<String, BTreeMap<String, Expected>>,
}

/// What the simulator knows about one dossier, from its events.
#[derive(Debug, Clone, Default)]
pub struct Dossier {
    /// Unit that received it.
    pub unit: String,
    /// Procedure code.
    pub procedure: String,
    /// Reception instant (unix seconds).
    pub received_at: i64,
    /// Due instant.
    pub due_at: i64,
    /// Received online.
    pub online: bool,
    /// Of a fee-bearing procedure.
    pub fee_bearing: bool,
    /// Paid online.
    pub paid_online: bool,
    /// Has digitised components.
    pub digitised: bool,
    /// Reuses a digitised component.
    pub reused: bool,
    /// Supplement requests and their resumes, in order.
    pub requests: Vec<i64>,
    /// Resumes, in order.
    pub resumes: Vec<i64>,
    /// Resolution instant.
    pub resolved_at: Option<i64>,
    /// Withdrawal instant.
    pub withdrawn_at: Option<i64>,
    /// Result instant and whether it was electronic.
    pub result: Option<(i64, bool)>,
    /// Rating instant and whether the citizen was dissatisfied.
    pub rating: Option<(i64, bool)>,
}

impl Dossier {
    /// Seconds the dossier's clock ran from reception to `at`: the clock stops from a
    /// supplement request made before the due time until its resume (or for good, without one).
    pub fn active_seconds(&self, at: i64) -> i64 {
        let mut paused = 0;
        for (index, &start) in self.requests.iter().enumerate() {
            if start >= self.due_at || start >= at {
                continue;
            }
            let end = self.resumes.get(index).copied().unwrap_or(i64::MAX).min(at);
            paused += (end - start).max(0);
        }
        at - self.received_at - paused
    }

    /// Whether the clock had run past the allowed time at `at`.
    pub fn late_at(&self, at: i64) -> bool {
        self.active_seconds(at) > self.due_at - self.received_at
    }

    /// When it stopped being open: resolved or withdrawn, whichever came first.
    pub fn closed_at(&self) -> Option<i64> {
        match (self.resolved_at, self.withdrawn_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether it was open at `at`.
    pub fn open_at(&self, at: i64) -> bool {
        self.received_at < at && self.closed_at().is_none_or(|closed| closed >= at)
    }
}

struct Document {
    unit: String,
    at: i64,
    sent: bool,
    electronic: bool,
    signed: bool,
}

struct Record {
    unit: String,
    at: i64,
    level: RecordLevel,
    online: bool,
}

struct Certificate {
    unit: String,
    at: i64,
    group: TargetGroup,
    vneid: bool,
}

struct Class {
    unit: String,
    at: i64,
    topic: &'static str,
    attendees: u64,
}

/// Everything the truth needs, gathered once from the events; [`Facts::truth`] then answers
/// for any period.
pub struct Facts {
    /// Dossiers that were received, by id.
    pub dossiers: BTreeMap<String, Dossier>,
    documents: Vec<Document>,
    records: Vec<Record>,
    certificates: Vec<Certificate>,
    /// Household → (first certificate instant, its unit).
    households: BTreeMap<String, (i64, String)>,
    classes: Vec<Class>,
    events: usize,
}

impl Facts {
    /// Gathers the facts of `events` (each event once).
    pub fn from_events(events: &[Event]) -> Facts {
        let mut dossiers: BTreeMap<String, Dossier> = BTreeMap::new();
        let mut received: BTreeMap<String, bool> = BTreeMap::new();
        let mut facts = Facts {
            dossiers: BTreeMap::new(),
            documents: Vec::new(),
            records: Vec::new(),
            certificates: Vec::new(),
            households: BTreeMap::new(),
            classes: Vec::new(),
            events: events.len(),
        };
        for event in events {
            let at = event.occurred_at.timestamp();
            let unit = event.unit_code.clone();
            match &event.body {
                EventBody::DossierReceived(d) => {
                    received.insert(d.dossier_id.clone(), true);
                    let entry = entry(&mut dossiers, &d.dossier_id);
                    entry.unit = unit;
                    entry.procedure = d.procedure_code.clone();
                    entry.received_at = at;
                    entry.due_at = d.due_at.timestamp();
                    entry.online = d.channel == Channel::Online;
                    entry.fee_bearing = d.fee_bearing;
                }
                EventBody::DossierDigitised(d) => {
                    let entry = entry(&mut dossiers, &d.dossier_id);
                    entry.digitised |= d.components_digitised > 0;
                    entry.reused |= d.components_reused > 0;
                }
                EventBody::DossierPaid(p) => {
                    entry(&mut dossiers, &p.dossier_id).paid_online |= p.method == PaymentMethod::Online
                }
                EventBody::DossierSupplementRequested(d) => entry(&mut dossiers, &d.dossier_id).requests.push(at),
                EventBody::DossierResumed(d) => entry(&mut dossiers, &d.dossier_id).resumes.push(at),
                EventBody::DossierResolved(d) => entry(&mut dossiers, &d.dossier_id).resolved_at = Some(at),
                EventBody::DossierWithdrawn(d) => entry(&mut dossiers, &d.dossier_id).withdrawn_at = Some(at),
                EventBody::DossierResultReturned(r) => {
                    entry(&mut dossiers, &r.dossier_id).result = Some((at, r.result_form == ResultForm::Electronic));
                }
                EventBody::DossierRated(r) => {
                    entry(&mut dossiers, &r.dossier_id).rating =
                        Some((at, r.satisfaction == Satisfaction::Dissatisfied));
                }
                EventBody::DocumentSent(d) | EventBody::DocumentReceived(d) => facts.documents.push(Document {
                    unit,
                    at,
                    sent: matches!(event.body, EventBody::DocumentSent(_)),
                    electronic: d.form == ResultForm::Electronic,
                    signed: d.digitally_signed,
                }),
                EventBody::WorkRecordClosed(w) if !w.classified => {
                    facts.records.push(Record { unit, at, level: w.level, online: w.processed_online });
                }
                EventBody::SkillsCertified(s) => {
                    let first = facts.households.entry(s.household_ref.clone()).or_insert((at, unit.clone()));
                    if at < first.0 {
                        *first = (at, unit.clone());
                    }
                    facts.certificates.push(Certificate { unit, at, group: s.target_group, vneid: s.vneid_confirmed });
                }
                EventBody::ClassHeld(c) => {
                    facts.classes.push(Class { unit, at, topic: c.topic.as_str(), attendees: u64::from(c.attendees) })
                }
                _ => {}
            }
        }
        for list in dossiers.values_mut() {
            list.requests.sort_unstable();
            list.resumes.sort_unstable();
        }
        dossiers.retain(|id, _| received.contains_key(id));
        facts.dossiers = dossiers;
        facts
    }

    /// The expected indicators of the local days `from..=to` for the province and every unit.
    pub fn truth(&self, reference: &ReferenceData, from: NaiveDate, to: NaiveDate) -> GroundTruth {
        let start = local_midnight(from);
        let end = local_midnight(to + chrono::Days::new(1));
        let within = |at: i64| at >= start && at < end;
        let mut tallies: BTreeMap<&str, Tally> =
            reference.units.iter().map(|unit| (unit.code.as_str(), Tally::default())).collect();
        for dossier in self.dossiers.values() {
            let tally = tallies.entry(dossier.unit.as_str()).or_default();
            if within(dossier.received_at) {
                tally.add("received", 1);
                tally.add("received_online", u64::from(dossier.online));
                tally.add("received_fee_bearing", u64::from(dossier.fee_bearing));
                tally.add("received_paid_online", u64::from(dossier.fee_bearing && dossier.paid_online));
                tally.add("received_reusing", u64::from(dossier.reused));
            }
            if let Some(resolved_at) = dossier.resolved_at.filter(|at| within(*at)) {
                let seconds = dossier.active_seconds(resolved_at).max(0).unsigned_abs();
                tally.add("resolved", 1);
                tally.add("processing_seconds", seconds);
                tally.add(&format!("resolved/{}", dossier.procedure), 1);
                tally.add(&format!("processing_seconds/{}", dossier.procedure), seconds);
                tally.add("resolved_late", u64::from(dossier.late_at(resolved_at)));
                let electronic = dossier.result.is_some_and(|(_, electronic)| electronic);
                tally.add("resolved_digitised_electronic", u64::from(dossier.digitised && electronic));
            }
            if dossier.open_at(end) {
                tally.add("open", 1);
                tally.add("open_late", u64::from(dossier.late_at(end)));
            }
            if let Some((_, electronic)) = dossier.result.filter(|(at, _)| within(*at)) {
                tally.add("results", 1);
                tally.add("results_electronic", u64::from(electronic));
            }
            if let Some((_, dissatisfied)) = dossier.rating.filter(|(at, _)| within(*at)) {
                tally.add("dissatisfied", u64::from(dissatisfied));
            }
        }
        for document in self.documents.iter().filter(|d| within(d.at)) {
            let tally = tallies.entry(document.unit.as_str()).or_default();
            let side = if document.sent { "sent" } else { "received" };
            tally.add(&format!("documents_{side}"), 1);
            tally.add(&format!("documents_{side}_electronic"), u64::from(document.electronic));
            tally.add("documents_sent_signed", u64::from(document.sent && document.signed));
        }
        for record in self.records.iter().filter(|r| within(r.at)) {
            let tally = tallies.entry(record.unit.as_str()).or_default();
            tally.add(&format!("records/{}", record.level.as_str()), 1);
            tally.add(&format!("records_online/{}", record.level.as_str()), u64::from(record.online));
        }
        for certificate in self.certificates.iter().filter(|c| c.at < end) {
            let tally = tallies.entry(certificate.unit.as_str()).or_default();
            tally.add(&format!("certified/{}", certificate.group.as_str()), 1);
            tally.add(&format!("certified_vneid/{}", certificate.group.as_str()), u64::from(certificate.vneid));
        }
        for (at, unit) in self.households.values() {
            if *at < end {
                tallies.entry(unit.as_str()).or_default().add("households", 1);
            }
        }
        for class in self.classes.iter().filter(|c| within(c.at)) {
            let tally = tallies.entry(class.unit.as_str()).or_default();
            tally.add("classes", 1);
            tally.add(&format!("classes/{}", class.topic), 1);
            tally.add("attendees", class.attendees);
            tally.add(&format!("attendees/{}", class.topic), class.attendees);
        }

        let mut whole = Tally::default();
        for tally in tallies.values() {
            for (key, value) in &tally.0 {
                whole.add(key, *value);
            }
        }
        let units = reference
            .units
            .iter()
            .map(|unit| {
                let population = |measure: &str| reference.denominator(&unit.code, measure).unwrap_or(0);
                (unit.code.clone(), expectations(&tallies[unit.code.as_str()], &population))
            })
            .collect();
        let province_population =
            |measure: &str| reference.denominators.iter().filter(|d| d.measure == measure).map(|d| d.value).sum();
        GroundTruth { from, to, events: self.events, province: expectations(&whole, &province_population), units }
    }
}

/// Counts by name, for one unit.
#[derive(Default)]
struct Tally(BTreeMap<String, u64>);

impl Tally {
    fn add(&mut self, key: &str, value: u64) {
        *self.0.entry(key.to_owned()).or_default() += value;
    }

    fn get(&self, key: &str) -> u64 {
        self.0.get(key).copied().unwrap_or(0)
    }
}

fn expectations(tally: &Tally, population: &dyn Fn(&str) -> u64) -> BTreeMap<String, Expected> {
    let t = |key: &str| tally.get(key);
    let fraction = |numerator: u64, denominator: u64| Expected { numerator, denominator: Some(denominator) };
    let count = |numerator: u64| Expected { numerator, denominator: None };
    let on_time_numerator = t("resolved") - t("resolved_late") + t("open") - t("open_late");
    let handled = t("resolved") + t("open");
    let late = t("resolved_late") + t("open_late");
    let mut out = BTreeMap::new();
    let mut put = |id: &str, expected: Expected| {
        out.insert(id.to_owned(), expected);
    };
    put(ids::ON_TIME_RATE, fraction(on_time_numerator, handled));
    put(ids::AVERAGE_RESOLUTION_TIME, fraction(t("processing_seconds"), t("resolved")));
    put(ids::ONLINE_SUBMISSION_RATE, fraction(t("received_online"), t("received")));
    put(ids::ONLINE_PAYMENT_RATE, fraction(t("received_paid_online"), t("received_fee_bearing")));
    put(ids::ELECTRONIC_RESULT_RATE, fraction(t("results_electronic"), t("results")));
    put(ids::DIGITISATION_RATE, fraction(t("resolved_digitised_electronic"), t("resolved")));
    put(ids::DATA_REUSE_RATE, fraction(t("received_reusing"), t("received")));
    put(ids::SATISFACTION_INDEX, fraction(on_time_numerator.saturating_sub(t("dissatisfied")), handled));
    put(ids::DOSSIERS_RECEIVED, count(t("received")));
    put(ids::DOSSIERS_RESOLVED, count(t("resolved")));
    put(ids::DOSSIERS_IN_PROGRESS, count(t("open")));
    put(ids::DOSSIERS_LATE, count(late));
    put(ids::DOCUMENTS_SENT_ELECTRONIC, fraction(t("documents_sent_electronic"), t("documents_sent")));
    put(ids::DOCUMENTS_RECEIVED_ELECTRONIC, fraction(t("documents_received_electronic"), t("documents_received")));
    put(ids::DOCUMENTS_SENT_SIGNED, fraction(t("documents_sent_signed"), t("documents_sent")));
    put(ids::WORK_RECORDS_ONLINE_PROVINCE, fraction(t("records_online/province"), t("records/province")));
    put(ids::WORK_RECORDS_ONLINE_COMMUNE, fraction(t("records_online/commune"), t("records/commune")));
    for group in TargetGroup::ALL {
        let certified = t(&format!("certified/{}", group.as_str()));
        put(ids::coverage_id(group), fraction(certified, population(group.as_str())));
    }
    put(ids::ADULT_VNEID_COVERAGE, fraction(t("certified_vneid/adult"), population("adult")));
    put(ids::HOUSEHOLD_COVERAGE, fraction(t("households"), population("household")));
    put(ids::CLASSES_HELD, count(t("classes")));
    put(ids::CLASS_ATTENDEES, count(t("attendees")));
    // Breakdowns: only the keys that occurred, as the API lists them.
    for (key, value) in &tally.0 {
        if let Some(procedure) = key.strip_prefix("resolved/") {
            let seconds = t(&format!("processing_seconds/{procedure}"));
            put(&format!("{}/{procedure}", ids::AVERAGE_RESOLUTION_TIME), fraction(seconds, *value));
        } else if let Some(topic) = key.strip_prefix("classes/") {
            put(&format!("{}/{topic}", ids::CLASSES_HELD), count(*value));
        } else if let Some(topic) = key.strip_prefix("attendees/") {
            put(&format!("{}/{topic}", ids::CLASS_ATTENDEES), count(*value));
        }
    }
    debug_assert!(DEFINITIONS.iter().all(|d| out.contains_key(d.id)), "every indicator has a truth");
    out
}

fn entry<'a>(dossiers: &'a mut BTreeMap<String, Dossier>, id: &str) -> &'a mut Dossier {
    dossiers.entry(id.to_owned()).or_default()
}

/// Unix second of local midnight starting `day`.
pub fn local_midnight(day: NaiveDate) -> i64 {
    let midnight: DateTime<FixedOffset> = crate::generate::local_time(day, 0, 0);
    midnight.timestamp()
}

/// The truth of `from..=to` straight from `events` (for one period; use [`Facts`] for many).
pub fn compute(events: &[Event], reference: &ReferenceData, from: NaiveDate, to: NaiveDate) -> GroundTruth {
    Facts::from_events(events).truth(reference, from, to)
}
