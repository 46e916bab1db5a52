//! Days on both sides of 1 January through the whole pipeline. Agencies number their documents
//! from 1 again every year (Decree 30/2020/NĐ-CP; docs/indicators.md, "E-documents and work
//! records"), so January's "15/UBND" is not December's: every indicator of December, of January
//! and of both together must equal the ground truth, and the simulated days must hold numbers
//! given in both years, or the check would say nothing about them. The simulator's documents of
//! 1 January come at night, still 31 December in UTC: the year is the local one.
//!
//! Ingest runs here with one event per Kafka message (`max_events_per_message` 1, not its
//! default, the layout of older ingests and of replayed letters): the other pipeline tests send
//! several events per message, and the indicators must equal the truth whichever layout carried
//! the events.

use std::time::Duration;

use chrono::NaiveDate;
use ioc_e2e::{assert_no_differences, repo_root, Pipeline};
use ioc_reference::ReferenceData;
use ioc_simulator::{simulate, Facts, Faults, Scenario, Sender};

fn day(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("date")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_numbered_again_in_a_new_year_count_again() {
    let pipeline = Pipeline::start_packing(1).await;
    let reference = ReferenceData::load(&repo_root().join("schemas/reference")).expect("reference data");
    // The scenario of the simulator's own test of the new year (services/simulator/src/lib.rs).
    let scenario = Scenario { start: day(2025, 12, 25), days: 14, scale: 0.03 };
    let run = simulate(20260101, &scenario, Faults { duplicates: 0.05, reorder: 0.05, late: 0.02 }, 250, &reference);

    for sent in [true, false] {
        let again = run.documents_numbered_in_both_years(sent);
        assert!(again > 20, "only {again} numbers given in both years (sent: {sent}): the rule is barely reached");
    }

    let sender = Sender::new(&pipeline.ingest.url, pipeline.keys.clone());
    let report = sender.send_all(&run.batches).await.expect("ingest acknowledges every batch");
    assert_eq!(report.accepted, run.events.len() + run.injected.duplicates);
    pipeline.wait_for_events(run.events.len() as u64, Duration::from_secs(120)).await;

    let facts = Facts::from_events(&run.events);
    let mut differences = Vec::new();
    for (from, to) in
        [(day(2025, 12, 25), day(2025, 12, 31)), (day(2026, 1, 1), day(2026, 1, 7)), (scenario.start, day(2026, 1, 7))]
    {
        let truth = facts.truth(&reference, from, to);
        let sent = truth.province["documents_sent_electronic_rate"].denominator.unwrap_or(0);
        assert!(sent > 100, "{from}..{to}: only {sent} documents sent");
        let found = ioc_e2e::indicator_differences(&pipeline.api.url, &truth).await;
        differences.extend(found.into_iter().map(|d| format!("{from}..{to}: {d}")));
    }
    pipeline.stop().await;
    assert_no_differences(&differences, "from the ground truth across the new year");
}
