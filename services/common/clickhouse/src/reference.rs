//! Loads the reference files into `ref_units`, `ref_denominators`, `ref_procedures` and
//! `ref_targets`, replacing what was there in one step (migrations 0013 and 0014).

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

/// The tables a load writes; each reference table is a view of its newest complete load.
const LOAD_TABLES: [&str; 4] =
    ["ref_units_loads", "ref_denominators_loads", "ref_procedures_loads", "ref_targets_loads"];

/// What a load records besides its rows: how many it wrote to each table, then its mark.
const LOAD_RECORDS: [&str; 2] = ["ref_load_rows", "ref_loads"];

#[derive(Row, Serialize)]
struct LoadRows {
    load_id: u64,
    table_name: &'static str,
    row_count: u64,
}

#[derive(Row, Serialize)]
struct UnitRow<'a> {
    load_id: u64,
    code: &'a str,
    name: &'a str,
    kind: &'a str,
    former_province: &'a str,
}

#[derive(Row, Serialize)]
struct DenominatorRow<'a> {
    load_id: u64,
    unit_code: &'a str,
    measure: &'a str,
    value: u64,
}

#[derive(Row, Serialize)]
struct ProcedureRow<'a> {
    load_id: u64,
    code: &'a str,
    name_vi: &'a str,
    name_en: &'a str,
    fee_bearing: u8,
    service_level: &'a str,
    legal_days: u16,
}

#[derive(Row, Serialize)]
struct TargetRow<'a> {
    load_id: u64,
    indicator: &'a str,
    year: u16,
    kind: &'a str,
    target: f64,
    source: &'a str,
}

/// Replaces the contents of the reference tables with `data` in one step: a reader sees the whole
/// previous data or the whole new (migration 0013). Each table's rows go in one INSERT under a
/// new load id, then the rows written to each table are recorded in `ref_load_rows`, then the
/// load is marked complete in `ref_loads`, which switches the four views at once. Each INSERT
/// is one part (ClickHouse makes one of up to `max_insert_block_size` rows, 1,048,576; the
/// province has a few thousand), and a part appears whole; a view shows a load only once its
/// node holds as many of the load's rows as were recorded, or none were (an empty file empties
/// its table: migration 0014). A load that fails before its mark is never shown. The loads
/// before the previous one are deleted, marked or not; the previous one stays until the next
/// load, for a node that has not fetched the new rows yet (its views still find the previous
/// load whole). The previous one is the newest the views can show: marked, with its rows
/// counted (a load an older binary marked has no counts, and the views skip it).
pub async fn load_reference_data(config: &ClickHouseConfig, data: &ReferenceData) -> Result<(), ReferenceError> {
    let client = config.client();
    let write = |table| move |source| ReferenceError::Write { table, source };
    let newest =
        newest_reference_load(&client).await.map_err(|source| ReferenceError::Write { table: "ref_loads", source })?;
    let previous = client
        .query(
            "SELECT toUInt64(max(load_id)) FROM ref_loads \
             WHERE load_id IN (SELECT load_id FROM ref_load_rows)",
        )
        .fetch_one::<u64>()
        .await
        .map_err(|source| ReferenceError::Write { table: "ref_load_rows", source })?;
    // Above every load before, and distinct for two loads run at once (two `migrate` jobs): the
    // view of each table then shows one of them whole.
    let load_id = (newest + 1).max(clock_micros());

    let mut insert = client.insert::<UnitRow<'_>>("ref_units_loads").await.map_err(write("ref_units_loads"))?;
    for unit in &data.units {
        let row = UnitRow {
            load_id,
            code: &unit.code,
            name: &unit.name,
            kind: unit.kind.as_str(),
            former_province: &unit.former_province,
        };
        insert.write(&row).await.map_err(write("ref_units_loads"))?;
    }
    insert.end().await.map_err(write("ref_units_loads"))?;

    let mut insert =
        client.insert::<DenominatorRow<'_>>("ref_denominators_loads").await.map_err(write("ref_denominators_loads"))?;
    for denominator in &data.denominators {
        let row = DenominatorRow {
            load_id,
            unit_code: &denominator.unit_code,
            measure: &denominator.measure,
            value: denominator.value,
        };
        insert.write(&row).await.map_err(write("ref_denominators_loads"))?;
    }
    insert.end().await.map_err(write("ref_denominators_loads"))?;

    let mut insert =
        client.insert::<ProcedureRow<'_>>("ref_procedures_loads").await.map_err(write("ref_procedures_loads"))?;
    for procedure in &data.procedures {
        let row = ProcedureRow {
            load_id,
            code: &procedure.code,
            name_vi: &procedure.name_vi,
            name_en: &procedure.name_en,
            fee_bearing: u8::from(procedure.fee_bearing),
            service_level: &procedure.service_level,
            legal_days: procedure.legal_days,
        };
        insert.write(&row).await.map_err(write("ref_procedures_loads"))?;
    }
    insert.end().await.map_err(write("ref_procedures_loads"))?;

    let mut insert = client.insert::<TargetRow<'_>>("ref_targets_loads").await.map_err(write("ref_targets_loads"))?;
    for target in &data.targets {
        let row = TargetRow {
            load_id,
            indicator: &target.indicator,
            year: target.year,
            kind: target.kind.as_str(),
            target: target.value,
            source: &target.source,
        };
        insert.write(&row).await.map_err(write("ref_targets_loads"))?;
    }
    insert.end().await.map_err(write("ref_targets_loads"))?;

    let counts = [
        ("ref_units", data.units.len()),
        ("ref_denominators", data.denominators.len()),
        ("ref_procedures", data.procedures.len()),
        ("ref_targets", data.targets.len()),
    ];
    let mut insert = client.insert::<LoadRows>("ref_load_rows").await.map_err(write("ref_load_rows"))?;
    for (table_name, rows) in counts {
        let row = LoadRows { load_id, table_name, row_count: u64::try_from(rows).unwrap_or(u64::MAX) };
        insert.write(&row).await.map_err(write("ref_load_rows"))?;
    }
    insert.end().await.map_err(write("ref_load_rows"))?;

    let mark = format!("INSERT INTO ref_loads (load_id) VALUES ({load_id})");
    client.query(&mark).execute().await.map_err(write("ref_loads"))?;
    if previous > 0 {
        for table in LOAD_TABLES.into_iter().chain(LOAD_RECORDS) {
            // A mutation: ClickHouse rewrites the parts in the background (on every replica).
            let sql = format!("ALTER TABLE {table} DELETE WHERE load_id < {previous}");
            client.query(&sql).execute().await.map_err(write(table))?;
        }
    }
    Ok(())
}

/// The newest complete load of the reference data; 0 before the first. It changes once per
/// reload, when the four tables switch: the API keeps no answer across one (its answer cache
/// watches it).
pub async fn newest_reference_load(client: &clickhouse::Client) -> Result<u64, clickhouse::error::Error> {
    client.query("SELECT toUInt64(max(load_id)) FROM ref_loads").fetch_one().await
}

fn clock_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| u64::try_from(since.as_micros()).unwrap_or(u64::MAX))
}
