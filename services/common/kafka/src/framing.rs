//! How events are laid out in the messages of the source topics: the contract between ingest,
//! which writes them, and the processor (and the dead-letter tools), which read them.
//!
//! A message without the [`FRAMING`] header holds one event: its JSON, nothing else. That is
//! what every message was before multi-event messages, and what a producer that bypasses
//! ingest (a replayed dead letter, a backfill with kcat) writes. A message whose [`FRAMING`]
//! header is [`NDJSON`] holds several events, each one JSON object on a line of its own
//! (newline-delimited JSON: serde_json escapes every newline inside a string, so a line break
//! only ever separates two events), in the order of the request they came in.
//!
//! Why several events per message: librdkafka's work per message (queueing it, a header list,
//! a delivery report) cost ingest more CPU than kcat spends on a whole event, so one message per
//! event capped ingest at about a third of kcat's events per CPU-second whatever else it did
//! (BENCHMARKS.md, "What limits each figure"). The processor stores each event's line and its
//! message's number of events beside the offset, so its completeness check counts events
//! whatever the framing.

/// The header naming a message's framing; absent on a message that holds one event.
pub const FRAMING: &str = "ioc.framing";

/// [`FRAMING`]'s value on a message of newline-delimited events.
pub const NDJSON: &str = "ndjson";

/// Whether a message whose [`FRAMING`] header is `value` (or absent: `None`) holds
/// newline-delimited events. An unknown framing is not read as one event either: the
/// processor dead-letters it, since its events cannot be told apart.
pub fn framing_of(value: Option<&[u8]>) -> Framing {
    match value {
        None => Framing::OneEvent,
        Some(value) if value == NDJSON.as_bytes() => Framing::Ndjson,
        Some(value) => Framing::Unknown(String::from_utf8_lossy(value).into_owned()),
    }
}

/// How a message's payload holds its events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Framing {
    /// The payload is one event.
    OneEvent,
    /// One event per line.
    Ndjson,
    /// A [`FRAMING`] value this version does not know.
    Unknown(String),
}

/// The events of an [`NDJSON`] payload: each line's position (0-based, counting every line) and
/// its bytes, without its line break. Lines of nothing but white space (a trailing line break, a
/// `\r` of a Windows line end) hold no event and are skipped, as JSON ignores white space.
pub fn ndjson_lines(payload: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    payload.split(|&byte| byte == b'\n').enumerate().filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_framing_header_says_how_to_read_a_message() {
        assert_eq!(framing_of(None), Framing::OneEvent);
        assert_eq!(framing_of(Some(b"ndjson")), Framing::Ndjson);
        assert_eq!(framing_of(Some(b"avro")), Framing::Unknown("avro".into()));
    }

    #[test]
    fn each_line_is_one_event_with_its_position() {
        let lines: Vec<(usize, &[u8])> = ndjson_lines(b"{\"a\":1}\n{\"b\":\"x\\ny\"}\n \r\n{\"c\":3}\n").collect();
        assert_eq!(lines, [(0, &b"{\"a\":1}"[..]), (1, &b"{\"b\":\"x\\ny\"}"[..]), (3, &b"{\"c\":3}"[..])]);
        assert_eq!(ndjson_lines(b"").count(), 0);
    }
}
