//! A TCP relay to one ClickHouse node that can be silenced: from then on it holds every
//! connection, old and new, open and answers nothing, as a node with a hung disk or behind a
//! network cut does once the connection was made. The processor's rollup must give such a node
//! up after its timeout (services/processor/src/rollup/mod.rs, `within`).

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A running relay; it stops, and lets go of the connections it holds, when dropped.
pub struct Relay {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    silent: watch::Sender<bool>,
    accepting: tokio::task::JoinHandle<()>,
}

impl Relay {
    /// Listens on a free port of 127.0.0.1 and passes each connection on to `node`.
    pub async fn start(node: SocketAddr) -> Relay {
        Relay::start_on(0, node).await
    }

    /// Listens on `port` of 127.0.0.1 (0: a free one) and passes each connection on to `node`:
    /// a node that comes up at an address a client was already given.
    pub async fn start_on(port: u16, node: SocketAddr) -> Relay {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("relay binds");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (silent, watching) = watch::channel(false);
        let accepting = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut watching = watching.clone();
                tokio::spawn(async move {
                    if !*watching.borrow() {
                        if let Ok(mut upstream) = TcpStream::connect(node).await {
                            tokio::select! {
                                // Either side closing ends both.
                                _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => return,
                                _ = watching.wait_for(|silent| *silent) => {}
                            }
                        }
                    }
                    // Silent: nothing read, nothing answered, until the relay is dropped.
                    let _ = watching.wait_for(|_| false).await;
                    drop(client);
                });
            }
        });
        Relay { url, silent, accepting }
    }

    /// From now on, answers nothing on any connection.
    pub fn silence(&self) {
        self.silent.send_replace(true);
    }

    /// From now on, relays new connections again (those held while silent stay silent), as a
    /// node back from a network cut.
    pub fn speak(&self) {
        self.silent.send_replace(false);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}
