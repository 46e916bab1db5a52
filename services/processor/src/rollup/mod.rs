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

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ioc_domain::Source;
use tokio::sync::watch;

pub use cycle::{refresh_source, Outcome};

use crate::ProcessorMetrics;

/// Runs rollup cycles every `interval` until `stopped` turns true.
pub async fn run(
    client: clickhouse::Client,
    sources: Vec<Source>,
    interval: Duration,
    margin_seconds: u32,
    metrics: ProcessorMetrics,
    rewind: Arc<AtomicU32>,
    mut stopped: watch::Receiver<bool>,
) {
    // Zero: the first cycle after a start recomputes everything, so nothing an earlier process
    // left half-done survives a restart.
    let mut since: Vec<u32> = vec![0; sources.len()];
    let client = Arc::new(client);
    loop {
        // Inserts of this process that took longer than the margin: look back to their start.
        let rewind = rewind.swap(u32::MAX, Ordering::SeqCst);
        for (index, source) in sources.iter().enumerate() {
            since[index] = since[index].min(rewind);
            let timer = metrics.rollup_seconds.with_label_values(&[source.as_str()]).start_timer();
            match refresh_source(&client, *source, since[index], margin_seconds).await {
                Ok(outcome) => {
                    timer.observe_duration();
                    if outcome.events > 0 {
                        tracing::debug!(%source, events = outcome.events, months = outcome.months, "rollup refreshed");
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
