//! Turns a request body (JSON array or NDJSON, optionally gzip) into one JSON value per event,
//! within the configured size limits.

use std::io::Read;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use flate2::read::MultiGzDecoder;
use http_body_util::LengthLimitError;
use ioc_domain::ParsedEvent;

use crate::error::IngestError;

/// The body's framing, from its Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `application/json`: a JSON array of events.
    JsonArray,
    /// `application/x-ndjson`: one event per line.
    Ndjson,
}

/// Size limits for one request.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Body as sent.
    pub max_body_bytes: usize,
    /// Body after decompression.
    pub max_decompressed_bytes: usize,
    /// Events in one request.
    pub max_events: usize,
    /// One event's JSON text.
    pub max_event_bytes: usize,
}

/// Where an event stands in the body, for the messages about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// A line of an NDJSON body, counted from 1.
    Line(usize),
    /// An element of a JSON array, counted from 0.
    Element(usize),
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Line(number) => write!(f, "line {number}"),
            Position::Element(index) => write!(f, "element {index}"),
        }
    }
}

/// One event of the batch as sent: its own JSON text within the body, not parsed yet.
///
/// Each event is parsed only when it is checked, and its JSON value dropped before the next one
/// is parsed: a `serde_json::Value` takes up to 16 times the bytes of its text (`0,` is a
/// 32-byte value), so parsing a whole body of 20 MB first would hold hundreds of MB at once.
#[derive(Debug, Clone, Copy)]
pub struct RawEvent<'a> {
    /// The event's text, parsed once by [`RawEvent::parsed`].
    pub text: &'a str,
    /// Where it stands in the body.
    pub position: Position,
}

impl RawEvent<'_> {
    /// The event as a JSON value, for the shape limits and the schema, and the typed event's
    /// decode (ioc_domain::ParsedEvent: parsed once, a field given twice noted).
    pub fn parsed(&self) -> Result<ParsedEvent, String> {
        ParsedEvent::parse(self.text).map_err(|error| {
            // serde_json stops at 128 levels with a syntax error; the text may be valid JSON.
            if error.to_string().starts_with("recursion limit exceeded") {
                format!(
                    "{} nests objects and arrays more than 128 levels deep; an event may nest at most max_depth",
                    self.position
                )
            } else {
                format!("{} is not valid JSON: {error}", self.position)
            }
        })
    }
}

/// One event slot of the batch: the event's text, or why it was refused before parsing.
pub type Slot<'a> = Result<RawEvent<'a>, String>;

/// Reads the framing from the headers; refuses anything it cannot decode.
pub fn framing(headers: &HeaderMap) -> Result<Framing, IngestError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match media_type.as_str() {
        "application/json" => Ok(Framing::JsonArray),
        "application/x-ndjson" | "application/ndjson" | "application/jsonl" => Ok(Framing::Ndjson),
        "" => Err(IngestError::UnsupportedMediaType(
            "missing Content-Type; use application/json (an array of events) or application/x-ndjson".into(),
        )),
        other => Err(IngestError::UnsupportedMediaType(format!(
            "Content-Type {other} is not supported; use application/json (an array of events) or application/x-ndjson"
        ))),
    }
}

fn gzipped(headers: &HeaderMap) -> Result<bool, IngestError> {
    match headers.get(header::CONTENT_ENCODING).map(|v| v.to_str().unwrap_or("?").trim().to_ascii_lowercase()) {
        None => Ok(false),
        Some(encoding) if encoding == "gzip" => Ok(true),
        Some(encoding) if encoding == "identity" => Ok(false),
        Some(other) => Err(IngestError::UnsupportedMediaType(format!(
            "Content-Encoding {other} is not supported; send gzip or no encoding"
        ))),
    }
}

