//! The answers of the API's endpoints: one home for their shapes, which /openapi.json describes
//! (openapi.rs) and the tests check every answer against.

use std::collections::HashMap;

use clickhouse::Row;
use ioc_domain::indicators::Definition;
use serde::{Deserialize, Serialize};

use crate::kpis::IndicatorValue;
use crate::period::NamedPeriod;

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
    pub(crate) fn of(definition: &Definition) -> Self {
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
    pub(crate) fn of(named: &NamedPeriod) -> Self {
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

/// One indicator's definition, as `GET /v1/indicators` serves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorDefinition {
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
    /// `digital_government`, `digital_economy` or `digital_society`.
    pub pillar: String,
    /// Whether a higher value is better.
    pub higher_is_better: bool,
    /// What the breakdown splits values by, if anything.
    pub breakdown: Option<String>,
    /// What the numerator counts.
    pub numerator: String,
    /// What the denominator counts; null for counts.
    pub denominator: Option<String>,
}

/// One source's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceHealth {
    /// `portal`, `edoc` or `training`.
    pub source: String,
    /// Newest event time stored (RFC 3339, local offset), if any.
    pub newest_event: Option<String>,
    /// Seconds between the newest event time and now.
    pub newest_event_age_seconds: Option<i64>,
    /// Events stored in the last five minutes, per minute.
    pub events_per_minute: f64,
    /// Every event stored before this instant is in the dashboard's numbers.
    pub rollup_covered_until: Option<String>,
    /// Events ingest rejected since it started (null when its metrics are not reachable).
    pub rejected_events: Option<u64>,
    /// Messages the processor sent to the dead-letter topic since it started (null likewise).
    pub dead_lettered: Option<u64>,
}

/// The answer of `GET /v1/pipeline`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineHealth {
    /// When this was measured (RFC 3339).
    pub generated_at: String,
    /// Each source.
    pub sources: Vec<SourceHealth>,
}
