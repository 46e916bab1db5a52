//! Answers kept until the rollups advance. Every indicator the API serves is a function of the
//! pre-aggregated measures, which change only when a rollup cycle writes them, and of the
//! reference data, which changes only when `ioc-processor migrate` reloads it (each reload a new
//! load, migration 0013); between two cycles and two reloads the same question has the same
//! answer. A wall of screens asking the
//! same thing then costs ClickHouse one query per question per cycle instead of one per screen.
//!
//! A watcher reads each source's `covered_until` from `rollup_state` and the reference data's
//! newest load every `refresh` and drops every kept answer when one moved, so an answer is at
//! most one `refresh` older than the rollups and the reference data (0.2 s by default, against
//! rollup rounds of 1 to 4 s). When the watcher cannot read
//! ClickHouse it keeps nothing: it cannot tell whether the rollups moved. Concurrent requests for
//! an answer not kept yet share one computation. Responses of cached routes carry
//! `IOC-Covered-Until` (unix seconds): every event dated (`inserted_at`) before it is in the
//! answer (the processor dates an event at most a second after it stored it); and
//! `IOC-Covered-Until-By-Source` (`edoc=…, portal=…, training=…`, an RFC 8941 dictionary): the
//! same per source, since an event's effect waits for its own source's rollup only. A source
//! whose rollup never ran (no row in `rollup_state`) is covered until 0, and so is the answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::OnceCell;

use crate::answer_day::AnswerDay;
use crate::metrics::ApiMetrics;
use crate::storage::Store;

/// The response header telling how far the answer's data goes.
pub const COVERED_UNTIL_HEADER: &str = "ioc-covered-until";

/// The response header telling how far the answer's data of each source goes.
pub const COVERED_UNTIL_BY_SOURCE_HEADER: &str = "ioc-covered-until-by-source";

/// An answer as sent: only 200s are kept.
#[derive(Clone)]
struct Kept {
    content_type: Option<HeaderValue>,
    body: Bytes,
}

/// What kept answers were computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Basis {
    /// Each source's `covered_until`, in source order.
    marks: Vec<(String, u32)>,
    /// The reference data's newest load (ioc_clickhouse::newest_reference_load).
    reference_load: u64,
}

/// What the cache holds for one state of the rollups and the reference data.
#[derive(Default)]
struct Generation {
    /// What its answers come from; `None` while unknown (nothing is kept).
    basis: Option<Basis>,
    /// `marks` as the by-source header says them.
    by_source: Option<HeaderValue>,
    answers: HashMap<String, Arc<OnceCell<Kept>>>,
    bytes: usize,
}

impl Generation {
    /// The instant before which every source's events are in the measures.
    fn covered_until(&self) -> Option<u32> {
        self.basis.as_ref().and_then(|basis| basis.marks.iter().map(|(_, until)| *until).min())
    }

    fn new(basis: Option<Basis>) -> Generation {
        let by_source = basis.as_ref().and_then(|basis| {
            let text: Vec<String> = basis.marks.iter().map(|(source, until)| format!("{source}={until}")).collect();
            // Source names are lowercase ASCII words; anything else is left out of the header.
            HeaderValue::from_str(&text.join(", ")).ok()
        });
        Generation { basis, by_source, ..Generation::default() }
    }
}

/// The marks an `IOC-Covered-Until-By-Source` value says (`source=unix seconds` pairs, in its
/// order), as `Generation::new` writes them; `None` for a value not of that form.
pub fn parse_covered_until_by_source(value: &str) -> Option<Vec<(String, u32)>> {
    value
        .split(", ")
        .map(|pair| {
            let (source, until) = pair.split_once('=')?;
            Some((source.to_owned(), until.parse().ok()?))
        })
        .collect()
}

/// What a kept answer's response says about its coverage.
struct Coverage {
    until: u32,
    by_source: Option<HeaderValue>,
}

/// Answers of the current rollup state.
pub struct AnswerCache {
    generation: Mutex<Generation>,
    max_bytes: usize,
    metrics: ApiMetrics,
}

