//! Turns a request body (JSON array or NDJSON, optionally gzip) into one JSON value per event,
//! within the configured size limits.

use std::io::Read;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use flate2::read::MultiGzDecoder;
use http_body_util::LengthLimitError;
use serde_json::Value;

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

/// One event of the batch as sent: its text and the JSON value parsed from it.
#[derive(Debug)]
pub struct Parsed<'a> {
    /// The event's own JSON text within the body; the typed event is decoded from it.
    pub text: &'a str,
    /// The same text as a JSON value, for the shape limits and the schema.
    pub value: Value,
}

/// One event slot of the batch: the parsed event, or why that line could not be parsed.
pub type Slot<'a> = Result<Parsed<'a>, String>;

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
/// unparseable or oversized event only costs that event.
pub fn parse<'a>(bytes: &'a [u8], framing: Framing, limits: &Limits) -> Result<Vec<Slot<'a>>, IngestError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|error| IngestError::MalformedBody(format!("body is not valid UTF-8: {error}")))?;
    // The position is only spelled out for an event that fails: a valid one allocates nothing.
    let event = |raw: &'a str, position: &dyn Fn() -> String| -> Slot<'a> {
        if raw.len() > limits.max_event_bytes {
            return Err(format!(
                "{} is {} bytes; one event may have at most {}",
                position(),
                raw.len(),
                limits.max_event_bytes
            ));
        }
        match serde_json::from_str(raw) {
            Ok(value) => Ok(Parsed { text: raw, value }),
            Err(error) => Err(format!("{} is not valid JSON: {error}", position())),
        }
    };
    let slots: Vec<Slot<'a>> = match framing {
        Framing::JsonArray => {
            // Raw elements keep each event's size, so one oversized event is refused alone.
            let events: Vec<&'a serde_json::value::RawValue> = serde_json::from_str(text)
                .map_err(|error| IngestError::MalformedBody(format!("body is not a JSON array of events: {error}")))?;
            check_count(events.len(), limits.max_events)?;
            events
                .into_iter()
                .enumerate()
                .map(|(index, raw)| event(raw.get(), &|| format!("element {index}")))
                .collect()
        }
        Framing::Ndjson => {
            let lines: Vec<(usize, &'a str)> =
                text.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()).collect();
            check_count(lines.len(), limits.max_events)?;
            lines.into_iter().map(|(number, line)| event(line, &|| format!("line {}", number + 1))).collect()
        }
    };
    if slots.is_empty() {
        return Err(IngestError::MalformedBody("the batch holds no events".into()));
    }
    Ok(slots)
}

fn check_count(count: usize, max_events: usize) -> Result<(), IngestError> {
    if count > max_events {
        return Err(IngestError::TooLarge(format!(
            "{count} events in one request; at most {max_events} are accepted, split the batch"
        )));
    }
    Ok(())
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
            assert_eq!(slots[0].as_ref().expect("parsed").text, "{}");
            assert!(slots[1].as_ref().expect_err("too big").contains("at most 64"), "{framing:?}");
        }
    }

    #[test]
    fn ndjson_keeps_good_lines_and_names_the_bad_one() {
        let slots = parse(b"{\"a\":1}\n\nnot json\n{\"b\":2}\n", Framing::Ndjson, &limits(10)).expect("parsed");
        assert_eq!(slots.len(), 3);
        assert!(slots[0].is_ok() && slots[2].is_ok());
        assert!(slots[1].as_ref().unwrap_err().starts_with("line 3 "));
        assert_eq!(slots[2].as_ref().expect("parsed").text, "{\"b\":2}");
    }

    #[test]
    fn a_json_body_must_be_an_array() {
        assert!(matches!(parse(b"{\"a\":1}", Framing::JsonArray, &limits(10)), Err(IngestError::MalformedBody(_))));
        assert!(matches!(parse(b"[", Framing::JsonArray, &limits(10)), Err(IngestError::MalformedBody(_))));
        assert!(matches!(parse(b"[]", Framing::JsonArray, &limits(10)), Err(IngestError::MalformedBody(_))));
        assert!(matches!(parse(b"[1,2,3]", Framing::JsonArray, &limits(2)), Err(IngestError::TooLarge(_))));
        assert!(matches!(parse(&[0xff, 0xfe], Framing::Ndjson, &limits(2)), Err(IngestError::MalformedBody(_))));
    }
}
