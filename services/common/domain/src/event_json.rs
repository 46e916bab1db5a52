//! An event's JSON, read and written faster than serde's derived code does it.
//!
//! Reading, for the processor, which decodes every message: the derived `Deserialize` of
//! [`Event`] flattens the `type`-tagged body into the envelope, so serde copies every field of
//! the object into an owned buffer, twice, before the body's struct reads them (perf put JSON
//! decoding and the allocator behind it at about a third of the processor's own CPU, issue 12).
//! Here the envelope (with the type) and then the body's struct are each read straight from the
//! bytes, skipping the other's fields without copying them: about 5 % of the processor's CPU
//! side by side; the RFC 3339 parser below saved most of the rest of its tenth.
//!
//! Writing, for ingest, which serialises every event it accepts: chrono's `Serialize` writes a
//! time through `fmt` in small pieces, and serde_json escapes each piece on its own (writing
//! the events was 12 % of ingest's request handling, issue 12); the times are formatted once
//! and written whole.

use std::borrow::Cow;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::de::Error as _;
use serde::Deserialize;
use uuid::Uuid;

use crate::{Event, EventBody, Source};

/// The envelope's fields of an event and its type; the body's fields are skipped.
#[derive(Deserialize)]
struct Envelope<'a> {
    event_id: Uuid,
    source: Source,
    #[serde(deserialize_with = "fixed")]
    occurred_at: DateTime<FixedOffset>,
    unit_code: String,
    #[serde(default, deserialize_with = "utc_option")]
    received_at: Option<DateTime<Utc>>,
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

impl Envelope<'_> {
    /// The event of this envelope and `body`.
    fn with(self, body: EventBody) -> Event {
        Event {
            event_id: self.event_id,
            source: self.source,
            occurred_at: self.occurred_at,
            unit_code: self.unit_code,
            received_at: self.received_at,
            body,
        }
    }
}

/// The body of type `kind` decoded from `from` by `decode` (`serde_json::from_str`, or
/// [`from_value`]): each arm names the type as `EventBody`'s serde renames do (event.rs);
/// `tests::every_type_decodes_as_the_derived_decoder_does` holds the two together.
macro_rules! body_of_type {
    ($kind:expr, $from:expr, $decode:path) => {
        body_of_type!(@arms $kind, $from, $decode,
            "dossier.received" => DossierReceived,
            "dossier.digitised" => DossierDigitised,
            "dossier.resolved" => DossierResolved,
            "dossier.result_returned" => DossierResultReturned,
            "dossier.supplement_requested" => DossierSupplementRequested,
            "dossier.resumed" => DossierResumed,
            "dossier.paid" => DossierPaid,
            "dossier.withdrawn" => DossierWithdrawn,
            "dossier.rated" => DossierRated,
            "dossier.complaint_filed" => DossierComplaintFiled,
            "dossier.snapshot" => DossierSnapshot,
            "document.sent" => DocumentSent,
            "document.received" => DocumentReceived,
            "work_record.opened" => WorkRecordOpened,
            "work_record.closed" => WorkRecordClosed,
            "learner.registered" => LearnerRegistered,
            "skills.certified" => SkillsCertified,
            "course.completed" => CourseCompleted,
            "class.held" => ClassHeld,
            "skills.vneid_confirmed" => SkillsVneidConfirmed,
            "canary.probe" => CanaryProbe,
        )
    };
    (@arms $kind:expr, $from:expr, $decode:path, $($name:literal => $variant:ident),+ $(,)?) => {
        match $kind {
            $($name => EventBody::$variant($decode($from)?),)+
            other => return Err(serde_json::Error::unknown_variant(other, &[$($name),+])),
        }
    };
}

/// A `T` read from a parsed value without copying it: serde_json's deserializer of a borrowed
/// `Value` hands its strings over borrowed.
fn from_value<'a, T: Deserialize<'a>>(value: &'a serde_json::Value) -> serde_json::Result<T> {
    T::deserialize(value)
}

