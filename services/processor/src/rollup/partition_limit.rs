//! The rollup's staging inserts may span any number of months.
//!
//! A cycle writes every month it recomputes into its staging tables (partitioned by month, as
//! `measures_daily` and `measures_monthly`) in one `INSERT ... SELECT`: every month from the
//! earliest when the rules changed or an old dossier was touched, and the months of open
//! dossiers' due times, however far ahead a source dated them. A current ClickHouse refuses an
//! insert over more than `max_partitions_per_insert_block` partitions (100 by default), so such
//! a cycle failed at every round and the dashboard's numbers stopped. The staging tables are
//! the cycle's own and are swapped in month by month, so the limit protects nothing there: the
//! cycle lifts it (0, no limit) on those inserts alone, on a server that has the limit.
//! ClickHouse 18.16 has none and refuses the setting's name, so the server is asked first
//! (`RollupNodes::lifts_partition_limit` asks once per node, and again after a failed cycle:
//! a node upgraded or rolled back under a running processor is asked anew).

use clickhouse::query::Query;

/// The setting lifted.
pub const SETTING: &str = "max_partitions_per_insert_block";

/// Whether `client`'s server has the limit (knows the setting).
pub async fn has_limit(client: &clickhouse::Client) -> Result<bool, clickhouse::error::Error> {
    let known: u64 =
        client.query("SELECT toUInt64(count()) FROM system.settings WHERE name = ?").bind(SETTING).fetch_one().await?;
    Ok(known > 0)
}

/// `query` (a staging insert) with the limit lifted when `lift`.
pub fn lifted(query: Query, lift: bool) -> Query {
    if lift {
        query.with_setting(SETTING, "0")
    } else {
        query
    }
}
