//! Every example under `schemas/events/examples/` goes through the contract: valid ones decode,
//! invalid ones are refused with a reason.

use std::fs;
use std::path::{Path, PathBuf};

use ioc_domain::{Contract, ContractError, ParsedEvent};

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../schemas/events")
}

fn examples(kind: &str) -> Vec<(String, serde_json::Value)> {
    texts(kind)
        .into_iter()
        .map(|(name, text)| {
            let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, value)
        })
        .collect()
}

/// Each example's file name and text.
fn texts(kind: &str) -> Vec<(String, String)> {
    let dir = schemas_dir().join("examples").join(kind);
    let mut found: Vec<_> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let text = fs::read_to_string(&path).expect("readable example");
            (path.file_name().expect("file name").to_string_lossy().into_owned(), text)
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(!found.is_empty(), "no examples in {}", dir.display());
    found
}

#[test]
fn every_valid_example_is_accepted_and_round_trips() {
    let contract = Contract::new().expect("schemas compile");
    for (name, value) in examples("valid") {
        let event = contract.check(value.clone()).unwrap_or_else(|e| panic!("{name} refused: {e}"));
        assert_eq!(event.body.type_name(), value["type"], "{name}");
        assert!(event.body.belongs_to(event.source), "{name}: source and type disagree");
        let again = serde_json::to_value(&event).expect("serialises");
        assert_eq!(again, value, "{name} does not round-trip through the Rust type");
    }
}

#[test]
fn every_invalid_example_is_refused_with_a_reason() {
    let contract = Contract::new().expect("schemas compile");
    for (name, value) in examples("invalid") {
        match contract.check(value) {
            Ok(event) => panic!("{name} was accepted: {event:?}"),
            Err(error) => assert!(error.to_string().len() > 10, "{name}: reason too thin: {error}"),
        }
    }
}

#[test]
fn ingest_s_check_accepts_and_refuses_what_checking_serde_json_s_value_does() {
    // Ingest parses each event once, noting a field given twice (check_parsed); the rest
    // decode from a value serde_json parsed.
    let contract = Contract::new().expect("schemas compile");
    for kind in ["valid", "invalid"] {
        for (name, text) in texts(kind) {
            let value: serde_json::Value = serde_json::from_str(&text).expect("json");
            let parsed = ParsedEvent::parse(&text).expect("json");
            assert_eq!(parsed.value(), &value, "{kind}/{name}: the same value");
            let (from_parsed, from_value) = (contract.check_parsed(&parsed), contract.check(value.clone()));
            // The same event, or the same kind of refusal.
            match (&from_parsed, &from_value) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{kind}/{name}"),
                (Err(a), Err(b)) => {
                    assert_eq!(std::mem::discriminant(a), std::mem::discriminant(b), "{kind}/{name}: {a} / {b}")
                }
                _ => panic!("{kind}/{name}: as ingest checks it {from_parsed:?}, from the value {from_value:?}"),
            }
        }
    }
}

#[test]
fn a_field_given_twice_is_refused_when_ingest_checks_it() {
    // The parsed value keeps the last of the two; the event stored must be the one validated,
    // so the check refuses instead of choosing.
    let contract = Contract::new().expect("schemas compile");
    let (_, text) = texts("valid").into_iter().find(|(name, _)| name == "dossier.received.json").expect("example");
    let twice = text.trim_end().strip_suffix('}').expect("an object").to_owned() + r#","unit_code": "07901"}"#;
    let parsed = ParsedEvent::parse(&twice).expect("json");
    match contract.check_parsed(&parsed) {
        Err(ContractError::Value(reason)) => assert!(reason.contains("duplicate field"), "{reason}"),
        other => panic!("a field given twice: {other:?}"),
    }
}

/// `value` with every integer written as a number with a fraction of zero (`12` as `12.0`).
fn integers_as_floats(value: &mut serde_json::Value) -> usize {
    match value {
        serde_json::Value::Number(number) if number.is_u64() || number.is_i64() => {
            let whole = number.as_f64().expect("a number");
            *number = serde_json::Number::from_f64(whole).expect("finite");
            1
        }
        serde_json::Value::Array(items) => items.iter_mut().map(integers_as_floats).sum(),
        serde_json::Value::Object(fields) => fields.values_mut().map(integers_as_floats).sum(),
        _ => 0,
    }
}

