//! ioc-bench-history: the rollup cycle's cost against the months of history before its live
//! weeks' month (issue 12, goal 3: "independent of how much history exists").
//!
//! A fresh database gets the 28 simulated days that end the month before the current one (the
//! live weeks) and the month before the one they begin in (`--base-months`), then, one month at
//! a time, the months before those, newest first, so that after `k` steps it holds `k` months
//! of history before them. The month before the live weeks belongs to every point because its
//! dossiers are part of the months a live cycle recomputes: received in it and due, resolved
//! or still open in the latest months, they were a fifth of the latest months' dossiers in the
//! run of 2026-12-06 (33,000 of 162,000; the live weeks' own go-live backlog only sends those
//! still open when they begin). Until that day the point with no history left them out, and
//! the figure counted the latest months' missing dossiers as growth from history: the portal's
//! cycle went from 685 to 992 ms with that month loaded, and to 1,221 ms with the year.
//! After each step (and ClickHouse's merges of it),
//! a few slices of live traffic (the live weeks' latest events, in time order) are inserted
//! again, one at a time, and one incremental cycle per source that takes in only that slice is
//! timed. A slice is what one cycle takes in under the freshness run's load: 10,000 events,
//! five seconds of 2,000 events/s (a round of the three sources' cycles with 15 months loaded,
//! about 5 s). Every point replays the same slices, as a redelivery would (the same event ids,
//! which the tables fold), so that the months the cycles recompute hold the same events at
//! every point and only the history before them grows. Until 2026-12-06 each point took new
//! slices, held back from the live weeks: over a run they added 510,000 events to the weeks'
//! 652,000 (390,000 of them while the history grew, the rest in the old dossiers' part below),
//! so the latest months' dossiers (the portal's measures read every one of them) nearly
//! doubled while the history grew, and the figure counted that growth as the history's.
//! Events go straight into the raw tables (ioc_e2e::load),
//! as ioc_bench loads its year, and each load is rolled up before anything is timed, so that
//! the dossiers' facts and the measures of every month loaded are there, as in production: the
//! cycles of a live slice read the facts of the whole history (the portal's measures find their
//! dossiers among every stored dossier's facts), and raw events alone, as this benchmark had
//! until 2026-11-30, left that history out of the figure.
//!
//! Then, with the whole history loaded, slices whose portal events also include one complaint
//! about a dossier received months before (`--old-dossier-months`) time what the portal's cycle
//! costs when it must recompute every month since that dossier's reception
//! (`rollup_cycle_old_dossier_growth`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use chrono::{Datelike, Months, NaiveDate};
use clap::Parser;
use ioc_clickhouse::ClickHouseConfig;
use ioc_domain::{Event, Source};
use ioc_e2e::bench::report::{self, Measure};
use ioc_e2e::bench::svg;
use ioc_processor::ProcessorConfig;
use ioc_reference::ReferenceData;
use ioc_simulator::Scenario;
use rand::SeedableRng;

/// Days of live traffic, the last of the month before the current one: whatever the day of the
/// run, the same volume, in the cycles' latest months (the current one and the one before), and
/// the slices (the live days' latest events) all in one month, so that every timed cycle
/// recomputes from the first of that month (the portal's always from the month before the
/// current one; e-documents' and training's from their new events' month, a whole month as
/// late in a month). A run that passes midnight into a new month finds its slices two months back, in
/// the history form, and stops saying so: run it again. Ending today, the slices (then the
/// latest 510,000 events, about 12 days) of a run early in a month began in the month before
/// and ended in the current one: the first points' e-documents and training cycles
/// recomputed from the month before, the last points' from the current month alone, a
/// smaller recomputation that hid the growth with the history (the run of 2026-12-05: those
/// cycles fell by half from 8 to 9 months loaded, when the slices crossed into December).
const LIVE_DAYS: u32 = 28;

/// The clock margin of the cycles: the processor's default (one ClickHouse server).
const MARGIN_SECONDS: u32 = 0;

