//! The benchmark harness still works (issue 12): its programs run on the local stack with
//! a handful of events and write every figure BENCHMARKS.json promises, each a finite number
//! with a goal that can be read. The figures themselves come from `ops/bench` on release builds
//! (BENCHMARKS.md); timing debug builds on a few events would say nothing.

use std::process::Command;

use ioc_e2e::bench::report::{Results, SECTION};
use ioc_e2e::process::binary;

/// Every name issue 12 asks BENCHMARKS.json to hold that the harness measures today, and those
/// it added (the Kafka client alone, the cycles against the history).
const MEASURED: &[&str] = &[
    "ingest_vs_kcat",
    "kafka_client_vs_kcat",
    "processor_vs_client_insert",
    "processor_vs_kafka_engine",
    "rss_ingest_mb",
    "rss_processor_mb",
    "api_kpis_p99_ms",
    "api_ranking_p99_ms",
    "api_vs_clickhouse",
    "rss_api_mb",
    "rss_api_no_cache_mb",
    "processor_rows_per_s_1p",
    "processor_rows_per_s_2p",
    "rollup_cycle_history_growth",
    "rollup_cycle_old_dossier_growth",
];

/// Runs the harness program `name` with `args` (words without spaces) and waits for it.
fn run(name: &str, args: &str) {
    let output = Command::new(binary(name))
        .args(args.split_whitespace())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap_or_else(|e| panic!("{name} did not start: {e}"));
    assert!(
        output.status.success(),
        "{name} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn the_harness_writes_every_figure_with_a_readable_goal() {
    let dir = std::env::temp_dir().join(ioc_e2e::random_name("bench-smoke"));
    std::fs::create_dir_all(&dir).expect("work dir");
    let (json, markdown) = (dir.join("BENCHMARKS.json"), dir.join("BENCHMARKS.md"));
    std::fs::write(&markdown, format!("# Benchmarks\n{}\n{}\nprose after\n", SECTION.0, SECTION.1)).expect("md");
    let database = ioc_e2e::random_name("ioc_bench_smoke");
    let stack = format!(
        "--clickhouse {} --json {} --markdown {}",
        ioc_e2e::clickhouse_url(),
        json.display(),
        markdown.display()
    );
    let kafka = format!("--kafka {}", ioc_e2e::kafka_brokers());

    run("ioc_bench_pipeline", &format!("{stack} {kafka} --days 1 --scale 0.02 --batch 50 --repeats 2"));
    // A month that ends before today, as the freshness part requires.
    run(
        "ioc_bench",
        &format!(
            "{stack} --database {database} --start 2026-01-01 --days 31 --scale 0.01 --requests 5 --concurrency 4 \
             --concurrent-requests 40"
        ),
    );
    let (freshness_svg, scaling_svg) = (dir.join("freshness.svg"), dir.join("scaling.svg"));
    run(
        "ioc_bench_freshness",
        &format!(
            "{stack} {kafka} --database {database} --rate 100 --seconds 5 --backdrop-scale 0.01 --svg {}",
            freshness_svg.display()
        ),
    );
    run(
        "ioc_bench_scaling",
        &format!("{stack} {kafka} --days 1 --scale 0.01 --partitions 1,2 --svg {}", scaling_svg.display()),
    );
    let history_svg = dir.join("history.svg");
    run(
        "ioc_bench_history",
        &format!(
            "{stack} --database {database}_history --months 1 --scale 0.02 --repeats 1 --slice 50 --svg {}",
            history_svg.display()
        ),
    );
    // Each chart has a line with a point per probe, per partition count, per month of history.
    for (svg, points) in [(&freshness_svg, 1), (&scaling_svg, 2), (&history_svg, 2)] {
        let text = std::fs::read_to_string(svg).unwrap_or_else(|e| panic!("{}: {e}", svg.display()));
        assert!(text.starts_with("<svg") && text.contains("<polyline"), "{text}");
        assert!(text.matches("<circle").count() >= points, "{text}");
    }

    let results: Results =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written")).expect("results");
    let table = std::fs::read_to_string(&markdown).expect("markdown");
    std::fs::remove_dir_all(&dir).ok();
    let clickhouse = ioc_clickhouse::ClickHouseConfig { url: ioc_e2e::clickhouse_url(), ..Default::default() };
    for database in [database.clone(), format!("{database}_history")] {
        let drop = format!("DROP DATABASE IF EXISTS {database}");
        clickhouse.server_client().query(&drop).execute().await.expect("bench database dropped");
    }

    assert!(results.machine.contains("cores") && results.machine.contains("ClickHouse"), "{}", results.machine);
    for name in MEASURED {
        let measure = results.results.iter().find(|m| m.name == *name).unwrap_or_else(|| panic!("{name} missing"));
        assert!(measure.pipeline.is_finite() && measure.pipeline > 0.0, "{name}: {measure:?}");
        if let Some(anchor) = measure.anchor {
            assert!(anchor.is_finite() && anchor > 0.0 && measure.ratio.is_some(), "{name}: {measure:?}");
        }
        assert!(measure.goal_met().is_some(), "{name}: unreadable goal {:?}", measure.goal);
        assert!(table.contains(&format!("| `{name}` |")), "{name} not in the Markdown table:\n{table}");
    }
    assert!(table.starts_with("# Benchmarks\n") && table.ends_with("prose after\n"), "{table}");
}
