//! When to try again to resume fetching after librdkafka refused to.
//!
//! A flush pauses a source's partitions while ClickHouse refuses its inserts and resumes them
//! once the batch is stored. A resume that fails (librdkafka reports it per partition) left the
//! source paused until a restart: nothing more was consumed, and only the source's silence
//! alert would tell. The pipeline tries again from its main loop, at growing intervals, until
//! librdkafka takes it.

use std::time::Duration;

use tokio::time::Instant;

/// The wait before the first retry, doubled after each failure up to [`LONGEST`].
const FIRST: Duration = Duration::from_secs(1);
const LONGEST: Duration = Duration::from_secs(30);

/// The retry schedule: nothing due while fetching runs.
#[derive(Debug, Default)]
pub struct ResumeRetry {
    /// The next attempt and the wait that led to it.
    next: Option<(Instant, Duration)>,
}

impl ResumeRetry {
    /// A resume failed at `now`: the next attempt is due after the wait before it, doubled.
    pub fn failed(&mut self, now: Instant) {
        let wait = self.next.map_or(FIRST, |(_, wait)| (wait * 2).min(LONGEST));
        self.next = Some((now + wait, wait));
    }

    /// Fetching runs again: nothing is due.
    pub fn succeeded(&mut self) {
        self.next = None;
    }

    /// When the next attempt is due, if one is.
    pub fn due_at(&self) -> Option<Instant> {
        self.next.map(|(at, _)| at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_come_at_doubling_intervals_up_to_half_a_minute_until_one_succeeds() {
        let now = Instant::now();
        let mut retry = ResumeRetry::default();
        assert_eq!(retry.due_at(), None);
        let mut waits = Vec::new();
        for _ in 0..8 {
            retry.failed(now);
            waits.push(retry.due_at().map(|at| at - now).expect("due").as_secs());
        }
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        retry.succeeded();
        assert_eq!(retry.due_at(), None);
        retry.failed(now);
        assert_eq!(retry.due_at(), Some(now + FIRST));
    }
}
