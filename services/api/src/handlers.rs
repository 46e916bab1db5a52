//! The indicator endpoints: KPIs of a period, series by bucket, unit profiles and rankings. All
//! read the pre-aggregated measures (see measures.rs).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use chrono::{Datelike, NaiveDate};
use clickhouse::Row;
use ioc_domain::indicators::{self, Definition};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::kpis::{self, IndicatorValue};
use crate::measures::{self, Scope, Totals};
use crate::period::{Bucket, KpiQuery, NamedPeriod, Period};
use crate::AppState;

/// The unit an answer is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Row)]
pub struct UnitRef {
    /// Unit code.
    pub code: String,
    /// Unit name.
    pub name: String,
    /// `xa`, `phuong` or `department`.
    pub kind: String,
}

/// A unit as `GET /v1/units` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Row)]
pub struct UnitInfo {
    /// Unit code.
    pub code: String,
    /// Unit name.
    pub name: String,
    /// `xa`, `phuong` or `department`.
    pub kind: String,
    /// Province before the 2025 merger (empty for departments).
    pub former_province: String,
}

/// The answer of `GET /v1/kpis`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiResponse {
    /// First day of the period (local date).
    pub from: String,
    /// Last day of the period, included.
    pub to: String,
    /// Time zone the days are in.
    pub timezone: String,
    /// The unit, or null for the whole province.
    pub unit: Option<UnitRef>,
    /// Every indicator.
    pub indicators: Vec<IndicatorValue>,
}

/// A definition in short, as series and rankings name it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorRef {
    /// Stable id.
    pub id: String,
    /// Vietnamese name.
    pub name_vi: String,
    /// English name.
    pub name_en: String,
    /// `ratio`, `count` or `average_seconds`.
    pub kind: String,
    /// Whether a higher value is better.
    pub higher_is_better: bool,
}

impl IndicatorRef {
    fn of(definition: &Definition) -> Self {
        IndicatorRef {
            id: definition.id.to_owned(),
            name_vi: definition.name_vi.to_owned(),
            name_en: definition.name_en.to_owned(),
            kind: definition.kind.as_str().to_owned(),
            higher_is_better: definition.higher_is_better,
        }
    }
}

/// One point of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// First day of the calendar bucket.
    pub bucket_start: String,
    /// First day counted (the bucket clipped to the requested range).
    pub from: String,
    /// Last day counted, included.
    pub to: String,
    /// The indicator over those days.
    pub value: IndicatorValue,
}

/// The answer of `GET /v1/kpis/{id}/series`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesResponse {
    /// The indicator.
    pub indicator: IndicatorRef,
    /// `day`, `week`, `month`, `quarter` or `year`.
    pub bucket: String,
    /// First day of the range.
    pub from: String,
    /// Last day of the range, included.
    pub to: String,
    /// Time zone the days are in.
    pub timezone: String,
    /// The unit, or null for the whole province.
    pub unit: Option<UnitRef>,
    /// One point per bucket, in time order.
    pub points: Vec<SeriesPoint>,
}

/// A named period in an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodRef {
    /// `2026-09`, `2026-W38`...
    pub label: String,
    /// First day.
    pub from: String,
    /// Last day, included.
    pub to: String,
}

impl PeriodRef {
    fn of(named: &NamedPeriod) -> Self {
        PeriodRef { label: named.label(), from: named.period.from.to_string(), to: named.period.to.to_string() }
    }
}

/// One unit's place in a ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankedUnit {
    /// 1 is best; ties share a rank; null without a value.
    pub rank: Option<u32>,
    /// Rank in the previous period.
    pub previous_rank: Option<u32>,
    /// `previous_rank - rank`: positive when the unit moved up.
    pub rank_change: Option<i64>,
    /// The unit.
    pub unit: UnitRef,
    /// The indicator for the period.
    pub value: IndicatorValue,
    /// Its ratio (or count) in the previous period.
    pub previous: Option<f64>,
}

