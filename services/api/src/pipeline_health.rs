//! `GET /v1/pipeline`: whether the numbers are live. Per source: the newest event time, how many
//! events arrived in the five minutes before the last rollup cycle, how far the rollups got (all
//! from `rollup_state`, which each cycle writes: the dashboard never scans raw events), and the
//! rejected and dead-lettered counts read from the other services' Prometheus endpoints.

use std::collections::HashMap;
use std::time::Duration;

use ioc_domain::Source;
use ioc_service::metric_names::{INGEST_EVENTS, PROCESSOR_DEAD_LETTERS};

use crate::error::ApiError;
use crate::responses::{PipelineHealth, SourceHealth};
use crate::storage;

/// Reads the health of every source from the rollups' progress; `metrics_urls` are the ingest
/// and processor `/metrics` endpoints to add up.
pub async fn read(
    store: &storage::Store,
    http: &reqwest::Client,
    metrics_urls: &[String],
) -> Result<PipelineHealth, ApiError> {
    let now = chrono::Utc::now();
    let (progress, counters) = tokio::join!(store.rollup_progress(), scrape(http, metrics_urls));
    let progress = progress?;
    let local = |unix: u32| {
        (unix > 0).then(|| {
            chrono::DateTime::from_timestamp(i64::from(unix), 0)
                .unwrap_or_default()
                .with_timezone(&ioc_domain::local_offset())
                .to_rfc3339()
        })
    };
    let sources = Source::ALL
        .iter()
        .map(|source| {
            let label = source.as_str();
            let row = progress.iter().find(|row| row.source == label);
            let newest = row.map_or(0, |row| row.newest_event);
            let counter = |metric: &str, outcome: &str| {
                counters.as_ref().map(|c| {
                    c.get(&(metric.to_owned(), label.to_owned(), outcome.to_owned())).copied().unwrap_or(0.0) as u64
                })
            };
            SourceHealth {
                source: label.to_owned(),
                newest_event: local(newest),
                newest_event_age_seconds: (newest > 0).then(|| (now.timestamp() - i64::from(newest)).max(0)),
                events_per_minute: row.map_or(0.0, |row| row.events_last_5_minutes as f64 / 5.0),
                rollup_covered_until: local(row.map_or(0, |row| row.covered_until)),
                rejected_events: counter(INGEST_EVENTS, "rejected"),
                dead_lettered: counter(PROCESSOR_DEAD_LETTERS, ""),
            }
        })
        .collect();
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
            line.strip_prefix(INGEST_EVENTS)
                .or_else(|| line.strip_prefix(PROCESSOR_DEAD_LETTERS))
                .is_some_and(|rest| rest.starts_with('{'))
        })
        .filter_map(|line| {
            let (metric, rest) = line.split_once('{')?;
            let (labels, value) = rest.rsplit_once('}')?;
            let value: f64 = value.trim().parse().ok()?;
            let outcome = if metric == INGEST_EVENTS { label(labels, "outcome") } else { String::new() };
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
