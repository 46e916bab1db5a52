//! ioc-api: read-only indicators over ClickHouse for the IOC dashboard and other clients.

pub mod config;
mod error;
pub mod handlers;
pub mod kpis;
pub mod measures;
mod metrics;
pub mod openapi;
pub mod period;
pub mod pipeline_health;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use axum::routing::get;
use axum::{Json, Router};
use ioc_service::Readiness;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

pub use config::ApiConfig;
pub use error::ApiError;
pub use handlers::{KpiResponse, RankingResponse, SeriesResponse, UnitProfile, UnitRef};
pub use kpis::IndicatorValue;

use crate::metrics::ApiMetrics;

/// Shared state of the handlers.
pub struct AppState {
    config: ApiConfig,
    clickhouse: clickhouse::Client,
    metrics: ApiMetrics,
    http: reqwest::Client,
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

async fn get_indicators() -> Json<serde_json::Value> {
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

async fn get_pipeline(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
) -> Result<Json<pipeline_health::PipelineHealth>, ApiError> {
    let health = pipeline_health::read(&state.clickhouse, &state.http, &state.config.pipeline_metrics_urls).await?;
    Ok(Json(health))
}

async fn dashboard_missing() -> (axum::http::StatusCode, &'static str) {
    (
        axum::http::StatusCode::NOT_FOUND,
        "Not found. If you expected the dashboard: its assets are not built or web_dir points elsewhere; \
         run `npm ci && npm run build` in services/api/web (ops/run does it).",
    )
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
    let ops = ioc_service::ops_router(
        state.metrics.registry.clone(),
        Arc::new(ClickHouseReadiness(state.clickhouse.clone())),
    );
    let metrics = state.metrics.clone();
    // The dashboard: its built assets, gzip-compressed ahead of time where the build did it.
    let dashboard = tower_http::services::ServeDir::new(&state.config.web_dir)
        .precompressed_gzip()
        .not_found_service(get(dashboard_missing));
    Router::new()
        .route("/v1/kpis", get(handlers::get_kpis))
        .route("/v1/kpis/{id}/series", get(handlers::get_series))
        .route("/v1/units", get(handlers::get_units))
        .route("/v1/units/{code}", get(handlers::get_unit))
        .route("/v1/rankings/{id}", get(handlers::get_rankings))
        .route("/v1/pipeline", get(get_pipeline))
        .route("/v1/indicators", get(get_indicators))
        .route("/openapi.json", get(get_openapi))
        .fallback_service(dashboard)
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
            http: reqwest::Client::new(),
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
    if !config.web_dir.join("index.html").exists() {
        tracing::warn!(web_dir = %config.web_dir.display(), "dashboard assets not found; / answers 404 until they are built");
    }
    let state = Arc::new(AppState::new(config)?);
    tracing::info!(address = %listener.local_addr()?, "ioc-api listening");
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await.context("http server failed")
}
