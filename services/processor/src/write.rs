//! Writes a batch of rows to its table in one INSERT, and the positions of its dead letters.

use std::time::Duration;

use crate::dead_letter::DeadLetterRow;
use crate::transform::SourceTable;

/// Inserts `rows` into `T::TABLE`; ClickHouse has them when this returns `Ok`. Sending a chunk,
/// and then waiting for ClickHouse's answer, may each take `timeout` (ProcessorConfig,
/// `insert_timeout_seconds`); past it, an error.
pub async fn insert_once<T: SourceTable>(
    client: &clickhouse::Client,
    rows: &[T::Row],
    timeout: Duration,
) -> Result<(), clickhouse::error::Error> {
    let mut insert = client.insert::<T::Row>(T::TABLE).await?.with_timeouts(Some(timeout), Some(timeout));
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await
}

/// Inserts `letters` into `dead_letters`.
pub async fn insert_dead_letters(
    client: &clickhouse::Client,
    letters: &[DeadLetterRow],
    timeout: Duration,
) -> Result<(), clickhouse::error::Error> {
    let mut insert = client.insert::<DeadLetterRow>("dead_letters").await?.with_timeouts(Some(timeout), Some(timeout));
    for letter in letters {
        insert.write(letter).await?;
    }
    insert.end().await
}
