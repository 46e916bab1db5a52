//! Every query the API sends to ClickHouse, in one place: the pre-aggregated `measures_monthly`
//! and `measures_daily` (kept by ioc-processor's rollup task; flows summed over a period, stocks
//! over every day before its end), the reference data the indicators are measured against, the
//! units, and the rollups' progress. The API never reads raw events.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use clickhouse::Row;
use ioc_domain::measures as m;
use serde::Deserialize;

use crate::error::ApiError;
use crate::kpis::{Goal, Goals};
use crate::period::{Bucket, Period};
use crate::responses::{UnitInfo, UnitRef};
use std::future::Future;

/// The longest the API waits for one query's answer. The client sets no limit of its own, so a
/// ClickHouse that stalls (overloaded, or a network that drops packets) held the request, every
/// request waiting for the same answer, and the answer cache's watcher, for as long as the TCP
/// connection lived. The slowest answers measured take about 2 s under 64 clients with no
/// answers kept (BENCHMARKS.md).
const QUERY_LIMIT: std::time::Duration = std::time::Duration::from_secs(20);

/// ClickHouse as the API uses it: every query below, timed by its name in
/// `ioc_api_clickhouse_seconds` (`totals`, `series`, `reference`, `units`, `rollup_progress`).
#[derive(Clone)]
pub struct Store {
    client: clickhouse::Client,
    seconds: prometheus::HistogramVec,
    query_limit: std::time::Duration,
}

impl Store {
    /// Queries through `client`, timing each into `seconds` (labelled by query).
    pub fn new(client: clickhouse::Client, seconds: prometheus::HistogramVec) -> Self {
        Store { client, seconds, query_limit: QUERY_LIMIT }
    }

    /// The same store waiting at most `limit` for each answer (tests).
    pub fn with_query_limit(self, limit: std::time::Duration) -> Self {
        Store { query_limit: limit, ..self }
    }

    /// Runs `work`, timed; once more when the first attempt failed on the connection (hyper may
    /// pick a pooled connection ClickHouse is closing, which shows under many concurrent
    /// requests). The queries only read, so a second attempt is harmless.
    async fn timed<T, F: Future<Output = Result<T, ApiError>>>(
        &self,
        query: &str,
        work: impl Fn() -> F,
    ) -> Result<T, ApiError> {
        let timer = self.seconds.with_label_values(&[query]).start_timer();
        let bounded = || async {
            let limit = self.query_limit;
            tokio::time::timeout(limit, work()).await.unwrap_or(Err(ApiError::StoreTimedOut(limit)))
        };
        let out = match bounded().await {
            Err(ApiError::Store(clickhouse::error::Error::Network(error))) => {
                tracing::debug!(%error, query, "clickhouse connection failed; asking again");
                bounded().await
            }
            out => out,
        };
        timer.observe_duration();
        out
    }

    /// Totals of `period` for `scope` (see [`totals`]).
    pub async fn totals(
        &self,
        scope: Scope<'_>,
        period: Period,
        only: Option<&[&str]>,
    ) -> Result<HashMap<String, Totals>, ApiError> {
        self.timed("totals", || totals(&self.client, scope, period, only)).await
    }

    /// Totals of each bucket of `period` (see [`series`]).
    pub async fn series(
        &self,
        unit: Option<&str>,
        bucket: Bucket,
        period: Period,
        only: Option<&[&str]>,
    ) -> Result<Vec<(NaiveDate, Period, Totals)>, ApiError> {
        self.timed("series", || series(&self.client, unit, bucket, period, only)).await
    }

    /// The denominators and the goals, read together.
    pub async fn reference(&self) -> Result<(HashMap<String, HashMap<String, u64>>, Goals), ApiError> {
        self.timed("reference", || async { tokio::try_join!(populations(&self.client), goals(&self.client)) }).await
    }

    /// A unit by its code (see [`unit`]).
    pub async fn unit(&self, code: &str) -> Result<UnitInfo, ApiError> {
        self.timed("units", || unit(&self.client, code)).await
    }

    /// Every unit (see [`units`]).
    pub async fn units(&self) -> Result<Vec<UnitInfo>, ApiError> {
        self.timed("units", || units(&self.client)).await
    }

    /// The commune-level units (see [`communes`]).
    pub async fn communes(&self) -> Result<Vec<UnitRef>, ApiError> {
        self.timed("units", || communes(&self.client)).await
    }

