//! A week is judged once it is over (services/api/src/period.rs, `Period::week_under_way`). The
//! rollups count a commune's week on its Sunday with the classes held so far, and every answer
//! reaching today used to count that week on the Sunday itself: the weekly class coverage of the
//! current month fell all Sunday for every commune whose class was still to come. The API is
//! given a Sunday as its today (`ApiConfig::today`), so the check bites on any day of the week,
//! and its answers are compared with the simulator's ground truth on that day.

use std::time::Duration;

use chrono::{Datelike, Days, NaiveDate};
use ioc_domain::indicators::WEEKLY_CLASS_COVERAGE;
use ioc_domain::{indicators::DEFINITIONS, Source};
use ioc_e2e::{compare_all, contract, get_checked, on_stop, ranking_differences, spawn};
use ioc_processor::rollup::refresh_source;
use ioc_reference::ReferenceData;
use ioc_simulator::{Facts, Scenario};
use rand::SeedableRng;

/// The last Sunday before `today`.
fn last_sunday(today: NaiveDate) -> NaiveDate {
    let back = match today.weekday().num_days_from_sunday() {
        0 => 7,
        days => days,
    };
    today - Days::new(u64::from(back))
}

#[tokio::test]
async fn the_week_ending_today_is_judged_tomorrow() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_week_"), ioc_e2e::clickhouse_url()).await;
    let _dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
    let client = clickhouse.client();
    let reference = ReferenceData::load(&ioc_e2e::repo_root().join("schemas/reference")).expect("reference");

    // Four weeks, Monday to Sunday, the last ending on the last Sunday before the clock's today.
    let today = ioc_domain::local_today();
    let sunday = last_sunday(today);
    let scenario = Scenario { start: sunday - Days::new(27), days: 28, scale: 0.02 };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20_261_129);
    let (events, _) = ioc_simulator::generate::generate(&scenario, &reference, &mut rng);
    ioc_e2e::load::insert_events(&client, &events).await.expect("events stored");
    // The loader dates its rows a second ahead: a cycle takes them in once that second began.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for source in Source::ALL {
        refresh_source(&client, source, 0, 0).await.expect("rolled up");
    }

    // The answers as on that Sunday: its week is under way.
    let config =
        ioc_api::ApiConfig { clickhouse: clickhouse.clone(), today: Some(sunday), ..ioc_api::ApiConfig::default() };
    let api = spawn(|listener, stopped| ioc_api::serve(config, listener, on_stop(stopped))).await;
    let http = reqwest::Client::new();
    let facts = Facts::from_events(&events);
    let truth = facts.truth_as_of(&reference, scenario.start, sunday, sunday);
    // The check could not fail if the week under way held no class: its count of classes is
    // what a rollup writes on the Sunday (the weeks in the denominator differ anyway).
    let judged_early = facts.truth_as_of(&reference, scenario.start, sunday, sunday + Days::new(1));
    assert_ne!(
        truth.province[WEEKLY_CLASS_COVERAGE].numerator, judged_early.province[WEEKLY_CLASS_COVERAGE].numerator,
        "no commune held a class in the week under way"
    );
    let mut differences = Vec::new();

    // The KPIs of the four weeks, for the province and the commune with the most classes.
    let kpis = contract("KpiResponse");
    let commune = truth
        .units
        .iter()
        .filter(|(_, expected)| expected[WEEKLY_CLASS_COVERAGE].denominator.is_some_and(|d| d > 0))
        .max_by_key(|(_, expected)| expected[WEEKLY_CLASS_COVERAGE].numerator)
        .map(|(code, _)| code.clone())
        .expect("a commune");
    for (scope, filter) in [("province", String::new()), (commune.as_str(), format!("&unit={commune}"))] {
        let url = format!("{}/v1/kpis?from={}&to={sunday}{filter}", api.url, scenario.start);
        let answer = get_checked::<ioc_api::KpiResponse>(&http, &url, &kpis).await.expect("answered");
        let expected = if filter.is_empty() { &truth.province } else { &truth.units[&commune] };
        compare_all(&format!("kpis {scope}"), &answer.indicators, expected, &mut differences);
    }

    // The commune's profile, the weekly series and the month's ranking, as the dashboard asks.
    let url = format!("{}/v1/units/{commune}?from={}&to={sunday}", api.url, scenario.start);
    let profile = get_checked::<ioc_api::UnitProfile>(&http, &url, &contract("UnitProfile")).await.expect("profile");
    compare_all("unit profile", &profile.indicators, &truth.units[&commune], &mut differences);

    let id = WEEKLY_CLASS_COVERAGE;
    let url = format!("{}/v1/kpis/{id}/series?bucket=week&from={}&to={sunday}", api.url, scenario.start);
    let series =
        get_checked::<ioc_api::SeriesResponse>(&http, &url, &contract("SeriesResponse")).await.expect("series");
    for point in &series.points {
        let (from, to) = (point.from.parse().expect("day"), point.to.parse().expect("day"));
        let want = &facts.truth_as_of(&reference, from, to, sunday).province[id];
        if (point.value.numerator, point.value.denominator) != (want.numerator, want.denominator) {
            differences.push(format!(
                "series, week of {}: {}/{:?}, truth {}/{:?}",
                point.bucket_start, point.value.numerator, point.value.denominator, want.numerator, want.denominator
            ));
        }
    }

    let month = facts.truth_as_of(&reference, sunday.with_day(1).expect("first of the month"), sunday, sunday);
    let definition = DEFINITIONS.iter().find(|d| d.id == id).expect("defined");
    let url = format!("{}/v1/rankings/{id}?period={}", api.url, sunday.format("%Y-%m"));
    let ranking =
        get_checked::<ioc_api::RankingResponse>(&http, &url, &contract("RankingResponse")).await.expect("ranked");
    ranking_differences(&ranking, &month, definition.higher_is_better, &mut differences);

    ioc_e2e::assert_no_differences(&differences, &format!("from the ground truth on Sunday {sunday}"));
    api.stop().await.expect("api stops");
}
