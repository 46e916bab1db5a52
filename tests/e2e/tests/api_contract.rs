//! ioc-api's answers to good and bad requests on a migrated database: every answer matches its
//! OpenAPI schema, and every bad parameter gets 400 with a reason that names the problem.

use ioc_e2e::{contract, fresh_stack, get_checked, on_stop, spawn};

#[tokio::test]
async fn answers_match_the_document_and_bad_requests_say_what_is_wrong() {
    ioc_service::init_logging();
    let (_kafka, clickhouse) = fresh_stack("a", "ioc_api_").await;
    let config = ioc_api::ApiConfig { clickhouse: clickhouse.clone(), ..ioc_api::ApiConfig::default() };
    let api = spawn(|listener, stopped| ioc_api::serve(config, listener, on_stop(stopped))).await;
    let client = reqwest::Client::new();
    let base = api.url.clone();

    let good = [
        ("/v1/units", "UnitList"),
        ("/v1/units/07900?from=2026-03-01&to=2026-03-31", "UnitProfile"),
        ("/v1/pipeline", "PipelineHealth"),
        ("/v1/kpis?from=2026-03-01&to=2026-03-31", "KpiResponse"),
        ("/v1/kpis/on_time_rate/series?bucket=quarter&from=2026-01-01&to=2026-12-31&unit=07900", "SeriesResponse"),
        ("/v1/rankings/household_coverage?period=2026-W10", "RankingResponse"),
        ("/v1/indicators", "IndicatorList"),
    ];
    let mut failures = Vec::new();
    for (path, schema) in good {
        if let Err(error) = get_checked::<serde_json::Value>(&client, &format!("{base}{path}"), &contract(schema)).await
        {
            failures.push(error);
        }
    }
    let units: serde_json::Value =
        client.get(format!("{base}/v1/units")).send().await.expect("units").json().await.expect("json");
    assert_eq!(units["units"].as_array().map(Vec::len), Some(161), "148 communes and wards and 13 departments");

    let bad = [
        ("/v1/kpis/no_such_indicator/series", "unknown indicator"),
        ("/v1/rankings/no_such_indicator", "unknown indicator"),
        ("/v1/kpis?unit=99999", "unknown unit"),
        ("/v1/units/99999", "unknown unit"),
        ("/v1/kpis/on_time_rate/series?bucket=fortnight", "unknown bucket"),
        ("/v1/kpis?from=2026-02-30", "not a date"),
        ("/v1/kpis?from=2026-03-02&to=2026-03-01", "after"),
        ("/v1/kpis?from=2001-01-01&to=2026-01-01", "longer than"),
        ("/v1/kpis/on_time_rate/series?bucket=day&from=2025-01-01&to=2026-12-31", "more than 400 points"),
        ("/v1/rankings/on_time_rate?period=2026-Q5", "not a period"),
        ("/v1/kpis?region=x", "unknown parameter"),
    ];
    for (path, reason) in bad {
        let response = client.get(format!("{base}{path}")).send().await.expect("api answers");
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let message = body["message"].as_str().unwrap_or_default();
        if status != 400 || !message.contains(reason) {
            failures.push(format!("{path}: {status} {message:?}, expected 400 saying {reason:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    api.stop().await.expect("api stops");
    clickhouse.server_client().query(&format!("DROP DATABASE {}", clickhouse.database)).execute().await.ok();
}
