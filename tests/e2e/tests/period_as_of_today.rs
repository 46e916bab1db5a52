//! A period not over yet is answered as of today (services/api/src/period.rs, `Period::as_of`).
//! The rollups date some measures ahead of time: an open dossier counts as late from its due
//! time, and one whose supplements have not come counts as returned once the wait is over, as
//! what will be true if nothing else happens. A period reaching past today used to count them as
//! if they had happened: the dashboard ranks the current month, quarter or year by its name, so
//! on the first of a month every open dossier due before the month's end was already late in its
//! ranking. Checked against the simulator's ground truth as of today, on events up to now.

use std::time::Duration;

use chrono::{Datelike, Days, Utc};
use ioc_domain::{indicators::DEFINITIONS, Source};
use ioc_e2e::{compare_all, contract, get_checked, on_stop, ranking_differences, spawn};
use ioc_processor::rollup::refresh_source;
use ioc_reference::ReferenceData;
use ioc_simulator::{Facts, Scenario};
use rand::SeedableRng;

#[tokio::test]
async fn a_period_not_over_is_answered_as_of_today() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_as_of_"), ioc_e2e::clickhouse_url()).await;
    let _dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
    let client = clickhouse.client();
    let reference = ReferenceData::load(&ioc_e2e::repo_root().join("schemas/reference")).expect("reference");

    // The last three weeks up to now: the dossiers of the last days are open, due after today.
    let now = Utc::now();
    let today = now.with_timezone(&ioc_domain::local_offset()).date_naive();
    let scenario = Scenario { start: today - Days::new(20), days: 21, scale: 0.02 };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20_261_130);
    let (mut events, _) = ioc_simulator::generate::generate(&scenario, &reference, &mut rng);
    // No source can send what has not happened yet (ingest refuses it).
    events.retain(|event| event.occurred_at <= now);
    ioc_e2e::load::insert_events(&client, &events).await.expect("events stored");
    // The loader dates its rows a second ahead: a cycle takes them in once that second began.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for source in Source::ALL {
        refresh_source(&client, source, 0, 0).await.expect("rolled up");
    }

    let facts = Facts::from_events(&events);
    let as_of_today = facts.truth(&reference, scenario.start, today);
    // The check could not fail if nothing were dated after today.
    let month_ahead = facts.truth(&reference, scenario.start, today + Days::new(30));
    assert_ne!(
        as_of_today.province["dossiers_late"], month_ahead.province["dossiers_late"],
        "no open dossier is due in the month ahead"
    );

    let config = ioc_api::ApiConfig { clickhouse: clickhouse.clone(), ..ioc_api::ApiConfig::default() };
    let api = spawn(|listener, stopped| ioc_api::serve(config, listener, on_stop(stopped))).await;
    let http = reqwest::Client::new();
    let mut differences = Vec::new();

    // A period asked up to a month ahead is answered up to today, for the province and a unit.
    let kpis = contract("KpiResponse");
    let busiest = as_of_today
        .units
        .iter()
        .max_by_key(|(_, expected)| expected["dossiers_received"].numerator)
        .map(|(code, _)| code.clone())
        .expect("units");
    for (scope, filter) in [("province", String::new()), (busiest.as_str(), format!("&unit={busiest}"))] {
        let url = format!("{}/v1/kpis?from={}&to={}{filter}", api.url, scenario.start, today + Days::new(30));
        let answer = get_checked::<ioc_api::KpiResponse>(&http, &url, &kpis).await.expect("answered");
        assert_eq!(answer.to, today.to_string(), "{scope}: the period answered");
        let expected = if filter.is_empty() { &as_of_today.province } else { &as_of_today.units[&busiest] };
        compare_all(&format!("kpis {scope}"), &answer.indicators, expected, &mut differences);
    }

    // The current month's ranking, by its name, as the dashboard asks it.
    let month_start = today.with_day(1).expect("first of the month");
    let month = facts.truth(&reference, month_start, today);
    let rankings = contract("RankingResponse");
    for id in ["on_time_rate", "dossiers_late", "dossiers_in_progress", "dossiers_returned_unsupplemented"] {
        let definition = DEFINITIONS.iter().find(|d| d.id == id).expect("defined");
        let url = format!("{}/v1/rankings/{id}?period={}", api.url, today.format("%Y-%m"));
        let ranking = get_checked::<ioc_api::RankingResponse>(&http, &url, &rankings).await.expect("ranked");
        assert_eq!(ranking.period.to, today.to_string(), "{id}: the period ranked");
        ranking_differences(&ranking, &month, definition.higher_is_better, &mut differences);
    }

    ioc_e2e::assert_no_differences(&differences, "from the ground truth as of today");

    // A period that has not begun holds nothing that happened: a 400 that says so.
    let tomorrow = today + Days::new(1);
    let url = format!("{}/v1/kpis?from={tomorrow}&to={tomorrow}", api.url);
    let refused = http.get(&url).send().await.expect("answered");
    let status = refused.status();
    let reason = refused.text().await.expect("body");
    assert!(status == 400 && reason.contains("after today"), "{url}: {status} {reason}");

    api.stop().await.expect("api stops");
}
