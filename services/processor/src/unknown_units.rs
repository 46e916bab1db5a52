//! Stored events whose unit is not in the reference data.
//!
//! Ingest checks a unit code's form, not that the unit exists: the reference data (the
//! communes, wards and agencies, `ref_units`) changes without a code change, lags the
//! province's administrative changes, and a refusal is final for the source, so an event of a
//! unit not listed yet would be lost. Such an event is stored and rolled up under its code, and
//! then counts in the province's totals (the API and the analysts' views sum every unit code)
//! and in no unit's: rankings and unit pages list the reference data's units only. Counting
//! them is what tells an operator that the province's figure and its units' disagree, and which
//! codes to add to the reference data or to have the source correct (ops/runbook.md,
//! IocUnknownUnits).

use clickhouse::Row;
use ioc_domain::{Source, CANARY_PROBE_TYPE};
use serde::Deserialize;

/// How many of the unknown codes a check names (most events first); the gauge counts them all.
const CODES_NAMED: usize = 10;

/// One unknown unit code and its stored events.
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
pub struct UnknownUnit {
    /// The code as the source sent it.
    pub unit_code: String,
    /// Its distinct stored events (a redelivered event once).
    pub events: u64,
}

/// What one check found for a source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnknownUnits {
    /// Stored events of the source whose unit is not in `ref_units`, canary probes excluded
    /// (their reserved code is never a unit).
    pub events: u64,
    /// The codes with the most of them, at most [`CODES_NAMED`], most events first.
    pub codes: Vec<UnknownUnit>,
}

impl UnknownUnits {
    /// The named codes as `code (events)`, for a log line.
    pub fn listed(&self) -> String {
        let named: Vec<String> = self.codes.iter().map(|u| format!("{} ({})", u.unit_code, u.events)).collect();
        named.join(", ")
    }
}

/// The query: every stored event's unit code against the reference data's (the whole history:
/// an event stays in the totals until the reference data lists its unit or the rows go). On a
/// cluster the raw table is Distributed: `GLOBAL` has this node read `ref_units` once and send
/// the codes with the query to every shard, where a plain subquery would run in each remote
/// server's default database. The cost grows with the history (a scan of the sorted
/// `unit_code` column, with `type` read only for the rows of unknown units): hence a check every
/// few minutes only (monitor.rs).
fn unknown_units_sql(source: Source) -> String {
    format!(
        "SELECT unit_code, toUInt64(uniqExact(event_id)) AS events FROM {table} \
         WHERE unit_code GLOBAL NOT IN (SELECT code FROM ref_units) AND type != '{CANARY_PROBE_TYPE}' \
         GROUP BY unit_code ORDER BY events DESC, unit_code",
        table = source.events_table()
    )
}

/// Counts `source`'s stored events of units the reference data does not list.
pub async fn check(client: &clickhouse::Client, source: Source) -> Result<UnknownUnits, clickhouse::error::Error> {
    let mut codes: Vec<UnknownUnit> = client.query(&unknown_units_sql(source)).fetch_all().await?;
    let events = codes.iter().map(|u| u.events).sum();
    codes.truncate(CODES_NAMED);
    Ok(UnknownUnits { events, codes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_reads_the_sources_own_table_and_leaves_the_probes_out() {
        let sql = unknown_units_sql(Source::Training);
        assert!(sql.contains("FROM training_events "), "{sql}");
        assert!(sql.contains("type != 'canary.probe'"), "{sql}");
        assert!(sql.contains("GLOBAL NOT IN (SELECT code FROM ref_units)"), "{sql}");
    }

    #[test]
    fn the_log_line_names_each_code_with_its_events() {
        let found = UnknownUnits {
            events: 7,
            codes: vec![
                UnknownUnit { unit_code: "99999".into(), events: 5 },
                UnknownUnit { unit_code: "SYT".into(), events: 2 },
            ],
        };
        assert_eq!(found.listed(), "99999 (5), SYT (2)");
    }
}
