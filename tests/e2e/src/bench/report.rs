//! One benchmark measure and the files the harness writes: BENCHMARKS.json (`{"machine",
//! "results": [...]}`, the contract of issue 12) and the Markdown table for BENCHMARKS.md.
//! Each run of a harness binary merges its measures into the JSON by name, so the parts of
//! `ops/bench` can run separately.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// One measured figure, beside its anchor when it has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measure {
    /// Stable name, e.g. `ingest_vs_kcat`.
    pub name: String,
    /// What `pipeline` and `anchor` count, e.g. `events per CPU-second`.
    pub unit: String,
    /// The pipeline's figure.
    pub pipeline: f64,
    /// The raw tool's figure on the same work, when there is one.
    pub anchor: Option<f64>,
    /// `pipeline / anchor`.
    pub ratio: Option<f64>,
    /// The condition the figure should meet: `pipeline <= 50` or `ratio >= 0.5`.
    pub goal: String,
    /// How it was measured and what limited it.
    pub note: String,
}

impl Measure {
    /// A figure compared with an anchor: the ratio is computed here.
    pub fn compared(name: &str, unit: &str, pipeline: f64, anchor: f64, goal: &str, note: String) -> Measure {
        let ratio = (anchor > 0.0).then(|| pipeline / anchor);
        Measure { name: name.into(), unit: unit.into(), pipeline, anchor: Some(anchor), ratio, goal: goal.into(), note }
    }

    /// A figure on its own.
    pub fn alone(name: &str, unit: &str, pipeline: f64, goal: &str, note: String) -> Measure {
        Measure { name: name.into(), unit: unit.into(), pipeline, anchor: None, ratio: None, goal: goal.into(), note }
    }

    /// Whether the goal is met; `None` when the goal cannot be read or its field is missing.
    pub fn goal_met(&self) -> Option<bool> {
        let mut words = self.goal.split_whitespace();
        let value = match words.next()? {
            "pipeline" => self.pipeline,
            "ratio" => self.ratio?,
            _ => return None,
        };
        let operator = words.next()?;
        let bound: f64 = words.next()?.parse().ok()?;
        if words.next().is_some() {
            return None;
        }
        match operator {
            ">=" => Some(value >= bound),
            "<=" => Some(value <= bound),
            _ => None,
        }
    }
}

/// The content of BENCHMARKS.json.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Results {
    /// The machine and engine versions the figures were taken on.
    pub machine: String,
    /// Every measure, in the order first written.
    pub results: Vec<Measure>,
}

