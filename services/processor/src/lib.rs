//! ioc-processor: consumes each source's topic and stores its events in ClickHouse, committing
//! Kafka offsets only after ClickHouse acknowledged the rows (see ARCHITECTURE.md).

mod batch;
mod batch_traces;
pub mod config;
pub mod dead_letter;
pub mod dead_letter_admin;
mod decode;
mod metrics;
mod monitor;
mod pipeline;
mod resume_retry;
pub mod rollup;
mod row_text;
pub mod transform;
mod unknown_units;
mod write;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ioc_domain::{dead_letter_topic, Source};
use ioc_service::Readiness;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::ProcessorConfig;
pub use metrics::ProcessorMetrics;

use crate::dead_letter::DeadLetters;
use crate::pipeline::PipelineContext;
use crate::transform::{EdocTable, PortalTable, TrainingTable};

struct ProcessorReadiness(Arc<PipelineContext>);

impl Readiness for ProcessorReadiness {
    fn check(&self) -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            ioc_clickhouse::check_reachable(&self.0.clickhouse).await?;
            ioc_kafka::check_reachable(Arc::new(self.0.dead_letters.producer().clone()), Duration::from_secs(3)).await
        })
    }
}

/// Applies the migrations and reloads the reference data: those embedded in the binary, or
/// the folders the configuration names.
pub async fn migrate(config: &ProcessorConfig) -> anyhow::Result<Vec<String>> {
    let migrations = match &config.migrations_dir {
        Some(dir) => ioc_clickhouse::migrations_in(dir)?,
        None => ioc_clickhouse::embedded_migrations(),
    };
    let reference = match &config.reference_dir {
        Some(dir) => ioc_reference::ReferenceData::load(dir)?,
        None => ioc_reference::ReferenceData::embedded()?,
    };
    let gives_up = tokio::time::Instant::now() + Duration::from_secs(config.migrate_wait_seconds);
    let mut pause = Duration::from_secs(1);
    loop {
        let attempt = async {
            let applied = ioc_clickhouse::migrate(&config.clickhouse, &migrations).await?;
            ioc_clickhouse::load_reference_data(&config.clickhouse, &reference).await?;
            anyhow::Ok(applied)
        };
        let error = match attempt.await {
            Ok(applied) => return Ok(applied),
            Err(error) => error,
        };
        // What waiting can mend: ClickHouse unreachable or refusing a statement while its nodes
        // come up. What it cannot: a changed or unknown migration, a bad name or file.
        let waiting_helps = matches!(
            error.downcast_ref::<ioc_clickhouse::MigrationError>(),
            Some(ioc_clickhouse::MigrationError::Apply { .. })
        ) || matches!(
            error.downcast_ref::<ioc_clickhouse::ReferenceError>(),
            Some(ioc_clickhouse::ReferenceError::Write { .. })
        );
        let now = tokio::time::Instant::now();
        if !waiting_helps || now + pause > gives_up {
            return Err(error.context(format!(
                "migrations not applied (tried for up to migrate_wait_seconds = {} s)",
                config.migrate_wait_seconds
            )));
        }
        tracing::warn!(
            error = format!("{error:#}"),
            retry_in_s = pause.as_secs(),
            left_s = (gives_up - now).as_secs(),
            "clickhouse not ready for the migrations; trying again"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(15));
    }
}

