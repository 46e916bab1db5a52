//! The rollup task: keeps `dossier_facts` and `measures_daily` (the pre-aggregated data the
//! dashboard reads) equal to what the raw events say.
//!
//! A start resumes from the progress recorded under the same rules (resume.rs), or recomputes
//! everything. Each cycle, per source: find the entities (dossiers, documents, learners...)
//! that got an event since the last cycle, take the earliest instant any of them touches, and
//! recompute every day from the start of that month onwards (or, for the portal, a few old
//! months those dossiers touch and then the latest ones), from the raw events, replacing those
//! months' partitions as a whole. Recomputing instead of adding makes the result
//! idempotent: duplicates, reordering, late events and several processor replicas running the
//! same cycle all end in the same rows. See ARCHITECTURE.md, "Rollups".

mod cycle;
mod in_flight;
mod nodes;
mod partition_limit;
mod resume;
mod sets_once;

use std::time::Duration;

use ioc_domain::Source;
use tokio::sync::watch;

pub(crate) use cycle::yyyymm;
pub use cycle::{drop_abandoned_staging, options_for, refresh_source, refresh_source_in, CycleOptions, Outcome, Span};
pub use in_flight::{date_ahead, InsertUnderWay, InsertsInFlight};
pub use nodes::{RollupNodes, NODE_CONNECT_TIMEOUT};
use resume::resume_point;

/// How old a staging table must be for the rollup task to drop it as abandoned, at its start and
/// every hour after; so also the most `rollup_cycle_timeout_seconds` may be (config.rs).
pub const ABANDONED_STAGING_AGE: Duration = Duration::from_secs(3600);

use crate::ProcessorMetrics;

/// The rollup task of one processor: what it refreshes, how often, and what it reads from the
/// writers.
pub struct RollupTask {
    /// The ClickHouse nodes its cycles may run on, bound to the pipeline's database (nodes.rs).
    pub nodes: RollupNodes,
    /// The sources whose rollups it keeps.
    pub sources: Vec<Source>,
    /// The least time from the start of one round of cycles (one per source) to the start of
    /// the next (`pacing`).
    pub interval: Duration,
    /// Whether the first cycles recompute everything instead of resuming (resume.rs).
    pub recompute_on_start: bool,
    /// How far before the progress recorded the first cycles begin (`rollup_resume_lookback_seconds`).
    pub resume_lookback_seconds: u32,
    /// The most events of touched dossiers one facts query takes in (`CycleOptions`).
    pub facts_events_per_slice: u64,
    /// How many seconds a cycle stays behind what this process's own inserts allow, for rows
    /// its registry cannot see (`rollup_margin_seconds`).
    pub margin_seconds: u32,
    /// Where cycle durations and failures are counted.
    pub metrics: ProcessorMetrics,
    /// The writers' inserts under way.
    pub inserts: InsertsInFlight,
    /// How long a node may take over one cycle before the cycle fails and the rollup moves on
    /// (`rollup_cycle_timeout_seconds`); the start's reads get at most [`START_READ_TIMEOUT`].
    pub node_timeout: Duration,
}

/// The most a node may take over the start's reads of the progress, or over a sweep of its
/// leftover staging tables: catalogue reads of a few rows, which take milliseconds.
pub const START_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The setting a timed-out read or sweep names.
const START_READ_SETTING: &str = "30 s at most, or rollup_cycle_timeout_seconds when lower";

/// `work` (`what`, on the node at `node`), failing with a message that names `setting` when it
/// has not ended within `limit`.
///
/// The request is dropped then, and the work's later statements are never sent (a cycle's
/// progress among them: the next cycle starts from the same point). The statement under way
/// may still end on the server: a staging table is left (the hourly sweep drops it once it is
/// an hour old, `sweep_staging`), or a month is swapped in with this cycle's rows. When that
/// swap lands after another node's cycle swapped the same month in, the month holds the older
/// computation until a cycle recomputes it again: within a second for the latest months, and
/// only when one of its entities gets an event for an older one (ops/runbook.md,
/// IocRollupFailing, says how to recompute once the node is back).
async fn within<T>(
    limit: Duration,
    what: &str,
    node: &str,
    setting: &str,
    work: impl std::future::Future<Output = Result<T, clickhouse::error::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result.map_err(|error| error.to_string()),
        Err(_) => Err(format!(
            "{what} did not end within {} s ({setting}) on ClickHouse node {node}: the node hangs or is cut off, \
             or the work needs longer",
            limit.as_secs_f64()
        )),
    }
}

