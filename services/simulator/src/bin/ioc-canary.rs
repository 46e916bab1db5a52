//! ioc-canary binary: sends one `canary.probe` per source every interval through ingest, times it
//! to the API, and exports the result for Prometheus (the freshness alert reads it when real
//! traffic is quiet). Off unless deployed: the chart's `canary.enabled`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ioc_domain::Source;
use ioc_service::metric_names::{CANARY_FRESHNESS, CANARY_LAST_SUCCESS, CANARY_LATENCY, CANARY_PROBES};
use ioc_service::Readiness;
use ioc_simulator::Canary;
use prometheus::{GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

#[derive(Parser)]
#[command(about = "Times a synthetic event per source from ioc-ingest to ioc-api")]
struct Cli {
    /// ioc-ingest base URL.
    #[arg(long, env = "IOC_CANARY_INGEST_URL", default_value = "http://127.0.0.1:8081")]
    ingest_url: String,
    /// ioc-api base URL.
    #[arg(long, env = "IOC_CANARY_API_URL", default_value = "http://127.0.0.1:8080")]
    api_url: String,
    /// Bearer key of the portal source.
    #[arg(long, env = "IOC_CANARY_PORTAL_KEY")]
    portal_key: String,
    /// Bearer key of the e-document source.
    #[arg(long, env = "IOC_CANARY_EDOC_KEY")]
    edoc_key: String,
    /// Bearer key of the training source.
    #[arg(long, env = "IOC_CANARY_TRAINING_KEY")]
    training_key: String,
    /// Seconds between two probes of one source.
    #[arg(long, env = "IOC_CANARY_INTERVAL_SECONDS", default_value_t = 60)]
    interval_seconds: u64,
    /// Seconds after which a probe the API does not show has failed.
    #[arg(long, env = "IOC_CANARY_DEADLINE_SECONDS", default_value_t = 300)]
    deadline_seconds: u64,
    /// Address of /metrics, /healthz and /readyz.
    #[arg(long, env = "IOC_CANARY_LISTEN", default_value = "127.0.0.1:8084")]
    listen: String,
}

/// The canary's own Prometheus metrics.
struct Metrics {
    registry: Registry,
    probes: IntCounterVec,
    latency: HistogramVec,
    freshness: GaugeVec,
    last_success: GaugeVec,
}

impl Metrics {
    fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let probes = IntCounterVec::new(
            Opts::new(CANARY_PROBES, "Canary probes by source and outcome"),
            &["source", "outcome"],
        )?;
        // From a fraction of a rollup cycle to the five-minute deadline.
        let buckets = vec![0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0];
        let latency = HistogramVec::new(
            HistogramOpts::new(CANARY_LATENCY, "Seconds from sending a probe until the API showed it").buckets(buckets),
            &["source"],
        )?;
        let last_success = GaugeVec::new(
            Opts::new(CANARY_LAST_SUCCESS, "When a probe last reached the API (unix seconds)"),
            &["source"],
        )?;
        let freshness = GaugeVec::new(
            Opts::new(CANARY_FRESHNESS, "Seconds the last successful probe took to show in the API"),
            &["source"],
        )?;
        registry.register(Box::new(freshness.clone()))?;
        registry.register(Box::new(probes.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(last_success.clone()))?;
        for source in Source::ALL {
            for outcome in ["succeeded", "refused", "timed_out"] {
                probes.with_label_values(&[source.as_str(), outcome]);
            }
        }
        Ok(Metrics { registry, probes, latency, freshness, last_success })
    }
}

/// The canary has no dependency of its own to check: failures are what it reports.
struct AlwaysReady;

impl Readiness for AlwaysReady {
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async { Ok(()) })
    }
}

/// Probes `source` forever, one probe per interval (a slow probe delays the next one).
async fn probe_forever(canary: Arc<Canary>, metrics: Arc<Metrics>, source: Source, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match canary.probe(source).await {
            Ok(took) => {
                metrics.probes.with_label_values(&[source.as_str(), "succeeded"]).inc();
                metrics.latency.with_label_values(&[source.as_str()]).observe(took.as_secs_f64());
                metrics.freshness.with_label_values(&[source.as_str()]).set(took.as_secs_f64());
                metrics.last_success.with_label_values(&[source.as_str()]).set(chrono::Utc::now().timestamp() as f64);
                tracing::info!(%source, seconds = took.as_secs_f64(), "canary probe reached the API");
            }
            Err(error) => {
                metrics.probes.with_label_values(&[source.as_str(), error.kind()]).inc();
                tracing::warn!(%source, %error, "canary probe failed");
            }
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ioc_service::init_logging();
    let cli = Cli::parse();
    anyhow::ensure!(
        cli.interval_seconds > 0 && cli.deadline_seconds > 0,
        "--interval-seconds and --deadline-seconds must be above zero"
    );
    let keys = BTreeMap::from([
        (Source::Portal, cli.portal_key.clone()),
        (Source::Edoc, cli.edoc_key.clone()),
        (Source::Training, cli.training_key.clone()),
    ]);
    let canary = Arc::new(Canary::new(&cli.ingest_url, &cli.api_url, keys, Duration::from_secs(cli.deadline_seconds)));
    let metrics = Arc::new(Metrics::new().context("failed to register the canary's metrics")?);
    let listener =
        tokio::net::TcpListener::bind(&cli.listen).await.with_context(|| format!("failed to bind {}", cli.listen))?;
    tracing::info!(listen = %cli.listen, ingest = %cli.ingest_url, api = %cli.api_url, "ioc-canary started");
    for source in Source::ALL {
        let interval = Duration::from_secs(cli.interval_seconds);
        tokio::spawn(probe_forever(canary.clone(), metrics.clone(), source, interval));
    }
    let router: axum::Router = ioc_service::ops_router(metrics.registry.clone(), Arc::new(AlwaysReady));
    axum::serve(listener, router).with_graceful_shutdown(ioc_service::shutdown_signal()).await?;
    Ok(())
}
