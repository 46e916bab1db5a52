//! Reference data under `schemas/reference/`: the province's units and the denominators of
//! the coverage indicators. Read by the migrate step (into ClickHouse) and by the simulator.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// File names of version 1 of the reference data.
pub const UNITS_FILE: &str = "units.v1.csv";
/// Denominators per unit and measure.
pub const DENOMINATORS_FILE: &str = "denominators.v1.csv";
/// The procedure catalogue.
pub const PROCEDURES_FILE: &str = "procedures.v1.csv";
/// Indicator targets and scoring thresholds per year.
pub const TARGETS_FILE: &str = "targets.v2.csv";

/// What kind of unit a code names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// A commune ("xã").
    Xa,
    /// A ward ("phường").
    Phuong,
    /// A provincial department ("sở") or provincial agency.
    Department,
}

impl UnitKind {
    /// The name used in files and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            UnitKind::Xa => "xa",
            UnitKind::Phuong => "phuong",
            UnitKind::Department => "department",
        }
    }
}

/// One unit of the province.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Unit {
    /// National five-digit code (communes, wards) or `S…` code (departments).
    pub code: String,
    /// Name without the "Xã"/"Phường" prefix.
    pub name: String,
    /// Commune, ward or department.
    pub kind: UnitKind,
    /// Pre-merger province (empty for departments).
    pub former_province: String,
}

/// The size of a population that an indicator is measured against.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Denominator {
    /// The unit.
    pub unit_code: String,
    /// `population`, `adult`, `student`, `pupil`, `worker`, `civil_servant` or `household`.
    pub measure: String,
    /// How many.
    pub value: u64,
}

/// An administrative procedure of the catalogue.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Procedure {
    /// Code in the national procedure database format (`1.001193`).
    pub code: String,
    /// Vietnamese name.
    pub name_vi: String,
    /// English name.
    pub name_en: String,
    /// Whether a fee or charge is collected (3.6 counts only these).
    #[serde(deserialize_with = "zero_or_one")]
    pub fee_bearing: bool,
    /// `full_online`, `partial_online` or `offline` (Decree 42/2022).
    pub service_level: String,
    /// Legal processing time in working days.
    pub legal_days: u16,
    /// Relative share of the province's dossiers (synthetic; used by the simulator).
    pub weight: u32,
}

/// Whether a value is a goal a text sets or a scoring threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// A goal an official text sets for the year ("mục tiêu").
    Target,
    /// The value from which a scoring index gives full marks: not a goal, and often exceeded.
    Threshold,
}

impl TargetKind {
    /// The name used in files and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Target => "target",
            TargetKind::Threshold => "threshold",
        }
    }
}

/// A value an indicator is measured against from a year on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Target {
    /// Indicator id.
    pub indicator: String,
    /// Calendar year it applies from.
    pub year: u16,
    /// A goal, or a scoring threshold.
    pub kind: TargetKind,
    /// The ratio (1 = 100%).
    pub value: f64,
    /// The text that sets it.
    pub source: String,
}

/// Every reference file, parsed.
#[derive(Debug, Clone)]
pub struct ReferenceData {
    /// Units, in file order.
    pub units: Vec<Unit>,
    /// Denominators, in file order.
    pub denominators: Vec<Denominator>,
    /// The procedure catalogue, in file order.
    pub procedures: Vec<Procedure>,
    /// Targets, in file order.
    pub targets: Vec<Target>,
}

fn zero_or_one<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    match u8::deserialize(deserializer)? {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(serde::de::Error::custom(format!("expected 0 or 1, got {other}"))),
    }
}

/// A reference file is missing or malformed.
#[derive(Debug, thiserror::Error)]
#[error("failed to read reference data {path}: {reason}")]
pub struct ReferenceError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub reason: String,
}

/// The reference files as they were when the binary was built, so a service image needs no
/// copy of the repository to load them.
const EMBEDDED: [(&str, &str); 4] = [
    (UNITS_FILE, include_str!("../../../../schemas/reference/units.v1.csv")),
    (DENOMINATORS_FILE, include_str!("../../../../schemas/reference/denominators.v1.csv")),
    (PROCEDURES_FILE, include_str!("../../../../schemas/reference/procedures.v1.csv")),
    (TARGETS_FILE, include_str!("../../../../schemas/reference/targets.v2.csv")),
];

impl ReferenceData {
    /// Reads the files from `dir` (to load data newer than the binary, or in tests) and checks
    /// them like [`ReferenceData::embedded`].
    pub fn load(dir: &Path) -> Result<Self, ReferenceError> {
        Self::parse(|name| {
            let path = dir.join(name);
            std::fs::read_to_string(&path)
                .map(|text| (path.clone(), text))
                .map_err(|e| ReferenceError { path, reason: e.to_string() })
        })
    }

    /// The files embedded in the binary (schemas/reference at build time).
    pub fn embedded() -> Result<Self, ReferenceError> {
        Self::parse(|name| {
            let text = EMBEDDED.iter().find(|(file, _)| *file == name).map_or("", |(_, text)| text);
            Ok((PathBuf::from(format!("(embedded) schemas/reference/{name}")), text.to_owned()))
        })
    }