/// Runs rounds of rollup cycles, one per source, at most every `task.interval`, until `stopped`
/// turns true, and then one more: the caller stops it once its writers stored what they held
/// (lib.rs), and the last round takes their last batches in. Otherwise a replica that stops
/// would leave them to no cycle when another replica's cycles had passed their date while they
/// were under way, since a start resumes from the newest progress of any replica.
pub async fn run(task: RollupTask, mut stopped: watch::Receiver<bool>) {
    let RollupTask {
        mut nodes,
        sources,
        interval,
        recompute_on_start,
        resume_lookback_seconds,
        facts_events_per_slice,
        margin_seconds,
        metrics,
        inserts,
        node_timeout,
    } = task;
    let start_reads = node_timeout.min(START_READ_TIMEOUT);
    let options = CycleOptions { span: None, facts_events_per_slice, ..CycleOptions::default() };
    // Made before the writers started, so no row of this process is dated before it.
    let started = inserts.created();
    let mut since: Vec<u32> = starting_points(&mut nodes, &sources, recompute_on_start, start_reads)
        .await
        .into_iter()
        .map(|resumed| first_since(resumed, started, resume_lookback_seconds))
        .collect();
    metrics.rollup_node.set(nodes.position() as i64);
    // Each source's newest event time its last cycle found (CycleOptions::newest_event_seen).
    let mut newest = vec![0_u32; sources.len()];
    let mut last = false;
    let mut swept: Option<tokio::time::Instant> = None;
    loop {
        let round_started = tokio::time::Instant::now();
        // Not in the last round: a node that never answers would hold the stop for its bound.
        if !last && swept.is_none_or(|at| at.elapsed() >= ABANDONED_STAGING_AGE) {
            sweep_staging(&nodes, start_reads).await;
            swept = Some(round_started);
        }
        for (index, source) in sources.iter().enumerate() {
            let timer = metrics.rollup_seconds.with_label_values(&[source.as_str()]).start_timer();
            let cycle = async {
                let options = CycleOptions {
                    lift_partition_limit: nodes.lifts_partition_limit().await?,
                    newest_event_seen: newest[index],
                    ..options
                };
                refresh_source_in(nodes.client(), *source, since[index], margin_seconds, &inserts, &options).await
            };
            match within(node_timeout, "the rollup cycle", nodes.address(), "rollup_cycle_timeout_seconds", cycle).await
            {
                Ok(outcome) => {
                    timer.observe_duration();
                    let label = [source.as_str()];
                    metrics.rollup_covered_until.with_label_values(&label).set(i64::from(outcome.covered_until));
                    metrics.newest_event.with_label_values(&label).set(i64::from(outcome.newest_event));
                    if outcome.events > 0 {
                        tracing::debug!(%source, events = outcome.events, months = outcome.months, latest_only = outcome.latest_only, "rollup refreshed");
                    }
                    metrics.rollup_months.with_label_values(&label).inc_by(outcome.months as u64);
                    since[index] = outcome.covered_until;
                    newest[index] = outcome.newest_event;
                }
                Err(error) => {
                    timer.stop_and_discard();
                    metrics.rollup_failures.with_label_values(&[source.as_str()]).inc();
                    // One message either way: the runbook's search for it must find both.
                    match hint(&error) {
                        Some(hint) => {
                            metrics.rollup_staging_missing.inc();
                            tracing::warn!(%source, %error, hint, "rollup cycle failed; it will be retried from the same point")
                        }
                        None => {
                            tracing::warn!(%source, %error, "rollup cycle failed; it will be retried from the same point")
                        }
                    }
                    nodes.forget_settings();
                    if let Some(node) = nodes.move_on() {
                        tracing::warn!(node, "the rollup moves to the next ClickHouse node of rollup_clickhouse_urls");
                        metrics.rollup_node.set(nodes.position() as i64);
                    }
                }
            }
        }
        if last {
            return;
        }
        tokio::select! {
            // No one left to stop it: the process is failing; no last round.
            changed = stopped.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(pacing(interval, round_started.elapsed())) => {}
        }
        last = *stopped.borrow();
        if last {
            // A claim covers no further than the second after the clock's (in_flight.rs), and
            // the last batches may be dated there: the last round begins in the next second.
            tokio::time::sleep(in_flight::until_next_second()).await;
        }
    }
}

/// The pause after a round of cycles that took `round`: what is left of `interval`. An event
/// waits for its source's next cycle to start and then to end, so a pause added after a round
/// that already took longer than the interval (3 s and more under load, with a year loaded)
/// only made the numbers on the screen older, by up to the whole pause (ops/bench, freshness);
/// when the pipeline is idle, rounds are short and the interval still spaces them.
fn pacing(interval: Duration, round: Duration) -> Duration {
    interval.saturating_sub(round)
}

/// The first cycle's `since`: the progress recorded (`resumed`; 0, everything), but never
/// after this process `started` (unix seconds), and `lookback` seconds before that. This process
/// dates its rows with its own clock from its start on (in_flight.rs); progress recorded by a
/// replica whose clock runs ahead must not make it skip them. And another replica's cycles may
/// have passed the date of rows whose writer died before its own cycle took them in: the
/// look-back reads them again (a cycle is idempotent, so rows taken in twice count once).
fn first_since(resumed: u32, started: u32, lookback: u32) -> u32 {
    resumed.min(started).saturating_sub(lookback)
}

