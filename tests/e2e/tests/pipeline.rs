//! The whole pipeline on real Kafka and ClickHouse: the simulator feeds ingest with duplicates,
//! reordering and late events (and the backlog at go-live), and every indicator the API returns
//! must equal the ground truth: for the whole run, and for series, unit profiles and rankings
//! of periods that start after the data does.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::NaiveDate;
use ioc_domain::Source;
use ioc_e2e::{repo_root, Pipeline};
use ioc_reference::ReferenceData;
use ioc_simulator::{simulate, Facts, Faults, Scenario, Sender};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indicators_equal_the_ground_truth_despite_duplicates_reordering_and_late_events() {
    let pipeline = Pipeline::start().await;
    let reference = ReferenceData::load(&repo_root().join("schemas/reference")).expect("reference data");
    let scenario = Scenario { start: NaiveDate::from_ymd_opt(2026, 10, 1).expect("date"), days: 10, scale: 0.02 };
    let run = simulate(20261001, &scenario, Faults { duplicates: 0.05, reorder: 0.05, late: 0.02 }, 250, &reference);
    assert!(run.events.len() > 3_000, "scenario too small to mean much: {} events", run.events.len());
    assert!(
        run.injected.duplicates > 100 && run.injected.reordered > 100 && run.injected.late > 20,
        "{:?}",
        run.injected
    );

    let sender = Sender::new(&pipeline.ingest.url, pipeline.keys.clone());
    let report = sender.send_all(&run.batches).await.expect("ingest acknowledges every batch");
    assert_eq!(report.accepted, run.events.len() + run.injected.duplicates);

    pipeline.wait_for_events(run.events.len() as u64, Duration::from_secs(120)).await;

    let differences = ioc_e2e::indicator_differences(&pipeline.api.url, &run.truth).await;
    assert!(differences.is_empty(), "indicators differ from the ground truth:\n{}", differences.join("\n"));
    let online = run.truth.province["online_submission_rate"];
    assert!(online.denominator > Some(500), "too few dossiers for a meaningful check: {online:?}");
    assert_eq!(run.truth.units.len(), 161, "every unit is checked");

    // Periods that start after the data begins: a stock must count everything before them.
    let facts = Facts::from_events(&run.events);
    let differences =
        ioc_e2e::periods::later_period_differences(&pipeline.api.url, &facts, &reference, scenario.start).await;
    assert!(
        differences.is_empty(),
        "{} differences for periods starting after the data, first 20:\n{}",
        differences.len(),
        differences.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );

    // The analysts' one row per dossier: each column as the truth reads the dossier's events.
    let differences = ioc_e2e::dossier_rows::differences(&pipeline.clickhouse.client(), &facts, 20).await;
    assert!(differences.is_empty(), "dossier rows differ from the ground truth:\n{}", differences.join("\n"));

    // Completeness: every consumed offset is stored (or dead-lettered), and a loss shows.
    let processor = pipeline.processor.url.clone();
    let acknowledged =
        ioc_e2e::wait_for_metric(&processor, "ioc_processor_completeness_acknowledged_events", &[], |total| {
            total == report.accepted as f64
        })
        .await;
    assert_eq!(acknowledged, report.accepted as f64, "every accepted event is an offset to account for");
    let missing = ioc_e2e::metric(&processor, "ioc_processor_completeness_missing_events", &[]).await;
    assert_eq!(missing, Some(0.0), "no consumed event is missing from clickhouse");
    let lag = ioc_e2e::metric(&processor, "ioc_processor_consumer_lag", &[]).await;
    assert_eq!(lag, Some(0.0), "everything consumed");
    // A source's resend is a second offset of the same event: once ClickHouse merges the two
    // rows, one offset is on no row, yet the event is stored and must not count as missing.
    let client = pipeline.clickhouse.client();
    for table in ["portal_events", "edoc_events", "training_events"] {
        client.query(&format!("OPTIMIZE TABLE {table} FINAL")).execute().await.expect("merge");
    }
    let sent_edoc: Vec<String> = run
        .batches
        .iter()
        .filter(|batch| batch.source == Source::Edoc)
        .flat_map(|batch| batch.events.iter().map(|event| event.event_id.to_string()))
        .collect();
    let offsets_on_rows =
        pipeline.count("SELECT toUInt64(uniqExact(kafka_partition, kafka_offset, kafka_line)) FROM edoc_events").await;
    assert!(
        offsets_on_rows + 20 < sent_edoc.len() as u64,
        "the merge folded too few resends to mean much: {offsets_on_rows} offsets on rows, {} sent",
        sent_edoc.len()
    );
    // Then lose events behind the pipeline's back, every copy of every seventh one: each offset
    // that carried one of them (the simulator's resends included) must show as missing.
    let mut distinct: Vec<&String> = sent_edoc.iter().collect();
    distinct.sort();
    distinct.dedup();
    let lost: BTreeSet<&String> = distinct.into_iter().skip(3).step_by(7).collect();
    let lost_offsets = sent_edoc.iter().filter(|id| lost.contains(id)).count();
    assert!(lost_offsets > lost.len() && lost.len() > 10, "{} events lost, {lost_offsets} offsets", lost.len());
    let listed: Vec<String> = lost.iter().map(|id| format!("'{id}'")).collect();
    client
        .query(&format!("ALTER TABLE edoc_events DELETE WHERE event_id IN ({})", listed.join(", ")))
        .execute()
        .await
        .expect("delete");
    let seen = ioc_e2e::wait_for_metric(&processor, "ioc_processor_completeness_missing_events", &[], |missing| {
        missing == lost_offsets as f64
    })
    .await;
    assert_eq!(seen, lost_offsets as f64, "the missing events are exactly the offsets of the deleted events");

    // An event of a unit the reference data does not list is stored and counts in the
    // province's totals and in no unit's: the processor counts such events, per source.
    let unknown = "ioc_processor_unknown_unit_events";
    // The count is 0 before any check too, and the first check runs at the processor's start,
    // on an empty database: a check must have finished after every event was stored (long
    // before now), in a later second than now.
    let checked = "ioc_processor_unknown_units_checked_timestamp_seconds";
    let now = chrono::Utc::now().timestamp() as f64;
    // The simulator's ward the reference data does not list yet (its dossiers, documents, work
    // records and classes are in the province's figures checked above), each source's counted
    // apart, but for its e-documents deleted above; then one more event of another unknown unit.
    let deleted = run
        .events
        .iter()
        .filter(|e| !reference.has_unit(&e.unit_code) && lost.contains(&e.event_id.to_string()))
        .count();
    assert!(deleted > 0, "none of the deleted events is of an unlisted unit: the check below would miss a deletion");
    let mut unlisted = 0.0;
    for source in Source::ALL {
        let label = [("source", source.as_str())];
        let checked_at = ioc_e2e::wait_for_metric(&processor, checked, &label, |t| t > now).await;
        assert!(checked_at > now, "no unknown units check of {source} finished after {now}: {checked_at}");
        let sent = run.unlisted_events_of(source, &reference);
        assert!(sent > 0, "the simulator sends {source} events of a unit the reference data does not list");
        let stored = if source == Source::Edoc { sent - deleted } else { sent } as f64;
        let counted = ioc_e2e::metric(&processor, unknown, &label).await;
        assert_eq!(counted, Some(stored), "each stored {source} event of an unlisted unit counted once");
        unlisted += stored;
    }
    let portal_before = run.unlisted_events_of(Source::Portal, &reference) as f64;
    pipeline.send_dossier_of_unit("99999").await;
    let counted = ioc_e2e::wait_for_metric(&processor, unknown, &[], |n| n == unlisted + 1.0).await;
    assert_eq!(counted, unlisted + 1.0, "the one more event of an unknown unit is counted");
    let portal = ioc_e2e::metric(&processor, unknown, &[("source", "portal")]).await;
    assert_eq!(portal, Some(portal_before + 1.0), "under its source");

    // The reference data then lists the ward. Its weeks with a class count in the weekly
    // coverage at once, with no recompute, as does the ward in the denominator: both follow the
    // reference data the API reads (docs/indicators.md, "Weekly classes in every commune").
    let ward = ioc_reference::Unit {
        code: ioc_simulator::generate::UNLISTED_UNIT_CODE.to_owned(),
        name: "Phường mới".to_owned(),
        kind: ioc_reference::UnitKind::Phuong,
        former_province: String::new(),
    };
    let mut listed = reference.clone();
    listed.units.push(ward.clone());
    // As a deployment lists it: the reference files changed, then reloaded (`migrate`).
    ioc_clickhouse::load_reference_data(&pipeline.clickhouse, &listed).await.expect("the ward listed");
    let truth = facts.truth(&listed, run.truth.from, run.truth.to);
    let id = ioc_domain::indicators::WEEKLY_CLASS_COVERAGE;
    let ward_weeks = truth.units[&ward.code][id];
    assert!(ward_weeks.numerator > 0, "the ward held no class in a week of the run: {ward_weeks:?}");
    let (http, kpi_contract) = (reqwest::Client::new(), ioc_e2e::contract("KpiResponse"));
    let coverage = |scope: String| {
        let url = format!("{}/v1/kpis?from={}&to={}{scope}", pipeline.api.url, truth.from, truth.to);
        let (http, kpi_contract) = (&http, &kpi_contract);
        async move {
            let answer: ioc_api::KpiResponse =
                ioc_e2e::get_checked(http, &url, kpi_contract).await.unwrap_or_else(|e| panic!("{e}"));
            let value = answer.indicators.into_iter().find(|v| v.id == id).expect("weekly coverage answered");
            (value.numerator, value.denominator)
        }
    };
    let want = truth.province[id];
    // Kept answers are dropped when the rollups next advance, within a second or two.
    let mut province = coverage(String::new()).await;
    for _ in 0..100 {
        if province == (want.numerator, want.denominator) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        province = coverage(String::new()).await;
    }
    assert_eq!(province, (want.numerator, want.denominator), "the province's weekly coverage with the ward listed");
    let unit = coverage(format!("&unit={}", ward.code)).await;
    assert_eq!(unit, (ward_weeks.numerator, ward_weeks.denominator), "the ward's own weekly coverage");

    pipeline.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_personal_identifiers_never_reach_clickhouse() {
    let pipeline = Pipeline::start().await;
    let reference = ReferenceData::load(&repo_root().join("schemas/reference")).expect("reference data");
    let scenario = Scenario { start: NaiveDate::from_ymd_opt(2026, 9, 1).expect("date"), days: 2, scale: 0.01 };
    let run = simulate(5, &scenario, Faults::default(), 200, &reference);
    assert!(run.clear_identifiers.len() > 50);
    Sender::new(&pipeline.ingest.url, pipeline.keys.clone()).send_all(&run.batches).await.expect("sent");
    pipeline.wait_for_events(run.events.len() as u64, Duration::from_secs(60)).await;

    let mut stored = String::new();
    for table in ["portal_events", "edoc_events", "training_events"] {
        let url = format!("{}/?database={}", ioc_e2e::clickhouse_url(), pipeline.clickhouse.database);
        let dump = reqwest::Client::new()
            .post(&url)
            .body(format!("SELECT * FROM {table} FORMAT TabSeparated"))
            .send()
            .await
            .expect("clickhouse answers");
        stored.push_str(&dump.text().await.expect("dump"));
    }
    assert!(stored.len() > 10_000, "dump too small: {}", stored.len());
    let leaked: Vec<_> = run.clear_identifiers.iter().filter(|clear| stored.contains(clear.as_str())).take(3).collect();
    assert!(leaked.is_empty(), "clear identifiers found in clickhouse: {leaked:?}");
    pipeline.stop().await;
}
