//! The live months' backdrop of the freshness benchmark.
//!
//! A live cycle recomputes the current month and, when its events reach into it, the one before
//! (processor rollup/cycle.rs, `Span::Latest`), so its cost follows what those two months hold.
//! ioc_bench loads a calendar year that ends before today, and the freshness benchmark's load
//! covers only the days just before today: without more, the months the live cycles recompute
//! held about half a real month of the province, and the cycles timed were cheaper than they
//! would be in production. The backdrop fills every day from the first of the month before the
//! load's first day up to that day, at the province's real volume (`--backdrop-scale`, 1.0),
//! wherever a day holds less than a quarter of it (a day an earlier run's load or backdrop
//! already filled is left as it is; a weekend day of the simulator holds about half a weekday's
//! events, so a half would fill weekends again at every run).

use std::collections::BTreeMap;

use chrono::{Datelike, Months, NaiveDate};
use ioc_reference::ReferenceData;
use ioc_simulator::Scenario;
use rand::SeedableRng;

/// Fills the sparse days of the backdrop before `load_start` (module docs) at `scale` of the
/// province's volume (1.0 for a real figure; the smoke test's small runs take less; 0 adds
/// nothing); returns the events inserted. `events_per_day` is the province's volume of one day
/// at scale 1.0, all sources.
pub async fn fill(
    client: &clickhouse::Client,
    reference: &ReferenceData,
    load_start: NaiveDate,
    scale: f64,
    events_per_day: u64,
) -> anyhow::Result<usize> {
    if scale <= 0.0 {
        return Ok(0);
    }
    let first = backdrop_start(load_start);
    let stored = events_per_day_stored(client, first, load_start).await?;
    let enough = (events_per_day as f64 * scale / 4.0).ceil() as u64;
    let mut inserted = 0;
    for (start, days) in sparse_runs(first, load_start, &stored, enough) {
        // Seeded by the run's first day: a rerun of the same days makes the same events, which the
        // raw tables keep once (ReplacingMergeTree on the event id).
        let seed = u64::try_from(start.num_days_from_ce()).unwrap_or(0);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let (events, _) = ioc_simulator::generate::generate(&Scenario { start, days, scale }, reference, &mut rng);
        crate::load::insert_events(client, &events).await?;
        inserted += events.len();
    }
    Ok(inserted)
}

/// Folds the duplicate rows of the months from the backdrop's first to `today`'s in the raw
/// tables (`OPTIMIZE ... PARTITION ... FINAL`); returns how many month partitions it folded. A
/// rerun on the same day sends the same load again (same seed, same days): the raw tables keep
/// one row per event once ClickHouse merges them, but until then every rerun left its copy, and
/// six runs in a day left 640,000 extra portal rows in the month and slowed its cycles. Folding
/// first makes each run start from one copy, as production would hold.
pub async fn fold_duplicates(
    client: &clickhouse::Client,
    load_start: NaiveDate,
    today: NaiveDate,
) -> anyhow::Result<usize> {
    let months = months_between(backdrop_start(load_start), today);
    for table in ioc_domain::Source::ALL.map(|source| source.events_table()) {
        for month in &months {
            let partition = month.year() * 100 + month.month() as i32;
            client.query(&format!("OPTIMIZE TABLE {table} PARTITION {partition} FINAL")).execute().await?;
        }
    }
    Ok(months.len() * ioc_domain::Source::ALL.len())
}

/// The first days of the months from `first`'s to `last`'s, both included.
fn months_between(first: NaiveDate, last: NaiveDate) -> Vec<NaiveDate> {
    let mut month = first.with_day(1).unwrap_or(first);
    let mut months = Vec::new();
    while month <= last {
        months.push(month);
        month = month.checked_add_months(Months::new(1)).unwrap_or(NaiveDate::MAX);
    }
    months
}

