//! What every IOC service shares at its edges: configuration loading, secrets that do not
//! print, logging, Prometheus metrics, health/readiness routes and graceful shutdown.

mod config_loader;
mod connection_limits;
pub mod metric_names;
mod ops_routes;
mod secret;
mod serve;
mod supervise;
pub mod trace;
pub mod trace_export;

pub use config_loader::{load_config, ConfigError};
pub use connection_limits::ConnectionLimits;
pub use ops_routes::{ops_router, Readiness};
pub use secret::Secret;
pub use serve::{open_connections_gauge, serve_until, Served};
pub use supervise::{ended_early, TaskEnded};

/// Starts structured logging to stderr; `RUST_LOG` overrides the default `info` level, and
/// `IOC_LOG_FORMAT=json` writes one JSON object per line (for a log collector) instead of text.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rdkafka=warn,hyper=warn"));
    let json = std::env::var("IOC_LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    // A second call (tests boot several services in one process) is harmless.
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = if json { builder.json().flatten_event(true).try_init() } else { builder.try_init() };
}

/// Resolves when the process is asked to stop (SIGTERM from Kubernetes, or Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "failed to listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "failed to listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested");
}
