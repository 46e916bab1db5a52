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

    /// Takes `events` tokens from `source`'s bucket, or says why not.
    pub fn take(&self, source: Source, events: usize) -> Result<(), Refusal> {
        self.take_at(source, events, Instant::now())
    }

    fn take_at(&self, source: Source, events: usize, now: Instant) -> Result<(), Refusal> {
        let Some(bucket) = self.buckets.get(&source) else { return Ok(()) };
        let mut bucket = bucket.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let elapsed = now.saturating_duration_since(bucket.refilled_at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * bucket.limit.events_per_second).min(bucket.limit.burst);
        bucket.refilled_at = now;
        let wanted = events as f64;
        if wanted > bucket.limit.burst {
            // Even a full bucket would refuse it: telling the sender to retry would loop forever.
            return Err(Refusal::OverBurst { burst: bucket.limit.burst as u64 });
        }
        if wanted <= bucket.tokens {
            bucket.tokens -= wanted;
            return Ok(());
        }
        let missing = wanted - bucket.tokens;
        Err(Refusal::Wait { seconds: (missing / bucket.limit.events_per_second).ceil().max(1.0) as u64 })
    }
}

/// Why a request's events were not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The bucket fills up enough in this many seconds.
    Wait { seconds: u64 },
    /// The request holds more events than the source's burst: it can never pass whole.
    OverBurst { burst: u64 },
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
        assert_eq!(limiter.take_at(Source::Portal, 10, start), Err(Refusal::Wait { seconds: 1 }));
        assert!(limiter.take_at(Source::Edoc, 1_000_000, start).is_ok());
        assert!(limiter.take_at(Source::Portal, 10, start + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn a_request_larger_than_the_burst_is_refused_for_good_not_told_to_wait() {
        let limits = [("portal".to_owned(), RateLimit { events_per_second: 10.0, burst: 20.0 })].into_iter().collect();
        let limiter = RateLimiter::new(&limits);
        let start = Instant::now();
        assert_eq!(limiter.take_at(Source::Portal, 21, start), Err(Refusal::OverBurst { burst: 20 }));
        // Nothing was taken: a request of the burst still passes.
        assert!(limiter.take_at(Source::Portal, 20, start).is_ok());
    }
}
