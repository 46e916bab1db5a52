//! Loads the reference files into `ref_units` and `ref_denominators`, replacing what was there.

use std::path::Path;

use clickhouse::Row;
use ioc_reference::ReferenceData;
use serde::Serialize;

use crate::ClickHouseConfig;

/// Reference data could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// A file is missing or malformed.
    #[error(transparent)]
    Read(#[from] ioc_reference::ReferenceError),
    /// ClickHouse refused the load.
    #[error("failed to load reference table {table}: {source}")]
    Write {
        /// The table.
        table: &'static str,
        /// What ClickHouse said.
        source: clickhouse::error::Error,
    },
}

#[derive(Row, Serialize)]
struct UnitRow<'a> {
    code: &'a str,
    name: &'a str,
    kind: &'a str,
    former_province: &'a str,
}

#[derive(Row, Serialize)]
struct DenominatorRow<'a> {
    unit_code: &'a str,
    measure: &'a str,
    value: u64,
}

/// Replaces the contents of the reference tables with the files in `dir`.
pub async fn load_reference_data(config: &ClickHouseConfig, dir: &Path) -> Result<ReferenceData, ReferenceError> {
    let data = ReferenceData::load(dir)?;
    let client = config.client();
    let write = |table| move |source| ReferenceError::Write { table, source };

    client.query("TRUNCATE TABLE ref_units").execute().await.map_err(write("ref_units"))?;
    let mut insert = client.insert::<UnitRow<'_>>("ref_units").await.map_err(write("ref_units"))?;
    for unit in &data.units {
        let row = UnitRow {
            code: &unit.code,
            name: &unit.name,
            kind: unit.kind.as_str(),
            former_province: &unit.former_province,
        };
        insert.write(&row).await.map_err(write("ref_units"))?;
    }
    insert.end().await.map_err(write("ref_units"))?;

    client.query("TRUNCATE TABLE ref_denominators").execute().await.map_err(write("ref_denominators"))?;
    let mut insert =
        client.insert::<DenominatorRow<'_>>("ref_denominators").await.map_err(write("ref_denominators"))?;
    for denominator in &data.denominators {
        let row = DenominatorRow {
            unit_code: &denominator.unit_code,
            measure: &denominator.measure,
            value: denominator.value,
        };
        insert.write(&row).await.map_err(write("ref_denominators"))?;
    }
    insert.end().await.map_err(write("ref_denominators"))?;
    Ok(data)
}
