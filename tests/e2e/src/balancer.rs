//! A TCP balancer in front of the local cluster's ClickHouse nodes, standing in for a
//! Kubernetes Service over every ClickHouse pod (the chart's `clickhouse-<name>` with the
//! operator): each new connection goes to the next node in turn, and a node that refuses the
//! connection is skipped, as kube-proxy stops sending to a pod once it is not ready. The
//! services reach ClickHouse through it in the cluster tests, so that a statement may reach
//! any node, as it would in production.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};

/// A running balancer; it stops when dropped.
pub struct Balancer {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    accepting: tokio::task::JoinHandle<()>,
}

impl Balancer {
    /// Listens on a free port of 127.0.0.1 and spreads connections over `nodes`.
    pub async fn start(nodes: Vec<SocketAddr>) -> Balancer {
        assert!(!nodes.is_empty(), "a balancer needs a node");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("balancer binds");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (nodes, next) = (Arc::new(nodes), Arc::new(AtomicUsize::new(0)));
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (nodes, next) = (nodes.clone(), next.clone());
                tokio::spawn(async move {
                    let first = next.fetch_add(1, Ordering::Relaxed);
                    for attempt in 0..nodes.len() {
                        if let Ok(node) = TcpStream::connect(nodes[(first + attempt) % nodes.len()]).await {
                            let (mut client, mut node) = (client, node);
                            // Either side closing ends both; errors are the connection's end.
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut node).await;
                            return;
                        }
                    }
                });
            }
        });
        Balancer { url, accepting }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}
