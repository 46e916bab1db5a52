//! Indicator values from the daily measures: each definition's formula (docs/indicators.md)
//! applied to the flows and stocks of a period.

use std::collections::HashMap;

use ioc_events::indicators::{self as ids, Definition, Kind};
use ioc_events::TargetGroup;
use serde::{Deserialize, Serialize};

use crate::measures::Totals;

/// One entry of a value's breakdown (a procedure, a class topic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakdownValue {
    /// The procedure code or topic.
    pub key: String,
    /// Numerator of this entry.
    pub numerator: u64,
    /// Denominator of this entry; null for counts.
    pub denominator: Option<u64>,
    /// `numerator / denominator`, or null.
    pub ratio: Option<f64>,
}

/// One indicator's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorValue {
    /// Stable id.
    pub id: String,
    /// Number in Decision 766, if any.
    pub decision_766_code: Option<String>,
    /// Vietnamese name.
    pub name_vi: String,
    /// English name.
    pub name_en: String,
    /// `ratio`, `count` or `average_seconds`.
    pub kind: String,
    /// Count that meets the indicator (the count itself, for counts; seconds, for averages).
    pub numerator: u64,
    /// Count it is measured against; null for counts.
    pub denominator: Option<u64>,
    /// `numerator / denominator` (seconds per dossier for averages); null for counts and when
    /// the denominator is zero.
    pub ratio: Option<f64>,
    /// Target ratio for the period's year, if one is set.
    pub target: Option<f64>,
    /// `ratio / target`: progress to the target.
    pub progress: Option<f64>,
    /// The value split by procedure or topic, for indicators that have one.
    pub breakdown: Option<Vec<BreakdownValue>>,
}

impl IndicatorValue {
    /// The number a ranking sorts on: the ratio, or the count.
    pub fn headline(&self) -> Option<f64> {
        match self.denominator {
            None => Some(self.numerator as f64),
            Some(_) => self.ratio,
        }
    }
}

fn ratio(numerator: u64, denominator: Option<u64>) -> Option<f64> {
    denominator.filter(|d| *d > 0).map(|d| numerator as f64 / d as f64)
}

/// The numerator and denominator of `definition` from `totals`; `population` gives a
/// reference-data denominator (`adult`, `household`...) of the same scope.
pub fn fraction(definition: &Definition, totals: &Totals, population: &dyn Fn(&str) -> u64) -> (u64, Option<u64>) {
    let t = totals;
    // Dossiers open at the end of the period, and those of them past their due time.
    let open = t.stock("received").saturating_sub(t.stock("closed"));
    let open_late = t.stock("overdue").saturating_sub(t.stock("overdue_closed"));
    let on_time = t.flow("resolved_on_time") + open.saturating_sub(open_late);
    let handled = t.flow("resolved") + open;
    let late = t.flow("resolved").saturating_sub(t.flow("resolved_on_time")) + open_late;
    let of = |numerator: u64, denominator: u64| (numerator, Some(denominator));
    match definition.id {
        ids::ON_TIME_RATE => of(on_time, handled),
        ids::AVERAGE_RESOLUTION_TIME => of(t.flow("processing_seconds"), t.flow("resolved")),
        ids::ONLINE_SUBMISSION_RATE => of(t.flow("received_online"), t.flow("received")),
        ids::ONLINE_PAYMENT_RATE => of(t.flow("received_paid_online"), t.flow("received_fee_bearing")),
        ids::ELECTRONIC_RESULT_RATE => of(t.flow("results_returned_electronic"), t.flow("results_returned")),
        ids::DIGITISATION_RATE => of(t.flow("resolved_digitised_electronic"), t.flow("resolved")),
        ids::DATA_REUSE_RATE => of(t.flow("received_reusing"), t.flow("received")),
        ids::SATISFACTION_INDEX => of(on_time.saturating_sub(t.flow("rated_dissatisfied")), handled),
        ids::DOSSIERS_RECEIVED => (t.flow("received"), None),
        ids::DOSSIERS_RESOLVED => (t.flow("resolved"), None),
        ids::DOSSIERS_IN_PROGRESS => (open, None),
        ids::DOSSIERS_LATE => (late, None),
        ids::DOCUMENTS_SENT_ELECTRONIC => of(t.flow("documents_sent_electronic"), t.flow("documents_sent")),
        ids::DOCUMENTS_RECEIVED_ELECTRONIC => of(t.flow("documents_received_electronic"), t.flow("documents_received")),
        ids::DOCUMENTS_SENT_SIGNED => of(t.flow("documents_sent_signed"), t.flow("documents_sent")),
        ids::WORK_RECORDS_ONLINE_PROVINCE => {
            of(t.flow_of("work_records_closed_online", "province"), t.flow_of("work_records_closed", "province"))
        }
        ids::WORK_RECORDS_ONLINE_COMMUNE => {
            of(t.flow_of("work_records_closed_online", "commune"), t.flow_of("work_records_closed", "commune"))
        }
        ids::ADULT_VNEID_COVERAGE => of(t.stock_of("certified_vneid", "adult"), population("adult")),
        ids::HOUSEHOLD_COVERAGE => of(t.stock("households_certified"), population("household")),
        ids::CLASSES_HELD => (t.flow("classes_held"), None),
        ids::CLASS_ATTENDEES => (t.flow("class_attendees"), None),
        other => TargetGroup::ALL
            .into_iter()
            .find(|group| ids::coverage_id(*group) == other)
            .map_or((0, None), |group| of(t.stock_of("certified", group.as_str()), population(group.as_str()))),
    }
}

