//! The rollup's inserts may span any number of months.
//!
//! A cycle writes every month it recomputes into its staging tables (partitioned by month, as
//! `measures_daily` and `measures_monthly`) in one `INSERT ... SELECT`: every month from the
//! earliest when the rules changed or an old dossier was touched, and the months of open
//! dossiers' due times, however far ahead a source dated them. A current ClickHouse refuses an
//! insert over more than `max_partitions_per_insert_block` partitions (100 by default), so such
//! a cycle failed at every round and the dashboard's numbers stopped. The staging tables are
//! the cycle's own and are swapped in month by month, so the limit protects nothing there: the
//! rollup lifts it (0, no limit) on a server that knows the setting. ClickHouse 18.16 has no
//! such limit and refuses the setting's name, so it is asked first.

/// The setting lifted.
pub const SETTING: &str = "max_partitions_per_insert_block";

/// `client` with [`SETTING`] lifted for every statement if its server knows the setting; as it
/// is otherwise.
pub async fn lifted(client: &clickhouse::Client) -> Result<clickhouse::Client, clickhouse::error::Error> {
    let known: u64 =
        client.query("SELECT toUInt64(count()) FROM system.settings WHERE name = ?").bind(SETTING).fetch_one().await?;
    Ok(if known > 0 { client.clone().with_setting(SETTING, "0") } else { client.clone() })
}
