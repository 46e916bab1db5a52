//! A batch of rows with the highest offset it covers in each partition.

use std::collections::BTreeMap;

use rdkafka::{Offset, TopicPartitionList};

/// Rows waiting to be written, and the offsets to commit once they are.
#[derive(Debug)]
pub struct Batch<R> {
    /// Rows in consumption order.
    pub rows: Vec<R>,
    /// Highest consumed offset per partition (including dead-lettered messages).
    last_offsets: BTreeMap<i32, i64>,
    /// Payload bytes of the rows, to bound memory.
    bytes: usize,
}

impl<R> Default for Batch<R> {
    fn default() -> Self {
        Batch { rows: Vec::new(), last_offsets: BTreeMap::new(), bytes: 0 }
    }
}

impl<R> Batch<R> {
    /// Adds a row consumed at `offset` of `partition` from a message of `bytes` bytes.
    pub fn push(&mut self, row: R, partition: i32, offset: i64, bytes: usize) {
        self.rows.push(row);
        self.bytes += bytes;
        self.track(partition, offset);
    }

    /// Payload bytes of the rows held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Records a consumed message that produced no row (it was dead-lettered).
    pub fn track(&mut self, partition: i32, offset: i64) {
        let last = self.last_offsets.entry(partition).or_insert(offset);
        *last = (*last).max(offset);
    }

    /// Whether nothing was consumed since the last flush.
    pub fn is_empty(&self) -> bool {
        self.last_offsets.is_empty()
    }

    /// The offsets to commit: one past the last consumed message of each partition.
    pub fn commit_list(&self, topic: &str) -> Result<TopicPartitionList, rdkafka::error::KafkaError> {
        let mut list = TopicPartitionList::new();
        for (partition, offset) in &self.last_offsets {
            list.add_partition_offset(topic, *partition, Offset::Offset(offset + 1))?;
        }
        Ok(list)
    }

    /// Empties the batch after it was written and committed.
    pub fn clear(&mut self) {
        self.rows.clear();
        self.last_offsets.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_one_past_the_highest_offset_of_each_partition() {
        let mut batch = Batch::default();
        batch.push("a", 0, 7, 10);
        batch.push("b", 1, 3, 10);
        batch.push("c", 0, 5, 10);
        batch.track(1, 4);
        let list = batch.commit_list("t").expect("list");
        let offsets: Vec<_> = list.elements().iter().map(|e| (e.partition(), e.offset())).collect();
        assert_eq!(offsets, vec![(0, Offset::Offset(8)), (1, Offset::Offset(5))]);
        batch.clear();
        assert!(batch.is_empty() && batch.rows.is_empty());
    }
}