/// What to do about a failed cycle's `error`, when the log can say more than the error.
fn hint(error: &str) -> Option<&'static str> {
    // ClickHouse's code 60 (UNKNOWN_TABLE) about a table the cycle itself created.
    (error.contains("Code: 60") && error.contains(cycle::STAGING_PREFIX)).then_some(
        "the cycle's statements reached a node other than the one that created its staging \
         table: the rollup's ClickHouse address spreads connections over several nodes (a \
         Service over every pod); set rollup_clickhouse_urls to each node's own address",
    )
}

/// Drops, on every node, the staging tables older than an hour: a cycle drops its own whatever
/// happens, except when its process is killed or abandons it at shutdown, or when it was given
/// up on (`within`). At the start and then every hour; each node gets `limit`.
async fn sweep_staging(nodes: &RollupNodes, limit: Duration) {
    for (node, client) in nodes.all() {
        let sweep = drop_abandoned_staging(client, ABANDONED_STAGING_AGE);
        match within(limit, "the sweep of abandoned staging tables", node, START_READ_SETTING, sweep).await {
            Ok(0) => {}
            Ok(dropped) => tracing::info!(node, dropped, "dropped staging tables that killed or abandoned cycles left"),
            Err(error) => {
                tracing::warn!(node, %error, "could not look for abandoned staging tables; retried in an hour")
            }
        }
    }
}

/// Where each source's first cycle starts (0: every month recomputed), saying why in the log.
/// Each source's progress is read from the first node of `nodes` that answers for it; a node
/// gets `limit` for all of its reads, so one that never answers costs the start one `limit`,
/// not one per source. The cycles then start on the first node that answered.
async fn starting_points(
    nodes: &mut RollupNodes,
    sources: &[Source],
    recompute_on_start: bool,
    limit: Duration,
) -> Vec<u32> {
    if recompute_on_start {
        tracing::info!("recomputing every month of the rollups, as rollup_recompute_on_start asks");
        return vec![0; sources.len()];
    }
    let mut points: Vec<Option<u32>> = vec![None; sources.len()];
    let mut answered: Option<usize> = None;
    for (position, (node, client)) in nodes.all().enumerate() {
        let mut read_here = false;
        let reads = async {
            for (point, source) in points.iter_mut().zip(sources) {
                if point.is_none() {
                    let read = resume_point(client, *source).await;
                    match &read {
                        Ok(_) => read_here = true,
                        Err(error) => {
                            tracing::warn!(%source, node, %error, "could not read the rollups' progress from this node")
                        }
                    }
                    *point = read.ok();
                }
            }
            Ok(())
        };
        if let Err(error) = within(limit, "the start's reads of the progress", node, START_READ_SETTING, reads).await {
            tracing::warn!(node, %error, "could not read the rollups' progress from this node");
        }
        if read_here && answered.is_none() {
            answered = Some(position);
        }
        if points.iter().all(Option::is_some) {
            break;
        }
    }
    if let Some(position) = answered {
        nodes.move_to(position);
    }
    sources
        .iter()
        .zip(points)
        .map(|(source, point)| match point {
            None => {
                tracing::warn!(%source, "could not read the rollups' progress from any node; recomputing every month");
                0
            }
            Some(0) => {
                tracing::info!(%source, "recomputing every month of the rollups: no progress recorded under these rules");
                0
            }
            Some(covered_until) => {
                tracing::info!(%source, covered_until, "resuming the rollups from the progress recorded under these rules");
                covered_until
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_covers_its_own_rows_whatever_another_clock_recorded() {
        assert_eq!(first_since(1_000, 2_000, 0), 1_000, "progress recorded before the start");
        assert_eq!(first_since(2_005, 2_000, 0), 2_000, "recorded by a clock five seconds ahead");
        assert_eq!(first_since(0, 2_000, 0), 0, "everything recomputed");
    }

    #[test]
    fn a_start_reads_the_look_back_before_the_progress_again() {
        assert_eq!(first_since(10_000, 20_000, 900), 9_100, "before the progress recorded");
        assert_eq!(first_since(20_005, 20_000, 900), 19_100, "and before this start");
        assert_eq!(first_since(0, 20_000, 900), 0, "everything recomputed stays so");
    }

    #[test]
    fn a_missing_staging_table_names_the_balancer_and_other_failures_nothing() {
        let balanced = "bad response: Code: 60, e.displayText() = DB::Exception: Table ioc.measures_staging_portal_6b2c doesn't exist.";
        assert!(hint(balanced).is_some_and(|hint| hint.contains("rollup_clickhouse_urls")));
        assert_eq!(
            hint("bad response: Code: 60, e.displayText() = DB::Exception: Table ioc.portal_events doesn't exist."),
            None
        );
        assert_eq!(hint("network error: connection refused"), None);
    }

    #[test]
    fn a_round_longer_than_the_interval_is_followed_by_the_next_at_once() {
        let second = Duration::from_secs(1);
        assert_eq!(pacing(second, Duration::from_millis(300)), Duration::from_millis(700));
        assert_eq!(pacing(second, second), Duration::ZERO);
        assert_eq!(pacing(second, Duration::from_secs(4)), Duration::ZERO);
    }
}
