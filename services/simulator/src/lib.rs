//! ioc-simulator: emulates the province's three kinds of source systems, sends their telemetry
//! to ioc-ingest like a real source (with duplicates, reordering and late events on request),
//! and writes the ground truth: the indicator values those events must produce.

pub mod canary;
pub mod delivery;
pub mod generate;
pub mod sender;
pub mod truth;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate};
use ioc_domain::{Event, EventBody, Source};
use ioc_reference::ReferenceData;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use canary::{Canary, ProbeError};
pub use delivery::{Batch, Faults, Injected};
pub use generate::Scenario;
pub use sender::{SendError, SendReport, Sender};
pub use truth::{Expected, Facts, GroundTruth};

/// A generated run: the events, how they will be delivered, and what they must add up to.
pub struct Simulation {
    /// Every event once, in event-time order.
    pub events: Vec<Event>,
    /// The batches to send, faults included.
    pub batches: Vec<Batch>,
    /// What was injected.
    pub injected: Injected,
    /// The expected indicators.
    pub truth: GroundTruth,
    /// The clear personal identifiers the events carry (to check they never reach storage).
    pub clear_identifiers: Vec<String>,
}

impl Simulation {
    /// Its events whose unit `reference` does not list (the simulated ward that is not in the
    /// reference data yet, `generate::UNLISTED_UNIT_CODE`): the processor counts them apart.
    pub fn unlisted_events(&self, reference: &ReferenceData) -> usize {
        self.events.iter().filter(|event| !reference.has_unit(&event.unit_code)).count()
    }

    /// The same, of one source only.
    pub fn unlisted_events_of(&self, source: Source, reference: &ReferenceData) -> usize {
        self.events.iter().filter(|event| event.source == source && !reference.has_unit(&event.unit_code)).count()
    }

    /// How many document numbers (`sent`, or received) one agency gave in two local years: the
    /// documents that only the year in their identity keeps apart (docs/indicators.md).
    pub fn documents_numbered_in_both_years(&self, sent: bool) -> usize {
        use chrono::Datelike;
        let mut years: BTreeMap<(&str, &str), BTreeSet<i32>> = BTreeMap::new();
        for event in &self.events {
            let number = match (&event.body, sent) {
                (EventBody::DocumentSent(d), true) | (EventBody::DocumentReceived(d), false) => &d.document_id,
                _ => continue,
            };
            let year = event.occurred_at.with_timezone(&ioc_domain::local_offset()).year();
            years.entry((event.unit_code.as_str(), number.as_str())).or_default().insert(year);
        }
        years.values().filter(|years| years.len() > 1).count()
    }
}

/// Generates a run; the same seed and inputs give the same run.
pub fn simulate(
    seed: u64,
    scenario: &Scenario,
    faults: Faults,
    batch_size: usize,
    reference: &ReferenceData,
) -> Simulation {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (events, clear_identifiers) = generate::generate(scenario, reference, &mut rng);
    let (batches, injected) = delivery::plan(&events, faults, batch_size, &mut rng);
    let last_day = scenario.start + Duration::days(i64::from(scenario.days.max(1)) - 1);
    let truth = truth::compute(&events, reference, scenario.start, last_day);
    Simulation { events, batches, injected, truth, clear_identifiers }
}

/// Keys from a `source → key` list, for [`Sender::new`].
pub fn keys(pairs: &[(Source, String)]) -> BTreeMap<Source, String> {
    pairs.iter().cloned().collect()
}

