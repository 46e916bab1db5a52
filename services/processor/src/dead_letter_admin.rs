//! `ioc-processor dlq list | replay`: shows the dead-letter topic and re-injects its messages
//! into their source topics after a fix. Replayed events keep their event ids, so an event that
//! was stored after all is still counted once.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::Context;
use ioc_domain::dead_letter_topic;
use ioc_kafka::framing;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use serde::Serialize;

use crate::dead_letter::header as names;
use crate::ProcessorConfig;

/// One dead letter, as `dlq list` prints it (one JSON object per line).
#[derive(Debug, Serialize)]
pub struct DeadLetter {
    /// Partition of the dead-letter topic.
    pub partition: i32,
    /// Offset in the dead-letter topic.
    pub offset: i64,
    /// Where the message was consumed from.
    pub source_topic: Option<String>,
    /// Its partition there.
    pub source_partition: Option<String>,
    /// Its offset there.
    pub source_offset: Option<String>,
    /// The event's line in that message, when it held several events (the letter holds that
    /// event alone).
    pub source_line: Option<String>,
    /// Why it could not be processed.
    pub error: Option<String>,
    /// When it was dead-lettered.
    pub failed_at: Option<String>,
    /// The event id, when the payload has one.
    pub event_id: Option<String>,
    /// When the letter holds only the first bytes of its payload: the original's size.
    pub payload_cut_from: Option<String>,
}

fn header(message: &OwnedMessage, name: &str) -> Option<String> {
    let headers = message.headers()?;
    headers.iter().find(|h| h.key == name).and_then(|h| h.value).map(|v| String::from_utf8_lossy(v).into_owned())
}

fn describe(message: &OwnedMessage) -> DeadLetter {
    let event_id = message
        .payload()
        .and_then(|p| serde_json::from_slice::<serde_json::Value>(p).ok())
        .and_then(|v| v.get("event_id").and_then(|id| id.as_str()).map(str::to_owned));
    DeadLetter {
        partition: message.partition(),
        offset: message.offset(),
        source_topic: header(message, names::SOURCE_TOPIC),
        source_partition: header(message, names::SOURCE_PARTITION),
        source_offset: header(message, names::SOURCE_OFFSET),
        source_line: header(message, names::SOURCE_LINE),
        error: header(message, names::ERROR),
        failed_at: header(message, names::FAILED_AT),
        event_id,
        payload_cut_from: header(message, names::PAYLOAD_CUT_FROM),
    }
}

/// Reads the dead-letter topic from `group`'s committed position (or the beginning) up to the
/// end it had when the call started; never further, so a replayed letter that fails again is
/// not read twice in one run.
fn read_to_end(config: &ProcessorConfig, group: &str) -> anyhow::Result<(BaseConsumer, Vec<OwnedMessage>)> {
    let topic = dead_letter_topic(&config.kafka.topic_prefix);
    let consumer: BaseConsumer =
        config.kafka.base_consumer(group).context("failed to create the dead-letter consumer")?;
    let metadata = consumer
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .with_context(|| format!("failed to read metadata of {topic}"))?;
    let partitions: Vec<i32> = metadata.topics().iter().flat_map(|t| t.partitions().iter().map(|p| p.id())).collect();
    let committed = {
        let mut wanted = TopicPartitionList::new();
        for partition in &partitions {
            wanted.add_partition(&topic, *partition);
        }
        consumer.committed_offsets(wanted, Duration::from_secs(10)).context("failed to read committed offsets")?
    };
    let mut assignment = TopicPartitionList::new();
    let mut ends = HashMap::new();
    for partition in &partitions {
        let (low, high) = consumer.fetch_watermarks(&topic, *partition, Duration::from_secs(10))?;
        let start = match committed.find_partition(&topic, *partition).map(|e| e.offset()) {
            Some(Offset::Offset(offset)) => offset.max(low),
            _ => low,
        };
        if start < high {
            assignment.add_partition_offset(&topic, *partition, Offset::Offset(start))?;
            ends.insert(*partition, high);
        }
    }
    let mut letters = Vec::new();
    if ends.is_empty() {
        return Ok((consumer, letters));
    }
    consumer.assign(&assignment)?;
    let mut remaining = ends.len();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while remaining > 0 {
        anyhow::ensure!(std::time::Instant::now() < deadline, "timed out reading {topic}");
        let Some(received) = consumer.poll(Duration::from_millis(500)) else { continue };
        let message = received.context("failed to read the dead-letter topic")?.detach();
        let end = ends.get(&message.partition()).copied().unwrap_or(0);
        if message.offset() + 1 == end {
            remaining -= 1;
        }
        if message.offset() < end {
            letters.push(message);
        }
    }
    Ok((consumer, letters))
}

/// Every dead letter, oldest first per partition.
pub fn list(config: &ProcessorConfig) -> anyhow::Result<Vec<DeadLetter>> {
    // A throwaway group: listing must not move the replay position.
    let group = format!("{}.dlq-list.{}", config.group_prefix, uuid_like());
    let (_, letters) = read_to_end(config, &group)?;
    Ok(letters.iter().map(describe).collect())
}

