//! Writes a batch of rows to its table in one INSERT, and the positions of its dead letters.

use crate::dead_letter::DeadLetterRow;
use crate::transform::SourceTable;

/// Inserts `rows` into `T::TABLE`; ClickHouse has them when this returns `Ok`.
pub async fn insert_once<T: SourceTable>(
    client: &clickhouse::Client,
    rows: &[T::Row],
) -> Result<(), clickhouse::error::Error> {
    let mut insert = client.insert::<T::Row>(T::TABLE).await?;
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await
}

/// Inserts `letters` into `dead_letters`.
pub async fn insert_dead_letters(
    client: &clickhouse::Client,
    letters: &[DeadLetterRow],
) -> Result<(), clickhouse::error::Error> {
    let mut insert = client.insert::<DeadLetterRow>("dead_letters").await?;
    for letter in letters {
        insert.write(letter).await?;
    }
    insert.end().await
}
