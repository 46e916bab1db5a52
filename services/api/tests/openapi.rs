//! The OpenAPI document is valid JSON Schema where it needs to be, and the definitions endpoint
//! answers what the document promises. (KPI responses are checked against it end to end, in
//! tests/e2e/tests/pipeline.rs, since they need ClickHouse.)

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

async fn get(path: &str) -> serde_json::Value {
    let config = ioc_api::ApiConfig::default();
    let router = ioc_api::router(Arc::new(ioc_api::AppState::new(config).expect("state")));
    let response = router.oneshot(Request::get(path).body(Body::empty()).expect("request")).await.expect("response");
    assert_eq!(response.status(), 200, "{path}");
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
    serde_json::from_slice(&bytes).expect("json")
}

#[tokio::test]
async fn definitions_match_the_document_and_cover_every_indicator() {
    let list = get("/v1/indicators").await;
    let validator = jsonschema::validator_for(&ioc_api::openapi::schema_for("IndicatorList")).expect("schema compiles");
    let errors: Vec<String> = validator.iter_errors(&list).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let ids: Vec<&str> =
        list["indicators"].as_array().expect("array").iter().filter_map(|d| d["id"].as_str()).collect();
    assert_eq!(ids.len(), ioc_domain::indicators::DEFINITIONS.len());
    assert!(ids.contains(&"online_submission_rate") && ids.contains(&"skills_coverage_adult"));
}

#[tokio::test]
async fn the_document_is_served_and_a_wrong_response_is_caught() {
    let document = get("/openapi.json").await;
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["paths"]["/v1/kpis"]["get"].is_object());
    let validator = jsonschema::validator_for(&ioc_api::openapi::schema_for("KpiResponse")).expect("schema compiles");
    let wrong = serde_json::json!({"from": "2026-10-01", "to": "2026-10-31", "timezone": "Asia/Ho_Chi_Minh", "unit": null,
        "indicators": [{"id": "x", "decision_766_code": null, "name_vi": "x", "name_en": "x", "kind": "ratio",
                        "numerator": -1, "denominator": 2, "ratio": 0.5, "target": null, "progress": null,
                        "breakdown": null}]});
    assert!(!validator.is_valid(&wrong), "a negative numerator must not validate");
}

#[tokio::test]
async fn an_unknown_api_path_is_a_json_404_naming_the_paths() {
    let config = ioc_api::ApiConfig::default();
    let router = ioc_api::router(Arc::new(ioc_api::AppState::new(config).expect("state")));
    let validator = jsonschema::validator_for(&ioc_api::openapi::schema_for("Error")).expect("schema compiles");
    for path in ["/v1/kpi", "/v1/kpis/", "/v1/units/79/extra", "/v1/", "/v1"] {
        let request = Request::get(path).body(Body::empty()).expect("request");
        let response = router.clone().oneshot(request).await.expect("response");
        assert_eq!(response.status(), 404, "{path}");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("{path}: {bytes:?}"));
        assert!(validator.is_valid(&body), "{path}: {body}");
        assert_eq!(body["error"], "not_found", "{path}");
        let message = body["message"].as_str().expect("message");
        assert!(
            message.contains(path) && message.contains("/v1/kpis") && message.contains("/openapi.json"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_path_that_cannot_be_decoded_is_a_json_400() {
    let config = ioc_api::ApiConfig::default();
    let router = ioc_api::router(Arc::new(ioc_api::AppState::new(config).expect("state")));
    for path in ["/v1/units/%FF", "/v1/rankings/%FF?period=2026", "/v1/kpis/%C3%28/series"] {
        let request = Request::get(path).body(Body::empty()).expect("request");
        let response = router.clone().oneshot(request).await.expect("response");
        assert_eq!(response.status(), 400, "{path}");
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
        let body: serde_json::Value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("{path}: not JSON: {bytes:?}"));
        assert_eq!(body["error"], "bad_request", "{path}");
        let message = body["message"].as_str().expect("message");
        assert!(message.contains("the path cannot be read"), "{path}: {message}");
    }
}
