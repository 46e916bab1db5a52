//! ioc-processor binary: `ioc-processor` (or `run`) consumes; `ioc-processor migrate` applies
//! the ClickHouse migrations and reloads the reference data.

use anyhow::Context;
use clap::{Parser, Subcommand};

// mimalloc instead of glibc's malloc: the processor's own CPU for the same rows fell by about a
// tenth (issue 12, BENCHMARKS.md); its peak memory rose from about 80 to about 90 MB.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(about = "Kafka to ClickHouse processor of the IOC telemetry pipeline")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Consume every configured source (the default).
    Run,
    /// Apply ClickHouse migrations and reload reference data, then exit.
    Migrate,
    /// Inspect or replay the dead-letter topic.
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
    },
}

#[derive(Subcommand)]
enum DlqAction {
    /// Print every dead letter as one JSON object per line (provenance, error, event id).
    List,
    /// Re-inject the dead letters not replayed yet into their source topics (after a fix).
    Replay,
}

/// How long the exit waits for blocking work still under way once everything else is done.
/// An offset commit a broker never answers holds its thread until librdkafka gives up on it
/// (`socket.timeout.ms`, 60 s), and a runtime left to drop waits for it: the process then
/// outlived its shutdown deadline and was killed at the end of its grace period. The commit's
/// outcome is already recorded as unconfirmed (pipeline.rs); the messages come again.
const BLOCKING_WORK_AT_EXIT: std::time::Duration = std::time::Duration::from_secs(1);

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let result = runtime.block_on(run());
    runtime.shutdown_timeout(BLOCKING_WORK_AT_EXIT);
    result
}

async fn run() -> anyhow::Result<()> {
    ioc_service::init_logging();
    let cli = Cli::parse();
    let config = ioc_processor::ProcessorConfig::load().context("failed to load configuration")?;
    match cli.command.unwrap_or(Command::Run) {
        Command::Migrate => {
            let applied = ioc_processor::migrate(&config).await?;
            tracing::info!(database = %config.clickhouse.database, applied = applied.len(), "migrations done, reference data loaded");
            Ok(())
        }
        Command::Dlq { action: DlqAction::List } => {
            for letter in ioc_processor::dead_letter_admin::list(&config)? {
                println!("{}", serde_json::to_string(&letter)?);
            }
            Ok(())
        }
        Command::Dlq { action: DlqAction::Replay } => {
            let replayed = ioc_processor::dead_letter_admin::replay(&config).await?;
            tracing::info!(replayed, "dead letters replayed to their source topics");
            Ok(())
        }
        Command::Run => {
            let spans = ioc_service::trace_export::start("ioc-processor").context("failed to start the span export")?;
            let listener = tokio::net::TcpListener::bind(&config.listen)
                .await
                .with_context(|| format!("failed to bind {}", config.listen))?;
            let served = ioc_processor::serve(config, listener, ioc_service::shutdown_signal()).await;
            if let Some(spans) = spans {
                spans.shutdown();
            }
            served
        }
    }
}
