//! The services' SQL on a current ClickHouse engine, compared with the local 18.16.
//!
//! The same simulated days go through two whole pipelines: one on the local ClickHouse 18.16,
//! one on a current engine (chdb, behind ops/chdb/server.py). On the current engine the
//! processor applies every migration and runs every rollup statement, and the API answers every
//! endpoint; every indicator must equal the ground truth on both. The measures queries' form for
//! the latest months, which March's cycles do not reach, is then forced over the run on both
//! engines and must leave the measures as they were. Then every analyst view
//! (`v_*`) and every example query of ops/analyst must give the same rows on both engines.
//! The statements the services sent to the current engine are written to
//! target/sqlcheck/current-engine-statements.jsonl; none may have failed.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;
use ioc_domain::Source;
use ioc_e2e::current_engine::CurrentEngine;
use ioc_e2e::{repo_root, Pipeline};
use ioc_processor::rollup::{refresh_source_in, CycleOptions, InsertsInFlight, Span};
use ioc_reference::ReferenceData;
use ioc_simulator::{simulate, Facts, Faults, Scenario, Sender};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_current_clickhouse_gives_the_truth_and_the_same_rows_as_18_16() {
    let engine = CurrentEngine::start();
    eprintln!("current engine: {}", engine.banner);
    let local = Pipeline::start().await;
    let current = Pipeline::start_on(&engine.url).await;
    let reference = ReferenceData::load(&repo_root().join("schemas/reference")).expect("reference data");
    // March, which the analysts' example queries are written for.
    let scenario = Scenario { start: NaiveDate::from_ymd_opt(2026, 3, 10).expect("date"), days: 10, scale: 0.02 };
    let run = simulate(20260310, &scenario, Faults { duplicates: 0.03, reorder: 0.03, late: 0.02 }, 250, &reference);
    for pipeline in [&local, &current] {
        let report = Sender::new(&pipeline.ingest.url, pipeline.keys.clone()).send_all(&run.batches).await;
        assert_eq!(
            report.expect("ingest acknowledges every batch").accepted,
            run.events.len() + run.injected.duplicates
        );
    }
    for pipeline in [&local, &current] {
        pipeline.wait_for_events(run.events.len() as u64, Duration::from_secs(300)).await;
    }

    // Every indicator, the whole run and periods starting after the data, on both engines.
    let facts = Facts::from_events(&run.events);
    let mut differences = Vec::new();
    for (engine_name, pipeline) in [("18.16", &local), ("current", &current)] {
        let api = &pipeline.api.url;
        let found = ioc_e2e::indicator_differences(api, &run.truth).await;
        let later = ioc_e2e::periods::later_period_differences(api, &facts, &reference, scenario.start).await;
        differences.extend(found.into_iter().chain(later).map(|d| format!("{engine_name}: {d}")));
        let health = reqwest::get(format!("{api}/v1/pipeline")).await.expect("api answers");
        if !health.status().is_success() {
            differences.push(format!("{engine_name}: GET /v1/pipeline answered {}", health.status()));
        }
    }

    // Completeness once every resend is merged away: the lookup of merged offsets (monitor.rs)
    // runs on both engines, and no stored event may count as missing.
    for (engine_name, pipeline) in [("18.16", &local), ("current", &current)] {
        for table in ["portal_events", "edoc_events", "training_events"] {
            let merge = pipeline.clickhouse.client().query(&format!("OPTIMIZE TABLE {table} FINAL")).execute().await;
            merge.unwrap_or_else(|e| panic!("{engine_name}: OPTIMIZE {table}: {e}"));
        }
    }
    // Checks that started after the merges: one that fails would leave the old figures.
    let merged_at = chrono::Utc::now().timestamp() + 2;
    for (engine_name, pipeline) in [("18.16", &local), ("current", &current)] {
        match ioc_e2e::completeness_checked_after(&pipeline.processor.url, merged_at).await {
            Ok((acknowledged, stored, 0.0)) if stored == acknowledged && acknowledged > 0.0 => {}
            Ok(figures) => differences
                .push(format!("{engine_name}: completeness after merges (acknowledged, stored, missing): {figures:?}")),
            Err(error) => differences.push(format!("{engine_name}: {error}")),
        }
    }

    // The measures queries' form for the latest months (`{recent ...}`), which live cycles run
    // and this run's March never reaches: forced over the whole run on both engines, the
    // measures must stay what the cycles made them (rollup_incremental.rs compares the forms in
    // detail on 18.16).
    let latest = CycleOptions { span: Some(Span::Latest), ..CycleOptions::default() };
    let measures = "SELECT 'daily' AS t, source, toString(day) AS day, unit_code, measure, dimension, toString(value) AS value \
                    FROM measures_daily UNION ALL \
                    SELECT 'monthly' AS t, source, toString(month) AS day, unit_code, measure, dimension, toString(value) AS value \
                    FROM measures_monthly";
    for (engine_name, pipeline) in [("18.16", &local), ("current", &current)] {
        let before = rows(pipeline, measures).await;
        let client = pipeline.clickhouse.client();
        for source in Source::ALL {
            // Every event inserted since 1970 is new to it: every entity is a candidate.
            let cycle = refresh_source_in(&client, source, 1, 0, &InsertsInFlight::new(), &latest).await;
            match cycle {
                Ok(outcome) if outcome.latest_only => {}
                Ok(outcome) => {
                    differences.push(format!("{engine_name}: {source}: not the latest months' form: {outcome:?}"))
                }
                Err(error) => differences.push(format!("{engine_name}: {source}: latest months' form: {error}")),
            }
        }
        match (before, rows(pipeline, measures).await) {
            (Ok(a), Ok(b)) if !a.is_empty() && same_rows("measures", &a, &b) => {}
            (Ok(a), Ok(b)) => differences.push(format!(
                "{engine_name}: the latest months' form changed the measures: {}",
                how_they_differ(&a, "before", &b, "after")
            )),
            (Err(error), _) | (_, Err(error)) => differences.push(format!("{engine_name}: measures: {error}")),
        }
    }

    // Every analyst view and example query: the same rows on both engines.
    let views = names(
        &local,
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'v\\_%' ORDER BY name",
    )
    .await;
    let current_views = names(
        &current,
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'v\\_%' ORDER BY name",
    )
    .await;
    assert_eq!(views, current_views, "the two engines hold different views");
    assert!(views.len() >= 8, "views: {views:?}");
    let mut queries: Vec<(String, String)> =
        views.iter().map(|view| (view.clone(), format!("SELECT * FROM {view}"))).collect();
    for entry in std::fs::read_dir(repo_root().join("ops/analyst")).expect("ops/analyst") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|ext| ext == "sql") {
            let name = path.file_name().expect("name").to_string_lossy().into_owned();
            queries.push((name, std::fs::read_to_string(&path).expect("analyst query")));
        }
    }
    for (name, sql) in &queries {
        let (on_local, on_current) = (rows(&local, sql).await, rows(&current, sql).await);
        match (on_local, on_current) {
            (Ok(a), Ok(b)) if same_rows(name, &a, &b) => {
                // Every view holds rows after the run (reference data, measures, facts, the
                // rollups' state): two empty answers would compare nothing.
                if a.is_empty() {
                    differences.push(format!("{name}: no rows on either engine, nothing compared"));
                }
            }
            (Ok(a), Ok(b)) => {
                differences.push(format!("{name}: {}", how_they_differ(&a, "on 18.16", &b, "on the current engine")))
            }
            (Err(error), _) => differences.push(format!("{name} on 18.16: {error}")),
            (_, Err(error)) => differences.push(format!("{name} on the current engine: {error}")),
        }
    }

    // What the services sent to the current engine, for anyone to replay or read.
    let statements = engine.statements();
    let out = repo_root().join("target/sqlcheck");
    std::fs::create_dir_all(&out).expect("target/sqlcheck");
    std::fs::copy(&engine.log, out.join("current-engine-statements.jsonl")).expect("statement log copied");
    for kind in [
        "CREATE TABLE",
        "INSERT INTO dossier_facts",
        "REPLACE PARTITION",
        "FROM measures_monthly",
        "FROM ref_targets",
        "FROM edoc_offsets",
        "learner_key IN",
        "INSERT INTO training_milestones",
        "cityHash64(record_id) IN",
        "cityHash64(dossier_id) IN",
    ] {
        if !statements.iter().any(|(sql, _, _)| sql.contains(kind)) {
            differences.push(format!("no statement with {kind:?} reached the current engine"));
        }
    }
    for (sql, ok, error) in &statements {
        if !ok {
            differences.push(format!(
                "failed on the current engine: {} ({})",
                first_line(sql),
                error.as_deref().unwrap_or("")
            ));
        }
    }
    eprintln!("{} statements ran on the current engine", statements.len());
    ioc_e2e::assert_no_differences(&differences, "between the engines and from the ground truth");
    local.stop().await;
    // The reference data's reloads on the current engine: its deletion of old loads too.
    ioc_e2e::check_reference_reloads(&current.clickhouse).await;
    current.stop().await;
}

