//! The ground truth: what every indicator must be, computed straight from the events the
//! simulator generated (each once), independently of the pipeline's rollups and SQL.
//!
//! The rules are the ones docs/indicators.md states, written here in their most direct form (for
//! example, "late" is read off the time the dossier's clock has run, not off a precomputed late
//! instant), so that a mistake in the pipeline's reading shows up as a difference.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Weekday};
use ioc_domain::indicators::{self as ids, DEFINITIONS};
use ioc_domain::rules::SUPPLEMENT_WAIT_SECONDS;
use ioc_domain::{
    Channel, DossierSnapshot, Event, EventBody, PaymentMethod, RecordLevel, ResultForm, Satisfaction, ServiceLevel,
    TargetGroup,
};
use ioc_reference::{ReferenceData, UnitKind};
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
    /// Codes of events whose unit the reference data does not list → what they add to the
    /// province's numbers (no unit shows them; they have no population of their own).
    #[serde(default)]
    pub unlisted: BTreeMap<String, BTreeMap<String, Expected>>,
}

/// What the simulator knows about one dossier, from its events.
#[derive(Debug, Clone, Default)]
pub struct Dossier {
    /// Unit that received it.
    pub unit: String,
    /// Procedure code.
    pub procedure: String,
    /// Reception instant (unix seconds); for the backlog, the one its snapshot states.
    pub received_at: i64,
    /// From when the pipeline follows it: its reception, or the go-live snapshot.
    pub tracked_from: i64,
    /// Entered through a go-live snapshot, not a reception event.
    pub backlog: bool,
    /// Clock time already paused before the snapshot (0 without one).
    pub paused_before: i64,
    /// Due instant.
    pub due_at: i64,
    /// Received online.
    pub online: bool,
    /// Its procedure's service level is full online ("toàn trình").
    pub full_online_level: bool,
    /// Of a fee-bearing procedure.
    pub fee_bearing: bool,
    /// Paid online.
    pub paid_online: bool,
    /// Has a digitised or reused component.
    pub digitised: bool,
    /// Reuses a digitised component.
    pub reused: bool,
    /// Supplement requests, in order.
    pub requests: Vec<i64>,
    /// Resumes, in order.
    pub resumes: Vec<i64>,
    /// First resolution event.
    pub resolution: Option<i64>,
    /// First withdrawal event.
    pub withdrawal: Option<i64>,
    /// Result returns: instant and whether electronic.
    pub results: Vec<(i64, bool)>,
    /// First rating: instant and whether the citizen was dissatisfied.
    pub rating: Option<(i64, bool)>,
    /// Feedback or a petition about its reception or handling.
    pub complained: bool,
}

/// A stretch of time the dossier's clock was stopped, for one supplement request: from the
/// request, or from the previous request's resume when this one was made while that one still
/// waited (the clock stops once), to its own resume (`None`: not resumed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    /// The request.
    pub requested: i64,
    /// When this pause stops the clock: the request, or the previous request's resume if later.
    pub from: i64,
    /// The resume, if it came.
    pub until: Option<i64>,
}

impl Pause {
    /// The clock time it stopped, up to `at` (the resume if it came, or `at`, whichever is first).
    pub fn seconds_before(&self, at: i64) -> i64 {
        (self.until.unwrap_or(i64::MAX).min(at) - self.from).max(0)
    }
}

