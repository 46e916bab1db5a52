//! The rollup cycle looks back only as far as the newly inserted events can change a measure
//! (rollup/cycle.rs, `touched_sql`): late events dated in a month already rolled up, arriving
//! with events of a later month, must still change that month. Checked as an invariant: the
//! measures after the incremental cycles equal those of a recomputation from nothing, over the
//! same raw events, on the real ClickHouse. The indicators themselves are checked against the
//! simulator's ground truth elsewhere (pipeline.rs, province_month.rs); this test isolates the
//! look-back, which those reach only when a cycle's events straddle months, and the cheaper
//! form of the measures queries used when only the latest months are recomputed
//! (`rollup::Span`).
//!
//! The last two check what a cycle may cover while inserts are under way (rollup/in_flight.rs):
//! rows dated before a cycle's claim but that became visible after it must reach the
//! next one, and the processor's writers must hold their source's cycles back while a batch is
//! not yet stored.
//!
//! A canary probe, a row with no entity, must not send a cycle back to the first probe stored,
//! nor a work record closed today to the month it was opened in.
//!
//! The last ones check where a start resumes (rollup/resume.rs): from the progress recorded
//! under the same rules, taking in what was inserted while no processor ran, and from nothing
//! under other rules.
//!
//! One checks in ClickHouse's query log that a cycle's statements run their subqueries once
//! (rollup/sets_once.rs).

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, SubsecRound};
use ioc_domain::{Event, Source};
use ioc_e2e::process::ServiceProcess;
use ioc_e2e::relay::Relay;
use ioc_processor::rollup::{
    drop_abandoned_staging, refresh_source, refresh_source_in, CycleOptions, InsertUnderWay, InsertsInFlight,
    RollupNodes, RollupTask, Span, NODE_CONNECT_TIMEOUT,
};
use ioc_processor::ProcessorMetrics;
use ioc_reference::ReferenceData;
use ioc_simulator::Scenario;
use rand::SeedableRng;

const EXAMPLE: &str = include_str!("../../../schemas/events/examples/valid/dossier.received.json");

/// The simulator's events of `scenario`, drawn from `seed`.
fn simulated(scenario: &Scenario, seed: u64) -> Vec<Event> {
    let reference = ReferenceData::load(&ioc_e2e::repo_root().join("schemas/reference")).expect("reference");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    ioc_simulator::generate::generate(scenario, &reference, &mut rng).0
}

/// The answer to `sql` (ending in `FORMAT TSV`) in `clickhouse`'s database, as text.
async fn tsv(clickhouse: &ioc_clickhouse::ClickHouseConfig, sql: String) -> String {
    reqwest::Client::new()
        .post(format!("{}/?database={}", clickhouse.url, clickhouse.database))
        .body(sql)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("ClickHouse answers")
        .text()
        .await
        .expect("text")
}

/// Each dossier's facts as the analysts see them (`v_dossiers`), as text by dossier.
async fn dossiers(clickhouse: &ioc_clickhouse::ClickHouseConfig) -> std::collections::BTreeMap<String, String> {
    let text = tsv(clickhouse, "SELECT * FROM v_dossiers FORMAT TSV".to_owned()).await;
    text.lines().filter_map(|line| line.split_once('\t').map(|(id, rest)| (id.to_owned(), rest.to_owned()))).collect()
}

/// Every row of both measure tables, as text, in a fixed order.
async fn measures(clickhouse: &ioc_clickhouse::ClickHouseConfig) -> Vec<String> {
    let mut rows = Vec::new();
    for (table, time) in [("measures_daily", "day"), ("measures_monthly", "month")] {
        let sql = format!(
            "SELECT source, {time}, unit_code, measure, dimension, value FROM {table} \
             ORDER BY source, {time}, unit_code, measure, dimension FORMAT TSV"
        );
        rows.extend(tsv(clickhouse, sql).await.lines().map(|line| format!("{table}\t{line}")));
    }
    rows
}

#[tokio::test]
async fn late_events_of_a_month_already_rolled_up_change_it() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_rollup_"), ioc_e2e::clickhouse_url()).await;
    let client = clickhouse.client();
    let start = NaiveDate::from_ymd_opt(2026, 10, 1).expect("date");
    let events = simulated(&Scenario { start, days: 40, scale: 0.03 }, 920);
    let (earlier, later): (Vec<Event>, Vec<Event>) = events.into_iter().partition(|e| e.occurred_at.month() == 10);
    assert!(!earlier.is_empty() && !later.is_empty());

    // November first, rolled up completely. The loader dates its rows a second ahead (no cycle
    // of its own covers them): a cycle takes them in once that second began.
    ioc_e2e::load::insert_events(&client, &later).await.expect("november stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut since = Vec::new();
    for source in Source::ALL {
        let first = refresh_source(&client, source, 0, 0).await.expect("first cycle");
        assert!(first.events > 0 && first.months > 0, "{source}: the first cycle took nothing in: {first:?}");
        since.push(first.covered_until);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Then October arrives late, in one insert with a redelivered November event of each
    // source, so the newest event of the cycle is in November and the oldest in October.
    let mut late = earlier;
    for source in Source::ALL {
        late.extend(later.iter().rev().find(|e| e.source == source).cloned());
    }
    ioc_e2e::load::insert_events(&client, &late).await.expect("late events stored");
    // A cycle takes in the rows stored before the second it starts in (cycle.rs, touched_sql).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for (source, since) in Source::ALL.into_iter().zip(since) {
        refresh_source(&client, source, since, 0).await.expect("incremental cycle");
    }
    let incremental = measures(&clickhouse).await;

    for source in Source::ALL {
        refresh_source(&client, source, 0, 0).await.expect("recomputation");
    }
    let recomputed = measures(&clickhouse).await;
    // Each cycle drops the tables it made (staging, and the portal's measured dossiers).
    let left: Vec<String> = client
        .query("SELECT name FROM system.tables WHERE database = currentDatabase() AND startsWith(name, 'measures_staging_')")
        .fetch_all()
        .await
        .expect("tables");
    drop_database(&clickhouse).await;
    assert_eq!(left, Vec::<String>::new(), "tables the cycles left behind");

    // Every source has measures in the month that arrived late, or the check would be empty.
    for source in Source::ALL {
        let october = format!("measures_daily\t{source}\t2026-10-");
        assert!(recomputed.iter().any(|row| row.starts_with(&october)), "no {source} measure in October");
    }
    assert_same(&recomputed, &incremental);
}

