//! How many connections an HTTP server keeps open, and how long one may go without a request.
//!
//! A connection holds a task, its buffers and a file descriptor. Without a bound, clients that
//! open connections and never finish a request's head (a "slowloris"), or keep-alive
//! connections nobody reuses, pile up until the process runs out of descriptors or memory.

use std::time::Duration;

use serde::Deserialize;

/// The `connections` table of a service's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionLimits {
    /// Most connections open at once. Past it the server stops accepting: new connections wait
    /// in the kernel's listen queue (the client sees a slower connect, not an error) until one
    /// closes.
    pub max_open: usize,
    /// How long, in milliseconds, a connection may go without the complete head (request line
    /// and headers) of its next request: a client trickling its headers, or a keep-alive
    /// connection left idle. Past it the connection is closed. Behind a reverse proxy that keeps
    /// idle connections to the pods, this must stay above the proxy's own idle timeout
    /// (ingress-nginx's `upstream-keepalive-timeout`: 60 s), or the proxy may send a request on
    /// a connection the service is closing and answer the client 502.
    pub header_timeout_ms: u64,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        // hyper's read buffer starts at 8 KiB a connection: 512 idle ones hold a few MB. 75 s is nginx's own keepalive_timeout,
        // above ingress-nginx's 60 s for the connections it keeps to the pods.
        ConnectionLimits { max_open: 512, header_timeout_ms: 75_000 }
    }
}

impl ConnectionLimits {
    /// The header and idle timeout.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms)
    }

    /// What makes these limits unusable, naming the setting under `prefix` (the service's
    /// configuration key of this table) and what to do; `None` when they are fine.
    pub fn problem(&self, prefix: &str) -> Option<String> {
        if self.max_open == 0 {
            return Some(format!("{prefix}.max_open must be at least 1 (connections open at once)"));
        }
        if self.header_timeout_ms == 0 {
            return Some(format!(
                "{prefix}.header_timeout_ms must be above zero (milliseconds a connection may wait for a request's head)"
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_usable_and_zeros_are_refused_by_name() {
        assert_eq!(ConnectionLimits::default().problem("connections"), None);
        let none_open = ConnectionLimits { max_open: 0, ..ConnectionLimits::default() };
        assert!(none_open.problem("connections").is_some_and(|p| p.contains("connections.max_open")));
        let no_time = ConnectionLimits { header_timeout_ms: 0, ..ConnectionLimits::default() };
        assert!(no_time.problem("connections").is_some_and(|p| p.contains("connections.header_timeout_ms")));
    }
}
