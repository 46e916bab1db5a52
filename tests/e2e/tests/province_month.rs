//! A simulated month of the whole province (scale 1: about 125,000 dossiers, 1.4 million events)
//! through the real pipeline, with 5% duplicates, 5% reordering and 2% of events up to a week
//! late: every indicator the API returns, for every unit and every bucket (day, ISO week, month,
//! quarter, year, and the month after, when only stocks move), equals the ground truth; so do the
//! series, the rankings and the analysts' example queries run as the read-only account.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use futures::StreamExt;
use ioc_api::period::{Bucket, Period};
use ioc_api::{KpiResponse, RankingResponse, SeriesResponse};
use ioc_domain::indicators::DEFINITIONS;
use ioc_e2e::{compare_all, compare_values, contract, get_checked, ranking_differences, repo_root, Pipeline};
use ioc_reference::ReferenceData;
use ioc_simulator::{simulate, Facts, Faults, GroundTruth, Scenario, Sender};

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
}

/// The periods checked: every bucket of March (clipped to it), the quarter and the year as
/// named periods, and April, after the last event.
fn periods() -> Vec<(String, Period)> {
    let march = Period { from: day("2026-03-01"), to: day("2026-03-31") };
    let mut out = Vec::new();
    for bucket in [Bucket::Day, Bucket::Week, Bucket::Month] {
        for (_, part) in bucket.split(march) {
            out.push((format!("{} {}..{}", bucket.as_str(), part.from, part.to), part));
        }
    }
    out.push(("quarter 2026-Q1".into(), Period { from: day("2026-01-01"), to: day("2026-03-31") }));
    // The year so far: a period not over yet is answered as of today (the API's
    // `Period::as_of`), and its weeks to come are not in the weekly coverage's denominator.
    let today = ioc_domain::local_today();
    out.push(("year 2026".into(), Period { from: day("2026-01-01"), to: day("2026-12-31").min(today) }));
    out.push(("month 2026-04".into(), Period { from: day("2026-04-01"), to: day("2026-04-30") }));
    out
}

