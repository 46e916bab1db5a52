//! Indicator values from the pre-aggregated measures: each definition's formula
//! (docs/indicators.md) applied to the flows and stocks of a period.

use std::collections::HashMap;

use ioc_domain::indicators::{self as ids, Definition, Kind};
use ioc_domain::measures as m;
use ioc_domain::TargetGroup;
use serde::{Deserialize, Serialize};

use crate::storage::Totals;

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

/// A value an indicator is measured against, and the text that sets it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    /// The ratio (1 = 100%).
    pub value: f64,
    /// The text that sets it.
    pub source: String,
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
    /// The goal an official text sets for the period's year, if one does; null: no target.
    pub target: Option<f64>,
    /// The text that sets `target`.
    pub target_source: Option<String>,
    /// A scoring threshold (full marks in an index), which is not a goal, if one applies.
    pub threshold: Option<f64>,
    /// The text that sets `threshold`.
    pub threshold_source: Option<String>,
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

/// What a value needs besides the measures, for one scope (a unit or the province) and period.
pub struct Context<'a> {
    /// A reference-data denominator of the scope (`adult`, `household`, `communes`...).
    pub population: &'a dyn Fn(&str) -> u64,
    /// Weeks (Monday to Sunday) ending in the period.
    pub weeks: u64,
}