#[test]
fn a_count_written_with_a_zero_fraction_is_the_same_event() {
    // JSON Schema's "integer" matches 12.0; the typed event must read it too, from the text and
    // from the value, instead of refusing what the schema accepted.
    let contract = Contract::new().expect("schemas compile");
    let mut rewritten = 0;
    for (name, value) in examples("valid") {
        let mut floats = value.clone();
        rewritten += integers_as_floats(&mut floats);
        let text = floats.to_string();
        let expected = contract.check(value).unwrap_or_else(|e| panic!("{name}: {e}"));
        let parsed = ParsedEvent::parse(&text).expect("json");
        assert_eq!(contract.check_parsed(&parsed).as_ref(), Ok(&expected), "{name} from {text}");
        assert_eq!(contract.check(floats).as_ref(), Ok(&expected), "{name} from the value");
    }
    // digitised (2), paid, snapshot (3 at least), class.held: the test reached every kind.
    assert!(rewritten >= 7, "only {rewritten} integers in the examples");
}

#[test]
fn a_long_offending_value_is_not_quoted_whole() {
    let contract = Contract::new().expect("schemas compile");
    let (_, mut value) =
        examples("valid").into_iter().find(|(name, _)| name == "dossier.received.json").expect("example");
    value["channel"] = serde_json::Value::String("x".repeat(5_000));
    let reason = contract.check(value).expect_err("not a channel").to_string();
    assert!(reason.contains("/channel: \"xxx") && reason.contains("more characters)"), "{reason}");
    assert!(reason.chars().count() < 500, "{} characters: {reason}", reason.chars().count());
}

#[test]
fn reasons_point_at_the_offending_field() {
    let contract = Contract::new().expect("schemas compile");
    let all = examples("invalid");
    let reason = |file: &str| {
        let (_, value) = all.iter().find(|(name, _)| name == file).expect("example exists");
        contract.check(value.clone()).expect_err("refused").to_string()
    };
    assert!(reason("dossier.received.missing-due-at.json").contains("due_at"));
    assert!(reason("dossier.received.bad-channel.json").contains("/channel"));
    assert!(reason("dossier.received.unknown-field.json").contains("note"));
    assert!(reason("dossier.received.impossible-date.json").contains("occurred_at"));
    assert!(reason("dossier.received.canary-unit.json").contains("unit_code CANARY is reserved"));
    assert!(matches!(
        contract.check(serde_json::json!({"type": "dossier.teleported"})),
        Err(ContractError::UnknownType(_))
    ));
}

#[test]
fn every_schema_file_is_embedded() {
    let contract = Contract::new().expect("schemas compile");
    let mut embedded: Vec<_> = contract.event_types().collect();
    embedded.sort_unstable();
    let mut on_disk = Vec::new();
    for folder in ["portal", "edoc", "training", "canary"] {
        for entry in fs::read_dir(schemas_dir().join(folder)).expect("schema folder") {
            let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
            on_disk.push(name.trim_end_matches(".v1.json").to_owned());
        }
    }
    on_disk.sort_unstable();
    assert_eq!(embedded, on_disk);
}

#[test]
fn pseudonymise_drops_clear_identifiers() {
    let contract = Contract::new().expect("schemas compile");
    let (_, value) = examples("valid").into_iter().find(|(n, _)| n == "dossier.received.json").expect("example");
    let mut event = contract.check(value).expect("valid");
    event.pseudonymise(|clear| format!("h({})", clear.len()));
    let text = serde_json::to_string(&event).expect("serialises");
    assert!(!text.contains("025190001234") && !text.contains("0912345678"), "{text}");
    assert!(text.contains("\"applicant_ref\":\"h(12)\""), "{text}");
}

