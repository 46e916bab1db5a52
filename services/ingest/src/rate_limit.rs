//! Per-source token buckets, so one source's flood cannot crowd out the others. Each ingest
//! replica keeps its own buckets: the province-wide limit is the per-replica one times replicas.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use ioc_domain::Source;

use crate::config::RateLimit;

struct Bucket {
    limit: RateLimit,
    tokens: f64,
    refilled_at: Instant,
}

/// The buckets of every limited source.
pub struct RateLimiter {
    buckets: HashMap<Source, Mutex<Bucket>>,
}

impl RateLimiter {
    /// Full buckets for each configured source (names were validated with the config).
    pub fn new(limits: &std::collections::BTreeMap<String, RateLimit>) -> Self {
        let now = Instant::now();
        let buckets = limits
            .iter()
            .filter_map(|(name, limit)| {
                name.parse::<Source>()
                    .ok()
                    .map(|s| (s, Mutex::new(Bucket { limit: *limit, tokens: limit.burst, refilled_at: now })))
            })
            .collect();
        RateLimiter { buckets }
    }

    /// Takes `events` tokens from `source`'s bucket, or says in how many seconds to retry.
    pub fn take(&self, source: Source, events: usize) -> Result<(), u64> {
        self.take_at(source, events, Instant::now())
    }

    fn take_at(&self, source: Source, events: usize, now: Instant) -> Result<(), u64> {
        let Some(bucket) = self.buckets.get(&source) else { return Ok(()) };
        let mut bucket = bucket.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(bucket.refilled_at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * bucket.limit.events_per_second).min(bucket.limit.burst);
        bucket.refilled_at = now;
        let wanted = events as f64;
        if wanted <= bucket.tokens {
            bucket.tokens -= wanted;
            return Ok(());
        }
        // A request larger than the burst can never pass; its retry hint is the time to a full bucket.
        let missing = wanted.min(bucket.limit.burst) - bucket.tokens;
        Err((missing / bucket.limit.events_per_second).ceil().max(1.0) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_source_over_its_rate_waits_and_others_are_untouched() {
        let limits = [("portal".to_owned(), RateLimit { events_per_second: 10.0, burst: 20.0 })].into_iter().collect();
        let limiter = RateLimiter::new(&limits);
        let start = Instant::now();
        assert!(limiter.take_at(Source::Portal, 20, start).is_ok());
        assert_eq!(limiter.take_at(Source::Portal, 10, start), Err(1));
        assert!(limiter.take_at(Source::Edoc, 1_000_000, start).is_ok());
        assert!(limiter.take_at(Source::Portal, 10, start + Duration::from_secs(1)).is_ok());
    }
}
