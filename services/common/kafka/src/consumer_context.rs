//! The processor's consumer context: partition ends are news, not errors, and a hold on
//! fetching that covers partitions assigned while it lasts.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance, StreamConsumer};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::TopicPartitionList;

/// The context of a consumer that reports partition ends. librdkafka hands every error event to
/// the client's error callback as well as to `recv`, and rdkafka's default callback logs each
/// at error level; a partition's end is news for the pipeline (after almost every fetch of
/// live traffic), not an error, so only the other errors are logged.
#[derive(Default)]
pub struct PartitionEndsContext {
    /// Whether fetching is held ([`hold_fetching`]).
    held: AtomicBool,
    /// The partitions this consumer paused and has not resumed since, by topic and partition.
    paused: Mutex<BTreeSet<(String, i32)>>,
}

impl PartitionEndsContext {
    fn paused(&self) -> std::sync::MutexGuard<'_, BTreeSet<(String, i32)>> {
        // Only ever held for a set operation, which cannot panic half-way.
        self.paused.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl ClientContext for PartitionEndsContext {
    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() != Some(RDKafkaErrorCode::PartitionEOF) {
            tracing::error!("librdkafka: {error}: {reason}");
        }
    }
}

impl ConsumerContext for PartitionEndsContext {
    /// librdkafka keeps a partition paused by the application across its revocation and a later
    /// assignment (its pause flag belongs to the client's partition object, not to the
    /// assignment: confluentinc/librdkafka#1849), and pausing reaches only the partitions
    /// assigned at the time. So a partition assigned during a hold is paused with the others,
    /// and one this consumer paused and lost before the hold ended is resumed when it comes
    /// back. Any other assignment is left as librdkafka makes it: a consumer that never held
    /// anything is never paused or resumed here.
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Assign(assigned) = rebalance else { return };
        let held = self.held.load(Ordering::SeqCst);
        let result = if held {
            set_fetching(consumer, assigned, true).map(|()| self.paused().extend(entries(assigned)))
        } else {
            let mut paused = self.paused();
            let mut stale = TopicPartitionList::new();
            for entry in entries(assigned) {
                if paused.remove(&entry) {
                    stale.add_partition(&entry.0, entry.1);
                }
            }
            if stale.count() == 0 {
                return;
            }
            set_fetching(consumer, &stale, false)
        };
        if let Err(error) = result {
            tracing::warn!(%error, held, "failed to set the fetching of newly assigned partitions");
        }
    }
}

/// Holds (`true`) or releases fetching on every partition assigned to `consumer`, now and at
/// every assignment until called again. What librdkafka had already fetched for a partition is
/// dropped with the hold and fetched again after the release (in a test, messages fetched with
/// a full batch's last never came while held). On an error the hold stays as it was.
pub fn hold_fetching(consumer: &StreamConsumer<PartitionEndsContext>, hold: bool) -> KafkaResult<()> {
    // The flag first: an assignment made between the two steps follows the new state. (Both
    // run on the task that polls, where rebalance callbacks run, so none comes in between.)
    let context = consumer.context();
    let before = context.held.swap(hold, Ordering::SeqCst);
    let result = consumer.assignment().and_then(|assignment| {
        set_fetching(consumer, &assignment, hold)?;
        let mut paused = context.paused();
        for entry in entries(&assignment) {
            if hold {
                paused.insert(entry);
            } else {
                paused.remove(&entry);
            }
        }
        Ok(())
    });
    if result.is_err() {
        context.held.store(before, Ordering::SeqCst);
    }
    result
}

/// Each partition of `list`, by topic and partition.
fn entries(list: &TopicPartitionList) -> impl Iterator<Item = (String, i32)> + '_ {
    list.elements().into_iter().map(|element| (element.topic().to_owned(), element.partition()))
}

/// Pauses or resumes `partitions`. librdkafka reports a partition it could not set in that
/// partition's entry, not in the call's result, so the entries are read too.
fn set_fetching<C: Consumer<PartitionEndsContext>>(
    consumer: &C,
    partitions: &TopicPartitionList,
    hold: bool,
) -> KafkaResult<()> {
    if hold {
        consumer.pause(partitions)?;
    } else {
        consumer.resume(partitions)?;
    }
    partitions.elements().iter().try_for_each(|element| element.error())
}
