//! A node whose address drops connection attempts (a rebuilt pod's old address, a firewall) must
//! cost `client_connecting_within`'s timeout, not the minutes of the kernel's SYN retries: the
//! processor's rollup moves on to the next ClickHouse node only once an attempt has failed.
//!
//! No ClickHouse is needed. A listener on 127.0.0.1 that never accepts, with its accept queue
//! filled, makes Linux drop every further SYN (`tcp_conn_request` counts a listen overflow and
//! drops it), which is what a connection to a silent address sees.

use std::net::SocketAddr;
use std::time::Duration;

use ioc_clickhouse::{check_reachable, ClickHouseConfig};
use tokio::net::{TcpSocket, TcpStream};

/// A listener that takes no more connections, and the connections that fill its queue (kept
/// open so the queue stays full).
async fn silent_listener() -> (tokio::net::TcpListener, Vec<TcpStream>, SocketAddr) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.1:0".parse().expect("address")).expect("bind");
    let listener = socket.listen(1).expect("listen");
    let address = listener.local_addr().expect("address");
    let mut queued = Vec::new();
    // The queue holds backlog + 1 connections; the first attempt that does not complete shows
    // it is full. Bounded, so a kernel that never drops fails here instead of looping.
    for _ in 0..16 {
        match tokio::time::timeout(Duration::from_millis(300), TcpStream::connect(address)).await {
            Ok(Ok(stream)) => queued.push(stream),
            Ok(Err(error)) => panic!("connecting to the test listener failed outright: {error}"),
            Err(_) => return (listener, queued, address),
        }
    }
    panic!("the kernel accepted 16 connections on a listener with a backlog of 1: cannot make a silent address here");
}

fn config_for(address: SocketAddr) -> ClickHouseConfig {
    ClickHouseConfig { url: format!("http://{address}"), ..ClickHouseConfig::default() }
}

#[tokio::test]
async fn a_silent_node_costs_the_connect_timeout_not_the_kernels_retries() {
    let (_listener, _queued, address) = silent_listener().await;
    let config = config_for(address);

    // The address really is silent: a client without the bound is still waiting after seconds.
    let unbounded = tokio::time::timeout(Duration::from_secs(3), check_reachable(&config.server_client())).await;
    assert!(unbounded.is_err(), "a client without a connect timeout got an answer: {unbounded:?}");

    let bounded = config.client_connecting_within(Duration::from_millis(500));
    let outcome = tokio::time::timeout(Duration::from_secs(20), check_reachable(&bounded)).await;
    let error = outcome
        .expect("the connect timeout did not end the attempt: a silent node would hold the rollup for minutes")
        .expect_err("a silent address cannot answer");
    assert!(!error.is_empty(), "the failure says what went wrong");
}