impl Dossier {
    /// When the dossier ended by an event of its own (resolution or withdrawal), if it did.
    pub fn ended_by_event(&self) -> Option<i64> {
        match (self.resolution, self.withdrawal) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The pauses that stop the clock, read as the rule says, request after request: a request
    /// counts when it is made before the due time as already extended by the pauses before it,
    /// and while the dossier is still being handled. A request made while the one before still
    /// waits stops the clock only from that one's resume: overlapping waits are one pause, not
    /// their sum. A pause not resumed within the waiting time (counted from its own request)
    /// is the last one: the dossier is returned then.
    pub fn pauses(&self) -> Vec<Pause> {
        let ended = self.ended_by_event().unwrap_or(i64::MAX);
        let wait = i64::from(SUPPLEMENT_WAIT_SECONDS);
        let mut extended_due = self.due_at + self.paused_before;
        let mut out = Vec::new();
        for (index, &request) in self.requests.iter().enumerate() {
            if request >= ended || request >= extended_due {
                continue;
            }
            let previous_resume = index.checked_sub(1).and_then(|previous| self.resumes.get(previous)).copied();
            let from = previous_resume.map_or(request, |resume| resume.max(request));
            let resume = self.resumes.get(index).copied();
            let pause = Pause { requested: request, from, until: resume };
            out.push(pause);
            match resume {
                Some(resume) if resume - request <= wait => extended_due += pause.seconds_before(i64::MAX),
                // Unanswered, or answered after the waiting time: nothing after it counts.
                _ => break,
            }
        }
        out
    }

    /// When the dossier was returned for want of supplements, if it was.
    pub fn returned_at(&self) -> Option<i64> {
        let last = *self.pauses().last()?;
        let deadline = last.requested + i64::from(SUPPLEMENT_WAIT_SECONDS);
        let unanswered = last.until.is_none_or(|resume| resume > deadline);
        (unanswered && self.ended_by_event().is_none_or(|ended| deadline < ended)).then_some(deadline)
    }

    /// Seconds the dossier's clock ran from reception to `at`.
    pub fn active_seconds(&self, at: i64) -> i64 {
        let paused: i64 = self.pauses().iter().map(|pause| pause.seconds_before(at)).sum();
        at - self.received_at - self.paused_before - paused
    }

    /// Whether the clock had run past the allowed time at `at`.
    pub fn late_at(&self, at: i64) -> bool {
        self.active_seconds(at) > self.due_at - self.received_at
    }

    /// When it ended: the first of its resolution, withdrawal and return for want of
    /// supplements.
    pub fn closed_at(&self) -> Option<i64> {
        [self.ended_by_event(), self.returned_at()].into_iter().flatten().min()
    }

    /// The resolution, when it is how the dossier ended.
    pub fn resolved_at(&self) -> Option<i64> {
        self.resolution.filter(|at| Some(*at) == self.closed_at())
    }

    /// Whether it was open at `at`: followed before it, not ended before it.
    pub fn open_at(&self, at: i64) -> bool {
        self.tracked_from < at && self.closed_at().is_none_or(|closed| closed >= at)
    }

    /// Dissatisfied or complained about: 5.4 counts it against satisfaction.
    pub fn flagged(&self) -> bool {
        self.complained || self.rating.is_some_and(|(_, dissatisfied)| dissatisfied)
    }
}

/// A dossier's go-live snapshot, kept until every event has been read (its own reception, if it
/// ever arrives, wins).
struct Snapshot {
    at: i64,
    unit: String,
    body: DossierSnapshot,
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

/// A learner's first certificate and their VNeID confirmation.
struct Learner {
    unit: String,
    certified_at: i64,
    group: TargetGroup,
    adult: bool,
    confirmed_at: Option<i64>,
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
    /// Dossiers that were received (or taken over at go-live), by id.
    pub dossiers: BTreeMap<String, Dossier>,
    documents: Vec<Document>,
    records: Vec<Record>,
    learners: BTreeMap<String, Learner>,
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
        let mut snapshots: BTreeMap<String, Snapshot> = BTreeMap::new();
        let mut documents: BTreeMap<(bool, String, String, i32), Document> = BTreeMap::new();
        let mut confirmations: BTreeMap<String, i64> = BTreeMap::new();
        // A work record counts once, on its first close, as that close says (classified or
        // not, level, online); it is known by its unit and id. A class counts once, as first
        // reported (a report sent again with a corrected attendance changes nothing).
        let mut records: BTreeMap<(String, String), Option<Record>> = BTreeMap::new();
        let mut classes: BTreeMap<String, Class> = BTreeMap::new();
        let mut facts = Facts {
            dossiers: BTreeMap::new(),
            documents: Vec::new(),
            records: Vec::new(),
            learners: BTreeMap::new(),
            households: BTreeMap::new(),
            classes: Vec::new(),
            events: events.len(),
        };
        let mut sorted: Vec<&Event> = events.iter().collect();
        sorted.sort_by_key(|event| event.occurred_at);
        for event in sorted {
            let at = event.occurred_at.timestamp();
            let unit = event.unit_code.clone();
            match &event.body {
                EventBody::DossierReceived(d) => {
                    if received.insert(d.dossier_id.clone(), true).is_some() {
                        continue;
                    }
                    let entry = entry(&mut dossiers, &d.dossier_id);
                    entry.unit = unit;
                    entry.procedure = d.procedure_code.clone();
                    entry.received_at = at;
                    entry.tracked_from = at;
                    entry.due_at = d.due_at.timestamp();
                    entry.online = d.channel == Channel::Online;
                    entry.full_online_level = d.service_level == ServiceLevel::FullOnline;
                    entry.fee_bearing = d.fee_bearing;
                }
                EventBody::DossierSnapshot(s) => {
                    // What happened before go-live counts like the events it stands for
                    // (docs/indicators.md, "The backlog at go-live").
                    let entry = entry(&mut dossiers, &s.dossier_id);
                    let (digitised, reused) = (s.components_digitised.unwrap_or(0), s.components_reused.unwrap_or(0));
                    entry.digitised |= digitised > 0 || reused > 0;
                    entry.reused |= reused > 0;
                    entry.paid_online |= s.payment_method == Some(PaymentMethod::Online);
                    entry.complained |= s.complaint_subject.is_some_and(|subject| subject.about_the_dossier());
                    snapshots.entry(s.dossier_id.clone()).or_insert(Snapshot { at, unit, body: s.clone() });
                }
                EventBody::DossierDigitised(d) => {
                    let entry = entry(&mut dossiers, &d.dossier_id);
                    // A component reused from the data warehouse is a digitised one.
                    entry.digitised |= d.components_digitised > 0 || d.components_reused > 0;
                    entry.reused |= d.components_reused > 0;
                }
                EventBody::DossierPaid(p) => {
                    entry(&mut dossiers, &p.dossier_id).paid_online |= p.method == PaymentMethod::Online
                }
                EventBody::DossierSupplementRequested(d) => entry(&mut dossiers, &d.dossier_id).requests.push(at),
                EventBody::DossierResumed(d) => entry(&mut dossiers, &d.dossier_id).resumes.push(at),
                EventBody::DossierResolved(d) => {
                    entry(&mut dossiers, &d.dossier_id).resolution.get_or_insert(at);
                }
                EventBody::DossierWithdrawn(d) => {
                    entry(&mut dossiers, &d.dossier_id).withdrawal.get_or_insert(at);
                }
                EventBody::DossierResultReturned(r) => {
                    entry(&mut dossiers, &r.dossier_id).results.push((at, r.result_form == ResultForm::Electronic));
                }
                EventBody::DossierRated(r) => {
                    entry(&mut dossiers, &r.dossier_id)
                        .rating
                        .get_or_insert((at, r.satisfaction == Satisfaction::Dissatisfied));
                }
                EventBody::DossierComplaintFiled(c) => {
                    entry(&mut dossiers, &c.dossier_id).complained |= c.subject.about_the_dossier();
                }
                EventBody::DocumentSent(d) | EventBody::DocumentReceived(d) => {
                    // A document number is unique only within its agency, and within the
                    // local year: agencies number from 1 again every 1 January.
                    let sent = matches!(event.body, EventBody::DocumentSent(_));
                    let year = event.occurred_at.with_timezone(&ioc_domain::local_offset()).year();
                    documents.entry((sent, unit.clone(), d.document_id.clone(), year)).or_insert(Document {
                        unit,
                        at,
                        sent,
                        electronic: d.form == ResultForm::Electronic,
                        signed: d.digitally_signed,
                    });
                }
                EventBody::WorkRecordClosed(w) => {
                    let record = (!w.classified).then(|| Record {
                        unit: unit.clone(),
                        at,
                        level: w.level,
                        online: w.processed_online,
                    });
                    records.entry((unit, w.record_id.clone())).or_insert(record);
                }
                EventBody::SkillsCertified(s) => {
                    let first = facts.households.entry(s.household_ref.clone()).or_insert((at, unit.clone()));
                    if at < first.0 {
                        *first = (at, unit.clone());
                    }
                    if s.vneid_confirmed {
                        confirmations.entry(s.learner_id.clone()).or_insert(at);
                    }
                    facts.learners.entry(s.learner_id.clone()).or_insert(Learner {
                        unit,
                        certified_at: at,
                        group: s.target_group,
                        adult: of_adult_age(s),
                        confirmed_at: None,
                    });
                }
                EventBody::SkillsVneidConfirmed(c) => {
                    confirmations.entry(c.learner_id.clone()).or_insert(at);
                }
                EventBody::ClassHeld(c) => {
                    let class = Class { unit, at, topic: c.topic.as_str(), attendees: u64::from(c.attendees) };
                    classes.entry(c.class_id.clone()).or_insert(class);
                }
                _ => {}
            }
        }
        for (id, snapshot) in snapshots {
            let entry = entry(&mut dossiers, &id);
            // The clock time paused before go-live is known from the snapshot alone, even when
            // the dossier's own reception wins over it.
            entry.paused_before = i64::from(snapshot.body.paused_seconds);
            if received.contains_key(&id) {
                continue;
            }
            let s = snapshot.body;
            entry.unit = snapshot.unit;
            entry.procedure = s.procedure_code;
            entry.received_at = s.dossier_received_at.timestamp();
            entry.tracked_from = snapshot.at;
            entry.backlog = true;
            entry.due_at = s.due_at.timestamp();
            entry.online = s.channel == Channel::Online;
            entry.full_online_level = s.service_level == ServiceLevel::FullOnline;
            entry.fee_bearing = s.fee_bearing;
            received.insert(id, true);
        }
        for (id, learner) in &mut facts.learners {
            learner.confirmed_at = confirmations.get(id).copied();
        }
        for list in dossiers.values_mut() {
            list.requests.sort_unstable();
            list.resumes.sort_unstable();
        }
        dossiers.retain(|id, _| received.contains_key(id));
        facts.dossiers = dossiers;
        facts.documents = documents.into_values().collect();
        facts.records = records.into_values().flatten().collect();
        facts.classes = classes.into_values().collect();
        facts
    }

