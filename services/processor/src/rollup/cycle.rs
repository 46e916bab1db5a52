//! One rollup cycle for one source.

use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{Datelike, NaiveDate, TimeZone};
use clickhouse::Row;
use ioc_domain::Source;
use serde::Deserialize;

use super::in_flight::{clock_seconds, covered_until, InsertsInFlight, SETTLE_AT_MOST};
use super::partition_limit::lifted;

const DOSSIER_FACTS: &str = include_str!("dossier_facts.sql");
const PORTAL_MEASURED_DOSSIERS: &str = include_str!("portal_measured_dossiers.sql");
const PORTAL_MEASURES: &str = include_str!("portal_measures.sql");
const EDOC_MEASURES: &str = include_str!("edoc_measures.sql");
const TRAINING_MEASURES: &str = include_str!("training_measures.sql");
const PORTAL_KEPT_UNITS: &str = include_str!("portal_kept_units.sql");

/// The staging tables' engines: the partitioning and order of `measures_daily` and
/// `measures_monthly` (migrations 0004 and 0006; REPLACE PARTITION needs them equal), on a
/// plain MergeTree. A staging table belongs to the node that fills it, also on a cluster, where
/// `CREATE TABLE ... AS measures_daily` alone would copy the replicated engine and its
/// replication path.
const DAILY_STAGING_ENGINE: &str =
    "ENGINE = MergeTree PARTITION BY (source, toYYYYMM(day)) ORDER BY (measure, dimension, unit_code, day)";
const MONTHLY_STAGING_ENGINE: &str =
    "ENGINE = MergeTree PARTITION BY (source, toYYYYMM(month)) ORDER BY (measure, dimension, unit_code, month)";

/// What a cycle did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Every raw event inserted before this instant (unix seconds) is now in the rollups.
    pub covered_until: u32,
    /// The newest event time stored (unix seconds; 0 without events).
    pub newest_event: u32,
    /// Events read to find what to recompute: every event of the touched dossiers for the
    /// portal, the new events for the other sources (canary probes are none of them).
    pub events: u64,
    /// Months recomputed.
    pub months: usize,
    /// Whether they were the latest months only, recomputed from the entities with an event in
    /// them (`Span::Latest`).
    pub latest_only: bool,
    /// Of those, the months before the latest ones recomputed by themselves (`Span::Months`);
    /// 0 when the cycle recomputed every month from its earliest.
    pub old_months: usize,
    /// Whether the cycle recomputed a few old months by themselves and then the latest months
    /// as `Span::Latest` does (`old_months` may still be 0: a listed month holding no rows is
    /// not swapped).
    pub old_months_alone: bool,
}

/// How much a cycle recomputes, which decides how its measures query finds the entities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// The current month and the one before it: the query reads only the entities with an
    /// event in them (its `{recent ...}` sections), so the cost follows what
    /// those months hold, not the history.
    Latest,
    /// More than that: the query aggregates every entity once (its `{history ...}` sections);
    /// filtering by candidates first would cost more than it saves (ops/bench: from two months
    /// of a loaded year on, it was slower).
    History,
    /// A few months before the latest ones, by themselves (the portal's old months that its
    /// touched query lists, in an incremental cycle): the query reads the entities with an
    /// instant in one of them (its `{months ...}` sections, where `OLD_MONTHS` stands for the
    /// list), of the units that may have changed there (`OLD_UNITS`), whatever the history
    /// between.
    Months,
}

impl Span {
    /// The span of a recomputation from `first_month` during `current_month` (both first days).
    /// Judged against the calendar, not against the newest month stored: open dossiers have
    /// measures dated on their future due times, months ahead.
    pub fn of(first_month: NaiveDate, current_month: NaiveDate) -> Span {
        let previous = current_month.checked_sub_months(chrono::Months::new(1)).unwrap_or(current_month);
        if first_month >= previous {
            Span::Latest
        } else {
            Span::History
        }
    }
}

/// `sql` with the sections of `span` kept (their braces and keyword removed) and the others
/// dropped: `{recent ...}` for `Span::Latest`, `{history ...}` for `Span::History`, `{months
/// ...}` for `Span::Months`. A section holds no braces; `{staging}` is not a section.
pub fn for_span(sql: &str, span: Span) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    loop {
        let next = ["{recent", "{history", "{months"]
            .into_iter()
            .filter_map(|open| rest.find(open).map(|at| (at, open)))
            .min();
        let Some((at, open)) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at]);
        let body_start = at + open.len();
        let body_end = rest[body_start..].find('}').map_or(rest.len(), |end| body_start + end);
        let keep = match open {
            "{recent" => span == Span::Latest,
            "{history" => span == Span::History,
            _ => span == Span::Months,
        };
        if keep {
            out.push_str(&rest[body_start..body_end]);
        }
        rest = rest.get(body_end + 1..).unwrap_or("");
    }
}

#[derive(Row, Deserialize)]
struct Touched {
    events: u64,
    earliest: u32,
    /// The time of the oldest event of those entities (unix seconds).
    oldest: u32,
    /// The months (yyyymm) before the month before the current one in which a measure of
    /// those entities may be dated, before or after the new events: the portal's (the other
    /// sources' measures never move before their new events' own month).
    old_months: Vec<u32>,
    /// The units whose measures of `old_months` may change (the portal's; empty otherwise), each
    /// code's bytes in hexadecimal: a code is the sources' text, and read as a Rust `String` one
    /// that is not UTF-8 (a row written past ingest) would fail every cycle.
    old_units: Vec<String>,
}

/// The most months before the latest ones that a cycle recomputes by themselves (the months of
/// the touched dossiers' instants); with more, it recomputes every month from the earliest in
/// the history form, which reads every dossier once.
const MAX_OLD_MONTHS: usize = 6;