/// The answer of `GET /v1/rankings/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankingResponse {
    /// The indicator.
    pub indicator: IndicatorRef,
    /// The period ranked.
    pub period: PeriodRef,
    /// The period the rank change compares with.
    pub previous_period: PeriodRef,
    /// The 148 commune-level units, best first.
    pub units: Vec<RankedUnit>,
}

/// The answer of `GET /v1/units/{code}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitProfile {
    /// The unit.
    pub unit: UnitInfo,
    /// Its reference denominators (population, adults, households...).
    pub denominators: HashMap<String, u64>,
    /// First day of the period.
    pub from: String,
    /// Last day of the period, included.
    pub to: String,
    /// Every indicator for the period.
    pub indicators: Vec<IndicatorValue>,
    /// First day of the previous period of the same length.
    pub previous_from: String,
    /// Its last day.
    pub previous_to: String,
    /// Every indicator for the previous period (the trend).
    pub previous_indicators: Vec<IndicatorValue>,
}

fn today() -> NaiveDate {
    chrono::Utc::now().with_timezone(&ioc_domain::local_offset()).date_naive()
}

fn indicator(id: &str) -> Result<&'static Definition, ApiError> {
    indicators::definition(id).ok_or_else(|| {
        ApiError::BadRequest(format!("unknown indicator {id:?}; GET /v1/indicators lists the indicator ids"))
    })
}

async fn unit_ref(client: &clickhouse::Client, code: &str) -> Result<UnitInfo, ApiError> {
    client
        .query("SELECT code, name, kind, former_province FROM ref_units WHERE code = ? LIMIT 1")
        .bind(code)
        .fetch_optional::<UnitInfo>()
        .await?
        .ok_or_else(|| ApiError::BadRequest(format!("unknown unit {code:?}; GET /v1/units lists the unit codes")))
}

/// The unit a query names, or `None` for the province; an unknown code is a 400.
async fn unit_of(client: &clickhouse::Client, query: &KpiQuery) -> Result<Option<UnitRef>, ApiError> {
    match &query.unit {
        Some(code) => Ok(Some(short(unit_ref(client, code).await?))),
        None => Ok(None),
    }
}

fn short(unit: UnitInfo) -> UnitRef {
    UnitRef { code: unit.code, name: unit.name, kind: unit.kind }
}

/// What every value needs besides the measures: denominators, targets and thresholds.
struct Reference {
    populations: HashMap<String, HashMap<String, u64>>,
    goals: kpis::Goals,
}

impl Reference {
    async fn load(client: &clickhouse::Client) -> Result<Self, ApiError> {
        let (populations, goals) = tokio::try_join!(measures::populations(client), measures::goals(client))?;
        Ok(Reference { populations, goals })
    }

    fn values(&self, scope: &str, totals: &Totals, period: Period) -> Vec<IndicatorValue> {
        let population = |measure: &str| self.population(scope, measure);
        let context = kpis::Context { population: &population, weeks: period.weeks_ending() };
        kpis::all_values(totals, &context, &self.goals, period.to.year())
    }

    fn value(&self, definition: &Definition, scope: &str, totals: &Totals, period: Period) -> IndicatorValue {
        let population = |measure: &str| self.population(scope, measure);
        let context = kpis::Context { population: &population, weeks: period.weeks_ending() };
        kpis::value(definition, totals, &context, &self.goals, period.to.year())
    }

    fn population(&self, scope: &str, measure: &str) -> u64 {
        self.populations.get(scope).and_then(|m| m.get(measure)).copied().unwrap_or(0)
    }
}

