//! The seam between the writers and the rollup: how the inserts of this process date their
//! rows, and which of them are under way.
//!
//! Each insert of the processor dates its rows itself (`inserted_at`, whole seconds of this
//! process's clock) when its first attempt begins, and the rows become visible when the insert
//! ends. A cycle that moved its `covered_until` past the `inserted_at` of a row still on its way
//! would never look at that row again; and one that covered the second it runs in would miss the
//! rows an insert beginning later in that second dates with it. So a cycle first claims the
//! current second (`claim`): from then on this process dates its rows after it, at the next
//! second. It then lets the inserts dated before its claim end, for at most `SETTLE_AT_MOST`
//! (`settle`), and covers up to its claim, or to the oldest date of an insert still under way
//! (`covered_until`). An event stored before a cycle began is in that cycle, whatever the
//! fraction of the second. Every other process running a rollup covers its own inserts the
//! same way; a writer whose process runs no cycle dates its rows a second ahead
//! (`InsertsInFlight::dated_ahead`, `date_ahead`), since another process's cycle may claim the
//! current second at any moment.
//!
//! Before, ClickHouse dated the rows (`DEFAULT now()`), and a cycle could cover only the
//! seconds before its reading of ClickHouse's clock: an event waited on average half a second,
//! and up to a whole round of cycles more, for the second it was stored in to pass (issue 12's
//! freshness goal). Bounding by what is actually in flight, instead of by a guessed look-back
//! margin, is what lets the dashboard follow the events within a round of cycles.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ioc_domain::Source;
use tokio::sync::Notify;

/// The longest a cycle waits for the inserts dated before its claim to end. An insert slower
/// than this (a retried batch, a ClickHouse under strain) holds `covered_until` back at its
/// date instead.
pub const SETTLE_AT_MOST: Duration = Duration::from_secs(1);

/// This process's clock in whole unix seconds, as rows are dated.
pub fn clock_seconds() -> u32 {
    u32::try_from(since_epoch().as_secs()).unwrap_or(u32::MAX)
}

/// The time until this process's clock, as rows are dated, starts its next whole second.
pub fn until_next_second() -> Duration {
    Duration::from_secs(1).saturating_sub(Duration::from_nanos(u64::from(since_epoch().subsec_nanos())))
}

fn since_epoch() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// The `inserted_at` for rows written now by a writer no cycle of its own process covers (a
/// loader, a processor without the rollup): the next second, which no cycle can have claimed
/// yet. A cycle of another process that begins once that second has begun covers it, and
/// misses the rows if their insert is still under way then: such writers need the cycles'
/// `rollup_margin_seconds` to cover their inserts' duration.
pub fn date_ahead() -> u32 {
    clock_seconds().saturating_add(1)
}

/// The inserts of this process under way, per source, and the seconds its cycles claimed.
/// Cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct InsertsInFlight {
    inner: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// When the registry was made (unix seconds): no insert of it is dated before.
    created: u32,
    /// No cycle of this process covers its inserts: date them a second ahead.
    ahead: bool,
    registry: Mutex<Registry>,
    /// Woken whenever an insert ends.
    ended: Notify,
}

#[derive(Debug, Default)]
struct Registry {
    next_id: u64,
    /// The date (`inserted_at`) of each insert under way, by its id.
    dated: BTreeMap<u64, (Source, u32)>,
    /// Per source, the first second a new insert may date its rows with: the end of the last
    /// second a cycle claimed.
    floor: BTreeMap<Source, u32>,
}

/// One insert under way: from its batch's first attempt until it is stored or given up
/// (retries included, since a timed-out attempt may still complete on the server). Dropping it
/// ends it.
#[derive(Debug)]
pub struct InsertUnderWay {
    shared: Arc<Shared>,
    id: u64,
    dated: u32,
}

impl InsertUnderWay {
    /// The date this insert holds its source's cycles at (`oldest`).
    pub fn dated(&self) -> u32 {
        self.dated
    }

    /// The `inserted_at` the rows of an attempt starting now carry. The same date in every
    /// attempt of an insert this process's cycles cover: they are held at it until the insert
    /// ends. A process without cycles dates each attempt a second ahead again: the other
    /// processes' cycles know nothing of its retries, and a date kept from a first attempt
    /// minutes ago would be long behind them.
    pub fn date_of_attempt(&self) -> u32 {
        if self.shared.ahead {
            date_ahead().max(self.dated)
        } else {
            self.dated
        }
    }
}