/// The earliest instant touched by the entities that got an event dated (`inserted_at`) at or
/// after `since` and before `covered_until`: every such row of this process was visible before
/// this query ran (in_flight.rs, `settle`), so this query and the facts query see the same
/// entities. Rows dated later are the next cycle's. A canary probe (`canary.probe`, one per
/// source every minute or so for as long as ioc-canary runs) is a row with no entity and touches
/// nothing: taken as an entity of its own, the probes' oldest would send every cycle that took
/// one in back to the month of the first probe ever stored.
fn touched_sql(source: Source) -> &'static str {
    match source {
        // A dossier's measures are dated on its opening (its reception, or the go-live
        // snapshot of the backlog; the stocks are clamped to it), its resolution, its result's
        // return, or a supplement request plus the waiting time (its return for want of
        // supplements): so the earliest of those instants, over all its events, bounds every date
        // that can change, before and after the new events. Supplement requests and resumes
        // date nothing themselves, and can be old (a request still waiting at go-live is sent
        // at its own time), so a cycle touching the backlog need not recompute the months
        // before go-live. Parameters: the first month (yyyymm) of the latest ones twice, the
        // waiting time in seconds twice (once without the list below, `without_old_months`),
        // then `since` and `covered_until`. u32::MAX: nothing to recompute.
        //
        // And the months before the latest ones where a measure of those dossiers may be dated,
        // with the facts computed now or with those of any earlier cycle (a subset of the same
        // events): the months of their events (a supplement request's or resume's own time dates
        // nothing), of each request plus the waiting time (a return for want of supplements),
        // and every month between the due time, as early as any opening event has it, and the
        // latest it can be pushed by the snapshot's paused time and by pauses no longer than
        // from the first request to the last resume, one per resume (when the dossier became
        // overdue; never before its first opening). A complaint or a rating about a dossier
        // received months ago then recomputes its months alone, not every month since (ops/bench,
        // `rollup_cycle_old_dossier_growth`: 4.3 s with a year loaded).
        //
        // And the units whose rows of those months may change: every unit of an opening event of
        // a dossier with an old month. A dossier's measures are its owner's (the unit of its
        // first opening event), and every unit that owned it before owns one of its opening
        // events still (events are never taken away), so rows of no other unit can change. The
        // old months are recomputed for those units alone, and every other unit's rows of those
        // months are kept as stored (portal_kept_units.sql): a dossier received months ago is
        // one unit's, while a whole month is every unit's (0.8 s of a cycle with a year loaded,
        // ops/bench).
        //
        // The dossiers are matched by their ids' 64-bit hashes, as the facts query matches them
        // (both must take in the same dossiers): every event of the history is looked up, and a
        // number is found in a set of numbers faster than a string in a set of strings (0.25 to
        // 0.17 s with a year loaded, ops/bench's database). A dossier of another id that shares
        // a hash is taken in too, and its facts are written again as they were.
        Source::Portal => {
            "SELECT toUInt64(sum(events)) AS events, toUInt32(min(earliest)) AS earliest, \
                    toUInt32(min(oldest)) AS oldest, \
                    arraySort(groupUniqArrayArray(arrayFilter(m -> m < ?, months))) AS old_months, \
                    arraySort(groupUniqArrayArray(if(arrayExists(m -> m < ?, months), opening_units, emptyArrayString()))) \
                        AS old_units FROM ( \
                SELECT count() AS events, min(occurred_at) AS oldest, \
                       least(if(countIf(type NOT IN ('dossier.supplement_requested', 'dossier.resumed')) > 0, \
                                toUInt64(minIf(occurred_at, type NOT IN ('dossier.supplement_requested', 'dossier.resumed'))), \
                                toUInt64(4294967295)), \
                             if(countIf(type = 'dossier.supplement_requested') > 0, \
                                toUInt64(minIf(occurred_at, type = 'dossier.supplement_requested')) + ?, \
                                toUInt64(4294967295))) AS earliest, \
                       countIf(type IN ('dossier.received', 'dossier.snapshot')) > 0 AS opened, \
                       toUInt32(minIf(occurred_at, type IN ('dossier.received', 'dossier.snapshot'))) AS first_opening, \
                       greatest(first_opening, toUInt32(minIf(due_at, type IN ('dossier.received', 'dossier.snapshot')))) AS late_from, \
                       greatest(late_from, toUInt32(least(toUInt64(4102444800), \
                           toUInt64(maxIf(due_at, type IN ('dossier.received', 'dossier.snapshot'))) \
                           + toUInt64(maxIf(paused_seconds, type = 'dossier.snapshot')) \
                           + if(countIf(type = 'dossier.supplement_requested') > 0 AND countIf(type = 'dossier.resumed') > 0, \
                                countIf(type = 'dossier.resumed') * toUInt64(greatest(toInt64(maxIf(occurred_at, type = 'dossier.resumed')) \
                                    - toInt64(minIf(occurred_at, type = 'dossier.supplement_requested')), 0)), \
                                0)))) AS late_until, \
                       groupUniqArrayIf(hex(unit_code), type IN ('dossier.received', 'dossier.snapshot')) AS opening_units, \
                       arrayConcat( \
                           groupUniqArrayIf(toYYYYMM(occurred_at), type NOT IN ('dossier.supplement_requested', 'dossier.resumed')), \
                           groupUniqArrayIf(toYYYYMM(toDateTime(toUInt32(occurred_at) + ?, 'Asia/Ho_Chi_Minh')), \
                                            type = 'dossier.supplement_requested'), \
                           if(opened, \
                              arrayMap(i -> toUInt32(toYYYYMM(addMonths(toStartOfMonth(toDateTime(late_from, 'Asia/Ho_Chi_Minh')), i))), \
                                       range(toUInt64(toRelativeMonthNum(toDateTime(late_until, 'Asia/Ho_Chi_Minh')) \
                                                      - toRelativeMonthNum(toDateTime(late_from, 'Asia/Ho_Chi_Minh')) + 1))), \
                              emptyArrayUInt32())) AS months \
                FROM portal_events \
                WHERE cityHash64(dossier_id) IN (SELECT cityHash64(dossier_id) FROM portal_events \
                                     WHERE inserted_at >= toDateTime(?) AND inserted_at < toDateTime(?) \
                                       AND type != 'canary.probe') \
                GROUP BY dossier_id)"
        }
        // Each e-documents measure is dated on a document's or work record's first event of its
        // type (sent, received, closed; edoc_measures.sql): an event at t either moves such a
        // date to t or leaves it, and a date it moves away from is later than t, as for
        // training below. So the new events' own earliest time is enough: a work record closed
        // today that was opened months ago changes nothing before today (looking back to each
        // touched record's first event, as before, recomputed every month since its opening),
        // and no stored row is read but the new ones (0.06 to 0.12 s of every cycle with a year
        // loaded, ops/bench). Events of types no measure counts only make the cycle recompute
        // their own months.
        Source::Edoc => {
            "SELECT toUInt64(count()) AS events, toUInt32(min(occurred_at)) AS earliest, \
                    toUInt32(min(occurred_at)) AS oldest, emptyArrayUInt32() AS old_months, \
                    emptyArrayString() AS old_units FROM edoc_events \
             WHERE inserted_at >= toDateTime(?) AND inserted_at < toDateTime(?) AND type != 'canary.probe'"
        }
        // Every training measure is dated on the first event of its kind (a learner's first
        // certificate or confirmation, a household's first certificate, a class held): an event
        // at t either moves such a date to t or leaves it, and a date it moves away from is later
        // than t. So the new events' own earliest time is enough, whatever the learner's,
        // household's or class's history. (Looking back to each touched household's first
        // event, as before, recomputed every month since the first certificate in every cycle
        // once households recur: ops/bench measured the cycle at 2.5 s with a year loaded.)
        Source::Training => {
            "SELECT toUInt64(count()) AS events, toUInt32(min(occurred_at)) AS earliest, \
                    toUInt32(min(occurred_at)) AS oldest, emptyArrayUInt32() AS old_months, \
                    emptyArrayString() AS old_units FROM training_events \
             WHERE inserted_at >= toDateTime(?) AND inserted_at < toDateTime(?) AND type != 'canary.probe'"
        }
    }
}

