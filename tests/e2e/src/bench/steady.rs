//! A steady offered load: events sent to ingest at a fixed rate, in small batches on a clock,
//! whatever ingest's answer time (up to a bound of requests in flight), as a province's source
//! systems send through a working day.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ioc_domain::{Event, Source};
use tokio::sync::Semaphore;

/// Counts of what the load did, readable while it runs.
#[derive(Debug, Default)]
pub struct LoadCounts {
    /// Events ingest acknowledged.
    pub accepted: AtomicUsize,
    /// Requests that failed or were refused (each named in the log).
    pub failed: AtomicUsize,
}

/// Sends `events` (cycled, so the load lasts as long as it is not aborted) to `ingest_url` at
/// `rate` events per second in batches of a tenth of a second; returns at once, the load runs
/// until the returned task is aborted.
pub fn start(
    ingest_url: &str,
    keys: BTreeMap<Source, String>,
    events: Vec<Event>,
    rate: usize,
) -> (tokio::task::JoinHandle<()>, Arc<LoadCounts>) {
    let counts = Arc::new(LoadCounts::default());
    let per_tick = (rate / 10).max(1);
    let (url, task_counts) = (ingest_url.trim_end_matches('/').to_owned(), counts.clone());
    let task = tokio::spawn(async move {
        let client = reqwest::Client::new();
        let in_flight = Arc::new(Semaphore::new(32));
        let mut clock = tokio::time::interval(Duration::from_millis(100));
        clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut next = 0;
        loop {
            clock.tick().await;
            // One tick's events, grouped by source (one request per source).
            let mut by_source: BTreeMap<Source, Vec<&Event>> = BTreeMap::new();
            for _ in 0..per_tick {
                let event = &events[next % events.len()];
                next += 1;
                by_source.entry(event.source).or_default().push(event);
            }
            for (source, tick) in by_source {
                let body = ioc_simulator::sender::ndjson(tick);
                let Ok(permit) = in_flight.clone().acquire_owned().await else { return };
                let (client, counts) = (client.clone(), task_counts.clone());
                let (url, key) = (format!("{url}/v1/sources/{source}/events"), keys[&source].clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    let response = client
                        .post(&url)
                        .bearer_auth(key)
                        .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
                        .body(body)
                        .send()
                        .await;
                    match response {
                        Ok(r) if r.status().is_success() => {
                            let accepted = r
                                .json::<serde_json::Value>()
                                .await
                                .ok()
                                .and_then(|v| v["accepted"].as_u64())
                                .unwrap_or(0);
                            counts.accepted.fetch_add(accepted as usize, Ordering::Relaxed);
                        }
                        Ok(r) => {
                            counts.failed.fetch_add(1, Ordering::Relaxed);
                            eprintln!("steady load: ingest answered {}", r.status());
                        }
                        Err(e) => {
                            counts.failed.fetch_add(1, Ordering::Relaxed);
                            eprintln!("steady load: {e}");
                        }
                    }
                });
            }
        }
    });
    (task, counts)
}