#[derive(Parser)]
#[command(about = "Measures the rollup cycle's cost against the months of history")]
struct Cli {
    /// ClickHouse HTTP endpoint.
    #[arg(long, default_value = "http://127.0.0.1:8123")]
    clickhouse: String,
    /// Database to (re)create.
    #[arg(long, default_value = "ioc_bench_history")]
    database: String,
    /// Months before the live weeks' month loaded with them, before anything is timed: the
    /// months whose dossiers reach into the latest months (see the top of this file).
    #[arg(long, default_value_t = 1)]
    base_months: u32,
    /// Months of history to add, one at a time, before those.
    #[arg(long, default_value_t = 12)]
    months: u32,
    /// Share of the province's volume (1.0: about 1.2 million events a month).
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Slices of live traffic timed after each month added (the figure is their median).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Events in one slice: what one cycle takes in at 2,000 events/s (see above).
    #[arg(long, default_value_t = 10_000)]
    slice: usize,
    /// Ages, in months before the live weeks' month, of the dossiers that a slice's portal
    /// cycle is also made to touch once the whole history is loaded (one event each); those
    /// beyond `--months` are left out.
    #[arg(long, value_delimiter = ',', default_values_t = [1_u32, 3, 6, 12])]
    old_dossier_months: Vec<u32>,
    #[command(flatten)]
    outputs: report::Outputs,
    /// Also draw each source's cycle against the months of history, as SVG, into this file.
    #[arg(long)]
    svg: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ioc_service::init_logging();
    let cli = Cli::parse();
    anyhow::ensure!(cli.repeats >= 1 && cli.slice >= 1, "--repeats and --slice: at least 1");
    let reference = ReferenceData::load(&ioc_e2e::repo_root().join("schemas/reference"))?;
    let clickhouse =
        ClickHouseConfig { url: cli.clickhouse.clone(), database: cli.database.clone(), ..ClickHouseConfig::default() };
    clickhouse.server_client().query(&format!("DROP DATABASE IF EXISTS {}", cli.database)).execute().await?;
    ioc_processor::migrate(&ProcessorConfig { clickhouse: clickhouse.clone(), ..ProcessorConfig::default() })
        .await
        .context("migrations")?;
    let client = clickhouse.client();
    let options = ioc_processor::rollup::options_for(&client).await?;

    // The live weeks; their last events are the slices.
    let today = ioc_domain::local_today();
    let live_end = today.with_day(1).context("first of the month")?;
    let live_start = live_end - chrono::Days::new(u64::from(LIVE_DAYS));
    let month_start = live_start.with_day(1).context("first of the month")?;
    let mut live = generated(Scenario { start: live_start, days: LIVE_DAYS, scale: cli.scale }, &reference, 1)?;
    live.sort_by_key(|event| event.occurred_at);
    // Only ages the history reaches (a short run, such as the smoke test's, has fewer months).
    let oldest = cli.base_months + cli.months;
    let ages: Vec<u32> = cli.old_dossier_months.iter().copied().filter(|age| (1..=oldest).contains(age)).collect();
    let replayed = cli.slice * cli.repeats;
    anyhow::ensure!(
        live.len() > replayed,
        "the live weeks hold {} events, not more than the {replayed} events the live slices need: raise --scale",
        live.len()
    );
    // Loaded and rolled up with the rest of the live weeks; every point inserts them again.
    let slices: Vec<Vec<Event>> = live[live.len() - replayed..].chunks(cli.slice).map(<[Event]>::to_vec).collect();
    loaded_and_rolled_up(&client, &live).await?;
    let mut base_events = live.len();
    for age in 1..=cli.base_months {
        let events = month_of(month_start, age, cli.scale, &reference)?;
        base_events += events.len();
        loaded_and_rolled_up(&client, &events).await?;
    }
    // As after each month of history below: the point with no history was otherwise timed
    // against the merging of the live weeks just loaded, and moved by half between runs.
    merged(&client, &cli.database).await?;
    eprintln!(
        "live weeks: {} events from {live_start}, {base_events} with the {} months before; their last {replayed} \
         replayed as live slices",
        live.len(),
        cli.base_months
    );