/// `sql` (a touched query) without its lists of old months and of the units that may change in
/// them: `opening_units` and `months` empty for every entity. The lists are the portal's
/// `groupUniqArrayIf(hex(unit_code), ...) AS opening_units, arrayConcat(...) AS months` (and the
/// list's one parameter, the waiting time); the other sources' queries have none and come back
/// as they are.
fn without_old_months(sql: &str) -> String {
    const START: &str = "groupUniqArrayIf(hex(unit_code),";
    const END: &str = ") AS months";
    match (sql.find(START), sql.find(END)) {
        (Some(start), Some(end)) if start < end => format!(
            "{}emptyArrayString() AS opening_units, emptyArrayUInt32() AS months{}",
            &sql[..start],
            &sql[end + END.len()..]
        ),
        _ => sql.to_owned(),
    }
}

/// Bump when a change of the Rust side of the rollup (this file) changes what a cycle writes
/// for the same events: the SQL texts are in the fingerprint already, the code around them is
/// not, and processors resume only under the rules that recorded the progress (resume.rs).
const RULES_REVISION: u32 = 1;

/// The rules `source`'s cycles apply, as the hex SHA-256 of everything that decides their rows:
/// the queries, the supplement waiting time they bind, the staging tables' keys and
/// `RULES_REVISION`. Recorded with each cycle's progress (`rollup_state.rules`).
pub fn rules(source: Source) -> &'static str {
    use sha2::{Digest, Sha256};
    static RULES: std::sync::OnceLock<[String; 3]> = std::sync::OnceLock::new();
    let all = RULES.get_or_init(|| {
        Source::ALL.map(|source| {
            let mut hash = Sha256::new();
            let (facts, kept) = if source == Source::Portal { (DOSSIER_FACTS, PORTAL_KEPT_UNITS) } else { ("", "") };
            let measures = measures_sql(source).iter().copied();
            for part in [touched_sql(source), facts, kept]
                .into_iter()
                .chain(measures)
                .chain([DAILY_STAGING_ENGINE, MONTHLY_STAGING_ENGINE])
            {
                // Each part's length first, so that no two lists of parts hash alike.
                hash.update((part.len() as u64).to_le_bytes());
                hash.update(part.as_bytes());
            }
            hash.update(ioc_domain::rules::SUPPLEMENT_WAIT_SECONDS.to_le_bytes());
            hash.update(RULES_REVISION.to_le_bytes());
            hex::encode(hash.finalize())
        })
    });
    let index = Source::ALL.iter().position(|known| *known == source).unwrap_or(0);
    &all[index]
}

/// The statements that fill a cycle's staging table of days with `source`'s measures, run in
/// this order. The portal's first puts the dossiers measured in the recomputed months in a table
/// of the cycle's own (`{dossiers}`), which the second reads several times.
fn measures_sql(source: Source) -> &'static [&'static str] {
    match source {
        Source::Portal => &[PORTAL_MEASURED_DOSSIERS, PORTAL_MEASURES],
        Source::Edoc => &[EDOC_MEASURES],
        Source::Training => &[TRAINING_MEASURES],
    }
}

