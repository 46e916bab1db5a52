//! The seam between the writers and the rollup: which inserts of this process are under way.
//!
//! A row takes its `inserted_at` from ClickHouse's clock when ClickHouse starts taking its
//! insert, and becomes visible when the insert ends. A cycle that moved its `covered_until`
//! past the `inserted_at` of a row still on its way would never look at that row again. So a
//! cycle covers only up to the earliest `inserted_at` any insert of this process still under
//! way can give its rows; every other process running a rollup covers its own the same way.
//! Bounding by what is actually in flight, instead of by a guessed look-back margin, is what
//! lets the dashboard follow the events within a cycle or two (issue 12's freshness goal).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ioc_domain::Source;

/// The inserts of this process under way, per source. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct InsertsInFlight {
    inner: Arc<Mutex<Registry>>,
}

#[derive(Debug, Default)]
struct Registry {
    next_id: u64,
    /// When each insert under way started, by its id.
    started: BTreeMap<u64, (Source, Instant)>,
}

/// One insert under way: from its batch's first attempt until it is stored or given up
/// (retries included, since a timed-out attempt may still complete on the server). Dropping it
/// ends it.
#[derive(Debug)]
pub struct InsertUnderWay {
    registry: Arc<Mutex<Registry>>,
    id: u64,
}

impl Drop for InsertUnderWay {
    fn drop(&mut self) {
        self.registry.lock().unwrap_or_else(PoisonError::into_inner).started.remove(&self.id);
    }
}

impl InsertsInFlight {
    /// None under way.
    pub fn new() -> Self {
        InsertsInFlight::default()
    }

    /// An insert of `source`'s rows starts now; it is under way until the returned value is
    /// dropped.
    pub fn begin(&self, source: Source) -> InsertUnderWay {
        let mut registry = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let id = registry.next_id;
        registry.next_id += 1;
        registry.started.insert(id, (source, Instant::now()));
        InsertUnderWay { registry: self.inner.clone(), id }
    }

    /// When the oldest insert of `source` still under way started, if any.
    pub fn oldest(&self, source: Source) -> Option<Instant> {
        let registry = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        registry.started.values().filter(|(of, _)| *of == source).map(|(_, at)| *at).min()
    }
}

/// How far a cycle may cover (unix seconds, ClickHouse's clock): `clickhouse_now` is
/// `toUInt32(now())` as answered at `answered` (local monotonic clock); `oldest` is the start
/// of the oldest insert under way, read after that answer; `margin_seconds` is how far other
/// ClickHouse nodes' clocks may be behind the one asked.
///
/// An insert that started `d` before the answer reached ClickHouse no earlier than its start, when
/// ClickHouse's clock read at least `now - d`; its rows' `inserted_at` (whole seconds) is at
/// least `clickhouse_now - ceil(d)`. Only the difference of two local instants is used, so the
/// local clock may be anywhere; an insert that started after the answer gives its rows at
/// least `clickhouse_now`, which the next cycle's `inserted_at >= covered_until` takes in.
pub fn covered_until(clickhouse_now: u32, answered: Instant, oldest: Option<Instant>, margin_seconds: u32) -> u32 {
    let behind = oldest.map_or(Duration::ZERO, |started| answered.saturating_duration_since(started));
    let behind_seconds = u32::try_from(behind.as_secs() + u64::from(behind.subsec_nanos() > 0)).unwrap_or(u32::MAX);
    clickhouse_now.saturating_sub(behind_seconds).saturating_sub(margin_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inserts_under_way_of_the_source_count() {
        let inserts = InsertsInFlight::new();
        assert_eq!(inserts.oldest(Source::Portal), None);
        let first = inserts.begin(Source::Portal);
        let started = inserts.oldest(Source::Portal).expect("under way");
        let second = inserts.begin(Source::Portal);
        let other = inserts.begin(Source::Edoc);
        assert_eq!(inserts.oldest(Source::Portal), Some(started), "the oldest, not the newest");
        drop(first);
        assert!(inserts.oldest(Source::Portal).expect("one left") >= started);
        drop(second);
        assert_eq!(inserts.oldest(Source::Portal), None, "both ended");
        assert!(inserts.oldest(Source::Edoc).is_some(), "another source's insert is its own");
        drop(other);
        assert_eq!(inserts.oldest(Source::Edoc), None);
    }

    #[test]
    fn a_cycle_covers_no_further_than_the_oldest_insert_under_way_could_date_its_rows() {
        let answered = Instant::now() + Duration::from_secs(100);
        assert_eq!(covered_until(1_000, answered, None, 0), 1_000, "nothing under way");
        assert_eq!(covered_until(1_000, answered, None, 2), 998, "the nodes' clock margin");
        let started = |ago_ms| Some(answered - Duration::from_millis(ago_ms));
        assert_eq!(covered_until(1_000, answered, started(0), 0), 1_000, "started as the answer came");
        assert_eq!(covered_until(1_000, answered, started(300), 0), 999, "a fraction of a second rounds up");
        assert_eq!(covered_until(1_000, answered, started(5_000), 0), 995);
        assert_eq!(covered_until(1_000, answered, started(5_001), 1), 993);
        let later = Some(answered + Duration::from_secs(1));
        assert_eq!(covered_until(1_000, answered, later, 0), 1_000, "started after the answer");
        assert_eq!(covered_until(3, answered, started(10_000), 0), 0, "never before 1970");
    }
}