    let mut series: Vec<svg::Series> =
        Source::ALL.iter().map(|s| svg::Series { name: s.as_str().to_owned(), points: Vec::new() }).collect();
    let mut history_events = 0_usize;
    // At each point (months of history), the portal's cycles that also recomputed old months
    // alone.
    let mut old_months_slices = vec![0_usize; cli.months as usize + 1];
    for months in 0..=cli.months {
        if months > 0 {
            let events = month_of(month_start, cli.base_months + months, cli.scale, &reference)?;
            history_events += events.len();
            loaded_and_rolled_up(&client, &events).await?;
            merged(&client, &cli.database).await?;
        }
        let mut timings: Vec<Vec<f64>> = vec![Vec::new(); Source::ALL.len()];
        for slice in &slices {
            let since = inserted_since(&client, slice).await?;
            for (index, source) in Source::ALL.iter().enumerate() {
                let seen = newest_seen(&client, *source).await?;
                let started = Instant::now();
                let outcome = timed_cycle(&client, &options, *source, since, seen).await?;
                timings[index].push(started.elapsed().as_secs_f64() * 1000.0);
                // A slice is the latest events by time: a small one (the smoke test's) can hold
                // none of a source's, whose cycle then has nothing new to take in.
                let in_slice = slice.iter().any(|event| event.source == *source);
                anyhow::ensure!(
                    outcome.events > 0 || !in_slice,
                    "{source}: the cycle took in none of the slice's events"
                );
                if !in_slice {
                    eprintln!("{source}: no event of it in this slice of {}; its cycle had nothing new", slice.len());
                }
                // A slice can touch a dossier with events before the latest months (received
                // weeks before, on some days of the month): its cycle recomputes those months
                // alone first, as production's does, and is counted in the note.
                anyhow::ensure!(
                    outcome.latest_only || outcome.months == 0 || outcome.old_months_alone,
                    "{source}: a live slice's cycle recomputed {} months in the history form; the slices must be \
                     dated in the current month or the one before",
                    outcome.months
                );
                if *source == Source::Portal {
                    old_months_slices[months as usize] += usize::from(outcome.old_months_alone);
                }
            }
        }
        let medians: Vec<f64> = timings.iter_mut().map(|t| median(t)).collect();
        eprintln!(
            "{months} months of history ({history_events} events): cycle ms {}",
            Source::ALL.iter().zip(&medians).map(|(s, m)| format!("{s} {m:.0}")).collect::<Vec<_>>().join(", ")
        );
        for (line, median) in series.iter_mut().zip(&medians) {
            line.points.push((f64::from(months), *median));
        }
    }

    // A slice whose portal events include one of a dossier received months before (dated with
    // the slice's newest event, the live weeks' last day): a complaint about a dossier resolved long ago, a payment or a rating that comes late, a dossier
    // resolved months past its due time. Its earlier measures change (a complaint flags it where
    // it was received, resolved and closed), so the cycle recomputes every month from its
    // reception on; production sees such events every day, a cycle of a busy minute most likely.
    let mut old_dossier = Vec::new();
    for &age in &ages {
        let month = month_start.checked_sub_months(Months::new(age)).context("month")?;
        let mut timings = Vec::new();
        let mut recomputed = 0;
        for (repeat, slice) in slices.iter().enumerate() {
            let mut slice = slice.clone();
            slice.push(complaint_about_a_dossier_of(&client, month, repeat, &slice).await?);
            let since = inserted_since(&client, &slice).await?;
            let seen = newest_seen(&client, Source::Portal).await?;
            let started = Instant::now();
            let outcome = timed_cycle(&client, &options, Source::Portal, since, seen).await?;
            timings.push(started.elapsed().as_secs_f64() * 1000.0);
            recomputed = outcome.months;
            // The other sources take in their share of the slice, untimed, as the next slice's
            // cycles must not find it.
            for source in [Source::Edoc, Source::Training] {
                ioc_processor::rollup::refresh_source(&client, source, since, MARGIN_SECONDS).await?;
            }
        }
        let portal = median(&mut timings);
        eprintln!(
            "a dossier received {age} months before: portal cycle {portal:.0} ms, {recomputed} months recomputed"
        );
        old_dossier.push((age, portal, recomputed));
    }

