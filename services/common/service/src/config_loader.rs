//! Typed configuration: defaults in the struct, then an optional file, then environment variables.

use std::path::Path;

use serde::de::DeserializeOwned;

/// A configuration that could not be read or does not make sense.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file, an environment variable or a value could not be read into the typed struct.
    #[error("failed to read configuration: {0}")]
    Read(#[from] config::ConfigError),
    /// The values were read but break a rule (e.g. a missing key); the message says which.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Loads a service's configuration.
///
/// Values come from the struct's serde defaults, then `file` (TOML) when given, then environment
/// variables named `{env_prefix}__SECTION__FIELD` (e.g. `IOC_INGEST__KAFKA__BROKERS`).
/// `list_keys` names the settings whose environment value is a comma-separated list.
pub fn load_config<T: DeserializeOwned>(
    env_prefix: &str,
    file: Option<&Path>,
    list_keys: &[&str],
) -> Result<T, ConfigError> {
    let mut builder = config::Config::builder();
    if let Some(file) = file {
        if !file.exists() {
            return Err(ConfigError::Invalid(format!("config file {} does not exist", file.display())));
        }
        builder = builder.add_source(config::File::from(file).format(config::FileFormat::Toml));
    }
    let mut environment =
        config::Environment::with_prefix(env_prefix).prefix_separator("__").separator("__").try_parsing(true);
    if !list_keys.is_empty() {
        environment = environment.list_separator(",");
        for key in list_keys {
            environment = environment.with_list_parse_key(key);
        }
    }
    builder = builder.add_source(environment);
    Ok(builder.build()?.try_deserialize()?)
}
