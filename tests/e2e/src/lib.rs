//! A test harness that boots the real services in-process against the local Kafka and
//! ClickHouse (started by `ops/dev up`), each test with its own topics and database.

pub mod analyst;
pub mod balancer;
pub mod bench;
pub mod current_engine;
pub mod dossier_rows;
pub mod load;
pub mod otel_collector;
pub mod periods;
pub mod process;
pub mod prometheus;
pub mod relay;
pub mod topic_reader;
pub mod topics;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ioc_api::ApiConfig;
use ioc_clickhouse::ClickHouseConfig;
use ioc_domain::Source;
use ioc_ingest::IngestConfig;
use ioc_kafka::KafkaConfig;
use ioc_processor::ProcessorConfig;
use ioc_service::Secret;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Kafka bootstrap address of the local stack (override with `IOC_TEST_KAFKA`).
pub fn kafka_brokers() -> String {
    std::env::var("IOC_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// ClickHouse HTTP address of the local stack (override with `IOC_TEST_CLICKHOUSE`).
pub fn clickhouse_url() -> String {
    std::env::var("IOC_TEST_CLICKHOUSE").unwrap_or_else(|_| "http://127.0.0.1:8123".into())
}

/// Kafka bootstrap addresses of the clustered local stack, `ops/cluster` (override with
/// `IOC_TEST_CLUSTER_KAFKA`).
pub fn cluster_kafka_brokers() -> String {
    std::env::var("IOC_TEST_CLUSTER_KAFKA").unwrap_or_else(|_| "127.0.0.1:9192,127.0.0.1:9292,127.0.0.1:9392".into())
}

/// The ClickHouse node of the clustered local stack the services talk to (override with
/// `IOC_TEST_CLUSTER_CLICKHOUSE`); the cluster is `ioc`.
pub fn cluster_clickhouse_url() -> String {
    std::env::var("IOC_TEST_CLUSTER_CLICKHOUSE").unwrap_or_else(|_| "http://127.0.0.1:8131".into())
}

/// The HTTP addresses of the clustered local stack's four ClickHouse nodes, ch1 to ch4
/// (`ops/cluster`: ch1 and ch2 are the first shard, ch3 and ch4 the second).
pub fn cluster_clickhouse_nodes() -> [std::net::SocketAddr; 4] {
    [1, 2, 3, 4].map(|node| std::net::SocketAddr::from(([127, 0, 0, 1], 8130 + node)))
}

/// Kafka settings for the local stack's SCRAM-SHA-512-over-TLS listener, as `ops/dev` sets it
/// up (local-only credentials; its CA certificate is under `.stack/kafka/tls`), with topics
/// under `topic_prefix`.
pub fn secure_kafka(topic_prefix: String) -> KafkaConfig {
    let stack = std::env::var_os("IOC_STACK_DIR").map_or_else(|| repo_root().join(".stack"), PathBuf::from);
    KafkaConfig {
        brokers: std::env::var("IOC_TEST_SECURE_KAFKA").unwrap_or_else(|_| "127.0.0.1:9094".into()),
        topic_prefix,
        security_protocol: "SASL_SSL".into(),
        sasl_mechanism: "SCRAM-SHA-512".into(),
        sasl_username: "ioc-local".into(),
        sasl_password: Secret::new("ioc-local-scram-password"),
        ssl_ca_location: Some(stack.join("kafka/tls/ca.crt")),
        ..KafkaConfig::default()
    }
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The folder where the project's scripts build their tools once per machine
/// (`IOC_CACHE_DIR`, by default `~/.cache/ioc`).
pub fn tool_cache() -> PathBuf {
    std::env::var_os("IOC_CACHE_DIR")
        .map_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/ioc"), PathBuf::from)
}

/// A short random name for topics and databases, e.g. `t3f9a0c12`.
pub fn random_name(prefix: &str) -> String {
    format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// Each source's clear bearer key for one test run.
pub fn random_keys() -> BTreeMap<Source, String> {
    Source::ALL.iter().map(|s| (*s, format!("{}-{}", s.as_str(), uuid::Uuid::new_v4()))).collect()
}

/// An ingest configuration for `keys`, producing to topics under `topic_prefix`.
pub fn ingest_config(kafka: &KafkaConfig, keys: &BTreeMap<Source, String>) -> IngestConfig {
    IngestConfig {
        kafka: kafka.clone(),
        keys: keys.iter().map(|(s, k)| (s.as_str().to_owned(), vec![ioc_ingest::auth::digest(k)])).collect(),
        pseudonymisation_key: Secret::new(uuid::Uuid::new_v4().to_string()),
        // Scenarios use fixed 2026 dates; they must keep passing in later years.
        max_event_age_days: 36_500,
        ..IngestConfig::default()
    }
}

/// A running service task and the way to stop it.
pub struct Running {
    /// Base URL, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Asks the service to shut down and waits for it; returns its result.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await?
    }
}

/// Spawns `serve(listener, shutdown)` on a fresh loopback port.
pub async fn spawn<F, Fut>(serve: F) -> Running
where
    F: FnOnce(TcpListener, oneshot::Receiver<()>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(serve(listener, stopped));
    Running { url, stop: Some(stop), task }
}

/// Resolves when the test asks the service to stop: the `shutdown` future given to `serve`.
pub async fn on_stop(stopped: oneshot::Receiver<()>) {
    let _ = stopped.await;
}

/// The whole pipeline for one test: ingest, processor and api on their own topics and database.
pub struct Pipeline {
    /// Kafka settings (random topic prefix).
    pub kafka: KafkaConfig,
    /// ClickHouse settings (random database).
    pub clickhouse: ClickHouseConfig,
    /// Clear keys of each source.
    pub keys: BTreeMap<Source, String>,
    /// ioc-ingest.
    pub ingest: Running,
    /// ioc-processor.
    pub processor: Running,
    /// ioc-api.
    pub api: Running,
    _database: DropDatabase,
    /// On the cluster, what stands for the Service over every ClickHouse node.
    _balancer: Option<balancer::Balancer>,
}

impl Pipeline {
    /// Migrates a fresh database and boots the three services.
    pub async fn start() -> Pipeline {
        Pipeline::start_on(&clickhouse_url()).await
    }

    /// Like [`Pipeline::start`], with ClickHouse at `clickhouse_url` (another engine).
    pub async fn start_on(clickhouse_url: &str) -> Pipeline {
        ioc_service::init_logging();
        let (kafka, clickhouse) = stack_in(random_name("t"), random_name("ioc_test_"), clickhouse_url.to_owned()).await;
        Pipeline::boot(kafka, clickhouse).await
    }

    /// Like [`Pipeline::start`], with ingest writing up to `per_message` events to a Kafka
    /// message (its `max_events_per_message`; 500 by default).
    pub async fn start_packing(per_message: usize) -> Pipeline {
        ioc_service::init_logging();
        let (kafka, clickhouse) = stack_in(random_name("t"), random_name("ioc_test_"), clickhouse_url()).await;
        Pipeline::boot_with(kafka, clickhouse, None, per_message).await
    }

    /// Like [`Pipeline::start`], on the clustered local stack (`ops/cluster up`): three Kafka
    /// brokers with topics replicated three times, and ClickHouse as two shards of two replicas
    /// with inserts acknowledged once on two replicas (`insert_quorum` 2). The services reach
    /// ClickHouse as the chart's do with the operator: through one address spreading
    /// connections over every node (a [`balancer::Balancer`] standing in for the Service), and
    /// the rollup through each node's own address. The first address listed for the rollup is
    /// a node that is down (nothing listens there), so its first cycle fails and it must move on;
    /// the next is ch2, which the cluster test kills.
    pub async fn start_clustered() -> Pipeline {
        ioc_service::init_logging();
        let kafka = KafkaConfig {
            brokers: cluster_kafka_brokers(),
            topic_prefix: random_name("t"),
            replication_factor: 3,
            ..KafkaConfig::default()
        };
        let balancer = balancer::Balancer::start(cluster_clickhouse_nodes().to_vec()).await;
        let clickhouse = ClickHouseConfig {
            url: balancer.url.clone(),
            database: random_name("ioc_test_"),
            cluster: Some("ioc".into()),
            insert_quorum: 2,
            ..ClickHouseConfig::default()
        };
        migrate_into(&clickhouse).await;
        let down = format!("http://127.0.0.1:{}", process::free_port());
        // Then ch2, which the cluster test kills under the rollup, then the others.
        let [ch1, ch2, ch3, ch4] = cluster_clickhouse_nodes().map(|node| format!("http://{node}"));
        let rollup_nodes = vec![down, ch2, ch1, ch3, ch4];
        let per_message = IngestConfig::default().max_events_per_message;
        Pipeline::boot_with(kafka, clickhouse, Some((balancer, rollup_nodes)), per_message).await
    }

    /// Like [`Pipeline::start`], with the services talking to Kafka as `kafka` says.
    pub async fn start_with_kafka(kafka: KafkaConfig) -> Pipeline {
        ioc_service::init_logging();
        let clickhouse = migrated_database(random_name("ioc_test_"), clickhouse_url()).await;
        Pipeline::boot(kafka, clickhouse).await
    }

    /// Like [`Pipeline::start`], in the database `name` (emptied first), for tests that need a
    /// fixed name such as [`ANALYST_CHECK_DATABASE`].
    pub async fn start_in(name: &str) -> Pipeline {
        ioc_service::init_logging();
        let admin = ClickHouseConfig { url: clickhouse_url(), ..ClickHouseConfig::default() };
        admin.server_client().query(&format!("DROP DATABASE IF EXISTS {name}")).execute().await.expect("drop");
        let (kafka, clickhouse) = stack_in(random_name("t"), name.to_owned(), clickhouse_url()).await;
        Pipeline::boot(kafka, clickhouse).await
    }

    async fn boot(kafka: KafkaConfig, clickhouse: ClickHouseConfig) -> Pipeline {
        let per_message = IngestConfig::default().max_events_per_message;
        Pipeline::boot_with(kafka, clickhouse, None, per_message).await
    }

    /// Boots the services; on a cluster, with the balancer the services' ClickHouse address
    /// leads to and the nodes' own addresses for the rollup; ingest writing up to `per_message`
    /// events to a Kafka message.
    async fn boot_with(
        kafka: KafkaConfig,
        clickhouse: ClickHouseConfig,
        cluster: Option<(balancer::Balancer, Vec<String>)>,
        per_message: usize,
    ) -> Pipeline {
        let (balancer, rollup_clickhouse_urls) = cluster.map_or((None, Vec::new()), |(b, urls)| (Some(b), urls));
        // Dropped outside async code, so straight to a node rather than through the balancer.
        let direct = if balancer.is_some() { cluster_clickhouse_url() } else { clickhouse.url.clone() };
        let database = DropDatabase(ClickHouseConfig { url: direct, ..clickhouse.clone() });
        let processor_config = ProcessorConfig {
            kafka: kafka.clone(),
            clickhouse: clickhouse.clone(),
            rollup_clickhouse_urls,
            group_prefix: random_name("g"),
            batch_max_wait_ms: 300,
            rollup_interval_ms: 300,
            monitor_interval_ms: 500,
            ..ProcessorConfig::default()
        };
        let keys = random_keys();
        let ingest_config = IngestConfig { max_events_per_message: per_message, ..ingest_config(&kafka, &keys) };
        let processor =
            spawn(|listener, stopped| ioc_processor::serve(processor_config, listener, on_stop(stopped))).await;
        let ingest = spawn(|listener, stopped| ioc_ingest::serve(ingest_config, listener, on_stop(stopped))).await;
        let api_config = ApiConfig {
            clickhouse: clickhouse.clone(),
            web_dir: repo_root().join("services/api/web/dist"),
            pipeline_metrics_urls: vec![format!("{}/metrics", ingest.url), format!("{}/metrics", processor.url)],
            answer_cache_refresh_ms: 100,
            ..ApiConfig::default()
        };
        let api = spawn(|listener, stopped| ioc_api::serve(api_config, listener, on_stop(stopped))).await;
        let pipeline =
            Pipeline { kafka, clickhouse, keys, ingest, processor, api, _database: database, _balancer: balancer };
        for url in [&pipeline.ingest.url, &pipeline.processor.url, &pipeline.api.url] {
            wait_ready(url).await;
        }
        pipeline
    }

    /// Starts `ioc-canary` (the built binary) probing this pipeline's sources every
    /// `interval_seconds`, giving up on a probe after 60 s.
    pub async fn start_canary(&self, interval_seconds: u32) -> process::ServiceProcess {
        let port = process::free_port();
        let mut env = BTreeMap::from([
            ("IOC_CANARY_INGEST_URL".to_owned(), self.ingest.url.clone()),
            ("IOC_CANARY_API_URL".to_owned(), self.api.url.clone()),
            ("IOC_CANARY_INTERVAL_SECONDS".to_owned(), interval_seconds.to_string()),
            ("IOC_CANARY_DEADLINE_SECONDS".to_owned(), "60".to_owned()),
            ("IOC_CANARY_LISTEN".to_owned(), format!("127.0.0.1:{port}")),
        ]);
        for (source, key) in &self.keys {
            env.insert(format!("IOC_CANARY_{}_KEY", source.as_str().to_uppercase()), key.clone());
        }
        process::ServiceProcess::start("canary", process::binary("ioc-canary"), port, env).await
    }

    /// Stops the services (the database is dropped when the pipeline is dropped).
    pub async fn stop(self) {
        let Pipeline { ingest, processor, api, _database, kafka, .. } = self;
        ingest.stop().await.expect("ingest stops cleanly");
        processor.stop().await.expect("processor stops cleanly");
        api.stop().await.expect("api stops cleanly");
        topics::clean_up_topics_of(&kafka).await;
    }

    /// Sends one valid `dossier.received` (the schemas' example with a new id, dated an hour
    /// ago) of the unit `unit_code` through ingest, which must accept it: a unit code of the
    /// right form is accepted whether or not the reference data lists the unit.
    pub async fn send_dossier_of_unit(&self, unit_code: &str) {
        let example = std::fs::read_to_string(repo_root().join("schemas/events/examples/valid/dossier.received.json"))
            .expect("the schemas' example");
        let mut event: serde_json::Value = serde_json::from_str(&example).expect("json");
        let occurred = chrono::Utc::now() - chrono::Duration::hours(1);
        event["event_id"] = serde_json::json!(uuid::Uuid::new_v4().to_string());
        event["unit_code"] = serde_json::json!(unit_code);
        event["occurred_at"] = serde_json::json!(occurred.to_rfc3339());
        event["due_at"] = serde_json::json!((occurred + chrono::Duration::days(3)).to_rfc3339());
        let answer =
            post_ndjson(&self.ingest.url, Source::Portal, &self.keys[&Source::Portal], event.to_string()).await;
        let status = answer.status();
        assert!(
            status.is_success(),
            "ingest refused a dossier of unit {unit_code}: {status} {:?}",
            answer.text().await
        );
    }

    /// Runs a query returning one number.
    pub async fn count(&self, sql: &str) -> u64 {
        self.clickhouse.client().query(sql).fetch_one::<u64>().await.unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Waits until `expected` distinct events (canary probes aside) are stored, or panics after
    /// `timeout`.
    pub async fn wait_for_events(&self, expected: u64, timeout: Duration) {
        // Canary probes (tests that run ioc-canary) are not events a test sent.
        let per_source: Vec<String> = Source::ALL
            .iter()
            .map(|source| {
                format!(
                    "(SELECT uniqExact(event_id) FROM {} WHERE type != '{}')",
                    source.events_table(),
                    ioc_domain::CANARY_PROBE_TYPE
                )
            })
            .collect();
        let sql = format!("SELECT toUInt64(assumeNotNull({}))", per_source.join(" + "));
        let started = Instant::now();
        loop {
            let stored = self.count(&sql).await;
            if stored >= expected {
                assert_eq!(stored, expected, "more distinct events stored than were sent");
                wait_for_rollups(&self.clickhouse, &self.api.url, timeout).await;
                return;
            }
            assert!(started.elapsed() < timeout, "only {stored} of {expected} events stored after {timeout:?}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// Waits until the rollups (what the API reads) include every raw event stored so far, and the
/// API at `api` answers from them, or panics after `timeout`: until each source has a rollup
/// cycle that started in a later second than this call, i.e. `covered_until` (the second after
/// the one the cycle claimed, less what its inserts under way and `rollup_margin_seconds`, 0
/// here as by default, hold back) is past the next second, and the API's cached answers carry
/// an `IOC-Covered-Until` past it too (an API keeping no answers sends none). Not the current
/// second: a cycle earlier in it claimed the current second, and rows stored after that are
/// dated the next one (services/processor/src/rollup/in_flight.rs).
pub async fn wait_for_rollups(clickhouse: &ClickHouseConfig, api: &str, timeout: Duration) {
    let client = clickhouse.client();
    let number = |sql: String| {
        let client = client.clone();
        async move { client.query(&sql).fetch_one::<u32>().await.unwrap_or_else(|e| panic!("{sql}: {e}")) }
    };
    let now = number("SELECT toUInt32(now())".to_owned()).await;
    let started = Instant::now();
    for source in ["portal", "edoc", "training"] {
        loop {
            let covered =
                number(format!("SELECT toUInt32(max(covered_until)) FROM rollup_state WHERE source = '{source}'"))
                    .await;
            // Past the next second, not this one: a mark of the next second may come from a
            // cycle that started earlier in this one, before rows stored since then.
            if covered > now + 1 {
                break;
            }
            assert!(started.elapsed() < timeout, "{source} rollup covers {covered}, waiting for {now}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let http = reqwest::Client::new();
    loop {
        let response = http.get(format!("{api}/v1/indicators")).send().await.expect("the API answers");
        let covered = response
            .headers()
            .get(ioc_api::answer_cache::COVERED_UNTIL_HEADER)
            .map(|value| value.to_str().ok().and_then(|text| text.parse::<u32>().ok()).expect("a unix time"));
        match covered {
            Some(covered) if covered <= now + 1 => {
                assert!(
                    started.elapsed() < timeout,
                    "the API answers from rollups covering {covered}, waiting for {now}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            _ => return,
        }
    }
}

/// Kafka settings with a fresh topic prefix and a freshly migrated ClickHouse database, both
/// with random names starting with the given prefixes.
pub async fn fresh_stack(topic_prefix: &str, database_prefix: &str) -> (KafkaConfig, ClickHouseConfig) {
    stack_in(random_name(topic_prefix), random_name(database_prefix), clickhouse_url()).await
}

/// The database the analyst account of the local stack may read besides `ioc`
/// (ops/clickhouse/users.xml); the test that runs the analysts' example queries fills it.
pub const ANALYST_CHECK_DATABASE: &str = "ioc_analyst_check";

async fn stack_in(topic_prefix: String, database: String, clickhouse_url: String) -> (KafkaConfig, ClickHouseConfig) {
    let kafka = KafkaConfig { brokers: kafka_brokers(), topic_prefix, ..KafkaConfig::default() };
    (kafka, migrated_database(database, clickhouse_url).await)
}

/// The database `database` at `clickhouse_url`, migrated.
pub async fn migrated_database(database: String, clickhouse_url: String) -> ClickHouseConfig {
    let clickhouse = ClickHouseConfig { url: clickhouse_url, database, ..ClickHouseConfig::default() };
    migrate_into(&clickhouse).await;
    clickhouse
}

/// Applies the migrations and loads the reference data embedded in the processor.
async fn migrate_into(clickhouse: &ClickHouseConfig) {
    let migrate = ProcessorConfig { clickhouse: clickhouse.clone(), ..ProcessorConfig::default() };
    ioc_processor::migrate(&migrate).await.expect("migrations apply");
}

/// Reloads the embedded reference data into `clickhouse` twice, as two `migrate` runs do, then
/// once with its targets file emptied and once whole again, and checks what a reload must leave
/// on any engine, replicated or not: the reference tables whole, an emptied file's table empty,
/// and, once ClickHouse has run the deletions (mutations, in the background), only the newest
/// load and the one before it.
pub async fn check_reference_reloads(clickhouse: &ClickHouseConfig) {
    let reference = ioc_reference::ReferenceData::embedded().expect("reference data");
    for _ in 0..2 {
        ioc_clickhouse::load_reference_data(clickhouse, &reference).await.expect("reference data reloaded");
    }
    let client = clickhouse.client();
    let units: u64 = client.query("SELECT toUInt64(count()) FROM ref_units").fetch_one().await.expect("units read");
    assert_eq!(units, reference.units.len() as u64, "the units after two reloads");
    // A file emptied to its header empties its table (migration 0014), and filled again fills it.
    // On a cluster a read may reach a node that has not received the load yet and still shows the
    // one before, whole: the count is awaited.
    let targets_become = async |expected: u64| -> u64 {
        let started = Instant::now();
        loop {
            let sql = "SELECT toUInt64(count()) FROM ref_targets";
            let seen: u64 = client.query(sql).fetch_one().await.expect("targets read");
            if seen == expected || started.elapsed() >= Duration::from_secs(30) {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let withdrawn = ioc_reference::ReferenceData { targets: Vec::new(), ..reference.clone() };
    ioc_clickhouse::load_reference_data(clickhouse, &withdrawn).await.expect("reloaded without targets");
    assert_eq!(targets_become(0).await, 0, "the targets 30 s after a reload of an empty targets file");
    ioc_clickhouse::load_reference_data(clickhouse, &reference).await.expect("reloaded with targets");
    let whole = reference.targets.len() as u64;
    assert_eq!(targets_become(whole).await, whole, "the targets 30 s after the file was filled again");
    let loads = reference_loads_kept(clickhouse, Duration::from_secs(60)).await;
    assert!(loads <= 2, "{loads} loads kept 60 s after four reloads");
}

/// The most loads any reference table (or `ref_loads`, or `ref_load_rows`) holds, once it is at
/// most 2 (the newest and the one before it) or `patience` ran out: the older ones are deleted
/// by mutations, in the background.
pub async fn reference_loads_kept(clickhouse: &ClickHouseConfig, patience: Duration) -> u64 {
    // A scalar subquery is Nullable on a current engine: assumeNotNull keeps the type UInt64.
    // `greatest` takes two arguments on 18.16.
    let kept = "SELECT toUInt64(assumeNotNull(greatest(greatest( \
                greatest((SELECT uniqExact(load_id) FROM ref_units_loads), \
                         (SELECT uniqExact(load_id) FROM ref_denominators_loads)), \
                greatest((SELECT uniqExact(load_id) FROM ref_procedures_loads), \
                         (SELECT uniqExact(load_id) FROM ref_targets_loads))), \
                greatest((SELECT uniqExact(load_id) FROM ref_loads), \
                         (SELECT uniqExact(load_id) FROM ref_load_rows)))))";
    let client = clickhouse.client();
    let started = Instant::now();
    loop {
        let loads: u64 = client.query(kept).fetch_one().await.expect("loads read");
        if loads <= 2 || started.elapsed() >= patience {
            return loads;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Posts an NDJSON body to ingest as `source` with `key`.
pub async fn post_ndjson(ingest: &str, source: Source, key: &str, body: String) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{ingest}/v1/sources/{source}/events"))
        .bearer_auth(key)
        .header(reqwest::header::CONTENT_TYPE, "application/x-ndjson")
        .body(body)
        .send()
        .await
        .expect("ingest answers")
}

/// Waits for a service's `/readyz` to answer 200.
pub async fn wait_ready(url: &str) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut last = String::from("no answer");
    loop {
        if let Ok(response) = client.get(format!("{url}/readyz")).send().await {
            if response.status().is_success() {
                return;
            }
            last = response.text().await.unwrap_or_default();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{url} not ready after 30s: {last}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Drops the test database when the test ends, even when it panicked: hold one for each
/// database a test makes (`fresh_stack`, `migrated_database`), or the databases pile up on a
/// development machine and their background merges slow the benchmarks run there.
pub struct DropDatabase(ClickHouseConfig);

impl DropDatabase {
    /// Drops the database `clickhouse` names when the value returned goes.
    pub fn at_end(clickhouse: &ClickHouseConfig) -> DropDatabase {
        DropDatabase(clickhouse.clone())
    }
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        // For looking at what a failed test left: IOC_TEST_KEEP_DATABASE=1 cargo test ...
        if std::env::var_os("IOC_TEST_KEEP_DATABASE").is_some() {
            eprintln!("keeping database {}", self.0.database);
            return;
        }
        // Drop runs outside async code, so speak HTTP over a plain socket.
        let address = self.0.url.trim_start_matches("http://").trim_end_matches('/').to_owned();
        let on_cluster = self.0.cluster.as_ref().map(|c| format!(" ON CLUSTER {c}")).unwrap_or_default();
        let query = format!("DROP DATABASE IF EXISTS {}{on_cluster}", self.0.database);
        if let Ok(mut stream) = TcpStream::connect(&address) {
            let request = format!(
                "POST / HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{query}",
                query.len()
            );
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = stream.write_all(request.as_bytes());
            let _ = stream.read(&mut [0; 256]);
        }
    }
}

/// The sum of the samples of `metric` at a Prometheus endpoint whose labels include every
/// `name="value"` of `labels`; `None` when there is none.
pub async fn metric(url: &str, metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let text = reqwest::get(format!("{url}/metrics")).await.ok()?.text().await.ok()?;
    let wanted: Vec<String> = labels.iter().map(|(name, value)| format!("{name}=\"{value}\"")).collect();
    let samples: Vec<f64> = text
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(metric)?;
            let (labels, value) = match rest.strip_prefix('{') {
                Some(rest) => rest.split_once("} ")?,
                None => ("", rest.strip_prefix(' ')?),
            };
            let names: Vec<&str> = labels.split(',').collect();
            wanted.iter().all(|w| names.contains(&w.as_str())).then(|| value.trim().parse().ok())?
        })
        .collect();
    (!samples.is_empty()).then(|| samples.iter().sum())
}

/// Produces `payloads` to partition 0 of `topic` straight to Kafka, without ingest (as a
/// producer that bypassed it), all at once, so that one fetch can bring them together; their
/// offsets, in order.
pub async fn produce_together(kafka: &KafkaConfig, topic: &str, payloads: &[Vec<u8>]) -> Vec<i64> {
    let producer = kafka.producer().expect("producer");
    let sends = payloads.iter().map(|payload| {
        producer.send(
            rdkafka::producer::FutureRecord::<str, [u8]>::to(topic).partition(0).payload(payload),
            Duration::from_secs(10),
        )
    });
    futures::future::join_all(sends)
        .await
        .into_iter()
        .map(|sent| sent.map_err(|(error, _)| error).expect("produced").offset)
        .collect()
}

/// Waits up to a minute until the sum of `metric`'s samples with `labels` at `url` satisfies
/// `done`; the last value read (NaN when there was none).
pub async fn wait_for_metric(url: &str, metric: &str, labels: &[(&str, &str)], done: impl Fn(f64) -> bool) -> f64 {
    let started = Instant::now();
    loop {
        let value = self::metric(url, metric, labels).await.unwrap_or(f64::NAN);
        if done(value) || started.elapsed() > Duration::from_secs(60) {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The processor's completeness figures (acknowledged, stored, missing; summed over sources)
/// from checks of every source that finished after `after` (unix seconds), waiting up to a
/// minute for them; an error saying which source was not checked. A check that fails leaves the
/// gauges at their old values: only its finish time tells a new figure from an old one.
pub async fn completeness_checked_after(processor_url: &str, after: i64) -> Result<(f64, f64, f64), String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let mut unchecked = Vec::new();
        for source in ioc_domain::Source::ALL {
            let at = metric(
                processor_url,
                "ioc_processor_completeness_checked_timestamp_seconds",
                &[("source", source.as_str())],
            )
            .await;
            if at.is_none_or(|at| at <= after as f64) {
                unchecked.push(format!("{source} (last check finished at {at:?})"));
            }
        }
        if unchecked.is_empty() {
            let figure = |name: &'static str| metric(processor_url, name, &[]);
            let acknowledged = figure("ioc_processor_completeness_acknowledged_events").await.unwrap_or(f64::NAN);
            let stored = figure("ioc_processor_completeness_stored_events").await.unwrap_or(f64::NAN);
            let missing = figure("ioc_processor_completeness_missing_events").await.unwrap_or(f64::NAN);
            return Ok((acknowledged, stored, missing));
        }
        if std::time::Instant::now() > deadline {
            return Err(format!("no completeness check finished after {after} for {}", unchecked.join(", ")));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Compares indicator values the API returned for `scope` with the expected ones; appends one
/// line per difference. Breakdown entries are compared too (truth keys `id/key`).
pub fn compare_values(
    scope: &str,
    values: &[ioc_api::IndicatorValue],
    expected: &BTreeMap<String, ioc_simulator::Expected>,
    differences: &mut Vec<String>,
) {
    for value in values {
        let Some(want) = expected.get(&value.id) else {
            differences.push(format!("{scope}: no truth for {}", value.id));
            continue;
        };
        check(scope, &value.id, (value.numerator, value.denominator, value.ratio), want, differences);
        let prefix = format!("{}/", value.id);
        let mut keys: Vec<&str> = expected.keys().filter_map(|k| k.strip_prefix(&prefix)).collect();
        for entry in value.breakdown.iter().flatten() {
            keys.retain(|k| *k != entry.key);
            match expected.get(&format!("{prefix}{}", entry.key)) {
                Some(want) => check(
                    scope,
                    &format!("{prefix}{}", entry.key),
                    (entry.numerator, entry.denominator, entry.ratio),
                    want,
                    differences,
                ),
                None => differences.push(format!("{scope}: {prefix}{} is not in the truth", entry.key)),
            }
        }
        if value.breakdown.is_some() && !keys.is_empty() {
            differences.push(format!("{scope}: breakdown of {} misses {keys:?}", value.id));
        }
    }
}

/// Like [`compare_values`], and every defined indicator must be among `values`.
pub fn compare_all(
    scope: &str,
    values: &[ioc_api::IndicatorValue],
    expected: &BTreeMap<String, ioc_simulator::Expected>,
    differences: &mut Vec<String>,
) {
    let ids: Vec<&str> = values.iter().map(|v| v.id.as_str()).collect();
    let defined: Vec<&str> = ioc_domain::indicators::DEFINITIONS.iter().map(|d| d.id).collect();
    if ids != defined {
        differences.push(format!("{scope}: answered {ids:?}, defined {defined:?}"));
    }
    compare_values(scope, values, expected, differences);
}

fn check(
    scope: &str,
    id: &str,
    (numerator, denominator, ratio): (u64, Option<u64>, Option<f64>),
    want: &ioc_simulator::Expected,
    differences: &mut Vec<String>,
) {
    let want_ratio = want.denominator.filter(|d| *d > 0).map(|d| want.numerator as f64 / d as f64);
    if (numerator, denominator, ratio) != (want.numerator, want.denominator, want_ratio) {
        differences.push(format!(
            "{scope}: {id} is {numerator}/{denominator:?}, truth {}/{:?}",
            want.numerator, want.denominator
        ));
    }
}

/// Fails the test when `differences` is not empty, saying how many there are and listing the
/// first 30; `what` says what they are differences from ("from the ground truth as of today").
pub fn assert_no_differences(differences: &[String], what: &str) {
    assert!(
        differences.is_empty(),
        "{} differences {what}, first 30:\n{}",
        differences.len(),
        differences.iter().take(30).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// GETs `url` and checks the answer against the OpenAPI component `schema`; a failure is
/// returned as a difference line.
pub async fn get_checked<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
    contract: &jsonschema::Validator,
) -> Result<T, String> {
    let response = client.get(url).send().await.map_err(|e| format!("{url}: api unreachable: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        let body = response.text().await.unwrap_or_default();
        return Err(format!("{url}: api answered {status}: {body}"));
    }
    let json: serde_json::Value = response.json().await.map_err(|e| format!("{url}: not json: {e}"))?;
    let violations: Vec<String> = contract.iter_errors(&json).take(3).map(|e| e.to_string()).collect();
    if !violations.is_empty() {
        return Err(format!("{url}: answer does not match /openapi.json: {}", violations.join("; ")));
    }
    serde_json::from_value(json).map_err(|e| format!("{url}: unexpected shape: {e}"))
}

/// A validator for the OpenAPI component `name`.
pub fn contract(name: &str) -> jsonschema::Validator {
    jsonschema::validator_for(&ioc_api::openapi::schema_for(name)).expect("openapi schema compiles")
}

/// Compares every indicator the API returns for `truth`'s period, for the province and every
/// unit, with the ground truth, and each answer with the API's OpenAPI document; returns one
/// line per difference (empty when all are exact).
pub async fn indicator_differences(api: &str, truth: &ioc_simulator::GroundTruth) -> Vec<String> {
    use futures::StreamExt;
    let client = reqwest::Client::new();
    let contract = contract("KpiResponse");
    let mut scopes: Vec<(String, String, &BTreeMap<String, ioc_simulator::Expected>)> =
        vec![("province".to_owned(), String::new(), &truth.province)];
    scopes.extend(truth.units.iter().map(|(code, expected)| (code.clone(), format!("&unit={code}"), expected)));
    let (client, contract) = (&client, &contract);
    let answers = futures::stream::iter(scopes)
        .map(|(scope, filter, expected)| async move {
            let url = format!("{api}/v1/kpis?from={}&to={}{filter}", truth.from, truth.to);
            let mut differences = Vec::new();
            match get_checked::<ioc_api::KpiResponse>(client, &url, contract).await {
                Ok(answer) => compare_all(&scope, &answer.indicators, expected, &mut differences),
                Err(error) => differences.push(error),
            }
            differences
        })
        .buffer_unordered(4)
        .collect::<Vec<_>>()
        .await;
    answers.into_iter().flatten().collect()
}

/// The ranking holds the 148 commune-level units, each with its true value, ordered so that a
/// unit's rank is one more than the number of units with a strictly better true value.
pub fn ranking_differences(
    ranking: &ioc_api::RankingResponse,
    truth: &ioc_simulator::GroundTruth,
    higher_is_better: bool,
    differences: &mut Vec<String>,
) {
    let id = ranking.indicator.id.as_str();
    let scope = format!("ranking {id} {}", ranking.period.label);
    if ranking.units.len() != 148 {
        differences.push(format!("{scope}: {} units ranked, 148 expected", ranking.units.len()));
    }
    let headline = |expected: &ioc_simulator::Expected| match expected.denominator {
        None => Some(expected.numerator as f64),
        Some(0) => None,
        Some(denominator) => Some(expected.numerator as f64 / denominator as f64),
    };
    let values: BTreeMap<&str, Option<f64>> = ranking
        .units
        .iter()
        .map(|entry| (entry.unit.code.as_str(), truth.units.get(&entry.unit.code).and_then(|u| headline(&u[id]))))
        .collect();
    let mut previous_rank = 0;
    for entry in &ranking.units {
        let code = entry.unit.code.as_str();
        compare_values(&format!("{scope} {code}"), std::slice::from_ref(&entry.value), &truth.units[code], differences);
        let expected_rank = values[code].map(|mine| {
            let better =
                values.values().flatten().filter(
                    |other| {
                        if higher_is_better {
                            **other > mine
                        } else {
                            **other < mine
                        }
                    },
                );
            better.count() as u32 + 1
        });
        if entry.rank != expected_rank {
            differences.push(format!("{scope} {code}: rank {:?}, expected {expected_rank:?}", entry.rank));
        }
        let rank = entry.rank.unwrap_or(u32::MAX);
        if rank < previous_rank {
            differences.push(format!("{scope}: {code} listed after a worse rank"));
        }
        previous_rank = rank;
    }
}