    /// Each source's rollup progress (see [`rollup_progress`]).
    pub async fn rollup_progress(&self) -> Result<Vec<RollupProgress>, ApiError> {
        self.timed("rollup_progress", || rollup_progress(&self.client)).await
    }

    /// The reference data's newest load: it changes with every reload by `migrate`.
    pub async fn reference_load(&self) -> Result<u64, ApiError> {
        self.timed("reference_load", || async { Ok(ioc_clickhouse::newest_reference_load(&self.client).await?) }).await
    }
}

/// A measure and its dimension ('' for the total).
pub type MeasureKey = (String, String);

/// Sums of the daily measures for one scope (a unit or the province) and one period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    /// Sum over the period's days.
    pub flow: HashMap<MeasureKey, u64>,
    /// Sum over every day before the period's end.
    pub stock: HashMap<MeasureKey, u64>,
}

impl Totals {
    /// A measure's total over the period.
    pub fn flow(&self, measure: &str) -> u64 {
        self.flow_of(measure, "")
    }

    /// A measure's value for one dimension over the period.
    pub fn flow_of(&self, measure: &str, dimension: &str) -> u64 {
        self.flow.get(&(measure.to_owned(), dimension.to_owned())).copied().unwrap_or(0)
    }

    /// A measure's total up to the period's end.
    pub fn stock(&self, measure: &str) -> u64 {
        self.stock_of(measure, "")
    }

    /// A measure's value for one dimension up to the period's end.
    pub fn stock_of(&self, measure: &str, dimension: &str) -> u64 {
        self.stock.get(&(measure.to_owned(), dimension.to_owned())).copied().unwrap_or(0)
    }

    /// Replaces the flows of `measure` (every dimension) by those of `from` (none: zero).
    pub fn replace_flows(&mut self, measure: &str, from: Option<&Totals>) {
        self.flow.retain(|(m, _), _| m != measure);
        if let Some(from) = from {
            self.flow.extend(from.flow.iter().filter(|((m, _), _)| m == measure).map(|(k, v)| (k.clone(), *v)));
        }
    }

    /// The dimensions of a measure with a non-zero flow, sorted.
    pub fn flow_dimensions(&self, measure: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .flow
            .iter()
            .filter(|((m, d), value)| m == measure && !d.is_empty() && **value > 0)
            .map(|((_, d), _)| d.clone())
            .collect();
        out.sort();
        out
    }
}

#[derive(Row, Deserialize)]
struct TotalRow {
    scope: String,
    measure: String,
    dimension: String,
    flow: u64,
    stock: u64,
}

/// Which units to sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope<'a> {
    /// Every unit together.
    Province,
    /// One unit.
    Unit(&'a str),
    /// Every unit, separately.
    EachUnit,
}

