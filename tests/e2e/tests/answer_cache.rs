//! The API keeps answers until the rollups advance: a repeated question is answered without
//! ClickHouse, with the same body, and once more events are rolled up the same question gets the
//! new, exact answer (checked against the ground truth), never the kept one.

use std::time::Duration;

use chrono::NaiveDate;
use ioc_api::answer_cache::{parse_covered_until_by_source, COVERED_UNTIL_BY_SOURCE_HEADER, COVERED_UNTIL_HEADER};
use ioc_e2e::{repo_root, Pipeline};
use ioc_reference::ReferenceData;
use ioc_simulator::{simulate, Faults, Scenario, Sender};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_answers_are_reused_until_the_rollups_advance() {
    let pipeline = Pipeline::start().await;
    let reference = ReferenceData::load(&repo_root().join("schemas/reference")).expect("reference data");
    let scenario = Scenario { start: NaiveDate::from_ymd_opt(2026, 10, 19).expect("date"), days: 4, scale: 0.02 };
    let run = simulate(20261019, &scenario, Faults::default(), 250, &reference);
    let sender = Sender::new(&pipeline.ingest.url, pipeline.keys.clone());
    let (first, rest) = run.batches.split_at(run.batches.len() / 2);
    let first_events: usize = first.iter().map(|batch| batch.events.len()).sum();
    sender.send_all(first).await.expect("first half acknowledged");
    pipeline.wait_for_events(first_events as u64, Duration::from_secs(120)).await;

    // The very question the ground-truth comparison asks below, asked on half the data.
    let url = format!("{}/v1/kpis?from={}&to={}", pipeline.api.url, run.truth.from, run.truth.to);
    let client = reqwest::Client::new();
    let hits = || ioc_e2e::metric(&pipeline.api.url, "ioc_api_answer_cache_total", &[("result", "hit")]);
    let hits_before = hits().await.unwrap_or(0.0);
    let ask = || async {
        let response = client.get(&url).send().await.expect("api answers");
        assert_eq!(response.status(), 200);
        let covered = response.headers().get(COVERED_UNTIL_HEADER).cloned();
        // The state of the rollups the answer was computed from: every source's mark, since the
        // cache starts over when any of them moves, not only the slowest.
        let state = response.headers().get(COVERED_UNTIL_BY_SOURCE_HEADER).cloned();
        if let Some(covered) = &covered {
            // Each source's own mark; the answer as a whole covers what the slowest one does.
            let by_source = state.as_ref().expect("every source's mark beside the slowest");
            let marks = parse_covered_until_by_source(by_source.to_str().expect("text")).expect("source=until pairs");
            let sources: Vec<&str> = marks.iter().map(|(source, _)| source.as_str()).collect();
            assert_eq!(sources, ["edoc", "portal", "training"]);
            let slowest = marks.iter().map(|(_, until)| *until).min().expect("marks");
            assert_eq!(covered.to_str().ok(), Some(slowest.to_string().as_str()));
        }
        (covered.and(state), response.text().await.expect("body"))
    };
    // A rollup cycle (300 ms in tests) may land between two askings; then both were computed.
    // Ask in pairs until a pair falls within one state of the rollups.
    let mut half = None;
    for _ in 0..20 {
        let (covered, first) = ask().await;
        let (covered_again, again) = ask().await;
        assert!(covered.is_some(), "a cached route says how far its data goes");
        if covered == covered_again {
            assert_eq!(first, again, "the same state of the rollups gives the same answer");
            half = Some(first);
            break;
        }
    }
    let half = half.expect("two askings within one rollup cycle");
    assert!(hits().await.unwrap_or(0.0) > hits_before, "the repeated question was a cache hit");

    sender.send_all(rest).await.expect("second half acknowledged");
    pipeline.wait_for_events(run.events.len() as u64, Duration::from_secs(120)).await;
    let differences = ioc_e2e::indicator_differences(&pipeline.api.url, &run.truth).await;
    assert!(differences.is_empty(), "a kept answer outlived the rollups:\n{}", differences.join("\n"));
    let (_, whole) = ask().await;
    assert_ne!(whole, half, "the answer moved with the data");
    pipeline.stop().await;
}

/// A reload of the reference data (`ioc-processor migrate`) reaches the answers at once, whether
/// the rollups advance or not: a unit renamed in the reference files is listed under its new
/// name within the cache's refresh. No processor runs here, so the rollups never advance, and
/// an answer kept until they did would keep the old name for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_of_the_reference_data_is_answered_at_once() {
    ioc_service::init_logging();
    let (_kafka, clickhouse) = ioc_e2e::fresh_stack("rr", "ioc_reload_").await;
    let _dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
    let config = ioc_api::ApiConfig { clickhouse: clickhouse.clone(), ..ioc_api::ApiConfig::default() };
    let refresh = Duration::from_millis(config.answer_cache_refresh_ms);
    assert!(refresh > Duration::ZERO, "the answer cache is on by default");
    let api = ioc_e2e::spawn(|listener, stopped| ioc_api::serve(config, listener, ioc_e2e::on_stop(stopped))).await;
    let mut reference = ReferenceData::embedded().expect("reference data");
    let code = reference.units[0].code.clone();
    let (client, url) = (reqwest::Client::new(), format!("{}/v1/units", api.url));
    let listed_name = || async {
        let units: serde_json::Value = client.get(&url).send().await.expect("api answers").json().await.expect("json");
        let units = units["units"].as_array().expect("a list of units").clone();
        let unit = units.into_iter().find(|unit| unit["code"] == code.as_str()).expect("the unit is listed");
        unit["name"].as_str().expect("a name").to_owned()
    };
    let hits = || ioc_e2e::metric(&api.url, "ioc_api_answer_cache_total", &[("result", "hit")]);

    // Kept: the second asking is served from the cache (once the watcher has read the state).
    tokio::time::sleep(refresh * 3).await;
    let before = listed_name().await;
    let hits_before = hits().await.unwrap_or(0.0);
    assert_eq!(listed_name().await, before);
    assert!(hits().await.unwrap_or(0.0) > hits_before, "the list was not kept");

    let renamed = format!("{before} (đổi tên)");
    reference.units[0].name = renamed.clone();
    ioc_clickhouse::load_reference_data(&clickhouse, &reference).await.expect("reloaded");
    tokio::time::sleep(refresh * 3).await;
    assert_eq!(listed_name().await, renamed, "the answer kept from before the reload was served after it");
    api.stop().await.expect("api stops");
}
