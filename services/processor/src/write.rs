//! Writes a batch of rows to its table, in one INSERT unless its rows span more monthly
//! partitions than ClickHouse takes in one, and the positions of its dead letters.

use crate::dead_letter::DeadLetterRow;
use crate::transform::{partition_month, SourceTable};

/// At most this many monthly partitions in one INSERT. Current ClickHouse refuses an insert
/// whose rows fall in more than `max_partitions_per_insert_block` partitions (100 by default;
/// 18.16 has no such limit and refuses the setting's name), and the processor retries a refused
/// insert for ever: a backfill over more than 100 months (ingest's `max_event_age_days` raised
/// for it) would have stopped its source for good.
pub const MAX_MONTHS_PER_INSERT: usize = 100;

/// Inserts `rows` into `T::TABLE`; ClickHouse has them all when this returns `Ok`. Rows over
/// more than [`MAX_MONTHS_PER_INSERT`] months go in several inserts, by month. A failure after
/// some of them is retried whole, as any failed insert: the table folds the rows stored twice.
pub async fn insert_once<T: SourceTable>(
    client: &clickhouse::Client,
    rows: &[T::Row],
) -> Result<(), clickhouse::error::Error> {
    let (Some(first), Some(last)) = (rows.iter().map(T::occurred_at).min(), rows.iter().map(T::occurred_at).max())
    else {
        return Ok(());
    };
    if months_from(partition_month(first), partition_month(last)) <= MAX_MONTHS_PER_INSERT {
        return insert_rows::<T>(client, rows.iter()).await;
    }
    let months: Vec<u32> = rows.iter().map(|row| partition_month(T::occurred_at(row))).collect();
    for part in parts_by_month(&months, MAX_MONTHS_PER_INSERT) {
        insert_rows::<T>(client, part.iter().map(|&index| &rows[index])).await?;
    }
    Ok(())
}

async fn insert_rows<'a, T: SourceTable>(
    client: &clickhouse::Client,
    rows: impl Iterator<Item = &'a T::Row>,
) -> Result<(), clickhouse::error::Error> {
    let mut insert = client.insert::<T::Row>(T::TABLE).await?;
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await
}

/// How many months from `first` to `last` (`YYYYMM`), both counted.
fn months_from(first: u32, last: u32) -> usize {
    let index = |month: u32| i64::from(month / 100) * 12 + i64::from(month % 100);
    usize::try_from(index(last) - index(first) + 1).unwrap_or(0)
}

/// The positions of `months` (each row's `YYYYMM`) in parts of at most `most` distinct months
/// each, every position in exactly one part, the parts in month order.
fn parts_by_month(months: &[u32], most: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..months.len()).collect();
    order.sort_by_key(|&index| months[index]);
    let mut parts: Vec<Vec<usize>> = Vec::new();
    let (mut current, mut distinct, mut last) = (Vec::new(), 0, None);
    for index in order {
        if last != Some(months[index]) {
            if distinct == most.max(1) {
                parts.push(std::mem::take(&mut current));
                distinct = 0;
            }
            distinct += 1;
            last = Some(months[index]);
        }
        current.push(index);
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn parts_hold_every_row_once_and_at_most_so_many_months_each() {
        // 250 months, three rows each, shuffled: 100, 100 and 50 months.
        let months: Vec<u32> =
            (0..750_u32).map(|i| (i * 7919) % 250).map(|m| (2000 + m / 12) * 100 + m % 12 + 1).collect();
        let parts = parts_by_month(&months, 100);
        let distinct: Vec<usize> =
            parts.iter().map(|part| part.iter().map(|&i| months[i]).collect::<BTreeSet<_>>().len()).collect();
        assert_eq!(distinct, [100, 100, 50]);
        let mut all: Vec<usize> = parts.concat();
        all.sort_unstable();
        assert_eq!(all, (0..750).collect::<Vec<_>>());
        // In month order: no month in two parts.
        let ranges: Vec<(u32, u32)> = parts
            .iter()
            .map(|part| {
                let of_part = part.iter().map(|&i| months[i]);
                (of_part.clone().min().unwrap_or(0), of_part.max().unwrap_or(0))
            })
            .collect();
        assert!(ranges.windows(2).all(|pair| pair[0].1 < pair[1].0), "{ranges:?}");
    }

    #[test]
    fn months_are_counted_across_years() {
        assert_eq!(months_from(202611, 202611), 1);
        assert_eq!(months_from(202611, 202702), 4);
        assert_eq!(months_from(201801, 202604), 100);
        assert_eq!(months_from(201801, 202605), 101);
    }

    #[test]
    fn the_partition_is_the_local_month() {
        // 2026-10-31T17:00:00Z is November 1st, 00:00 in Hanoi.
        assert_eq!(partition_month(1_793_466_000), 202611);
        assert_eq!(partition_month(1_793_465_999), 202610);
        // Until mid-June 1975 the zone was UTC+08:00: 1970-01-31T16:00:00Z is February 1st there.
        assert_eq!(partition_month(2_649_600), 197002);
        assert_eq!(partition_month(2_649_599), 197001);
        // 1975-05-31T16:00:00Z: June 1st at UTC+08:00; 1975-06-30T16:59:59Z: still June at UTC+07:00.
        assert_eq!(partition_month(170_784_000), 197506);
        assert_eq!(partition_month(173_379_599), 197506);
        assert_eq!(partition_month(173_379_600), 197507);
    }
}
