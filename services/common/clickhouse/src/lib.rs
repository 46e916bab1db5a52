//! ClickHouse access shared by the processor and the API: client set-up, readiness, and the
//! versioned migrations and reference data under `schemas/`.

pub mod cluster;
mod migrate;
mod reference;

use serde::Deserialize;

pub use migrate::{embedded_migrations, migrate, migrations_in, Migration, MigrationError};
pub use reference::{load_reference_data, newest_reference_load, ReferenceError};

use ioc_service::Secret;

/// How to reach ClickHouse.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClickHouseConfig {
    /// HTTP endpoint, e.g. `http://127.0.0.1:8123`.
    pub url: String,
    /// Database holding the pipeline's tables; tests use a random one.
    pub database: String,
    /// User name.
    pub user: String,
    /// Password (never logged).
    pub password: Secret,
    /// The cluster (a `remote_servers` entry) when ClickHouse runs as shards and replicas;
    /// unset for one server. Migrations then run `ON CLUSTER`, events are written through
    /// `Distributed` tables and the rollup reads through them (services/common/clickhouse/src/cluster.rs).
    pub cluster: Option<String>,
    /// On a cluster, how many replicas of a shard must have an insert before it is acknowledged
    /// (ClickHouse's `insert_quorum`): 2 means an acknowledged event survives the loss of a
    /// replica and is visible on every replica the rollup may read, at the price of refusing
    /// inserts while a shard has fewer replicas up. 0: the receiving replica only.
    pub insert_quorum: u32,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            url: "http://127.0.0.1:8123".into(),
            database: "ioc".into(),
            user: "default".into(),
            password: Secret::default(),
            cluster: None,
            insert_quorum: 0,
        }
    }
}

impl ClickHouseConfig {
    /// A client bound to the configured database.
    ///
    /// Validation is off because ClickHouse 18.16 (the local stack) lacks the
    /// `RowBinaryWithNamesAndTypes` format the crate validates with; the row structs are
    /// checked against the tables by the service tests instead.
    pub fn client(&self) -> clickhouse::Client {
        self.server_client().with_database(&self.database)
    }

    /// The settings every statement needs on a cluster: inserts into `Distributed` tables reach
    /// the shards before they are acknowledged (so offsets are committed only after that), and
    /// `IN (SELECT ...)` over a `Distributed` table reads the whole cluster (`GLOBAL`).
    fn cluster_options(&self, client: clickhouse::Client) -> clickhouse::Client {
        match self.cluster {
            None => client,
            Some(_) => {
                let client = client
                    .with_setting("insert_distributed_sync", "1")
                    .with_setting("distributed_product_mode", "global");
                if self.insert_quorum > 0 {
                    client.with_setting("insert_quorum", self.insert_quorum.to_string())
                } else {
                    client
                }
            }
        }
    }

    /// A client bound to the configured database whose connections give up after
    /// `connect_timeout`: the crate's own client has none, so a node that drops packets (a
    /// rebuilt pod's old address) held each attempt for minutes, and whatever moves on to
    /// another node after a failure never did (the processor's rollup, rollup/nodes.rs).
    /// tests/connect_timeout.rs checks it against an address that drops connection attempts.
    pub fn client_connecting_within(&self, connect_timeout: std::time::Duration) -> clickhouse::Client {
        use hyper_util::client::legacy::{connect::HttpConnector, Client};
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(connect_timeout));
        // As the crate's own client: TCP keep-alive, and idle connections closed before
        // ClickHouse's own keep-alive timeout (3 s) closes them.
        connector.set_keepalive(Some(std::time::Duration::from_secs(60)));
        let http = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(std::time::Duration::from_secs(2))
            .build(connector);
        self.configured(clickhouse::Client::with_http_client(http)).with_database(&self.database)
    }

    /// A client with no database selected, for creating and dropping databases.
    pub fn server_client(&self) -> clickhouse::Client {
        self.configured(clickhouse::Client::default())
    }

    /// `client` with this configuration's address, account and cluster settings.
    fn configured(&self, client: clickhouse::Client) -> clickhouse::Client {
        let client = client.with_url(&self.url).with_user(&self.user).with_validation(false);
        let client = self.cluster_options(client);
        if self.password.is_empty() {
            client
        } else {
            client.with_password(self.password.expose())
        }
    }
}

/// `Ok` when ClickHouse answers a trivial query.
pub async fn check_reachable(client: &clickhouse::Client) -> Result<(), String> {
    client
        .query("SELECT 1")
        .fetch_one::<u8>()
        .await
        .map(|_| ())
        .map_err(|error| format!("clickhouse unreachable: {error}"))
}

/// Checks that `name` is a plain identifier, so it can be put into DDL safely.
pub fn check_identifier(name: &str) -> Result<(), String> {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        Ok(())
    } else {
        Err(format!("{name:?} is not a plain identifier (letters, digits, underscore)"))
    }
}
