//! The OpenAPI 3.1 document served at `/openapi.json`. Its component schemas are JSON Schema
//! 2020-12, so tests validate real responses against them (`schema_for`).

use serde_json::{json, Value};

/// The whole document.
pub fn document() -> Value {
    let error = json!({"$ref": "#/components/schemas/Error"});
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "IOC indicators API (Phú Thọ)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Read-only indicators of the province's Intelligent Operations Centre. Every value carries its numerator, denominator and ratio; definitions at /v1/indicators and in docs/indicators.md."
        },
        "paths": {
            "/v1/kpis": {
                "get": {
                    "summary": "Every indicator for a period of local days, for the province or one unit",
                    "parameters": [
                        {"name": "from", "in": "query", "required": false, "description": "first day, YYYY-MM-DD, Asia/Ho_Chi_Minh; default 1 January of `to`'s year", "schema": {"type": "string", "format": "date"}},
                        {"name": "to", "in": "query", "required": false, "description": "last day, included; default today", "schema": {"type": "string", "format": "date"}},
                        {"name": "unit", "in": "query", "required": false, "description": "unit code (schemas/reference/units.v1.csv); absent or `province` for the whole province", "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": {"description": "the indicators", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/KpiResponse"}}}},
                        "400": {"description": "a parameter is wrong; the message says which", "content": {"application/json": {"schema": error.clone()}}},
                        "503": {"description": "the indicator store is unavailable", "content": {"application/json": {"schema": error.clone()}}}
                    }
                }
            },
            "/v1/indicators": {
                "get": {
                    "summary": "Definitions of every indicator: ids, Vietnamese and English names, numerator, denominator, target",
                    "responses": {"200": {"description": "the definitions", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IndicatorList"}}}}}
                }
            },
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}},
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "the process runs"}}}},
            "/readyz": {"get": {"summary": "Readiness: ClickHouse answers", "responses": {"200": {"description": "ready"}, "503": {"description": "not ready, with the reason"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text exposition format"}}}}
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                    "additionalProperties": false
                },
                "UnitRef": {
                    "type": "object",
                    "required": ["code", "name", "kind"],
                    "properties": {"code": {"type": "string"}, "name": {"type": "string"}, "kind": {"enum": ["xa", "phuong", "department"]}},
                    "additionalProperties": false
                },
                "IndicatorValue": {
                    "type": "object",
                    "required": ["id", "decision_766_code", "name_vi", "name_en", "numerator", "denominator", "ratio", "target"],
                    "properties": {
                        "id": {"type": "string"},
                        "decision_766_code": {"type": ["string", "null"]},
                        "name_vi": {"type": "string"},
                        "name_en": {"type": "string"},
                        "numerator": {"type": "integer", "minimum": 0},
                        "denominator": {"type": "integer", "minimum": 0},
                        "ratio": {"type": ["number", "null"], "minimum": 0, "description": "numerator / denominator; null when the denominator is 0"},
                        "target": {"type": ["number", "null"]}
                    },
                    "additionalProperties": false
                },
                "KpiResponse": {
                    "type": "object",
                    "required": ["from", "to", "timezone", "unit", "indicators"],
                    "properties": {
                        "from": {"type": "string", "format": "date"},
                        "to": {"type": "string", "format": "date"},
                        "timezone": {"const": "Asia/Ho_Chi_Minh"},
                        "unit": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/UnitRef"}]},
                        "indicators": {"type": "array", "items": {"$ref": "#/components/schemas/IndicatorValue"}}
                    },
                    "additionalProperties": false
                },
                "IndicatorDefinition": {
                    "type": "object",
                    "required": ["id", "decision_766_code", "name_vi", "name_en", "numerator", "denominator", "target"],
                    "properties": {
                        "id": {"type": "string"},
                        "decision_766_code": {"type": ["string", "null"]},
                        "name_vi": {"type": "string"},
                        "name_en": {"type": "string"},
                        "numerator": {"type": "string"},
                        "denominator": {"type": "string"},
                        "target": {"type": ["number", "null"]}
                    },
                    "additionalProperties": false
                },
                "IndicatorList": {
                    "type": "object",
                    "required": ["indicators"],
                    "properties": {"indicators": {"type": "array", "items": {"$ref": "#/components/schemas/IndicatorDefinition"}}},
                    "additionalProperties": false
                }
            }
        }
    })
}

/// A JSON Schema that validates a response against the component `name` of the document.
pub fn schema_for(name: &str) -> Value {
    let mut schema = document();
    if let Value::Object(fields) = &mut schema {
        fields.insert("$ref".into(), Value::String(format!("#/components/schemas/{name}")));
    }
    schema
}