/// The measures [`fraction`] and the breakdown read for `id`: a query for one indicator
/// (rankings, series) reads only these.
pub fn measures_of(id: &str) -> &'static [&'static str] {
    const DOSSIER_STATE: &[&str] =
        &["received", "closed", "overdue", "overdue_closed", "resolved", "resolved_on_time", "rated_dissatisfied"];
    match id {
        ids::ON_TIME_RATE | ids::SATISFACTION_INDEX | ids::DOSSIERS_LATE | ids::DOSSIERS_IN_PROGRESS => DOSSIER_STATE,
        ids::AVERAGE_RESOLUTION_TIME => &["processing_seconds", "resolved"],
        ids::ONLINE_SUBMISSION_RATE => &["received_online", "received"],
        ids::ONLINE_PAYMENT_RATE => &["received_paid_online", "received_fee_bearing"],
        ids::ELECTRONIC_RESULT_RATE => &["results_returned_electronic", "results_returned"],
        ids::DIGITISATION_RATE => &["resolved_digitised_electronic", "resolved"],
        ids::DATA_REUSE_RATE => &["received_reusing", "received"],
        ids::DOSSIERS_RECEIVED => &["received"],
        ids::DOSSIERS_RESOLVED => &["resolved"],
        ids::DOCUMENTS_SENT_ELECTRONIC => &["documents_sent_electronic", "documents_sent"],
        ids::DOCUMENTS_RECEIVED_ELECTRONIC => &["documents_received_electronic", "documents_received"],
        ids::DOCUMENTS_SENT_SIGNED => &["documents_sent_signed", "documents_sent"],
        ids::WORK_RECORDS_ONLINE_PROVINCE | ids::WORK_RECORDS_ONLINE_COMMUNE => {
            &["work_records_closed_online", "work_records_closed"]
        }
        ids::ADULT_VNEID_COVERAGE => &["certified_vneid"],
        ids::HOUSEHOLD_COVERAGE => &["households_certified"],
        ids::CLASSES_HELD => &["classes_held"],
        ids::CLASS_ATTENDEES => &["class_attendees"],
        _ => &["certified"],
    }
}

fn breakdown(definition: &Definition, totals: &Totals) -> Option<Vec<BreakdownValue>> {
    let entry = |key: String, numerator: u64, denominator: Option<u64>| BreakdownValue {
        ratio: ratio(numerator, denominator),
        key,
        numerator,
        denominator,
    };
    match definition.id {
        ids::AVERAGE_RESOLUTION_TIME => Some(
            totals
                .flow_dimensions("resolved")
                .into_iter()
                .map(|code| {
                    let seconds = totals.flow_of("processing_seconds", &code);
                    let resolved = totals.flow_of("resolved", &code);
                    entry(code, seconds, Some(resolved))
                })
                .collect(),
        ),
        ids::CLASSES_HELD | ids::CLASS_ATTENDEES => {
            let measure = if definition.id == ids::CLASSES_HELD { "classes_held" } else { "class_attendees" };
            Some(
                totals
                    .flow_dimensions(measure)
                    .into_iter()
                    .map(|topic| {
                        let count = totals.flow_of(measure, &topic);
                        entry(topic, count, None)
                    })
                    .collect(),
            )
        }
        _ => None,
    }
}

/// Targets by indicator: the one of the latest year not after `year`.
pub fn target_for(targets: &HashMap<String, Vec<(u16, f64)>>, id: &str, year: i32) -> Option<f64> {
    targets.get(id)?.iter().filter(|(y, _)| i32::from(*y) <= year).max_by_key(|(y, _)| *y).map(|(_, t)| *t)
}

/// One indicator's value from `totals`.
pub fn value(
    definition: &Definition,
    totals: &Totals,
    population: &dyn Fn(&str) -> u64,
    target: Option<f64>,
) -> IndicatorValue {
    let (numerator, denominator) = fraction(definition, totals, population);
    let ratio = ratio(numerator, denominator);
    let target = target.filter(|_| definition.kind == Kind::Ratio);
    IndicatorValue {
        id: definition.id.to_owned(),
        decision_766_code: definition.decision_766_code.map(str::to_owned),
        name_vi: definition.name_vi.to_owned(),
        name_en: definition.name_en.to_owned(),
        kind: definition.kind.as_str().to_owned(),
        numerator,
        denominator,
        ratio,
        target,
        progress: ratio.zip(target).filter(|(_, t)| *t > 0.0).map(|(r, t)| r / t),
        breakdown: breakdown(definition, totals),
    }
}