/// The first day of a scenario that ends yesterday (local time), for demos.
pub fn days_ending_yesterday(days: u32) -> NaiveDate {
    let today = ioc_domain::local_today();
    today - Duration::days(i64::from(days))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn reference() -> ReferenceData {
        ReferenceData::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/reference")).expect("reference")
    }

    fn scenario() -> Scenario {
        Scenario { start: NaiveDate::from_ymd_opt(2026, 10, 1).expect("date"), days: 5, scale: 0.01 }
    }

    #[test]
    fn scenarios_generated_apart_never_share_an_entity() {
        // ioc_bench loads a year a month at a time, and its freshness part sends live days on
        // top: a shared dossier or document would merge unrelated entities across months.
        let reference = reference();
        let entities = |start: NaiveDate| -> std::collections::BTreeSet<(String, String)> {
            let scenario = Scenario { start, days: 3, scale: 0.02 };
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
            let (events, _) = generate::generate(&scenario, &reference, &mut rng);
            events.iter().map(|e| (e.unit_code.clone(), e.body.entity_id().to_owned())).collect()
        };
        let first = entities(NaiveDate::from_ymd_opt(2026, 9, 1).expect("date"));
        let second = entities(NaiveDate::from_ymd_opt(2026, 9, 4).expect("date"));
        assert!(first.len() > 100 && second.len() > 100, "{} and {} entities", first.len(), second.len());
        let shared: Vec<_> = first.intersection(&second).take(5).collect();
        assert!(shared.is_empty(), "shared entities: {shared:?}");
        // Not by luck: every serial (ids end with one, document numbers start with one) of the
        // later scenario is above every serial of the earlier one.
        let serials = |entities: &std::collections::BTreeSet<(String, String)>| -> Vec<u64> {
            entities
                .iter()
                .filter_map(|(_, id)| {
                    let digits = match id.split_once('/') {
                        Some((number, _)) => number,
                        None => id.rsplit('-').next().unwrap_or_default(),
                    };
                    digits.parse().ok()
                })
                .collect()
        };
        let (earlier, later) = (serials(&first), serials(&second));
        assert!(earlier.len() > 100 && later.len() > 100, "{} and {} serials", earlier.len(), later.len());
        let (highest, lowest) = (earlier.iter().max().copied(), later.iter().min().copied());
        assert!(
            highest < lowest,
            "serials overlap: the earlier scenario reaches {highest:?}, the later starts at {lowest:?}"
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_run() {
        let reference = reference();
        let faults = Faults { duplicates: 0.05, reorder: 0.05, late: 0.02 };
        let a = simulate(7, &scenario(), faults, 200, &reference);
        let b = simulate(7, &scenario(), faults, 200, &reference);
        assert_eq!(a.events, b.events);
        assert_eq!(a.truth, b.truth);
        let c = simulate(8, &scenario(), faults, 200, &reference);
        assert_ne!(a.events, c.events);
    }

    #[test]
    fn faults_are_injected_and_every_event_is_still_delivered() {
        let reference = reference();
        let faults = Faults { duplicates: 0.05, reorder: 0.05, late: 0.02 };
        let run = simulate(11, &scenario(), faults, 200, &reference);
        let sent: usize = run.batches.iter().map(|b| b.events.len()).sum();
        assert_eq!(sent, run.events.len() + run.injected.duplicates);
        assert!(
            run.injected.duplicates > 0 && run.injected.reordered > 0 && run.injected.late > 0,
            "{:?}",
            run.injected
        );
        let mut ids: Vec<_> = run.batches.iter().flat_map(|b| b.events.iter().map(|e| e.event_id)).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), run.events.len());
        assert!(run.batches.iter().all(|b| b.events.iter().all(|e| e.source == b.source)));
    }

    #[test]
    fn late_events_arrive_up_to_a_week_behind_their_time() {
        let reference = reference();
        let scenario = Scenario { start: NaiveDate::from_ymd_opt(2026, 3, 1).expect("date"), days: 20, scale: 0.01 };
        let run = simulate(5, &scenario, Faults { late: 0.02, ..Faults::default() }, 200, &reference);
        let mut worst = 0;
        for source in Source::ALL {
            let mut newest_sent = 0;
            for event in run.batches.iter().filter(|b| b.source == source).flat_map(|b| &b.events) {
                let at = event.occurred_at.timestamp();
                worst = worst.max(newest_sent - at);
                newest_sent = newest_sent.max(at);
            }
        }
        assert!(worst > 86_400 && worst <= delivery::MAX_LATENESS_DAYS * 86_400, "latest arrival {worst} s behind");
    }

    #[test]
    fn some_dossiers_stall_and_are_resolved_months_after_their_due_time() {
        // Longer than the pipeline's scenario: a stalled dossier's resolution comes 30 to 90
        // days late. They stay overdue across month ends, and their late events reach the rollup
        // long after their reception.
        let scenario = Scenario { start: NaiveDate::from_ymd_opt(2026, 3, 1).expect("date"), days: 150, scale: 0.005 };
        let run = simulate(20260301, &scenario, Faults::default(), 250, &reference());
        let facts = Facts::from_events(&run.events);
        let month = 30 * 86_400;
        let stalled = facts
            .dossiers
            .values()
            .filter(|d| d.resolved_at().is_some_and(|at| at > d.due_at + d.paused_before + month))
            .count();
        let resolved = facts.dossiers.values().filter(|d| d.resolved_at().is_some()).count();
        // One in 150 (PASSED_ON_EVERY's kind of rule); the others are at most five days late.
        assert!(stalled > 0 && stalled * 100 < resolved, "{stalled} stalled of {resolved} resolved");
    }

    /// The scenario of the end-to-end pipeline test (tests/e2e/tests/pipeline.rs).
    fn pipeline_scenario() -> Scenario {
        Scenario { start: NaiveDate::from_ymd_opt(2026, 10, 1).expect("date"), days: 10, scale: 0.02 }
    }

    /// Agencies number documents from 1 again every 1 January: days on both sides of it give
    /// the same numbers again, sent and received, which the e-documents' rule must keep apart
    /// (tests/e2e/tests/new_year.rs runs the same scenario through the pipeline).
    #[test]
    fn document_numbers_start_again_in_a_new_year() {
        let scenario = Scenario { start: NaiveDate::from_ymd_opt(2025, 12, 25).expect("date"), days: 14, scale: 0.03 };
        let run = simulate(20260101, &scenario, Faults::default(), 250, &reference());
        for sent in [true, false] {
            let again = run.documents_numbered_in_both_years(sent);
            assert!(again > 20, "sent {sent}: only {again} numbers given in both years");
        }
    }

    #[test]
    fn every_case_the_rules_handle_occurs_in_the_pipeline_scenario() {
        use chrono::{Datelike, Timelike};
        use ioc_domain::{ComplaintSubject, EventBody, ResultForm, Satisfaction};
        let reference = reference();
        let scenario = pipeline_scenario();
        let run = simulate(20261001, &scenario, Faults::default(), 250, &reference);
        let facts = Facts::from_events(&run.events);
        let start = truth::local_midnight(scenario.start);
        let end = scenario.end().timestamp();
        let dossiers: Vec<&truth::Dossier> = facts.dossiers.values().collect();
        let count = |what: &dyn Fn(&truth::Dossier) -> bool| dossiers.iter().filter(|d| what(d)).count();
        let mut cases: Vec<(&str, usize)> = vec![
            ("several counted supplement pauses", count(&|d| d.pauses().len() >= 2)),
            (
                "a request after the due time, before the due time extended by earlier pauses",
                count(&|d| d.pauses().iter().any(|p| p.requested > d.due_at + d.paused_before)),
            ),
            (
                "a request made while the one before waits, both answered (one pause)",
                count(&|d| d.pauses().windows(2).any(|p| p[1].requested < p[1].from && p[1].until.is_some())),
            ),
            (
                "a request made while the one before waits, never answered (one pause)",
                count(&|d| d.pauses().windows(2).any(|p| p[1].requested < p[1].from && p[1].until.is_none())),
            ),
            (
                "resolved while a request made during the wait before waits, never answered",
                count(&|d| {
                    d.resolved_at().is_some_and(|at| {
                        d.pauses()
                            .windows(2)
                            .any(|p| p[1].requested < p[1].from && p[1].until.is_none() && p[1].requested < at)
                    })
                }),
            ),
            (
                "a request made when already late, the dossier still open (not counted)",
                count(&|d| {
                    let counted: Vec<i64> = d.pauses().iter().map(|p| p.requested).collect();
                    d.requests.iter().any(|r| {
                        !counted.contains(r) && d.closed_at().is_none_or(|closed| *r < closed) && d.late_at(*r)
                    })
                }),
            ),
            (
                "withdrawn after the return for want of supplements (changes nothing)",
                count(&|d| d.withdrawal.is_some_and(|w| w < end && d.returned_at().is_some_and(|r| r < w))),
            ),
            (
                "a request after the dossier ended (not counted)",
                count(&|d| d.ended_by_event().is_some_and(|ended| d.requests.iter().any(|r| *r > ended))),
            ),
            ("returned for want of supplements within the run", count(&|d| d.returned_at().is_some_and(|at| at < end))),
            (
                "answered after the waiting time, within the run (returned all the same)",
                count(&|d| {
                    let wait = i64::from(ioc_domain::rules::SUPPLEMENT_WAIT_SECONDS);
                    d.pauses().last().is_some_and(|p| p.until.is_some_and(|u| u - p.requested > wait && u < end))
                }),
            ),
            (
                "a request after the return (not counted)",
                count(&|d| d.returned_at().is_some_and(|at| d.requests.iter().any(|r| *r > at && *r < end))),
            ),
            (
                "resolved after the return, within the run (not counted)",
                count(&|d| {
                    d.returned_at()
                        .zip(d.resolution)
                        .is_some_and(|(returned, resolved)| returned < resolved && resolved < end)
                }),
            ),
            (
                "resolved while a counted request waits, resumed after",
                count(&|d| {
                    d.resolved_at().is_some_and(|at| {
                        d.pauses().iter().any(|p| p.from < at && p.until.is_some_and(|u| u > at && u < end))
                    })
                }),
            ),
            (
                "resolved while a counted request waits, never resumed",
                count(&|d| {
                    d.resolved_at()
                        .is_some_and(|at| at < end && d.pauses().iter().any(|p| p.from < at && p.until.is_none()))
                }),
            ),
            (
                "received between 00:00 and 07:00 local time (the UTC day before)",
                count(&|d| {
                    !d.backlog && d.received_at >= start && (d.received_at + 7 * 3600).rem_euclid(86_400) < 7 * 3600
                }),
            ),
            ("the backlog at go-live", count(&|d| d.backlog)),
            (
                "the backlog waiting for supplements at go-live",
                count(&|d| d.backlog && d.requests.first().is_some_and(|r| *r < start)),
            ),
            (
                "the backlog with several requests waiting at go-live (each sent at its own time)",
                count(&|d| d.backlog && d.requests.iter().filter(|r| **r < start).count() >= 2),
            ),
            (
                "the backlog returned within the run",
                count(&|d| d.backlog && d.returned_at().is_some_and(|at| at < end)),
            ),
            (
                "late and rated dissatisfied",
                count(&|d| d.resolved_at().is_some_and(|at| d.late_at(at)) && d.rating.is_some_and(|(_, bad)| bad)),
            ),
            ("complained about (counted)", count(&|d| d.complained)),
            ("withdrawn", count(&|d| d.withdrawal.is_some())),
            ("withdrawn after its resolution", count(&|d| d.resolution.zip(d.withdrawal).is_some_and(|(r, w)| r < w))),
            ("resolved after its withdrawal", count(&|d| d.resolution.zip(d.withdrawal).is_some_and(|(r, w)| w < r))),
            (
                "withdrawn while waiting for supplements",
                count(&|d| d.withdrawal.is_some() && d.pauses().last().is_some_and(|p| p.until.is_none())),
            ),
            (
                "results returned twice, paper then electronic",
                count(&|d| d.results.len() > 1 && !d.results[0].1 && d.results[1].1),
            ),
            (
                "results returned twice, electronic then paper",
                count(&|d| d.results.len() > 1 && d.results[0].1 && !d.results[1].1),
            ),
            ("wholly online", count(&|d| d.online && d.full_online_level && d.resolved_at().is_some())),
        ];
        let events = |what: &dyn Fn(&EventBody) -> bool| run.events.iter().filter(|e| what(&e.body)).count();
        cases.push(("reused-only components", events(&|b| matches!(b, EventBody::DossierDigitised(d) if d.components_digitised == 0 && d.components_reused > 0))));
        cases.push((
            "complaints about the regulation (not counted)",
            events(&|b| matches!(b, EventBody::DossierComplaintFiled(c) if c.subject == ComplaintSubject::Regulation)),
        ));
        let snapshot = |what: &dyn Fn(&ioc_domain::DossierSnapshot) -> bool| {
            events(&|b| matches!(b, EventBody::DossierSnapshot(s) if what(s)))
        };
        cases.push((
            "the backlog digitised before go-live (said by its snapshot)",
            snapshot(&|s| s.components_digitised.is_some() || s.components_reused.is_some()),
        ));
        cases.push((
            "the backlog paid online before go-live",
            snapshot(&|s| s.payment_method == Some(ioc_domain::PaymentMethod::Online)),
        ));
        cases.push((
            "the backlog complained about before go-live",
            snapshot(&|s| s.complaint_subject.is_some_and(|subject| subject.about_the_dossier())),
        ));
        cases.push((
            "VNeID confirmed after the certificate",
            events(&|b| matches!(b, EventBody::SkillsVneidConfirmed(_))),
        ));
        let mut certified: std::collections::BTreeMap<&str, chrono::DateTime<chrono::FixedOffset>> = Default::default();
        for event in &run.events {
            if let EventBody::SkillsCertified(c) = &event.body {
                certified.entry(c.learner_id.as_str()).or_insert(event.occurred_at);
            }
        }
        cases.push((
            "VNeID confirmed before the certificate",
            run.events
                .iter()
                .filter(|e| {
                    matches!(&e.body, EventBody::SkillsVneidConfirmed(c)
                        if certified.get(c.learner_id.as_str()).is_some_and(|at| e.occurred_at < *at))
                })
                .count(),
        ));
        cases.push((
            "classes held on a Monday before 07:00 local time (the UTC week before)",
            run.events
                .iter()
                .filter(|e| matches!(e.body, EventBody::ClassHeld(_)))
                .map(|e| e.occurred_at.with_timezone(&ioc_domain::local_offset()))
                .filter(|at| at.weekday() == chrono::Weekday::Mon && at.hour() < 7)
                .count(),
        ));
        let mut household_units: std::collections::BTreeMap<&str, std::collections::BTreeSet<&str>> =
            Default::default();
        for event in &run.events {
            if let EventBody::SkillsCertified(c) = &event.body {
                household_units.entry(c.household_ref.as_str()).or_default().insert(event.unit_code.as_str());
            }
        }
        cases.push((
            "households with members certified in two units (the first counts)",
            household_units.values().filter(|units| units.len() > 1).count(),
        ));
        cases.push(("students of adult age", events(&|b| matches!(b, EventBody::SkillsCertified(c) if c.of_adult_age == Some(true) && c.target_group == ioc_domain::TargetGroup::Student))));
        cases.push((
            "primary pupils certified",
            events(&|b| matches!(b, EventBody::SkillsCertified(c) if c.target_group == ioc_domain::TargetGroup::Pupil)),
        ));
        cases.push((
            "electronic results",
            events(&|b| matches!(b, EventBody::DossierResultReturned(r) if r.result_form == ResultForm::Electronic)),
        ));
        cases.push((
            "dissatisfied ratings",
            events(&|b| matches!(b, EventBody::DossierRated(r) if r.satisfaction == Satisfaction::Dissatisfied)),
        ));
        // The same document number at two agencies.
        let mut numbers: std::collections::BTreeMap<&str, std::collections::BTreeSet<&str>> = Default::default();
        for event in &run.events {
            if let EventBody::DocumentSent(d) = &event.body {
                numbers.entry(d.document_id.as_str()).or_default().insert(event.unit_code.as_str());
            }
        }
        cases.push((
            "document numbers shared by several agencies",
            numbers.values().filter(|units| units.len() > 1).count(),
        ));
        // What the e-documents' and skills' rules read apart, which the seed happened to give
        // until these were listed.
        cases.push((
            "classified work records (left out)",
            events(&|b| matches!(b, EventBody::WorkRecordClosed(w) if w.classified)),
        ));
        for (what, level) in [
            ("work records closed at province level", ioc_domain::RecordLevel::Province),
            ("work records closed at commune level", ioc_domain::RecordLevel::Commune),
        ] {
            cases.push((what, events(&|b| matches!(b, EventBody::WorkRecordClosed(w) if w.level == level))));
        }
        cases.push((
            "work records closed between 00:00 and 07:00 local time (the UTC day before)",
            run.events
                .iter()
                .filter(|e| matches!(e.body, EventBody::WorkRecordClosed(_)))
                .filter(|e| e.occurred_at.with_timezone(&ioc_domain::local_offset()).hour() < 7)
                .count(),
        ));
        let exchanged = |what: &dyn Fn(&ioc_domain::DocumentExchanged) -> bool| {
            events(&|b| match b {
                EventBody::DocumentSent(d) | EventBody::DocumentReceived(d) => what(d),
                _ => false,
            })
        };
        cases.push(("paper documents", exchanged(&|d| d.form == ResultForm::Paper)));
        cases.push((
            "electronic documents not digitally signed",
            exchanged(&|d| d.form == ResultForm::Electronic && !d.digitally_signed),
        ));
        cases.push((
            "certificates confirmed on VNeID when issued",
            events(&|b| matches!(b, EventBody::SkillsCertified(c) if c.vneid_confirmed)),
        ));
        // A commune's week without a class, and one with.
        let truth = &run.truth;
        let weeks = truth.units.values().filter_map(|u| u["weekly_class_coverage"].denominator).sum::<u64>();
        let with_class = truth.province["weekly_class_coverage"].numerator;
        cases.push(("classes held by departments (not communes)", {
            let departments: Vec<&str> = reference
                .units
                .iter()
                .filter(|u| u.kind == ioc_reference::UnitKind::Department)
                .map(|u| u.code.as_str())
                .collect();
            run.events
                .iter()
                .filter(|e| matches!(e.body, EventBody::ClassHeld(_)) && departments.contains(&e.unit_code.as_str()))
                .count()
        }));
        // Entities reported more than once: each counts once, as its first report says (a
        // payment: online if either was).
        let mut reports: std::collections::BTreeMap<(&str, &str), (usize, std::collections::BTreeSet<&str>)> =
            Default::default();
        for event in &run.events {
            let (kind, id) = match &event.body {
                EventBody::DossierReceived(d) => ("received", d.dossier_id.as_str()),
                EventBody::WorkRecordClosed(w) => ("closed", w.record_id.as_str()),
                EventBody::ClassHeld(c) => ("held", c.class_id.as_str()),
                EventBody::DossierRated(r) => ("rated", r.dossier_id.as_str()),
                EventBody::DossierPaid(p) => ("paid", p.dossier_id.as_str()),
                EventBody::SkillsCertified(c) => ("certified", c.learner_id.as_str()),
                _ => continue,
            };
            let (times, units) = reports.entry((kind, id)).or_default();
            *times += 1;
            units.insert(event.unit_code.as_str());
        }
        let twice = |kind: &str, units: usize| {
            reports.iter().filter(|((k, _), (times, u))| *k == kind && *times == 2 && u.len() == units).count()
        };
        cases.push(("dossiers rated twice, the other way round (the first counts)", twice("rated", 1)));
        cases.push(("dossiers paid twice, once online", twice("paid", 1)));
        cases.push(("learners certified twice (counted once, on the first)", twice("certified", 1)));
        cases.push(("dossiers passed on to a department, received by both", twice("received", 2)));
        let snapshots: std::collections::BTreeSet<&str> = run
            .events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::DossierSnapshot(s) => Some(s.dossier_id.as_str()),
                _ => None,
            })
            .collect();
        cases.push((
            "the backlog's reception sent after its snapshot (the reception wins)",
            reports.keys().filter(|(kind, id)| *kind == "received" && snapshots.contains(id)).count(),
        ));
        let opened: std::collections::BTreeSet<&str> = run
            .events
            .iter()
            .filter_map(|e| match &e.body {
                EventBody::DossierReceived(d) => Some(d.dossier_id.as_str()),
                EventBody::DossierSnapshot(s) => Some(s.dossier_id.as_str()),
                _ => None,
            })
            .collect();
        cases.push((
            "events after go-live of dossiers closed before it, with no reception nor snapshot (counted nowhere)",
            run.events.iter().filter(|e| e.source == Source::Portal && !opened.contains(e.body.entity_id())).count(),
        ));
        cases.push(("work records closed twice", twice("closed", 1)));
        cases.push(("classes reported twice", twice("held", 1)));
        // A later report that says otherwise on what the first decides: the first must win.
        let mut bodies: std::collections::BTreeMap<(&str, &str, &str), Vec<&ioc_domain::Event>> = Default::default();
        for event in &run.events {
            let key = match &event.body {
                EventBody::SkillsCertified(c) => ("certified", "", c.learner_id.as_str()),
                EventBody::ClassHeld(c) => ("held", "", c.class_id.as_str()),
                EventBody::WorkRecordClosed(w) => ("closed", event.unit_code.as_str(), w.record_id.as_str()),
                EventBody::DocumentSent(d) => ("sent", event.unit_code.as_str(), d.document_id.as_str()),
                EventBody::DocumentReceived(d) => ("got", event.unit_code.as_str(), d.document_id.as_str()),
                _ => continue,
            };
            bodies.entry(key).or_default().push(event);
        }
        let differing = |kind: &str, differ: &dyn Fn(&ioc_domain::Event, &ioc_domain::Event) -> bool| {
            bodies
                .iter()
                .filter(|((k, _, _), reports)| *k == kind && reports.len() == 2 && differ(reports[0], reports[1]))
                .count()
        };
        let local_day = |e: &ioc_domain::Event| e.occurred_at.with_timezone(&ioc_domain::local_offset()).date_naive();
        cases.push((
            "a second certificate in another group, of the other adult age, confirmed on VNeID the other way",
            differing("certified", &|a, b| match (&a.body, &b.body) {
                (EventBody::SkillsCertified(a), EventBody::SkillsCertified(b)) => {
                    a.target_group != b.target_group
                        && a.of_adult_age() != b.of_adult_age()
                        && a.vneid_confirmed != b.vneid_confirmed
                }
                _ => false,
            }),
        ));
        let held_again = |other_week: bool| {
            differing("held", &|a, b| match (&a.body, &b.body) {
                (EventBody::ClassHeld(x), EventBody::ClassHeld(y)) => {
                    x.topic != y.topic
                        && local_day(a) != local_day(b)
                        && (local_day(a).iso_week() != local_day(b).iso_week()) == other_week
                }
                _ => false,
            })
        };
        cases.push(("a class reported again later in its week with another topic", held_again(false)));
        cases.push(("a class reported again in the next week with another topic", held_again(true)));
        cases.push((
            "a work record closed again, classified the other way",
            differing("closed", &|a, b| match (&a.body, &b.body) {
                (EventBody::WorkRecordClosed(x), EventBody::WorkRecordClosed(y)) => x.classified != y.classified,
                _ => false,
            }),
        ));
        let form = |e: &ioc_domain::Event| match &e.body {
            EventBody::DocumentSent(d) | EventBody::DocumentReceived(d) => Some(d.form),
            _ => None,
        };
        for (kind, first, then, what) in [
            (
                "sent",
                ResultForm::Paper,
                ResultForm::Electronic,
                "documents sent on paper, then electronically days later",
            ),
            (
                "sent",
                ResultForm::Electronic,
                ResultForm::Paper,
                "documents sent electronically, then on paper days later",
            ),
            (
                "got",
                ResultForm::Paper,
                ResultForm::Electronic,
                "documents received on paper, then electronically days later",
            ),
            (
                "got",
                ResultForm::Electronic,
                ResultForm::Paper,
                "documents received electronically, then on paper days later",
            ),
        ] {
            let count = differing(kind, &|a, b| {
                form(a) == Some(first) && form(b) == Some(then) && local_day(a) != local_day(b)
            });
            cases.push((what, count));
        }
        cases.push(("commune weeks with a class", usize::try_from(with_class).unwrap_or(0)));
        cases.push(("commune weeks without a class", usize::try_from(weeks - with_class).unwrap_or(0)));
        for (what, source) in [
            ("dossiers of a unit the reference data does not list", Source::Portal),
            ("e-documents and work records of a unit the reference data does not list", Source::Edoc),
            ("classes of a unit the reference data does not list", Source::Training),
        ] {
            cases.push((what, run.unlisted_events_of(source, &reference)));
        }
        let missing: Vec<&str> = cases.iter().filter(|(_, n)| *n == 0).map(|(what, _)| *what).collect();
        assert!(missing.is_empty(), "the simulator never produces: {missing:?}; all: {cases:?}");
    }

    #[test]
    fn province_truth_adds_up_from_the_units_and_rates_are_realistic() {
        let reference = reference();
        let run = simulate(3, &scenario(), Faults::default(), 200, &reference);
        // The units the reference data lists, and the one it does not list yet.
        assert!(run.truth.unlisted.contains_key(generate::UNLISTED_UNIT_CODE), "{:?}", run.truth.unlisted.keys());
        for (id, province) in &run.truth.province {
            let numerators: u64 = run
                .truth
                .units
                .values()
                .chain(run.truth.unlisted.values())
                .map(|unit| unit.get(id).map_or(0, |e| e.numerator))
                .sum();
            assert_eq!(numerators, province.numerator, "{id}");
        }
        let online = run.truth.province["online_submission_rate"];
        let denominator = online.denominator.unwrap_or(0);
        let rate = online.numerator as f64 / denominator as f64;
        assert!(denominator > 100 && (0.75..0.95).contains(&rate), "{online:?}");
        // Every kind of fact shows up, so every indicator is exercised.
        for id in
            ["dossiers_late", "dossiers_in_progress", "classes_held", "household_coverage", "adult_vneid_coverage"]
        {
            assert!(run.truth.province[id].numerator > 0, "{id} is zero: {:?}", run.truth.province[id]);
        }
    }
}