/// Re-produces every dead letter not replayed yet to the topic it came from, then records the
/// replay position (group `{group_prefix}.dlq-replay`). Returns how many were replayed: a letter
/// whose payload was cut (`ioc.payload_cut_from`) is passed over with a warning naming where the
/// original is. A letter that cannot be replayed (no `ioc.source_topic` header, or its topic
/// refuses it) stops the replay with an error, after the position of the letters replayed
/// before it is recorded: the next run starts at that letter and sends none of them again.
pub async fn replay(config: &ProcessorConfig) -> anyhow::Result<usize> {
    let group = format!("{}.dlq-replay", config.group_prefix);
    let (consumer, letters) = read_to_end(config, &group)?;
    let producer = config.kafka.producer()?;
    let mut next_offsets: HashMap<i32, i64> = HashMap::new();
    let dlq = dead_letter_topic(&config.kafka.topic_prefix);
    let mut replayed = 0;
    let mut stopped = None;
    for letter in &letters {
        match replay_one(&producer, letter).await {
            Ok(sent) => {
                next_offsets.insert(letter.partition(), letter.offset() + 1);
                replayed += usize::from(sent);
            }
            Err(error) => {
                stopped = Some(error);
                break;
            }
        }
    }
    if !next_offsets.is_empty() {
        let mut list = TopicPartitionList::new();
        for (partition, offset) in next_offsets {
            list.add_partition_offset(&dlq, partition, Offset::Offset(offset))?;
        }
        let recorded = consumer.commit(&list, CommitMode::Sync);
        if let Err(error) = recorded {
            let stopped = stopped.map(|error| format!("; the replay had stopped: {error:#}")).unwrap_or_default();
            anyhow::bail!("replayed {replayed} letters, but failed to record the replay position: {error}{stopped}");
        }
    }
    match stopped {
        Some(error) => Err(error.context(format!(
            "replay stopped after {replayed} letters (their position is recorded; the next run starts at this one)"
        ))),
        None => Ok(replayed),
    }
}

/// Re-produces one letter to its source topic; `false` when it is passed over (its payload cut).
async fn replay_one(producer: &rdkafka::producer::FutureProducer, letter: &OwnedMessage) -> anyhow::Result<bool> {
    let target = header(letter, names::SOURCE_TOPIC).with_context(|| {
        format!(
            "dead letter at {}/{} has no ioc.source_topic header; cannot tell where it belongs",
            letter.partition(),
            letter.offset()
        )
    })?;
    let replayed_from = format!("{}/{}", letter.partition(), letter.offset());
    if let Some(size) = header(letter, names::PAYLOAD_CUT_FROM) {
        // Replaying the excerpt would only dead-letter it again: the whole message is in its
        // source topic, at the offset the letter names, until retention.
        tracing::warn!(
            letter = %replayed_from,
            source_topic = %target,
            source_partition = header(letter, names::SOURCE_PARTITION).unwrap_or_default(),
            source_offset = header(letter, names::SOURCE_OFFSET).unwrap_or_default(),
            // Set when the letter is one event of a message of several: only that line of the
            // original is to be re-sent, the message's other events were stored.
            source_line = header(letter, names::SOURCE_LINE).unwrap_or_default(),
            payload_bytes = %size,
            "not replayed: the letter holds only the first bytes of a payload too large to produce; \
             re-send the original from its source topic at that offset (only its line source_line, when set)"
        );
        return Ok(false);
    }
    let mut headers = OwnedHeaders::new();
    headers = headers.insert(rdkafka::message::Header { key: names::REPLAYED_FROM, value: Some(&replayed_from) });
    if letter.payload().is_some_and(holds_several_events) {
        headers = headers.insert(rdkafka::message::Header { key: framing::FRAMING, value: Some(framing::NDJSON) });
    }
    let mut record = FutureRecord::<[u8], [u8]>::to(&target).headers(headers);
    if let Some(key) = letter.key() {
        record = record.key(key);
    }
    if let Some(payload) = letter.payload() {
        record = record.payload(payload);
    }
    producer
        .send(record, Duration::from_secs(30))
        .await
        .map_err(|(error, _)| anyhow::anyhow!("failed to replay {replayed_from} to {target}: {error}"))?;
    Ok(true)
}

/// Whether a letter's payload is a whole message of several events (ioc_kafka::framing), as a
/// processor older than multi-event messages dead-letters one (it reads the lines as one event,
/// and fails): two lines or more, each a JSON object. Letters do not keep their message's
/// headers, so the replay gives such a payload its framing back; a single event is one line
/// (ingest writes no line break inside one), and a pretty-printed one from another producer has
/// lines that are not objects by themselves.
fn holds_several_events(payload: &[u8]) -> bool {
    let mut count = 0;
    for (_, line) in framing::ndjson_lines(payload) {
        if !serde_json::from_slice::<serde_json::Value>(line).is_ok_and(|value| value.is_object()) {
            return false;
        }
        count += 1;
    }
    count >= 2
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0)
    )
}

#[cfg(test)]
mod tests {
    use super::holds_several_events;

    #[test]
    fn a_whole_message_of_several_events_is_told_from_one_event() {
        assert!(holds_several_events(b"{\"a\":1}\n{\"b\":2}\n"));
        assert!(!holds_several_events(b"{\"a\":1}"), "one event");
        assert!(!holds_several_events(b"{\n  \"a\": 1\n}"), "one event, pretty-printed");
        assert!(!holds_several_events(b"{\"a\":1}\n{oops"), "a line that is not an event");
    }
}
