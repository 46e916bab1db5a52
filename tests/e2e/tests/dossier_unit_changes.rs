//! A dossier belongs to the unit of its earliest reception (docs/indicators.md), and
//! `dossier_facts` keeps the versions of a dossier's facts per (unit, dossier). When an earlier
//! reception of a dossier from another unit arrives after the dossier's facts were written (two
//! units' desks registering the same dossier number, the first one's event late), the new
//! version is written under the new unit and the old unit's row stays: the portal's measures
//! used to take the newest facts per (unit, dossier), and counted the dossier in both units,
//! for good, since facts are never deleted and a recomputation reads the same rows. The
//! indicators after the late reception, in a cycle that recomputes the latest months and in a
//! recomputation of everything, must equal the simulator's ground truth over all the events, and
//! the analysts' `v_dossiers` must show the dossier once.

use std::time::Duration;

use chrono::{Days, Utc};
use ioc_domain::{EventBody, Source};
use ioc_e2e::{compare_all, contract, get_checked, on_stop, spawn};
use ioc_processor::rollup::{refresh_source, refresh_source_in, CycleOptions, InsertsInFlight, Span};
use ioc_reference::{ReferenceData, UnitKind};
use ioc_simulator::{Facts, Scenario};
use rand::SeedableRng;

#[tokio::test]
async fn a_dossier_whose_unit_changes_counts_once() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_units_"), ioc_e2e::clickhouse_url()).await;
    let _dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
    let client = clickhouse.client();
    let reference = ReferenceData::load(&ioc_e2e::repo_root().join("schemas/reference")).expect("reference");

    // Two weeks ending a few days ago: the cycles after the late reception recompute the
    // latest months only (`rollup::Span::Latest`), as live ones do.
    let now = Utc::now();
    let today = now.with_timezone(&ioc_domain::local_offset()).date_naive();
    let scenario = Scenario { start: today - Days::new(20), days: 14, scale: 0.01 };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(20_261_130);
    let (mut events, _) = ioc_simulator::generate::generate(&scenario, &reference, &mut rng);
    events.retain(|event| event.occurred_at <= now);

    // The first reception of the two weeks (not a backlog dossier's reception resent after its
    // go-live snapshot, dated weeks before), and the same dossier received an hour earlier by
    // another commune.
    let received = events
        .iter()
        .find(|event| {
            matches!(event.body, EventBody::DossierReceived(_))
                && event.occurred_at.with_timezone(&ioc_domain::local_offset()).date_naive() >= scenario.start
        })
        .cloned()
        .expect("a reception");
    let other = reference
        .units
        .iter()
        .find(|unit| unit.kind != UnitKind::Department && unit.code != received.unit_code)
        .map(|unit| unit.code.clone())
        .expect("another commune");
    let mut earlier = received.clone();
    earlier.event_id = uuid::Uuid::new_v4();
    earlier.unit_code = other.clone();
    earlier.occurred_at = received.occurred_at - chrono::Duration::hours(1);
    let EventBody::DossierReceived(dossier) = &received.body else { unreachable!("a reception") };

    // Everything but the earlier reception, rolled up: the dossier's facts name the first unit.
    ioc_e2e::load::insert_events(&client, &events).await.expect("events stored");
    // The loader dates its rows a second ahead: a cycle takes them in once that second began.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut portal_since = 0;
    for source in Source::ALL {
        let outcome = refresh_source(&client, source, 0, 0).await.expect("rolled up");
        if source == Source::Portal {
            portal_since = outcome.covered_until;
        }
    }
    // The case is set: the dossier's facts are in the unit that received it first.
    let in_view = format!("SELECT unit_code FROM v_dossiers WHERE dossier_id = '{}'", dossier.dossier_id);
    let units: Vec<String> = client.query(&in_view).fetch_all().await.expect("v_dossiers");
    assert_eq!(units, std::slice::from_ref(&received.unit_code), "the dossier before the late reception");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    ioc_e2e::load::insert_events(&client, std::slice::from_ref(&earlier)).await.expect("late reception stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let cycle = refresh_source(&client, Source::Portal, portal_since, 0).await.expect("cycle");
    assert!(cycle.events > 0 && cycle.latest_only, "the late reception's cycle: {cycle:?}");

    events.push(earlier);
    let facts = Facts::from_events(&events);
    assert_eq!(facts.dossiers[&dossier.dossier_id].unit, other, "the truth puts the dossier in the earlier unit");
    let truth = facts.truth(&reference, scenario.start, today);

    // Every request asks ClickHouse: kept answers are dropped only when a source's covered_until
    // moves (answer_cache.rs), and the recomputation below may end in the second the cycle
    // before it covered, so the second form would have been checked on the first one's answers.
    let config = ioc_api::ApiConfig {
        clickhouse: clickhouse.clone(),
        answer_cache_refresh_ms: 0,
        ..ioc_api::ApiConfig::default()
    };
    let api = spawn(|listener, stopped| ioc_api::serve(config, listener, on_stop(stopped))).await;
    let http = reqwest::Client::new();
    let kpis = contract("KpiResponse");
    let mut differences = Vec::new();
    for form in ["a cycle of the latest months", "a recomputation of everything"] {
        if form != "a cycle of the latest months" {
            // The history form of the measures (every dossier's facts), which a recomputation
            // reaching further back than the month before uses.
            let history = CycleOptions { span: Some(Span::History), ..CycleOptions::default() };
            let recomputed = refresh_source_in(&client, Source::Portal, 0, 0, &InsertsInFlight::new(), &history)
                .await
                .expect("recomputed");
            assert!(!recomputed.latest_only, "{recomputed:?}");
        }
        for (scope, filter) in [
            ("province".to_owned(), String::new()),
            (received.unit_code.clone(), format!("&unit={}", received.unit_code)),
            (other.clone(), format!("&unit={other}")),
        ] {
            let url = format!("{}/v1/kpis?from={}&to={today}{filter}", api.url, scenario.start);
            let answer = get_checked::<ioc_api::KpiResponse>(&http, &url, &kpis).await.expect("answered");
            let expected = if filter.is_empty() { &truth.province } else { &truth.units[&scope] };
            compare_all(&format!("{form}, kpis {scope}"), &answer.indicators, expected, &mut differences);
        }
    }
    // The analysts' view shows the dossier once, in the unit the truth puts it in.
    let units: Vec<String> = client.query(&in_view).fetch_all().await.expect("v_dossiers");
    if units != [other.clone()] {
        differences.push(format!("v_dossiers: the dossier shows in {units:?}, truth [{other:?}]"));
    }
    ioc_e2e::assert_no_differences(&differences, "from the ground truth after a dossier changed unit");
    api.stop().await.expect("api stops");
}
