//! Offset commits whose outcome is known.
//!
//! rust-rdkafka 0.39 submits an asynchronous commit without a reply queue, so librdkafka never
//! reports its outcome and `ConsumerContext::commit_callback` is not called
//! (fede1024/rust-rdkafka#856, checked here against a real broker: a commit the broker refused
//! reported nothing). A refused commit then went uncounted. A synchronous commit returns the
//! broker's answer, per partition included, but blocks its thread until the group coordinator
//! answers, or until librdkafka gives up on an unreachable one (after the session timeout): it
//! runs on a blocking thread, and the caller waits for it only so long.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::TopicPartitionList;

/// Commits `list` for `consumer` synchronously on a blocking thread, and calls `report` with
/// its outcome and how long it took, once, whenever it comes. Returns the outcome if it came
/// within `wait`, `None` if not (the commit goes on). librdkafka sends commits in the order
/// they were made; one it retries after a lost connection can land after a later one, which
/// moves the group back a batch: those messages come again and the tables fold them.
pub async fn commit_reported<C: ConsumerContext + 'static>(
    consumer: Arc<StreamConsumer<C>>,
    list: TopicPartitionList,
    wait: Duration,
    report: impl FnOnce(&Result<(), String>, Duration) + Send + 'static,
) -> Option<Result<(), String>> {
    let (sender, outcome) = tokio::sync::oneshot::channel();
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let result = consumer.commit(&list, CommitMode::Sync).map_err(|error| error.to_string());
        report(&result, started.elapsed());
        // The caller may have stopped waiting: the report above is the outcome's record.
        let _ = sender.send(result);
    });
    tokio::time::timeout(wait, outcome).await.ok().and_then(Result::ok)
}
