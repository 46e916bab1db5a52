//! `GET /v1/kpis`: every indicator of the skeleton for a period and the province or one unit,
//! computed in ClickHouse. Each counts distinct entities, so redelivered events change nothing.

use std::collections::HashMap;

use clickhouse::Row;
use ioc_events::indicators::{self, Definition};
use ioc_events::TargetGroup;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::period::KpiQuery;

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
    /// Count that meets the indicator.
    pub numerator: u64,
    /// Count it is measured against.
    pub denominator: u64,
    /// `numerator / denominator`, or null when the denominator is zero.
    pub ratio: Option<f64>,
    /// Target ratio, if one is set.
    pub target: Option<f64>,
}

impl IndicatorValue {
    fn new(definition: &Definition, numerator: u64, denominator: u64) -> Self {
        IndicatorValue {
            id: definition.id.to_owned(),
            decision_766_code: definition.decision_766_code.map(str::to_owned),
            name_vi: definition.name_vi.to_owned(),
            name_en: definition.name_en.to_owned(),
            numerator,
            denominator,
            ratio: (denominator > 0).then(|| numerator as f64 / denominator as f64),
            target: definition.target,
        }
    }
}

#[derive(Row, Deserialize)]
struct Fraction {
    numerator: u64,
    denominator: u64,
}

#[derive(Row, Deserialize)]
struct KeyedCount {
    key: String,
    count: u64,
}

/// The unit filter: `?` is the unit code, or empty for the whole province.
const UNIT_FILTER: &str = "(? = '' OR unit_code = ?)";

/// Events of the period `[start, end)`: with [`UNIT_FILTER`], what `{IN_PERIOD}` stands for in [`in_period`].
const PERIOD_FILTER: &str = "occurred_at >= toDateTime(?) AND occurred_at < toDateTime(?)";

/// A query whose `{IN_PERIOD}` placeholder is replaced by the period-and-unit filter, bound.
fn in_period(client: &clickhouse::Client, sql: &str, start: i64, end: i64, unit: &str) -> clickhouse::query::Query {
    debug_assert_eq!(sql.matches("{IN_PERIOD}").count(), 1, "one period filter per query");
    client
        .query(&sql.replace("{IN_PERIOD}", &format!("{PERIOD_FILTER} AND {UNIT_FILTER}")))
        .bind(start)
        .bind(end)
        .bind(unit)
        .bind(unit)
}

