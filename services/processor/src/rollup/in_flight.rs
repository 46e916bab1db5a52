//! The seam between the writers and the rollup: which inserts of this process are under way.
//!
//! A row takes its `inserted_at` from ClickHouse's clock when ClickHouse starts taking its
//! insert, and becomes visible when the insert ends. A cycle that moved its `covered_until`
//! past the `inserted_at` of a row still on its way would never look at that row again. So a
//! cycle covers only up to the earliest `inserted_at` any insert of this process still under
//! way can give its rows; every other process running a rollup covers its own the same way.
//! Bounding by what is actually in flight, instead of by a guessed look-back margin, is what
//! lets the dashboard follow the events within a cycle or two (issue 12's freshness goal).
//!
//! Under a steady load an insert is under way at most instants, and the bound above costs
//! whole seconds (`inserted_at` has no fraction, so any insert under way rounds up to a second
//! behind). A cycle therefore first lets the inserts that began before its clock reading end,
//! for at most `SETTLE_AT_MOST` (`settle`): they take a fraction of a second, and once they have
//! ended nothing under way predates the reading.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use ioc_domain::Source;
use tokio::sync::Notify;

/// The longest a cycle waits for the inserts under way at its clock reading to end. Waiting
/// longer than the second the bound would lose gains nothing; an insert slower than this (a
/// retried batch, a ClickHouse under strain) keeps the bound of `covered_until` instead.
pub const SETTLE_AT_MOST: Duration = Duration::from_secs(1);

/// The inserts of this process under way, per source. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct InsertsInFlight {
    inner: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    registry: Mutex<Registry>,
    /// Woken whenever an insert ends.
    ended: Notify,
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
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for InsertUnderWay {
    fn drop(&mut self) {
        self.shared.registry.lock().unwrap_or_else(PoisonError::into_inner).started.remove(&self.id);
        self.shared.ended.notify_waiters();
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
        let mut registry = self.inner.registry.lock().unwrap_or_else(PoisonError::into_inner);
        let id = registry.next_id;
        registry.next_id += 1;
        registry.started.insert(id, (source, Instant::now()));
        InsertUnderWay { shared: self.inner.clone(), id }
    }

    /// When the oldest insert of `source` still under way started, if any.
    pub fn oldest(&self, source: Source) -> Option<Instant> {
        let registry = self.inner.registry.lock().unwrap_or_else(PoisonError::into_inner);
        registry.started.values().filter(|(of, _)| *of == source).map(|(_, at)| *at).min()
    }

    /// Waits until no insert of `source` that began before `reading` is under way, for at most
    /// `at_most`; says whether none is left. Inserts beginning after `reading` are not waited
    /// for: they date their rows at the reading or later.
    pub async fn settle(&self, source: Source, reading: Instant, at_most: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + at_most;
        loop {
            // Registered before the check, so an insert ending between the two still wakes it.
            let ended = self.inner.ended.notified();
            if self.oldest(source).is_none_or(|started| started >= reading) {
                return true;
            }
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                return false;
            }
        }
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

    #[tokio::test]
    async fn settling_waits_for_the_inserts_begun_before_the_reading_and_no_longer() {
        let inserts = InsertsInFlight::new();
        let before = inserts.begin(Source::Portal);
        let other_source = inserts.begin(Source::Edoc);
        let reading = Instant::now();
        let after = inserts.begin(Source::Portal);
        let ending = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            drop(before);
        });
        let waited = Instant::now();
        assert!(inserts.settle(Source::Portal, reading, Duration::from_secs(10)).await, "settled");
        let took = waited.elapsed();
        assert!(took >= Duration::from_millis(200), "returned before the insert ended ({took:?})");
        assert!(took < Duration::from_secs(5), "waited for an insert begun after the reading ({took:?})");
        ending.await.expect("ended");

        let still = inserts.begin(Source::Portal);
        let reading = Instant::now();
        let waited = Instant::now();
        assert!(!inserts.settle(Source::Portal, reading, Duration::from_millis(100)).await, "one left");
        assert!(waited.elapsed() < Duration::from_secs(5), "the wait is bounded");
        drop((still, after, other_source));
        assert!(inserts.settle(Source::Portal, Instant::now(), Duration::ZERO).await, "nothing left");
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
