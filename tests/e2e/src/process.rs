//! The services (and the helper programs the tests run beside them) as separate OS processes,
//! for tests that must kill them with SIGKILL or read their logs.

use std::collections::BTreeMap;
use std::fs::File;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The directory holding the workspace's binaries (`target/debug`), found from the test
/// executable (`target/debug/deps/<test>`). `ops/test` builds them before the tests run.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target directory");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build the services first (cargo build --bins; ops/test does)",
        path.display()
    );
    path
}

/// A free loopback port (there is a small window in which another process could take it).
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

/// Starts a helper program (Prometheus, the OpenTelemetry Collector) with `args`, its output
/// going to the file `log`; panics, naming the program, if it cannot start.
pub fn spawn_logged(program: &Path, args: &[String], log: &Path) -> Child {
    let file = File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log handle"))
        .stderr(file)
        .spawn()
        .unwrap_or_else(|e| panic!("failed to start {}: {e}", program.display()))
}

/// Environment for an `ioc-processor` process on `port` using `kafka` and `clickhouse`;
/// `extra` settings (`IOC_PROCESSOR__...`) are added on top.
pub fn processor_env(
    kafka: &ioc_kafka::KafkaConfig,
    clickhouse: &ioc_clickhouse::ClickHouseConfig,
    port: u16,
    extra: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::from([
        ("IOC_PROCESSOR__LISTEN".to_owned(), format!("127.0.0.1:{port}")),
        ("IOC_PROCESSOR__KAFKA__BROKERS".to_owned(), kafka.brokers.clone()),
        ("IOC_PROCESSOR__KAFKA__TOPIC_PREFIX".to_owned(), kafka.topic_prefix.clone()),
        ("IOC_PROCESSOR__CLICKHOUSE__URL".to_owned(), clickhouse.url.clone()),
        ("IOC_PROCESSOR__CLICKHOUSE__DATABASE".to_owned(), clickhouse.database.clone()),
        ("IOC_PROCESSOR__GROUP_PREFIX".to_owned(), crate::random_name("g")),
        ("IOC_PROCESSOR__ROLLUP_INTERVAL_MS".to_owned(), "300".to_owned()),
    ]);
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    env
}

/// Environment for an `ioc-ingest` process on `port` producing to `kafka`, accepting each
/// source's clear key in `keys`; `extra` settings (`IOC_INGEST__...`) are added on top.
pub fn ingest_env(
    kafka: &ioc_kafka::KafkaConfig,
    keys: &BTreeMap<ioc_domain::Source, String>,
    port: u16,
    extra: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::from([
        ("IOC_INGEST__LISTEN".to_owned(), format!("127.0.0.1:{port}")),
        ("IOC_INGEST__KAFKA__BROKERS".to_owned(), kafka.brokers.clone()),
        ("IOC_INGEST__KAFKA__TOPIC_PREFIX".to_owned(), kafka.topic_prefix.clone()),
        ("IOC_INGEST__PSEUDONYMISATION_KEY".to_owned(), uuid::Uuid::new_v4().to_string()),
        // Scenarios use fixed 2026 dates; they must keep passing in later years.
        ("IOC_INGEST__MAX_EVENT_AGE_DAYS".to_owned(), "36500".to_owned()),
    ]);
    for (source, key) in keys {
        env.insert(format!("IOC_INGEST__KEYS__{}", source.as_str().to_uppercase()), ioc_ingest::auth::digest(key));
    }
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    env
}

/// Environment for an `ioc-api` process on `port` reading `clickhouse`; `extra` settings
/// (`IOC_API__...`) are added on top.
pub fn api_env(
    clickhouse: &ioc_clickhouse::ClickHouseConfig,
    port: u16,
    extra: &[(&str, &str)],
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::from([
        ("IOC_API__LISTEN".to_owned(), format!("127.0.0.1:{port}")),
        ("IOC_API__CLICKHOUSE__URL".to_owned(), clickhouse.url.clone()),
        ("IOC_API__CLICKHOUSE__DATABASE".to_owned(), clickhouse.database.clone()),
    ]);
    env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    env
}

/// A service running as a child process.
pub struct ServiceProcess {
    name: String,
    binary: PathBuf,
    env: BTreeMap<String, String>,
    /// Base URL of its HTTP endpoint.
    pub url: String,
    child: Option<Child>,
    log: PathBuf,
}

impl ServiceProcess {
    /// Starts `binary` with `env` (`RUST_LOG=warn` unless `env` sets it), logging to a file in the temp dir,
    /// and waits until its `/readyz` answers 200.
    pub async fn start(name: &str, binary: PathBuf, port: u16, env: BTreeMap<String, String>) -> ServiceProcess {
        let log = std::env::temp_dir().join(format!("ioc-{name}-{port}.log"));
        let mut process = ServiceProcess {
            name: name.to_owned(),
            binary,
            env,
            url: format!("http://127.0.0.1:{port}"),
            child: None,
            log,
        };
        process.restart().await;
        process
    }

    /// `ioc-ingest` on a free port, producing to `kafka` and accepting each source's clear key
    /// in `keys`, with `extra` settings on top ([`ingest_env`]); ready when this returns.
    pub async fn ingest(
        name: &str,
        kafka: &ioc_kafka::KafkaConfig,
        keys: &BTreeMap<ioc_domain::Source, String>,
        extra: &[(&str, &str)],
    ) -> ServiceProcess {
        let port = free_port();
        ServiceProcess::start(name, binary("ioc-ingest"), port, ingest_env(kafka, keys, port, extra)).await
    }

    /// `ioc-processor` on a free port, consuming `kafka` into `clickhouse`, with `extra` settings
    /// on top ([`processor_env`]); ready when this returns.
    pub async fn processor(
        name: &str,
        kafka: &ioc_kafka::KafkaConfig,
        clickhouse: &ioc_clickhouse::ClickHouseConfig,
        extra: &[(&str, &str)],
    ) -> ServiceProcess {
        let port = free_port();
        ServiceProcess::start(name, binary("ioc-processor"), port, processor_env(kafka, clickhouse, port, extra)).await
    }

    /// Starts the process again (after a kill) with the same settings and waits until ready.
    pub async fn restart(&mut self) {
        let log = File::options().create(true).append(true).open(&self.log).expect("log file");
        let child = Command::new(&self.binary)
            .env("RUST_LOG", "warn")
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("failed to start {}: {e}", self.binary.display()));
        self.child = Some(child);
        let started = Instant::now();
        let client = reqwest::Client::new();
        loop {
            if let Ok(response) = client.get(format!("{}/readyz", self.url)).send().await {
                if response.status().is_success() {
                    return;
                }
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("{} exited during start-up ({status}); see {}", self.name, self.log.display());
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{} not ready after 30s; see {}",
                self.name,
                self.log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Everything the process (and its earlier runs) logged.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The running process's id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// SIGKILL: no flush, no commit, no goodbye.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits up to `deadline` for a clean exit; returns whether it exited by itself.
    pub async fn terminate(&mut self, deadline: Duration) -> bool {
        let Some(mut child) = self.child.take() else { return true };
        let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let started = Instant::now();
        while started.elapsed() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
