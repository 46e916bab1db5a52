//! A current ClickHouse engine for the tests: chdb (ClickHouse as a library, from PyPI) behind
//! ops/chdb/server.py, which speaks the part of ClickHouse's HTTP interface the services use
//! and logs every statement they send. The local server is ClickHouse 18.16; production runs
//! a current release, so the services' SQL must hold on both.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// The adapter process; killed when dropped.
pub struct CurrentEngine {
    /// Its HTTP address, e.g. `http://127.0.0.1:40123`.
    pub url: String,
    /// The statement log: one JSON object per statement received.
    pub log: PathBuf,
    /// Its first line: the chdb and engine versions.
    pub banner: String,
    child: Child,
    _data: TempDir,
}

impl CurrentEngine {
    /// Installs chdb if needed (`ops/chdb/setup`, into the cache folder) and starts the adapter
    /// on a free loopback port.
    pub fn start() -> CurrentEngine {
        let root = crate::repo_root();
        let setup =
            Command::new(root.join("ops/chdb/setup")).stderr(Stdio::inherit()).output().expect("ops/chdb/setup runs");
        assert!(setup.status.success(), "ops/chdb/setup failed (it installs chdb from PyPI); see its output above");
        let python = String::from_utf8_lossy(&setup.stdout).lines().last().unwrap_or_default().trim().to_owned();
        let data = TempDir::new();
        let log = data.0.join("statements.jsonl");
        let mut child = Command::new(&python)
            .arg(root.join("ops/chdb/server.py"))
            .args(["--port", "0", "--data-dir"])
            .arg(data.0.join("engine"))
            .arg("--log")
            .arg(&log)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the chdb adapter starts");
        let stdout = child.stdout.take().expect("adapter stdout");
        let mut banner = String::new();
        BufReader::new(stdout).read_line(&mut banner).expect("the adapter prints its address");
        let url = banner
            .split_whitespace()
            .find(|word| word.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no address in the adapter's first line: {banner}"))
            .to_owned();
        CurrentEngine { url, log, banner: banner.trim().to_owned(), child, _data: data }
    }

    /// Every statement the adapter received, as logged: (statement, whether it ran, error).
    pub fn statements(&self) -> Vec<(String, bool, Option<String>)> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .map(|entry| {
                (
                    entry["statement"].as_str().unwrap_or_default().to_owned(),
                    entry["ok"].as_bool().unwrap_or(false),
                    entry["error"].as_str().map(str::to_owned),
                )
            })
            .collect()
    }
}

impl Drop for CurrentEngine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A folder under the system's temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let path = std::env::temp_dir().join(crate::random_name("ioc-chdb-"));
        std::fs::create_dir_all(&path).expect("temporary folder");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
