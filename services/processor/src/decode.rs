//! Decodes a Kafka message into an event. Ingest already checked the contract, so a failure
//! here means a producer bypassed ingest or a bug: the message is dead-lettered, never dropped.

use ioc_domain::{Event, Source};

use crate::transform::TransformError;

/// Why a message cannot be decoded into an event of its topic.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// The message is empty.
    #[error("message has no payload")]
    NoPayload,
    /// The payload is not an event of the contract.
    #[error("undecodable event: {0}")]
    Undecodable(String),
    /// A message framed in a way this version cannot read (ioc_kafka::framing).
    #[error("message framed as {0:?}, which this processor does not know (it reads one event, or ndjson); upgrade it")]
    UnknownFraming(String),
    /// An event of another source.
    #[error("event {event_id} of type {event_type} does not belong on the {topic_source} topic")]
    WrongTopic {
        /// The event's id.
        event_id: String,
        /// Its type.
        event_type: &'static str,
        /// The source of the topic it was on.
        topic_source: Source,
    },
}

/// Why a message went to the dead-letter topic: its `kind` labels the dead-letter metric, its
/// text goes into the letter's `ioc.error` header.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeadLetterReason {
    /// It could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// It could not become a row.
    #[error(transparent)]
    Transform(#[from] TransformError),
}

impl DeadLetterReason {
    /// Every label [`DeadLetterReason::kind`] can return, for metrics that start at zero.
    pub const KINDS: [&'static str; 6] =
        ["no_payload", "undecodable", "unknown_framing", "wrong_topic", "wrong_table", "time_out_of_range"];

    /// The metric label of this reason, a bounded set.
    pub fn kind(&self) -> &'static str {
        match self {
            DeadLetterReason::Decode(DecodeError::NoPayload) => "no_payload",
            DeadLetterReason::Decode(DecodeError::Undecodable(_)) => "undecodable",
            DeadLetterReason::Decode(DecodeError::UnknownFraming(_)) => "unknown_framing",
            DeadLetterReason::Decode(DecodeError::WrongTopic { .. }) => "wrong_topic",
            DeadLetterReason::Transform(TransformError::WrongTable(_)) => "wrong_table",
            DeadLetterReason::Transform(TransformError::TimeOutOfRange { .. }) => "time_out_of_range",
        }
    }
}

/// Decodes `payload` and checks it belongs to `source`.
pub fn decode(payload: Option<&[u8]>, source: Source) -> Result<Event, DecodeError> {
    let payload = payload.ok_or(DecodeError::NoPayload)?;
    let event = Event::from_json_slice(payload).map_err(|error| DecodeError::Undecodable(error.to_string()))?;
    if !event.body.belongs_to(source) || event.source != source {
        return Err(DecodeError::WrongTopic {
            event_id: event.event_id.to_string(),
            event_type: event.body.type_name(),
            topic_source: source,
        });
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_foreign_events_are_refused_with_a_reason() {
        assert!(decode(None, Source::Portal).unwrap_err().to_string().contains("no payload"));
        let garbage = DeadLetterReason::from(decode(Some(b"{oops"), Source::Portal).unwrap_err());
        assert!(garbage.to_string().contains("undecodable"));
        assert_eq!(garbage.kind(), "undecodable");
        let edoc = br#"{"event_id":"2b9d6c1e-0a4f-4e7b-8c3d-5f1a9e2b7c02","source":"edoc","type":"work_record.opened",
            "occurred_at":"2026-10-01T09:00:00+07:00","unit_code":"SNV","record_id":"R","level":"province","classified":false}"#;
        let foreign = DeadLetterReason::from(decode(Some(edoc), Source::Portal).unwrap_err());
        assert!(foreign.to_string().contains("does not belong"));
        assert_eq!(foreign.kind(), "wrong_topic");
        assert!(decode(Some(edoc), Source::Edoc).is_ok());
        let reasons = [
            DeadLetterReason::from(DecodeError::NoPayload),
            garbage,
            DeadLetterReason::from(DecodeError::UnknownFraming("avro".into())),
            foreign,
            DeadLetterReason::from(TransformError::WrongTable("x")),
            DeadLetterReason::from(TransformError::TimeOutOfRange { field: "occurred_at", value: "1900".into() }),
        ];
        let kinds: Vec<&str> = reasons.iter().map(DeadLetterReason::kind).collect();
        assert_eq!(kinds, DeadLetterReason::KINDS);
    }
}