/// The first day of the backdrop: the first of the month before the one `load_start` is in.
fn backdrop_start(load_start: NaiveDate) -> NaiveDate {
    let month = load_start.with_day(1).unwrap_or(load_start);
    month.checked_sub_months(Months::new(1)).unwrap_or(month)
}

/// The events of every source stored per local day from `first` to before `end`, the canary
/// unit aside.
async fn events_per_day_stored(
    client: &clickhouse::Client,
    first: NaiveDate,
    end: NaiveDate,
) -> anyhow::Result<BTreeMap<NaiveDate, u64>> {
    let mut per_day = BTreeMap::new();
    for table in ioc_domain::Source::ALL.map(|source| source.events_table()) {
        let rows: Vec<(u16, u64)> = client
            .query(&format!(
                "SELECT toUInt16(toDate(occurred_at)), toUInt64(count()) FROM {table} \
                 WHERE occurred_at >= toDateTime(toDate(?), 'Asia/Ho_Chi_Minh') \
                   AND occurred_at < toDateTime(toDate(?), 'Asia/Ho_Chi_Minh') AND unit_code != ? \
                 GROUP BY toDate(occurred_at)"
            ))
            .bind(first.to_string())
            .bind(end.to_string())
            .bind(ioc_domain::CANARY_UNIT_CODE)
            .fetch_all()
            .await?;
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        for (day, events) in rows {
            *per_day.entry(epoch + chrono::Days::new(u64::from(day))).or_insert(0) += events;
        }
    }
    Ok(per_day)
}

/// The runs of consecutive days from `first` to before `end` holding fewer than `enough`
/// events in `stored`, as (first day, days), each within one month (the year is loaded a month
/// at a time too, which bounds the events held in memory).
fn sparse_runs(
    first: NaiveDate,
    end: NaiveDate,
    stored: &BTreeMap<NaiveDate, u64>,
    enough: u64,
) -> Vec<(NaiveDate, u32)> {
    let mut runs: Vec<(NaiveDate, u32)> = Vec::new();
    let mut day = first;
    while day < end {
        if stored.get(&day).copied().unwrap_or(0) < enough {
            match runs.last_mut() {
                Some((start, days))
                    if *start + chrono::Days::new(u64::from(*days)) == day && start.month() == day.month() =>
                {
                    *days += 1;
                }
                _ => runs.push((day, 1)),
            }
        }
        day = day.succ_opt().unwrap_or(end);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    #[test]
    fn the_months_folded_run_from_the_backdrop_s_to_today_s_across_a_new_year() {
        let months = months_between(backdrop_start(day(2026, 12, 20)), day(2027, 1, 3));
        assert_eq!(months, vec![day(2026, 11, 1), day(2026, 12, 1), day(2027, 1, 1)]);
        assert_eq!(months_between(day(2026, 11, 15), day(2026, 11, 30)), vec![day(2026, 11, 1)]);
    }

    #[test]
    fn the_backdrop_begins_on_the_first_of_the_month_before_the_load() {
        assert_eq!(backdrop_start(day(2026, 11, 16)), day(2026, 10, 1));
        assert_eq!(backdrop_start(day(2026, 1, 1)), day(2025, 12, 1));
    }

    #[test]
    fn only_sparse_days_are_filled_in_runs_that_stay_within_a_month() {
        let mut stored = BTreeMap::new();
        stored.insert(day(2026, 10, 2), 40_000);
        stored.insert(day(2026, 10, 3), 19_999);
        stored.insert(day(2026, 11, 2), 20_000);
        let runs = sparse_runs(day(2026, 10, 1), day(2026, 11, 4), &stored, 20_000);
        assert_eq!(
            runs,
            vec![(day(2026, 10, 1), 1), (day(2026, 10, 3), 29), (day(2026, 11, 1), 1), (day(2026, 11, 3), 1)]
        );
        assert_eq!(sparse_runs(day(2026, 10, 1), day(2026, 10, 1), &stored, 1), vec![]);
    }
}