/// The numerator and denominator of `definition` from `totals` (docs/indicators.md).
pub fn fraction(definition: &Definition, totals: &Totals, context: &Context<'_>) -> (u64, Option<u64>) {
    let t = totals;
    let population = context.population;
    // Dossiers open at the end of the period, those of them past their due time, and those
    // of them 5.4 counts against satisfaction (late, dissatisfied or complained about).
    let open = t.stock(m::OPENED).saturating_sub(t.stock(m::CLOSED));
    let open_late = t.stock(m::OVERDUE).saturating_sub(t.stock(m::OVERDUE_CLOSED));
    let open_unsatisfactory = t.stock(m::FLAGGED).saturating_sub(t.stock(m::FLAGGED_CLOSED))
        + t.stock(m::OVERDUE_UNFLAGGED).saturating_sub(t.stock(m::OVERDUE_UNFLAGGED_CLOSED));
    let on_time = t.flow(m::RESOLVED_ON_TIME) + open.saturating_sub(open_late);
    let handled = t.flow(m::RESOLVED) + open;
    let late = t.flow(m::RESOLVED).saturating_sub(t.flow(m::RESOLVED_ON_TIME)) + open_late;
    let unsatisfactory = t.flow(m::RESOLVED_UNSATISFACTORY) + open_unsatisfactory;
    let of = |numerator: u64, denominator: u64| (numerator, Some(denominator));
    match definition.id {
        ids::ON_TIME_RATE => of(on_time, handled),
        ids::AVERAGE_RESOLUTION_TIME => of(t.flow(m::PROCESSING_SECONDS), t.flow(m::RESOLVED)),
        ids::ONLINE_SUBMISSION_RATE => of(t.flow(m::RECEIVED_ONLINE), t.flow(m::RECEIVED)),
        ids::ONLINE_PAYMENT_RATE => of(t.flow(m::RECEIVED_PAID_ONLINE), t.flow(m::RECEIVED_FEE_BEARING)),
        ids::ELECTRONIC_RESULT_RATE => of(t.flow(m::RESULTS_RETURNED_ELECTRONIC), t.flow(m::RESULTS_RETURNED)),
        ids::DIGITISATION_RATE => of(t.flow(m::RESOLVED_DIGITISED_ELECTRONIC), t.flow(m::RESOLVED)),
        ids::DATA_REUSE_RATE => of(t.flow(m::RECEIVED_REUSING), t.flow(m::RECEIVED)),
        ids::SATISFACTION_INDEX => of(handled.saturating_sub(unsatisfactory), handled),
        ids::DOSSIERS_RECEIVED => (t.flow(m::RECEIVED), None),
        ids::DOSSIERS_RESOLVED => (t.flow(m::RESOLVED), None),
        ids::DOSSIERS_IN_PROGRESS => (open, None),
        ids::DOSSIERS_LATE => (late, None),
        ids::FULLY_ONLINE_RATE => of(t.flow(m::RESOLVED_FULL_ONLINE), t.flow(m::RESOLVED)),
        ids::DOSSIERS_RETURNED_UNSUPPLEMENTED => (t.flow(m::RETURNED_UNSUPPLEMENTED), None),
        ids::DOCUMENTS_SENT_ELECTRONIC => of(t.flow(m::DOCUMENTS_SENT_ELECTRONIC), t.flow(m::DOCUMENTS_SENT)),
        ids::DOCUMENTS_RECEIVED_ELECTRONIC => {
            of(t.flow(m::DOCUMENTS_RECEIVED_ELECTRONIC), t.flow(m::DOCUMENTS_RECEIVED))
        }
        ids::DOCUMENTS_SENT_SIGNED => of(t.flow(m::DOCUMENTS_SENT_SIGNED), t.flow(m::DOCUMENTS_SENT)),
        ids::WORK_RECORDS_ONLINE_PROVINCE => {
            of(t.flow_of(m::WORK_RECORDS_CLOSED_ONLINE, "province"), t.flow_of(m::WORK_RECORDS_CLOSED, "province"))
        }
        ids::WORK_RECORDS_ONLINE_COMMUNE => {
            of(t.flow_of(m::WORK_RECORDS_CLOSED_ONLINE, "commune"), t.flow_of(m::WORK_RECORDS_CLOSED, "commune"))
        }
        // An adult is a person of adult age, whatever their group: the numerator counts every
        // certified learner of adult age, the denominator every person of adult age.
        ids::SKILLS_COVERAGE_ADULT => of(t.stock(m::CERTIFIED_ADULT), population(ADULT)),
        ids::ADULT_VNEID_COVERAGE => of(t.stock(m::CERTIFIED_ADULT_VNEID), population(ADULT)),
        ids::HOUSEHOLD_COVERAGE => of(t.stock(m::HOUSEHOLDS_CERTIFIED), population("household")),
        ids::CLASSES_HELD => (t.flow(m::CLASSES_HELD), None),
        ids::CLASS_ATTENDEES => (t.flow(m::CLASS_ATTENDEES), None),
        ids::WEEKLY_CLASS_COVERAGE => of(t.flow(m::CLASS_WEEKS), population(COMMUNES) * context.weeks),
        other => TargetGroup::ALL
            .into_iter()
            .find(|group| ids::coverage_id(*group) == other)
            .map_or((0, None), |group| of(t.stock_of(m::CERTIFIED, group.as_str()), population(group.as_str()))),
    }
}

/// The population of people of adult age.
const ADULT: &str = "adult";
/// The number of communes and wards in the scope (1 for a commune, 0 for a department).
pub const COMMUNES: &str = "communes";

