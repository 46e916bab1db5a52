//! The OpenAPI 3.1 document served at `/openapi.json`. Its component schemas are JSON Schema
//! 2020-12, so tests validate real responses against them (`schema_for`).

use serde_json::{json, Value};

/// The whole document.
pub fn document() -> Value {
    let error = json!({"$ref": "#/components/schemas/Error"});
    let from = json!({"name": "from", "in": "query", "required": false, "description": "first day, YYYY-MM-DD, Asia/Ho_Chi_Minh; default 1 January of `to`'s year; a day after today is refused (400): nothing in the period has happened yet", "schema": {"type": "string", "format": "date"}});
    let to = json!({"name": "to", "in": "query", "required": false, "description": "last day, included; default today. A period not over yet is answered as of today: its days after today are left out (the answer's `to` says so), since the rollups date some measures ahead (an open dossier is late from its due time)", "schema": {"type": "string", "format": "date"}});
    let unit = json!({"name": "unit", "in": "query", "required": false, "description": "unit code (GET /v1/units); absent or `province` for the whole province", "schema": {"type": "string"}});
    let id = json!({"name": "id", "in": "path", "required": true, "description": "indicator id (GET /v1/indicators)", "schema": {"type": "string"}});
    let date = json!({"type": "string", "format": "date"});
    let kind = json!({"enum": ["xa", "phuong", "department"]});
    let responses = |schema: &str| {
        json!({
            "200": {
                "description": "the answer",
                "headers": {"IOC-Covered-Until": {"description": "unix seconds: every event dated (inserted_at, at most a second after it was stored) before this instant is in the answer (sent while the API keeps answers, which it does until the rollups advance)", "schema": {"type": "integer"}}, "IOC-Covered-Until-By-Source": {"description": "the same per source, as `edoc=<unix seconds>, portal=<unix seconds>, training=<unix seconds>`: an event's effect is in the answer once its own source's instant passes the second it was stored in; 0 for a source whose rollup never ran", "schema": {"type": "string"}}},
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
            },
            "400": {"description": "a parameter is wrong (unknown indicator, unit or bucket, malformed date, range too long); the message says which", "content": {"application/json": {"schema": error.clone()}}},
            "503": {"description": "the indicator store is unavailable (`store_unavailable`), or the API is computing as many answers as it may at once and this request waited answer_wait_ms for its turn (`saturated`, with Retry-After)", "content": {"application/json": {"schema": error.clone()}}}
        })
    };
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "IOC indicators API (Phú Thọ)",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Read-only indicators of the province's Intelligent Operations Centre. Every value carries its numerator, denominator, ratio, and its target or scoring threshold where a text sets one; definitions at /v1/indicators and in docs/indicators.md. Values are read from the pre-aggregated daily measures that ioc-processor's rollup keeps."
        },
        "paths": {
            "/v1/kpis": {
                "get": {
                    "summary": "Every indicator for a period of local days, for the province or one unit",
                    "parameters": [from.clone(), to.clone(), unit.clone()],
                    "responses": responses("KpiResponse")
                }
            },
            "/v1/kpis/{id}/series": {
                "get": {
                    "summary": "One indicator by day, ISO week, month, quarter or year; buckets are calendar buckets of local time, clipped to the range",
                    "parameters": [
                        id.clone(),
                        {"name": "bucket", "in": "query", "required": false, "description": "day (default), week, month, quarter or year", "schema": {"enum": ["day", "week", "month", "quarter", "year"]}},
                        from.clone(), to.clone(), unit.clone()
                    ],
                    "responses": responses("SeriesResponse")
                }
            },
            "/v1/units": {
                "get": {
                    "summary": "The province's units: 148 communes and wards, then the provincial departments",
                    "responses": responses("UnitList")
                }
            },
            "/v1/units/{code}": {
                "get": {
                    "summary": "A unit's profile: reference denominators and every indicator for a period and for the period of the same length before it",
                    "parameters": [
                        {"name": "code", "in": "path", "required": true, "description": "unit code", "schema": {"type": "string"}},
                        from.clone(), to.clone()
                    ],
                    "responses": responses("UnitProfile")
                }
            },
            "/v1/rankings/{id}": {
                "get": {
                    "summary": "The 148 commune-level units ordered by an indicator (best first, ties share a rank), with the rank change against the previous period of the same kind",
                    "parameters": [
                        id.clone(),
                        {"name": "period", "in": "query", "required": false, "description": "2026, 2026-Q3, 2026-09, 2026-W38 or 2026-09-14; default the current month. A period not over yet is ranked as of today (the answer's `period.to`); one not begun is refused (400); the previous period is the whole one before", "schema": {"type": "string"}}
                    ],
                    "responses": responses("RankingResponse")
                }
            },
            "/v1/pipeline": {
                "get": {
                    "summary": "Whether the numbers are live: per source, the newest event, events per minute, how far the rollups got, rejected and dead-lettered counts",
                    "responses": responses("PipelineHealth")
                }
            },
            "/v1/indicators": {
                "get": {
                    "summary": "Definitions of every indicator: ids, Vietnamese and English names, kind, pillar, numerator, denominator",
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
                    "properties": {"code": {"type": "string"}, "name": {"type": "string"}, "kind": kind.clone()},
                    "additionalProperties": false
                },
                "UnitInfo": {
                    "type": "object",
                    "required": ["code", "name", "kind", "former_province"],
                    "properties": {"code": {"type": "string"}, "name": {"type": "string"}, "kind": kind, "former_province": {"type": "string"}},
                    "additionalProperties": false
                },
                "UnitList": {
                    "type": "object",
                    "required": ["units"],
                    "properties": {"units": {"type": "array", "items": {"$ref": "#/components/schemas/UnitInfo"}}},
                    "additionalProperties": false
                },
                "BreakdownValue": {
                    "type": "object",
                    "required": ["key", "numerator", "denominator", "ratio"],
                    "properties": {
                        "key": {"type": "string", "description": "procedure code or class topic"},
                        "numerator": {"type": "integer", "minimum": 0},
                        "denominator": {"type": ["integer", "null"], "minimum": 0},
                        "ratio": {"type": ["number", "null"], "minimum": 0}
                    },
                    "additionalProperties": false
                },
                "IndicatorValue": {
                    "type": "object",
                    "required": ["id", "decision_766_code", "name_vi", "name_en", "kind", "numerator", "denominator", "ratio", "target", "target_source", "threshold", "threshold_source", "progress", "breakdown"],
                    "properties": {
                        "id": {"type": "string"},
                        "decision_766_code": {"type": ["string", "null"]},
                        "name_vi": {"type": "string"},
                        "name_en": {"type": "string"},
                        "kind": {"enum": ["ratio", "count", "average_seconds"]},
                        "numerator": {"type": "integer", "minimum": 0, "description": "what meets the indicator; the count itself for counts; total seconds for averages"},
                        "denominator": {"type": ["integer", "null"], "minimum": 0, "description": "null for counts"},
                        "ratio": {"type": ["number", "null"], "minimum": 0, "description": "numerator / denominator (seconds per dossier for averages); null for counts and when the denominator is 0"},
                        "target": {"type": ["number", "null"], "description": "the goal an official text sets for the year of the period's end (schemas/reference/targets.v2.csv); null: no target is set"},
                        "target_source": {"type": ["string", "null"], "description": "the text that sets the target"},
                        "threshold": {"type": ["number", "null"], "description": "a scoring threshold (full marks in an index such as Decision 766), which is not a goal"},
                        "threshold_source": {"type": ["string", "null"], "description": "the text that sets the threshold"},
                        "progress": {"type": ["number", "null"], "description": "ratio / target"},
                        "breakdown": {"oneOf": [{"type": "null"}, {"type": "array", "items": {"$ref": "#/components/schemas/BreakdownValue"}}]}
                    },
                    "additionalProperties": false
                },
                "KpiResponse": {
                    "type": "object",
                    "required": ["from", "to", "timezone", "unit", "indicators"],
                    "properties": {
                        "from": date.clone(),
                        "to": date.clone(),
                        "timezone": {"const": ioc_domain::TIME_ZONE},
                        "unit": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/UnitRef"}]},
                        "indicators": {"type": "array", "items": {"$ref": "#/components/schemas/IndicatorValue"}}
                    },
                    "additionalProperties": false
                },
                "IndicatorRef": {
                    "type": "object",
                    "required": ["id", "name_vi", "name_en", "kind", "higher_is_better"],
                    "properties": {
                        "id": {"type": "string"}, "name_vi": {"type": "string"}, "name_en": {"type": "string"},
                        "kind": {"enum": ["ratio", "count", "average_seconds"]}, "higher_is_better": {"type": "boolean"}
                    },
                    "additionalProperties": false
                },
                "SeriesPoint": {
                    "type": "object",
                    "required": ["bucket_start", "from", "to", "value"],
                    "properties": {"bucket_start": date.clone(), "from": date.clone(), "to": date.clone(), "value": {"$ref": "#/components/schemas/IndicatorValue"}},
                    "additionalProperties": false
                },
                "SeriesResponse": {
                    "type": "object",
                    "required": ["indicator", "bucket", "from", "to", "timezone", "unit", "points"],
                    "properties": {
                        "indicator": {"$ref": "#/components/schemas/IndicatorRef"},
                        "bucket": {"enum": ["day", "week", "month", "quarter", "year"]},
                        "from": date.clone(),
                        "to": date.clone(),
                        "timezone": {"const": ioc_domain::TIME_ZONE},
                        "unit": {"oneOf": [{"type": "null"}, {"$ref": "#/components/schemas/UnitRef"}]},
                        "points": {"type": "array", "items": {"$ref": "#/components/schemas/SeriesPoint"}}
                    },
                    "additionalProperties": false
                },
                "UnitProfile": {
                    "type": "object",
                    "required": ["unit", "denominators", "from", "to", "indicators", "previous_from", "previous_to", "previous_indicators"],
                    "properties": {
                        "unit": {"$ref": "#/components/schemas/UnitInfo"},
                        "denominators": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
                        "from": date.clone(),
                        "to": date.clone(),
                        "indicators": {"type": "array", "items": {"$ref": "#/components/schemas/IndicatorValue"}},
                        "previous_from": date.clone(),
                        "previous_to": date.clone(),
                        "previous_indicators": {"type": "array", "items": {"$ref": "#/components/schemas/IndicatorValue"}}
                    },
                    "additionalProperties": false
                },
                "PeriodRef": {
                    "type": "object",
                    "required": ["label", "from", "to"],
                    "properties": {"label": {"type": "string"}, "from": date.clone(), "to": date.clone()},
                    "additionalProperties": false
                },
                "RankedUnit": {
                    "type": "object",
                    "required": ["rank", "previous_rank", "rank_change", "unit", "value", "previous"],
                    "properties": {
                        "rank": {"type": ["integer", "null"], "minimum": 1},
                        "previous_rank": {"type": ["integer", "null"], "minimum": 1},
                        "rank_change": {"type": ["integer", "null"], "description": "previous_rank - rank: positive when the unit moved up"},
                        "unit": {"$ref": "#/components/schemas/UnitRef"},
                        "value": {"$ref": "#/components/schemas/IndicatorValue"},
                        "previous": {"type": ["number", "null"]}
                    },
                    "additionalProperties": false
                },
                "RankingResponse": {
                    "type": "object",
                    "required": ["indicator", "period", "previous_period", "units"],
                    "properties": {
                        "indicator": {"$ref": "#/components/schemas/IndicatorRef"},
                        "period": {"$ref": "#/components/schemas/PeriodRef"},
                        "previous_period": {"$ref": "#/components/schemas/PeriodRef"},
                        "units": {"type": "array", "items": {"$ref": "#/components/schemas/RankedUnit"}}
                    },
                    "additionalProperties": false
                },
                "SourceHealth": {
                    "type": "object",
                    "required": ["source", "newest_event", "newest_event_age_seconds", "events_per_minute", "rollup_covered_until", "rejected_events", "dead_lettered"],
                    "properties": {
                        "source": {"enum": ["portal", "edoc", "training"]},
                        "newest_event": {"type": ["string", "null"], "format": "date-time"},
                        "newest_event_age_seconds": {"type": ["integer", "null"], "minimum": 0},
                        "events_per_minute": {"type": "number", "minimum": 0},
                        "rollup_covered_until": {"type": ["string", "null"], "format": "date-time", "description": "every event dated (inserted_at, at most a second after it was stored) before this instant is in the numbers; null when no rollup cycle has run for this source (its measures are empty, not zero)"},
                        "rejected_events": {"type": ["integer", "null"], "minimum": 0, "description": "null when ingest's /metrics is not configured or not reachable"},
                        "dead_lettered": {"type": ["integer", "null"], "minimum": 0, "description": "null when the processor's /metrics is not configured or not reachable"}
                    },
                    "additionalProperties": false
                },
                "PipelineHealth": {
                    "type": "object",
                    "required": ["generated_at", "sources"],
                    "properties": {"generated_at": {"type": "string", "format": "date-time"}, "sources": {"type": "array", "items": {"$ref": "#/components/schemas/SourceHealth"}}},
                    "additionalProperties": false
                },
                "IndicatorDefinition": {
                    "type": "object",
                    "required": ["id", "decision_766_code", "name_vi", "name_en", "kind", "pillar", "higher_is_better", "breakdown", "numerator", "denominator"],
                    "properties": {
                        "id": {"type": "string"},
                        "decision_766_code": {"type": ["string", "null"]},
                        "name_vi": {"type": "string"},
                        "name_en": {"type": "string"},
                        "kind": {"enum": ["ratio", "count", "average_seconds"]},
                        "pillar": {"enum": ["digital_government", "digital_economy", "digital_society"]},
                        "higher_is_better": {"type": "boolean"},
                        "breakdown": {"type": ["string", "null"]},
                        "numerator": {"type": "string"},
                        "denominator": {"type": ["string", "null"]}
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
