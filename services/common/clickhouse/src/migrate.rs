//! Versioned SQL migrations: `NNNN_description.sql` files applied once each, in order, and
//! recorded in `schema_migrations` with a checksum so an edited migration is caught. The files
//! of schemas/clickhouse are embedded in the binary ([`embedded_migrations`]); a folder can be
//! given instead ([`migrations_in`]). With a cluster configured, each statement is rewritten for
//! shards and replicas (cluster.rs).

use std::fs;
use std::path::{Path, PathBuf};

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{check_identifier, ClickHouseConfig};

/// A migration could not be read or applied.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The migrations folder or a file in it could not be read.
    #[error("failed to read migrations in {path}: {reason}")]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A file name does not start with a version number.
    #[error("migration file {0} must be named NNNN_description.sql")]
    BadName(String),
    /// An already applied migration's text changed.
    #[error("migration {name} was changed after it was applied (checksum differs); add a new migration instead")]
    Changed {
        /// The file.
        name: String,
    },
    /// The database name is not a plain identifier.
    #[error("invalid database name: {0}")]
    BadDatabase(String),
    /// The database holds migrations this binary does not know: it was migrated by a newer
    /// version, and this one must not run against it.
    #[error(
        "the database {database} is newer than this binary: it holds migration {name} (version {version}), which this \
         binary does not know; deploy the version that applied it (or a newer one) instead of this one"
    )]
    SchemaNewer {
        /// The database.
        database: String,
        /// The unknown migration's version.
        version: u32,
        /// Its file name, as recorded.
        name: String,
    },
    /// A migration cannot run on a cluster as written.
    #[error("migration {name} cannot run on cluster {cluster}: {reason}")]
    Cluster {
        /// The file.
        name: String,
        /// The cluster.
        cluster: String,
        /// Why.
        reason: String,
    },
    /// ClickHouse refused a statement.
    #[error("migration {name} failed: {source}")]
    Apply {
        /// The file.
        name: String,
        /// What ClickHouse said.
        source: clickhouse::error::Error,
    },
}

#[derive(Debug, Row, Serialize, Deserialize)]
struct AppliedMigration {
    version: u32,
    name: String,
    checksum: String,
    applied_at: u32,
}

/// One migration: its version, file name and SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The number its file name starts with.
    pub version: u32,
    /// The file name, e.g. `0001_events.sql`.
    pub name: String,
    /// The statements.
    pub text: String,
}

/// The migrations of schemas/clickhouse as they were when the binary was built, in order.
/// `every_migration_file_is_embedded` fails when a file there is missing here.
const EMBEDDED: &[(&str, &str)] = &[
    ("0001_events.sql", include_str!("../../../../schemas/clickhouse/0001_events.sql")),
    ("0002_reference.sql", include_str!("../../../../schemas/clickhouse/0002_reference.sql")),
    ("0003_more_event_types.sql", include_str!("../../../../schemas/clickhouse/0003_more_event_types.sql")),
    ("0004_rollups.sql", include_str!("../../../../schemas/clickhouse/0004_rollups.sql")),
    ("0005_analyst_views.sql", include_str!("../../../../schemas/clickhouse/0005_analyst_views.sql")),
    ("0006_monthly_measures.sql", include_str!("../../../../schemas/clickhouse/0006_monthly_measures.sql")),
    ("0007_official_definitions.sql", include_str!("../../../../schemas/clickhouse/0007_official_definitions.sql")),
    ("0008_rollup_activity.sql", include_str!("../../../../schemas/clickhouse/0008_rollup_activity.sql")),
    ("0009_kafka_positions.sql", include_str!("../../../../schemas/clickhouse/0009_kafka_positions.sql")),
    ("0010_event_offsets.sql", include_str!("../../../../schemas/clickhouse/0010_event_offsets.sql")),
    ("0011_rollup_rules.sql", include_str!("../../../../schemas/clickhouse/0011_rollup_rules.sql")),
    ("0012_one_row_per_dossier.sql", include_str!("../../../../schemas/clickhouse/0012_one_row_per_dossier.sql")),
    ("0013_reference_loads.sql", include_str!("../../../../schemas/clickhouse/0013_reference_loads.sql")),
    ("0014_reference_load_rows.sql", include_str!("../../../../schemas/clickhouse/0014_reference_load_rows.sql")),
    ("0015_event_lines.sql", include_str!("../../../../schemas/clickhouse/0015_event_lines.sql")),
    ("0016_dossier_facts_by_bound.sql", include_str!("../../../../schemas/clickhouse/0016_dossier_facts_by_bound.sql")),
    ("0017_training_milestones.sql", include_str!("../../../../schemas/clickhouse/0017_training_milestones.sql")),
];

/// The migrations embedded in the binary.
pub fn embedded_migrations() -> Vec<Migration> {
    EMBEDDED
        .iter()
        .map(|(name, text)| Migration {
            version: version_of(name).unwrap_or(0),
            name: (*name).to_owned(),
            text: (*text).to_owned(),
        })
        .collect()
}

fn version_of(name: &str) -> Option<u32> {
    name.split('_').next().and_then(|prefix| prefix.parse::<u32>().ok())
}