/// What a caller may set about a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CycleOptions {
    /// The form of the measures queries, forced (the tests comparing both forms need it); `None`:
    /// the cycle chooses.
    pub span: Option<Span>,
    /// The most events of the touched dossiers one facts query takes in (the processor's
    /// `rollup_facts_events_per_slice`). ClickHouse 18.16 holds them at once, about 700 bytes
    /// each (1.8 GiB for 2.5 million, ops/bench): the facts of every dossier of a simulated
    /// year and a half (10 million events) in one query went over the 4 GB a query may use
    /// (ops/clickhouse/users.xml), and every start that recomputed everything failed. A live
    /// cycle takes in tens of thousands; a recomputation of everything cuts the dossiers into
    /// slices by the hash of their id.
    pub facts_events_per_slice: u64,
    /// Milliseconds added to this process's clock in the facts' versions: a test stands in for
    /// processor replicas whose clocks disagree with it. 0 in the processor.
    pub clock_ahead_ms: i64,
    /// Whether the staging inserts lift the server's limit of partitions per insert: only where
    /// the server has one (partition_limit.rs; 18.16 refuses the setting).
    pub lift_partition_limit: bool,
    /// The source's newest event time (unix seconds) an earlier cycle found (`Outcome::newest_event`):
    /// the cycle looks for the newest event from there on, in the monthly partitions of those
    /// days alone, instead of reading the time of every event of the history (`record_state`).
    /// 0: it reads them all.
    pub newest_event_seen: u32,
}

impl Default for CycleOptions {
    fn default() -> Self {
        CycleOptions {
            span: None,
            facts_events_per_slice: 1_000_000,
            clock_ahead_ms: 0,
            lift_partition_limit: false,
            newest_event_seen: 0,
        }
    }
}

/// Brings `source`'s rollups up to date with every event inserted since `since` (unix seconds;
/// 0 recomputes everything), for a caller whose rows are dated ahead (`date_ahead`: loaders,
/// tests). `margin_seconds` holds the cycle that many seconds further back, for rows no
/// registry of this process sees (in_flight.rs). The server is asked whether it limits the
/// partitions of an insert ([`options_for`]).
pub async fn refresh_source(
    client: &clickhouse::Client,
    source: Source,
    since: u32,
    margin_seconds: u32,
) -> Result<Outcome, clickhouse::error::Error> {
    let options = options_for(client).await?;
    refresh_source_in(client, source, since, margin_seconds, &InsertsInFlight::new(), &options).await
}

/// The default options for cycles on `client`'s server: the staging inserts lift its limit of
/// partitions per insert if it has one (partition_limit.rs). A caller timing cycles asks once.
pub async fn options_for(client: &clickhouse::Client) -> Result<CycleOptions, clickhouse::error::Error> {
    let lift_partition_limit = super::partition_limit::has_limit(client).await?;
    Ok(CycleOptions { lift_partition_limit, ..CycleOptions::default() })
}

/// `refresh_source`, covering no further than the inserts of this process still under way in
/// `inserts` allow, with `options`.
pub async fn refresh_source_in(
    client: &clickhouse::Client,
    source: Source,
    since: u32,
    margin_seconds: u32,
    inserts: &InsertsInFlight,
    options: &CycleOptions,
) -> Result<Outcome, clickhouse::error::Error> {
    let timer = std::time::Instant::now();
    // Every statement of the cycle runs its `IN (SELECT ...)` subqueries once (sets_once.rs).
    let client = &super::sets_once::sets_built_once(client);
    let wait = ioc_domain::rules::SUPPLEMENT_WAIT_SECONDS;
    let started = clock_seconds();
    // An insert beginning after the claim dates its rows at `claimed` or after; the ones dated
    // before it are given a moment to end, so that they need not hold the cycle behind
    // (in_flight.rs).
    let claimed = inserts.claim(source);
    if !inserts.settle(source, claimed, SETTLE_AT_MOST).await {
        tracing::debug!(%source, claimed, "an insert dated before the claim is still under way: the cycle covers up to its date");
    }
    let settled_at = timer.elapsed();
    let covered_until = covered_until(claimed, inserts.oldest(source), margin_seconds);
    let current_month = month_start(started);
    let latest_months_from = current_month.checked_sub_months(chrono::Months::new(1)).unwrap_or(current_month);
    // The old months serve incremental cycles only (below); listing them for every dossier of
    // the history, as a recomputation of everything would, took the query from 1.08 to 1.55 GiB
    // of ClickHouse with 10 million portal events (ops/bench's year).
    let listing = since > 0;
    let mut query = if listing {
        client.query(touched_sql(source))
    } else {
        client.query(&without_old_months(touched_sql(source)))
    };
    if source == Source::Portal {
        query = query.bind(yyyymm(latest_months_from)).bind(yyyymm(latest_months_from)).bind(wait);
        if listing {
            query = query.bind(wait);
        }
    }
    let touched: Touched = query.bind(since).bind(covered_until).fetch_one().await?;
    // When each step ended (the skipped ones end where the one before did).
    let touched_at = timer.elapsed();
    let (mut facts_at, mut measures_at) = (touched_at, touched_at);
    let (mut months, mut latest_only, mut old_months, mut old_months_alone) = (0, false, 0, false);
    if touched.events > 0 && touched.earliest != u32::MAX {
        let first_month = month_start(touched.earliest);
        if source == Source::Portal {
            let version = next_version().saturating_add_signed(options.clock_ahead_ms);
            let slices = facts_slices(touched.events, options.facts_events_per_slice);
            for slice in 0..slices {
                let facts = client
                    .query(DOSSIER_FACTS)
                    .bind(version)
                    .bind(wait)
                    .bind(wait)
                    .bind(wait)
                    .bind(since)
                    .bind(covered_until);
                facts.bind(slices).bind(slice).bind(touched.oldest).execute().await?;
            }
        }
        facts_at = timer.elapsed();
        let span = options.span.unwrap_or_else(|| Span::of(first_month, current_month));
        latest_only = span == Span::Latest;
        // Not when everything is recomputed (`since` 0, a start under new rules): that swaps
        // every month holding rows, including one no dossier dates anything in any more.
        old_months_alone = options.span.is_none()
            && since > 0
            && span == Span::History
            && !touched.old_months.is_empty()
            && touched.old_months.len() <= MAX_OLD_MONTHS;
        let lift = options.lift_partition_limit;
        months = if old_months_alone {
            // The old months by themselves, then the latest ones as every live cycle does. With
            // no unit listed, the dossiers with old months have no opening event, hence no
            // facts: nothing of theirs is measured, before or after.
            if !touched.old_units.is_empty() {
                let old = Recompute::Months { months: &touched.old_months, units: &touched.old_units };
                old_months = rebuild(client, source, old, lift).await?;
            }
            old_months + rebuild(client, source, Recompute::From(latest_months_from, Span::Latest), lift).await?
        } else {
            rebuild(client, source, Recompute::From(first_month, span), lift).await?
        };
        measures_at = timer.elapsed();
    }
    let newest_event = record_state(client, source, covered_until, options.newest_event_seen).await?;
    // Where a cycle's time goes, for whoever tunes it (RUST_LOG=ioc_processor=debug).
    let ms = |duration: std::time::Duration| duration.as_millis() as u64;
    tracing::debug!(
        %source,
        settle_ms = ms(settled_at),
        touched_ms = ms(touched_at - settled_at),
        facts_ms = ms(facts_at - touched_at),
        measures_ms = ms(measures_at - facts_at),
        state_ms = ms(timer.elapsed() - measures_at),
        "rollup cycle steps"
    );
    Ok(Outcome {
        covered_until,
        newest_event,
        events: touched.events,
        months,
        latest_only,
        old_months,
        old_months_alone,
    })
}

