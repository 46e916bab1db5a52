//! Events straight into the raw tables through the processor's own row mapping, without ingest
//! and Kafka: for loading a year quickly (ioc_bench) and for tests of the rollup alone.

use ioc_domain::{Event, Source};
use ioc_processor::rollup::date_ahead;
use ioc_processor::transform::{EdocTable, KafkaPosition, PortalTable, SourceTable, TrainingTable};

/// Inserts `events` into their source's raw table, one INSERT per source.
pub async fn insert_events(client: &clickhouse::Client, events: &[Event]) -> anyhow::Result<()> {
    insert_events_into(client, events, "").await
}

/// `insert_events`, into tables named like the raw tables with `suffix` after the name (copies
/// of them a test made).
pub async fn insert_events_into(client: &clickhouse::Client, events: &[Event], suffix: &str) -> anyhow::Result<()> {
    insert::<PortalTable>(client, events.iter().filter(|e| e.source == Source::Portal), suffix).await?;
    insert::<EdocTable>(client, events.iter().filter(|e| e.source == Source::Edoc), suffix).await?;
    insert::<TrainingTable>(client, events.iter().filter(|e| e.source == Source::Training), suffix).await
}

async fn insert<'a, T: SourceTable>(
    client: &clickhouse::Client,
    events: impl Iterator<Item = &'a Event>,
    suffix: &str,
) -> anyhow::Result<()> {
    let mut insert = client.insert::<T::Row>(&format!("{}{suffix}", T::TABLE)).await?;
    // No cycle of this process covers these rows: a second ahead, so that the next cycle of
    // any process takes them in.
    let inserted_at = date_ahead();
    for event in events {
        let mut row = T::row(event.clone(), KafkaPosition::default())?;
        T::date(&mut row, inserted_at);
        insert.write(&row).await?;
    }
    insert.end().await?;
    Ok(())
}
