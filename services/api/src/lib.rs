//! ioc-api: read-only indicators over ClickHouse for the IOC dashboard and other clients.

pub mod answer_cache;
pub mod answer_day;
mod compute_limit;
pub mod config;
mod error;
pub mod extract;
pub mod handlers;
pub mod kpis;
mod metrics;
pub mod openapi;
pub mod period;
pub mod pipeline_health;
mod ranking;
pub mod responses;
pub mod storage;

use std::future::Future;
use std::sync::Arc;

use anyhow::Context;
use axum::routing::get;
use axum::Router;
use ioc_service::Readiness;
use tokio::net::TcpListener;

pub use config::ApiConfig;
pub use error::ApiError;
pub use kpis::IndicatorValue;
pub use responses::{KpiResponse, RankingResponse, SeriesResponse, UnitProfile, UnitRef};

use crate::metrics::ApiMetrics;

/// Shared state of the handlers.
pub struct AppState {
    config: ApiConfig,
    clickhouse: clickhouse::Client,
    store: Arc<storage::Store>,
    answers: Arc<answer_cache::AnswerCache>,
    computing: Arc<compute_limit::ComputeLimit>,
    metrics: ApiMetrics,
    http: reqwest::Client,
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
        .not_found_service(get(handlers::dashboard_missing));
    // Answers that change only when the rollups write: kept until they do (answer_cache.rs),
    // and computed a bounded number at a time when they are not (compute_limit.rs; the layer
    // added last runs first, so a kept answer needs no turn).
    let mut cached = Router::new()
        .route("/v1/kpis", get(handlers::get_kpis))
        .route("/v1/kpis/{id}/series", get(handlers::get_series))
        .route("/v1/units", get(handlers::get_units))
        .route("/v1/units/{code}", get(handlers::get_unit))
        .route("/v1/rankings/{id}", get(handlers::get_rankings))
        .route("/v1/indicators", get(handlers::get_indicators))
        .route_layer(axum::middleware::from_fn_with_state(state.computing.clone(), compute_limit::take_turn));
    if state.config.answer_cache_refresh_ms > 0 {
        cached =
            cached.route_layer(axum::middleware::from_fn_with_state(state.answers.clone(), answer_cache::serve_kept));
    }
    // First of all: the day the answer is for, which the cache's key and the handlers share.
    let cached = cached.route_layer(axum::middleware::from_fn_with_state(state.clone(), answer_day::stamp));
    Router::new()
        .merge(cached)
        .route("/v1/pipeline", get(handlers::get_pipeline))
        .route("/openapi.json", get(handlers::get_openapi))
        .route("/v1", axum::routing::any(handlers::unknown_api_path))
        .route("/v1/", axum::routing::any(handlers::unknown_api_path))
        .route("/v1/{*rest}", axum::routing::any(handlers::unknown_api_path))
        .fallback_service(dashboard)
        .with_state(state)
        .merge(ops)
        .layer(axum::middleware::from_fn(move |request, next| metrics::count_request(metrics.clone(), request, next)))
}

impl AppState {
    /// The state for `config` (the ClickHouse client connects lazily).
    pub fn new(config: ApiConfig) -> anyhow::Result<Self> {
        let metrics = ApiMetrics::new().context("failed to register metrics")?;
        Ok(AppState {
            clickhouse: config.clickhouse.client(),
            store: Arc::new(storage::Store::new(config.clickhouse.client(), metrics.clickhouse_seconds.clone())),
            answers: Arc::new(answer_cache::AnswerCache::new(config.answer_cache_max_bytes, metrics.clone())),
            computing: Arc::new(compute_limit::ComputeLimit::new(
                config.max_answers_computing,
                std::time::Duration::from_millis(config.answer_wait_ms),
                metrics.answers_refused.clone(),
            )),
            metrics,
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
    let mut watcher = (state.config.answer_cache_refresh_ms > 0).then(|| {
        let refresh = std::time::Duration::from_millis(state.config.answer_cache_refresh_ms);
        tokio::spawn(answer_cache::watch(state.answers.clone(), state.store.clone(), refresh))
    });
    tracing::info!(address = %listener.local_addr()?, "ioc-api listening");
    let deadline = std::time::Duration::from_millis(state.config.shutdown_deadline_ms);
    let limits = state.config.connections.clone();
    let open = state.metrics.connections_open.clone();
    // A watcher that ended would leave kept answers served for ever, however far the rollups
    // moved since (ioc_service::ended_early): the API stops instead, and is restarted.
    let served = tokio::select! {
        served = ioc_service::serve_until(listener, router(state), shutdown, deadline, limits, open) => served,
        ended = ioc_service::ended_early("answer-cache watcher", watcher.as_mut()) => return Err(ended.into()),
    };
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    served.map(|_| ()).context("http server failed")
}