/// Computes every indicator for `query`.
pub async fn compute(client: &clickhouse::Client, query: &KpiQuery) -> Result<Vec<IndicatorValue>, ApiError> {
    let unit = query.unit.clone().unwrap_or_default();
    let (start, end) = (query.period.start_seconds(), query.period.end_seconds());

    let online = in_period(
        client,
        "SELECT uniqExactIf(dossier_id, channel = 'online') AS numerator, uniqExact(dossier_id) AS denominator \
         FROM portal_events WHERE type = 'dossier.received' AND {IN_PERIOD}",
        start,
        end,
        &unit,
    )
    .fetch_one::<Fraction>();

    // Digitisation (4.2): dossiers resolved in the period; of those, the ones that have
    // digitised components and an electronic result (whenever those events happened).
    let digitisation = in_period(
        client,
        "SELECT toUInt64(countIf(digitised = 1 AND electronic = 1)) AS numerator, toUInt64(count()) AS denominator FROM ( \
            SELECT dossier_id, \
                   max(type = 'dossier.digitised' AND components_digitised > 0) AS digitised, \
                   max(type = 'dossier.result_returned' AND result_form = 'electronic') AS electronic \
            FROM portal_events \
            WHERE dossier_id IN (SELECT dossier_id FROM portal_events WHERE type = 'dossier.resolved' AND {IN_PERIOD}) \
            GROUP BY dossier_id)",
        start,
        end,
        &unit,
    )
    .fetch_one::<Fraction>();

    let work_records = in_period(
        client,
        "SELECT level AS key, uniqExactIf(record_id, processed_online = 1) AS numerator, uniqExact(record_id) AS denominator \
         FROM edoc_events WHERE type = 'work_record.closed' AND classified = 0 AND {IN_PERIOD} GROUP BY level",
        start,
        end,
        &unit,
    )
    .fetch_all::<LevelFraction>();

    // Coverage is a stock: everyone certified up to the end of the period.
    let certified = client
        .query(&format!(
            "SELECT target_group AS key, uniqExact(learner_id) AS count FROM training_events \
             WHERE type = 'skills.certified' AND occurred_at < toDateTime(?) AND {UNIT_FILTER} \
             GROUP BY target_group"
        ))
        .bind(end)
        .bind(&unit)
        .bind(&unit)
        .fetch_all::<KeyedCount>();

    // Online payment (3.6): fee-bearing dossiers received in the period; of those, the ones paid
    // online (whenever).
    let payment = in_period(
        client,
        "SELECT toUInt64(countIf(paid_online = 1)) AS numerator, toUInt64(count()) AS denominator FROM ( \
            SELECT dossier_id, max(type = 'dossier.paid' AND payment_method = 'online') AS paid_online \
            FROM portal_events \
            WHERE dossier_id IN ( \
                SELECT dossier_id FROM portal_events WHERE type = 'dossier.received' AND fee_bearing = 1 AND {IN_PERIOD}) \
            GROUP BY dossier_id)",
        start,
        end,
        &unit,
    )
    .fetch_one::<Fraction>();

    let results = in_period(
        client,
        "SELECT uniqExactIf(dossier_id, result_form = 'electronic') AS numerator, uniqExact(dossier_id) AS denominator \
         FROM portal_events WHERE type = 'dossier.result_returned' AND {IN_PERIOD}",
        start,
        end,
        &unit,
    )
    .fetch_one::<Fraction>();

    let documents = in_period(
        client,
        "SELECT type AS key, uniqExactIf(document_id, form = 'electronic') AS numerator, \
                uniqExact(document_id) AS denominator, uniqExactIf(document_id, digitally_signed = 1) AS signed \
         FROM edoc_events WHERE type IN ('document.sent', 'document.received') AND {IN_PERIOD} GROUP BY type",
        start,
        end,
        &unit,
    )
    .fetch_all::<DocumentFraction>();

    let populations = client
        .query(&format!(
            "SELECT measure AS key, toUInt64(sum(value)) AS count FROM ref_denominators WHERE {UNIT_FILTER} GROUP BY measure"
        ))
        .bind(&unit)
        .bind(&unit)
        .fetch_all::<KeyedCount>();

    let (online, digitisation, work_records, certified, payment, results, documents, populations) =
        tokio::try_join!(online, digitisation, work_records, certified, payment, results, documents, populations)?;

    let level = |name: &str| {
        work_records.iter().find(|row| row.key == name).map_or((0, 0), |row| (row.numerator, row.denominator))
    };
    let count_of = |rows: &[KeyedCount], key: &str| rows.iter().find(|row| row.key == key).map_or(0, |row| row.count);
    let document = |kind: &str| documents.iter().find(|row| row.key == kind);
    let sent = document("document.sent");
    let received = document("document.received");

    let mut fractions: HashMap<&str, (u64, u64)> = HashMap::from([
        (indicators::ONLINE_SUBMISSION_RATE, (online.numerator, online.denominator)),
        (indicators::DIGITISATION_RATE, (digitisation.numerator, digitisation.denominator)),
        (indicators::ONLINE_PAYMENT_RATE, (payment.numerator, payment.denominator)),
        (indicators::ELECTRONIC_RESULT_RATE, (results.numerator, results.denominator)),
        (indicators::DOCUMENTS_SENT_ELECTRONIC, sent.map_or((0, 0), |d| (d.numerator, d.denominator))),
        (indicators::DOCUMENTS_RECEIVED_ELECTRONIC, received.map_or((0, 0), |d| (d.numerator, d.denominator))),
        (indicators::DOCUMENTS_SENT_SIGNED, sent.map_or((0, 0), |d| (d.signed, d.denominator))),
        (indicators::WORK_RECORDS_ONLINE_PROVINCE, level("province")),
        (indicators::WORK_RECORDS_ONLINE_COMMUNE, level("commune")),
    ]);
    for group in TargetGroup::ALL {
        fractions.insert(
            indicators::coverage_id(group),
            (count_of(&certified, group.as_str()), count_of(&populations, group.as_str())),
        );
    }
    // Answer in the order of the definitions; a defined indicator without a query is a bug.
    indicators::DEFINITIONS
        .iter()
        .map(|definition| {
            let (numerator, denominator) = fractions
                .get(definition.id)
                .copied()
                .ok_or_else(|| ApiError::Internal(format!("indicator {} has no query", definition.id)))?;
            Ok(IndicatorValue::new(definition, numerator, denominator))
        })
        .collect()
}

#[derive(Row, Deserialize)]
struct DocumentFraction {
    key: String,
    numerator: u64,
    denominator: u64,
    signed: u64,
}

#[derive(Row, Deserialize)]
struct LevelFraction {
    key: String,
    numerator: u64,
    denominator: u64,
}
