//! The endpoints: read the query, ask storage.rs, apply the formulas of kpis.rs, answer with the
//! shapes of responses.rs.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::Extension;
use axum::Json;
use chrono::{Datelike, NaiveDate};
use ioc_domain::indicators::{self, Definition};
use ioc_domain::measures as m;

use crate::answer_day::AnswerDay;
use crate::error::ApiError;
use crate::extract::Segment;
use crate::kpis::{self, IndicatorValue};
use crate::period::{Bucket, KpiQuery, NamedPeriod, Period};
use crate::responses::{
    IndicatorDefinition, IndicatorRef, KpiResponse, PeriodRef, PipelineHealth, RankedUnit, RankingResponse,
    SeriesPoint, SeriesResponse, UnitInfo, UnitProfile, UnitRef,
};
use crate::storage::{Scope, Store, Totals};
use crate::{openapi, pipeline_health, ranking, AppState};

/// Leaves the week still under way on `today` ([`Period::week_under_way`]) out of `totals`:
/// their classes-per-week measure is read again up to the day before, in one query of its own
/// (taking today's rows away instead, read apart from the totals, could take away a week a
/// rollup cycle wrote between the two reads). `only`: the measures the answer reads (`None`:
/// every one). One more query, on Sundays only.
async fn leave_out_week_under_way(
    store: &Store,
    scope: Scope<'_>,
    period: Period,
    today: NaiveDate,
    only: Option<&[&str]>,
    totals: &mut HashMap<String, Totals>,
) -> Result<(), ApiError> {
    let Some(sunday) = period.week_under_way(today) else { return Ok(()) };
    if only.is_some_and(|measures| !measures.contains(&m::CLASS_WEEKS)) {
        return Ok(());
    }
    let judged = Period { from: period.from, to: sunday - chrono::Days::new(1) };
    let before = if judged.from <= judged.to {
        store.totals(scope, judged, Some(&[m::CLASS_WEEKS])).await?
    } else {
        HashMap::new()
    };
    for (key, whole) in totals.iter_mut() {
        whole.replace_flows(m::CLASS_WEEKS, before.get(key));
    }
    Ok(())
}

fn indicator(id: &str) -> Result<&'static Definition, ApiError> {
    indicators::definition(id).ok_or_else(|| {
        ApiError::BadRequest(format!("unknown indicator {id:?}; GET /v1/indicators lists the indicator ids"))
    })
}