/// A cycle recomputing only the latest months finds their entities from the events dated in
/// them (the `{recent ...}` sections of the measures queries); its measures must equal those of
/// a recomputation from nothing that aggregates every entity (`{history ...}`). The events are
/// dated from the first of the month two months back and arrive as live ones would: the older
/// days, rolled up, then the newest, whose dossiers, documents and learners began days before.
/// The newest begin in the previous month whatever today's date (two thirds of 61 to 92 days),
/// so the cycle recomputes from there and the entities of the month before, with no event
/// since, are not candidates: the filters must leave them out, or admit them harmlessly.
#[tokio::test]
async fn the_latest_months_recomputed_from_their_own_entities_equal_a_recomputation() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_rollup_"), ioc_e2e::clickhouse_url()).await;
    let client = clickhouse.client();
    let today = ioc_domain::local_today();
    let start = (today - chrono::Months::new(2)).with_day(1).expect("first day");
    let days = u32::try_from((today - start).num_days()).expect("days");
    let events = simulated(&Scenario { start, days, scale: 0.04 }, 921);
    let cut = start + chrono::Days::new(u64::from(days) * 2 / 3);
    let (older, newest): (Vec<Event>, Vec<Event>) =
        events.into_iter().partition(|e| e.occurred_at.with_timezone(&ioc_domain::local_offset()).date_naive() < cut);
    assert!(!older.is_empty() && !newest.is_empty());
    assert_eq!(cut.with_day(1), (today - chrono::Months::new(1)).with_day(1), "the newest days begin last month");

    let since = rolled_up_then_stored(&client, &older, &newest).await;
    for (source, since) in Source::ALL.into_iter().zip(since) {
        let outcome = refresh_source(&client, source, since, 0).await.expect("incremental cycle");
        // The portal's dossiers that began two months back date measures there too: that month
        // is recomputed alone, and the latest months in their own form after it (cycle.rs).
        assert!(
            outcome.latest_only || (source == Source::Portal && outcome.old_months > 0),
            "{source}: recomputed {} months, not the latest in their own form: {outcome:?}",
            outcome.months
        );
    }
    let incremental = measures(&clickhouse).await;

    let history = CycleOptions { span: Some(Span::History), ..CycleOptions::default() };
    for source in Source::ALL {
        refresh_source_in(&client, source, 0, 0, &InsertsInFlight::new(), &history).await.expect("recomputation");
    }
    let recomputed = measures(&clickhouse).await;
    drop_database(&clickhouse).await;
    for source in Source::ALL {
        let newest_days = recomputed.iter().filter(|row| {
            let mut fields = row.split('\t');
            fields.next() == Some("measures_daily")
                && fields.next() == Some(source.as_str())
                && fields.next().is_some_and(|day| day >= cut.to_string().as_str())
        });
        assert!(newest_days.count() > 0, "no {source} measure in the newest days");
    }
    assert_same(&recomputed, &incremental);
}

/// An insert under way while a cycle runs: its rows are dated (`inserted_at`) when its first
/// attempt begins and become visible only when it ends, after the cycle (a slow replica's
/// quorum, a distributed insert, retries). The cycle must not cover past that date, so the next one takes
/// the rows in: the measures then equal a recomputation. Made here by inserting the rows into
/// copies of the raw tables and moving them in afterwards with the date the insert began.
#[tokio::test]
async fn rows_of_an_insert_under_way_during_a_cycle_reach_the_next_cycle() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_inflight_"), ioc_e2e::clickhouse_url()).await;
    let client = clickhouse.client();
    let today = ioc_domain::local_today();
    let events = simulated(&Scenario { start: today - chrono::Days::new(20), days: 20, scale: 0.03 }, 922);
    // Every third event is in the slow insert: dossiers, documents and learners get some of
    // their events from each insert.
    let (slow, first) = set_apart(&client, events, 3).await;
    ioc_e2e::load::insert_events(&client, &first).await.expect("first events stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let inserts = InsertsInFlight::new();
    let mut since = Vec::new();
    for source in Source::ALL {
        since.push(
            refresh_source_in(&client, source, 0, 0, &inserts, &CycleOptions::default())
                .await
                .expect("first cycle")
                .covered_until,
        );
    }

    // The slow insert of each source begins and dates its rows (after the second the first
    // cycles claimed).
    let under_way: Vec<_> = Source::ALL.iter().map(|source| inserts.begin(*source)).collect();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for (index, source) in Source::ALL.into_iter().enumerate() {
        let outcome = refresh_source_in(&client, source, since[index], 0, &inserts, &CycleOptions::default())
            .await
            .expect("cycle");
        let dated = under_way[index].dated();
        assert!(
            outcome.covered_until <= dated,
            "{source}: covered until {}, past the rows dated {dated}",
            outcome.covered_until
        );
        // Not before what the first cycle covered either: the insert began after it and was
        // dated after the second it claimed.
        assert!(
            outcome.covered_until >= since[index],
            "{source}: covered until {}, back before the first cycle's {}",
            outcome.covered_until,
            since[index]
        );
        since[index] = outcome.covered_until;
    }
    // It ends: its rows become visible, with the date it began.
    ioc_e2e::load::insert_events_into(&client, &slow, "_slow").await.expect("slow events staged");
    for (source, insert) in Source::ALL.into_iter().zip(&under_way) {
        move_in_dated(&client, source.events_table(), insert.dated()).await;
    }
    let dated: Vec<u32> = under_way.iter().map(InsertUnderWay::dated).collect();
    drop(under_way);
    for (index, source) in Source::ALL.into_iter().enumerate() {
        let outcome = refresh_source_in(&client, source, since[index], 0, &inserts, &CycleOptions::default())
            .await
            .expect("next cycle");
        assert!(
            outcome.covered_until > dated[index],
            "{source}: nothing under way, yet covered until {}",
            outcome.covered_until
        );
    }
    let incremental = measures(&clickhouse).await;

    for source in Source::ALL {
        refresh_source(&client, source, 0, 0).await.expect("recomputation");
    }
    let recomputed = measures(&clickhouse).await;
    drop_database(&clickhouse).await;
    assert!(recomputed.len() > 100, "too few measures to tell: {}", recomputed.len());
    assert_same(&recomputed, &incremental);
}

/// An insert under way when a cycle claims the current second and ending a moment later does
/// not hold the cycle back: the cycle lets it end (in_flight.rs, `settle`) and covers up to its
/// claim, where the insert's date alone would hold it one or two seconds behind (the insert
/// began 1.5 s before).
#[tokio::test]
async fn an_insert_ending_as_a_cycle_begins_does_not_hold_it_back() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_settle_"), ioc_e2e::clickhouse_url()).await;
    let client = clickhouse.client();
    let inserts = InsertsInFlight::new();
    let under_way = inserts.begin(Source::Edoc);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before: u32 = client.query("SELECT toUInt32(now())").fetch_one().await.expect("now");
    let ending = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(under_way);
    });
    let outcome =
        refresh_source_in(&client, Source::Edoc, 0, 0, &inserts, &CycleOptions::default()).await.expect("cycle");
    ending.await.expect("insert ended");
    drop_database(&clickhouse).await;
    assert!(
        outcome.covered_until > before,
        "covered until {}, behind the clock read before the cycle ({before}) for an insert that had ended",
        outcome.covered_until
    );
}