/// Every indicator, in the order of the definitions.
pub fn all_values(
    totals: &Totals,
    population: &dyn Fn(&str) -> u64,
    targets: &HashMap<String, Vec<(u16, f64)>>,
    year: i32,
) -> Vec<IndicatorValue> {
    ids::DEFINITIONS
        .iter()
        .map(|definition| value(definition, totals, population, target_for(targets, definition.id, year)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measures::MeasureKey;

    fn totals(flows: &[(&str, u64)], stocks: &[(&str, u64)]) -> Totals {
        let key = |name: &str| {
            let (measure, dimension) = name.split_once('/').unwrap_or((name, ""));
            (measure.to_owned(), dimension.to_owned())
        };
        Totals {
            flow: flows.iter().map(|(name, v)| (key(name), *v)).collect(),
            stock: stocks.iter().map(|(name, v)| (key(name), *v)).collect(),
        }
    }

    #[test]
    fn on_time_counts_open_dossiers_not_yet_late() {
        // 10 resolved (8 on time); 20 received ever, 12 closed → 8 open, 3 of them overdue.
        let t = totals(
            &[("resolved", 10), ("resolved_on_time", 8), ("rated_dissatisfied", 2)],
            &[("received", 20), ("closed", 12), ("overdue", 5), ("overdue_closed", 2)],
        );
        let get = |id| fraction(ids::definition(id).expect("defined"), &t, &|_| 0);
        assert_eq!(get(ids::ON_TIME_RATE), (8 + 5, Some(18)));
        assert_eq!(get(ids::DOSSIERS_LATE), (2 + 3, None));
        assert_eq!(get(ids::DOSSIERS_IN_PROGRESS), (8, None));
        assert_eq!(get(ids::SATISFACTION_INDEX), (13 - 2, Some(18)));
    }

    #[test]
    fn each_indicator_needs_only_the_measures_it_lists() {
        // Every measure the rollups write, with distinct values in every dimension.
        let names = [
            "received",
            "received_online",
            "received_fee_bearing",
            "received_paid_online",
            "received_reusing",
            "resolved",
            "processing_seconds",
            "resolved_on_time",
            "resolved_digitised_electronic",
            "withdrawn",
            "closed",
            "overdue",
            "overdue_closed",
            "results_returned",
            "results_returned_electronic",
            "rated",
            "rated_dissatisfied",
            "documents_sent",
            "documents_sent_electronic",
            "documents_sent_signed",
            "documents_received",
            "documents_received_electronic",
            "work_records_closed",
            "work_records_closed_online",
            "certified",
            "certified_vneid",
            "households_certified",
            "classes_held",
            "class_attendees",
        ];
        let dimensions =
            ["", "province", "commune", "adult", "student", "worker", "civil_servant", "1.001193", "internet"];
        let mut full = Totals::default();
        let mut seed = 7_u64;
        for name in names {
            for dimension in dimensions {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005) % 1_000_003 + 11;
                let key = (name.to_owned(), dimension.to_owned());
                full.flow.insert(key.clone(), seed % 1000 + 1);
                full.stock.insert(key, seed % 5000 + 1000);
            }
        }
        let population = |measure: &str| measure.len() as u64 * 1000;
        for definition in ids::DEFINITIONS {
            let keep = measures_of(definition.id);
            let listed = |map: &HashMap<MeasureKey, u64>| -> HashMap<MeasureKey, u64> {
                map.iter().filter(|((m, _), _)| keep.contains(&m.as_str())).map(|(k, v)| (k.clone(), *v)).collect()
            };
            let only = Totals { flow: listed(&full.flow), stock: listed(&full.stock) };
            assert_eq!(
                value(definition, &full, &population, None),
                value(definition, &only, &population, None),
                "{} reads a measure measures_of does not list",
                definition.id
            );
        }
    }

    #[test]
    fn targets_apply_from_their_year_on_and_only_to_ratios() {
        let targets = HashMap::from([(ids::ONLINE_SUBMISSION_RATE.to_owned(), vec![(2026, 0.5), (2028, 0.7)])]);
        assert_eq!(target_for(&targets, ids::ONLINE_SUBMISSION_RATE, 2025), None);
        assert_eq!(target_for(&targets, ids::ONLINE_SUBMISSION_RATE, 2027), Some(0.5));
        assert_eq!(target_for(&targets, ids::ONLINE_SUBMISSION_RATE, 2030), Some(0.7));
        let t = totals(&[("received", 4), ("received_online", 3)], &[]);
        let online = ids::definition(ids::ONLINE_SUBMISSION_RATE).expect("defined");
        let v = value(online, &t, &|_| 0, Some(0.5));
        assert_eq!((v.ratio, v.progress), (Some(0.75), Some(1.5)));
        let received = ids::definition(ids::DOSSIERS_RECEIVED).expect("defined");
        assert_eq!(value(received, &t, &|_| 0, Some(0.5)).target, None);
    }
}
