//! The dashboard in a real headless Chromium: starts the pipeline with 20 simulated days ending
//! yesterday, a second ioc-api process over the same data (the stale-data test kills it), a third
//! over a migrated database that no rollup has run on, and runs the browser tests in
//! services/api/web/tests with Playwright. Screenshots and the measured
//! budgets go to target/dashboard/.

use std::path::Path;
use std::time::Duration;

use ioc_e2e::process::{binary, free_port, ServiceProcess};
use ioc_e2e::{migrated_database, random_name, repo_root, DropDatabase, Pipeline};
use ioc_reference::ReferenceData;
use ioc_simulator::{simulate, Faults, Scenario, Sender};

fn require(path: &Path, what: &str) {
    assert!(path.exists(), "{} is missing: {what}", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_in_a_real_browser() {
    let web = repo_root().join("services/api/web");
    require(&web.join("dist/index.html"), "build the dashboard first: cd services/api/web && npm ci && npm run build");
    require(&web.join("node_modules/playwright-core"), "install the test tools: cd services/api/web && npm ci");
    require(Path::new("/usr/bin/chromium"), "install Debian's chromium (ops/test does: apt-get install chromium)");

    let pipeline = Pipeline::start().await;
    let reference = ReferenceData::load(&repo_root().join("schemas/reference")).expect("reference data");
    let scenario = Scenario { start: ioc_simulator::days_ending_yesterday(20), days: 20, scale: 0.02 };
    let run = simulate(4, &scenario, Faults::default(), 500, &reference);
    Sender::new(&pipeline.ingest.url, pipeline.keys.clone()).send_all(&run.batches).await.expect("sent");
    pipeline.wait_for_events(run.events.len() as u64, Duration::from_secs(120)).await;
    // Every source rolled up before the page opens: until then its banner says it never was.
    ioc_e2e::wait_for_rollups(&pipeline.clickhouse, &pipeline.api.url, Duration::from_secs(120)).await;

    let api_over = |database: &str| {
        let port = free_port();
        let env = [
            ("IOC_API__LISTEN", format!("127.0.0.1:{port}")),
            ("IOC_API__CLICKHOUSE__URL", pipeline.clickhouse.url.clone()),
            ("IOC_API__CLICKHOUSE__DATABASE", database.to_owned()),
            ("IOC_API__WEB_DIR", web.join("dist").display().to_string()),
        ];
        ServiceProcess::start("api", binary("ioc-api"), port, env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    };
    let mut doomed = api_over(&pipeline.clickhouse.database).await;
    let unrolled = migrated_database(random_name("ioc_unrolled"), pipeline.clickhouse.url.clone()).await;
    let _drop_unrolled = DropDatabase::at_end(&unrolled);
    let mut never_rolled_up = api_over(&unrolled.database).await;

    let artifacts = repo_root().join("target/dashboard");
    let mut node = std::process::Command::new("node");
    node.args(["--test", "--test-concurrency=1", "tests/dashboard.test.mjs"])
        .current_dir(&web)
        .env("IOC_DASHBOARD_URL", &pipeline.api.url)
        .env("IOC_STALE_API_URL", &doomed.url)
        .env("IOC_STALE_API_PID", doomed.pid().expect("running").to_string())
        .env("IOC_UNROLLED_API_URL", &never_rolled_up.url)
        .env("IOC_ARTIFACTS", &artifacts);
    // Off the runtime's threads: the api under test runs on them.
    let output = tokio::task::spawn_blocking(move || node.output()).await.expect("join").expect("node runs");
    let report = String::from_utf8_lossy(&output.stdout);
    eprintln!("{report}{}", String::from_utf8_lossy(&output.stderr));
    doomed.kill();
    never_rolled_up.kill();
    assert!(output.status.success(), "browser tests failed (screenshots in {})", artifacts.display());
    let budgets = std::fs::read_to_string(artifacts.join("budgets.json")).expect("budgets written");
    eprintln!("dashboard budgets measured: {budgets}");
    pipeline.stop().await;
}