    let round = |at: usize| series.iter().map(|line| line.points[at].1).sum::<f64>();
    let (without, with) = (round(0), round(cli.months as usize));
    // Two points of a machine whose runs vary by a fifth say little on their own: the line that
    // fits every point says how much a month of history adds.
    let rounds: Vec<(f64, f64)> = (0..=cli.months as usize).map(|at| (at as f64, round(at))).collect();
    let (intercept, slope) = least_squares(&rounds);
    let per_source = |at: usize| {
        series.iter().map(|line| format!("{} {:.0}", line.name, line.points[at].1)).collect::<Vec<_>>().join(", ")
    };
    let note = format!(
        "one incremental cycle per source for a slice of {} live events, median of {} slices; with {} months of \
         history before the 28 live days and the {} months before them ({history_events} events; per source ms: \
         {}) against none (the live days and those months alone, {base_events} events, the slices' among them; \
         {}); every point replays the same slices; slices whose \
         portal cycle also recomputed months before the latest ones alone (a dossier of the slice has events \
         there, received weeks before it or overdue since): {} of {} with no history, {} of {} with it; the line \
         fitted to every point's round: {intercept:.0} ms plus {slope:.1} ms per month of history, {:.2} times \
         as much with {} months as with none",
        cli.slice,
        cli.repeats,
        cli.months,
        cli.base_months,
        per_source(cli.months as usize),
        per_source(0),
        old_months_slices[0],
        cli.repeats,
        old_months_slices[cli.months as usize],
        cli.repeats,
        (intercept + slope * f64::from(cli.months)) / intercept,
        cli.months
    );
    // "Independent of history": a year of it may add a quarter to a round of cycles at most.
    let mut measures = vec![Measure::compared(
        "rollup_cycle_history_growth",
        "ms per round of the three sources' cycles",
        with,
        without,
        "ratio <= 1.25",
        note,
    )];
    let portal_alone = series[0].points[cli.months as usize].1;
    if let Some(&(age, portal, recomputed)) = old_dossier.iter().max_by_key(|(age, ..)| *age) {
        let others = old_dossier
            .iter()
            .map(|(age, ms, months)| format!("{age} months: {ms:.0} ms, {months} months recomputed"))
            .collect::<Vec<_>>()
            .join("; ");
        measures.push(Measure::compared(
            "rollup_cycle_old_dossier_growth",
            "ms, the portal's cycle",
            portal,
            portal_alone,
            "ratio <= 1.25",
            format!(
                "with {} months of history, one portal cycle for a slice of {} live events and one complaint about a \
                 dossier received {age} months before the live weeks' month ({recomputed} months recomputed), median \
                 of {} slices, against the same cycle for a slice alone; by the dossier's age: {others}",
                cli.months, cli.slice, cli.repeats
            ),
        ));
    }
    if let Some(path) = &cli.svg {
        let mut lines = series.clone();
        lines.push(svg::Series { name: "round of three".into(), points: rounds });
        let chart = svg::Chart {
            title: format!("Rollup cycle under live traffic against history (scale {})", cli.scale),
            x_label: format!("months of history before the live weeks and the {} before them", cli.base_months),
            y_label: "ms per cycle (median)".into(),
            series: lines,
        };
        std::fs::write(path, svg::render(&chart)).with_context(|| format!("writing {}", path.display()))?;
    }
    let version: String = clickhouse.server_client().query("SELECT version()").fetch_one().await?;
    let table = cli.outputs.publish(&format!("ClickHouse {version}"), &measures)?;
    println!("{table}");
    Ok(())
}

/// One cycle of `source` as the processor's rollup runs it, with `options` asked of the server
/// once, outside the times (ioc_processor::rollup::options_for).
///
/// The processor's task gives each cycle the newest event its source's last cycle found
/// (`CycleOptions::newest_event_seen`): `seen`, read from the progress recorded, untimed.
async fn timed_cycle(
    client: &clickhouse::Client,
    options: &ioc_processor::rollup::CycleOptions,
    source: Source,
    since: u32,
    seen: u32,
) -> anyhow::Result<ioc_processor::rollup::Outcome> {
    let inserts = ioc_processor::rollup::InsertsInFlight::new();
    let options = ioc_processor::rollup::CycleOptions { newest_event_seen: seen, ..*options };
    Ok(ioc_processor::rollup::refresh_source_in(client, source, since, MARGIN_SECONDS, &inserts, &options).await?)
}

/// The newest event time `source`'s last cycle recorded (unix seconds; 0 before any).
async fn newest_seen(client: &clickhouse::Client, source: Source) -> anyhow::Result<u32> {
    Ok(client
        .query("SELECT toUInt32(argMax(newest_event, refreshed_at)) FROM rollup_state WHERE source = ?")
        .bind(source.as_str())
        .fetch_one()
        .await?)
}

