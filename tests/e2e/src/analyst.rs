//! Runs the analysts' example queries (ops/analyst/*.sql) as the read-only `analyst` account
//! against [`crate::ANALYST_CHECK_DATABASE`] and compares their answers with the ground truth of
//! March 2026 (the period the examples are written for).

use std::collections::BTreeMap;

use ioc_reference::ReferenceData;
use ioc_simulator::{Facts, GroundTruth};
use serde_json::Value;

/// Rows of `sql` run as the analyst, as JSON objects.
pub async fn query_as_analyst(sql: &str) -> Result<Vec<serde_json::Map<String, Value>>, String> {
    let url = format!("{}/?database={}", crate::clickhouse_url(), crate::ANALYST_CHECK_DATABASE);
    let response = reqwest::Client::new()
        .post(&url)
        .basic_auth("analyst", Some("analyst"))
        .body(format!("{sql}\nFORMAT JSONEachRow"))
        .send()
        .await
        .map_err(|e| format!("clickhouse unreachable: {e}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("the analyst's query failed ({status}): {text}"));
    }
    text.lines()
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(row)) => Ok(row),
            other => Err(format!("unexpected row {other:?}")),
        })
        .collect()
}

/// A number of a JSONEachRow row (64-bit integers come quoted).
fn number(row: &serde_json::Map<String, Value>, column: &str) -> u64 {
    match row.get(column) {
        Some(Value::String(text)) => text.parse().unwrap_or(u64::MAX),
        Some(Value::Number(n)) => n.as_u64().unwrap_or(u64::MAX),
        _ => u64::MAX,
    }
}

fn text<'a>(row: &'a serde_json::Map<String, Value>, column: &str) -> &'a str {
    row.get(column).and_then(Value::as_str).unwrap_or_default()
}

async fn example(name: &str) -> Result<Vec<serde_json::Map<String, Value>>, String> {
    let path = crate::repo_root().join("ops/analyst").join(name);
    let sql = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    query_as_analyst(&sql).await.map_err(|e| format!("{name}: {e}"))
}

/// One line per difference between the examples' answers and the truth of March 2026.
pub async fn example_differences(facts: &Facts, reference: &ReferenceData, march: &GroundTruth) -> Vec<String> {
    let mut differences = Vec::new();

    // Online rate per unit and month: March only, every unit that received a dossier, the
    // units the reference data does not list included (the data holds them; the example reads
    // the data, not the reference list).
    let every_unit = || march.units.iter().chain(&march.unlisted);
    match example("online_rate_by_unit_and_month.sql").await {
        Ok(rows) => {
            let mut seen = 0;
            for row in &rows {
                let unit = text(row, "unit_code");
                let expected = every_unit().find(|(code, _)| *code == unit).map(|(_, u)| u["online_submission_rate"]);
                let got = (number(row, "received_online"), Some(number(row, "received")));
                if expected.map(|e| (e.numerator, e.denominator)) != Some(got) || text(row, "month") != "2026-03-01" {
                    differences.push(format!("analyst online rate {unit}: {got:?}, truth {expected:?}"));
                }
                seen += 1;
            }
            let units_with_dossiers =
                every_unit().filter(|(_, u)| u["online_submission_rate"].denominator > Some(0)).count();
            if seen != units_with_dossiers {
                differences.push(format!("analyst online rate: {seen} rows, {units_with_dossiers} units"));
            }
        }
        Err(error) => differences.push(error),
    }

    // Late dossiers by procedure, computed here from each dossier's own events.
    match example("late_dossiers_by_procedure.sql").await {
        Ok(rows) => {
            let start = ioc_simulator::truth::local_midnight(march.from);
            let end = ioc_simulator::truth::local_midnight(march.to + chrono::Days::new(1));
            let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
            for dossier in facts.dossiers.values() {
                let resolved_late =
                    dossier.resolved_at().is_some_and(|at| at >= start && at < end && dossier.late_at(at));
                let open_late = dossier.open_at(end) && dossier.late_at(end);
                *expected.entry(dossier.procedure.as_str()).or_default() += u64::from(resolved_late || open_late);
            }
            let got: BTreeMap<&str, u64> =
                rows.iter().map(|row| (text(row, "procedure_code"), number(row, "late"))).collect();
            expected.retain(|_, late| *late > 0);
            let got_nonzero: BTreeMap<&str, u64> = got.iter().filter(|(_, v)| **v > 0).map(|(k, v)| (*k, *v)).collect();
            if got_nonzero != expected {
                differences.push(format!("analyst late by procedure: {got_nonzero:?}, truth {expected:?}"));
            }
            let total: u64 = got.values().sum();
            if total != march.province["dossiers_late"].numerator {
                differences.push(format!(
                    "analyst late total {total} differs from the dashboard's {}",
                    march.province["dossiers_late"].numerator
                ));
            }
        }
        Err(error) => differences.push(error),
    }

    // Coverage by group for the province at the end of March.
    match example("skills_coverage_by_group.sql").await {
        Ok(rows) => {
            if rows.len() != ioc_domain::TargetGroup::ALL.len() {
                differences.push(format!("analyst coverage: {} groups", rows.len()));
            }
            for row in &rows {
                let group = text(row, "target_group");
                let id = format!("skills_coverage_{group}");
                let expected = march.province.get(&id);
                let population: u64 =
                    reference.denominators.iter().filter(|d| d.measure == group).map(|d| d.value).sum();
                let got = (number(row, "certified"), Some(number(row, "population")));
                if expected.map(|e| (e.numerator, e.denominator)) != Some(got) || got.1 != Some(population) {
                    differences.push(format!("analyst coverage {group}: {got:?}, truth {expected:?}"));
                }
            }
        }
        Err(error) => differences.push(error),
    }
    differences
}
