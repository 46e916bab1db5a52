//! ioc-simulator binary: generate a scenario, send it to ioc-ingest, write the ground truth.

use std::path::PathBuf;

use anyhow::Context;
use chrono::NaiveDate;
use clap::Parser;
use ioc_domain::Source;
use ioc_reference::ReferenceData;
use ioc_simulator::{simulate, Faults, Scenario, Sender};

#[derive(Parser)]
#[command(about = "Emulates Phú Thọ's source systems and feeds ioc-ingest")]
struct Cli {
    /// ioc-ingest base URL.
    #[arg(long, env = "IOC_SIM_INGEST_URL", default_value = "http://127.0.0.1:8081")]
    ingest_url: String,
    /// Bearer key of the portal source.
    #[arg(long, env = "IOC_SIM_PORTAL_KEY")]
    portal_key: String,
    /// Bearer key of the e-document source.
    #[arg(long, env = "IOC_SIM_EDOC_KEY")]
    edoc_key: String,
    /// Bearer key of the training source.
    #[arg(long, env = "IOC_SIM_TRAINING_KEY")]
    training_key: String,
    /// Random seed: the same seed gives the same events and truth.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First simulated day (YYYY-MM-DD, local); default: `days` days ending yesterday.
    #[arg(long)]
    start: Option<NaiveDate>,
    /// Simulated days.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Share of the province's real volume (1.0 = about 1.4 million dossiers a year).
    #[arg(long, default_value_t = 0.05)]
    scale: f64,
    /// Share of events sent twice.
    #[arg(long, default_value_t = 0.0)]
    duplicates: f64,
    /// Share of events delivered out of order.
    #[arg(long, default_value_t = 0.0)]
    reorder: f64,
    /// Share of events delivered last.
    #[arg(long, default_value_t = 0.0)]
    late: f64,
    /// Events per request.
    #[arg(long, default_value_t = 500)]
    batch_size: usize,
    /// Reference data folder.
    #[arg(long, default_value = "schemas/reference")]
    reference_dir: PathBuf,
    /// Where to write the ground truth (JSON).
    #[arg(long, default_value = "out/truth.json")]
    truth: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ioc_service::init_logging();
    let cli = Cli::parse();
    for (name, rate) in [("duplicates", cli.duplicates), ("reorder", cli.reorder), ("late", cli.late)] {
        anyhow::ensure!((0.0..=1.0).contains(&rate), "--{name} must be between 0 and 1, got {rate}");
    }
    anyhow::ensure!(
        cli.scale > 0.0 && cli.days > 0 && cli.batch_size > 0,
        "--scale, --days and --batch-size must be above zero"
    );
    let reference = ReferenceData::load(&cli.reference_dir).context("failed to load reference data")?;
    let scenario = Scenario {
        start: cli.start.unwrap_or_else(|| ioc_simulator::days_ending_yesterday(cli.days)),
        days: cli.days,
        scale: cli.scale,
    };
    let faults = Faults { duplicates: cli.duplicates, reorder: cli.reorder, late: cli.late };
    let run = simulate(cli.seed, &scenario, faults, cli.batch_size, &reference);
    tracing::info!(events = run.events.len(), batches = run.batches.len(), injected = ?run.injected, from = %run.truth.from, to = %run.truth.to, "scenario generated");

    if let Some(folder) = cli.truth.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).with_context(|| format!("failed to create {}", folder.display()))?;
    }
    let truth = serde_json::to_vec_pretty(&run.truth).context("failed to encode the ground truth")?;
    std::fs::write(&cli.truth, truth).with_context(|| format!("failed to write {}", cli.truth.display()))?;
    tracing::info!(path = %cli.truth.display(), "ground truth written");

    let keys = ioc_simulator::keys(&[
        (Source::Portal, cli.portal_key),
        (Source::Edoc, cli.edoc_key),
        (Source::Training, cli.training_key),
    ]);
    let report = Sender::new(&cli.ingest_url, keys).send_all(&run.batches).await?;
    tracing::info!(accepted = report.accepted, retries = report.retries, "all events acknowledged by ingest");
    Ok(())
}
