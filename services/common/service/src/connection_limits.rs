//! How many connections an HTTP server keeps open, how long one may go without a request, and
//! how long its answer may wait for the client to read it.
//!
//! A connection holds a task, its buffers and a file descriptor. Without a bound, clients that
//! open connections and never finish a request's head (a "slowloris"), keep-alive connections
//! nobody reuses, or clients that stop reading an answer too large for the socket's buffers,
//! pile up until the process runs out of descriptors or memory, or of `max_open` places.

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
    /// How long, in milliseconds, writing an answer may go without progress: the client takes
    /// none of it while the socket's send buffer is full. Past it the connection is closed.
    /// Measured between two successful writes, as nginx's `send_timeout` (60 s by default), not
    /// over the whole answer: a slow but reading client is never cut.
    pub write_timeout_ms: u64,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        // hyper's read buffer starts at 8 KiB a connection: 512 idle ones hold a few MB. 75 s is nginx's own keepalive_timeout,
        // above ingress-nginx's 60 s for the connections it keeps to the pods.
        // 60 s without a byte taken is nginx's default send_timeout.
        ConnectionLimits { max_open: 512, header_timeout_ms: 75_000, write_timeout_ms: 60_000 }
    }
}

impl ConnectionLimits {
    /// The header and idle timeout.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_millis(self.header_timeout_ms)
    }

    /// The write timeout.
    pub fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.write_timeout_ms)
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
        if self.write_timeout_ms == 0 {
            return Some(format!(
                "{prefix}.write_timeout_ms must be above zero (milliseconds an answer may wait for the client to read it)"
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
        let no_write = ConnectionLimits { write_timeout_ms: 0, ..ConnectionLimits::default() };
        assert!(no_write.problem("connections").is_some_and(|p| p.contains("connections.write_timeout_ms")));
    }
}