/// Totals of `period` for `scope`: keyed by unit code, or by "" for the province.
///
/// Whole months come from `measures_monthly`, the days of partial months at the period's edges
/// (and of the month its end falls in, for stocks) from `measures_daily`: a year costs 12 rows
/// per measure instead of 365.
/// `only` restricts the read to those measures (one indicator's, from `kpis::measures_of`).
async fn totals(
    client: &clickhouse::Client,
    scope: Scope<'_>,
    period: Period,
    only: Option<&[&str]>,
) -> Result<HashMap<String, Totals>, ApiError> {
    let measures = measure_filter(only);
    // Aliased `scope`, not `unit_code`: an alias would shadow the column in WHERE.
    let (unit_column, group) = match scope {
        Scope::EachUnit => ("unit_code", "unit_code, "),
        _ => ("''", ""),
    };
    let unit = match scope {
        Scope::Unit(code) => code,
        _ => "",
    };
    let edges = Edges::of(period);
    let sql = format!(
        "SELECT scope, measure, dimension, toUInt64(sum(flow)) AS flow, toUInt64(sum(stock)) AS stock FROM ( \
            SELECT {unit_column} AS scope, measure, dimension, \
                   sumIf(value, month >= toDate(?) AND month < toDate(?)) AS flow, sum(value) AS stock \
            FROM measures_monthly WHERE month < toDate(?) AND (? = '' OR unit_code = ?){measures} \
            GROUP BY {group}measure, dimension \
            UNION ALL \
            SELECT {unit_column} AS scope, measure, dimension, \
                   sumIf(value, day >= toDate(?) AND (day < toDate(?) OR day >= toDate(?))) AS flow, \
                   sumIf(value, day >= toDate(?)) AS stock \
            FROM measures_daily \
            WHERE ((day >= toDate(?) AND day < toDate(?)) OR (day >= toDate(?) AND day < toDate(?))) \
              AND (? = '' OR unit_code = ?){measures} \
            GROUP BY {group}measure, dimension) \
         GROUP BY scope, measure, dimension"
    );
    let day = |d: NaiveDate| d.to_string();
    let rows: Vec<TotalRow> = client
        .query(&sql)
        // Months wholly inside the period; every month before the end's month.
        .bind(day(edges.first_full_month))
        .bind(day(edges.end_month))
        .bind(day(edges.end_month))
        .bind(unit)
        .bind(unit)
        // Days of the period outside those months; days of the end's month before the end.
        .bind(day(period.from))
        .bind(day(edges.first_full_month))
        .bind(day(edges.end_month))
        .bind(day(edges.end_month))
        // Rows read: the period's days before its first whole month (all of them, without
        // one), and the days of the end's month.
        .bind(day(period.from))
        .bind(day(if edges.first_full_month < edges.end_month { edges.first_full_month } else { edges.end }))
        .bind(day(edges.end_month))
        .bind(day(edges.end))
        .bind(unit)
        .bind(unit)
        .fetch_all()
        .await?;
    let mut out: HashMap<String, Totals> = HashMap::new();
    for row in rows {
        let totals = out.entry(row.scope).or_default();
        let key = (row.measure, row.dimension);
        if row.flow > 0 {
            totals.flow.insert(key.clone(), row.flow);
        }
        totals.stock.insert(key, row.stock);
    }
    Ok(out)
}

/// Where a period meets month boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Edges {
    /// The first month starting on or after the period's first day.
    first_full_month: NaiveDate,
    /// The month holding the period's (exclusive) end: months before it are whole.
    end_month: NaiveDate,
    /// The day after the period.
    end: NaiveDate,
}

impl Edges {
    fn of(period: Period) -> Self {
        let end = end_day(period);
        let start_month = Bucket::Month.start_of(period.from);
        let first_full_month = if start_month == period.from { start_month } else { Bucket::Month.next(start_month) };
        // With no whole month inside, `first_full_month >= end_month`: the monthly flow is empty
        // and every day of the period is read from measures_daily.
        Edges { first_full_month, end_month: Bucket::Month.start_of(end), end }
    }
}

#[derive(Row, Deserialize)]
struct BucketRow {
    bucket: String,
    measure: String,
    dimension: String,
    total: u64,
}

/// Totals of each bucket of `period` (clipped to it) for one unit or the province, in order.
///
/// A stock counts everything before the bucket's end, so the series starts from the stock of
/// every day before `period.from` (read like any period's, from the monthly and daily tables)
/// and adds each bucket's days to it.
async fn series(
    client: &clickhouse::Client,
    unit: Option<&str>,
    bucket: Bucket,
    period: Period,
    only: Option<&[&str]>,
) -> Result<Vec<(NaiveDate, Period, Totals)>, ApiError> {
    let measures = measure_filter(only);
    let sql = format!(
        "SELECT toString({}) AS bucket, measure, dimension, toUInt64(sum(value)) AS total \
         FROM measures_daily WHERE day >= toDate(?) AND day < toDate(?) AND (? = '' OR unit_code = ?){measures} \
         GROUP BY bucket, measure, dimension",
        bucket.sql()
    );
    let scope = unit.map_or(Scope::Province, Scope::Unit);
    let unit = unit.unwrap_or("");
    let buckets = client
        .query(&sql)
        .bind(period.from.to_string())
        .bind(end_day(period).to_string())
        .bind(unit)
        .bind(unit)
        .fetch_all::<BucketRow>();
    let opening = async {
        match period.from.pred_opt() {
            Some(eve) => Ok(totals(client, scope, Period { from: eve, to: eve }, only)
                .await?
                .remove("")
                .unwrap_or_default()
                .stock),
            None => Ok(HashMap::new()),
        }
    };
    let (rows, mut stock) = tokio::try_join!(async { buckets.await.map_err(ApiError::from) }, opening)?;
    let mut by_bucket: BTreeMap<String, Vec<BucketRow>> = BTreeMap::new();
    for row in rows {
        by_bucket.entry(row.bucket.clone()).or_default().push(row);
    }
    let mut out = Vec::new();
    for (start, part) in bucket.split(period) {
        let mut flow = HashMap::new();
        for row in by_bucket.remove(&start.to_string()).unwrap_or_default() {
            let key = (row.measure, row.dimension);
            *stock.entry(key.clone()).or_default() += row.total;
            if row.total > 0 {
                flow.insert(key, row.total);
            }
        }
        out.push((start, part, Totals { flow, stock: stock.clone() }));
    }
    debug_assert!(by_bucket.is_empty(), "rows outside the buckets: {:?}", by_bucket.keys().collect::<Vec<_>>());
    Ok(out)
}

