//! The ClickHouse node a rollup cycle runs on.
//!
//! A cycle creates tables of its own (the staging tables, the portal's measured dossiers),
//! fills them, swaps their months in and drops them, in separate statements. Those tables are
//! plain MergeTree on the node that created them (cycle.rs, `DAILY_STAGING_ENGINE`), so every
//! statement of a cycle must reach that node. A Kubernetes Service over every ClickHouse pod
//! sends each new connection to any of them, and the processor's connections are pooled: a
//! client on such an address ran a cycle's statements on several nodes: through a round-robin
//! balancer over the local cluster's four nodes, 102 cycles of one run of
//! tests/e2e/tests/cluster.rs failed with "Table ... doesn't exist". So the rollup talks to one
//! node's own address (`rollup_clickhouse_urls`), and moves to the next one listed when a cycle
//! fails there: the tables it reads are the cluster's, the same from every node.

/// How long the rollup waits for a node to take a connection before the cycle fails and it
/// moves on: a node that drops packets instead of refusing them would otherwise hold a cycle for
/// the system's TCP timeout (about two minutes on Linux).
pub const NODE_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The nodes the rollup may run on, in order of preference, and the one in use.
pub struct RollupNodes {
    nodes: Vec<(String, clickhouse::Client)>,
    /// Whether each node's server has a limit of partitions per insert, once asked
    /// (partition_limit.rs).
    has_partition_limit: Vec<tokio::sync::OnceCell<bool>>,
    current: usize,
}

impl RollupNodes {
    /// The rollup on `nodes` (an address and its client each), starting with the first.
    ///
    /// # Panics
    /// When `nodes` is empty: the configuration always gives one (lib.rs).
    pub fn new(nodes: Vec<(String, clickhouse::Client)>) -> Self {
        assert!(!nodes.is_empty(), "the rollup needs a ClickHouse node");
        let has_partition_limit = nodes.iter().map(|_| tokio::sync::OnceCell::new()).collect();
        RollupNodes { nodes, has_partition_limit, current: 0 }
    }

    /// The rollup on one address (one server, or a test's database).
    pub fn one(url: &str, client: clickhouse::Client) -> Self {
        RollupNodes::new(vec![(url.to_owned(), client)])
    }

    /// The client of the node in use.
    pub fn client(&self) -> &clickhouse::Client {
        &self.nodes[self.current].1
    }

    /// Whether the cycles on the node in use lift the limit of partitions per insert on their
    /// staging inserts: whether its server has one (partition_limit.rs). Asked once, and again
    /// after [`RollupNodes::forget_settings`]; a failure to ask fails the cycle, as any of its
    /// statements would.
    pub async fn lifts_partition_limit(&self) -> Result<bool, clickhouse::error::Error> {
        let client = self.client();
        self.has_partition_limit[self.current]
            .get_or_try_init(|| super::partition_limit::has_limit(client))
            .await
            .copied()
    }

    /// After a failed cycle: asks the node in use again before its next cycle (it may have been
    /// upgraded or rolled back meanwhile).
    pub fn forget_settings(&mut self) {
        self.has_partition_limit[self.current] = tokio::sync::OnceCell::new();
    }

    /// Uses the node at `position` of the list from now on (the start's choice: the first
    /// that answered its reads).
    ///
    /// # Panics
    /// When `position` is past the list.
    pub fn move_to(&mut self, position: usize) {
        assert!(position < self.nodes.len(), "no rollup node at {position}");
        self.current = position;
    }

    /// The address of the node in use.
    pub fn address(&self) -> &str {
        &self.nodes[self.current].0
    }

    /// The position of the node in use in the list.
    pub fn position(&self) -> usize {
        self.current
    }

    /// Every node, for work each of them may need (dropping what killed cycles left there).
    pub fn all(&self) -> impl Iterator<Item = (&str, &clickhouse::Client)> {
        self.nodes.iter().map(|(url, client)| (url.as_str(), client))
    }

    /// After a failed cycle: the next node in the list (the first after the last), and its
    /// address; `None` with one node.
    pub fn move_on(&mut self) -> Option<&str> {
        if self.nodes.len() < 2 {
            return None;
        }
        self.current = (self.current + 1) % self.nodes.len();
        Some(&self.nodes[self.current].0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(urls: &[&str]) -> RollupNodes {
        RollupNodes::new(
            urls.iter().map(|url| ((*url).to_owned(), clickhouse::Client::default().with_url(*url))).collect(),
        )
    }

    #[test]
    fn a_failed_cycle_moves_the_rollup_to_the_next_node_and_round_again() {
        let mut nodes = nodes(&["http://ch-0:8123", "http://ch-1:8123", "http://ch-2:8123"]);
        assert_eq!(nodes.position(), 0);
        assert_eq!(nodes.move_on(), Some("http://ch-1:8123"));
        assert_eq!(nodes.move_on(), Some("http://ch-2:8123"));
        assert_eq!(nodes.move_on(), Some("http://ch-0:8123"));
        assert_eq!(nodes.position(), 0);
    }

    #[test]
    fn the_start_may_settle_on_a_later_node_and_moving_on_continues_from_it() {
        let mut nodes = nodes(&["http://ch-0:8123", "http://ch-1:8123", "http://ch-2:8123"]);
        nodes.move_to(2);
        assert_eq!((nodes.position(), nodes.address()), (2, "http://ch-2:8123"));
        assert_eq!(nodes.move_on(), Some("http://ch-0:8123"));
    }

    #[test]
    fn with_one_node_the_rollup_stays() {
        let mut nodes = nodes(&["http://ch:8123"]);
        assert_eq!(nodes.move_on(), None);
        assert_eq!(nodes.position(), 0);
    }
}
