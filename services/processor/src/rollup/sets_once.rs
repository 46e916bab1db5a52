//! The sets of a cycle's `x IN (SELECT ...)` built once per statement.
//!
//! ClickHouse 18.16 runs such a subquery again each time the query around it is analysed, to
//! try its set against the table's index (`use_index_for_in_with_subqueries`, on by default),
//! and a query over nested subqueries is analysed once per level and more. It does so whenever
//! the tested expression is a sort key column inside a function, as `cityHash64(dossier_id)`
//! on `portal_events` (sorted by unit, dossier, event), though a hash is of no use to the index;
//! training's stored hashes are not in their table's key, and were run once already. The portal's facts
//! query ran its subquery (the dossiers with a new event, found by reading the insertion time
//! of every stored portal event) about fifteen times: measured with a subquery that sleeps
//! 0.1 s, the statement took 1.6 s, and 0.19 s with the setting off. Each run read the whole
//! history, so the cycle grew with it: with a year loaded, the facts query of a slice of live
//! events took 0.30 s and takes 0.14 s; the touched query 0.13 and 0.11 s; a few old months'
//! dossiers 0.29 and 0.14 s (ioc_bench_history's database; BENCHMARKS.md). No rollup statement
//! tests a key column against a subquery (the sets are of ids' hashes, and the units of old
//! months are a literal list, which the setting leaves to the index), so nothing is read that
//! the index spared before. A current ClickHouse knows the setting by the same name.

/// The setting, off.
pub const SETTING: (&str, &str) = ("use_index_for_in_with_subqueries", "0");

/// `client` with the setting on every statement it sends.
pub fn sets_built_once(client: &clickhouse::Client) -> clickhouse::Client {
    client.clone().with_setting(SETTING.0, SETTING.1)
}