/// Reads the processor's count of missing events (all sources) every 200 ms until `stopped`:
/// the highest value seen, and how many completeness checks finished meanwhile (the gauges
/// start at 0 and keep their value when a check fails, so only finished checks say anything).
async fn highest_missing(processor: String, mut stopped: tokio::sync::watch::Receiver<bool>) -> (f64, u32) {
    let read = |name: &'static str| {
        let processor = processor.clone();
        async move {
            let read = ioc_e2e::metric(&processor, name, &[]);
            tokio::time::timeout(Duration::from_secs(5), read).await.ok().flatten()
        }
    };
    let (mut highest, mut checks, mut last_checked) = (0.0_f64, 0, None);
    loop {
        if let Some(missing) = read("ioc_processor_completeness_missing_events").await {
            highest = highest.max(missing);
        }
        // The sum of the sources' last check times moves whenever one of them finishes a check.
        let checked = read("ioc_processor_completeness_checked_timestamp_seconds").await;
        if checked.is_some_and(|at| at > 0.0) && checked != last_checked {
            checks += 1;
            last_checked = checked;
        }
        tokio::select! {
            _ = stopped.changed() => return (highest, checks),
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_of_the_province_is_exact_for_every_unit_and_bucket() {
    let pipeline = Pipeline::start_in(ioc_e2e::ANALYST_CHECK_DATABASE).await;
    let reference = ReferenceData::load(&repo_root().join("schemas/reference")).expect("reference data");
    let scenario = Scenario { start: day("2026-03-01"), days: 31, scale: 1.0 };
    let run = simulate(202_603, &scenario, Faults { duplicates: 0.05, reorder: 0.05, late: 0.02 }, 2_000, &reference);
    let dossiers = run.truth.province["dossiers_received"].numerator;
    assert!(dossiers > 100_000, "not a province-sized month: {dossiers} dossiers");
    eprintln!("month of the province: {} events, {dossiers} dossiers, injected {:?}", run.events.len(), run.injected);

    let started = Instant::now();
    let (stop_watching, stopped) = tokio::sync::watch::channel(false);
    let watching = tokio::spawn(highest_missing(pipeline.processor.url.clone(), stopped));
    let sender = Sender::new(&pipeline.ingest.url, pipeline.keys.clone());
    let report = sender.send_all(&run.batches).await.expect("ingest acknowledges every batch");
    assert_eq!(report.accepted, run.events.len() + run.injected.duplicates);
    pipeline.wait_for_events(run.events.len() as u64, Duration::from_secs(900)).await;
    eprintln!("sent, stored and rolled up in {:?}", started.elapsed());
    stop_watching.send(true).expect("the watch runs");
    let (missing, checks) = watching.await.expect("the watch ends");
    // The merges folding the 5% resends run under the whole load: a completeness check must
    // never count a stored event as missing while they do (monitor.rs, stored_offsets_sql).
    assert!(checks > 10, "only {checks} completeness checks finished while the month came in");
    assert_eq!(missing, 0.0, "the processor reported stored events as missing while taking the month in");

    let facts = Facts::from_events(&run.events);
    let truths: Vec<(String, Period, GroundTruth)> = periods()
        .into_iter()
        .map(|(label, period)| {
            let truth = facts.truth(&reference, period.from, period.to);
            (label, period, truth)
        })
        .collect();
    let api = pipeline.api.url.clone();
    let mut differences = Vec::new();

    // Every indicator of every period for the province and each of the 161 units.
    let started = Instant::now();
    differences.extend(kpi_differences(&api, &truths).await);
    eprintln!("{} KPI answers compared in {:?}", truths.len() * 162, started.elapsed());

    // Series of every indicator by day, week and month for the province, and of three
    // indicators by week for every unit.
    let march = Period { from: day("2026-03-01"), to: day("2026-03-31") };
    let truth_of = |period: Period| {
        truths
            .iter()
            .find(|(_, p, _)| *p == period)
            .map(|(_, _, truth)| truth)
            .unwrap_or_else(|| panic!("no truth for {period:?}"))
    };
    let series_contract = contract("SeriesResponse");
    let client = reqwest::Client::new();
    let mut requests = Vec::new();
    for bucket in [Bucket::Day, Bucket::Week, Bucket::Month] {
        for definition in DEFINITIONS {
            requests.push((definition.id, bucket, None));
        }
    }
    for code in run.truth.units.keys() {
        for id in ["on_time_rate", "skills_coverage_adult", "classes_held"] {
            requests.push((id, Bucket::Week, Some(code.as_str())));
        }
    }
    let answers = futures::stream::iter(requests)
        .map(|(id, bucket, unit)| {
            let (client, contract) = (&client, &series_contract);
            let url = format!(
                "{api}/v1/kpis/{id}/series?bucket={}&from={}&to={}{}",
                bucket.as_str(),
                march.from,
                march.to,
                unit.map(|u| format!("&unit={u}")).unwrap_or_default()
            );
            async move { (unit, bucket, get_checked::<SeriesResponse>(client, &url, contract).await) }
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;
    for (unit, bucket, answer) in answers {
        let series = match answer {
            Ok(series) => series,
            Err(error) => {
                differences.push(error);
                continue;
            }
        };
        let expected_points = bucket.split(march).len();
        if series.points.len() != expected_points {
            differences.push(format!("series {bucket:?}: {} points, {expected_points} buckets", series.points.len()));
        }
        for point in &series.points {
            let period = Period { from: day(&point.from), to: day(&point.to) };
            let truth = truth_of(period);
            let expected = unit.map_or(&truth.province, |code| &truth.units[code]);
            let scope = format!("series {} {} {}", unit.unwrap_or("province"), bucket.as_str(), point.from);
            compare_values(&scope, std::slice::from_ref(&point.value), expected, &mut differences);
        }
    }

    // Rankings of every indicator for the month, its weeks and the quarter.
    let ranking_contract = contract("RankingResponse");
    let named = [
        ("2026-03", march),
        ("2026-W10", Period { from: day("2026-03-02"), to: day("2026-03-08") }),
        ("2026-W12", Period { from: day("2026-03-16"), to: day("2026-03-22") }),
        ("2026-Q1", Period { from: day("2026-01-01"), to: day("2026-03-31") }),
    ];
    for (label, period) in named {
        let truth = match truths.iter().find(|(_, p, _)| *p == period) {
            Some((_, _, truth)) => truth.clone(),
            None => facts.truth(&reference, period.from, period.to),
        };
        for definition in DEFINITIONS {
            let url = format!("{api}/v1/rankings/{}?period={label}", definition.id);
            match get_checked::<RankingResponse>(&client, &url, &ranking_contract).await {
                Ok(ranking) => ranking_differences(&ranking, &truth, definition.higher_is_better, &mut differences),
                Err(error) => differences.push(error),
            }
        }
    }

    // The analysts' example queries, as the read-only account, against the same truth.
    differences.extend(ioc_e2e::analyst::example_differences(&facts, &reference, truth_of(march)).await);

    ioc_e2e::assert_no_differences(&differences, "from the ground truth");
    pipeline.stop().await;
}

async fn kpi_differences(api: &str, truths: &[(String, Period, GroundTruth)]) -> Vec<String> {
    let client = reqwest::Client::new();
    let kpi_contract = contract("KpiResponse");
    let mut requests = Vec::new();
    for (label, period, truth) in truths {
        requests.push((label, *period, None, &truth.province));
        for (code, expected) in &truth.units {
            requests.push((label, *period, Some(code.as_str()), expected));
        }
    }
    let (client, kpi_contract) = (&client, &kpi_contract);
    futures::stream::iter(requests)
        .map(|(label, period, unit, expected)| async move {
            let filter = unit.map(|u| format!("&unit={u}")).unwrap_or_default();
            let url = format!("{api}/v1/kpis?from={}&to={}{filter}", period.from, period.to);
            let mut differences = Vec::new();
            match get_checked::<KpiResponse>(client, &url, kpi_contract).await {
                Ok(answer) => {
                    let scope = format!("{label} {}", unit.unwrap_or("province"));
                    compare_all(&scope, &answer.indicators, expected, &mut differences);
                }
                Err(error) => differences.push(error),
            }
            differences
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect()
}
