//! ioc-api's answers to good and bad requests on a migrated database: every answer matches its
//! OpenAPI schema, and every bad parameter gets 400 with a reason that names the problem.

use ioc_e2e::{contract, fresh_stack, get_checked, on_stop, spawn};

#[tokio::test]
async fn answers_match_the_document_and_bad_requests_say_what_is_wrong() {
    ioc_service::init_logging();
    let (_kafka, clickhouse) = fresh_stack("a", "ioc_api_").await;
    let _dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
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
}

/// With answers not kept, at most `max_answers_computing` are computed at once: a burst beyond
/// that waits its turn, and a request whose wait (`answer_wait_ms`, 0 here) runs out is refused
/// with 503 `saturated`, a Retry-After and a reason, and counted.
#[tokio::test]
async fn a_burst_beyond_the_answers_computed_at_once_waits_or_is_refused_saying_why() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_api_"), ioc_e2e::clickhouse_url()).await;
    let _dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
    let config = ioc_api::ApiConfig {
        clickhouse: clickhouse.clone(),
        answer_cache_refresh_ms: 0,
        max_answers_computing: 1,
        answer_wait_ms: 0,
        ..ioc_api::ApiConfig::default()
    };
    let api = spawn(|listener, stopped| ioc_api::serve(config, listener, on_stop(stopped))).await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/rankings/on_time_rate?period=2026-03", api.url);
    let (mut answered, mut refused) = (0, 0);
    // Sixty-four at once overlap (each is a ClickHouse round trip); a few bursts in case one did not.
    for _ in 0..5 {
        let mut burst = tokio::task::JoinSet::new();
        for _ in 0..64 {
            let (client, url) = (client.clone(), url.clone());
            burst.spawn(async move {
                let response = client.get(&url).send().await.expect("api answers");
                let status = response.status().as_u16();
                let retry_after =
                    response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
                let body: serde_json::Value = response.json().await.expect("json body");
                (status, retry_after, body)
            });
        }
        for (status, retry_after, body) in burst.join_all().await {
            match status {
                200 => answered += 1,
                503 => {
                    assert_eq!(body["error"], "saturated", "{body}");
                    let message = body["message"].as_str().unwrap_or_default();
                    assert!(message.contains("computing 1 answers at once"), "{message}");
                    assert_eq!(retry_after.as_deref(), Some("1"));
                    refused += 1;
                }
                other => panic!("unexpected {other}: {body}"),
            }
        }
        if refused > 0 {
            break;
        }
    }
    let counted = ioc_e2e::metric(&api.url, "ioc_api_answers_refused_total", &[]).await;
    api.stop().await.expect("api stops");
    assert!(answered > 0, "no request had a turn");
    assert!(refused > 0, "64 requests at once, one turn, no wait, and none refused");
    assert_eq!(counted, Some(f64::from(refused)), "refusals counted");
}