    /// The expected indicators of the local days `from..=to` for the province and every unit,
    /// today being the clock's (local).
    pub fn truth(&self, reference: &ReferenceData, from: NaiveDate, to: NaiveDate) -> GroundTruth {
        let today = ioc_domain::local_today();
        self.truth_as_of(reference, from, to, today)
    }

    /// [`Facts::truth`] on the day `today`: a week is judged once its Sunday is over, so the
    /// week ending `today` is not.
    pub fn truth_as_of(
        &self,
        reference: &ReferenceData,
        from: NaiveDate,
        to: NaiveDate,
        today: NaiveDate,
    ) -> GroundTruth {
        let start = local_midnight(from);
        let end = local_midnight(to + chrono::Days::new(1));
        let within = |at: i64| at >= start && at < end;
        let mut tallies: BTreeMap<&str, Tally> =
            reference.units.iter().map(|unit| (unit.code.as_str(), Tally::default())).collect();
        for dossier in self.dossiers.values() {
            let tally = tallies.entry(dossier.unit.as_str()).or_default();
            if !dossier.backlog && within(dossier.received_at) {
                tally.add("received", 1);
                tally.add("received_online", u64::from(dossier.online));
                tally.add("received_fee_bearing", u64::from(dossier.fee_bearing));
                tally.add("received_paid_online", u64::from(dossier.fee_bearing && dossier.paid_online));
                tally.add("received_reusing", u64::from(dossier.reused));
            }
            if let Some(resolved_at) = dossier.resolved_at().filter(|at| within(*at)) {
                let seconds = dossier.active_seconds(resolved_at).max(0).unsigned_abs();
                let late = dossier.late_at(resolved_at);
                tally.add("resolved", 1);
                tally.add("processing_seconds", seconds);
                tally.add(&format!("resolved/{}", dossier.procedure), 1);
                tally.add(&format!("processing_seconds/{}", dossier.procedure), seconds);
                tally.add("resolved_late", u64::from(late));
                tally.add("resolved_unsatisfactory", u64::from(late || dossier.flagged()));
                let electronic = dossier.results.iter().any(|(_, electronic)| *electronic);
                tally.add("resolved_digitised_electronic", u64::from(dossier.digitised && electronic));
                let wholly_online =
                    dossier.online && dossier.full_online_level && (!dossier.fee_bearing || dossier.paid_online);
                tally.add("resolved_full_online", u64::from(wholly_online));
            }
            if dossier.returned_at().is_some_and(within) {
                tally.add("returned_unsupplemented", 1);
            }
            if dossier.open_at(end) {
                let late = dossier.late_at(end);
                tally.add("open", 1);
                tally.add("open_late", u64::from(late));
                tally.add("open_unsatisfactory", u64::from(late || dossier.flagged()));
            }
            // The first return dates the result; it is electronic if any return was.
            if let Some(first) = dossier.results.iter().map(|(at, _)| *at).min().filter(|at| within(*at)) {
                debug_assert!(first >= start);
                tally.add("results", 1);
                tally.add("results_electronic", u64::from(dossier.results.iter().any(|(_, electronic)| *electronic)));
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
        for learner in self.learners.values().filter(|l| l.certified_at < end) {
            let tally = tallies.entry(learner.unit.as_str()).or_default();
            tally.add(&format!("certified/{}", learner.group.as_str()), 1);
            // An adult is a person of adult age, whatever their group.
            tally.add("certified_adult", u64::from(learner.adult));
            let confirmed = learner.confirmed_at.is_some_and(|at| at < end);
            tally.add("certified_adult_vneid", u64::from(learner.adult && confirmed));
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
        // Weekly classes: each commune, each week (Monday to Sunday) whose Sunday is in the
        // period and over, held at least one class or did not.
        let sundays: Vec<NaiveDate> =
            from.iter_days().take_while(|d| *d <= to).filter(|d| d.weekday() == Weekday::Sun && *d != today).collect();
        for unit in reference.units.iter().filter(|u| u.kind != UnitKind::Department) {
            let tally = tallies.entry(unit.code.as_str()).or_default();
            tally.add("commune_weeks", sundays.len() as u64);
            for sunday in &sundays {
                let week_start = local_midnight(*sunday - chrono::Days::new(6));
                let week_end = local_midnight(*sunday + chrono::Days::new(1));
                let held = self.classes.iter().any(|c| c.unit == unit.code && c.at >= week_start && c.at < week_end);
                tally.add("class_weeks", u64::from(held));
            }
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
        let unlisted = tallies
            .iter()
            .filter(|(code, _)| !reference.has_unit(code))
            .map(|(code, tally)| ((*code).to_owned(), expectations(tally, &|_| 0)))
            .collect();
        GroundTruth {
            from,
            to,
            events: self.events,
            province: expectations(&whole, &province_population),
            units,
            unlisted,
        }
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
    let unsatisfactory = t("resolved_unsatisfactory") + t("open_unsatisfactory");
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
    put(ids::SATISFACTION_INDEX, fraction(handled - unsatisfactory, handled));
    put(ids::DOSSIERS_RECEIVED, count(t("received")));
    put(ids::DOSSIERS_RESOLVED, count(t("resolved")));
    put(ids::DOSSIERS_IN_PROGRESS, count(t("open")));
    put(ids::DOSSIERS_LATE, count(late));
    put(ids::FULLY_ONLINE_RATE, fraction(t("resolved_full_online"), t("resolved")));
    put(ids::DOSSIERS_RETURNED_UNSUPPLEMENTED, count(t("returned_unsupplemented")));
    put(ids::DOCUMENTS_SENT_ELECTRONIC, fraction(t("documents_sent_electronic"), t("documents_sent")));
    put(ids::DOCUMENTS_RECEIVED_ELECTRONIC, fraction(t("documents_received_electronic"), t("documents_received")));
    put(ids::DOCUMENTS_SENT_SIGNED, fraction(t("documents_sent_signed"), t("documents_sent")));
    put(ids::WORK_RECORDS_ONLINE_PROVINCE, fraction(t("records_online/province"), t("records/province")));
    put(ids::WORK_RECORDS_ONLINE_COMMUNE, fraction(t("records_online/commune"), t("records/commune")));
    for group in TargetGroup::ALL.into_iter().filter(|g| *g != TargetGroup::Adult) {
        let certified = t(&format!("certified/{}", group.as_str()));
        put(ids::coverage_id(group), fraction(certified, population(group.as_str())));
    }
    put(ids::SKILLS_COVERAGE_ADULT, fraction(t("certified_adult"), population("adult")));
    put(ids::ADULT_VNEID_COVERAGE, fraction(t("certified_adult_vneid"), population("adult")));
    put(ids::HOUSEHOLD_COVERAGE, fraction(t("households"), population("household")));
    put(ids::CLASSES_HELD, count(t("classes")));
    put(ids::CLASS_ATTENDEES, count(t("attendees")));
    put(ids::WEEKLY_CLASS_COVERAGE, fraction(t("class_weeks"), t("commune_weeks")));
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

/// Whether a certificate's learner is of adult age, as docs/indicators.md ("Digital skills")
/// says it: the certificate's own word, or else the group's (public-sector staff, workers and
/// the community's adults are; pupils are not). Spelled out here rather than taken from the
/// domain crate's default, which the processor uses: a mistake there must show as a difference.
fn of_adult_age(certificate: &ioc_domain::SkillsCertified) -> bool {
    use ioc_domain::TargetGroup;
    certificate.of_adult_age.unwrap_or(match certificate.target_group {
        TargetGroup::CivilServant | TargetGroup::Worker | TargetGroup::Adult => true,
        // A student's certificate must say (the schema requires it); a pupil is not.
        TargetGroup::Student | TargetGroup::Pupil => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3600;

    /// A dossier received at 0, due after 100 hours, with these requests and resumes (hours).
    fn dossier(requests: &[i64], resumes: &[i64]) -> Dossier {
        Dossier {
            due_at: 100 * HOUR,
            requests: requests.iter().map(|h| h * HOUR).collect(),
            resumes: resumes.iter().map(|h| h * HOUR).collect(),
            ..Dossier::default()
        }
    }

    #[test]
    fn overlapping_waits_stop_the_clock_once() {
        // The second request comes while the first waits (10..40); its answer at 60. The clock
        // stops from 10 to 60: 50 hours, not 30 + 40.
        let d = dossier(&[10, 20], &[40, 60]);
        let pauses = d.pauses();
        assert_eq!(
            pauses.iter().map(|p| (p.requested / HOUR, p.from / HOUR)).collect::<Vec<_>>(),
            [(10, 10), (20, 40)]
        );
        assert_eq!(d.active_seconds(70 * HOUR), 20 * HOUR);
        assert!(!d.late_at(150 * HOUR) && d.late_at(151 * HOUR));
    }

    #[test]
    fn an_unanswered_request_made_during_a_wait_runs_from_its_own_time_to_the_return() {
        // The clock stops from 10 and never runs again; the return comes 30 days after the
        // second request, not the first's resume.
        let d = dossier(&[10, 20], &[40]);
        assert_eq!(d.active_seconds(1000 * HOUR), 10 * HOUR);
        assert_eq!(d.returned_at(), Some(20 * HOUR + i64::from(SUPPLEMENT_WAIT_SECONDS)));
    }
}
