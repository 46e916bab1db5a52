//! The canary: one `canary.probe` event through a source's whole path (ingest, Kafka, processor,
//! ClickHouse, the rollup cycle, the API), timed until the API's pipeline panel shows that
//! source's data at least as new as the probe. That is the freshness a dashboard viewer sees, and
//! it is measurable when real traffic is quiet (communes at night).
//!
//! The probe's time is truncated to the second because `rollup_state` keeps seconds. When a real
//! event newer than the probe is stored first, the probe counts as arrived: the question it
//! answers is "does the API show data this fresh", not "did this one row arrive".

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{SubsecRound, Utc};
use ioc_domain::{CanaryProbe, Event, EventBody, Source, CANARY_UNIT_CODE};
use serde::Deserialize;

use crate::delivery::Batch;
use crate::sender::{SendError, Sender};

/// Why a probe did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// Ingest refused the probe or kept failing.
    #[error("ingest did not accept the {origin} probe: {error}")]
    Ingest {
        /// The probed source.
        origin: Source,
        /// What ingest answered.
        error: SendError,
    },
    /// The API never showed data as new as the probe before the deadline.
    #[error("the API did not show {origin} data as new as the probe within {deadline:?}; last answer: {last}")]
    TimedOut {
        /// The probed source.
        origin: Source,
        /// How long the canary waited.
        deadline: Duration,
        /// The last thing the API said (or why it could not be read).
        last: String,
    },
}

impl ProbeError {
    /// The metric label of this failure, a bounded set.
    pub fn kind(&self) -> &'static str {
        match self {
            ProbeError::Ingest { .. } => "refused",
            ProbeError::TimedOut { .. } => "timed_out",
        }
    }
}

#[derive(Deserialize)]
struct PipelineAnswer {
    sources: Vec<SourceAnswer>,
}

#[derive(Deserialize)]
struct SourceAnswer {
    source: String,
    newest_event: Option<String>,
}

/// Sends probes to ingest and watches the API for them.
pub struct Canary {
    sender: Sender,
    http: reqwest::Client,
    api_url: String,
    /// A probe not visible in the API after this long has failed.
    pub deadline: Duration,
    /// How often the API is asked while waiting.
    pub poll_every: Duration,
}

impl Canary {
    /// A canary sending to `ingest_url` with each source's key and reading `api_url`.
    pub fn new(ingest_url: &str, api_url: &str, keys: BTreeMap<Source, String>, deadline: Duration) -> Self {
        let mut sender = Sender::new(ingest_url, keys);
        sender.give_up_after = deadline;
        Canary {
            sender,
            http: reqwest::Client::new(),
            api_url: api_url.trim_end_matches('/').to_owned(),
            deadline,
            poll_every: Duration::from_millis(500),
        }
    }

    /// Sends one probe through `source` and returns how long until the API showed it.
    pub async fn probe(&self, source: Source) -> Result<Duration, ProbeError> {
        let sent_at = Utc::now().trunc_subsecs(0);
        let probe = Event {
            event_id: uuid::Uuid::new_v4(),
            source,
            occurred_at: sent_at.with_timezone(&ioc_domain::local_offset()),
            unit_code: CANARY_UNIT_CODE.to_owned(),
            received_at: None,
            body: EventBody::CanaryProbe(CanaryProbe {}),
        };
        let started = Instant::now();
        self.sender
            .send(&Batch { source, events: vec![probe] })
            .await
            .map_err(|error| ProbeError::Ingest { origin: source, error })?;
        let mut last = String::from("no answer yet");
        while started.elapsed() < self.deadline {
            match self.newest_event(source).await {
                Ok(Some(newest)) if newest >= sent_at => return Ok(started.elapsed()),
                Ok(newest) => last = format!("newest {source} event {newest:?}"),
                Err(error) => last = error,
            }
            tokio::time::sleep(self.poll_every).await;
        }
        Err(ProbeError::TimedOut { origin: source, deadline: self.deadline, last })
    }

    /// The newest event time of `source` as `GET /v1/pipeline` shows it.
    async fn newest_event(&self, source: Source) -> Result<Option<chrono::DateTime<Utc>>, String> {
        let url = format!("{}/v1/pipeline", self.api_url);
        let response = self.http.get(&url).timeout(Duration::from_secs(5)).send().await;
        let response = response.and_then(reqwest::Response::error_for_status).map_err(|e| format!("{url}: {e}"))?;
        let answer: PipelineAnswer = response.json().await.map_err(|e| format!("{url}: unreadable answer: {e}"))?;
        let Some(found) = answer.sources.into_iter().find(|s| s.source == source.as_str()) else {
            return Err(format!("{url} does not list the {source} source"));
        };
        match found.newest_event {
            None => Ok(None),
            Some(text) => chrono::DateTime::parse_from_rfc3339(&text)
                .map(|time| Some(time.with_timezone(&Utc)))
                .map_err(|e| format!("{url}: newest_event {text:?} is not RFC 3339: {e}")),
        }
    }
}
