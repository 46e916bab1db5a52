//! ioc-api: read-only indicators over ClickHouse for the IOC dashboard and other clients.

pub mod config;
mod error;
pub mod kpis;
mod metrics;
pub mod openapi;
pub mod period;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use clickhouse::Row;
use ioc_telemetry::Readiness;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

pub use config::ApiConfig;
pub use error::ApiError;
pub use kpis::IndicatorValue;

use crate::metrics::ApiMetrics;
use crate::period::KpiQuery;

/// Shared state of the handlers.
pub struct AppState {
    config: ApiConfig,
    clickhouse: clickhouse::Client,
    metrics: ApiMetrics,
}

/// The unit an answer is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitRef {
    /// Unit code.
    pub code: String,
    /// Unit name.
    pub name: String,
    /// `xa`, `phuong` or `department`.
    pub kind: String,
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

#[derive(Row, Deserialize)]
struct UnitRow {
    code: String,
    name: String,
    kind: String,
}

async fn get_kpis(
    State(state): State<Arc<AppState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<KpiResponse>, ApiError> {
    let timer = state.metrics.query_seconds.with_label_values(&["kpis"]).start_timer();
    let today = chrono::Utc::now().with_timezone(&ioc_events::local_offset()).date_naive();
    let query = KpiQuery::parse(&params, today, state.config.max_range_days)?;
    let unit = match &query.unit {
        None => None,
        Some(code) => {
            let found: Option<UnitRow> = state
                .clickhouse
                .query("SELECT code, name, kind FROM ref_units WHERE code = ? LIMIT 1")
                .bind(code)
                .fetch_optional()
                .await?;
            let row = found.ok_or_else(|| {
                ApiError::BadRequest(format!(
                    "unknown unit {code:?}; see the unit codes in schemas/reference/units.v1.csv"
                ))
            })?;
            Some(UnitRef { code: row.code, name: row.name, kind: row.kind })
        }
    };
    let indicators = kpis::compute(&state.clickhouse, &query).await?;
    timer.observe_duration();
    Ok(Json(KpiResponse {
        from: query.period.from.to_string(),
        to: query.period.to.to_string(),
        timezone: "Asia/Ho_Chi_Minh".into(),
        unit,
        indicators,
    }))
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
    /// What the numerator counts.
    pub numerator: String,
    /// What the denominator counts.
    pub denominator: String,
    /// Target ratio, if one is set.
    pub target: Option<f64>,
}

async fn get_indicators() -> Json<serde_json::Value> {
    let definitions: Vec<IndicatorDefinition> = ioc_events::indicators::DEFINITIONS
        .iter()
        .map(|d| IndicatorDefinition {
            id: d.id.to_owned(),
            decision_766_code: d.decision_766_code.map(str::to_owned),
            name_vi: d.name_vi.to_owned(),
            name_en: d.name_en.to_owned(),
            numerator: d.numerator.to_owned(),
            denominator: d.denominator.to_owned(),
            target: d.target,
        })
        .collect();
    Json(serde_json::json!({ "indicators": definitions }))
}

async fn get_openapi() -> Json<serde_json::Value> {
    Json(openapi::document())
}

struct ClickHouseReadiness(clickhouse::Client);

impl Readiness for ClickHouseReadiness {
    fn check(&self) -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(ioc_clickhouse::check_reachable(&self.0))
    }
}

/// Builds the service's router.
pub fn router(state: Arc<AppState>) -> Router {
    let ops = ioc_telemetry::ops_router(
        state.metrics.registry.clone(),
        Arc::new(ClickHouseReadiness(state.clickhouse.clone())),
    );
    let metrics = state.metrics.clone();
    Router::new()
        .route("/v1/kpis", get(get_kpis))
        .route("/v1/indicators", get(get_indicators))
        .route("/openapi.json", get(get_openapi))
        .with_state(state)
        .merge(ops)
        .layer(axum::middleware::from_fn(move |request, next| metrics::count_request(metrics.clone(), request, next)))
}

impl AppState {
    /// The state for `config` (the ClickHouse client connects lazily).
    pub fn new(config: ApiConfig) -> anyhow::Result<Self> {
        Ok(AppState {
            clickhouse: config.clickhouse.client(),
            metrics: ApiMetrics::new().context("failed to register metrics")?,
            config,
        })
    }
}

/// Runs ioc-api on `listener` until `shutdown` resolves.
pub async fn serve(
    config: ApiConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    config.validate()?;
    let state = Arc::new(AppState::new(config)?);
    tracing::info!(address = %listener.local_addr()?, "ioc-api listening");
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await.context("http server failed")
}