impl Event {
    /// The event in `bytes` (one JSON object), as `serde_json::from_slice::<Event>` decodes it,
    /// with far fewer copies. The bytes are checked to be UTF-8 once, here, and then read as
    /// text: `from_slice` checks every string it meets, in both passes, and that check was a
    /// tenth of the processor's CPU (issue 12). Bytes that are not UTF-8 are refused anywhere,
    /// as the derived decoder refuses them; reading with `from_slice` twice had let them through
    /// in a field neither pass reads (one the contract does not know, which ingest refuses).
    pub fn from_json_slice(bytes: &[u8]) -> serde_json::Result<Event> {
        let text = std::str::from_utf8(bytes)
            .map_err(|error| serde_json::Error::custom(format_args!("the event is not UTF-8: {error}")))?;
        Event::from_json_str(text)
    }

    /// The event in `text` (one JSON object), as [`Event::from_json_slice`] reads it, for text
    /// already known to be UTF-8.
    pub fn from_json_str(text: &str) -> serde_json::Result<Event> {
        let envelope: Envelope = serde_json::from_str(text)?;
        let body = body_of_type!(envelope.kind.as_ref(), text, serde_json::from_str);
        Ok(envelope.with(body))
    }

    /// The event in `value`, as [`Event::from_json_str`] reads the same object's text (a field
    /// given twice aside, which a value cannot show: ingest notes it while parsing,
    /// crate::ParsedEvent). What ingest decodes each event from, once its value is checked.
    pub fn from_json_value(value: &serde_json::Value) -> serde_json::Result<Event> {
        let envelope: Envelope = from_value(value)?;
        let body = body_of_type!(envelope.kind.as_ref(), value, from_value);
        Ok(envelope.with(body))
    }
}

/// `DateTime<FixedOffset>` read with chrono's RFC 3339 parser (the contract's `date-time`),
/// several times faster than the generic one behind chrono's `Deserialize` (12 % of the
/// processor's CPU went to it); anything it refuses goes to the generic parser, so the same
/// texts are accepted as before. For every time field of the events.
pub(crate) fn fixed<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<DateTime<FixedOffset>, D::Error> {
    let text = <Cow<'de, str>>::deserialize(deserializer)?;
    DateTime::parse_from_rfc3339(&text).or_else(|_| text.parse()).map_err(D::Error::custom)
}

/// [`fixed`] for an optional UTC time.
pub(crate) fn utc_option<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let Some(text) = <Option<Cow<'de, str>>>::deserialize(deserializer)? else { return Ok(None) };
    let time = DateTime::parse_from_rfc3339(&text).map(|t| t.with_timezone(&Utc)).or_else(|_| text.parse());
    time.map(Some).map_err(D::Error::custom)
}

/// A time as chrono's `Serialize` writes it (RFC 3339, the fraction's digits only when it has
/// some, `Z` for UTC), formatted in one piece.
fn rfc3339_text<Tz: chrono::TimeZone>(time: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Writes a time field of the events with [`rfc3339_text`].
pub(crate) fn fixed_text<S: serde::Serializer>(time: &DateTime<FixedOffset>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339_text(time))
}

