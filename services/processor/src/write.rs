//! Writes a batch of rows to its table in one INSERT.

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