impl AnswerCache {
    /// An empty cache keeping at most `max_bytes` of answers (it starts over when full).
    pub fn new(max_bytes: usize, metrics: ApiMetrics) -> Self {
        AnswerCache { generation: Mutex::new(Generation::default()), max_bytes, metrics }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Generation> {
        // The map is valid whatever a panicking holder did: at worst an answer is recomputed.
        self.generation.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the rollups' newest marks and the reference data's newest load; drops every answer
    /// when one moved (or they are unknown).
    fn advance(&self, basis: Option<Basis>) {
        let mut generation = self.lock();
        if generation.basis != basis || basis.is_none() {
            *generation = Generation::new(basis);
            self.metrics.answer_cache_bytes.set(0);
        }
    }

    /// The cell of `key` in the current generation and the generation's coverage; `None` when
    /// answers cannot be kept now.
    fn cell(&self, key: &str) -> Option<(Arc<OnceCell<Kept>>, Coverage)> {
        let mut generation = self.lock();
        let until = generation.covered_until()?;
        let coverage = Coverage { until, by_source: generation.by_source.clone() };
        if let Some(cell) = generation.answers.get(key) {
            return Some((cell.clone(), coverage));
        }
        // A new key counts whatever its answer: a refused request leaves its cell, and while
        // the rollups stand still (the processors stopped) distinct URLs, a crawler's say,
        // would otherwise grow the map without bound.
        self.charge(&mut generation, key.len() + CELL_BYTES);
        let cell = Arc::new(OnceCell::new());
        generation.answers.insert(key.to_owned(), cell.clone());
        Some((cell, coverage))
    }

    /// Counts a computed answer's size; starts over when the cache is full.
    fn account(&self, bytes: usize) {
        let mut generation = self.lock();
        self.charge(&mut generation, bytes);
    }

    fn charge(&self, generation: &mut Generation, bytes: usize) {
        generation.bytes += bytes;
        if generation.bytes > self.max_bytes {
            let basis = generation.basis.take();
            *generation = Generation::new(basis);
        }
        self.metrics.answer_cache_bytes.set(i64::try_from(generation.bytes).unwrap_or(i64::MAX));
    }
}

/// What a key's entry costs besides the key: the map's slot, the cell and its reference count.
const CELL_BYTES: usize = 96;

/// Reads the rollups' marks and the reference data's newest load every `refresh` and feeds them
/// to `cache`, for ever.
pub async fn watch(cache: Arc<AnswerCache>, store: Arc<Store>, refresh: Duration) {
    let mut ticks = tokio::time::interval(refresh);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Logged when it starts and when it ends, not at every tick of an outage.
    let mut failing = false;
    loop {
        ticks.tick().await;
        match tokio::try_join!(store.rollup_progress(), store.reference_load()) {
            Ok((progress, reference_load)) => {
                if std::mem::take(&mut failing) {
                    tracing::info!("rollup_state and the reference loads readable again; answers are kept again");
                }
                let marks = marks_of(progress.into_iter().map(|row| (row.source, row.covered_until)));
                cache.advance(Some(Basis { marks, reference_load }));
            }
            Err(error) => {
                if !std::mem::replace(&mut failing, true) {
                    tracing::warn!(%error, "cannot read rollup_state or the reference loads; answers are not kept until it can");
                }
                cache.advance(None);
            }
        }
    }
}

/// Each source's mark, in source order, from the rows `rollup_state` has: a source with no row
/// (its rollup never ran) is covered until 0, so that the answer as a whole says it covers
/// nothing rather than what the other sources' marks say. A source `rollup_state` names that
/// the API does not know is kept too: its mark still moves the cache on.
fn marks_of(rows: impl IntoIterator<Item = (String, u32)>) -> Vec<(String, u32)> {
    let mut marks: Vec<(String, u32)> = rows.into_iter().collect();
    for source in ioc_domain::Source::ALL {
        if !marks.iter().any(|(name, _)| name == source.as_str()) {
            marks.push((source.as_str().to_owned(), 0));
        }
    }
    marks.sort();
    marks
}

/// Middleware of the cached routes: serves a kept answer, or computes it once for every
/// concurrent asker and keeps it if it is a 200.
pub async fn serve_kept(State(cache): State<Arc<AnswerCache>>, request: Request, next: Next) -> Response {
    // The day of the answer is part of the key: a period left open ("to today") moves at
    // midnight. The one the handler will use (answer_day.rs), not another reading of the clock.
    // Without it (a route not stamped) the handlers refuse the request, and nothing is kept.
    let Some(AnswerDay(today)) = request.extensions().get::<AnswerDay>().copied() else {
        return next.run(request).await;
    };
    let key = format!("{today} {}", request.uri());
    let Some((cell, coverage)) = cache.cell(&key) else {
        cache.metrics.answer_cache.with_label_values(&["uncached"]).inc();
        return next.run(request).await;
    };
    let mut refused = None;
    let mut computed = false;
    let kept = cell
        .get_or_try_init(|| async {
            computed = true;
            let response = next.run(request).await;
            if response.status() != StatusCode::OK {
                refused = Some(response);
                return Err(());
            }
            let (parts, body) = response.into_parts();
            match axum::body::to_bytes(body, usize::MAX).await {
                Ok(body) => Ok(Kept { content_type: parts.headers.get(header::CONTENT_TYPE).cloned(), body }),
                Err(error) => {
                    refused = Some(
                        (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to read the answer: {error}"))
                            .into_response(),
                    );
                    Err(())
                }
            }
        })
        .await;
    match kept {
        Ok(kept) => {
            if computed {
                cache.account(kept.body.len());
            }
            cache.metrics.answer_cache.with_label_values(&[if computed { "miss" } else { "hit" }]).inc();
            let mut response = Response::new(Body::from(kept.body.clone()));
            if let Some(content_type) = &kept.content_type {
                response.headers_mut().insert(header::CONTENT_TYPE, content_type.clone());
            }
            response.headers_mut().insert(COVERED_UNTIL_HEADER, HeaderValue::from(coverage.until));
            if let Some(by_source) = coverage.by_source {
                response.headers_mut().insert(COVERED_UNTIL_BY_SOURCE_HEADER, by_source);
            }
            response
        }
        // Not a 200: sent as it is and not kept (the next asker computes it again). A waiter
        // whose computation failed in another task computes its own answer.
        Err(()) => {
            cache.metrics.answer_cache.with_label_values(&["miss"]).inc();
            refused.unwrap_or_else(|| {
                (StatusCode::SERVICE_UNAVAILABLE, "the answer could not be computed; try again").into_response()
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(until: u32) -> Vec<(String, u32)> {
        vec![("edoc".into(), until + 5), ("portal".into(), until), ("training".into(), until + 9)]
    }

    fn basis(until: u32) -> Option<Basis> {
        Some(Basis { marks: marks(until), reference_load: 7 })
    }

    #[test]
    fn answers_live_as_long_as_the_rollups_stand_still_and_within_the_budget() {
        let cache = AnswerCache::new(300, ApiMetrics::new().expect("metrics"));
        assert!(cache.cell("k").is_none(), "nothing is kept before the rollups' state is known");
        cache.advance(basis(1_000));
        let (cell, coverage) = cache.cell("k").expect("kept");
        assert_eq!(coverage.until, 1_000, "the slowest source bounds what the answer covers");
        let by_source = coverage.by_source.expect("by source");
        assert_eq!(by_source.to_str().ok(), Some("edoc=1005, portal=1000, training=1009"), "each source's own");
        assert_eq!(by_source.to_str().ok().and_then(parse_covered_until_by_source), Some(marks(1_000)), "read back");
        assert_eq!(parse_covered_until_by_source("edoc=1005, portal"), None, "not a mark");
        assert!(cell.set(Kept { content_type: None, body: Bytes::from_static(b"answer") }).is_ok());
        cache.account(6);
        cache.advance(basis(1_000));
        assert!(cache.cell("k").expect("kept").0.initialized(), "same state: the answer stays");
        cache.advance(basis(1_001));
        assert!(!cache.cell("k").expect("kept").0.initialized(), "the rollups moved: the answer goes");
        let (cell, _) = cache.cell("k").expect("kept");
        assert!(cell.set(Kept { content_type: None, body: Bytes::from_static(b"answer") }).is_ok());
        cache.advance(Some(Basis { marks: marks(1_001), reference_load: 8 }));
        assert!(!cache.cell("k").expect("kept").0.initialized(), "the reference data reloaded: the answer goes");

        let (cell, _) = cache.cell("k").expect("kept");
        assert!(cell.set(Kept { content_type: None, body: Bytes::from_static(b"answer") }).is_ok());
        cache.account(301);
        assert!(!cache.cell("k").expect("kept").0.initialized(), "over the budget: the cache starts over");

        cache.advance(None);
        assert!(cache.cell("k").is_none(), "state unknown: nothing is kept");
    }

    /// The key takes the day the handler answers for, from the request (answer_day.rs): a
    /// request stamped with the next day gets that day's answer, not the one kept for the day
    /// before, whatever the clock says.
    #[tokio::test]
    async fn an_answer_is_kept_under_the_day_it_was_computed_for() {
        use axum::routing::get;
        use axum::{Extension, Router};
        use tower::ServiceExt;

        let cache = Arc::new(AnswerCache::new(10_000, ApiMetrics::new().expect("metrics")));
        cache.advance(basis(1_000));
        let ask = |day: &str| {
            let day = AnswerDay(day.parse().expect("a day"));
            let app = Router::new()
                .route(
                    "/v1/kpis",
                    get(|Extension(AnswerDay(day)): Extension<AnswerDay>| async move { day.to_string() }),
                )
                .route_layer(axum::middleware::from_fn_with_state(cache.clone(), serve_kept))
                .layer(Extension(day));
            async move {
                let response = app.oneshot(Request::get("/v1/kpis").body(Body::empty()).expect("request")).await;
                let body = axum::body::to_bytes(response.expect("answer").into_body(), 1 << 10).await.expect("body");
                String::from_utf8(body.to_vec()).expect("text")
            }
        };
        assert_eq!(ask("2026-11-30").await, "2026-11-30");
        assert_eq!(ask("2026-11-30").await, "2026-11-30", "kept");
        assert_eq!(ask("2026-12-01").await, "2026-12-01", "the next day is another answer");
        assert_eq!(ask("2026-11-30").await, "2026-11-30", "and the day before's stays its own");
        let hits = cache.metrics.answer_cache.with_label_values(&["hit"]).get();
        assert_eq!(hits, 2, "the repeated days were served from the cache");
    }

    #[test]
    fn a_source_whose_rollup_never_ran_holds_the_answer_at_zero() {
        let rows = [("portal".to_owned(), 1_000), ("edoc".to_owned(), 1_005)];
        assert_eq!(
            marks_of(rows.clone()),
            [("edoc".to_owned(), 1_005), ("portal".to_owned(), 1_000), ("training".to_owned(), 0)],
        );
        let cache = AnswerCache::new(300, ApiMetrics::new().expect("metrics"));
        cache.advance(Some(Basis { marks: marks_of(rows), reference_load: 1 }));
        let (_, coverage) = cache.cell("k").expect("kept");
        assert_eq!(coverage.until, 0, "training's measures are empty: the answer covers nothing of it");
        assert_eq!(marks_of([]).len(), 3, "no row at all: every source at 0");
        let unknown = marks_of([("parking".to_owned(), 7)]);
        assert_eq!(unknown.len(), 4, "a source the API does not know still counts: {unknown:?}");
    }

    #[test]
    fn keys_with_no_answer_kept_count_against_the_budget() {
        let cache = AnswerCache::new(10_000, ApiMetrics::new().expect("metrics"));
        cache.advance(basis(1_000));
        for crawled in 0..10_000 {
            cache.cell(&format!("2026-11-30 /v1/units/{crawled}")).expect("kept");
            let generation = cache.lock();
            assert!(generation.bytes <= 10_000, "{} bytes", generation.bytes);
            assert!(generation.answers.len() <= 10_000 / CELL_BYTES, "{} keys", generation.answers.len());
        }
        let (cell, _) = cache.cell("k").expect("kept");
        assert!(cell.set(Kept { content_type: None, body: Bytes::from_static(b"answer") }).is_ok());
        assert!(cache.cell("k").expect("kept").0.initialized(), "an answer asked again is the same cell");
    }
}