/// How many slices the facts of dossiers with `events` events in all are computed in, at most
/// `per_slice` events each (`CycleOptions::facts_events_per_slice`).
fn facts_slices(events: u64, per_slice: u64) -> u64 {
    events.div_ceil(per_slice.max(1)).max(1)
}

/// Which months a cycle recomputes.
#[derive(Debug, Clone, Copy)]
enum Recompute<'a> {
    /// Every month from this one (a first day) on, in this form.
    From(NaiveDate, Span),
    /// These months (yyyymm, ascending, not empty) alone, in `Span::Months`' form, for these
    /// units (not empty) alone: the other units' rows of those months are kept as stored.
    Months {
        /// The months.
        months: &'a [u32],
        /// The units.
        units: &'a [String],
    },
}

/// Recomputes `source`'s measures of the months `what` says into a staging table, then swaps
/// each month in; returns how many months were replaced. `lift`: the staging inserts lift the
/// server's limit of partitions per insert (partition_limit.rs).
async fn rebuild(
    client: &clickhouse::Client,
    source: Source,
    what: Recompute<'_>,
    lift: bool,
) -> Result<usize, clickhouse::error::Error> {
    let suffix = format!("{}_{}", source.as_str(), uuid::Uuid::new_v4().simple());
    let staging = Staging {
        daily: format!("{STAGING_PREFIX}{suffix}"),
        monthly: format!("{STAGING_PREFIX}m_{suffix}"),
        // Only the portal's statements make one; the other sources' cycles need not drop it.
        dossiers: measures_sql(source)
            .iter()
            .any(|statement| statement.contains("{dossiers}"))
            .then(|| format!("{STAGING_PREFIX}d_{suffix}")),
    };
    client.query(&format!("CREATE TABLE {} AS measures_daily {DAILY_STAGING_ENGINE}", staging.daily)).execute().await?;
    let created = client
        .query(&format!("CREATE TABLE {} AS measures_monthly {MONTHLY_STAGING_ENGINE}", staging.monthly))
        .execute()
        .await;
    let result = match created {
        Ok(()) => fill_and_swap(client, source, what, &staging, lift).await,
        Err(error) => Err(error),
    };
    // The staging tables go whatever happened; a failed cycle is simply run again.
    let mut dropped = Ok(());
    for table in [Some(&staging.daily), Some(&staging.monthly), staging.dossiers.as_ref()].into_iter().flatten() {
        let outcome = client.query(&format!("DROP TABLE IF EXISTS {table}")).execute().await;
        dropped = dropped.and(outcome);
    }
    let months = result?;
    dropped?;
    Ok(months)
}

/// `hex_values` (strings' bytes in hexadecimal, as ClickHouse's `hex()` writes them) as a
/// ClickHouse tuple of string literals for `x IN ...`, every byte written as an escape: `('\x53',
/// ...)` for `S`; `('')` when empty (`IN ()` is not SQL). Unit codes are the sources' text
/// (ingest holds them to the contract's pattern, but a row may come from elsewhere), so no byte
/// of one reaches the statement as it is: not a quote, not a `?` the client would take for a
/// parameter (fill_and_swap counts them), not a line break ending a comment. A value that is
/// not hexadecimal (none from `hex()`) is left out.
fn sql_strings(hex_values: &[String]) -> String {
    let literal = |hex: &String| -> Option<String> {
        let valid = hex.len().is_multiple_of(2) && hex.bytes().all(|b| b.is_ascii_hexdigit());
        let escaped: String =
            hex.as_bytes().chunks(2).map(|pair| format!("\\x{}", String::from_utf8_lossy(pair))).collect();
        valid.then(|| format!("'{escaped}'"))
    };
    let listed: Vec<String> = hex_values.iter().filter_map(literal).collect();
    if listed.is_empty() {
        "('')".to_owned()
    } else {
        format!("({})", listed.join(", "))
    }
}

/// Every staging table's name starts with this (then `m_` for the monthly one).
pub(super) const STAGING_PREFIX: &str = "measures_staging_";

