//! Loads the reference files into `ref_units`, `ref_denominators`, `ref_procedures` and
//! `ref_targets`, replacing what was there.

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

#[derive(Row, Serialize)]
struct ProcedureRow<'a> {
    code: &'a str,
    name_vi: &'a str,
    name_en: &'a str,
    fee_bearing: u8,
    service_level: &'a str,
    legal_days: u16,
}

#[derive(Row, Serialize)]
struct TargetRow<'a> {
    indicator: &'a str,
    year: u16,
    kind: &'a str,
    target: f64,
    source: &'a str,
}

/// Replaces the contents of the reference tables with `data`.
pub async fn load_reference_data(config: &ClickHouseConfig, data: &ReferenceData) -> Result<(), ReferenceError> {
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

    client.query("TRUNCATE TABLE ref_procedures").execute().await.map_err(write("ref_procedures"))?;
    let mut insert = client.insert::<ProcedureRow<'_>>("ref_procedures").await.map_err(write("ref_procedures"))?;
    for procedure in &data.procedures {
        let row = ProcedureRow {
            code: &procedure.code,
            name_vi: &procedure.name_vi,
            name_en: &procedure.name_en,
            fee_bearing: u8::from(procedure.fee_bearing),
            service_level: &procedure.service_level,
            legal_days: procedure.legal_days,
        };
        insert.write(&row).await.map_err(write("ref_procedures"))?;
    }
    insert.end().await.map_err(write("ref_procedures"))?;

    client.query("TRUNCATE TABLE ref_targets").execute().await.map_err(write("ref_targets"))?;
    let mut insert = client.insert::<TargetRow<'_>>("ref_targets").await.map_err(write("ref_targets"))?;
    for target in &data.targets {
        let row = TargetRow {
            indicator: &target.indicator,
            year: target.year,
            kind: target.kind.as_str(),
            target: target.value,
            source: &target.source,
        };
        insert.write(&row).await.map_err(write("ref_targets"))?;
    }
    insert.end().await.map_err(write("ref_targets"))?;
    Ok(())
}