/// A start resumes from the progress recorded under its own rules: with nothing new it
/// recomputes no month, and what was inserted while no processor ran is taken in, the measures
/// then equal a recomputation from nothing. Progress recorded under other rules after it (another
/// binary rewrote months since) makes a start recompute every month, as does
/// `rollup_recompute_on_start`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_resumes_under_its_own_rules_and_recomputes_everything_under_others() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_resume_"), ioc_e2e::clickhouse_url()).await;
    let client = clickhouse.client();
    let today = ioc_domain::local_today();
    let start = today - chrono::Days::new(40);
    let events = simulated(&Scenario { start, days: 40, scale: 0.03 }, 923);
    let cut = today - chrono::Days::new(10);
    let (older, newest): (Vec<Event>, Vec<Event>) =
        events.into_iter().partition(|e| e.occurred_at.with_timezone(&ioc_domain::local_offset()).date_naive() < cut);
    for source in Source::ALL {
        assert!(newest.iter().any(|e| e.source == source), "no new {source} event");
    }
    // A cycle takes in the rows stored before the second it starts in.
    ioc_e2e::load::insert_events(&client, &older).await.expect("older days stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let first = start_once(&client, false, None).await;
    assert!(first.iter().all(|months| *months > 0), "nothing recorded, yet a source recomputed no month: {first:?}");
    let again = start_once(&client, false, None).await;
    assert_eq!(again, [0, 0, 0], "the same rules and nothing new, yet months recomputed");

    ioc_e2e::load::insert_events(&client, &newest).await.expect("newest days stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let resumed_months = start_once(&client, false, None).await;
    let resumed = measures(&clickhouse).await;

    // Another binary recorded progress after this one; meanwhile a month's measures and every
    // dossier's facts went missing, which only a recomputation of every month brings back (a
    // start that resumed would find nothing new and leave them missing). The facts come back in
    // slices of at most 2,000 events (the portal has several times that), each slice's dossiers
    // by the hash of their id: a slice left out would leave its dossiers out of the measures.
    let month = start.format("%Y%m").to_string();
    client
        .query(&format!("ALTER TABLE measures_daily DROP PARTITION ('portal', {month})"))
        .execute()
        .await
        .expect("dropped");
    client.query("TRUNCATE TABLE dossier_facts").execute().await.expect("facts emptied");
    let portal_events = older.iter().chain(&newest).filter(|e| e.source == Source::Portal).count();
    assert!(portal_events > 4 * 2000, "{portal_events} portal events: too few for several slices");
    for source in Source::ALL {
        client
            .query(
                "INSERT INTO rollup_state (source, covered_until, refreshed_at, newest_event, events_last_5_minutes, rules) \
                 SELECT ?, now(), now() + 10, now(), 0, 'other rules'",
            )
            .bind(source.as_str())
            .execute()
            .await
            .expect("other rules recorded");
    }
    let recomputed_months = start_once(&client, false, Some(2000)).await;
    let recomputed = measures(&clickhouse).await;
    let asked = start_once(&client, true, None).await;
    drop_database(&clickhouse).await;

    assert!(recomputed
        .iter()
        .any(|row| row.starts_with(&format!("measures_daily\tportal\t{}", start.format("%Y-%m")))));
    assert_same(&recomputed, &resumed);
    for (index, source) in Source::ALL.into_iter().enumerate() {
        assert!(resumed_months[index] > 0, "{source}: the new events recomputed no month");
        assert!(
            recomputed_months[index] >= first[index],
            "{source}: other rules recorded last, yet {} months recomputed (the first start: {})",
            recomputed_months[index],
            first[index]
        );
        assert!(asked[index] >= first[index], "{source}: asked to recompute, yet {} months", asked[index]);
    }
}

/// Events about dossiers received months ago change measures dated months back: at their
/// reception, their return for want of supplements, the day they became overdue. The cycle
/// recomputes those months by themselves and the latest ones, not every month since the
/// oldest (`Span::Months`), for the units of those dossiers alone, and the measures must equal
/// a recomputation of everything. Each case is a dossier whose changed month only one part of
/// the months' list reaches, one cycle each (the list is a union over the touched dossiers,
/// where the parts would cover for each other): a complaint about a dossier whose reception
/// alone falls in its month (the events' months); a supplement request arriving months late,
/// dated before the one a dossier was returned for, which moves the return (each request plus
/// the waiting time); a complaint about a dossier that became overdue in a month where nothing
/// else of it happened (the due time's months, and the measured dossiers found by the instant
/// they became late); and an earlier reception of a dossier of months ago by another unit,
/// which moves the dossier to that unit: both units' rows of its months change (the units'
/// list holds every unit of a dossier's opening events, not only its owner).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_dossiers_received_months_ago_recompute_their_months_alone() {
    use ioc_domain::{ComplaintKind, ComplaintSubject, DossierComplaintFiled, DossierRef, EventBody};
    let clickhouse =
        ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_oldmonths_"), ioc_e2e::clickhouse_url()).await;
    let client = clickhouse.client();
    let today = ioc_domain::local_today();
    let first = (today - chrono::Days::new(180)).with_day(1).expect("first of a month");
    let days = u32::try_from((today - first).num_days()).expect("days");
    let events = simulated(&Scenario { start: first, days, scale: 0.02 }, 925);
    ioc_e2e::load::insert_events(&client, &events).await.expect("stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for source in Source::ALL {
        refresh_source(&client, source, 0, 0).await.expect("rolled up");
    }
    // The latest months (every cycle recomputes them) begin with the month before this one.
    let latest = (today.with_day(1).expect("first") - chrono::Months::new(1)).format("%Y%m").to_string();
    let offset = ioc_domain::local_offset();
    let now = chrono::Utc::now().with_timezone(&offset).trunc_subsecs(0) - chrono::Duration::minutes(1);
    // The dossier a case found: its id, unit and reception (unix seconds).
    struct Found {
        id: String,
        unit: String,
        received: u32,
    }
    let received_at = |found: &Found| {
        chrono::DateTime::from_timestamp(i64::from(found.received), 0).expect("time").with_timezone(&offset)
    };
    let event = |body: EventBody, unit: &str, occurred_at| Event {
        event_id: uuid::Uuid::new_v4(),
        source: Source::Portal,
        occurred_at,
        unit_code: unit.to_owned(),
        received_at: None,
        body,
    };
    let complaint = |found: &Found| {
        let body = EventBody::DossierComplaintFiled(DossierComplaintFiled {
            dossier_id: found.id.clone(),
            kind: ComplaintKind::Petition,
            subject: ComplaintSubject::Handling,
        });
        event(body, &found.unit, now)
    };
    // Dated when it was made, an hour after the reception.
    let request = |found: &Found| {
        let body = EventBody::DossierSupplementRequested(DossierRef { dossier_id: found.id.clone() });
        event(body, &found.unit, received_at(found) + chrono::Duration::hours(1))
    };
    // The simulated reception again, an hour earlier, by a unit other than the dossier's.
    let other_unit = events
        .iter()
        .map(|event| event.unit_code.as_str())
        .find(|unit| *unit != events[0].unit_code)
        .expect("two units simulated")
        .to_owned();
    let earlier_reception = |found: &Found| {
        let reception = events
            .iter()
            .find(|event| matches!(event.body, EventBody::DossierReceived(_)) && event.body.entity_id() == found.id)
            .expect("the dossier's reception");
        let unit = if found.unit == other_unit { &events[0].unit_code } else { &other_unit };
        event(reception.body.clone(), unit, reception.occurred_at - chrono::Duration::hours(1))
    };
    // What the case is, which dossier it needs (dossier_facts), the event it gets.
    type Case<'a> = (&'a str, String, &'a dyn Fn(&Found) -> Event);
    let cases: [Case; 4] = [
        (
            "a complaint about a dossier whose reception alone is in its month",
            format!(
                "resolved AND NOT flagged AND NOT backlog AND toYYYYMM(received_at) < {latest} \
                 AND toYYYYMM(due_at) > toYYYYMM(received_at) AND toYYYYMM(resolved_at) > toYYYYMM(received_at) \
                 AND toYYYYMM(late_at) > toYYYYMM(received_at)"
            ),
            &complaint,
        ),
        (
            "an earlier supplement request, months late, for a dossier returned unsupplemented the month after",
            format!(
                "abandoned AND NOT backlog AND NOT withdrawn AND toDayOfMonth(received_at) > 1 \
                 AND toYYYYMM(due_at) = toYYYYMM(received_at) AND toYYYYMM(abandoned_at) > toYYYYMM(received_at) \
                 AND toYYYYMM(abandoned_at) < {latest} AND paused_seconds = 0"
            ),
            &request,
        ),
        (
            "a complaint about a dossier overdue in a month where nothing else of it happened",
            format!(
                "resolved AND overdue_while_open AND NOT flagged AND NOT backlog AND paused_seconds = 0 AND toYYYYMM(late_at) < {latest} \
                 AND toYYYYMM(late_at) != toYYYYMM(received_at) AND toYYYYMM(late_at) != toYYYYMM(resolved_at) \
                 AND toYYYYMM(late_at) != toYYYYMM(closed_at) AND toYYYYMM(late_at) != toYYYYMM(result_returned_at)"
            ),
            &complaint,
        ),
        (
            "an earlier reception by another unit of a dossier of months ago",
            format!(
                "resolved AND NOT backlog AND toDayOfMonth(received_at) > 1 AND toYYYYMM(last_at) < {latest}"
            ),
            &earlier_reception,
        ),
    ];
    let mut failures = Vec::new();
    for (case, condition, build) in cases {
        let sql = format!(
            "SELECT dossier_id, unit_code, toUInt32(received_at) FROM dossier_facts FINAL \
             WHERE NOT superseded AND {condition} ORDER BY dossier_id LIMIT 1"
        );
        let (id, unit, received): (String, String, u32) =
            client.query(&sql).fetch_one().await.unwrap_or_else(|e| panic!("{case}: no such dossier simulated: {e}"));
        let (outcome, differing) =
            portal_cycle_after(&clickhouse, build(&Found { id: id.clone(), unit, received })).await;
        if outcome.old_months == 0 || outcome.latest_only {
            failures.push(format!("{case} ({id}): no old month recomputed alone: {outcome:?}"));
        }
        if differing > 0 {
            failures.push(format!("{case} ({id}): {differing} rows differ from a recomputation ({outcome:?})"));
        }
    }
    // A complaint months old about a dossier whose reception never came: the dossier has no
    // opening event, so no facts and no unit whose old months could change; the cycle swaps
    // none of them and recomputes the latest months alone.
    let months_ago = first.and_hms_opt(12, 0, 0).expect("noon").and_local_timezone(offset).single().expect("a time");
    let orphan = Event {
        occurred_at: months_ago,
        ..complaint(&Found { id: "HS-NEVER-RECEIVED".to_owned(), unit: events[0].unit_code.clone(), received: 0 })
    };
    let (outcome, differing) = portal_cycle_after(&clickhouse, orphan).await;
    if !outcome.old_months_alone || outcome.old_months != 0 {
        failures.push(format!("an old complaint about a dossier never received swapped old months: {outcome:?}"));
    }
    if differing > 0 {
        failures.push(format!(
            "an old complaint about a dossier never received: {differing} rows differ from a recomputation"
        ));
    }
    // A resume, late, for a dossier returned unsupplemented in the latest months whose due time
    // was before them: its request no longer waits, so nothing of it is dated in the latest
    // months any more (its last_at goes back before them). Their cycle must find its new facts
    // beside the version written while the request waited, or it measures that one again there
    // (migration 0016, `bound_at`). One request, no resume and no end: a second request would
    // wait in its turn, an end would be dated after the wait.
    let sql = format!(
        "SELECT dossier_id, unit_code, toUInt32(abandoned_at) FROM dossier_facts FINAL \
         WHERE NOT superseded AND abandoned AND NOT backlog AND NOT withdrawn AND NOT resolved \
           AND NOT result_returned AND paused_seconds = 0 \
           AND toYYYYMM(abandoned_at) >= {latest} AND toYYYYMM(late_at + 7200) < {latest} \
           AND dossier_id IN (SELECT dossier_id FROM portal_events GROUP BY dossier_id \
               HAVING countIf(type = 'dossier.supplement_requested') = 1 AND countIf(type = 'dossier.resumed') = 0 \
                  AND countIf(type IN ('dossier.resolved', 'dossier.withdrawn', 'dossier.result_returned')) = 0) \
         ORDER BY dossier_id LIMIT 1"
    );
    let case = "a late resume for a dossier returned unsupplemented in the latest months, due before them";
    let (id, unit, abandoned_at): (String, String, u32) =
        client.query(&sql).fetch_one().await.unwrap_or_else(|e| panic!("{case}: no such dossier simulated: {e}"));
    let resumed_at = abandoned_at - ioc_domain::rules::SUPPLEMENT_WAIT_SECONDS + 3600;
    let resumed_at = chrono::DateTime::from_timestamp(i64::from(resumed_at), 0).expect("time").with_timezone(&offset);
    let resume = event(EventBody::DossierResumed(DossierRef { dossier_id: id.clone() }), &unit, resumed_at);
    let (outcome, differing) = portal_cycle_after(&clickhouse, resume).await;
    let last_month: u32 = client
        .query("SELECT toUInt32(toYYYYMM(argMax(last_at, version))) FROM dossier_facts WHERE dossier_id = ? AND NOT superseded")
        .bind(&id)
        .fetch_one()
        .await
        .expect("the dossier's facts");
    if last_month.to_string() >= latest {
        failures.push(format!("{case} ({id}): its last_at is still in the latest months ({last_month}): no case made"));
    }
    // The latest months in their own form, which reads dossier_facts_by_bound (the history
    // form reads every dossier's facts and would pass whatever the bound).
    if !outcome.old_months_alone {
        failures.push(format!("{case} ({id}): the latest months were not recomputed in their own form: {outcome:?}"));
    }
    if differing > 0 {
        failures.push(format!("{case} ({id}): {differing} rows differ from a recomputation ({outcome:?})"));
    }
    drop_database(&clickhouse).await;
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Stores `late` (a portal event) and runs one incremental portal cycle that takes it in, then a
/// recomputation of everything: that cycle's outcome, and how many rows of the measures it left
/// differ from the recomputation's (0 when they are the same rows).
async fn portal_cycle_after(
    clickhouse: &ioc_clickhouse::ClickHouseConfig,
    late: Event,
) -> (ioc_processor::rollup::Outcome, usize) {
    let client = clickhouse.client();
    let since = ioc_processor::rollup::date_ahead();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    ioc_e2e::load::insert_events(&client, &[late]).await.expect("late event stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let outcome = refresh_source(&client, Source::Portal, since, 0).await.expect("cycle");
    let incremental = measures(clickhouse).await;
    refresh_source(&client, Source::Portal, 0, 0).await.expect("recomputation");
    let recomputed = measures(clickhouse).await;
    let (in_recomputed, in_incremental): (BTreeSet<&String>, BTreeSet<&String>) =
        (recomputed.iter().collect(), incremental.iter().collect());
    let differing = in_recomputed.symmetric_difference(&in_incremental).count();
    (outcome, differing.max(recomputed.len().abs_diff(incremental.len())))
}

/// Another replica's cycles pass the date of an insert still under way, which its writer's own
/// next cycle would take in; if the writer dies first, its rows sit behind the newest progress
/// recorded. A start that resumed from that progress never read them; the look-back
/// (`rollup_resume_lookback_seconds`) does, and the measures then equal a recomputation. Made
/// here by moving rows in dated a few seconds before the progress a first start recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_a_dead_writer_left_behind_the_progress_are_read_at_the_next_start() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_lookback_"), ioc_e2e::clickhouse_url()).await;
    let client = clickhouse.client();
    let today = ioc_domain::local_today();
    let events = simulated(&Scenario { start: today - chrono::Days::new(20), days: 20, scale: 0.03 }, 924);
    // Every fifth event is the dead writer's.
    let (orphaned, stored) = set_apart(&client, events, 5).await;
    ioc_e2e::load::insert_events(&client, &stored).await.expect("events stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let first = start_once(&client, false, None).await;
    assert!(first.iter().all(|months| *months > 0), "the first start recomputed nothing: {first:?}");
    let progress: u32 = client
        .query("SELECT toUInt32(min(covered_until)) FROM rollup_state")
        .fetch_one()
        .await
        .expect("progress recorded");
    // The dead writer's rows, dated before the progress.
    ioc_e2e::load::insert_events_into(&client, &orphaned, "_slow").await.expect("orphaned rows staged");
    for source in Source::ALL {
        move_in_dated(&client, source.events_table(), progress - 5).await;
    }
    let resumed_only = start_once(&client, false, None).await;
    let looked_back = start_looking_back(&client, false, None, 900).await;
    let incremental = measures(&clickhouse).await;
    start_once(&client, true, None).await;
    let recomputed = measures(&clickhouse).await;
    drop_database(&clickhouse).await;

    // Without the look-back the rows are never read: what this test guards against.
    assert_eq!(resumed_only, [0, 0, 0], "a start that resumed from the progress read rows behind it");
    assert!(looked_back.iter().all(|months| *months > 0), "the look-back recomputed nothing: {looked_back:?}");
    assert_same(&recomputed, &incremental);
}

/// Every processor replica runs the rollup and writes dossiers' facts. A replica whose clock runs
/// an hour ahead computes them; the dossiers' next events arrive, and a replica whose clock is on
/// time computes them again. Its facts must win: the measures then equal a recomputation whose
/// clock is further ahead still, which no earlier version can outrank. With versions from the
/// clock alone, the first replica's facts won until each dossier's next event.
#[tokio::test]
async fn facts_a_replica_wrote_with_its_clock_ahead_give_way_to_the_dossiers_next_events() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_skew_"), ioc_e2e::clickhouse_url()).await;
    let client = clickhouse.client();
    let today = ioc_domain::local_today();
    let events = simulated(&Scenario { start: today - chrono::Days::new(12), days: 12, scale: 0.02 }, 926);
    // Every third event of the portal comes later: some dossiers' next events.
    let (next, first) = every_nth(events.into_iter().filter(|e| e.source == Source::Portal), 3);
    assert!(!next.is_empty() && !first.is_empty());
    let replica = |clock_ahead_ms| CycleOptions { clock_ahead_ms, ..CycleOptions::default() };
    let hour = 3_600_000;

    ioc_e2e::load::insert_events(&client, &first).await.expect("first events stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let ahead = refresh_source_in(&client, Source::Portal, 0, 0, &InsertsInFlight::new(), &replica(hour))
        .await
        .expect("the cycle of the replica ahead");
    let facts_before_next = dossiers(&clickhouse).await;
    ioc_e2e::load::insert_events(&client, &next).await.expect("next events stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let on_time =
        refresh_source_in(&client, Source::Portal, ahead.covered_until, 0, &InsertsInFlight::new(), &replica(0))
            .await
            .expect("the cycle of the replica on time");
    let incremental = measures(&clickhouse).await;
    let facts_after_next = dossiers(&clickhouse).await;
    refresh_source_in(&client, Source::Portal, 0, 0, &InsertsInFlight::new(), &replica(2 * hour))
        .await
        .expect("recomputation");
    let recomputed = measures(&clickhouse).await;
    drop_database(&clickhouse).await;

    assert!(on_time.events > 0 && on_time.months > 0, "the replica on time took nothing in: {on_time:?}");
    // Dossiers whose facts the replica ahead wrote and the next events changed: the case itself.
    let changed = facts_before_next
        .iter()
        .filter(|(id, before)| facts_after_next.get(*id).is_some_and(|after| after != *before))
        .count();
    assert!(changed > 0, "no dossier's facts changed with its next events: the test shows nothing");
    assert_same(&recomputed, &incremental);
}

/// A node of `rollup_clickhouse_urls` that takes connections and never answers (a hung disk, a
/// network cut after connecting) held the rollup for good, from the start's first read of the
/// progress. Silent from the start, it now costs the start a wait for its reads of the progress
/// and another for its sweep of staging tables; the progress is read from the next node, and
/// the cycles run there. Falling silent while the cycles run on it, it costs one cycle the
/// timeout, and the rollup moves on; the measures then equal a recomputation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_stops_answering_costs_a_timeout_and_the_rollup_moves_on() {
    let clickhouse =
        ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_silent_node_"), ioc_e2e::clickhouse_url()).await;
    let client = clickhouse.client();
    let today = ioc_domain::local_today();
    let events = simulated(&Scenario { start: today - chrono::Days::new(10), days: 10, scale: 0.02 }, 927);
    let (later, first) = every_nth(events, 3);
    ioc_e2e::load::insert_events(&client, &first).await.expect("events stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let recorded = start_once(&client, false, None).await;
    assert!(recorded.iter().all(|months| *months > 0), "the first start recomputed nothing: {recorded:?}");
    let node: std::net::SocketAddr =
        clickhouse.url.trim_start_matches("http://").parse().expect("the test's ClickHouse is host:port");
    let nodes_after = |relay: &Relay| {
        let relayed = ioc_clickhouse::ClickHouseConfig { url: relay.url.clone(), ..clickhouse.clone() }
            .client_connecting_within(NODE_CONNECT_TIMEOUT);
        RollupNodes::new(vec![(relay.url.clone(), relayed), ("the test's database".to_owned(), client.clone())])
    };
    // Every read of a node has it, the healthy ones' too: well above what a cycle on these few
    // events takes in a debug build on a busy machine, or one slow cycle counts as a failure.
    let timeout = Duration::from_secs(5);
    // A liveness bound, not a measure: the waits are seconds.
    let bound = Duration::from_secs(90);

    // Silent from the start.
    let silent = Relay::start(node).await;
    silent.silence();
    let metrics = ProcessorMetrics::new().expect("metrics");
    let task = RollupTask { node_timeout: timeout, ..task_on(nodes_after(&silent), &metrics) };
    run_until_every_source_cycled(task, &metrics, bound).await;
    let (resumed, failed_at_start, node_at_start) = (months(&metrics), failures(&metrics), metrics.rollup_node.get());

    // Silent while the cycles run on it.
    let relay = Relay::start(node).await;
    let metrics = ProcessorMetrics::new().expect("metrics");
    let task = RollupTask { node_timeout: timeout, ..task_on(nodes_after(&relay), &metrics) };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(ioc_processor::rollup::run(task, stopped));
    wait_for_cycles(&metrics, [1, 1, 1], bound).await;
    let node_before = metrics.rollup_node.get();
    relay.silence();
    ioc_e2e::load::insert_events(&client, &later).await.expect("later events stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // A cycle under way may have begun before the later events: two more each.
    wait_for_cycles(&metrics, cycles(&metrics).map(|done| done + 2), bound).await;
    stop.send(true).expect("task running");
    running.await.expect("task ended");
    let (failed_under_way, node_after) = (failures(&metrics), metrics.rollup_node.get());
    let incremental = measures(&clickhouse).await;
    for source in Source::ALL {
        refresh_source(&client, source, 0, 0).await.expect("recomputation");
    }
    let recomputed = measures(&clickhouse).await;
    drop_database(&clickhouse).await;

    assert_eq!(resumed, [0, 0, 0], "months recomputed at a start that should have resumed from the next node");
    assert_eq!(failed_at_start, [0, 0, 0], "failed cycles: the cycles did not start on the node that answered");
    assert_eq!(node_at_start, 1, "the cycles are not on the node that answered the start");
    assert_eq!(node_before, 0, "the cycles did not start on the relay while it answered");
    assert_eq!(failed_under_way.iter().sum::<u64>(), 1, "failed cycles per source: {failed_under_way:?}");
    assert_eq!(node_after, 1, "the rollup did not move on from the silent node");
    assert!(!recomputed.is_empty(), "nothing to compare: the events made no measures");
    assert_same(&recomputed, &incremental);
}

/// Starts the rollup task on `client`'s database, lets every source finish a cycle, stops it and
/// returns the months each source recomputed (in `Source::ALL`'s order). `facts_slice`: the most
/// events of touched dossiers a facts query takes in (the default when `None`).
async fn start_once(client: &clickhouse::Client, recompute_on_start: bool, facts_slice: Option<u64>) -> [u64; 3] {
    start_looking_back(client, recompute_on_start, facts_slice, 0).await
}

/// `start_once` with a start that resumes `lookback` seconds before the progress recorded.
async fn start_looking_back(
    client: &clickhouse::Client,
    recompute_on_start: bool,
    facts_slice: Option<u64>,
    lookback: u32,
) -> [u64; 3] {
    let metrics = ProcessorMetrics::new().expect("metrics");
    let task = RollupTask {
        recompute_on_start,
        resume_lookback_seconds: lookback,
        facts_events_per_slice: facts_slice.unwrap_or(CycleOptions::default().facts_events_per_slice),
        ..task_on(RollupNodes::one("the test's database", client.clone()), &metrics)
    };
    run_until_every_source_cycled(task, &metrics, Duration::from_secs(120)).await;
    months(&metrics)
}

/// The rollup task of every source on `nodes`, counting into `metrics`, resuming from the
/// progress recorded, with cycles every 100 ms.
fn task_on(nodes: RollupNodes, metrics: &ProcessorMetrics) -> RollupTask {
    RollupTask {
        nodes,
        sources: Source::ALL.to_vec(),
        interval: Duration::from_millis(100),
        recompute_on_start: false,
        resume_lookback_seconds: 0,
        facts_events_per_slice: CycleOptions::default().facts_events_per_slice,
        margin_seconds: 0,
        metrics: metrics.clone(),
        inserts: InsertsInFlight::new(),
        node_timeout: Duration::from_secs(600),
    }
}

/// Runs `task` until every source has finished a cycle (failing after `bound`), then stops it
/// and waits for its last cycles.
async fn run_until_every_source_cycled(task: RollupTask, metrics: &ProcessorMetrics, bound: Duration) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(ioc_processor::rollup::run(task, stopped));
    wait_for_cycles(metrics, [1, 1, 1], bound).await;
    stop.send(true).expect("task running");
    running.await.expect("task ended");
}

/// Waits until each source (in `Source::ALL`'s order) has finished at least `wanted` cycles,
/// failing after `bound`.
async fn wait_for_cycles(metrics: &ProcessorMetrics, wanted: [u64; 3], bound: Duration) {
    let waiting = std::time::Instant::now();
    while cycles(metrics).iter().zip(wanted).any(|(done, wanted)| *done < wanted) {
        assert!(
            waiting.elapsed() < bound,
            "not {wanted:?} cycles in {bound:?}: {:?} done, failures {:?}",
            cycles(metrics),
            failures(metrics)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Each source's finished cycles, in `Source::ALL`'s order (`failures` and `months`: its failed
/// cycles and the months they recomputed).
fn cycles(metrics: &ProcessorMetrics) -> [u64; 3] {
    Source::ALL.map(|source| metrics.rollup_seconds.with_label_values(&[source.as_str()]).get_sample_count())
}

fn failures(metrics: &ProcessorMetrics) -> [u64; 3] {
    Source::ALL.map(|source| metrics.rollup_failures.with_label_values(&[source.as_str()]).get())
}

fn months(metrics: &ProcessorMetrics) -> [u64; 3] {
    Source::ALL.map(|source| metrics.rollup_months.with_label_values(&[source.as_str()]).get())
}

/// Every statement a cycle sends runs with ClickHouse's `use_index_for_in_with_subqueries` off
/// (rollup/sets_once.rs): on 18.16 it made each `IN (SELECT ...)` run again at every level of
/// the query's analysis, about fifteen times in the portal's facts query, each time reading the
/// whole history. Checked in ClickHouse's own log of the statements: an incremental cycle of
/// each source over the latest days, whose statements hold such subqueries (the portal's
/// touched and facts queries, the e-documents' and training's measures of the latest months).
#[tokio::test]
async fn every_statement_of_a_cycle_runs_its_subqueries_once() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_rollup_"), ioc_e2e::clickhouse_url()).await;
    let client = clickhouse.client();
    let today = ioc_domain::local_today();
    let start = today - chrono::Days::new(4);
    let (newest, older) = every_nth(simulated(&Scenario { start, days: 4, scale: 0.01 }, 4141), 5);
    let since = rolled_up_then_stored(&client, &older, &newest).await;
    // The statements of these cycles are logged, under an id of their own (they run one after
    // the other, so they may share it).
    let marker = uuid::Uuid::new_v4().to_string();
    let logged = client.clone().with_setting("log_queries", "1").with_setting("query_id", marker.as_str());
    for (source, since) in Source::ALL.into_iter().zip(since) {
        refresh_source(&logged, source, since, 0).await.expect("incremental cycle");
    }
    client.query("SYSTEM FLUSH LOGS").execute().await.expect("logs flushed");
    let statements = tsv(
        &clickhouse,
        format!(
            "SELECT Settings.Values[indexOf(Settings.Names, 'use_index_for_in_with_subqueries')], \
                    replaceRegexpAll(query, '\\\\s+', ' ') AS text \
             FROM system.query_log \
             WHERE type = 2 AND query_id = '{marker}' AND text LIKE '% IN (SELECT%' \
             FORMAT TSVRaw"
        ),
    )
    .await;
    drop_database(&clickhouse).await;
    let lines: Vec<&str> = statements.lines().collect();
    for wanted in ["INSERT INTO dossier_facts", "AS old_months", "FROM edoc_events", "FROM training_milestones"] {
        assert!(lines.iter().any(|line| line.contains(wanted)), "no logged statement with {wanted:?}: {lines:#?}");
    }
    for line in &lines {
        assert!(line.starts_with("0\t"), "a statement ran its subqueries at each analysis: {line}");
    }
}

/// Stores `first`, rolls every source up from nothing, then stores `then`; returns where each
/// source's first cycle stopped (`covered_until`, in `Source::ALL`'s order), from which the
/// incremental cycles over `then` start. The pauses date each insert in a second of its own
/// (`inserted_at`), apart from the cycles'.
async fn rolled_up_then_stored(client: &clickhouse::Client, first: &[Event], then: &[Event]) -> Vec<u32> {
    ioc_e2e::load::insert_events(client, first).await.expect("first events stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut since = Vec::new();
    for source in Source::ALL {
        since.push(refresh_source(client, source, 0, 0).await.expect("first cycle").covered_until);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    ioc_e2e::load::insert_events(client, then).await.expect("later events stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    since
}

/// Splits `events` into every `nth` one, to be inserted later, and the others, and makes the
/// copies of the raw tables (`{table}_slow`) the later ones are staged in before
/// `move_in_dated` moves them in. Every source has some of both.
async fn set_apart(client: &clickhouse::Client, events: Vec<Event>, nth: usize) -> (Vec<Event>, Vec<Event>) {
    let (later, now) = every_nth(events, nth);
    for source in Source::ALL {
        assert!(later.iter().any(|e| e.source == source), "no {source} event set apart");
        assert!(now.iter().any(|e| e.source == source), "no {source} event left");
        let table = source.events_table();
        client.query(&format!("CREATE TABLE {table}_slow AS {table}")).execute().await.expect("copy");
    }
    (later, now)
}

/// Splits `events` into every `nth` one (the first, then every nth after it) and the others.
fn every_nth(events: impl IntoIterator<Item = Event>, nth: usize) -> (Vec<Event>, Vec<Event>) {
    let (chosen, others): (Vec<_>, Vec<_>) = events.into_iter().enumerate().partition(|(index, _)| index % nth == 0);
    (chosen.into_iter().map(|(_, e)| e).collect(), others.into_iter().map(|(_, e)| e).collect())
}

/// Moves the rows of `{table}_slow` into `table` with `inserted_at` = `dated`.
async fn move_in_dated(client: &clickhouse::Client, table: &str, dated: u32) {
    let columns: Vec<String> = client
        .query(
            "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = ? \
             AND default_kind NOT IN ('MATERIALIZED', 'ALIAS')",
        )
        .bind(table)
        .fetch_all()
        .await
        .expect("columns");
    assert!(columns.iter().any(|c| c == "inserted_at"), "{table} has no inserted_at");
    let values: Vec<String> = columns
        .iter()
        .map(|c| if c == "inserted_at" { format!("toDateTime({dated}) AS inserted_at") } else { c.clone() })
        .collect();
    let sql = format!("INSERT INTO {table} ({}) SELECT {} FROM {table}_slow", columns.join(", "), values.join(", "));
    client.query(&sql).execute().await.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The processor's writers hold their source's rollup cycles back while a batch is not stored:
/// a view on the portal's raw table that refuses every insert keeps the processor retrying one
/// batch (its rows are in the table, the insert fails after them); meanwhile the portal's
/// `covered_until` must stay at or before the batch's first attempt, and the other sources' move
/// on. Once the view is dropped, the batch is stored and the portal's cycles move on too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_not_yet_stored_holds_its_source_s_cycles_back() {
    let (kafka, clickhouse) = ioc_e2e::fresh_stack("rif", "ioc_inflight_").await;
    let _dropped = ioc_e2e::DropDatabase::at_end(&clickhouse);
    let client = clickhouse.client();
    client
        .query(&format!(
            "CREATE MATERIALIZED VIEW refuse_portal ENGINE = Memory AS SELECT throwIf(length(event_id) > 0) AS refused FROM {}",
            Source::Portal.events_table()
        ))
        .execute()
        .await
        .expect("refusing view");
    let keys = ioc_e2e::random_keys();
    let mut processor = ServiceProcess::processor("processor-inflight", &kafka, &clickhouse, &[]).await;
    let mut ingest = ServiceProcess::ingest("ingest-inflight", &kafka, &keys, &[]).await;
    let covered = |source: Source| {
        let url = processor.url.clone();
        async move {
            ioc_e2e::metric(
                &url,
                "ioc_processor_rollup_covered_until_timestamp_seconds",
                &[("source", source.as_str())],
            )
            .await
            .unwrap_or(0.0)
        }
    };
    let now = || {
        let client = client.clone();
        async move { client.query("SELECT toUInt32(now())").fetch_one::<u32>().await.expect("now") }
    };
    let event = EXAMPLE.replace('\n', "");
    let response = ioc_e2e::post_ndjson(&ingest.url, Source::Portal, &keys[&Source::Portal], event).await;
    assert_eq!(response.status(), 200);
    // The batch reaches ClickHouse, which refuses it again and again; its first attempt began
    // at `tried` or before, and dated its rows at `tried + 1` at the latest (a second ahead when
    // a portal cycle had claimed the second it began in).
    let failures = || ioc_e2e::metric(&processor.url, "ioc_processor_insert_failures_total", &[]);
    let started = std::time::Instant::now();
    while failures().await.unwrap_or(0.0) < 1.0 {
        assert!(started.elapsed() < Duration::from_secs(60), "the processor never tried the batch");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let tried = now().await;
    // Long enough for cycles not held back to cover two seconds past it.
    while now().await < tried + 3 || failures().await.unwrap_or(0.0) < 3.0 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The e-documents' cycles go on past it (a round may take seconds here: the held portal
    // re-reads every refused attempt's rows), while the portal's stay behind the batch, in a
    // cycle that began after the e-documents' passed it.
    let portal = [("source", Source::Portal.as_str())];
    let portal_cycles = || ioc_e2e::metric(&processor.url, "ioc_processor_rollup_seconds_count", &portal);
    let started = std::time::Instant::now();
    loop {
        let other = covered(Source::Edoc).await;
        if other > f64::from(tried) + 2.0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the e-documents' cycles stopped at {other} with the portal's batch"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cycles_then = portal_cycles().await.unwrap_or(0.0);
    while portal_cycles().await.unwrap_or(0.0) <= cycles_then {
        assert!(started.elapsed() < Duration::from_secs(120), "no portal cycle after the e-documents' passed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let held = covered(Source::Portal).await;
    assert!(
        held > 0.0 && held <= f64::from(tried) + 1.0,
        "the portal's cycles covered {held}, past its batch tried at {tried}"
    );

    client.query("DROP TABLE refuse_portal").execute().await.expect("view dropped");
    let started = std::time::Instant::now();
    while covered(Source::Portal).await <= f64::from(tried) + 1.0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the portal's cycles stayed held after the batch was stored"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The stored rows carry the date of the batch's first attempt, the one the cycles were held
    // at, not that of the attempt that succeeded seconds later.
    let (first, last): (u32, u32) = client
        .query("SELECT toUInt32(min(inserted_at)), toUInt32(max(inserted_at)) FROM portal_events")
        .fetch_one()
        .await
        .expect("dates");
    assert!(first + 5 >= tried && last <= tried + 1, "rows dated {first} to {last}, first tried at {tried}");
    ingest.terminate(Duration::from_secs(20)).await;
    processor.terminate(Duration::from_secs(20)).await;
}

/// A canary probe (services/simulator/src/canary.rs) is a row of its source's table with no
/// entity, and ioc-canary sends one per source every minute for as long as it runs. A cycle that
/// takes probes in must recompute nothing: taken as one entity, every probe ever stored sent the
/// portal's and the e-documents' cycles back to the month of the first one (all of the history
/// after a few months of production), at every probe. The probe still counts as the source's
/// newest event, which is what the canary waits for.
#[tokio::test]
async fn a_canary_probe_recomputes_no_month() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_rollup_"), ioc_e2e::clickhouse_url()).await;
    let client = clickhouse.client();
    let now = chrono::Utc::now().trunc_subsecs(0);
    let probes = |at: chrono::DateTime<chrono::Utc>| -> Vec<Event> {
        Source::ALL
            .into_iter()
            .map(|source| Event {
                event_id: uuid::Uuid::new_v4(),
                source,
                occurred_at: at.with_timezone(&ioc_domain::local_offset()),
                unit_code: ioc_domain::CANARY_UNIT_CODE.to_owned(),
                received_at: None,
                body: ioc_domain::EventBody::CanaryProbe(ioc_domain::CanaryProbe {}),
            })
            .collect()
    };
    // The canary has run for five months, beside the sources' events, rolled up.
    let five_months_ago = now - chrono::Duration::days(150);
    let mut history = simulated(&Scenario { start: five_months_ago.date_naive(), days: 3, scale: 0.01 }, 151);
    history.extend(probes(five_months_ago));
    let since = rolled_up_then_stored(&client, &history, &probes(now)).await;
    let mut outcomes = Vec::new();
    for (source, since) in Source::ALL.into_iter().zip(since) {
        outcomes.push((source, since, refresh_source(&client, source, since, 0).await.expect("cycle")));
    }
    drop_database(&clickhouse).await;
    for (source, since, outcome) in outcomes {
        assert_eq!((outcome.events, outcome.months), (0, 0), "{source}: a cycle over a probe recomputed: {outcome:?}");
        assert!(outcome.covered_until > since, "{source}: the cycle did not cover the probe: {outcome:?}");
        assert_eq!(outcome.newest_event as i64, now.timestamp(), "{source}: the probe is not the newest event");
    }
}

/// The task gives each cycle the newest event its source's last cycle found
/// (`CycleOptions::newest_event_seen`), and the cycle looks for the newest event from there on,
/// leaving the months before unread. Events are never taken away, but an operator may remove
/// some (ops/runbook.md): with nothing stored from the newest seen on, the cycle looks again
/// everywhere. Either way the newest event is the newest stored.
#[tokio::test]
async fn the_newest_event_is_looked_for_from_the_one_seen_and_everywhere_once_that_is_gone() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_rollup_"), ioc_e2e::clickhouse_url()).await;
    let client = clickhouse.client();
    let start = ioc_domain::local_today() - chrono::Days::new(45);
    let events = simulated(&Scenario { start, days: 3, scale: 0.01 }, 152);
    ioc_e2e::load::insert_events(&client, &events).await.expect("stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut failures = Vec::new();
    for source in Source::ALL {
        let sql = format!("SELECT toUInt32(max(occurred_at)) FROM {}", source.events_table());
        let stored: u32 = client.query(&sql).fetch_one().await.expect("newest stored");
        let first = refresh_source(&client, source, 0, 0).await.expect("first cycle");
        // The one seen; one a month older; one forty days after every event stored.
        for seen in [first.newest_event, stored - 30 * 86_400, stored + 40 * 86_400] {
            let options = CycleOptions { newest_event_seen: seen, ..CycleOptions::default() };
            let inserts = InsertsInFlight::new();
            let outcome =
                refresh_source_in(&client, source, first.covered_until, 0, &inserts, &options).await.expect("cycle");
            if outcome.newest_event != stored {
                failures.push(format!("{source}: newest {} from {seen}, {stored} stored", outcome.newest_event));
            }
        }
    }
    drop_database(&clickhouse).await;
    assert!(failures.is_empty(), "{failures:#?}");
}

/// A work record closed months after it was opened recomputes the month it closed in only:
/// each e-documents measure is dated on a document's or record's first event of its type, so a
/// new event cannot move a date to before its own time (cycle.rs, `touched_sql`). Looking back to
/// the record's opening, as the cycle did, recomputed every month since then at every closure.
#[tokio::test]
async fn a_record_closed_months_after_its_opening_recomputes_its_closing_month_only() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_rollup_"), ioc_e2e::clickhouse_url()).await;
    let client = clickhouse.client();
    let now = chrono::Utc::now().trunc_subsecs(0);
    let record = |kind: &str, at: chrono::DateTime<chrono::Utc>| -> Event {
        let path = ioc_e2e::repo_root().join(format!("schemas/events/examples/valid/{kind}.json"));
        let mut event: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("example")).expect("json");
        event["event_id"] = uuid::Uuid::new_v4().to_string().into();
        event["occurred_at"] = at.with_timezone(&ioc_domain::local_offset()).to_rfc3339().into();
        event["unit_code"] = "SNV".into();
        event["record_id"] = "HSCV-SNV-LONG-OPEN".into();
        event["level"] = "province".into();
        Event::from_json_slice(event.to_string().as_bytes()).expect("a valid event")
    };
    // Five months ago: a few days of the sources' events and the record's opening, rolled up.
    let opened_at = now - chrono::Duration::days(150);
    let mut history = simulated(&Scenario { start: opened_at.date_naive(), days: 3, scale: 0.01 }, 152);
    history.push(record("work_record.opened", opened_at));
    ioc_e2e::load::insert_events(&client, &history).await.expect("history stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let since = refresh_source(&client, Source::Edoc, 0, 0).await.expect("first cycle").covered_until;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    ioc_e2e::load::insert_events(&client, &[record("work_record.closed", now)]).await.expect("closure stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let closing = refresh_source(&client, Source::Edoc, since, 0).await.expect("cycle");
    let incremental = measures(&clickhouse).await;
    refresh_source(&client, Source::Edoc, 0, 0).await.expect("recomputation");
    let recomputed = measures(&clickhouse).await;
    drop_database(&clickhouse).await;

    assert_eq!((closing.events, closing.months), (1, 1), "the closure's cycle: {closing:?}");
    let today = now.with_timezone(&ioc_domain::local_offset()).date_naive();
    let counted = format!("measures_daily\tedoc\t{today}\tSNV\twork_records_closed\tprovince\t1");
    assert!(recomputed.contains(&counted), "the closure is not counted today: no {counted:?}");
    assert_same(&recomputed, &incremental);
}

/// A dossier due in a far year (ingest bounds an event's time, not the due time it carries)
/// must not make every cycle swap each month up to its due time: only the months that hold rows
/// are swapped (cycle.rs, `fill_and_swap`).
#[tokio::test]
async fn a_far_due_time_swaps_only_the_months_that_hold_rows() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_rollup_"), ioc_e2e::clickhouse_url()).await;
    let client = clickhouse.client();
    let now = chrono::Utc::now().trunc_subsecs(0).with_timezone(&ioc_domain::local_offset());
    let mut dossier: serde_json::Value = serde_json::from_str(EXAMPLE).expect("json");
    dossier["occurred_at"] = now.to_rfc3339().into();
    dossier["due_at"] = "2099-06-30T17:00:00+07:00".into();
    let event = Event::from_json_slice(dossier.to_string().as_bytes()).expect("a valid event");
    ioc_e2e::load::insert_events(&client, &[event]).await.expect("stored");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let first = refresh_source(&client, Source::Portal, 0, 0).await.expect("cycle");
    let months: Vec<u32> = client
        .query("SELECT DISTINCT toUInt32(toYYYYMM(day)) FROM measures_daily WHERE source = 'portal'")
        .fetch_all()
        .await
        .expect("months");
    drop_database(&clickhouse).await;
    assert!(months.contains(&209_906), "the dossier is not counted late in June 2099: {months:?}");
    assert_eq!(first.months, months.len(), "months swapped against those that hold rows {months:?}: {first:?}");
}

/// A cycle killed midway leaves its staging tables; the next start drops those older than the
/// age it is given, and nothing else.
#[tokio::test]
async fn staging_tables_left_by_a_killed_cycle_are_dropped_and_nothing_else() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_staging_"), ioc_e2e::clickhouse_url()).await;
    let client = clickhouse.client();
    let left = ["measures_staging_portal_0123456789abcdef", "measures_staging_m_portal_0123456789abcdef"];
    for table in left {
        client.query(&format!("CREATE TABLE {table} AS measures_daily")).execute().await.expect("staging table");
    }
    let tables = |client: clickhouse::Client| async move {
        let sql = "SELECT name FROM system.tables WHERE database = currentDatabase() ORDER BY name";
        client.query(sql).fetch_all::<String>().await.expect("tables")
    };
    let before = tables(client.clone()).await;
    // Times are whole seconds: two of them make the tables older than one.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // Younger than an hour: kept (a cycle of another replica may be using it).
    let kept = drop_abandoned_staging(&client, Duration::from_secs(3600)).await.expect("looked");
    assert_eq!((kept, tables(client.clone()).await), (0, before.clone()));
    let dropped = drop_abandoned_staging(&client, Duration::from_secs(1)).await.expect("dropped");
    let after = tables(client.clone()).await;
    drop_database(&clickhouse).await;
    assert!(before.iter().any(|name| name == "measures_daily") && before.len() > 10, "{before:?}");
    let expected: Vec<String> = before.into_iter().filter(|name| !left.contains(&name.as_str())).collect();
    assert_eq!((dropped, after), (2, expected), "exactly the two staging tables go");
}

async fn drop_database(clickhouse: &ioc_clickhouse::ClickHouseConfig) {
    clickhouse
        .server_client()
        .query(&format!("DROP DATABASE IF EXISTS {}", clickhouse.database))
        .execute()
        .await
        .expect("dropped");
}

fn assert_same(recomputed: &[String], incremental: &[String]) {
    // Sets: looking each row up in the other list took a minute with 95,000 rows. The lengths
    // catch a row written twice, which sets would hide.
    let (in_recomputed, in_incremental): (BTreeSet<&String>, BTreeSet<&String>) =
        (recomputed.iter().collect(), incremental.iter().collect());
    let missing: Vec<_> = in_recomputed.difference(&in_incremental).take(10).collect();
    let extra: Vec<_> = in_incremental.difference(&in_recomputed).take(10).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && recomputed.len() == incremental.len(),
        "the incremental cycles differ from a recomputation ({} and {} rows)\nonly in the recomputation: {missing:#?}\n\
         only after the incremental cycles: {extra:#?}",
        recomputed.len(),
        incremental.len()
    );
}
