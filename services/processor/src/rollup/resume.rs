//! Where a starting rollup task begins: each source's last recorded progress, when the rules
//! that recorded it are this binary's, else the beginning (every month recomputed).
//!
//! Resuming is as safe as the next cycle of a running process: `rollup_state` is written last in
//! a cycle, after its facts and months are in, so a cycle killed half-way left the progress of
//! the one before, and the cycle that resumes from it takes in the same entities again and
//! recomputes the same months from the raw events (each step is idempotent). What resuming cannot
//! heal is what no insert announces: raw events changed by hand, and, during a rolling update
//! that changes the rules, months that a replica still on the old rules rewrites after a new
//! one started (late events of old months only; the current months are rewritten by every
//! cycle). `rollup_recompute_on_start` covers both: after raw events were changed by hand, with
//! `dossier_facts_by_bound` emptied first (a corrected time can lower a version's bound,
//! migration 0016), and after events were removed, with `dossier_facts` emptied too (a facts
//! version ranks by the events read, dossier_facts.sql); after training events were changed or
//! removed, with `training_milestones` copied again (the counted events, which a view copies
//! at insert only, migration 0017); ops/runbook.md says how.

use clickhouse::Row;
use ioc_domain::Source;
use serde::Deserialize;

use super::cycle::rules;

#[derive(Row, Deserialize)]
struct Recorded {
    covered_until: u32,
    rules: String,
}

/// Where `source`'s cycles start: the `covered_until` of its newest `rollup_state` row when that
/// row was written under this binary's rules, else 0 (recompute everything). The newest row,
/// not the highest `covered_until`: a row of other rules written after ours means another
/// binary rewrote months since.
pub async fn resume_point(client: &clickhouse::Client, source: Source) -> Result<u32, clickhouse::error::Error> {
    let recorded: Recorded = client
        .query(
            "SELECT toUInt32(argMax(covered_until, refreshed_at)) AS covered_until, \
                    argMax(rules, refreshed_at) AS rules \
             FROM rollup_state WHERE source = ?",
        )
        .bind(source.as_str())
        .fetch_one()
        .await?;
    Ok(if recorded.rules == rules(source) { recorded.covered_until } else { 0 })
}
