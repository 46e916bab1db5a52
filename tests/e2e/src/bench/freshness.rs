//! How old the indicators are: one probe event (a `canary.probe`, never counted in any
//! indicator) sent to ingest, timed from ingest's acknowledgement until `GET /v1/kpis` answers
//! with rollups that include it. The API stamps each kept answer with the instant before which
//! every stored event is in the rollups (`ioc-covered-until`); the probe is in once that instant
//! passes the second ClickHouse stored the probe in (`inserted_at`).

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{SubsecRound, Utc};
use ioc_domain::{CanaryProbe, Event, EventBody, Source, CANARY_UNIT_CODE};
use ioc_simulator::{Batch, Sender};

/// One probe's timings, from ingest's acknowledgement.
#[derive(Debug, Clone, Copy)]
pub struct ProbeTimes {
    /// Until the probe's row is in ClickHouse.
    pub stored: Duration,
    /// Until `GET /v1/kpis` answers with rollups that include it.
    pub in_kpis: Duration,
}

/// Sends one probe for `source` and waits (up to `deadline`) until the KPIs include it.
pub async fn probe(
    sender: &Sender,
    clickhouse: &clickhouse::Client,
    api_url: &str,
    source: Source,
    deadline: Duration,
) -> anyhow::Result<ProbeTimes> {
    let sent_at = Utc::now().trunc_subsecs(0);
    let event_id = uuid::Uuid::new_v4();
    let probe = Event {
        event_id,
        source,
        occurred_at: sent_at.with_timezone(&ioc_domain::local_offset()),
        unit_code: CANARY_UNIT_CODE.to_owned(),
        received_at: None,
        body: EventBody::CanaryProbe(CanaryProbe {}),
    };
    sender.send(&Batch { source, events: vec![probe] }).await.context("ingest did not take the probe")?;
    let acknowledged = Instant::now();
    let http = reqwest::Client::new();
    let today = sent_at.with_timezone(&ioc_domain::local_offset()).date_naive();
    let kpis = format!("{}/v1/kpis?from={today}&to={today}", api_url.trim_end_matches('/'));
    // The probe's own row, found through the table's order key and month partition.
    let stored_sql = format!(
        "SELECT toUInt32(inserted_at) FROM {} WHERE unit_code = ? AND occurred_at = toDateTime(?) \
         AND event_id = ? LIMIT 1",
        source.events_table()
    );
    let mut stored: Option<(u32, Duration)> = None;
    let mut last = String::from("nothing yet");
    while acknowledged.elapsed() < deadline {
        if stored.is_none() {
            let rows: Vec<u32> = clickhouse
                .query(&stored_sql)
                .bind(CANARY_UNIT_CODE)
                .bind(sent_at.timestamp())
                .bind(event_id.to_string())
                .fetch_all()
                .await?;
            stored = rows.first().map(|inserted_at| (*inserted_at, acknowledged.elapsed()));
        }
        if let Some((inserted_at, stored_after)) = stored {
            let response = http.get(&kpis).send().await?;
            let covered = response
                .headers()
                .get(ioc_api::answer_cache::COVERED_UNTIL_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u32>().ok());
            match covered {
                Some(covered) if covered > inserted_at => {
                    return Ok(ProbeTimes { stored: stored_after, in_kpis: acknowledged.elapsed() });
                }
                covered => last = format!("stored at {inserted_at}, KPIs cover until {covered:?}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the {source} probe was not in the KPIs after {deadline:?}: {last}")
}