impl Drop for InsertUnderWay {
    fn drop(&mut self) {
        self.shared.registry.lock().unwrap_or_else(PoisonError::into_inner).dated.remove(&self.id);
        self.shared.ended.notify_waiters();
    }
}

impl Default for InsertsInFlight {
    fn default() -> Self {
        InsertsInFlight::new()
    }
}

impl InsertsInFlight {
    /// None under way; this process's cycles cover its inserts.
    pub fn new() -> Self {
        InsertsInFlight { inner: Arc::new(Shared { created: clock_seconds(), ..Shared::default() }) }
    }

    /// None under way; no cycle of this process covers its inserts (the rollup is off), so
    /// they are dated a second ahead (`date_ahead`).
    pub fn dated_ahead() -> Self {
        InsertsInFlight { inner: Arc::new(Shared { created: clock_seconds(), ahead: true, ..Shared::default() }) }
    }

    /// The second the registry was made in: no insert registered in it is dated before (unless
    /// the clock steps back). Made before the writers start, it bounds where a starting
    /// rollup may resume (rollup/mod.rs).
    pub fn created(&self) -> u32 {
        self.inner.created
    }

    /// An insert of `source`'s rows starts now, dated with this second, or with the next one
    /// once a cycle claimed this one; it is under way until the returned value is dropped.
    pub fn begin(&self, source: Source) -> InsertUnderWay {
        let now = if self.inner.ahead { date_ahead() } else { clock_seconds() };
        let mut registry = self.inner.registry.lock().unwrap_or_else(PoisonError::into_inner);
        let dated = now.max(registry.floor.get(&source).copied().unwrap_or(0));
        let id = registry.next_id;
        registry.next_id += 1;
        registry.dated.insert(id, (source, dated));
        InsertUnderWay { shared: self.inner.clone(), id, dated }
    }

    /// A cycle of `source` claims every second up to now: inserts beginning from now on are
    /// dated at or after the returned second, which the cycle may cover up to (exclusive).
    pub fn claim(&self, source: Source) -> u32 {
        let mut registry = self.inner.registry.lock().unwrap_or_else(PoisonError::into_inner);
        let floor = registry.floor.entry(source).or_insert(0);
        *floor = (*floor).max(date_ahead());
        *floor
    }

    /// The oldest date of an insert of `source` still under way, if any.
    pub fn oldest(&self, source: Source) -> Option<u32> {
        let registry = self.inner.registry.lock().unwrap_or_else(PoisonError::into_inner);
        registry.dated.values().filter(|(of, _)| *of == source).map(|(_, dated)| *dated).min()
    }

    /// Waits until no insert of `source` dated before `claimed` is under way, for at most
    /// `at_most`; says whether none is left. Inserts dated at `claimed` or after are not waited
    /// for: the next cycle takes them in.
    pub async fn settle(&self, source: Source, claimed: u32, at_most: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + at_most;
        loop {
            // Registered before the check, so an insert ending between the two still wakes it.
            let ended = self.inner.ended.notified();
            if self.oldest(source).is_none_or(|dated| dated >= claimed) {
                return true;
            }
            if tokio::time::timeout_at(deadline, ended).await.is_err() {
                return false;
            }
        }
    }
}

