//! The ground truth: what every indicator must be, computed straight from the events the
//! simulator generated (each once), independently of the pipeline's SQL.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, FixedOffset, NaiveDate};
use ioc_events::indicators::{self, DIGITISATION_RATE, ONLINE_SUBMISSION_RATE};
use ioc_events::{Channel, Event, EventBody, PaymentMethod, RecordLevel, ResultForm, TargetGroup};
use ioc_reference::ReferenceData;
use serde::{Deserialize, Serialize};

/// One indicator's expected counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expected {
    /// Expected numerator.
    pub numerator: u64,
    /// Expected denominator.
    pub denominator: u64,
}

/// Expected values for the scenario's whole period, for the province and for every unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// First day (local).
    pub from: NaiveDate,
    /// Last day (local, included).
    pub to: NaiveDate,
    /// Events generated (each counted once, before duplicates are injected).
    pub events: usize,
    /// Indicator id → expected counts, whole province.
    pub province: BTreeMap<String, Expected>,
    /// Unit code → indicator id → expected counts.
    pub units: BTreeMap<String, BTreeMap<String, Expected>>,
}

#[derive(Default)]
struct Tally {
    received: BTreeSet<String>,
    received_online: BTreeSet<String>,
    received_fee_bearing: BTreeSet<String>,
    resolved: BTreeSet<String>,
    returned: BTreeSet<String>,
    returned_electronic: BTreeSet<String>,
    sent: BTreeSet<String>,
    sent_electronic: BTreeSet<String>,
    sent_signed: BTreeSet<String>,
    document_received: BTreeSet<String>,
    document_received_electronic: BTreeSet<String>,
    closed: HashMap<RecordLevel, BTreeSet<String>>,
    closed_online: HashMap<RecordLevel, BTreeSet<String>>,
    certified: HashMap<TargetGroup, BTreeSet<String>>,
}

