//! The JSON Schema contract: checks an incoming JSON value and turns it into a typed [`Event`].

use std::collections::HashMap;

use serde_json::Value;

use crate::{Event, ParsedEvent};

/// The schemas, embedded so that a binary carries the exact contract it was tested with.
/// `every_schema_file_is_embedded` fails when a file under `schemas/events/` is missing here.
const SCHEMAS: &[(&str, &str)] = &[
    ("dossier.received", include_str!("../../../../schemas/events/portal/dossier.received.v1.json")),
    ("dossier.digitised", include_str!("../../../../schemas/events/portal/dossier.digitised.v1.json")),
    ("dossier.resolved", include_str!("../../../../schemas/events/portal/dossier.resolved.v1.json")),
    ("dossier.result_returned", include_str!("../../../../schemas/events/portal/dossier.result_returned.v1.json")),
    (
        "dossier.supplement_requested",
        include_str!("../../../../schemas/events/portal/dossier.supplement_requested.v1.json"),
    ),
    ("dossier.resumed", include_str!("../../../../schemas/events/portal/dossier.resumed.v1.json")),
    ("dossier.paid", include_str!("../../../../schemas/events/portal/dossier.paid.v1.json")),
    ("dossier.withdrawn", include_str!("../../../../schemas/events/portal/dossier.withdrawn.v1.json")),
    ("dossier.rated", include_str!("../../../../schemas/events/portal/dossier.rated.v1.json")),
    ("dossier.complaint_filed", include_str!("../../../../schemas/events/portal/dossier.complaint_filed.v1.json")),
    ("dossier.snapshot", include_str!("../../../../schemas/events/portal/dossier.snapshot.v1.json")),
    ("work_record.opened", include_str!("../../../../schemas/events/edoc/work_record.opened.v1.json")),
    ("work_record.closed", include_str!("../../../../schemas/events/edoc/work_record.closed.v1.json")),
    ("document.sent", include_str!("../../../../schemas/events/edoc/document.sent.v1.json")),
    ("document.received", include_str!("../../../../schemas/events/edoc/document.received.v1.json")),
    ("learner.registered", include_str!("../../../../schemas/events/training/learner.registered.v1.json")),
    ("skills.certified", include_str!("../../../../schemas/events/training/skills.certified.v1.json")),
    ("course.completed", include_str!("../../../../schemas/events/training/course.completed.v1.json")),
    ("class.held", include_str!("../../../../schemas/events/training/class.held.v1.json")),
    ("skills.vneid_confirmed", include_str!("../../../../schemas/events/training/skills.vneid_confirmed.v1.json")),
    ("canary.probe", include_str!("../../../../schemas/events/canary/canary.probe.v1.json")),
];

const ENVELOPE: &str = include_str!("../../../../schemas/events/envelope.v1.json");
const ENVELOPE_REF: &str = "../envelope.v1.json";

/// At most this many schema violations are reported for one event.
const MAX_REPORTED_VIOLATIONS: usize = 5;

/// Why an event is not acceptable. The message is meant for the source system's developers.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ContractError {
    /// The event is not a JSON object.
    #[error("an event must be a JSON object")]
    NotAnObject,
    /// No `type` field.
    #[error("missing or non-string \"type\" field")]
    MissingType,
    /// A `type` the contract does not know.
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    /// The event breaks its schema.
    #[error("{event_type} does not match its schema: {}", violations.join("; "))]
    Schema {
        /// The event type.
        event_type: String,
        /// Each violation as `<json pointer>: <what is wrong>`.
        violations: Vec<String>,
    },
    /// The event matches its schema but a value cannot be represented (e.g. 30 February), its
    /// values contradict each other or cannot be stored (`Event::inconsistency`), or (checked
    /// as ingest parsed it, [`Contract::check_parsed`]) a field is given twice.
    #[error("invalid value: {0}")]
    Value(String),
    /// A schema file itself is broken: a bug, caught by the tests.
    #[error("schema for {event_type} does not compile: {message}")]
    BadSchema {
        /// The event type whose schema failed.
        event_type: String,
        /// The compiler's message.
        message: String,
    },
}

/// Compiled validators for every event type of version 1.
pub struct Contract {
    validators: HashMap<&'static str, jsonschema::Validator>,
}

impl std::fmt::Debug for Contract {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Contract").field("types", &self.validators.len()).finish()
    }
}