/// Creates the database if needed and applies every one of `migrations` not applied yet, in
/// order; refuses when a migration was edited after it was applied, or when the database holds
/// a migration `migrations` does not have (a newer binary migrated it). Returns the names of the
/// migrations it applied.
pub async fn migrate(config: &ClickHouseConfig, migrations: &[Migration]) -> Result<Vec<String>, MigrationError> {
    check_identifier(&config.database).map_err(MigrationError::BadDatabase)?;
    let cluster = config.cluster.as_deref();
    if let Some(cluster) = cluster {
        check_identifier(cluster).map_err(|e| MigrationError::BadDatabase(format!("cluster: {e}")))?;
    }
    let server = config.server_client();
    let apply = |name: &str, source| MigrationError::Apply { name: name.to_owned(), source };
    let on_cluster = cluster.map(|c| format!(" ON CLUSTER {c}")).unwrap_or_default();
    server
        .query(&format!("CREATE DATABASE IF NOT EXISTS {}{on_cluster}", config.database))
        .execute()
        .await
        .map_err(|e| apply("create database", e))?;
    let client = match cluster {
        Some(_) => config
            .client()
            .with_setting(crate::cluster::REPLICATED_ALTER_WAIT.0, crate::cluster::REPLICATED_ALTER_WAIT.1),
        None => config.client(),
    };
    let log = "CREATE TABLE IF NOT EXISTS schema_migrations \
               (version UInt32, name String, checksum String, applied_at DateTime) \
               ENGINE = MergeTree ORDER BY version";
    for statement in for_cluster("schema_migrations", log, config)? {
        client.query(&statement).execute().await.map_err(|e| apply("schema_migrations", e))?;
    }
    let applied: Vec<AppliedMigration> = client
        .query("SELECT version, name, checksum, toUInt32(applied_at) FROM schema_migrations ORDER BY version")
        .fetch_all()
        .await
        .map_err(|e| apply("schema_migrations", e))?;
    if let Some(unknown) = applied.iter().find(|done| !migrations.iter().any(|m| m.version == done.version)) {
        return Err(MigrationError::SchemaNewer {
            database: config.database.clone(),
            version: unknown.version,
            name: unknown.name.clone(),
        });
    }

    let mut newly_applied = Vec::new();
    for file in migrations {
        let checksum = hex::encode(Sha256::digest(file.text.as_bytes()));
        if let Some(done) = applied.iter().find(|done| done.version == file.version) {
            if done.checksum != checksum {
                return Err(MigrationError::Changed { name: file.name.clone() });
            }
            continue;
        }
        for statement in statements(&file.text) {
            for rewritten in for_cluster(&file.name, statement, config)? {
                client.query(&rewritten).execute().await.map_err(|e| apply(&file.name, e))?;
            }
        }
        let mut insert =
            client.insert::<AppliedMigration>("schema_migrations").await.map_err(|e| apply(&file.name, e))?;
        let applied_at = u32::try_from(chrono::Utc::now().timestamp()).unwrap_or(u32::MAX);
        insert
            .write(&AppliedMigration { version: file.version, name: file.name.clone(), checksum, applied_at })
            .await
            .map_err(|e| apply(&file.name, e))?;
        insert.end().await.map_err(|e| apply(&file.name, e))?;
        tracing::info!(migration = %file.name, database = %config.database, "applied migration");
        newly_applied.push(file.name.clone());
    }
    Ok(newly_applied)
}

/// `statement` as it runs on the configured ClickHouse: as written on one server, rewritten for
/// shards and replicas on a cluster.
fn for_cluster(name: &str, statement: &str, config: &ClickHouseConfig) -> Result<Vec<String>, MigrationError> {
    match &config.cluster {
        None => Ok(vec![statement.to_owned()]),
        Some(cluster) => crate::cluster::rewrite(statement, cluster, &config.database)
            .map_err(|reason| MigrationError::Cluster { name: name.to_owned(), cluster: cluster.clone(), reason }),
    }
}

/// The migrations in `dir` (`NNNN_description.sql`), in order.
pub fn migrations_in(dir: &Path) -> Result<Vec<Migration>, MigrationError> {
    let read_error =
        |path: &Path, e: std::io::Error| MigrationError::Read { path: path.to_owned(), reason: e.to_string() };
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| read_error(dir, e))? {
        let path = entry.map_err(|e| read_error(dir, e))?.path();
        if path.extension().is_none_or(|ext| ext != "sql") {
            continue;
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let version = version_of(&name).ok_or_else(|| MigrationError::BadName(name.clone()))?;
        let text = fs::read_to_string(&path).map_err(|e| read_error(&path, e))?;
        files.push(Migration { version, name, text });
    }
    files.sort_by_key(|file| file.version);
    if let Some(pair) = files.windows(2).find(|pair| pair[0].version == pair[1].version) {
        return Err(MigrationError::BadName(format!("{} and {} share a version", pair[0].name, pair[1].name)));
    }
    Ok(files)
}

/// Splits a migration into statements: they end with `;` at the end of a line. `--` comment
/// lines are dropped.
pub(crate) fn statements(text: &str) -> Vec<&str> {
    text.split(";\n")
        .chain(std::iter::once(""))
        .map(|chunk| chunk.trim().trim_end_matches(';').trim())
        .filter(|chunk| chunk.lines().any(|line| !line.trim().is_empty() && !line.trim_start().starts_with("--")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_statements_and_skips_comment_only_chunks() {
        let text = "-- header\nCREATE TABLE a (x UInt8) ENGINE = Memory;\n\n-- only a comment;\nSELECT 1;\n";
        let found = statements(text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].ends_with("ENGINE = Memory"));
        assert_eq!(found[1], "SELECT 1");
    }

    #[test]
    fn every_migration_file_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../schemas/clickhouse");
        assert_eq!(migrations_in(&dir).expect("migrations readable"), embedded_migrations());
    }

    #[test]
    fn project_migrations_are_well_named_and_ordered() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../schemas/clickhouse");
        let files = migrations_in(&dir).expect("migrations readable");
        assert!(!files.is_empty());
        for (index, file) in files.iter().enumerate() {
            assert_eq!(file.version as usize, index + 1, "{} breaks the sequence", file.name);
        }
    }
}