/// Drops the staging tables created more than `older_than` ago: a cycle drops its own whatever
/// happens, but not when its process is killed or abandons it at shutdown. Cycles take
/// seconds; should another replica's cycle still use a table that old, that cycle fails and is
/// run again, nothing else. Returns how many went. Staging tables belong
/// to the node that holds them: on a cluster, this cleans the node `client` reaches (the task
/// calls it for each node of `rollup_clickhouse_urls` at its start).
pub async fn drop_abandoned_staging(
    client: &clickhouse::Client,
    older_than: std::time::Duration,
) -> Result<usize, clickhouse::error::Error> {
    let abandoned: Vec<String> = client
        .query(
            "SELECT name FROM system.tables WHERE database = currentDatabase() AND startsWith(name, ?) \
             AND metadata_modification_time < now() - ?",
        )
        .bind(STAGING_PREFIX)
        .bind(older_than.as_secs())
        .fetch_all()
        .await?;
    for table in &abandoned {
        // Names come from system.tables and start with the prefix: quoted, never spliced raw.
        client.query(&format!("DROP TABLE IF EXISTS `{}`", table.replace('`', ""))).execute().await?;
    }
    Ok(abandoned.len())
}

/// The staging tables of one cycle: days, the same summed per month, and what the measures
/// statements keep between them (`{dossiers}`, for the sources whose statements name it).
struct Staging {
    daily: String,
    monthly: String,
    dossiers: Option<String>,
}

async fn fill_and_swap(
    client: &clickhouse::Client,
    source: Source,
    what: Recompute<'_>,
    staging: &Staging,
    lift: bool,
) -> Result<usize, clickhouse::error::Error> {
    let (first_month, span, only, units) = match what {
        Recompute::From(first_month, span) => (first_month, span, None, None),
        Recompute::Months { months, units } => {
            let first = months.iter().min().map_or(NaiveDate::MIN, |month| first_day(*month));
            (first, Span::Months, Some(months), Some(units))
        }
    };
    let from = first_month.to_string();
    // Numbers the touched query computed, written as a ClickHouse array.
    let old_months =
        format!("[{}]", only.unwrap_or_default().iter().map(u32::to_string).collect::<Vec<_>>().join(", "));
    let old_units = sql_strings(units.unwrap_or_default());
    // The other units' rows of the months, as stored, after the units' own.
    let kept = units.map(|_| PORTAL_KEPT_UNITS);
    let clock = std::time::Instant::now();
    for statement in measures_sql(source).iter().copied().chain(kept) {
        let mut sql = for_span(statement, span)
            .replace("{staging}", &staging.daily)
            .replace("OLD_MONTHS", &old_months)
            .replace("OLD_UNITS", &old_units);
        if let Some(dossiers) = &staging.dossiers {
            sql = sql.replace("{dossiers}", dossiers);
        }
        let mut query = lifted(client.query(&sql), lift);
        for _ in 0..sql.matches('?').count() {
            query = query.bind(from.as_str());
        }
        query.execute().await?;
    }
    let filled_in = clock.elapsed();
    let monthly = format!(
        "INSERT INTO {monthly} (source, month, unit_code, measure, dimension, value) \
         SELECT source, toStartOfMonth(day) AS month, unit_code, measure, dimension, sum(value) \
         FROM {daily} GROUP BY source, month, unit_code, measure, dimension",
        monthly = staging.monthly,
        daily = staging.daily
    );
    lifted(client.query(&monthly), lift).execute().await?;

    let filled: Vec<u32> =
        client.query(&format!("SELECT DISTINCT toYYYYMM(day) FROM {}", staging.daily)).fetch_all().await?;
    // The months swapped: those filled and those stored from the first month on (one that
    // became empty is dropped), in both tables, which can disagree after a cycle that failed
    // between its two swaps. Only months that hold rows: every month up to the last stored, as
    // before, made every cycle swap each month up to an open dossier's far due time (ingest
    // bounds an event's time, not the due time it carries: one due in 2099 meant 1,750
    // statements a cycle, each a coordination round on a replicated table).
    let stored: Vec<u32> = client
        .query(
            "SELECT DISTINCT toUInt32(toYYYYMM(day)) AS yyyymm FROM measures_daily WHERE source = ? AND day >= toDate(?) \
             UNION ALL \
             SELECT DISTINCT toUInt32(toYYYYMM(month)) AS yyyymm FROM measures_monthly WHERE source = ? AND month >= toDate(?)",
        )
        .bind(source.as_str())
        .bind(from.as_str())
        .bind(source.as_str())
        .bind(from.as_str())
        .fetch_all()
        .await?;
    let months: std::collections::BTreeSet<u32> = match only {
        // Those that hold rows, filled or stored: a month that became empty is dropped, the
        // others are not touched (a listed month where nothing was ever dated is left alone).
        Some(only) => only.iter().copied().filter(|month| filled.contains(month) || stored.contains(month)).collect(),
        None => filled.iter().chain(&stored).copied().filter(|month| *month >= yyyymm(first_month)).collect(),
    };
    let (mut replaced, swaps_from) = (0, clock.elapsed());
    for month in months {
        let partition = format!("('{}', {month})", source.as_str());
        // REPLACE PARTITION leaves the target untouched when the staging table has no such
        // partition, so a month that became empty is dropped instead. Between the two
        // statements a reader may see a month's new days with its old sum, for a moment.
        for (target, from) in [("measures_daily", &staging.daily), ("measures_monthly", &staging.monthly)] {
            let statement = if filled.contains(&month) {
                format!("ALTER TABLE {target} REPLACE PARTITION {partition} FROM {from}")
            } else {
                format!("ALTER TABLE {target} DROP PARTITION {partition}")
            };
            client.query(&statement).execute().await?;
        }
        replaced += 1;
    }
    tracing::debug!(
        %source,
        measures_query_ms = filled_in.as_millis() as u64,
        monthly_ms = swaps_from.saturating_sub(filled_in).as_millis() as u64,
        swaps_ms = clock.elapsed().saturating_sub(swaps_from).as_millis() as u64,
        months = replaced,
        "rollup measures steps"
    );
    Ok(replaced)
}

#[derive(Row, Deserialize)]
struct Activity {
    newest_event: u32,
    recent: u64,
}

