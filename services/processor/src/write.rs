//! Writes a batch to ClickHouse, retrying with backoff until ClickHouse takes it.

use std::time::Duration;

use tokio::sync::watch;

use crate::metrics::ProcessorMetrics;
use crate::transform::SourceTable;

/// Inserts `rows` into `T::TABLE` in one INSERT.
async fn insert_once<T: SourceTable>(
    client: &clickhouse::Client,
    rows: &[T::Row],
) -> Result<(), clickhouse::error::Error> {
    let mut insert = client.insert::<T::Row>(T::TABLE).await?;
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await
}

/// Writes the rows, retrying with exponential backoff. Returns `false` only when shutdown was
/// requested before ClickHouse accepted them: the caller must then not commit. During shutdown
/// a single attempt is made, so a dead ClickHouse cannot hold the process past its deadline.
pub async fn write_with_retry<T: SourceTable>(
    client: &clickhouse::Client,
    rows: &[T::Row],
    max_backoff: Duration,
    metrics: &ProcessorMetrics,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let mut backoff = Duration::from_millis(200);
    loop {
        match insert_once::<T>(client, rows).await {
            Ok(()) => return true,
            Err(error) => {
                metrics.insert_failures.with_label_values(&[T::TABLE]).inc();
                tracing::warn!(table = T::TABLE, rows = rows.len(), %error, retry_in_ms = backoff.as_millis() as u64, "failed to insert batch; will retry");
            }
        }
        if *shutdown.borrow() {
            tracing::warn!(
                table = T::TABLE,
                "shutting down while clickhouse refuses the batch; offsets stay uncommitted"
            );
            return false;
        }
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => {
                tracing::warn!(table = T::TABLE, "shutdown while clickhouse refuses the batch; offsets stay uncommitted");
                return false;
            }
        }
        backoff = (backoff * 2).min(max_backoff);
    }
}
