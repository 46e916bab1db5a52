//! What an SRE sees, on a real Prometheus (Debian's package) scraping the running services with
//! the project's alert rules: every expression of every Grafana panel and alert rule
//! (ops/observability/expressions.json) is valid, every panel and recording rule that needs
//! data returns some, and on a healthy pipeline with the canary running no alert's expression
//! holds (at four looks over ten seconds: one slow scrape is not an alert) but the one on
//! unknown units, which must: the simulator's ward that the reference data does not list yet
//! sends dossiers. (The Kafka outage making its alert's expression true is in tests/faults.rs.)

use std::time::Duration;

use chrono::NaiveDate;
use ioc_domain::Source;
use ioc_e2e::prometheus::{expressions, has_data, Prometheus};
use ioc_e2e::{repo_root, Pipeline};
use ioc_reference::ReferenceData;
use ioc_simulator::{simulate, Faults, Scenario, Sender};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_panel_and_alert_evaluates_on_a_real_prometheus() {
    let pipeline = Pipeline::start().await;
    let mut canary = pipeline.start_canary(2).await;
    let prometheus = Prometheus::start(&[
        ("ioc-ingest", &pipeline.ingest.url),
        ("ioc-processor", &pipeline.processor.url),
        ("ioc-api", &pipeline.api.url),
        ("ioc-canary", &canary.url),
    ])
    .await;

    // Traffic on every path: events from every source (one invalid, so rejections count), the
    // rollups, and the API asked every indicator for every unit.
    let reference = ReferenceData::load(&repo_root().join("schemas/reference")).expect("reference data");
    let scenario = Scenario { start: NaiveDate::from_ymd_opt(2026, 10, 26).expect("date"), days: 3, scale: 0.02 };
    let run = simulate(20261026, &scenario, Faults { duplicates: 0.02, reorder: 0.02, late: 0.0 }, 250, &reference);
    let sender = Sender::new(&pipeline.ingest.url, pipeline.keys.clone());
    sender.send_all(&run.batches).await.expect("ingest acknowledges every batch");
    let refused =
        ioc_e2e::post_ndjson(&pipeline.ingest.url, Source::Edoc, &pipeline.keys[&Source::Edoc], "{}\n".into()).await;
    assert_eq!(refused.status(), 422, "an empty object is refused");
    pipeline.wait_for_events(run.events.len() as u64, Duration::from_secs(120)).await;
    let differences = ioc_e2e::indicator_differences(&pipeline.api.url, &run.truth).await;
    assert!(differences.is_empty(), "indicators differ:\n{}", differences.join("\n"));
    // The processor's monitor refreshes lag and completeness every 500 ms in tests; let
    // Prometheus take several samples of everything, so rates over [1m] have two points.
    let settled = prometheus
        .wait_until("count(ioc_canary_freshness_seconds > 0)", Duration::from_secs(60), |result| {
            result.as_array().and_then(|r| r.first()).and_then(|s| s["value"][1].as_str()) == Some("3")
        })
        .await;
    assert!(settled, "the canary's three probes never reached Prometheus; canary log:\n{}", canary.log_text());
    tokio::time::sleep(Duration::from_secs(5)).await;

    // The one alert whose condition the simulated province meets.
    let expected_to_hold = "IocUnknownUnits";
    let unlisted = run.unlisted_events(&reference);
    assert!(unlisted > 0, "the scenario sends no event of a unit the reference data does not list");
    // The processor counts them every twentieth monitor round (10 s in tests), so the count can
    // reach Prometheus after everything above: wait for it, or the alert is judged too early.
    let counted =
        prometheus.wait_until("max(ioc_processor_unknown_unit_events) > 0", Duration::from_secs(60), has_data).await;
    assert!(counted, "the processor never counted the {unlisted} events of an unlisted unit");

    let all = expressions();
    assert!(all.len() > 50, "expressions.json lists only {} expressions", all.len());
    let mut problems = Vec::new();
    for expression in &all {
        let label = format!("{} {:?} ({})", expression.kind, expression.name, expression.file);
        match prometheus.query(&expression.expr).await {
            Err(error) => problems.push(format!("{label}: invalid: {error}")),
            Ok(result) => {
                if expression.kind != "alert" && expression.needs_data && !has_data(&result) {
                    problems.push(format!("{label}: no data: {}", expression.expr));
                }
                if expression.kind == "alert" {
                    let holds = has_data(&result) && holds_on(&prometheus, &expression.expr).await;
                    if expression.name == expected_to_hold {
                        if !holds {
                            problems.push(format!("{label}: does not hold with {unlisted} events of an unlisted unit"));
                        }
                    } else if holds {
                        problems.push(format!("{label}: holds on a healthy pipeline: {result}"));
                    }
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} expressions fail (Prometheus log: {}):\n{}",
        problems.len(),
        all.len(),
        prometheus.log_path().display(),
        problems.join("\n")
    );
    assert!(canary.terminate(Duration::from_secs(10)).await, "ioc-canary stops on SIGTERM");
    pipeline.stop().await;
}

/// Whether an alert's expression that held once still holds at each of three more looks over
/// about ten seconds. An alert fires only after holding for its `for:` time; one look can land
/// on a single slow scrape of a starved debug build (`up == 0` for a scrape that timed out).
async fn holds_on(prometheus: &Prometheus, expr: &str) -> bool {
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        // An error at a later look keeps it reported: the first look's answer is shown then.
        if prometheus.query(expr).await.is_ok_and(|result| !has_data(&result)) {
            return false;
        }
    }
    true
}