/// Records how far the rollup got and how active the source is; returns the newest event time,
/// looked for from `seen` on (`CycleOptions::newest_event_seen`).
async fn record_state(
    client: &clickhouse::Client,
    source: Source,
    covered_until: u32,
    seen: u32,
) -> Result<u32, clickhouse::error::Error> {
    let table = source.events_table();
    // Events dated in the future (a source with a wrong clock) do not make the data look fresh.
    // Events are never taken away, so the newest one is at or after the newest seen before: the
    // monthly partitions before it are left unread (both columns of every event of the history
    // cost 0.04 s with a year loaded, the newest partitions and the insert times 0.012 s,
    // ops/bench's database). When none is left there (events removed by hand), it looks again
    // everywhere. A current ClickHouse makes a scalar subquery's value Nullable (NULL when it has
    // no row), 18.16 does not: ifNull gives both engines the same column type.
    let read = |from: u32| {
        client
            .query(&format!(
                "SELECT toUInt32(ifNull(toUInt32((SELECT max(occurred_at) FROM {table} \
                                  WHERE occurred_at >= toDateTime(?) AND occurred_at <= now() + 300)), 0)) AS newest_event, \
                        toUInt64(ifNull(toUInt64((SELECT count() FROM {table} PREWHERE inserted_at >= now() - 300)), 0)) AS recent"
            ))
            .bind(from)
            .fetch_one::<Activity>()
    };
    let mut activity = read(seen).await?;
    if activity.newest_event == 0 && seen > 0 {
        activity = read(0).await?;
    }
    client
        .query(
            "INSERT INTO rollup_state (source, covered_until, refreshed_at, newest_event, events_last_5_minutes, rules) \
             SELECT ?, toDateTime(?), now(), toDateTime(?), ?, ?",
        )
        .bind(source.as_str())
        .bind(covered_until)
        .bind(activity.newest_event)
        .bind(activity.recent)
        .bind(rules(source))
        .execute()
        .await?;
    Ok(activity.newest_event)
}

/// The clock part of the facts' versions a cycle writes (dossier_facts.sql puts the number of
/// events read before it): the wall clock in milliseconds, and always above the previous one of
/// this process, so that of two computations of a dossier from the same events, under rules
/// that changed between them, the newer wins under FINAL. (Seconds from ClickHouse plus local
/// milliseconds, as first written, could go backwards when two cycles met in one second.)
fn next_version() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    let previous = LAST.fetch_max(now, Ordering::SeqCst);
    if previous >= now {
        LAST.fetch_add(1, Ordering::SeqCst) + 1
    } else {
        now
    }
}

/// First day of the local month holding the instant `unix`.
fn month_start(unix: u32) -> NaiveDate {
    let local = ioc_domain::local_offset().timestamp_opt(i64::from(unix), 0).single().unwrap_or_default();
    local.date_naive().with_day(1).unwrap_or_default()
}

/// The month holding `day`, as `YYYYMM` (ClickHouse's `toYYYYMM`).
pub(crate) fn yyyymm(day: NaiveDate) -> u32 {
    day.year().unsigned_abs() * 100 + day.month()
}

