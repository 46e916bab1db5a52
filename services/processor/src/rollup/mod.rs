//! The rollup task: keeps `dossier_facts` and `measures_daily` (the pre-aggregated data the
//! dashboard reads) equal to what the raw events say.
//!
//! Each cycle, per source: find the entities (dossiers, documents, learners...) that got an
//! event since the last cycle, take the earliest instant any of them touches, and recompute
//! every day from the start of that month onwards, from the raw events, replacing those months'
//! partitions as a whole. Recomputing instead of adding makes the result idempotent: duplicates,
//! reordering, late events and several processor replicas running the same cycle all end in the
//! same rows. See ARCHITECTURE.md, "Rollups".

mod cycle;
mod in_flight;

use std::sync::Arc;
use std::time::Duration;

use ioc_domain::Source;
use tokio::sync::watch;

pub use cycle::{drop_abandoned_staging, refresh_source, refresh_source_in, Outcome, Span};
pub use in_flight::{InsertUnderWay, InsertsInFlight};

/// How old a staging table must be for the rollup task to drop it as abandoned at its start.
const ABANDONED_STAGING_AGE: Duration = Duration::from_secs(3600);

use crate::ProcessorMetrics;

/// The rollup task of one processor: what it refreshes, how often, and what it reads from the
/// writers.
pub struct RollupTask {
    /// ClickHouse, bound to the pipeline's database.
    pub client: clickhouse::Client,
    /// The sources whose rollups it keeps.
    pub sources: Vec<Source>,
    /// Pause between two cycles.
    pub interval: Duration,
    /// How far the clocks of other ClickHouse nodes may be behind the one a cycle asks.
    pub margin_seconds: u32,
    /// Where cycle durations and failures are counted.
    pub metrics: ProcessorMetrics,
    /// The writers' inserts under way.
    pub inserts: InsertsInFlight,
}

/// Runs rollup cycles every `task.interval` until `stopped` turns true.
pub async fn run(task: RollupTask, mut stopped: watch::Receiver<bool>) {
    let RollupTask { client, sources, interval, margin_seconds, metrics, inserts } = task;
    // Zero: the first cycle after a start recomputes everything, so nothing an earlier process
    // left half-done survives a restart.
    let mut since: Vec<u32> = vec![0; sources.len()];
    let client = Arc::new(client);
    match drop_abandoned_staging(&client, ABANDONED_STAGING_AGE).await {
        Ok(0) => {}
        Ok(dropped) => tracing::info!(dropped, "dropped staging tables that killed or abandoned cycles left"),
        Err(error) => tracing::warn!(%error, "could not look for abandoned staging tables; retried at the next start"),
    }
    loop {
        for (index, source) in sources.iter().enumerate() {
            let timer = metrics.rollup_seconds.with_label_values(&[source.as_str()]).start_timer();
            match refresh_source_in(&client, *source, since[index], margin_seconds, &inserts, None).await {
                Ok(outcome) => {
                    timer.observe_duration();
                    let label = [source.as_str()];
                    metrics.rollup_covered_until.with_label_values(&label).set(i64::from(outcome.covered_until));
                    metrics.newest_event.with_label_values(&label).set(i64::from(outcome.newest_event));
                    if outcome.events > 0 {
                        tracing::debug!(%source, events = outcome.events, months = outcome.months, latest_only = outcome.latest_only, "rollup refreshed");
                    }
                    since[index] = outcome.covered_until;
                }
                Err(error) => {
                    timer.stop_and_discard();
                    metrics.rollup_failures.with_label_values(&[source.as_str()]).inc();
                    tracing::warn!(%source, %error, "rollup cycle failed; it will be retried from the same point");
                }
            }
        }
        tokio::select! {
            _ = stopped.changed() => return,
            () = tokio::time::sleep(interval) => {}
        }
        if *stopped.borrow() {
            return;
        }
    }
}