/// The rows of the measures that count: ` AND measure IN (...)` for `only` (the names are the
/// code's own constants, never input), and the weeks with a class of the communes and wards the
/// reference data lists now. The rollups keep every unit's weeks (training_measures.sql), so that
/// the numerator of the weekly coverage and its denominator (the communes, `populations`) follow
/// the same reference data, however long ago a month was rolled up (docs/indicators.md). In a
/// cluster the measures and `ref_units` are on every node, so the plain `IN` reads its own copy.
fn measure_filter(only: Option<&[&str]>) -> String {
    let communes = format!(
        " AND (measure != '{}' OR unit_code IN (SELECT code FROM ref_units WHERE kind != 'department'))",
        m::CLASS_WEEKS
    );
    match only {
        None => communes,
        Some(names) => {
            debug_assert!(names.iter().all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')));
            let list: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
            let weeks = if names.contains(&m::CLASS_WEEKS) { communes.as_str() } else { "" };
            format!(" AND measure IN ({}){weeks}", list.join(", "))
        }
    }
}

/// The day after the period: its exclusive end.
fn end_day(period: Period) -> NaiveDate {
    period.to + chrono::Days::new(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    #[tokio::test]
    async fn a_store_that_never_answers_is_a_503_in_bounded_time_not_a_held_request() {
        // A network that takes the connection and the query, and never answers: what a stalled
        // ClickHouse looks like from here.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let seconds =
            prometheus::HistogramVec::new(prometheus::HistogramOpts::new("t", "t"), &["query"]).expect("hist");
        let store = Store::new(clickhouse::Client::default().with_url(url), seconds)
            .with_query_limit(std::time::Duration::from_millis(200));
        let answer = tokio::time::timeout(std::time::Duration::from_secs(10), store.rollup_progress())
            .await
            .expect("the store's own limit ends the wait, not this test's");
        let error = answer.expect_err("nothing was answered");
        assert!(matches!(error, ApiError::StoreTimedOut(_)), "{error:?}");
        let response = axum::response::IntoResponse::into_response(error);
        assert_eq!(response.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
        held.abort();
    }

    #[test]
    fn whole_months_and_edge_days() {
        let edges = |from: &str, to: &str| Edges::of(Period { from: day(from), to: day(to) });
        let year = edges("2026-01-01", "2026-12-31");
        assert_eq!((year.first_full_month, year.end_month), (day("2026-01-01"), day("2027-01-01")));
        let ragged = edges("2026-01-15", "2026-03-10");
        assert_eq!((ragged.first_full_month, ragged.end_month), (day("2026-02-01"), day("2026-03-01")));
        let inside = edges("2026-03-05", "2026-03-20");
        assert!(inside.first_full_month >= inside.end_month);
        assert_eq!(inside.end, day("2026-03-21"));
    }

    #[test]
    fn a_measure_s_flows_are_replaced_whole_and_the_others_kept() {
        let flows = |pairs: &[(&str, &str, u64)]| Totals {
            flow: pairs.iter().map(|(m, d, v)| (((*m).to_owned(), (*d).to_owned()), *v)).collect(),
            stock: HashMap::new(),
        };
        let mut totals = flows(&[("class_weeks", "", 5), ("class_weeks", "x", 2), ("classes_held", "", 9)]);
        totals.replace_flows("class_weeks", Some(&flows(&[("class_weeks", "", 4), ("classes_held", "", 1)])));
        assert_eq!(totals, flows(&[("class_weeks", "", 4), ("classes_held", "", 9)]));
        totals.replace_flows("class_weeks", None);
        assert_eq!((totals.flow("class_weeks"), totals.flow("classes_held")), (0, 9));
    }
}

#[derive(Row, Deserialize)]
struct PopulationRow {
    unit_code: String,
    measure: String,
    value: u64,
}

#[derive(Row, Deserialize)]
struct UnitKindRow {
    code: String,
    kind: String,
}

/// Denominators from the reference data: unit code → measure → value; "" holds the province.
/// `communes` counts the communes and wards of a scope (1 for each, 0 for a department).
async fn populations(client: &clickhouse::Client) -> Result<HashMap<String, HashMap<String, u64>>, ApiError> {
    let (rows, units) = tokio::try_join!(
        client.query("SELECT unit_code, measure, value FROM ref_denominators").fetch_all::<PopulationRow>(),
        client.query("SELECT code, kind FROM ref_units").fetch_all::<UnitKindRow>()
    )?;
    let communes = units.into_iter().map(|unit| PopulationRow {
        value: u64::from(unit.kind != "department"),
        unit_code: unit.code,
        measure: crate::kpis::COMMUNES.to_owned(),
    });
    let mut out: HashMap<String, HashMap<String, u64>> = HashMap::new();
    for row in rows.into_iter().chain(communes) {
        *out.entry(String::new()).or_default().entry(row.measure.clone()).or_default() += row.value;
        out.entry(row.unit_code).or_default().insert(row.measure, row.value);
    }
    Ok(out)
}

#[derive(Row, Deserialize)]
struct TargetRow {
    indicator: String,
    year: u16,
    kind: String,
    target: f64,
    source: String,
}

/// Targets and scoring thresholds from the reference data.
async fn goals(client: &clickhouse::Client) -> Result<Goals, ApiError> {
    let rows: Vec<TargetRow> =
        client.query("SELECT indicator, year, kind, target, source FROM ref_targets").fetch_all().await?;
    let mut goals = Goals::default();
    for row in rows {
        let goal = Goal { value: row.target, source: row.source };
        goals.by_indicator.entry(row.indicator).or_default().push((row.year, row.kind, goal));
    }
    Ok(goals)
}

/// A unit by its code; an unknown code is a 400 that says where the codes are listed.
async fn unit(client: &clickhouse::Client, code: &str) -> Result<UnitInfo, ApiError> {
    client
        .query("SELECT code, name, kind, former_province FROM ref_units WHERE code = ? LIMIT 1")
        .bind(code)
        .fetch_optional::<UnitInfo>()
        .await?
        .ok_or_else(|| ApiError::BadRequest(format!("unknown unit {code:?}; GET /v1/units lists the unit codes")))
}

/// Every unit, communes and wards by name first, then the departments.
async fn units(client: &clickhouse::Client) -> Result<Vec<UnitInfo>, ApiError> {
    Ok(client
        .query("SELECT code, name, kind, former_province FROM ref_units ORDER BY kind = 'department', name")
        .fetch_all()
        .await?)
}

/// The commune-level units a ranking lists, by code.
async fn communes(client: &clickhouse::Client) -> Result<Vec<UnitRef>, ApiError> {
    Ok(client
        .query("SELECT code, name, kind FROM ref_units WHERE kind != 'department' ORDER BY code")
        .fetch_all()
        .await?)
}

/// How far one source's rollup got, as its latest cycle recorded it (unix seconds; 0: never).
#[derive(Debug, Clone, Row, Deserialize)]
pub struct RollupProgress {
    /// The source.
    pub source: String,
    /// Every event stored before this instant is in the measures.
    pub covered_until: u32,
    /// The newest event time stored.
    pub newest_event: u32,
    /// Events stored in the five minutes before the cycle.
    pub events_last_5_minutes: u64,
}

/// Each source's rollup progress, from `rollup_state` (written by every rollup cycle).
async fn rollup_progress(client: &clickhouse::Client) -> Result<Vec<RollupProgress>, ApiError> {
    Ok(client
        .query(
            "SELECT source, toUInt32(max(covered_until)) AS covered_until, \
                    toUInt32(argMax(newest_event, refreshed_at)) AS newest_event, \
                    toUInt64(argMax(events_last_5_minutes, refreshed_at)) AS events_last_5_minutes \
             FROM rollup_state GROUP BY source",
        )
        .fetch_all()
        .await?)
}