/// The first day of the month `yyyymm` names (the inverse of `yyyymm`).
fn first_day(yyyymm: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt((yyyymm / 100) as i32, yyyymm % 100, 1).unwrap_or(NaiveDate::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in `sql` that follow `opening` and end with `closing`.
    fn names_after(sql: &str, opening: &str, closing: &str) -> std::collections::BTreeSet<String> {
        let mut names = std::collections::BTreeSet::new();
        for piece in sql.split(opening).skip(1) {
            if let Some((name, _)) = piece.split_once(closing) {
                if !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                    names.insert(name.to_owned());
                }
            }
        }
        names
    }

    /// The measure names the rollup SQL writes: the first element of each `('name', ...)` tuple.
    fn written_measures() -> std::collections::BTreeSet<String> {
        let mut names = std::collections::BTreeSet::new();
        for source in Source::ALL {
            for sql in measures_sql(source) {
                names.extend(names_after(sql, "('", "',"));
            }
        }
        names
    }

    #[test]
    fn each_portal_measure_and_dimension_comes_from_one_branch_only() {
        // The portal's sums are not summed again after the ARRAY JOIN (portal_measures.sql): a
        // (measure, dimension) listed twice would write two rows for one day, unit and measure,
        // which the API would add up or not depending on how it reads them.
        let mut seen = std::collections::BTreeSet::new();
        for piece in PORTAL_MEASURES.split("('").skip(1) {
            let mut fields = piece.splitn(3, ',');
            let (Some(name), Some(dimension)) = (fields.next(), fields.next()) else { continue };
            let name = name.trim_end_matches('\'');
            if !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                continue;
            }
            assert!(seen.insert((name.to_owned(), dimension.trim().to_owned())), "{name} by {dimension} twice");
        }
        assert!(seen.len() > 20, "only {} measures found: has the query's form changed?", seen.len());
    }

    #[test]
    fn the_rollups_write_every_declared_measure_and_no_other() {
        // The API side of this contract is checked by ioc-api's test of what it reads.
        let written = written_measures();
        let declared: std::collections::BTreeSet<String> =
            ioc_domain::measures::ALL.iter().map(|name| (*name).to_owned()).collect();
        assert_eq!(written.difference(&declared).collect::<Vec<_>>(), Vec::<&String>::new(), "written, not declared");
        assert_eq!(declared.difference(&written).collect::<Vec<_>>(), Vec::<&String>::new(), "declared, not written");
    }

    #[test]
    fn staging_tables_are_partitioned_and_ordered_like_the_measures() {
        let migrations: String = ioc_clickhouse::embedded_migrations().into_iter().map(|m| m.text).collect();
        for engine in [DAILY_STAGING_ENGINE, MONTHLY_STAGING_ENGINE] {
            let keys = engine.trim_start_matches("ENGINE = MergeTree ");
            let (partition, order) = keys.split_once(" ORDER BY ").expect("both keys");
            assert!(migrations.contains(&format!("{partition}\n")), "{partition} is not the measures' partitioning");
            assert!(migrations.contains(&format!("ORDER BY {order};")), "ORDER BY {order} is not the measures' order");
        }
    }

    #[test]
    fn a_recomputation_of_everything_lists_no_old_months() {
        let listing = touched_sql(Source::Portal);
        let not = without_old_months(listing);
        assert_eq!(not.matches('?').count() + 1, listing.matches('?').count(), "the waiting time's parameter goes");
        assert!(!not.contains("groupUniqArrayIf") && not.contains("emptyArrayUInt32() AS months"), "{not}");
        assert!(not.contains("emptyArrayString() AS opening_units"), "{not}");
        assert!(not.contains("arrayFilter(m -> m < ?, months)"), "the outer query is kept: {not}");
        assert!(not.contains("arrayExists(m -> m < ?, months), opening_units"), "the outer query is kept: {not}");
        assert_eq!(without_old_months(touched_sql(Source::Edoc)), touched_sql(Source::Edoc));
    }

    #[test]
    fn unit_codes_are_written_as_literals_whatever_they_hold() {
        assert_eq!(sql_strings(&[]), "('')");
        // ClickHouse's hex() of `SNV`, of `a'?` and a line break, and of a byte not UTF-8.
        let units = ["534E56".to_owned(), "61273F0A".to_owned(), "FF".to_owned(), "not hex".to_owned()];
        assert_eq!(sql_strings(&units), "('\\x53\\x4E\\x56', '\\x61\\x27\\x3F\\x0A', '\\xFF')");
        assert_eq!(sql_strings(&["4".to_owned()]), "('')", "an odd number of digits is no code");
    }

    #[test]
    fn a_span_keeps_its_own_sections_only() {
        let sql = "a {recent b ?}{history c} d {staging} {recent e}{months f}";
        assert_eq!(for_span(sql, Span::Latest), "a  b ? d {staging}  e");
        assert_eq!(for_span(sql, Span::History), "a  c d {staging} ");
        assert_eq!(for_span(sql, Span::Months), "a  d {staging}  f");
        assert_eq!(for_span("no sections", Span::Latest), "no sections");
    }

    #[test]
    fn every_measures_query_has_both_forms_and_no_section_left() {
        for source in Source::ALL {
            let sql = measures_sql(source).concat();
            let latest = for_span(&sql, Span::Latest);
            let history = for_span(&sql, Span::History);
            for form in [&latest, &history] {
                let form = form.replace("{staging}", "").replace("{dossiers}", "");
                assert_eq!(form.matches(['{', '}']).count(), 0, "{source}: a section is left");
            }
            // The latest months' form reads candidates: a subquery per kind of entity, or the
            // portal's dossiers from the partitions of their facts by bound month.
            if source == Source::Portal {
                assert!(
                    latest.contains("FROM dossier_facts_by_bound") && !history.contains("FROM dossier_facts_by_bound")
                );
            } else {
                assert!(latest.matches("(SELECT").count() > history.matches("(SELECT").count(), "{source}");
            }
        }
        assert!(for_span(PORTAL_MEASURED_DOSSIERS, Span::History).contains("dossier_facts FINAL"));
        assert!(!for_span(PORTAL_MEASURED_DOSSIERS, Span::Latest).contains("dossier_facts FINAL"));
        // The portal's old months alone: the dossiers with an instant in them, the days of them.
        let months = for_span(&measures_sql(Source::Portal).concat(), Span::Months);
        assert_eq!(months.replace("{staging}", "").replace("{dossiers}", "").matches(['{', '}']).count(), 0);
        assert!(!months.contains("dossier_facts FINAL"), "{months}");
        for filter in ["has(OLD_MONTHS, toYYYYMM(late_at))", "has(OLD_MONTHS, toYYYYMM(day))"] {
            assert!(months.contains(filter), "{filter} missing: {months}");
        }
        for form in [Span::Latest, Span::History] {
            assert!(!for_span(&measures_sql(Source::Portal).concat(), form).contains("OLD_MONTHS"), "{form:?}");
        }
    }

    #[test]
    fn only_a_recomputation_from_the_previous_month_on_is_of_the_latest_months() {
        let month = |y, m| NaiveDate::from_ymd_opt(y, m, 1).expect("date");
        assert_eq!(Span::of(month(2026, 11), month(2026, 11)), Span::Latest);
        assert_eq!(Span::of(month(2026, 10), month(2026, 11)), Span::Latest);
        assert_eq!(Span::of(month(2026, 9), month(2026, 11)), Span::History);
        assert_eq!(Span::of(month(2025, 12), month(2026, 1)), Span::Latest, "over the new year");
        assert_eq!(Span::of(month(2025, 11), month(2026, 1)), Span::History);
    }

    #[test]
    fn the_facts_of_many_dossiers_are_computed_in_slices_of_at_most_the_events_asked() {
        let per_slice = CycleOptions::default().facts_events_per_slice;
        assert_eq!(facts_slices(0, per_slice), 1);
        assert_eq!(facts_slices(per_slice, per_slice), 1);
        assert_eq!(facts_slices(per_slice + 1, per_slice), 2);
        assert_eq!(facts_slices(10_045_755, 1_000_000), 11);
        assert_eq!(facts_slices(5, 0), 5, "0 is taken as 1");
    }

    #[test]
    fn versions_only_go_up() {
        let mut previous = next_version();
        for _ in 0..10_000 {
            let version = next_version();
            assert!(version > previous);
            previous = version;
        }
    }

    #[test]
    fn months_are_local() {
        // 2026-02-28T17:30:00Z is 00:30 on 1 March in Hà Nội.
        assert_eq!(month_start(1_772_299_800), NaiveDate::from_ymd_opt(2026, 3, 1).expect("date"));
        let december = NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
        assert_eq!(yyyymm(december), 202_612);
        assert_eq!(first_day(202_612), december);
    }
}