/// The unit a query names, or `None` for the province; an unknown code is a 400.
async fn unit_of(store: &Store, query: &KpiQuery) -> Result<Option<UnitRef>, ApiError> {
    match &query.unit {
        Some(code) => Ok(Some(short(store.unit(code).await?))),
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
    async fn load(store: &Store) -> Result<Self, ApiError> {
        let (populations, goals) = store.reference().await?;
        Ok(Reference { populations, goals })
    }

    fn values(&self, scope: &str, totals: &Totals, period: Period, today: NaiveDate) -> Vec<IndicatorValue> {
        let population = |measure: &str| self.population(scope, measure);
        let context = kpis::Context { population: &population, weeks: period.weeks_judged(today) };
        kpis::all_values(totals, &context, &self.goals, period.to.year())
    }

    fn value(
        &self,
        definition: &Definition,
        scope: &str,
        totals: &Totals,
        period: Period,
        today: NaiveDate,
    ) -> IndicatorValue {
        let population = |measure: &str| self.population(scope, measure);
        let context = kpis::Context { population: &population, weeks: period.weeks_judged(today) };
        kpis::value(definition, totals, &context, &self.goals, period.to.year())
    }

    fn population(&self, scope: &str, measure: &str) -> u64 {
        self.populations.get(scope).and_then(|m| m.get(measure)).copied().unwrap_or(0)
    }
}

/// `GET /v1/kpis`.
pub async fn get_kpis(
    State(state): State<Arc<AppState>>,
    Extension(AnswerDay(today)): Extension<AnswerDay>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<KpiResponse>, ApiError> {
    let query = KpiQuery::parse(&params, today, state.config.max_range_days)?;
    let store = &state.store;
    let unit = unit_of(store, &query).await?;
    let scope = query.unit.as_deref().map_or(Scope::Province, Scope::Unit);
    let (mut totals, reference) = tokio::try_join!(store.totals(scope, query.period, None), Reference::load(store))?;
    leave_out_week_under_way(store, scope, query.period, today, None, &mut totals).await?;
    let totals = totals.remove("").unwrap_or_default();
    let scope_key = query.unit.clone().unwrap_or_default();
    let indicators = reference.values(&scope_key, &totals, query.period, today);
    Ok(Json(KpiResponse {
        from: query.period.from.to_string(),
        to: query.period.to.to_string(),
        timezone: ioc_domain::TIME_ZONE.into(),
        unit,
        indicators,
    }))
}

/// `GET /v1/kpis/{id}/series`.
pub async fn get_series(
    State(state): State<Arc<AppState>>,
    Extension(AnswerDay(today)): Extension<AnswerDay>,
    Segment(id): Segment,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<SeriesResponse>, ApiError> {
    let definition = indicator(&id)?;
    let query = KpiQuery::parse_with(&params, today, state.config.max_range_days, &["bucket"])?;
    let bucket = Bucket::parse(params.get("bucket").map_or("day", String::as_str))?;
    let buckets = bucket.split(query.period).len();
    if buckets > state.config.max_series_points {
        return Err(ApiError::BadRequest(format!(
            "{buckets} {} buckets is more than {} points; choose a larger bucket or a shorter range",
            bucket.as_str(),
            state.config.max_series_points
        )));
    }
    let store = &state.store;
    let unit = unit_of(store, &query).await?;
    let (series, reference) = tokio::try_join!(
        store.series(query.unit.as_deref(), bucket, query.period, Some(kpis::measures_of(definition.id))),
        Reference::load(store)
    )?;
    let scope_key = query.unit.clone().unwrap_or_default();
    let scope = query.unit.as_deref().map_or(Scope::Province, Scope::Unit);
    let mut points = Vec::with_capacity(series.len());
    for (start, part, totals) in series {
        let mut totals = HashMap::from([(String::new(), totals)]);
        leave_out_week_under_way(store, scope, part, today, Some(kpis::measures_of(definition.id)), &mut totals)
            .await?;
        let totals = totals.remove("").unwrap_or_default();
        points.push(SeriesPoint {
            bucket_start: start.to_string(),
            from: part.from.to_string(),
            to: part.to.to_string(),
            value: reference.value(definition, &scope_key, &totals, part, today),
        });
    }
    Ok(Json(SeriesResponse {
        indicator: IndicatorRef::of(definition),
        bucket: bucket.as_str().to_owned(),
        from: query.period.from.to_string(),
        to: query.period.to.to_string(),
        timezone: ioc_domain::TIME_ZONE.into(),
        unit,
        points,
    }))
}

/// `GET /v1/units`.
pub async fn get_units(State(state): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, ApiError> {
    let units = state.store.units().await?;
    Ok(Json(serde_json::json!({ "units": units })))
}

/// `GET /v1/units/{code}`: the unit's indicators for a period and the period before it.
pub async fn get_unit(
    State(state): State<Arc<AppState>>,
    Extension(AnswerDay(today)): Extension<AnswerDay>,
    Segment(code): Segment,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<UnitProfile>, ApiError> {
    if params.contains_key("unit") {
        return Err(ApiError::BadRequest("the unit is in the path: /v1/units/{code}".into()));
    }
    let query = KpiQuery::parse(&params, today, state.config.max_range_days)?;
    let store = &state.store;
    let unit = store.unit(&code).await?;
    let length = chrono::Days::new((query.period.to - query.period.from).num_days().unsigned_abs() + 1);
    let previous = Period { from: query.period.from - length, to: query.period.from - chrono::Days::new(1) };
    let (mut current, mut before, reference) = tokio::try_join!(
        store.totals(Scope::Unit(&code), query.period, None),
        store.totals(Scope::Unit(&code), previous, None),
        Reference::load(store)
    )?;
    leave_out_week_under_way(store, Scope::Unit(&code), query.period, today, None, &mut current).await?;
    let indicators = reference.values(&code, &current.remove("").unwrap_or_default(), query.period, today);
    let previous_indicators = reference.values(&code, &before.remove("").unwrap_or_default(), previous, today);
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
    Extension(AnswerDay(today)): Extension<AnswerDay>,
    Segment(id): Segment,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<RankingResponse>, ApiError> {
    let definition = indicator(&id)?;
    if let Some(unknown) = params.keys().find(|key| key.as_str() != "period") {
        return Err(ApiError::BadRequest(format!("unknown parameter {unknown:?}; expected period")));
    }
    let period = match params.get("period") {
        Some(text) => NamedPeriod::parse(text)?,
        None => NamedPeriod::parse(&today.format("%Y-%m").to_string())?,
    };
    // The period before is the whole named one: it is over.
    let previous = period.previous();
    let period = period.as_of(today)?;
    let store = &state.store;
    let (units, mut current, mut before, reference) = tokio::try_join!(
        store.communes(),
        store.totals(Scope::EachUnit, period.period, Some(kpis::measures_of(definition.id))),
        store.totals(Scope::EachUnit, previous.period, Some(kpis::measures_of(definition.id))),
        Reference::load(store)
    )?;
    let only = Some(kpis::measures_of(definition.id));
    leave_out_week_under_way(store, Scope::EachUnit, period.period, today, only, &mut current).await?;
    let empty = Totals::default();
    let mut values: Vec<(UnitRef, IndicatorValue, Option<f64>)> = units
        .into_iter()
        .map(|unit| {
            let now = current.remove(&unit.code).unwrap_or_default();
            let then = before.remove(&unit.code);
            let value = reference.value(definition, &unit.code, &now, period.period, today);
            let previous_value = reference
                .value(definition, &unit.code, then.as_ref().unwrap_or(&empty), previous.period, today)
                .headline();
            (unit, value, previous_value)
        })
        .collect();
    let ranks = ranking::rank(&values.iter().map(|v| v.1.headline()).collect::<Vec<_>>(), definition.higher_is_better);
    let previous_ranks = ranking::rank(&values.iter().map(|v| v.2).collect::<Vec<_>>(), definition.higher_is_better);
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
    Ok(Json(RankingResponse {
        indicator: IndicatorRef::of(definition),
        period: PeriodRef::of(&period),
        previous_period: PeriodRef::of(&previous),
        units: ranked,
    }))
}

/// `GET /v1/indicators`: the definitions.
pub async fn get_indicators() -> Json<serde_json::Value> {
    let definitions: Vec<IndicatorDefinition> = ioc_domain::indicators::DEFINITIONS
        .iter()
        .map(|d| IndicatorDefinition {
            id: d.id.to_owned(),
            decision_766_code: d.decision_766_code.map(str::to_owned),
            name_vi: d.name_vi.to_owned(),
            name_en: d.name_en.to_owned(),
            kind: d.kind.as_str().to_owned(),
            pillar: d.pillar.as_str().to_owned(),
            higher_is_better: d.higher_is_better,
            breakdown: d.breakdown.map(str::to_owned),
            numerator: d.numerator.to_owned(),
            denominator: d.denominator.map(str::to_owned),
        })
        .collect();
    Json(serde_json::json!({ "indicators": definitions }))
}

/// `GET /v1/pipeline`: whether the numbers are live.
pub async fn get_pipeline(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
) -> Result<Json<PipelineHealth>, ApiError> {
    let health = pipeline_health::read(&state.store, &state.http, &state.config.pipeline_metrics_urls).await?;
    Ok(Json(health))
}

/// Any other path under `/v1/` (a typo, a trailing slash): a JSON 404 naming the API's paths,
/// rather than the dashboard's answer for a missing asset.
pub async fn unknown_api_path(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!(
        "no API path {}; the API's paths are /v1/kpis, /v1/kpis/{{id}}/series, /v1/units, /v1/units/{{code}}, \
         /v1/rankings/{{id}}, /v1/indicators and /v1/pipeline (described in /openapi.json)",
        uri.path()
    ))
}

/// What `/` answers when the dashboard's assets are missing.
pub async fn dashboard_missing() -> (axum::http::StatusCode, &'static str) {
    (
        axum::http::StatusCode::NOT_FOUND,
        "Not found. If you expected the dashboard: its assets are not built or web_dir points elsewhere; \
         run `npm ci && npm run build` in services/api/web (ops/run does it).",
    )
}

/// `GET /openapi.json`.
pub async fn get_openapi() -> Json<serde_json::Value> {
    Json(openapi::document())
}
