//! Property-based fuzzing of everything ingest does with untrusted bytes before Kafka: body
//! reading (gzip), framing, per-event limits and the contract. No input may panic or hang.
//!
//! The default run is short (256 cases a property) so the suite stays fast; a long run:
//! `PROPTEST_CASES=200000 cargo test -p ioc-ingest --test fuzz_decoding` (see
//! ops/FUZZING.md for the figures of the last one).

use std::io::Write;
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue};
use ioc_domain::Contract;
use ioc_ingest::body::{self, Framing, Limits};
use ioc_ingest::limits::{check_shape, EventLimits};
use proptest::prelude::*;
use serde_json::Value;

const LIMITS: Limits = Limits {
    max_body_bytes: 64 * 1024,
    max_decompressed_bytes: 256 * 1024,
    max_events: 100,
    max_event_bytes: 8 * 1024,
};
const EXAMPLE: &str = include_str!("../../../schemas/events/examples/valid/dossier.received.json");

fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| Contract::new().expect("schemas compile"))
}

fn event_limits() -> EventLimits {
    EventLimits {
        max_depth: 8,
        max_string_chars: 2_000,
        max_age: chrono::Duration::days(36_500),
        max_future: chrono::Duration::seconds(300),
    }
}

/// Everything after the body is read: framing, limits, contract. Returns how many events passed.
fn decode(bytes: &[u8], framing: Framing) -> usize {
    match body::parse(bytes, framing, &LIMITS) {
        Err(_) => 0,
        Ok(slots) => slots
            .into_iter()
            .filter_map(Result::ok)
            .filter_map(|raw| Some((raw.text, raw.parsed().ok()?)))
            .filter(|(_, parsed)| check_shape(parsed.value(), &event_limits()).is_ok())
            .filter(|(text, parsed)| {
                // Ingest parses each event once (noting a field given twice) and decodes the
                // typed event from that value; the value must be serde_json's, and the check
                // must accept what serde_json's value accepts and refuse for the same kind of
                // reason (the generated events have no field twice, which only ingest's parse
                // notes).
                let value: serde_json::Value = serde_json::from_str(text).expect("parsed by ingest");
                assert_eq!(parsed.value(), &value, "{text}");
                let from_text = contract().check_parsed(parsed);
                let from_value = contract().check(value);
                match (&from_text, &from_value) {
                    (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
                    (Err(a), Err(b)) => {
                        assert_eq!(std::mem::discriminant(a), std::mem::discriminant(b), "{text}: {a} / {b}")
                    }
                    _ => panic!("{text}: from the text {from_text:?}, from the value {from_value:?}"),
                }
                from_text.is_ok()
            })
            .count(),
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

fn read(bytes: Vec<u8>, gzipped: bool) -> Option<Vec<u8>> {
    let mut headers = HeaderMap::new();
    if gzipped {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    runtime.block_on(body::read(&headers, Body::from(bytes), LIMITS)).ok().map(|b| b.to_vec())
}

/// JSON values of any shape, nested a few levels.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        decode(&bytes, Framing::Ndjson);
        decode(&bytes, Framing::JsonArray);
        // Bytes that claim to be gzip but are anything at all.
        if let Some(inflated) = read(bytes, true) {
            prop_assert!(inflated.len() <= LIMITS.max_decompressed_bytes);
        }
    }

    #[test]
    fn compressed_input_is_bounded_after_inflation(bytes in prop::collection::vec(any::<u8>(), 0..2048), repeat in 1usize..400) {
        let big: Vec<u8> = bytes.iter().copied().cycle().take(bytes.len() * repeat).collect();
        match read(gzip(&big), true) {
            Some(inflated) => prop_assert_eq!(inflated, big),
            None => prop_assert!(big.len() > LIMITS.max_decompressed_bytes),
        }
    }

    #[test]
    fn a_valid_event_with_any_field_replaced_never_panics(field in prop::sample::select(vec![
        "event_id", "source", "type", "occurred_at", "unit_code", "dossier_id", "procedure_code", "channel",
        "service_level", "due_at", "fee_bearing", "applicant_id", "applicant_phone", "extra",
    ]), value in any_json()) {
        let mut event: Value = serde_json::from_str(EXAMPLE).expect("example");
        event[field] = value;
        let line = serde_json::to_string(&event).expect("json");
        decode(line.as_bytes(), Framing::Ndjson);
        decode(format!("[{line}]").as_bytes(), Framing::JsonArray);
    }

    #[test]
    fn truncated_valid_batches_never_panic(cut in 0usize..2000) {
        let line = serde_json::to_string(&serde_json::from_str::<Value>(EXAMPLE).expect("example")).expect("json");
        let batch = format!("{line}\n{line}\n");
        let cut = cut.min(batch.len());
        decode(&batch.as_bytes()[..cut], Framing::Ndjson);
        let array = format!("[{line},{line}]");
        decode(&array.as_bytes()[..cut.min(array.len())], Framing::JsonArray);
    }
}

#[test]
fn the_untouched_example_passes_so_the_properties_reach_the_contract() {
    let line = serde_json::to_string(&serde_json::from_str::<Value>(EXAMPLE).expect("example")).expect("json");
    assert_eq!(decode(line.as_bytes(), Framing::Ndjson), 1);
    assert_eq!(decode(format!("[{line},{line}]").as_bytes(), Framing::JsonArray), 2);
}
