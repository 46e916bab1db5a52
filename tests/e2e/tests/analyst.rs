//! The analysts' ClickHouse account: reads the pipeline's database, cannot write, cannot lift
//! its limits, cannot read other databases. Runs against the `ioc` database of the local stack
//! (migrated here if needed; nothing is written to it).

use ioc_clickhouse::ClickHouseConfig;
use ioc_e2e::clickhouse_url;
use ioc_service::Secret;

fn analyst() -> clickhouse::Client {
    ClickHouseConfig {
        url: clickhouse_url(),
        database: "ioc".into(),
        user: "analyst".into(),
        password: Secret::new("analyst"),
        ..ClickHouseConfig::default()
    }
    .client()
}

async fn refused(client: &clickhouse::Client, sql: &str) -> String {
    match client.query(sql).execute().await {
        Ok(()) => panic!("the analyst account could run: {sql}"),
        Err(error) => error.to_string(),
    }
}

#[tokio::test]
async fn the_analyst_reads_and_cannot_write_or_escape_its_limits() {
    let services = ioc_processor::ProcessorConfig {
        clickhouse: ClickHouseConfig { url: clickhouse_url(), database: "ioc".into(), ..ClickHouseConfig::default() },
        ..ioc_processor::ProcessorConfig::default()
    };
    ioc_processor::migrate(&services).await.expect("the ioc database is migrated");

    let client = analyst();
    let units: u64 =
        client.query("SELECT toUInt64(count()) FROM ref_units").fetch_one().await.expect("analyst can read");
    assert_eq!(units, 161);
    // The reference tables are views of their loads (migration 0013): the loads are what a
    // write would change.
    let readonly = refused(
        &client,
        "INSERT INTO ref_units_loads (load_id, code, name, kind, former_province) VALUES (1, 'X', 'x', 'xa', '')",
    )
    .await;
    assert!(readonly.contains("readonly") || readonly.contains("Cannot"), "{readonly}");
    refused(&client, "CREATE TABLE ioc.analyst_scratch (x UInt8) ENGINE = Memory").await;
    refused(&client, "DROP TABLE ioc.ref_units").await;
    let altered = refused(&client, "ALTER TABLE ioc.ref_units_loads DELETE WHERE 1").await;
    assert!(altered.contains("readonly") || altered.contains("Cannot"), "{altered}");
    let limits = client.query("SELECT 1 SETTINGS max_execution_time = 100000").fetch_one::<u8>().await;
    assert!(limits.is_err(), "the analyst lifted max_execution_time");
    // Another database that exists: readable by the services' account, not by the analyst.
    let admin = services.clickhouse.server_client();
    admin.query("CREATE DATABASE IF NOT EXISTS ioc_analyst_probe").execute().await.expect("create probe db");
    admin
        .query("CREATE TABLE IF NOT EXISTS ioc_analyst_probe.secret (x UInt8) ENGINE = Memory")
        .execute()
        .await
        .expect("create probe table");
    let other = client.query("SELECT toUInt64(count()) FROM ioc_analyst_probe.secret").fetch_one::<u64>().await;
    let message = other.expect_err("the analyst read a database other than ioc").to_string();
    assert!(message.to_lowercase().contains("access") || message.contains("allowed"), "{message}");
    admin.query("DROP DATABASE ioc_analyst_probe").execute().await.ok();
}