/// Merges `measures` into the JSON file at `path` (created if missing): a measure replaces the
/// one of the same name. `machine` replaces the file's description of the machine.
pub fn record(path: &Path, machine: &str, measures: &[Measure]) -> anyhow::Result<Results> {
    let mut results = match std::fs::read_to_string(path) {
        Ok(text) => {
            serde_json::from_str::<Results>(&text).with_context(|| format!("{} is not results", path.display()))?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Results::default(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    results.machine = merge_machine(&results.machine, machine);
    for measure in measures {
        match results.results.iter_mut().find(|m| m.name == measure.name) {
            Some(old) => *old = measure.clone(),
            None => results.results.push(measure.clone()),
        }
    }
    std::fs::write(path, serde_json::to_string_pretty(&results)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(results)
}

/// Where a benchmark program writes its figures (its `--json` and `--markdown` options).
#[derive(Debug, Clone, clap::Args)]
pub struct Outputs {
    /// The results file to merge the figures into.
    #[arg(long, default_value = "BENCHMARKS.json")]
    pub json: PathBuf,
    /// Also rewrite the generated section of this Markdown file with every figure of `--json`.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
}

impl Outputs {
    /// `publish` into these files.
    pub fn publish(&self, engines: &str, measures: &[Measure]) -> anyhow::Result<String> {
        publish(&self.json, self.markdown.as_deref(), engines, measures)
    }
}

/// Merges `measures` into the results file `json` (machine line: `engines` on this machine),
/// rewrites the generated table of `markdown` when given, and returns the table.
pub fn publish(json: &Path, markdown: Option<&Path>, engines: &str, measures: &[Measure]) -> anyhow::Result<String> {
    let results = record(json, &machine_line(engines), measures)?;
    let table = self::markdown(&results);
    if let Some(markdown) = markdown {
        write_section(markdown, &table)?;
    }
    Ok(table)
}

/// The machine line of a new run, keeping the parts of the old one it does not mention: each
/// program knows the versions of the tools it used (kcat only in ioc_bench_pipeline), and a
/// part names its tool first ("ClickHouse 18.16.1").
fn merge_machine(old: &str, new: &str) -> String {
    let mut parts: Vec<&str> = new.split("; ").collect();
    let first_word = |part: &str| part.split_whitespace().next().unwrap_or_default().to_owned();
    for part in old.split("; ").filter(|p| !p.is_empty()) {
        if !parts.iter().any(|p| first_word(p) == first_word(part)) {
            parts.push(part);
        }
    }
    parts.join("; ")
}

/// The results as a Markdown table, one row per measure.
pub fn markdown(results: &Results) -> String {
    let mut text = format!(
        "Machine: {}\n\n| measure | unit | pipeline | anchor | ratio | goal | met | how, and what limited it |\n\
         |---|---|---:|---:|---:|---|---|---|\n",
        results.machine
    );
    let figure = |value: Option<f64>| value.map(|v| format!("{}", round(v))).unwrap_or_else(|| "-".into());
    for m in &results.results {
        let met = match m.goal_met() {
            Some(true) => "yes",
            Some(false) => "no",
            None => "?",
        };
        let _ = writeln!(
            text,
            "| `{}` | {} | {} | {} | {} | `{}` | {met} | {} |",
            m.name,
            m.unit,
            round(m.pipeline),
            figure(m.anchor),
            figure(m.ratio),
            m.goal,
            m.note.replace('|', "/")
        );
    }
    text
}

/// The markers around the generated table in a Markdown file (BENCHMARKS.md).
pub const SECTION: (&str, &str) = ("<!-- benchmarks:begin (written by ops/bench) -->", "<!-- benchmarks:end -->");

/// Replaces what lies between the [`SECTION`] markers of the Markdown file at `path` with `table`.
pub fn write_section(path: &Path, table: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let (begin, end) = SECTION;
    let (Some(from), Some(to)) = (text.find(begin), text.find(end)) else {
        anyhow::bail!(
            "{} has no generated section: add the lines `{begin}` and `{end}` where the table goes",
            path.display()
        );
    };
    anyhow::ensure!(from < to, "{}: `{end}` comes before `{begin}`", path.display());
    let updated = format!("{}{begin}\n{table}{}", &text[..from], &text[to..]);
    std::fs::write(path, updated).with_context(|| format!("writing {}", path.display()))
}

/// Three significant figures at most, so the table reads at a glance.
fn round(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let digits = 3 - value.abs().log10().floor() as i32 - 1;
    let scale = 10_f64.powi(digits.max(0));
    (value * scale).round() / scale
}

/// One line on the machine: cores, memory, kernel; the engines' versions are added by callers.
pub fn machine_line(extra: &str) -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            text.lines().next().and_then(|l| l.split_whitespace().nth(1)).and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0 / 1024.0)
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} cores, {memory_gib:.0} GiB, Linux {}; {extra}", kernel.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goals_read_their_field_operator_and_bound() {
        let m = Measure::compared("x", "u", 30.0, 100.0, "ratio >= 0.5", String::new());
        assert_eq!(m.ratio, Some(0.3));
        assert_eq!(m.goal_met(), Some(false));
        let m = Measure::compared("x", "u", 60.0, 100.0, "ratio >= 0.5", String::new());
        assert_eq!(m.goal_met(), Some(true));
        let m = Measure::alone("x", "ms", 50.0, "pipeline <= 50", String::new());
        assert_eq!(m.goal_met(), Some(true));
        let m = Measure::alone("x", "ms", 50.1, "pipeline <= 50", String::new());
        assert_eq!(m.goal_met(), Some(false));
        assert_eq!(Measure::alone("x", "ms", 1.0, "ratio >= 1", String::new()).goal_met(), None);
        assert_eq!(Measure::alone("x", "ms", 1.0, "pipeline == 1", String::new()).goal_met(), None);
        assert_eq!(Measure::alone("x", "ms", 1.0, "pipeline <= 1 or so", String::new()).goal_met(), None);
    }

    #[test]
    fn recording_replaces_a_measure_by_name_and_keeps_the_others() {
        let path = std::env::temp_dir().join(format!("bench-{}.json", uuid::Uuid::new_v4()));
        let first = [
            Measure::alone("a", "ms", 1.0, "pipeline <= 2", "first".into()),
            Measure::alone("b", "ms", 5.0, "pipeline <= 2", "first".into()),
        ];
        record(&path, "2 cores; kcat 1", &first).expect("written");
        let results =
            record(&path, "2 cores; ClickHouse 2", &[Measure::alone("a", "ms", 3.0, "pipeline <= 2", "second".into())])
                .expect("merged");
        std::fs::remove_file(&path).expect("removed");
        assert_eq!(results.machine, "2 cores; ClickHouse 2; kcat 1");
        let names: Vec<_> = results.results.iter().map(|m| (m.name.as_str(), m.pipeline)).collect();
        assert_eq!(names, [("a", 3.0), ("b", 5.0)]);
        let table = markdown(&results);
        assert!(table.contains("| `a` | ms | 3 | - | - | `pipeline <= 2` | no | second |"), "{table}");
    }

    #[test]
    fn the_generated_section_is_replaced_and_the_prose_around_it_kept() {
        let path = std::env::temp_dir().join(format!("bench-{}.md", uuid::Uuid::new_v4()));
        let (begin, end) = SECTION;
        std::fs::write(&path, format!("# Before\n{begin}\nold table\n{end}\nAfter\n")).expect("written");
        write_section(&path, "new table\n").expect("replaced");
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, "no markers\n").expect("written");
        let error = write_section(&path, "x").expect_err("no markers");
        std::fs::remove_file(&path).expect("removed");
        assert_eq!(text, format!("# Before\n{begin}\nnew table\n{end}\nAfter\n"));
        assert!(error.to_string().contains("no generated section"), "{error}");
    }

    #[test]
    fn the_machine_line_keeps_the_tools_a_later_program_did_not_use() {
        let old = "2 cores, 24 GiB; ClickHouse 18.16.1; kcat 1.7.1";
        assert_eq!(
            merge_machine(old, "2 cores, 24 GiB; ClickHouse 25.3"),
            "2 cores, 24 GiB; ClickHouse 25.3; kcat 1.7.1"
        );
        assert_eq!(merge_machine("", "2 cores; ClickHouse 18.16.1"), "2 cores; ClickHouse 18.16.1");
    }

    #[test]
    fn figures_keep_three_significant_digits() {
        assert_eq!(round(123_456.0), 123_456.0);
        assert_eq!(round(0.123_456), 0.123);
        assert_eq!(round(12.345_6), 12.3);
    }
}