/// How far a cycle may cover (unix seconds, exclusive): up to the second it `claimed`, held at
/// the date of the `oldest` insert still under way, less `margin_seconds` for what the registry
/// cannot see (rows not yet on the replica the cycle reads, writers of other processes).
pub fn covered_until(claimed: u32, oldest: Option<u32>, margin_seconds: u32) -> u32 {
    oldest.map_or(claimed, |dated| dated.min(claimed)).saturating_sub(margin_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_inserts_under_way_of_the_source_count() {
        let inserts = InsertsInFlight::new();
        assert_eq!(inserts.oldest(Source::Portal), None);
        let first = inserts.begin(Source::Portal);
        let dated = first.dated();
        let second = inserts.begin(Source::Portal);
        let other = inserts.begin(Source::Edoc);
        assert_eq!(inserts.oldest(Source::Portal), Some(dated), "the oldest, not the newest");
        drop(first);
        assert!(inserts.oldest(Source::Portal).expect("one left") >= dated);
        drop(second);
        assert_eq!(inserts.oldest(Source::Portal), None, "both ended");
        assert!(inserts.oldest(Source::Edoc).is_some(), "another source's insert is its own");
        drop(other);
        assert_eq!(inserts.oldest(Source::Edoc), None);
    }

    #[test]
    fn inserts_are_dated_after_the_second_a_cycle_claimed_and_only_for_its_source() {
        let inserts = InsertsInFlight::new();
        let before = inserts.begin(Source::Portal).dated();
        let claimed = inserts.claim(Source::Portal);
        assert!(claimed > before, "a claim covers the second an insert before it was dated with");
        assert!(claimed <= clock_seconds() + 1, "a claim runs at most a second ahead of the clock");
        let after = inserts.begin(Source::Portal);
        assert!(after.dated() >= claimed, "dated {} inside the claimed seconds (< {claimed})", after.dated());
        // Not floored at the portal's claim: dated with the clock, read after it (the claim may
        // equal the clock by then, if a second began in between).
        let edoc = inserts.begin(Source::Edoc).dated();
        assert!(edoc <= clock_seconds(), "another source's claim moved the edoc dates to {edoc} (claimed {claimed})");
        assert!(inserts.claim(Source::Portal) >= claimed, "claims never go back");
    }

    #[test]
    fn every_attempt_keeps_its_date_unless_no_cycle_of_the_process_covers_it() {
        let covered = InsertsInFlight::new();
        let insert = covered.begin(Source::Portal);
        assert!(insert.dated() >= covered.created(), "dated before the registry was made");
        covered.claim(Source::Portal);
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(insert.date_of_attempt(), insert.dated(), "a retry left the date its cycles are held at");
        let ahead = InsertsInFlight::dated_ahead();
        let insert = ahead.begin(Source::Portal);
        std::thread::sleep(Duration::from_millis(1100));
        assert!(insert.date_of_attempt() > insert.dated(), "a retry a second later kept a date other cycles passed");
    }

    #[test]
    fn a_process_without_cycles_dates_its_inserts_a_second_ahead() {
        let now = clock_seconds();
        assert!(InsertsInFlight::dated_ahead().begin(Source::Training).dated() > now);
        assert!(date_ahead() > now);
        assert!(InsertsInFlight::new().begin(Source::Training).dated() <= now + 1);
    }

    #[tokio::test]
    async fn settling_waits_for_the_inserts_dated_before_the_claim_and_no_longer() {
        let inserts = InsertsInFlight::new();
        let before = inserts.begin(Source::Portal);
        let other_source = inserts.begin(Source::Edoc);
        let claimed = inserts.claim(Source::Portal);
        let after = inserts.begin(Source::Portal);
        let ending = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            drop(before);
        });
        let waited = std::time::Instant::now();
        assert!(inserts.settle(Source::Portal, claimed, Duration::from_secs(10)).await, "settled");
        let took = waited.elapsed();
        assert!(took >= Duration::from_millis(200), "returned before the insert ended ({took:?})");
        assert!(took < Duration::from_secs(5), "waited for an insert dated after the claim ({took:?})");
        ending.await.expect("ended");

        // An insert dated inside the claim (begun before it) and still under way.
        let still = InsertsInFlight::new();
        let early = still.begin(Source::Portal);
        let claimed = still.claim(Source::Portal);
        let waited = std::time::Instant::now();
        assert!(!still.settle(Source::Portal, claimed, Duration::from_millis(100)).await, "one left");
        assert!(waited.elapsed() < Duration::from_secs(5), "the wait is bounded");
        drop((early, after, other_source));
        assert!(still.settle(Source::Portal, still.claim(Source::Portal), Duration::ZERO).await, "nothing left");
    }

    #[test]
    fn a_cycle_covers_up_to_its_claim_or_the_oldest_insert_under_way() {
        assert_eq!(covered_until(1_000, None, 0), 1_000, "nothing under way");
        assert_eq!(covered_until(1_000, None, 2), 998, "the margin");
        assert_eq!(covered_until(1_000, Some(995), 0), 995, "held at the insert's date");
        assert_eq!(covered_until(1_000, Some(995), 1), 994);
        assert_eq!(covered_until(1_000, Some(1_001), 0), 1_000, "dated after the claim");
        assert_eq!(covered_until(3, Some(1), 10), 0, "never before 1970");
    }
}
