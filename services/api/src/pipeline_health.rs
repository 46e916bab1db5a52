//! `GET /v1/pipeline`: whether the numbers are live. Per source: the newest event time, how many
//! events arrived in the last five minutes, how far the rollups got, and the rejected and
//! dead-lettered counts read from the other services' Prometheus endpoints.

use std::collections::HashMap;
use std::time::Duration;

use clickhouse::Row;
use ioc_domain::Source;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// One source's health.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceHealth {
    /// `portal`, `edoc` or `training`.
    pub source: String,
    /// Newest event time stored (RFC 3339, local offset), if any.
    pub newest_event: Option<String>,
    /// Seconds between the newest event time and now.
    pub newest_event_age_seconds: Option<i64>,
    /// Events stored in the last five minutes, per minute.
    pub events_per_minute: f64,
    /// Every event stored before this instant is in the dashboard's numbers.
    pub rollup_covered_until: Option<String>,
    /// Events ingest rejected since it started (null when its metrics are not reachable).
    pub rejected_events: Option<u64>,
    /// Messages the processor sent to the dead-letter topic since it started (null likewise).
    pub dead_lettered: Option<u64>,
}

/// The answer of `GET /v1/pipeline`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineHealth {
    /// When this was measured (RFC 3339).
    pub generated_at: String,
    /// Each source.
    pub sources: Vec<SourceHealth>,
}

#[derive(Row, Deserialize)]
struct Activity {
    newest: u32,
    recent: u64,
}

/// Reads the health of every source; `metrics_urls` are the ingest and processor `/metrics`
/// endpoints to add up.
pub async fn read(
    client: &clickhouse::Client,
    http: &reqwest::Client,
    metrics_urls: &[String],
) -> Result<PipelineHealth, ApiError> {
    let now = chrono::Utc::now();
    let counters = scrape(http, metrics_urls).await;
    let mut sources = Vec::new();
    for source in Source::ALL {
        let table = match source {
            Source::Portal => "portal_events",
            Source::Edoc => "edoc_events",
            Source::Training => "training_events",
        };
        // Events dated in the future (a source with a wrong clock) do not make the data look fresh.
        let activity: Activity = client
            .query(&format!(
                "SELECT toUInt32(maxIf(occurred_at, occurred_at <= now() + 300)) AS newest, \
                        toUInt64(countIf(inserted_at >= now() - 300)) AS recent FROM {table}"
            ))
            .fetch_one()
            .await?;
        let covered: u32 = client
            .query("SELECT toUInt32(max(covered_until)) FROM rollup_state WHERE source = ?")
            .bind(source.as_str())
            .fetch_one()
            .await?;
        let local = |unix: u32| {
            (unix > 0).then(|| {
                chrono::DateTime::from_timestamp(i64::from(unix), 0)
                    .unwrap_or_default()
                    .with_timezone(&ioc_domain::local_offset())
                    .to_rfc3339()
            })
        };
        let label = source.as_str();
        sources.push(SourceHealth {
            source: label.to_owned(),
            newest_event: local(activity.newest),
            newest_event_age_seconds: (activity.newest > 0)
                .then(|| (now.timestamp() - i64::from(activity.newest)).max(0)),
            events_per_minute: activity.recent as f64 / 5.0,
            rollup_covered_until: local(covered),
            rejected_events: counters.as_ref().map(|c| {
                c.get(&("ioc_ingest_events_total".to_owned(), label.to_owned(), "rejected".to_owned()))
                    .copied()
                    .unwrap_or(0.0) as u64
            }),
            dead_lettered: counters.as_ref().map(|c| {
                c.get(&("ioc_processor_dead_letters_total".to_owned(), label.to_owned(), String::new()))
                    .copied()
                    .unwrap_or(0.0) as u64
            }),
        });
    }
    Ok(PipelineHealth { generated_at: now.with_timezone(&ioc_domain::local_offset()).to_rfc3339(), sources })
}

/// (metric, source, outcome) → value summed over every endpoint; `None` when there are no
/// endpoints or one does not answer (the dashboard then shows "unknown", not a wrong zero).
type Counters = HashMap<(String, String, String), f64>;

async fn scrape(http: &reqwest::Client, urls: &[String]) -> Option<Counters> {
    if urls.is_empty() {
        return None;
    }
    let mut counters = Counters::new();
    for url in urls {
        let response = http.get(url).timeout(Duration::from_secs(2)).send().await.ok()?;
        let text = response.error_for_status().ok()?.text().await.ok()?;
        for (key, value) in parse_counters(&text) {
            *counters.entry(key).or_default() += value;
        }
    }
    Some(counters)
}

/// The samples of the two counters the dashboard shows, from Prometheus' text format.
fn parse_counters(text: &str) -> Vec<((String, String, String), f64)> {
    let label = |labels: &str, name: &str| {
        labels
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .find(|(key, _)| key.trim() == name)
            .map(|(_, value)| value.trim().trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    text.lines()
        .filter(|line| {
            line.starts_with("ioc_ingest_events_total{") || line.starts_with("ioc_processor_dead_letters_total{")
        })
        .filter_map(|line| {
            let (metric, rest) = line.split_once('{')?;
            let (labels, value) = rest.rsplit_once('}')?;
            let value: f64 = value.trim().parse().ok()?;
            let outcome = if metric == "ioc_ingest_events_total" { label(labels, "outcome") } else { String::new() };
            Some(((metric.to_owned(), label(labels, "source"), outcome), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_rejected_and_dead_letter_counters() {
        let text = "# HELP x\nioc_ingest_events_total{outcome=\"rejected\",source=\"portal\"} 7\n\
                    ioc_ingest_events_total{outcome=\"accepted\",source=\"portal\"} 900\n\
                    ioc_processor_dead_letters_total{source=\"edoc\"} 2\nother_total 5\n";
        let parsed = parse_counters(text);
        assert!(parsed.contains(&(("ioc_ingest_events_total".into(), "portal".into(), "rejected".into()), 7.0)));
        assert!(parsed.contains(&(("ioc_processor_dead_letters_total".into(), "edoc".into(), String::new()), 2.0)));
        assert_eq!(parsed.len(), 3);
    }
}
