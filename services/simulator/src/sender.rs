//! Sends batches to ioc-ingest as a real source system would: NDJSON, its own bearer key,
//! and the whole batch again after a 503 or a broken connection (ingest deduplicates nothing;
//! the event ids make the retry harmless downstream).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ioc_domain::{Event, Source};
use serde::{Deserialize, Serialize};

use crate::delivery::Batch;

/// How a run of sends went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendReport {
    /// Events ingest answered as accepted (copies included).
    pub accepted: usize,
    /// Requests repeated after a 503 or a connection error.
    pub retries: usize,
}

/// A batch ingest refused for a reason a retry cannot fix.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// 4xx or unexpected status.
    #[error("ingest refused a {origin} batch with {status}: {body}")]
    Refused {
        /// The batch's source.
        origin: Source,
        /// HTTP status.
        status: u16,
        /// Ingest's answer.
        body: String,
    },
    /// Ingest accepted the request but rejected some events: the simulator's events are all
    /// valid, so this is a contract mismatch.
    #[error("ingest rejected {rejected} {origin} events, first reason: {reason}")]
    Rejected {
        /// The batch's source.
        origin: Source,
        /// How many.
        rejected: usize,
        /// The first reason.
        reason: String,
    },
    /// Gave up after too many retries.
    #[error("ingest kept failing for {0:?}; last error: {1}")]
    GaveUp(Duration, String),
}

#[derive(Deserialize)]
struct Answer {
    accepted: usize,
    rejected: usize,
    results: Vec<AnswerResult>,
}

#[derive(Deserialize)]
struct AnswerResult {
    status: String,
    reason: Option<String>,
}

/// `events` as an NDJSON request body, one event per line.
pub fn ndjson<'a>(events: impl IntoIterator<Item = &'a Event>) -> Vec<u8> {
    let mut body = Vec::new();
    for event in events {
        // Event serialisation cannot fail: every field is a plain string, number or bool.
        if let Ok(line) = serde_json::to_vec(event) {
            body.extend_from_slice(&line);
            body.push(b'\n');
        }
    }
    body
}

/// Sends batches to `ingest_url` with each source's key.
pub struct Sender {
    client: reqwest::Client,
    ingest_url: String,
    keys: BTreeMap<Source, String>,
    /// Give up on a batch after retrying this long.
    pub give_up_after: Duration,
}

impl Sender {
    /// A sender for `ingest_url` (e.g. `http://127.0.0.1:8081`).
    pub fn new(ingest_url: &str, keys: BTreeMap<Source, String>) -> Self {
        Sender {
            client: reqwest::Client::new(),
            ingest_url: ingest_url.trim_end_matches('/').to_owned(),
            keys,
            give_up_after: Duration::from_secs(300),
        }
    }

    /// Sends every batch in order; logs progress every ~10% on long runs.
    pub async fn send_all(&self, batches: &[Batch]) -> Result<SendReport, SendError> {
        let total: usize = batches.iter().map(|b| b.events.len()).sum();
        let mut report = SendReport::default();
        let mut sent = 0;
        let mut next_progress = total / 10;
        let started = Instant::now();
        for batch in batches {
            let (accepted, retries) = self.send(batch).await?;
            report.accepted += accepted;
            report.retries += retries;
            sent += batch.events.len();
            if total >= 10_000 && sent >= next_progress {
                let rate = sent as f64 / started.elapsed().as_secs_f64().max(0.001);
                tracing::info!(
                    sent,
                    total,
                    percent = sent * 100 / total.max(1),
                    events_per_second = rate as u64,
                    "simulator progress"
                );
                next_progress += total / 10;
            }
        }
        Ok(report)
    }

    /// Sends one batch until ingest acknowledges it; returns (accepted, retries).
    pub async fn send(&self, batch: &Batch) -> Result<(usize, usize), SendError> {
        let body = ndjson(&batch.events);
        let url = format!("{}/v1/sources/{}/events", self.ingest_url, batch.source);
        let key = self.keys.get(&batch.source).cloned().unwrap_or_default();
        let started = Instant::now();
        let mut retries = 0;
        let mut backoff = Duration::from_millis(200);
        loop {
            let attempt = self
                .client
                .post(&url)
                .bearer_auth(&key)
                .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
                .body(body.clone())
                .timeout(Duration::from_secs(60))
                .send()
                .await;
            let last_error = match attempt {
                Ok(response)
                    if response.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE
                        || response.status() == reqwest::StatusCode::TOO_MANY_REQUESTS =>
                {
                    if let Some(wait) = retry_after(&response) {
                        backoff = wait;
                    }
                    format!("ingest answered {}", response.status())
                }
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    if !status.is_success() {
                        return Err(SendError::Refused { origin: batch.source, status: status.as_u16(), body: text });
                    }
                    let answer: Answer = serde_json::from_str(&text).map_err(|e| SendError::Refused {
                        origin: batch.source,
                        status: status.as_u16(),
                        body: format!("unreadable answer ({e}): {text}"),
                    })?;
                    if answer.rejected > 0 {
                        let reason = answer
                            .results
                            .iter()
                            .find(|r| r.status == "rejected")
                            .and_then(|r| r.reason.clone())
                            .unwrap_or_default();
                        return Err(SendError::Rejected { origin: batch.source, rejected: answer.rejected, reason });
                    }
                    return Ok((answer.accepted, retries));
                }
                Err(error) => format!("request failed: {error}"),
            };
            if started.elapsed() > self.give_up_after {
                return Err(SendError::GaveUp(self.give_up_after, last_error));
            }
            tracing::debug!(source = %batch.source, %last_error, retry_in_ms = backoff.as_millis() as u64, "retrying batch");
            tokio::time::sleep(backoff).await;
            retries += 1;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let seconds: u64 = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.parse().ok()?;
    Some(Duration::from_secs(seconds.min(30)))
}
