//! Versioned SQL migrations: `NNNN_description.sql` files applied once each, in order, and
//! recorded in `schema_migrations` with a checksum so an edited migration is caught.

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

struct MigrationFile {
    version: u32,
    name: String,
    text: String,
}

/// Creates the database if needed and applies every migration in `dir` not applied yet.
/// Returns the names of the migrations it applied.
pub async fn migrate(config: &ClickHouseConfig, dir: &Path) -> Result<Vec<String>, MigrationError> {
    check_identifier(&config.database).map_err(MigrationError::BadDatabase)?;
    let files = read_migrations(dir)?;
    let server = config.server_client();
    let apply = |name: &str, source| MigrationError::Apply { name: name.to_owned(), source };
    server
        .query(&format!("CREATE DATABASE IF NOT EXISTS {}", config.database))
        .execute()
        .await
        .map_err(|e| apply("create database", e))?;
    let client = config.client();
    client
        .query(
            "CREATE TABLE IF NOT EXISTS schema_migrations \
             (version UInt32, name String, checksum String, applied_at DateTime) \
             ENGINE = MergeTree ORDER BY version",
        )
        .execute()
        .await
        .map_err(|e| apply("schema_migrations", e))?;
    let applied: Vec<AppliedMigration> = client
        .query("SELECT version, name, checksum, toUInt32(applied_at) FROM schema_migrations ORDER BY version")
        .fetch_all()
        .await
        .map_err(|e| apply("schema_migrations", e))?;

    let mut newly_applied = Vec::new();
    for file in files {
        let checksum = hex::encode(Sha256::digest(file.text.as_bytes()));
        if let Some(done) = applied.iter().find(|done| done.version == file.version) {
            if done.checksum != checksum {
                return Err(MigrationError::Changed { name: file.name });
            }
            continue;
        }
        for statement in statements(&file.text) {
            client.query(statement).execute().await.map_err(|e| apply(&file.name, e))?;
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
        newly_applied.push(file.name);
    }
    Ok(newly_applied)
}

fn read_migrations(dir: &Path) -> Result<Vec<MigrationFile>, MigrationError> {
    let read_error =
        |path: &Path, e: std::io::Error| MigrationError::Read { path: path.to_owned(), reason: e.to_string() };
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| read_error(dir, e))? {
        let path = entry.map_err(|e| read_error(dir, e))?.path();
        if path.extension().is_none_or(|ext| ext != "sql") {
            continue;
        }
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let version = name
            .split('_')
            .next()
            .and_then(|prefix| prefix.parse::<u32>().ok())
            .ok_or_else(|| MigrationError::BadName(name.clone()))?;
        let text = fs::read_to_string(&path).map_err(|e| read_error(&path, e))?;
        files.push(MigrationFile { version, name, text });
    }
    files.sort_by_key(|file| file.version);
    if let Some(pair) = files.windows(2).find(|pair| pair[0].version == pair[1].version) {
        return Err(MigrationError::BadName(format!("{} and {} share a version", pair[0].name, pair[1].name)));
    }
    Ok(files)
}

/// Splits a migration into statements: they end with `;` at the end of a line. `--` comment
/// lines are dropped.
fn statements(text: &str) -> Vec<&str> {
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
    fn project_migrations_are_well_named_and_ordered() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../schemas/clickhouse");
        let files = read_migrations(&dir).expect("migrations readable");
        assert!(!files.is_empty());
        for (index, file) in files.iter().enumerate() {
            assert_eq!(file.version as usize, index + 1, "{} breaks the sequence", file.name);
        }
    }
}
