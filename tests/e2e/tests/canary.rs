//! The canary on the real pipeline: the `ioc-canary` binary probes every source while real
//! traffic flows, its metrics show each probe reaching the API, the probes are stored, and not one
//! indicator moves because of them (they still equal the ground truth).

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use ioc_domain::{Source, CANARY_PROBE_TYPE, CANARY_UNIT_CODE};
use ioc_e2e::{repo_root, Pipeline};
use ioc_reference::ReferenceData;
use ioc_service::metric_names::{CANARY_FRESHNESS, CANARY_LAST_SUCCESS, CANARY_PROBES};
use ioc_simulator::{simulate, Canary, Facts, Faults, Scenario, Sender};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_probes_reach_the_api_and_move_no_indicator() {
    let pipeline = Pipeline::start().await;
    let reference = ReferenceData::load(&repo_root().join("schemas/reference")).expect("reference data");
    let scenario = Scenario { start: NaiveDate::from_ymd_opt(2026, 10, 5).expect("date"), days: 4, scale: 0.02 };
    let run = simulate(20261005, &scenario, Faults::default(), 250, &reference);

    let mut canary = pipeline.start_canary(1).await;

    // Real traffic while the canary probes.
    let sender = Sender::new(&pipeline.ingest.url, pipeline.keys.clone());
    sender.send_all(&run.batches).await.expect("ingest acknowledges every batch");

    // Every source: at least two probes made it to the API, none failed.
    let started = Instant::now();
    for source in Source::ALL {
        let labels = [("source", source.as_str()), ("outcome", "succeeded")];
        loop {
            let succeeded = ioc_e2e::metric(&canary.url, CANARY_PROBES, &labels).await.unwrap_or(0.0);
            if succeeded >= 2.0 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "only {succeeded} {source} probes reached the API; canary log:\n{}",
                canary.log_text()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        for outcome in ["refused", "timed_out"] {
            let failed =
                ioc_e2e::metric(&canary.url, CANARY_PROBES, &[("source", source.as_str()), ("outcome", outcome)]).await;
            assert_eq!(failed, Some(0.0), "{source} probes {outcome}; canary log:\n{}", canary.log_text());
        }
        let freshness = ioc_e2e::metric(&canary.url, CANARY_FRESHNESS, &[("source", source.as_str())]).await;
        assert!(freshness.is_some_and(|seconds| seconds > 0.0 && seconds < 60.0), "{source}: {freshness:?}");
        let last = ioc_e2e::metric(&canary.url, CANARY_LAST_SUCCESS, &[("source", source.as_str())]).await;
        let age = chrono::Utc::now().timestamp() as f64 - last.unwrap_or(0.0);
        assert!((0.0..120.0).contains(&age), "{source}: last success {age} s ago");
    }
    assert!(canary.terminate(Duration::from_secs(10)).await, "ioc-canary stops on SIGTERM");

    // The probes are stored like events, under their own type and unit.
    for source in Source::ALL {
        let table = source.events_table();
        let probes = pipeline
            .count(&format!(
                "SELECT count() FROM {table} WHERE type = '{CANARY_PROBE_TYPE}' AND unit_code = '{CANARY_UNIT_CODE}'"
            ))
            .await;
        assert!(probes >= 2, "{table} holds {probes} probes");
    }

    // ... and no figure counts them: every indicator still equals the ground truth.
    pipeline.wait_for_events(run.events.len() as u64, Duration::from_secs(120)).await;
    // The probes are dated now: the period must reach today for a miscounted probe to show.
    let today = ioc_domain::local_today();
    let until_today = Facts::from_events(&run.events).truth(&reference, scenario.start, today);
    for truth in [&run.truth, &until_today] {
        let differences = ioc_e2e::indicator_differences(&pipeline.api.url, truth).await;
        assert!(
            differences.is_empty(),
            "canary probes moved indicators of {} to {}:\n{}",
            truth.from,
            truth.to,
            differences.join("\n")
        );
    }
    let measured =
        pipeline.count(&format!("SELECT count() FROM measures_daily WHERE unit_code = '{CANARY_UNIT_CODE}'")).await;
    assert_eq!(measured, 0, "a measure row carries the canary's unit");

    // The library probe answers with the time it took (the binary's metric is built from it).
    let probe = Canary::new(&pipeline.ingest.url, &pipeline.api.url, pipeline.keys.clone(), Duration::from_secs(60));
    let took = probe.probe(Source::Edoc).await.expect("a probe reaches the API");
    assert!(took > Duration::ZERO && took < Duration::from_secs(60), "{took:?}");
    pipeline.stop().await;
}