/// Reads the whole body within the limits, decompressing gzip.
pub async fn read(headers: &HeaderMap, body: Body, limits: Limits) -> Result<Bytes, IngestError> {
    let gzip = gzipped(headers)?;
    let too_large = || IngestError::TooLarge(format!("request body exceeds {} bytes", limits.max_body_bytes));
    let raw = axum::body::to_bytes(body, limits.max_body_bytes).await.map_err(|error| {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(current) = cause {
            if current.is::<LengthLimitError>() {
                return too_large();
            }
            cause = current.source();
        }
        IngestError::MalformedBody(format!("failed to read request body: {error}"))
    })?;
    if !gzip {
        return Ok(raw);
    }
    // Read one byte past the limit, so a bomb is detected without inflating it further. Every
    // member of the body (gzip allows several one after the other, as `cat a.gz b.gz` makes):
    // decoding the first alone acknowledged its events and silently dropped the others'.
    let mut inflated = Vec::new();
    let limit = limits.max_decompressed_bytes as u64;
    MultiGzDecoder::new(raw.as_ref())
        .take(limit + 1)
        .read_to_end(&mut inflated)
        .map_err(|error| IngestError::MalformedBody(format!("body is not valid gzip: {error}")))?;
    if inflated.len() as u64 > limit {
        return Err(IngestError::TooLarge(format!(
            "decompressed body exceeds {} bytes",
            limits.max_decompressed_bytes
        )));
    }
    Ok(Bytes::from(inflated))
}

/// Splits the body into event slots. A body that is not a batch at all is a 400; a single
/// unparseable or oversized event only costs that event. The events are counted before anything
/// is kept for them, so a body of millions of tiny events is refused without a slot for each.
pub fn parse<'a>(bytes: &'a [u8], framing: Framing, limits: &Limits) -> Result<Vec<Slot<'a>>, IngestError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|error| IngestError::MalformedBody(format!("body is not valid UTF-8: {error}")))?;
    // Some Windows and .NET senders begin a body with a byte order mark; RFC 8259 (section 8.1)
    // lets a reader ignore it. Left in, it failed the first event as "not valid JSON".
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let slot = |text: &'a str, position: Position| -> Slot<'a> {
        if text.len() > limits.max_event_bytes {
            return Err(format!(
                "{position} is {} bytes; one event may have at most {}",
                text.len(),
                limits.max_event_bytes
            ));
        }
        Ok(RawEvent { text, position })
    };
    let slots: Vec<Slot<'a>> = match framing {
        Framing::JsonArray => {
            // Raw elements keep each event's size, so one oversized event is refused alone.
            let mut deserializer = serde_json::Deserializer::from_str(text);
            let events =
                serde::Deserializer::deserialize_seq(&mut deserializer, BoundedElements { max: limits.max_events })
                    .and_then(|elements| deserializer.end().map(|()| elements))
                    .map_err(|error| {
                        // The usual slip: one event sent as application/json without its array.
                        let hint = if text.trim_start().starts_with('{') {
                            "; send even a single event as an array ([{...}]), or as application/x-ndjson"
                        } else {
                            ""
                        };
                        IngestError::MalformedBody(format!("body is not a JSON array of events: {error}{hint}"))
                    })?;
            let events = events.map_err(|count| too_many(count, limits.max_events))?;
            events.into_iter().enumerate().map(|(index, raw)| slot(raw.get(), Position::Element(index))).collect()
        }
        Framing::Ndjson => {
            let lines = || text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty());
            let count = lines().count();
            if count > limits.max_events {
                return Err(too_many(count, limits.max_events));
            }
            lines().map(|(number, line)| slot(line, Position::Line(number + 1))).collect()
        }
    };
    if slots.is_empty() {
        return Err(IngestError::MalformedBody("the batch holds no events".into()));
    }
    Ok(slots)
}

/// A JSON array's elements as raw text, at most `max` of them kept: past that, the rest are
/// only counted (`IgnoredAny` keeps nothing), and the count is the error.
struct BoundedElements {
    max: usize,
}

impl<'de> serde::de::Visitor<'de> for BoundedElements {
    type Value = Result<Vec<&'de serde_json::value::RawValue>, usize>;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("a JSON array of events")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut kept = Vec::new();
        while let Some(element) = seq.next_element::<&'de serde_json::value::RawValue>()? {
            if kept.len() == self.max {
                let mut count = kept.len() + 1;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    count += 1;
                }
                return Ok(Err(count));
            }
            kept.push(element);
        }
        Ok(Ok(kept))
    }
}