/// `GET /v1/kpis`.
pub async fn get_kpis(
    State(state): State<Arc<AppState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<KpiResponse>, ApiError> {
    let timer = state.metrics.query_seconds.with_label_values(&["kpis"]).start_timer();
    let query = KpiQuery::parse(&params, today(), state.config.max_range_days)?;
    let client = &state.clickhouse;
    let unit = unit_of(client, &query).await?;
    let scope = query.unit.as_deref().map_or(Scope::Province, Scope::Unit);
    let (mut totals, reference) =
        tokio::try_join!(measures::totals(client, scope, query.period, None), Reference::load(client))?;
    let totals = totals.remove("").unwrap_or_default();
    let scope_key = query.unit.clone().unwrap_or_default();
    let indicators = reference.values(&scope_key, &totals, query.period);
    timer.observe_duration();
    Ok(Json(KpiResponse {
        from: query.period.from.to_string(),
        to: query.period.to.to_string(),
        timezone: "Asia/Ho_Chi_Minh".into(),
        unit,
        indicators,
    }))
}

/// `GET /v1/kpis/{id}/series`.
pub async fn get_series(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<SeriesResponse>, ApiError> {
    let timer = state.metrics.query_seconds.with_label_values(&["series"]).start_timer();
    let definition = indicator(&id)?;
    let query = KpiQuery::parse_with(&params, today(), state.config.max_range_days, &["bucket"])?;
    let bucket = Bucket::parse(params.get("bucket").map_or("day", String::as_str))?;
    let buckets = bucket.split(query.period).len();
    if buckets > state.config.max_series_points {
        return Err(ApiError::BadRequest(format!(
            "{buckets} {} buckets is more than {} points; choose a larger bucket or a shorter range",
            bucket.as_str(),
            state.config.max_series_points
        )));
    }
    let client = &state.clickhouse;
    let unit = unit_of(client, &query).await?;
    let (series, reference) = tokio::try_join!(
        measures::series(client, query.unit.as_deref(), bucket, query.period, Some(kpis::measures_of(definition.id))),
        Reference::load(client)
    )?;
    let scope_key = query.unit.clone().unwrap_or_default();
    let points = series
        .into_iter()
        .map(|(start, part, totals)| SeriesPoint {
            bucket_start: start.to_string(),
            from: part.from.to_string(),
            to: part.to.to_string(),
            value: reference.value(definition, &scope_key, &totals, part),
        })
        .collect();
    timer.observe_duration();
    Ok(Json(SeriesResponse {
        indicator: IndicatorRef::of(definition),
        bucket: bucket.as_str().to_owned(),
        from: query.period.from.to_string(),
        to: query.period.to.to_string(),
        timezone: "Asia/Ho_Chi_Minh".into(),
        unit,
        points,
    }))
}

/// `GET /v1/units`.
pub async fn get_units(State(state): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, ApiError> {
    let units: Vec<UnitInfo> = state
        .clickhouse
        .query("SELECT code, name, kind, former_province FROM ref_units ORDER BY kind = 'department', name")
        .fetch_all()
        .await?;
    Ok(Json(serde_json::json!({ "units": units })))
}

/// `GET /v1/units/{code}`: the unit's indicators for a period and the period before it.
pub async fn get_unit(
    State(state): State<Arc<AppState>>,
    Path(code): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<UnitProfile>, ApiError> {
    let timer = state.metrics.query_seconds.with_label_values(&["unit"]).start_timer();
    if params.contains_key("unit") {
        return Err(ApiError::BadRequest("the unit is in the path: /v1/units/{code}".into()));
    }
    let query = KpiQuery::parse(&params, today(), state.config.max_range_days)?;
    let client = &state.clickhouse;
    let unit = unit_ref(client, &code).await?;
    let length = chrono::Days::new((query.period.to - query.period.from).num_days().unsigned_abs() + 1);
    let previous = Period { from: query.period.from - length, to: query.period.from - chrono::Days::new(1) };
    let (mut current, mut before, reference) = tokio::try_join!(
        measures::totals(client, Scope::Unit(&code), query.period, None),
        measures::totals(client, Scope::Unit(&code), previous, None),
        Reference::load(client)
    )?;
    let indicators = reference.values(&code, &current.remove("").unwrap_or_default(), query.period);
    let previous_indicators = reference.values(&code, &before.remove("").unwrap_or_default(), previous);
    timer.observe_duration();
    Ok(Json(UnitProfile {
        denominators: reference.populations.get(&code).cloned().unwrap_or_default(),
        unit,
        from: query.period.from.to_string(),
        to: query.period.to.to_string(),
        indicators,
        previous_from: previous.from.to_string(),
        previous_to: previous.to.to_string(),
        previous_indicators,
    }))
}

/// `GET /v1/rankings/{id}?period=`: the commune-level units ordered by an indicator.
pub async fn get_rankings(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<RankingResponse>, ApiError> {
    let timer = state.metrics.query_seconds.with_label_values(&["rankings"]).start_timer();
    let definition = indicator(&id)?;
    if let Some(unknown) = params.keys().find(|key| key.as_str() != "period") {
        return Err(ApiError::BadRequest(format!("unknown parameter {unknown:?}; expected period")));
    }
    let period = match params.get("period") {
        Some(text) => NamedPeriod::parse(text)?,
        None => NamedPeriod::parse(&today().format("%Y-%m").to_string())?,
    };
    let previous = period.previous();
    let client = &state.clickhouse;
    let units = client
        .query("SELECT code, name, kind FROM ref_units WHERE kind != 'department' ORDER BY code")
        .fetch_all::<UnitRef>();
    let (units, mut current, mut before, reference) = tokio::try_join!(
        async { units.await.map_err(ApiError::from) },
        measures::totals(client, Scope::EachUnit, period.period, Some(kpis::measures_of(definition.id))),
        measures::totals(client, Scope::EachUnit, previous.period, Some(kpis::measures_of(definition.id))),
        Reference::load(client)
    )?;
    let empty = Totals::default();
    let mut values: Vec<(UnitRef, IndicatorValue, Option<f64>)> = units
        .into_iter()
        .map(|unit| {
            let now = current.remove(&unit.code).unwrap_or_default();
            let then = before.remove(&unit.code);
            let value = reference.value(definition, &unit.code, &now, period.period);
            let previous_value =
                reference.value(definition, &unit.code, then.as_ref().unwrap_or(&empty), previous.period).headline();
            (unit, value, previous_value)
        })
        .collect();
    let ranks = rank(&values.iter().map(|v| v.1.headline()).collect::<Vec<_>>(), definition.higher_is_better);
    let previous_ranks = rank(&values.iter().map(|v| v.2).collect::<Vec<_>>(), definition.higher_is_better);
    let mut ranked: Vec<RankedUnit> = values
        .drain(..)
        .zip(ranks.into_iter().zip(previous_ranks))
        .map(|((unit, value, previous), (rank, previous_rank))| RankedUnit {
            rank,
            previous_rank,
            rank_change: rank.zip(previous_rank).map(|(now, then)| i64::from(then) - i64::from(now)),
            unit,
            value,
            previous,
        })
        .collect();
    ranked.sort_by(|a, b| {
        a.rank.unwrap_or(u32::MAX).cmp(&b.rank.unwrap_or(u32::MAX)).then_with(|| a.unit.code.cmp(&b.unit.code))
    });
    timer.observe_duration();
    Ok(Json(RankingResponse {
        indicator: IndicatorRef::of(definition),
        period: PeriodRef::of(&period),
        previous_period: PeriodRef::of(&previous),
        units: ranked,
    }))
}

/// Competition ranks ("1, 2, 2, 4") of `values`, best first; no value, no rank.
pub fn rank(values: &[Option<f64>], higher_is_better: bool) -> Vec<Option<u32>> {
    let better = |a: f64, b: f64| if higher_is_better { a > b } else { a < b };
    values
        .iter()
        .map(|value| {
            value.map(|v| {
                let ahead = values.iter().flatten().filter(|other| better(**other, v)).count();
                u32::try_from(ahead).unwrap_or(u32::MAX).saturating_add(1)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_a_rank_and_missing_values_have_none() {
        let values = [Some(0.5), Some(0.9), None, Some(0.5), Some(0.1)];
        assert_eq!(rank(&values, true), vec![Some(2), Some(1), None, Some(2), Some(4)]);
        assert_eq!(rank(&values, false), vec![Some(2), Some(4), None, Some(2), Some(1)]);
    }
}
