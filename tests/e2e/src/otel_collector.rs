//! A real OpenTelemetry Collector (built by ops/observability/otelcol/build) receiving the
//! services' spans over OTLP/HTTP on 127.0.0.1 and writing them to a file as OTLP JSON, which the
//! test reads back.

use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;

/// One span as the collector received it, with the `service.name` of the process that sent it.
#[derive(Debug, Clone)]
pub struct ReceivedSpan {
    /// `service.name` of the resource.
    pub service: String,
    /// The span as OTLP JSON (traceId, spanId, parentSpanId, name, kind, times, attributes, status).
    pub span: Value,
}

impl ReceivedSpan {
    /// A string field of the span (`traceId`, `spanId`, `parentSpanId`, `name`).
    pub fn field(&self, name: &str) -> &str {
        self.span[name].as_str().unwrap_or("")
    }

    /// The value of attribute `key`, as OTLP JSON writes it (`{"stringValue": ..}`, `{"intValue": ..}`).
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        self.span["attributes"].as_array()?.iter().find(|a| a["key"] == key).map(|a| &a["value"])
    }

    /// A time field (`startTimeUnixNano`, `endTimeUnixNano`), in nanoseconds.
    pub fn nanos(&self, name: &str) -> u128 {
        self.field(name).parse().unwrap_or_else(|_| panic!("{name} is not a number: {}", self.span))
    }
}

/// A collector process; stopped when dropped.
pub struct Collector {
    child: Child,
    /// The base URL of its OTLP/HTTP receiver (what `OTEL_EXPORTER_OTLP_ENDPOINT` takes).
    pub endpoint: String,
    dir: PathBuf,
}

impl Collector {
    /// Starts the collector and waits until its receiver answers.
    pub async fn start() -> Collector {
        let binary = crate::tool_cache().join("otelcol/dist/ioc-otelcol");
        assert!(
            binary.exists(),
            "{} is missing: run ops/observability/otelcol/build (ops/test does)",
            binary.display()
        );
        let dir = std::env::temp_dir().join(crate::random_name("ioc-otelcol-"));
        std::fs::create_dir_all(&dir).expect("collector directory");
        let port = crate::process::free_port();
        let config = format!(
            "receivers:\n  otlp:\n    protocols:\n      http:\n        endpoint: 127.0.0.1:{port}\n\
             exporters:\n  file:\n    path: {}\n    flush_interval: 100ms\n\
             service:\n  telemetry:\n    metrics:\n      level: none\n  pipelines:\n    traces:\n      \
             receivers: [otlp]\n      exporters: [file]\n",
            dir.join("spans.jsonl").display()
        );
        std::fs::write(dir.join("config.yaml"), config).expect("collector config");
        let args = [format!("--config=file:{}", dir.join("config.yaml").display())];
        let child = crate::process::spawn_logged(&binary, &args, &dir.join("collector.log"));
        let collector = Collector { child, endpoint: format!("http://127.0.0.1:{port}"), dir };
        let started = Instant::now();
        // The receiver answers a GET on its traces path with 405 once it listens.
        while reqwest::get(format!("{}/v1/traces", collector.endpoint)).await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the collector did not start listening; see {}",
                collector.log_path().display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        collector
    }

    /// Where the collector logs.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("collector.log")
    }

    /// Every span written so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        let text = std::fs::read_to_string(self.dir.join("spans.jsonl")).unwrap_or_default();
        let mut spans = Vec::new();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let request: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("the collector wrote a line that is not JSON ({e})"));
            for resource in request["resourceSpans"].as_array().into_iter().flatten() {
                let service = resource["resource"]["attributes"]
                    .as_array()
                    .and_then(|attributes| attributes.iter().find(|a| a["key"] == "service.name"))
                    .and_then(|a| a["value"]["stringValue"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                    for span in scope["spans"].as_array().into_iter().flatten() {
                        spans.push(ReceivedSpan { service: service.clone(), span: span.clone() });
                    }
                }
            }
        }
        spans
    }

    /// Waits until `found` accepts the spans written so far (up to `timeout`); the last spans seen.
    pub async fn wait_for(&self, timeout: Duration, found: impl Fn(&[ReceivedSpan]) -> bool) -> Vec<ReceivedSpan> {
        let started = Instant::now();
        loop {
            let spans = self.spans();
            if found(&spans) || started.elapsed() > timeout {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Kept after a failure: its log and spans say what the collector saw.
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