/// Computes the truth for `[start, end)`, which the API calls `from`..=`to`.
pub fn compute(
    events: &[Event],
    reference: &ReferenceData,
    from: NaiveDate,
    to: NaiveDate,
    start: DateTime<FixedOffset>,
    end: DateTime<FixedOffset>,
) -> GroundTruth {
    let in_period = |event: &Event| event.occurred_at >= start && event.occurred_at < end;
    // Dossier facts that count whenever they happened.
    let mut digitised: BTreeSet<&str> = BTreeSet::new();
    let mut electronic: BTreeSet<&str> = BTreeSet::new();
    let mut paid_online: BTreeSet<&str> = BTreeSet::new();
    for event in events {
        match &event.body {
            EventBody::DossierPaid(p) if p.method == PaymentMethod::Online => {
                paid_online.insert(&p.dossier_id);
            }
            EventBody::DossierDigitised(d) if d.components_digitised > 0 => {
                digitised.insert(&d.dossier_id);
            }
            EventBody::DossierResultReturned(r) if r.result_form == ResultForm::Electronic => {
                electronic.insert(&r.dossier_id);
            }
            _ => {}
        }
    }

    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for event in events {
        let tally = tallies.entry(event.unit_code.clone()).or_default();
        match &event.body {
            EventBody::DossierReceived(d) if in_period(event) => {
                tally.received.insert(d.dossier_id.clone());
                if d.channel == Channel::Online {
                    tally.received_online.insert(d.dossier_id.clone());
                }
                if d.fee_bearing {
                    tally.received_fee_bearing.insert(d.dossier_id.clone());
                }
            }
            EventBody::DossierResolved(d) if in_period(event) => {
                tally.resolved.insert(d.dossier_id.clone());
            }
            EventBody::DossierResultReturned(r) if in_period(event) => {
                tally.returned.insert(r.dossier_id.clone());
                if r.result_form == ResultForm::Electronic {
                    tally.returned_electronic.insert(r.dossier_id.clone());
                }
            }
            EventBody::DocumentSent(d) if in_period(event) => {
                tally.sent.insert(d.document_id.clone());
                if d.form == ResultForm::Electronic {
                    tally.sent_electronic.insert(d.document_id.clone());
                }
                if d.digitally_signed {
                    tally.sent_signed.insert(d.document_id.clone());
                }
            }
            EventBody::DocumentReceived(d) if in_period(event) => {
                tally.document_received.insert(d.document_id.clone());
                if d.form == ResultForm::Electronic {
                    tally.document_received_electronic.insert(d.document_id.clone());
                }
            }
            EventBody::WorkRecordClosed(w) if in_period(event) && !w.classified => {
                tally.closed.entry(w.level).or_default().insert(w.record_id.clone());
                if w.processed_online {
                    tally.closed_online.entry(w.level).or_default().insert(w.record_id.clone());
                }
            }
            EventBody::SkillsCertified(s) if event.occurred_at < end => {
                tally.certified.entry(s.target_group).or_default().insert(s.learner_id.clone());
            }
            _ => {}
        }
    }

    let expectations = |tally: &Tally, population: &dyn Fn(&str) -> u64| {
        let mut out = BTreeMap::new();
        let count = |set: Option<&BTreeSet<String>>| set.map_or(0, |s| s.len() as u64);
        out.insert(
            ONLINE_SUBMISSION_RATE.to_owned(),
            Expected { numerator: count(Some(&tally.received_online)), denominator: count(Some(&tally.received)) },
        );
        let digitised_and_electronic = tally
            .resolved
            .iter()
            .filter(|id| digitised.contains(id.as_str()) && electronic.contains(id.as_str()))
            .count() as u64;
        out.insert(
            DIGITISATION_RATE.to_owned(),
            Expected { numerator: digitised_and_electronic, denominator: count(Some(&tally.resolved)) },
        );
        let paid = tally.received_fee_bearing.iter().filter(|id| paid_online.contains(id.as_str())).count() as u64;
        let fraction = |numerator: &BTreeSet<String>, denominator: &BTreeSet<String>| Expected {
            numerator: numerator.len() as u64,
            denominator: denominator.len() as u64,
        };
        out.insert(
            indicators::ONLINE_PAYMENT_RATE.to_owned(),
            Expected { numerator: paid, denominator: tally.received_fee_bearing.len() as u64 },
        );
        out.insert(
            indicators::ELECTRONIC_RESULT_RATE.to_owned(),
            fraction(&tally.returned_electronic, &tally.returned),
        );
        out.insert(indicators::DOCUMENTS_SENT_ELECTRONIC.to_owned(), fraction(&tally.sent_electronic, &tally.sent));
        out.insert(
            indicators::DOCUMENTS_RECEIVED_ELECTRONIC.to_owned(),
            fraction(&tally.document_received_electronic, &tally.document_received),
        );
        out.insert(indicators::DOCUMENTS_SENT_SIGNED.to_owned(), fraction(&tally.sent_signed, &tally.sent));
        for (level, id) in [
            (RecordLevel::Province, indicators::WORK_RECORDS_ONLINE_PROVINCE),
            (RecordLevel::Commune, indicators::WORK_RECORDS_ONLINE_COMMUNE),
        ] {
            out.insert(
                id.to_owned(),
                Expected {
                    numerator: count(tally.closed_online.get(&level)),
                    denominator: count(tally.closed.get(&level)),
                },
            );
        }
        for group in TargetGroup::ALL {
            let expected =
                Expected { numerator: count(tally.certified.get(&group)), denominator: population(group.as_str()) };
            out.insert(indicators::coverage_id(group).to_owned(), expected);
        }
        out
    };

    let mut units = BTreeMap::new();
    for unit in &reference.units {
        let tally = tallies.get(&unit.code);
        let empty = Tally::default();
        let population = |measure: &str| reference.denominator(&unit.code, measure).unwrap_or(0);
        units.insert(unit.code.clone(), expectations(tally.unwrap_or(&empty), &population));
    }
    let mut whole = Tally::default();
    for tally in tallies.into_values() {
        whole.received.extend(tally.received);
        whole.received_online.extend(tally.received_online);
        whole.resolved.extend(tally.resolved);
        whole.received_fee_bearing.extend(tally.received_fee_bearing);
        whole.returned.extend(tally.returned);
        whole.returned_electronic.extend(tally.returned_electronic);
        whole.sent.extend(tally.sent);
        whole.sent_electronic.extend(tally.sent_electronic);
        whole.sent_signed.extend(tally.sent_signed);
        whole.document_received.extend(tally.document_received);
        whole.document_received_electronic.extend(tally.document_received_electronic);
        for (level, ids) in tally.closed {
            whole.closed.entry(level).or_default().extend(ids);
        }
        for (level, ids) in tally.closed_online {
            whole.closed_online.entry(level).or_default().extend(ids);
        }
        for (group, ids) in tally.certified {
            whole.certified.entry(group).or_default().extend(ids);
        }
    }
    let province_population =
        |measure: &str| reference.denominators.iter().filter(|d| d.measure == measure).map(|d| d.value).sum();
    GroundTruth { from, to, events: events.len(), province: expectations(&whole, &province_population), units }
}
