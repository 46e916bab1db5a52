//! The benchmark harness (`ops/bench`, BENCHMARKS.md): each measure of the pipeline beside the
//! raw tool that does the same job, written to BENCHMARKS.json and as a Markdown table.
//!
//! - [`report`]: a measure, its goal, and the files it is written to.
//! - [`process_stats`]: the CPU time and peak memory of a process, from /proc.
//! - [`ingest`]: ioc-ingest against kcat on the same events.
//! - [`processor`]: ioc-processor against a plain `INSERT ... FORMAT JSONEachRow` of the same rows.
//! - [`steady`]: a steady offered load on ingest, for the freshness benchmark.
//! - [`freshness`]: one probe timed from ingest's acknowledgement to `GET /v1/kpis`.
//! - [`backdrop`]: the live months at the province's real volume, under the freshness load.

pub mod backdrop;
pub mod freshness;
pub mod ingest;
pub mod kafka_engine;
pub mod process_stats;
pub mod processor;
pub mod report;
pub mod steady;
pub mod svg;

use std::path::PathBuf;
use std::time::Duration;

/// The `q` quantile (nearest rank) of sorted, non-empty `times`, in milliseconds.
pub fn milliseconds_at(times: &[Duration], q: f64) -> f64 {
    times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1].as_secs_f64() * 1000.0
}

/// The directory of the binary running now (`target/release` or `target/debug`), where the
/// harness finds the services it starts. Test executables live one level lower, in `deps`.
pub fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().ok_or_else(|| anyhow::anyhow!("no directory for {}", exe.display()))?;
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent().unwrap_or(dir);
    }
    let path = dir.join(name);
    anyhow::ensure!(
        path.exists(),
        "{} is missing: build it first (ops/bench builds every binary it starts)",
        path.display()
    );
    Ok(path)
}
