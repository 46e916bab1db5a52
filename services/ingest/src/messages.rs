//! A request's valid events packed into Kafka messages (ioc_kafka::framing): up to
//! `max_events_per_message` events per message, one JSON object per line, in request order.
//! With `max_events_per_message` 1 (500 by default) each message is one event without a framing
//! header.

use ioc_domain::Event;

use crate::outcome::Unacknowledged;

/// A message closes once its payload reaches this many bytes, whatever its count of events: it
/// holds at most this, less one byte, plus one event of at most `max_event_bytes` (512 KiB at
/// most, config.rs) and its key (an entity id), under librdkafka's `message.max.bytes`
/// (1,000,000), which refuses larger messages outright. A message's events are acknowledged,
/// or not, together.
pub const MESSAGE_CLOSE_BYTES: usize = 256 * 1024;

/// Bytes reserved for one event's JSON: the contract's examples take 160 to 400, plus ingest's
/// received_at and the pseudonyms (64 hex digits each).
const EVENT_CAPACITY: usize = 512;

/// One Kafka message to produce.
#[derive(Debug)]
pub struct Message {
    /// Its events' JSON: one event, or one per line when `framed`.
    pub payload: Vec<u8>,
    /// Its key: the entity of its first event, which picks its partition.
    pub key: String,
    /// The positions in the request of the events it holds, in order.
    pub events: Vec<usize>,
    /// Whether it carries the NDJSON framing header.
    pub framed: bool,
}

/// Packs `events` (each with its position in the request) into messages of at most
/// `max_events_per_message` events. An event that cannot be encoded is left out and returned
/// with its position.
pub fn pack(
    events: Vec<(usize, Event)>,
    max_events_per_message: usize,
) -> (Vec<Message>, Vec<(usize, Unacknowledged)>) {
    let per_message = max_events_per_message.max(1);
    let framed = per_message > 1;
    let mut messages: Vec<Message> = Vec::with_capacity(events.len().div_ceil(per_message));
    let mut failed = Vec::new();
    let mut open: Option<Message> = None;
    let total = events.len();
    for (seen, (index, event)) in events.into_iter().enumerate() {
        // Room for the events the message can still take from this request, at once.
        let room = per_message.min(total - seen);
        let message = open.get_or_insert_with(|| Message {
            payload: Vec::with_capacity(EVENT_CAPACITY.saturating_mul(room).min(MESSAGE_CLOSE_BYTES)),
            key: String::new(),
            events: Vec::with_capacity(room),
            framed,
        });
        let start = message.payload.len();
        if !message.events.is_empty() {
            message.payload.push(b'\n');
        }
        if let Err(error) = serde_json::to_writer(&mut message.payload, &event) {
            message.payload.truncate(start);
            failed.push((index, Unacknowledged::Encode(error.to_string())));
            continue;
        }
        if message.events.is_empty() {
            message.key = event.body.entity_id().to_owned();
        }
        message.events.push(index);
        if message.events.len() >= per_message || message.payload.len() >= MESSAGE_CLOSE_BYTES {
            messages.extend(open.take());
        }
    }
    // A message whose only events could not be encoded is empty: nothing to send.
    messages.extend(open.filter(|message| !message.events.is_empty()));
    (messages, failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ioc_kafka::framing::ndjson_lines;

    fn events(count: usize) -> Vec<(usize, Event)> {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../schemas/events/examples/valid/dossier.received.json"
        ))
        .expect("the contract's example");
        let event = Event::from_json_str(&text).expect("a valid example");
        (0..count)
            .map(|index| {
                let mut event = event.clone();
                event.event_id = uuid::Uuid::from_u128(index as u128 + 1);
                (index * 2, event)
            })
            .collect()
    }

    #[test]
    fn events_fill_messages_in_order_one_per_line() {
        let (messages, failed) = pack(events(7), 3);
        assert!(failed.is_empty());
        let held: Vec<&[usize]> = messages.iter().map(|m| m.events.as_slice()).collect();
        assert_eq!(held, [&[0, 2, 4][..], &[6, 8, 10], &[12]]);
        for message in &messages {
            assert!(message.framed);
            let ids: Vec<String> = ndjson_lines(&message.payload)
                .map(|(_, line)| Event::from_json_slice(line).expect("each line is an event").event_id.to_string())
                .collect();
            let expected: Vec<String> =
                message.events.iter().map(|index| uuid::Uuid::from_u128(*index as u128 / 2 + 1).to_string()).collect();
            assert_eq!(ids, expected, "the message's lines are its events, in the request's order");
        }
    }

    #[test]
    fn one_event_per_message_is_the_unframed_format() {
        let (messages, _) = pack(events(2), 1);
        assert_eq!(messages.len(), 2);
        assert!(messages.iter().all(|m| !m.framed && m.events.len() == 1 && !m.payload.contains(&b'\n')));
        Event::from_json_slice(&messages[1].payload).expect("the payload is the event itself");
    }

    #[test]
    fn a_message_closes_at_its_byte_limit() {
        let many = MESSAGE_CLOSE_BYTES / 300 + 10;
        let (messages, _) = pack(events(many), 100_000);
        assert!(messages.len() >= 2, "{} events of about 400 bytes fill more than one message", many);
        let first = &messages[0];
        assert!(first.payload.len() >= MESSAGE_CLOSE_BYTES);
        assert!(first.payload.len() < MESSAGE_CLOSE_BYTES + 2_000, "it closed at the first event past the limit");
        assert_eq!(messages.iter().map(|m| m.events.len()).sum::<usize>(), many);
    }
}