#[test]
fn a_canary_probe_travels_through_every_source_and_only_there() {
    let contract = Contract::new().expect("schemas compile");
    for source in ioc_domain::Source::ALL {
        let probe = serde_json::json!({
            "event_id": "7c0e8a52-3f1d-4b6a-9e27-0d5b8c4f1a93", "source": source.as_str(), "type": "canary.probe",
            "occurred_at": "2026-10-01T09:00:00+07:00", "unit_code": ioc_domain::CANARY_UNIT_CODE
        });
        let event = contract.check(probe).unwrap_or_else(|e| panic!("{source} probe refused: {e}"));
        assert!(ioc_domain::Source::ALL.iter().all(|other| event.body.belongs_to(*other)));
        assert_eq!(event.body.entity_id(), "", "a probe has no entity: librdkafka spreads it over partitions");
    }
    let dossier = serde_json::json!({
        "event_id": "7c0e8a52-3f1d-4b6a-9e27-0d5b8c4f1a95", "source": "portal", "type": "dossier.withdrawn",
        "occurred_at": "2026-10-01T09:00:00+07:00", "unit_code": "07900", "dossier_id": "D1"
    });
    let event = contract.check(dossier).expect("valid");
    assert!(event.body.belongs_to(ioc_domain::Source::Portal) && !event.body.belongs_to(ioc_domain::Source::Edoc));
}

#[test]
fn times_the_store_cannot_hold_are_refused_naming_the_field() {
    // ClickHouse's DateTime: 1970 to 2106. Valid by the schema, refused by the contract, so that
    // ingest answers the source instead of the processor dead-lettering the event.
    let contract = Contract::new().expect("schemas compile");
    let example = |name: &str| examples("valid").into_iter().find(|(n, _)| n == name).expect("example").1;
    let cases = [
        ("dossier.received.json", "due_at", "2200-01-01T17:00:00+07:00"),
        ("dossier.snapshot.json", "due_at", "2106-02-07T13:28:16+07:00"),
        ("dossier.snapshot.json", "dossier_received_at", "1969-12-31T23:59:59+00:00"),
        // Ingest's age window keeps it later, but only as configured.
        ("class.held.json", "occurred_at", "1969-12-31T23:59:59+00:00"),
    ];
    for (name, field, time) in cases {
        let mut value = example(name);
        value[field] = serde_json::Value::String(time.to_owned());
        match contract.check(value) {
            Err(ContractError::Value(reason)) => {
                assert!(reason.starts_with(&format!("{field} ")) && reason.contains("store can hold"), "{reason}")
            }
            other => panic!("{name} with {field} {time}: {other:?}"),
        }
    }
    // The last second the store holds is accepted.
    let mut last = example("dossier.snapshot.json");
    last["due_at"] = serde_json::Value::String("2106-02-07T13:28:15+07:00".to_owned());
    contract.check(last).expect("the last storable second");
}

#[test]
fn the_envelope_s_patterns_refuse_what_only_they_refuse() {
    // The contract's patterns run on the `regex` engine (contract.rs). Each text below is a
    // string, as the field's type asks, and the reason must quote the field's pattern: the
    // event id and the time are refused by their formats too, so naming the field alone would
    // not show the pattern at work. The full-width digit in a time is a digit to Unicode:
    // `\d` must read as ECMA's [0-9] (jsonschema translates it so for either engine).
    let contract = Contract::new().expect("schemas compile");
    let (_, valid) = examples("valid")
        .into_iter()
        .find(|(name, _)| name.starts_with("dossier.received"))
        .expect("a valid dossier.received example");
    contract.check(valid.clone()).expect("the example itself is valid");
    for (field, text) in [
        ("unit_code", "0790"),
        ("unit_code", "stp"),
        ("unit_code", "0790\u{0661}"),
        ("unit_code", "07900\n"),
        ("event_id", "7f1c2a8e5b3d4c1e9a0f2d6b8e4c1a01"),
        ("event_id", "{7f1c2a8e-5b3d-4c1e-9a0f-2d6b8e4c1a01}"),
        ("occurred_at", "2026-10-05T08:15:00+0700"),
        ("occurred_at", "\u{ff12}026-10-05T08:15:00+07:00"),
    ] {
        let mut event = valid.clone();
        event[field] = serde_json::Value::from(text);
        let refused = contract.check(event).expect_err(&format!("{field} {text:?} refused")).to_string();
        let pattern = valid_pattern(field);
        assert!(
            refused.contains(&format!("/{field}: {text:?} does not match \"{pattern}\"")),
            "{field} {text:?}: {refused}"
        );
    }
}

/// The envelope's pattern for `field`, as its schema file gives it.
fn valid_pattern(field: &str) -> String {
    let envelope: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(schemas_dir().join("envelope.v1.json")).expect("envelope"))
            .expect("envelope is JSON");
    envelope["properties"][field]["pattern"].as_str().expect("the field has a pattern").to_owned()
}