fn too_many(count: usize, max_events: usize) -> IngestError {
    IngestError::TooLarge(format!("{count} events in one request; at most {max_events} are accepted, split the batch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_events: usize) -> Limits {
        Limits { max_body_bytes: 1 << 20, max_decompressed_bytes: 1 << 20, max_events, max_event_bytes: 64 }
    }

    #[test]
    fn an_oversized_event_costs_only_itself() {
        let big = format!("{{\"a\":\"{}\"}}", "x".repeat(100));
        for (body, framing) in
            [(format!("{{}}\n{big}\n"), Framing::Ndjson), (format!("[{{}},{big}]"), Framing::JsonArray)]
        {
            let slots = parse(body.as_bytes(), framing, &limits(10)).expect("parsed");
            assert_eq!(slots[0].as_ref().expect("kept").text, "{}");
            assert!(slots[1].as_ref().expect_err("too big").contains("at most 64"), "{framing:?}");
        }
    }

    #[test]
    fn ndjson_keeps_good_lines_and_names_the_bad_one() {
        let slots = parse(b"{\"a\":1}\n\nnot json\n{\"b\":2}\n", Framing::Ndjson, &limits(10)).expect("parsed");
        assert_eq!(slots.len(), 3);
        let values: Vec<_> = slots.iter().map(|slot| slot.as_ref().expect("kept").parsed()).collect();
        assert!(values[0].is_ok() && values[2].is_ok());
        assert!(values[1].as_ref().unwrap_err().starts_with("line 3 "), "{values:?}");
        assert_eq!(slots[2].as_ref().expect("kept").text, "{\"b\":2}");
    }

    #[test]
    fn a_single_object_gets_a_hint_and_deep_nesting_is_named() {
        match parse(b" {\"a\":1}", Framing::JsonArray, &limits(10)) {
            Err(IngestError::MalformedBody(message)) => assert!(message.contains("as an array ([{...}])"), "{message}"),
            other => panic!("{other:?}"),
        }
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        let event = RawEvent { text: &deep, position: Position::Line(2) };
        let refused = event.parsed().expect_err("too deep");
        assert!(refused.starts_with("line 2 nests objects and arrays more than 128 levels"), "{refused}");
    }

    #[test]
    fn a_json_body_must_be_an_array() {
        assert!(matches!(parse(b"{\"a\":1}", Framing::JsonArray, &limits(10)), Err(IngestError::MalformedBody(_))));
        assert!(matches!(parse(b"[", Framing::JsonArray, &limits(10)), Err(IngestError::MalformedBody(_))));
        assert!(matches!(parse(b"[]", Framing::JsonArray, &limits(10)), Err(IngestError::MalformedBody(_))));
        assert!(matches!(parse(b"[1,2,3]", Framing::JsonArray, &limits(2)), Err(IngestError::TooLarge(_))));
        assert!(matches!(parse(&[0xff, 0xfe], Framing::Ndjson, &limits(2)), Err(IngestError::MalformedBody(_))));
        assert!(matches!(parse(b"[{}] x", Framing::JsonArray, &limits(2)), Err(IngestError::MalformedBody(_))));
    }

    #[test]
    fn too_many_events_are_counted_not_kept() {
        for (body, framing) in
            [("[1,2,3,{},[],\"x\"]", Framing::JsonArray), ("1\n2\n\n3\n{}\n[]\n\"x\"\n", Framing::Ndjson)]
        {
            match parse(body.as_bytes(), framing, &limits(2)) {
                Err(IngestError::TooLarge(message)) => {
                    assert!(message.starts_with("6 events in one request; at most 2"), "{framing:?}: {message}")
                }
                other => panic!("{framing:?}: {other:?}"),
            }
            assert_eq!(parse(body.as_bytes(), framing, &limits(6)).expect("within the limit").len(), 6, "{framing:?}");
        }
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        for (body, framing) in [("\u{feff}[{\"a\":1}]", Framing::JsonArray), ("\u{feff}{\"a\":1}\n", Framing::Ndjson)] {
            let slots = parse(body.as_bytes(), framing, &limits(10)).expect("parsed");
            let parsed = slots[0].as_ref().expect("kept").parsed().expect("json");
            assert_eq!(parsed.value(), &serde_json::json!({"a": 1}), "{framing:?}");
        }
    }
}
