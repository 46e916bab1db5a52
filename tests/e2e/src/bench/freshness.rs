//! How old the indicators are: one probe event (a `canary.probe`, never counted in any
//! indicator) sent to ingest, timed from ingest's acknowledgement until `GET /v1/kpis` answers
//! with rollups that include it. The API stamps each kept answer with the instant before which
//! every stored event of each source is in the rollups (`ioc-covered-until-by-source`); the
//! probe is in once its source's instant passes the second ClickHouse stored the probe in
//! (`inserted_at`). Also timed: until every source's instant (`ioc-covered-until`) passes it,
//! the moment from which the answer as a whole is that recent.

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
    /// Until `GET /v1/kpis` answers with every source's rollups covering its second.
    pub all_sources: Duration,
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
    let mut in_kpis: Option<Duration> = None;
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
            let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
            let all = header(ioc_api::answer_cache::COVERED_UNTIL_HEADER).and_then(|v| v.parse::<u32>().ok());
            let own = header(ioc_api::answer_cache::COVERED_UNTIL_BY_SOURCE_HEADER)
                .and_then(|value| ioc_api::answer_cache::parse_covered_until_by_source(&value))
                .and_then(|marks| marks.into_iter().find(|(of, _)| of == source.as_str()))
                .map(|(_, until)| until);
            if in_kpis.is_none() && own.is_some_and(|own| own > inserted_at) {
                in_kpis = Some(acknowledged.elapsed());
            }
            if let (Some(in_kpis), Some(true)) = (in_kpis, all.map(|all| all > inserted_at)) {
                return Ok(ProbeTimes { stored: stored_after, in_kpis, all_sources: acknowledged.elapsed() });
            }
            last = format!("stored at {inserted_at}, KPIs cover its source until {own:?}, every source until {all:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the {source} probe was not in the KPIs after {deadline:?}: {last}")
}