/// The measures [`fraction`] and the breakdown read for `id`: a query for one indicator
/// (rankings, series) reads only these.
pub fn measures_of(id: &str) -> &'static [&'static str] {
    const DOSSIER_STATE: &[&str] =
        &[m::OPENED, m::CLOSED, m::OVERDUE, m::OVERDUE_CLOSED, m::RESOLVED, m::RESOLVED_ON_TIME];
    const SATISFACTION: &[&str] = &[
        m::OPENED,
        m::CLOSED,
        m::RESOLVED,
        m::RESOLVED_UNSATISFACTORY,
        m::FLAGGED,
        m::FLAGGED_CLOSED,
        m::OVERDUE_UNFLAGGED,
        m::OVERDUE_UNFLAGGED_CLOSED,
    ];
    match id {
        ids::ON_TIME_RATE | ids::DOSSIERS_LATE => DOSSIER_STATE,
        ids::DOSSIERS_IN_PROGRESS => &[m::OPENED, m::CLOSED],
        ids::SATISFACTION_INDEX => SATISFACTION,
        ids::AVERAGE_RESOLUTION_TIME => &[m::PROCESSING_SECONDS, m::RESOLVED],
        ids::ONLINE_SUBMISSION_RATE => &[m::RECEIVED_ONLINE, m::RECEIVED],
        ids::ONLINE_PAYMENT_RATE => &[m::RECEIVED_PAID_ONLINE, m::RECEIVED_FEE_BEARING],
        ids::ELECTRONIC_RESULT_RATE => &[m::RESULTS_RETURNED_ELECTRONIC, m::RESULTS_RETURNED],
        ids::DIGITISATION_RATE => &[m::RESOLVED_DIGITISED_ELECTRONIC, m::RESOLVED],
        ids::DATA_REUSE_RATE => &[m::RECEIVED_REUSING, m::RECEIVED],
        ids::DOSSIERS_RECEIVED => &[m::RECEIVED],
        ids::DOSSIERS_RESOLVED => &[m::RESOLVED],
        ids::FULLY_ONLINE_RATE => &[m::RESOLVED_FULL_ONLINE, m::RESOLVED],
        ids::DOSSIERS_RETURNED_UNSUPPLEMENTED => &[m::RETURNED_UNSUPPLEMENTED],
        ids::DOCUMENTS_SENT_ELECTRONIC => &[m::DOCUMENTS_SENT_ELECTRONIC, m::DOCUMENTS_SENT],
        ids::DOCUMENTS_RECEIVED_ELECTRONIC => &[m::DOCUMENTS_RECEIVED_ELECTRONIC, m::DOCUMENTS_RECEIVED],
        ids::DOCUMENTS_SENT_SIGNED => &[m::DOCUMENTS_SENT_SIGNED, m::DOCUMENTS_SENT],
        ids::WORK_RECORDS_ONLINE_PROVINCE | ids::WORK_RECORDS_ONLINE_COMMUNE => {
            &[m::WORK_RECORDS_CLOSED_ONLINE, m::WORK_RECORDS_CLOSED]
        }
        ids::SKILLS_COVERAGE_ADULT => &[m::CERTIFIED_ADULT],
        ids::ADULT_VNEID_COVERAGE => &[m::CERTIFIED_ADULT_VNEID],
        ids::HOUSEHOLD_COVERAGE => &[m::HOUSEHOLDS_CERTIFIED],
        ids::CLASSES_HELD => &[m::CLASSES_HELD],
        ids::CLASS_ATTENDEES => &[m::CLASS_ATTENDEES],
        ids::WEEKLY_CLASS_COVERAGE => &[m::CLASS_WEEKS],
        _ => &[m::CERTIFIED],
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
                .flow_dimensions(m::RESOLVED)
                .into_iter()
                .map(|code| {
                    let seconds = totals.flow_of(m::PROCESSING_SECONDS, &code);
                    let resolved = totals.flow_of(m::RESOLVED, &code);
                    entry(code, seconds, Some(resolved))
                })
                .collect(),
        ),
        ids::CLASSES_HELD | ids::CLASS_ATTENDEES => {
            let measure = if definition.id == ids::CLASSES_HELD { m::CLASSES_HELD } else { m::CLASS_ATTENDEES };
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

/// The targets and thresholds of the reference data, by indicator.
#[derive(Debug, Clone, Default)]
pub struct Goals {
    /// Indicator → (year it applies from, `target` or `threshold`, the goal), any order.
    pub by_indicator: HashMap<String, Vec<(u16, String, Goal)>>,
}

impl Goals {
    /// The goal of `kind` for `id` in `year`: the one of the latest year not after it.
    pub fn of(&self, id: &str, kind: &str, year: i32) -> Option<&Goal> {
        self.by_indicator
            .get(id)?
            .iter()
            .filter(|(from, k, _)| k == kind && i32::from(*from) <= year)
            .max_by_key(|(from, _, _)| *from)
            .map(|(_, _, goal)| goal)
    }
}

/// One indicator's value from `totals`; `goals` apply for `year` (the period's end).
pub fn value(
    definition: &Definition,
    totals: &Totals,
    context: &Context<'_>,
    goals: &Goals,
    year: i32,
) -> IndicatorValue {
    let (numerator, denominator) = fraction(definition, totals, context);
    let ratio = ratio(numerator, denominator);
    // Goals are ratios: a count or an average has none.
    let goal = |kind| goals.of(definition.id, kind, year).filter(|_| definition.kind == Kind::Ratio).cloned();
    let (target, threshold) = (goal("target"), goal("threshold"));
    IndicatorValue {
        id: definition.id.to_owned(),
        decision_766_code: definition.decision_766_code.map(str::to_owned),
        name_vi: definition.name_vi.to_owned(),
        name_en: definition.name_en.to_owned(),
        kind: definition.kind.as_str().to_owned(),
        numerator,
        denominator,
        ratio,
        progress: ratio.zip(target.as_ref()).filter(|(_, t)| t.value > 0.0).map(|(r, t)| r / t.value),
        target: target.as_ref().map(|t| t.value),
        target_source: target.map(|t| t.source),
        threshold: threshold.as_ref().map(|t| t.value),
        threshold_source: threshold.map(|t| t.source),
        breakdown: breakdown(definition, totals),
    }
}

/// Every indicator, in the order of the definitions.
pub fn all_values(totals: &Totals, context: &Context<'_>, goals: &Goals, year: i32) -> Vec<IndicatorValue> {
    ids::DEFINITIONS.iter().map(|definition| value(definition, totals, context, goals, year)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MeasureKey;

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

    fn nobody(_: &str) -> u64 {
        0
    }

    #[test]
    fn on_time_counts_open_dossiers_not_yet_late_and_satisfaction_counts_each_dossier_once() {
        // 10 resolved (8 on time; 3 resolved ones late or flagged); 20 followed, 12 ended → 8
        // open: 3 of them overdue (1 of those flagged), 2 more flagged.
        let t = totals(
            &[("resolved", 10), ("resolved_on_time", 8), ("resolved_unsatisfactory", 3)],
            &[
                ("opened", 20),
                ("closed", 12),
                ("overdue", 5),
                ("overdue_closed", 2),
                ("flagged", 6),
                ("flagged_closed", 3),
                ("overdue_unflagged", 4),
                ("overdue_unflagged_closed", 2),
            ],
        );
        let context = Context { population: &nobody, weeks: 0 };
        let get = |id| fraction(ids::definition(id).expect("defined"), &t, &context);
        assert_eq!(get(ids::ON_TIME_RATE), (8 + 5, Some(18)));
        assert_eq!(get(ids::DOSSIERS_LATE), (2 + 3, None));
        assert_eq!(get(ids::DOSSIERS_IN_PROGRESS), (8, None));
        // Open and unsatisfactory: 3 flagged + 2 late and not flagged; resolved: 3.
        assert_eq!(get(ids::SATISFACTION_INDEX), (18 - 3 - 5, Some(18)));
    }

    #[test]
    fn weekly_class_coverage_is_over_the_communes_times_the_weeks() {
        let t = totals(&[("class_weeks", 7)], &[]);
        let communes = |measure: &str| if measure == COMMUNES { 4 } else { 0 };
        let context = Context { population: &communes, weeks: 2 };
        let coverage = ids::definition(ids::WEEKLY_CLASS_COVERAGE).expect("defined");
        assert_eq!(fraction(coverage, &t, &context), (7, Some(8)));
    }

    /// Every measure the rollups write, with distinct values in every dimension.
    fn everything() -> Totals {
        let dimensions =
            ["", "province", "commune", "adult", "student", "pupil", "worker", "civil_servant", "1.001193", "internet"];
        let mut full = Totals::default();
        let mut seed = 7_u64;
        for name in m::ALL {
            for dimension in dimensions {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005) % 1_000_003 + 11;
                let key = ((*name).to_owned(), dimension.to_owned());
                full.flow.insert(key.clone(), seed % 1000 + 1);
                full.stock.insert(key, seed % 5000 + 1000);
            }
        }
        full
    }

    #[test]
    fn each_indicator_needs_only_the_measures_it_lists() {
        let full = everything();
        let population = |measure: &str| measure.len() as u64 * 1000;
        let context = Context { population: &population, weeks: 3 };
        for definition in ids::DEFINITIONS {
            let keep = measures_of(definition.id);
            let listed = |map: &HashMap<MeasureKey, u64>| -> HashMap<MeasureKey, u64> {
                map.iter().filter(|((m, _), _)| keep.contains(&m.as_str())).map(|(k, v)| (k.clone(), *v)).collect()
            };
            let only = Totals { flow: listed(&full.flow), stock: listed(&full.stock) };
            assert_eq!(
                value(definition, &full, &context, &Goals::default(), 2026),
                value(definition, &only, &context, &Goals::default(), 2026),
                "{} reads a measure measures_of does not list",
                definition.id
            );
        }
    }

    #[test]
    fn the_api_reads_every_measure_the_rollups_write_and_no_other() {
        // The rollup side of this contract is checked by ioc-processor's test of its SQL.
        let read: std::collections::BTreeSet<&str> =
            ids::DEFINITIONS.iter().flat_map(|d| measures_of(d.id).iter().copied()).collect();
        let written: std::collections::BTreeSet<&str> = m::ALL.iter().copied().collect();
        assert_eq!(read.difference(&written).collect::<Vec<_>>(), Vec::<&&str>::new(), "read but never written");
        assert_eq!(written.difference(&read).collect::<Vec<_>>(), Vec::<&&str>::new(), "written but never read");
    }

    #[test]
    fn goals_apply_from_their_year_on_and_only_to_ratios() {
        let goal = |value: f64| Goal { value, source: "a text".into() };
        let goals = Goals {
            by_indicator: HashMap::from([
                (
                    ids::ONLINE_SUBMISSION_RATE.to_owned(),
                    vec![(2026, "threshold".into(), goal(0.5)), (2028, "target".into(), goal(0.7))],
                ),
                (ids::DOSSIERS_RECEIVED.to_owned(), vec![(2026, "threshold".into(), goal(0.5))]),
            ]),
        };
        assert!(goals.of(ids::ONLINE_SUBMISSION_RATE, "threshold", 2025).is_none());
        assert_eq!(goals.of(ids::ONLINE_SUBMISSION_RATE, "threshold", 2027).map(|g| g.value), Some(0.5));
        assert!(goals.of(ids::ONLINE_SUBMISSION_RATE, "target", 2027).is_none());
        let t = totals(&[("received", 4), ("received_online", 3)], &[]);
        let context = Context { population: &nobody, weeks: 0 };
        let online = ids::definition(ids::ONLINE_SUBMISSION_RATE).expect("defined");
        let v = value(online, &t, &context, &goals, 2027);
        // A threshold is shown as one, not as a target to make progress to.
        assert_eq!((v.ratio, v.target, v.threshold, v.progress), (Some(0.75), None, Some(0.5), None));
        let v = value(online, &t, &context, &goals, 2030);
        assert_eq!((v.target, v.progress, v.target_source.as_deref()), (Some(0.7), Some(0.75 / 0.7), Some("a text")));
        let received = ids::definition(ids::DOSSIERS_RECEIVED).expect("defined");
        assert_eq!(value(received, &t, &context, &goals, 2030).threshold, None);
    }
}