impl Contract {
    /// Compiles every embedded schema.
    pub fn new() -> Result<Self, ContractError> {
        let envelope: Value = serde_json::from_str(ENVELOPE)
            .map_err(|error| ContractError::BadSchema { event_type: "envelope".into(), message: error.to_string() })?;
        let mut validators = HashMap::new();
        for (event_type, text) in SCHEMAS {
            let bad = |message: String| ContractError::BadSchema { event_type: (*event_type).into(), message };
            let mut schema: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
            inline_envelope(&mut schema, &envelope);
            // The `regex` engine, not jsonschema's default `fancy-regex`: the contract's
            // patterns need no look-around or back-reference, and `regex` matches in linear time
            // without fancy-regex's layer over it, which was part of ingest's per-event cost.
            let validator = jsonschema::options()
                .should_validate_formats(true)
                .with_pattern_options(jsonschema::PatternOptions::regex())
                .build(&schema)
                .map_err(|e| bad(e.to_string()))?;
            validators.insert(*event_type, validator);
        }
        Ok(Contract { validators })
    }

    /// The event types this contract accepts.
    pub fn event_types(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.validators.keys().copied()
    }

    /// Checks `value` against the schema of its type and decodes it.
    pub fn check(&self, value: Value) -> Result<Event, ContractError> {
        self.validate(&value)?;
        let event: Event = serde_json::from_value(value).map_err(|error| ContractError::Value(error.to_string()))?;
        consistent(event)
    }

    /// Checks an event parsed by ingest against the schema of its type and decodes it from the
    /// same value ([`Event::from_json_value`]), which is what ingest does for every event it
    /// receives. One difference from [`Contract::check`]: a field given twice is refused
    /// ("duplicate field"), where the value alone would silently keep the last, so what is
    /// stored is always what was validated.
    pub fn check_parsed(&self, parsed: &ParsedEvent) -> Result<Event, ContractError> {
        self.validate(parsed.value())?;
        if let Some(field) = parsed.duplicate() {
            return Err(ContractError::Value(format!("duplicate field `{field}`: give each field once")));
        }
        let event = Event::from_json_value(parsed.value()).map_err(|error| ContractError::Value(error.to_string()))?;
        consistent(event)
    }

    fn validate(&self, value: &Value) -> Result<(), ContractError> {
        let event_type = match value {
            Value::Object(fields) => match fields.get("type") {
                Some(Value::String(event_type)) => event_type.as_str(),
                _ => return Err(ContractError::MissingType),
            },
            _ => return Err(ContractError::NotAnObject),
        };
        let validator =
            self.validators.get(event_type).ok_or_else(|| ContractError::UnknownType(event_type.to_owned()))?;
        // The common case, a valid event, costs one pass without building any error;
        // only an invalid one is walked again for its violations.
        if validator.is_valid(value) {
            return Ok(());
        }
        let violations = validator
            .iter_errors(value)
            .take(MAX_REPORTED_VIOLATIONS)
            .map(|error| {
                let path = error.instance_path().to_string();
                let path = if path.is_empty() { "/".to_owned() } else { path };
                shortened(format!("{path}: {error}"))
            })
            .collect();
        Err(ContractError::Schema { event_type: event_type.to_owned(), violations })
    }
}

/// The most characters of one violation's text reported: the validator quotes the offending
/// value whole, and a batch of 10,000 events each quoting a 2,000-character string five times
/// made an answer of 100 MB.
const MAX_VIOLATION_CHARS: usize = 300;

/// `text`, cut after [`MAX_VIOLATION_CHARS`] characters with a note of how much was left out.
fn shortened(text: String) -> String {
    match text.char_indices().nth(MAX_VIOLATION_CHARS) {
        None => text,
        Some((cut, _)) => {
            let left_out = text[cut..].chars().count();
            format!("{}… ({left_out} more characters)", &text[..cut])
        }
    }
}

/// A decoded event, unless its values contradict each other.
fn consistent(event: Event) -> Result<Event, ContractError> {
    match event.inconsistency() {
        Some(reason) => Err(ContractError::Value(reason)),
        None => Ok(event),
    }
}

/// Replaces `{"$ref": "../envelope.v1.json"}` by the envelope itself, so that each type's schema
/// compiles on its own without a resolver that reads files or the network.
fn inline_envelope(schema: &mut Value, envelope: &Value) {
    match schema {
        Value::Object(fields) => {
            if fields.get("$ref").and_then(Value::as_str) == Some(ENVELOPE_REF) {
                let mut inlined = envelope.clone();
                if let Value::Object(inlined_fields) = &mut inlined {
                    inlined_fields.remove("$id");
                    inlined_fields.remove("$schema");
                }
                *schema = inlined;
                return;
            }
            fields.values_mut().for_each(|value| inline_envelope(value, envelope));
        }
        Value::Array(items) => items.iter_mut().for_each(|value| inline_envelope(value, envelope)),
        _ => {}
    }
}
