//! A real Prometheus server (Debian's package, unpacked by `ops/observability/check install`)
//! scraping the services of a test, with the project's alert rules loaded, and the expressions
//! of every dashboard panel and alert (ops/observability/expressions.json) to evaluate on it.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::repo_root;

/// One expression of a panel, an alert or a recording rule, as `build-dashboards` lists them.
#[derive(Debug, Clone, Deserialize)]
pub struct Expression {
    /// The dashboard or rule file it comes from.
    pub file: String,
    /// The panel title (with `[A]`, `[B]` for several queries) or the rule's name.
    pub name: String,
    /// PromQL, Grafana's variables already substituted.
    pub expr: String,
    /// `panel`, `alert` or `record`.
    pub kind: String,
    /// Whether a healthy pipeline with traffic must give this expression a result.
    pub needs_data: bool,
}

/// Every expression of ops/observability/expressions.json.
pub fn expressions() -> Vec<Expression> {
    let path = repo_root().join("ops/observability/expressions.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The expression of the alert `name` (its first rule when it has several).
pub fn alert_expression(name: &str) -> String {
    expressions()
        .into_iter()
        .find(|e| e.kind == "alert" && (e.name == name || e.name.starts_with(&format!("{name} ("))))
        .unwrap_or_else(|| panic!("no alert {name} in expressions.json"))
        .expr
}

/// A Prometheus process; stopped when dropped.
pub struct Prometheus {
    child: Child,
    /// Its HTTP address.
    pub url: String,
    dir: PathBuf,
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<AnswerData>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct AnswerData {
    result: serde_json::Value,
}

impl Prometheus {
    /// Starts Prometheus scraping each `(job, base URL)` every second, evaluating the rules
    /// every second, and waits until every target has been scraped once.
    pub async fn start(targets: &[(&str, &str)]) -> Prometheus {
        let binary = crate::tool_cache().join("promtool/bin/prometheus");
        assert!(
            binary.exists(),
            "{} is missing: run ops/observability/check install (ops/test does)",
            binary.display()
        );
        let dir = std::env::temp_dir().join(crate::random_name("ioc-prometheus-"));
        std::fs::create_dir_all(&dir).expect("prometheus directory");
        let rules = repo_root().join("ops/observability/rules/ioc-alerts.yaml");
        let mut config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n",
            rules.display()
        );
        for (job, url) in targets {
            let address = url.trim_start_matches("http://");
            config.push_str(&format!("  - job_name: {job}\n    static_configs:\n      - targets: [\"{address}\"]\n"));
        }
        std::fs::write(dir.join("prometheus.yml"), config).expect("prometheus.yml");
        let port = crate::process::free_port();
        let args = [
            format!("--config.file={}", dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", dir.join("data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
        ];
        let child = crate::process::spawn_logged(&binary, &args, &dir.join("prometheus.log"));
        let prometheus = Prometheus { child, url: format!("http://127.0.0.1:{port}"), dir };
        let jobs = targets.len();
        let scraped = prometheus.wait_until("count(up == 1)", Duration::from_secs(30), |result| {
            result.as_array().and_then(|r| r.first()).and_then(|s| s["value"][1].as_str()) == Some(&jobs.to_string())
        });
        assert!(scraped.await, "Prometheus did not scrape all {jobs} targets; see {}", prometheus.log_path().display());
        prometheus
    }

    /// Where Prometheus logs.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("prometheus.log")
    }

    /// Evaluates `expr` now: the result vector, or Prometheus' error.
    pub async fn query(&self, expr: &str) -> Result<serde_json::Value, String> {
        let response = reqwest::Client::new()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", expr)])
            .send()
            .await
            .map_err(|e| format!("query failed: {e}"))?;
        let answer: Answer = response.json().await.map_err(|e| format!("unreadable answer: {e}"))?;
        match (answer.status.as_str(), answer.data) {
            ("success", Some(data)) => Ok(data.result),
            _ => Err(answer.error.unwrap_or(answer.status)),
        }
    }

    /// Polls `expr` until `holds` accepts its result; whether it did within `timeout`.
    pub async fn wait_until(&self, expr: &str, timeout: Duration, holds: impl Fn(&serde_json::Value) -> bool) -> bool {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if self.query(expr).await.is_ok_and(|result| holds(&result)) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        false
    }
}

/// Whether a query result holds at least one sample or series.
pub fn has_data(result: &serde_json::Value) -> bool {
    result.as_array().is_some_and(|samples| !samples.is_empty())
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Kept after a failure: its log says what Prometheus saw.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
