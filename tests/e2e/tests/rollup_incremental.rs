//! The rollup cycle looks back only as far as the newly inserted events can change a measure
//! (rollup/cycle.rs, `touched_sql`): late events dated in a month already rolled up, arriving
//! with events of a later month, must still change that month. Checked as an invariant: the
//! measures after the incremental cycles equal those of a recomputation from nothing, over the
//! same raw events, on the real ClickHouse. The indicators themselves are checked against the
//! simulator's ground truth elsewhere (pipeline.rs, province_month.rs); this test isolates the
//! look-back, which those reach only when a cycle's events straddle months, and the cheaper
//! form of the measures queries used when only the latest months are recomputed
//! (`rollup::Span`).

use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use ioc_domain::{Event, Source};
use ioc_processor::rollup::{drop_abandoned_staging, refresh_source, refresh_source_in, Span};
use ioc_reference::ReferenceData;
use ioc_simulator::Scenario;
use rand::SeedableRng;

/// Every row of both measure tables, as text, in a fixed order.
async fn measures(clickhouse: &ioc_clickhouse::ClickHouseConfig) -> Vec<String> {
    let mut rows = Vec::new();
    for (table, time) in [("measures_daily", "day"), ("measures_monthly", "month")] {
        let sql = format!(
            "SELECT source, {time}, unit_code, measure, dimension, value FROM {table} \
             ORDER BY source, {time}, unit_code, measure, dimension FORMAT TSV"
        );
        let text = reqwest::Client::new()
            .post(format!("{}/?database={}", clickhouse.url, clickhouse.database))
            .body(sql)
            .send()
            .await
            .expect("ClickHouse answers")
            .text()
            .await
            .expect("text");
        rows.extend(text.lines().map(|line| format!("{table}\t{line}")));
    }
    rows
}

#[tokio::test]
async fn late_events_of_a_month_already_rolled_up_change_it() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_rollup_"), ioc_e2e::clickhouse_url()).await;
    let client = clickhouse.client();
    let reference = ReferenceData::load(&ioc_e2e::repo_root().join("schemas/reference")).expect("reference");
    let start = NaiveDate::from_ymd_opt(2026, 10, 1).expect("date");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(920);
    let (events, _) =
        ioc_simulator::generate::generate(&Scenario { start, days: 40, scale: 0.03 }, &reference, &mut rng);
    let (earlier, later): (Vec<Event>, Vec<Event>) = events.into_iter().partition(|e| e.occurred_at.month() == 10);
    assert!(!earlier.is_empty() && !later.is_empty());

    // November first, rolled up completely.
    ioc_e2e::load::insert_events(&client, &later).await.expect("november stored");
    let mut since = Vec::new();
    for source in Source::ALL {
        since.push(refresh_source(&client, source, 0, 0).await.expect("first cycle").covered_until);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Then October arrives late, in one insert with a redelivered November event of each
    // source, so the newest event of the cycle is in November and the oldest in October.
    let mut late = earlier;
    for source in Source::ALL {
        late.extend(later.iter().rev().find(|e| e.source == source).cloned());
    }
    ioc_e2e::load::insert_events(&client, &late).await.expect("late events stored");
    for (source, since) in Source::ALL.into_iter().zip(since) {
        refresh_source(&client, source, since, 0).await.expect("incremental cycle");
    }
    let incremental = measures(&clickhouse).await;

    for source in Source::ALL {
        refresh_source(&client, source, 0, 0).await.expect("recomputation");
    }
    let recomputed = measures(&clickhouse).await;
    drop_database(&clickhouse).await;

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
/// dated in this month and the previous one and arrive as live ones would: the older days,
/// rolled up, then the newest, whose dossiers, documents and learners began days before.
#[tokio::test]
async fn the_latest_months_recomputed_from_their_own_entities_equal_a_recomputation() {
    let clickhouse = ioc_e2e::migrated_database(ioc_e2e::random_name("ioc_rollup_"), ioc_e2e::clickhouse_url()).await;
    let client = clickhouse.client();
    let reference = ReferenceData::load(&ioc_e2e::repo_root().join("schemas/reference")).expect("reference");
    let today = chrono::Utc::now().with_timezone(&ioc_domain::local_offset()).date_naive();
    let start = (today - chrono::Months::new(1)).with_day(1).expect("first day");
    let days = u32::try_from((today - start).num_days()).expect("days");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(921);
    let (events, _) = ioc_simulator::generate::generate(&Scenario { start, days, scale: 0.04 }, &reference, &mut rng);
    let cut = start + chrono::Days::new(u64::from(days) * 2 / 3);
    let (older, newest): (Vec<Event>, Vec<Event>) =
        events.into_iter().partition(|e| e.occurred_at.with_timezone(&ioc_domain::local_offset()).date_naive() < cut);
    assert!(!older.is_empty() && !newest.is_empty());

    ioc_e2e::load::insert_events(&client, &older).await.expect("older days stored");
    let mut since = Vec::new();
    for source in Source::ALL {
        since.push(refresh_source(&client, source, 0, 0).await.expect("first cycle").covered_until);
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    ioc_e2e::load::insert_events(&client, &newest).await.expect("newest days stored");
    for (source, since) in Source::ALL.into_iter().zip(since) {
        let outcome = refresh_source(&client, source, since, 0).await.expect("incremental cycle");
        assert!(outcome.latest_only, "{source}: recomputed {} months, not the latest only", outcome.months);
    }
    let incremental = measures(&clickhouse).await;

    for source in Source::ALL {
        refresh_source_in(&client, source, 0, 0, Some(Span::History)).await.expect("recomputation");
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
    let missing: Vec<_> = recomputed.iter().filter(|row| !incremental.contains(row)).take(10).collect();
    let extra: Vec<_> = incremental.iter().filter(|row| !recomputed.contains(row)).take(10).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the incremental cycles differ from a recomputation ({} and {} rows)\nonly in the recomputation: {missing:#?}\n\
         only after the incremental cycles: {extra:#?}",
        recomputed.len(),
        incremental.len()
    );
}