fn first_line(sql: &str) -> String {
    sql.lines()
        .find(|line| !line.trim().is_empty() && !line.trim_start().starts_with("--"))
        .unwrap_or("")
        .chars()
        .take(160)
        .collect()
}

async fn names(pipeline: &Pipeline, sql: &str) -> Vec<String> {
    rows(pipeline, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .filter_map(|row| row.into_values().next())
        .collect()
}

/// The rows of `sql` in `pipeline`'s database, each as column → value text.
async fn rows(pipeline: &Pipeline, sql: &str) -> Result<Vec<BTreeMap<String, String>>, String> {
    let url = format!("{}/?database={}", pipeline.clickhouse.url, pipeline.clickhouse.database);
    let response = reqwest::Client::new()
        .post(&url)
        .body(format!("{sql}\nFORMAT JSONEachRow"))
        .send()
        .await
        .map_err(|e| format!("unreachable: {e}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("{status}: {}", text.chars().take(400).collect::<String>()));
    }
    let mut out = Vec::new();
    for line in text.lines() {
        let Ok(Value::Object(row)) = serde_json::from_str::<Value>(line) else {
            return Err(format!("not a JSON row: {line}"));
        };
        out.push(row.into_iter().map(|(column, value)| (column, normalised(&value))).collect());
    }
    Ok(out)
}

/// A value as text both engines agree on: 64-bit integers come quoted or not depending on the
/// version, and floats are printed with different numbers of digits.
fn normalised(value: &Value) -> String {
    match value {
        Value::String(text) if text.parse::<i128>().is_ok() => text.clone(),
        Value::Number(number) if number.is_f64() => format!("{:.9e}", number.as_f64().unwrap_or(f64::NAN)),
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Two sets of rows that differ, for a message: their sizes and the first row of each that the
/// other lacks.
fn how_they_differ(a: &[BTreeMap<String, String>], a_is: &str, b: &[BTreeMap<String, String>], b_is: &str) -> String {
    format!(
        "{} rows {a_is}, {} {b_is}; first differing: {:?} / {:?}",
        a.len(),
        b.len(),
        a.iter().find(|row| !b.contains(row)),
        b.iter().find(|row| !a.contains(row))
    )
}

/// The same rows in any order; for `v_rollup_state`, only what does not depend on when each
/// engine's rollup cycles ran (the newest event).
fn same_rows(name: &str, a: &[BTreeMap<String, String>], b: &[BTreeMap<String, String>]) -> bool {
    let key = |row: &BTreeMap<String, String>| -> Vec<String> {
        if name == "v_rollup_state" {
            vec![row.get("source").cloned().unwrap_or_default(), row.get("newest_event").cloned().unwrap_or_default()]
        } else {
            row.iter().map(|(column, value)| format!("{column}={value}")).collect()
        }
    };
    let mut left: Vec<_> = a.iter().map(key).collect();
    let mut right: Vec<_> = b.iter().map(key).collect();
    left.sort();
    right.sort();
    left == right
}
