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

pub use cycle::{drop_abandoned_staging, refresh_source, refresh_source_in, Outcome, Span};

/// How old a staging table must be for the rollup task to drop it as abandoned at its start.
const ABANDONED_STAGING_AGE: Duration = Duration::from_secs(3600);

use crate::ProcessorMetrics;

/// The seam between the writers and the rollup: when the inserts this process made since the
/// rollup last asked were started. A cycle covers the events inserted after its own start minus
/// a margin; an insert attempt that took longer than the margin may become visible after a
/// cycle has passed its `inserted_at`, so the next cycle looks back to that attempt's start.
#[derive(Debug, Clone)]
pub struct RecentInserts {
    /// The earliest `attempt start - margin` (unix seconds) since the last `take`; `u32::MAX`:
    /// none.
    earliest: Arc<AtomicU32>,
    margin_seconds: u32,
}

impl RecentInserts {
    /// No insert yet; `margin_seconds` is the rollup's look-back margin.
    pub fn new(margin_seconds: u32) -> Self {
        RecentInserts { earliest: Arc::new(AtomicU32::new(u32::MAX)), margin_seconds }
    }

    /// An insert attempt started at `attempt_started` (unix seconds) has completed.
    pub fn record(&self, attempt_started: u32) {
        self.earliest.fetch_min(attempt_started.saturating_sub(self.margin_seconds), Ordering::SeqCst);
    }

    /// How far back the next cycle must look for this process's inserts (`u32::MAX`: no
    /// insert since the last call), and forget it.
    fn take(&self) -> u32 {
        self.earliest.swap(u32::MAX, Ordering::SeqCst)
    }
}

/// The rollup task of one processor: what it refreshes, how often, and what it reads from the
/// writers.
pub struct RollupTask {
    /// ClickHouse, bound to the pipeline's database.
    pub client: clickhouse::Client,
    /// The sources whose rollups it keeps.
    pub sources: Vec<Source>,
    /// Pause between two cycles.
    pub interval: Duration,
    /// How long an insert may take to become visible after its `inserted_at`.
    pub margin_seconds: u32,
    /// Where cycle durations and failures are counted.
    pub metrics: ProcessorMetrics,
    /// The writers' inserts.
    pub inserts: RecentInserts,
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
        // Inserts of this process that took longer than the margin: look back to their start.
        let rewind = inserts.take();
        for (index, source) in sources.iter().enumerate() {
            since[index] = since[index].min(rewind);
            let timer = metrics.rollup_seconds.with_label_values(&[source.as_str()]).start_timer();
            match refresh_source(&client, *source, since[index], margin_seconds).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rollup_looks_back_to_the_earliest_insert_since_it_last_asked() {
        let inserts = RecentInserts::new(30);
        assert_eq!(inserts.take(), u32::MAX, "nothing inserted");
        inserts.record(1_000);
        inserts.record(900);
        inserts.record(1_100);
        assert_eq!(inserts.take(), 870, "the earliest attempt, minus the margin");
        assert_eq!(inserts.take(), u32::MAX, "taken once");
        inserts.record(10);
        assert_eq!(inserts.take(), 0, "never before 1970");
    }
}