/// Inserts `events` and brings every source's rollups up to date with them: the dossiers'
/// facts and the measures of their months, which a deployment that received those months live
/// holds. Their cycles are not timed.
async fn loaded_and_rolled_up(client: &clickhouse::Client, events: &[Event]) -> anyhow::Result<()> {
    let since = inserted_since(client, events).await?;
    for source in Source::ALL {
        let started = Instant::now();
        let outcome = ioc_processor::rollup::refresh_source(client, source, since, MARGIN_SECONDS).await?;
        anyhow::ensure!(outcome.events > 0, "{source}: the rollup of the load took in none of its events");
        eprintln!(
            "  {source}: {} events rolled up, {} months recomputed, in {:.1} s",
            outcome.events,
            outcome.months,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Inserts `events` and returns the watermark from which a cycle takes them in, and nothing the
/// inserts before them wrote. A cycle takes in what was dated from its watermark on; the loader
/// dates its rows a second ahead (rollup/in_flight.rs, `date_ahead`), so a watermark taken the
/// same way once the insert before is a second old is past that insert's date and at or before
/// this one's. This insert's date must then have begun for a cycle to claim past it.
async fn inserted_since(client: &clickhouse::Client, events: &[Event]) -> anyhow::Result<u32> {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let since = ioc_processor::rollup::date_ahead();
    ioc_e2e::load::insert_events(client, events).await?;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    Ok(since)
}

/// Waits until ClickHouse has no merge running in `database` (at most two minutes), so that a
/// cycle is not timed against the merging of the month just loaded.
async fn merged(client: &clickhouse::Client, database: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let sql = format!("SELECT toUInt64(count()) FROM system.merges WHERE database = '{database}'");
    while client.query(&sql).fetch_one::<u64>().await? > 0 && started.elapsed().as_secs() < 120 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Ok(())
}

/// The simulated events of the month `age` months before the one from `month_start`, seeded by
/// its age: the same events whatever the run's other options.
fn month_of(month_start: NaiveDate, age: u32, scale: f64, reference: &ReferenceData) -> anyhow::Result<Vec<Event>> {
    let first = month_start.checked_sub_months(Months::new(age)).context("month")?;
    let days = u32::try_from((first.checked_add_months(Months::new(1)).context("month")? - first).num_days())?;
    generated(Scenario { start: first, days, scale }, reference, u64::from(age))
}

/// The simulated events of `scenario` (seeded by `seed`), none after now.
fn generated(scenario: Scenario, reference: &ReferenceData, seed: u64) -> anyhow::Result<Vec<Event>> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(19_000 + seed);
    let (mut events, _) = ioc_simulator::generate::generate(&scenario, reference, &mut rng);
    let now = chrono::Utc::now();
    events.retain(|event| event.occurred_at <= now);
    Ok(events)
}

/// A complaint about the handling of a dossier received in the month from `month` (the
/// `nth` such dossier found), dated with the newest event of `slice`.
async fn complaint_about_a_dossier_of(
    client: &clickhouse::Client,
    month: chrono::NaiveDate,
    nth: usize,
    slice: &[Event],
) -> anyhow::Result<Event> {
    let (dossier_id, unit_code): (String, String) = client
        .query(
            "SELECT dossier_id, unit_code FROM portal_events WHERE type = 'dossier.received' \
             AND toStartOfMonth(toTimeZone(occurred_at, 'Asia/Ho_Chi_Minh')) = toDate(?) \
             ORDER BY dossier_id LIMIT 1 OFFSET ?",
        )
        .bind(month.to_string())
        .bind(nth as u64)
        .fetch_one()
        .await
        .with_context(|| format!("a dossier received in the month from {month}"))?;
    let occurred_at = slice.iter().map(|event| event.occurred_at).max().context("an empty slice")?;
    let body = ioc_domain::EventBody::DossierComplaintFiled(ioc_domain::DossierComplaintFiled {
        dossier_id,
        kind: ioc_domain::ComplaintKind::Petition,
        subject: ioc_domain::ComplaintSubject::Handling,
    });
    Ok(Event {
        event_id: uuid::Uuid::new_v4(),
        source: Source::Portal,
        occurred_at,
        unit_code,
        received_at: None,
        body,
    })
}

/// The line `(intercept, slope)` that fits `points` (x, y) best by least squares: the mean's
/// level and no slope when every x is the same.
fn least_squares(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len().max(1) as f64;
    let (mean_x, mean_y) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let spread: f64 = points.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    let slope =
        if spread > 0.0 { points.iter().map(|(x, y)| (x - mean_x) * (y - mean_y)).sum::<f64>() / spread } else { 0.0 };
    (mean_y - slope * mean_x, slope)
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[middle - 1] + values[middle]) / 2.0
    } else {
        values[middle]
    }
}

#[cfg(test)]
mod tests {
    use super::least_squares;

    #[test]
    fn the_fitted_line_goes_through_points_on_a_line_and_is_flat_for_one_x() {
        let (intercept, slope) = least_squares(&[(0.0, 10.0), (1.0, 13.0), (2.0, 16.0)]);
        assert!((intercept - 10.0).abs() < 1e-9 && (slope - 3.0).abs() < 1e-9, "{intercept} {slope}");
        let (intercept, slope) = least_squares(&[(0.0, 10.0), (1.0, 20.0), (2.0, 12.0)]);
        assert!((intercept - 13.0).abs() < 1e-9 && (slope - 1.0).abs() < 1e-9, "{intercept} {slope}");
        assert_eq!(least_squares(&[(4.0, 7.0), (4.0, 9.0)]), (8.0, 0.0));
    }
}