/// Runs every configured source's pipeline and the health/metrics endpoint on `listener`
/// until `shutdown` resolves; then each pipeline writes and commits what it holds.
pub async fn serve(
    config: ProcessorConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    config.validate()?;
    let topics: Vec<String> = config.sources.iter().map(|s| s.topic(&config.kafka.topic_prefix)).collect();
    if config.kafka.create_topics {
        let dead_letters = dead_letter_topic(&config.kafka.topic_prefix);
        config
            .kafka
            .ensure_topics_and_dead_letters(&topics, &dead_letters)
            .await
            .context("failed to create the source and dead-letter topics")?;
    }

    let context = Arc::new(PipelineContext {
        clickhouse: config.clickhouse.client(),
        dead_letters: DeadLetters::new(config.kafka.producer()?, dead_letter_topic(&config.kafka.topic_prefix)),
        metrics: ProcessorMetrics::new().context("failed to register metrics")?,
        // Without the rollup no cycle of this process covers its inserts: they are dated a
        // second ahead, for the other processes' cycles (rollup/in_flight.rs).
        inserts: if config.rollup_enabled {
            rollup::InsertsInFlight::new()
        } else {
            rollup::InsertsInFlight::dated_ahead()
        },
        shutdown_ends: std::sync::OnceLock::new(),
        config,
    });
    context.metrics.start_at_zero(&context.config.sources);

    let (stop, stopped) = watch::channel(false);
    // The rollup stops after the pipelines, with a last round over their last batches.
    let (stop_rollup, rollup_stopped) = watch::channel(false);
    let mut pipelines = tokio::task::JoinSet::new();
    for source in context.config.sources.clone() {
        let (context, stopped) = (context.clone(), stopped.clone());
        pipelines.spawn(async move {
            let result = match source {
                Source::Portal => pipeline::run::<PortalTable>(context, source, stopped).await,
                Source::Edoc => pipeline::run::<EdocTable>(context, source, stopped).await,
                Source::Training => pipeline::run::<TrainingTable>(context, source, stopped).await,
            };
            result.with_context(|| format!("{source} pipeline failed"))
        });
    }

    if context.config.rollup_enabled
        && context.config.clickhouse.cluster.is_some()
        && context.config.rollup_clickhouse_urls.is_empty()
    {
        tracing::warn!(
            "clickhouse.cluster is set and rollup_clickhouse_urls is empty: the rollup runs on clickhouse.url, \
             which must reach one node, not a Service over every node (ops/scaling.md)"
        );
    }
    let mut rollup = context.config.rollup_enabled.then(|| {
        let task = rollup::RollupTask {
            nodes: context.config.rollup_nodes(),
            sources: context.config.sources.clone(),
            interval: Duration::from_millis(context.config.rollup_interval_ms),
            recompute_on_start: context.config.rollup_recompute_on_start,
            resume_lookback_seconds: context.config.rollup_resume_lookback_seconds,
            facts_events_per_slice: context.config.rollup_facts_events_per_slice,
            margin_seconds: context.config.rollup_margin_seconds,
            node_timeout: Duration::from_secs(context.config.rollup_cycle_timeout_seconds),
            metrics: context.metrics.clone(),
            inserts: context.inserts.clone(),
        };
        tokio::spawn(rollup::run(task, rollup_stopped))
    });

    let mut monitor = (context.config.monitor_interval_ms > 0).then(|| {
        let interval = Duration::from_millis(context.config.monitor_interval_ms);
        tokio::spawn(monitor::run(context.clone(), interval, stopped.clone()))
    });

    let ops =
        ioc_service::ops_router::<()>(context.metrics.registry.clone(), Arc::new(ProcessorReadiness(context.clone())));
    tracing::info!(address = %listener.local_addr()?, "ioc-processor health endpoint listening");
    let mut http_stop = stopped.clone();
    // Only Prometheus and the kubelet call it: the default connection limits are plenty.
    let open = ioc_service::open_connections_gauge(&context.metrics.registry, "ioc_processor")
        .context("failed to register the connections gauge")?;
    let deadline = Duration::from_millis(context.config.shutdown_deadline_ms);
    let mut http = tokio::spawn(async move {
        let stopped = async move {
            let _ = http_stop.changed().await;
        };
        ioc_service::serve_until(listener, ops, stopped, deadline, ioc_service::ConnectionLimits::default(), open).await
    });

    tokio::select! {
        () = shutdown => {}
        Some(finished) = pipelines.join_next() => {
            // A pipeline ended on its own: that is an error; stop the rest and report it.
            let _ = stop.send(true);
            finished.context("pipeline task panicked")??;
            anyhow::bail!("a pipeline stopped unexpectedly");
        }
        // The rollup and the monitor run until the shutdown; one that ended before it would
        // leave the process ready with its numbers frozen (ioc_service::ended_early). Nothing
        // is lost by stopping here: what the pipelines hold is not committed and comes again.
        ended = ioc_service::ended_early("rollup", rollup.as_mut()) => {
            let _ = stop.send(true);
            return Err(ended.into());
        }
        ended = ioc_service::ended_early("monitor", monitor.as_mut()) => {
            let _ = stop.send(true);
            return Err(ended.into());
        }
    }
    // One deadline for the whole shutdown, from the moment it began: the pod's grace period
    // (charts: the deadline plus 15 s, the preStop pause's 5 s among them) must cover all of it.
    // Each step gets what the steps before it left; one still running at the deadline is
    // abandoned, as a crash would leave it (nothing is lost: uncommitted messages are consumed
    // again, a rollup round is run again).
    let shutdown_ends = tokio::time::Instant::now() + Duration::from_millis(context.config.shutdown_deadline_ms);
    let _ = context.shutdown_ends.set(shutdown_ends);
    let _ = stop.send(true);
    let stored = tokio::time::timeout_at(shutdown_ends, async {
        while let Some(finished) = pipelines.join_next().await {
            finished.context("pipeline task panicked")??;
        }
        anyhow::Ok(())
    })
    .await;
    match stored {
        Ok(result) => result?,
        Err(_) => {
            // An insert that hangs (a ClickHouse that took the connection and answers nothing)
            // is never retried, so the pipeline's own deadline cannot end it.
            pipelines.abort_all();
            tracing::warn!(
                "pipeline abandoned at the shutdown deadline with its last batch unstored; it will be consumed again"
            );
        }
    }
    let _ = stop_rollup.send(true);
    match tokio::time::timeout_at(shutdown_ends, &mut http).await {
        Ok(served) => {
            served.context("health endpoint task failed")?.context("health endpoint failed")?;
        }
        Err(_) => http.abort(),
    }
    if let Some(mut rollup) = rollup {
        // The last round may finish in what the pipelines' last batches left of the deadline;
        // one that runs past it is abandoned (the next start resumes from the progress recorded
        // before it).
        if tokio::time::timeout_at(shutdown_ends, &mut rollup).await.is_err() {
            rollup.abort();
            tracing::warn!("rollup cycle abandoned at shutdown");
        }
    }
    if let Some(monitor) = monitor {
        // It only reads; a check in progress is not worth waiting for.
        monitor.abort();
    }
    Ok(())
}
