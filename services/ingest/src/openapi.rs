//! The OpenAPI 3.1 document of ingest (`schemas/ingest/openapi.json`), served at `/openapi.json`:
//! what source systems send and every answer they can get. Its schemas are JSON Schema 2020-12,
//! so the tests check real answers against it (`answer_schema`).

use serde_json::Value;

/// The document's text, embedded so that a binary serves the contract it was tested with.
pub const DOCUMENT: &str = include_str!("../../../schemas/ingest/openapi.json");

/// The document.
pub fn document() -> Value {
    serde_json::from_str(DOCUMENT).unwrap_or_else(|error| unreachable!("schemas/ingest/openapi.json is JSON: {error}"))
}

/// The JSON Schema of the batch endpoint's answer with `status`, standalone (the document's
/// components beside it, for its references); `None` when the document lists no JSON answer
/// with that status.
pub fn answer_schema(status: u16) -> Option<Value> {
    let document = document();
    let responses = &document["paths"]["/v1/sources/{source}/events"]["post"]["responses"];
    let mut schema = responses.get(status.to_string())?.pointer("/content/application~1json/schema")?.clone();
    schema.as_object_mut()?.insert("components".into(), document["components"].clone());
    Some(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_of_ingest_is_in_the_document() {
        let codes = document()["components"]["schemas"]["Error"]["properties"]["error"]["enum"].clone();
        let codes: Vec<String> = serde_json::from_value(codes).expect("a list of codes");
        for code in crate::IngestError::CODES {
            assert!(codes.iter().any(|listed| listed == code), "{code} is not in schemas/ingest/openapi.json");
        }
        assert_eq!(codes.len(), crate::IngestError::CODES.len(), "the document lists codes ingest never sends");
    }

    #[test]
    fn every_status_with_a_json_answer_has_a_schema_that_compiles() {
        for status in [200, 400, 401, 403, 404, 405, 408, 413, 415, 422, 429, 503] {
            let schema = answer_schema(status).unwrap_or_else(|| panic!("{status} is not in the document"));
            jsonschema::validator_for(&schema).unwrap_or_else(|error| panic!("{status}: {error}"));
        }
        assert_eq!(answer_schema(500), None);
    }
}