    /// Parses the four files `read` gives (each as its path, for messages, and its text) and
    /// checks that every denominator names a known unit.
    fn parse(read: impl Fn(&str) -> Result<(PathBuf, String), ReferenceError>) -> Result<Self, ReferenceError> {
        let (units_path, units_text) = read(UNITS_FILE)?;
        let units: Vec<Unit> = read_csv(&units_path, &units_text)?;
        // An emptied file empties its table at the next load (migration 0014). With no unit,
        // every event's unit is unknown and every figure of the dashboard empty: a file cut
        // short by mistake, never the province's wish.
        if units.is_empty() {
            return Err(ReferenceError {
                path: units_path,
                reason: "the file lists no unit, and every event would count as of an unknown unit; \
                         restore the province's units (the project's schemas/reference has them)"
                    .to_owned(),
            });
        }
        let (denominators_path, denominators_text) = read(DENOMINATORS_FILE)?;
        let denominators: Vec<Denominator> = read_csv(&denominators_path, &denominators_text)?;
        if let Some(orphan) = denominators.iter().find(|d| !units.iter().any(|u| u.code == d.unit_code)) {
            return Err(ReferenceError {
                path: denominators_path,
                reason: format!("unit {} is not in {UNITS_FILE}", orphan.unit_code),
            });
        }
        let (procedures_path, procedures_text) = read(PROCEDURES_FILE)?;
        let procedures: Vec<Procedure> = read_csv(&procedures_path, &procedures_text)?;
        if let Some(bad) = procedures
            .iter()
            .find(|p| !["full_online", "partial_online", "offline"].contains(&p.service_level.as_str()))
        {
            return Err(ReferenceError {
                path: procedures_path,
                reason: format!(
                    "procedure {} has service level {:?}; use full_online, partial_online or offline",
                    bad.code, bad.service_level
                ),
            });
        }
        let (targets_path, targets_text) = read(TARGETS_FILE)?;
        let targets: Vec<Target> = read_csv(&targets_path, &targets_text)?;
        if let Some(bad) =
            targets.iter().find(|t| !(t.value > 0.0 && t.value.is_finite()) || t.source.trim().is_empty())
        {
            return Err(ReferenceError {
                path: targets_path,
                reason: format!("target of {} for {} needs a positive value and its source", bad.indicator, bad.year),
            });
        }
        Ok(ReferenceData { units, denominators, procedures, targets })
    }

    /// The denominator of `measure` for `unit_code`, if the file has one.
    pub fn denominator(&self, unit_code: &str, measure: &str) -> Option<u64> {
        self.denominators.iter().find(|d| d.unit_code == unit_code && d.measure == measure).map(|d| d.value)
    }

    /// Whether `code` names a known unit.
    pub fn has_unit(&self, code: &str) -> bool {
        self.units.iter().any(|unit| unit.code == code)
    }
}

fn read_csv<T: for<'de> Deserialize<'de>>(path: &Path, text: &str) -> Result<Vec<T>, ReferenceError> {
    let fail = |reason: String| ReferenceError { path: path.to_owned(), reason };
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader.deserialize().collect::<Result<Vec<T>, _>>().map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project_data() -> ReferenceData {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../schemas/reference");
        ReferenceData::load(&dir).expect("reference data loads")
    }

    #[test]
    fn has_the_148_commune_level_units_of_resolution_1676() {
        // 133 communes and 15 wards since 1 July 2025 (schemas/reference/README.md has the sources).
        let data = project_data();
        let communes = data.units.iter().filter(|u| u.kind == UnitKind::Xa).count();
        let wards = data.units.iter().filter(|u| u.kind == UnitKind::Phuong).count();
        assert_eq!((communes, wards), (133, 15));
        let mut codes: Vec<&str> = data.units.iter().map(|u| u.code.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), data.units.len(), "unit codes are unique");
    }

    #[test]
    fn the_embedded_files_are_the_ones_on_disk() {
        let embedded = ReferenceData::embedded().expect("embedded reference data parses");
        let on_disk = project_data();
        assert_eq!(embedded.units, on_disk.units);
        assert_eq!(embedded.denominators, on_disk.denominators);
        assert_eq!(embedded.procedures, on_disk.procedures);
        assert_eq!(embedded.targets, on_disk.targets);
    }

    #[test]
    fn a_units_file_with_its_header_only_is_refused_and_other_files_may_be_empty() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../schemas/reference");
        let header_only = |emptied: &'static str| {
            let dir = dir.clone();
            move |name: &str| -> Result<(PathBuf, String), ReferenceError> {
                let path = dir.join(name);
                let text = std::fs::read_to_string(&path).expect("reference file read");
                let text = if name == emptied { text.lines().next().unwrap_or_default().to_owned() } else { text };
                Ok((path, text))
            }
        };
        let refused = ReferenceData::parse(header_only(UNITS_FILE)).expect_err("no unit refused");
        assert!(refused.path.ends_with(UNITS_FILE) && refused.reason.contains("no unit"), "{refused}");
        let no_targets = ReferenceData::parse(header_only(TARGETS_FILE)).expect("no target is allowed");
        assert!(no_targets.targets.is_empty() && !no_targets.units.is_empty());
    }

    #[test]
    fn every_commune_level_unit_has_every_measure() {
        let data = project_data();
        for unit in data.units.iter().filter(|u| u.kind != UnitKind::Department) {
            for measure in ["population", "adult", "student", "pupil", "worker", "civil_servant", "household"] {
                assert!(data.denominator(&unit.code, measure).is_some_and(|v| v > 0), "{} {measure}", unit.code);
            }
        }
    }
}