/// [`fixed_text`] for ingest's `received_at`.
pub(crate) fn utc_option_text<S: serde::Serializer>(
    time: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => serializer.serialize_some(&rfc3339_text(time)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples(kind: &str) -> Vec<(String, Vec<u8>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../schemas/events/examples").join(kind);
        let mut found: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| {
                let path = entry.expect("entry").path();
                (path.display().to_string(), std::fs::read(&path).expect("example"))
            })
            .collect();
        found.sort();
        found
    }

    /// What the derived decoder makes of `bytes`: the event or the fact of an error.
    fn derived(bytes: &[u8]) -> Option<Event> {
        serde_json::from_slice::<Event>(bytes).ok()
    }

    #[test]
    fn every_type_decodes_as_the_derived_decoder_does() {
        let mut types = std::collections::BTreeSet::new();
        for (name, bytes) in examples("valid") {
            let event = Event::from_json_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(Some(&event), derived(&bytes).as_ref(), "{name}");
            let value: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
            assert_eq!(Event::from_json_value(&value).ok().as_ref(), Some(&event), "{name} from its value");
            types.insert(event.body.type_name());
        }
        // Every arm of body_of_type! is reached by an example.
        assert_eq!(types.len(), 21, "{types:?}");
    }

    #[test]
    fn what_the_derived_decoder_refuses_is_refused() {
        for (name, bytes) in examples("invalid") {
            // The contract refuses these; where serde alone accepts one, both must agree.
            assert_eq!(Event::from_json_slice(&bytes).ok(), derived(&bytes), "{name}");
            let value: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
            assert_eq!(Event::from_json_value(&value).ok(), derived(&bytes), "{name} from its value");
        }
        let (_, received) =
            examples("valid").into_iter().find(|(name, _)| name.ends_with("/dossier.received.json")).expect("example");
        let text = String::from_utf8(received).expect("utf-8");
        for broken in [
            text.replace("dossier.received", "dossier.teleported"),
            text.replacen("\"type\"", "\"kind\"", 1),
            text.replacen("\"event_id\"", "\"id\"", 1),
            text.replacen("T", "x", 1),
            "{".to_owned(),
            "[]".to_owned(),
        ] {
            assert!(derived(broken.as_bytes()).is_none(), "{broken}");
            assert!(Event::from_json_slice(broken.as_bytes()).is_err(), "{broken}");
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&broken) {
                assert!(Event::from_json_value(&value).is_err(), "{broken} from its value");
            }
        }
        // A byte that is not UTF-8 in a string the envelope reads, in one the body reads, and in
        // a field neither reads.
        let text = text.replacen("{", "{\"note\": \"\",", 1);
        assert!(derived(text.as_bytes()).is_some(), "an unknown field alone is not refused");
        for field in ["\"unit_code\": \"", "\"dossier_id\": \"", "\"note\": \""] {
            let at = text.find(field).expect("field") + field.len();
            let mut bytes = text.as_bytes().to_vec();
            bytes.insert(at, 0xff);
            assert!(derived(&bytes).is_none(), "{field}");
            let error = Event::from_json_slice(&bytes).expect_err("not UTF-8").to_string();
            assert!(error.contains("not UTF-8"), "{error}");
        }
        let unknown = text.replace("dossier.received", "dossier.teleported");
        let error = Event::from_json_slice(unknown.as_bytes()).expect_err("unknown type").to_string();
        assert!(error.contains("dossier.teleported"), "{error}");
    }

    #[test]
    fn times_are_written_as_chrono_writes_them() {
        let offsets =
            [FixedOffset::east_opt(7 * 3600), FixedOffset::east_opt(0), FixedOffset::west_opt(3 * 3600 + 1800)];
        for offset in offsets.into_iter().map(|offset| offset.expect("offset")) {
            for nanos in [0, 500_000_000, 120_000_000, 123_456_000, 1, 999_999_999] {
                let time = DateTime::from_timestamp(1_790_000_000, nanos).expect("time").with_timezone(&offset);
                let ours = fixed_text(&time, serde_json::value::Serializer).expect("written");
                assert_eq!(ours, serde_json::to_value(time).expect("chrono"), "{time:?}");
                let utc = Some(time.with_timezone(&Utc));
                let ours = utc_option_text(&utc, serde_json::value::Serializer).expect("written");
                assert_eq!(ours, serde_json::to_value(utc).expect("chrono"), "{utc:?}");
            }
        }
        assert_eq!(utc_option_text(&None, serde_json::value::Serializer).expect("written"), serde_json::Value::Null);
    }

    #[test]
    fn times_outside_strict_rfc_3339_are_read_as_before() {
        let (_, received) =
            examples("valid").into_iter().find(|(name, _)| name.ends_with("/dossier.received.json")).expect("example");
        let text = String::from_utf8(received).expect("utf-8");
        let event = Event::from_json_slice(text.as_bytes()).expect("example");
        let strict = event.occurred_at.to_rfc3339();
        // chrono's generic parser takes a space before the offset; the strict one does not.
        let offset_at = strict.rfind(['+', '-', 'Z']).expect("an offset");
        let spaced = format!("{} {}", &strict[..offset_at], &strict[offset_at..]);
        assert!(DateTime::parse_from_rfc3339(&spaced).is_err(), "{spaced}: the strict parser takes it");
        let relaxed = text.replace(&strict, &spaced);
        assert_ne!(relaxed, text, "the example's time is written as to_rfc3339 writes it");
        let again = Event::from_json_slice(relaxed.as_bytes()).expect("relaxed time");
        assert_eq!(again.occurred_at, event.occurred_at);
        assert_eq!(Some(again), derived(relaxed.as_bytes()));
    }
}
