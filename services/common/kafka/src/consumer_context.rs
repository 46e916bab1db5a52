//! The processor's consumer context: partition ends are news, not errors, and a hold on
//! fetching that covers partitions assigned while it lasts.

use std::sync::atomic::{AtomicBool, Ordering};

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
    /// assigned at the time. So every assignment is set to the hold as it stands: a partition
    /// paused before a rebalance took it away is fetched again when it comes back after the
    /// hold ended, and one given during a hold waits with the others.
    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(assigned) = rebalance {
            let held = self.held.load(Ordering::SeqCst);
            if let Err(error) = set_fetching(consumer, assigned, held) {
                tracing::warn!(%error, held, "failed to set the fetching of newly assigned partitions");
            }
        }
    }
}

/// Holds (`true`) or releases fetching on every partition assigned to `consumer`, now and at
/// every assignment until called again. Messages fetched before the hold still arrive. On an
/// error the hold stays as it was.
pub fn hold_fetching(consumer: &StreamConsumer<PartitionEndsContext>, hold: bool) -> KafkaResult<()> {
    // The flag first: an assignment made between the two steps follows the new state. (Both
    // run on the task that polls, where rebalance callbacks run, so none comes in between.)
    let before = consumer.context().held.swap(hold, Ordering::SeqCst);
    let result = consumer.assignment().and_then(|assignment| set_fetching(consumer, &assignment, hold));
    if result.is_err() {
        consumer.context().held.store(before, Ordering::SeqCst);
    }
    result
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
