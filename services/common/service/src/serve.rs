//! Serving HTTP until a shutdown: a bounded number of connections, each closed when it goes too
//! long without a request, and a bound on how long requests in flight may still take.
//!
//! axum's own `serve` gives hyper no timer, so hyper's header read timeout is off: a client that
//! sends half a request's head and goes silent, or a keep-alive connection left idle, holds its
//! task and descriptor for ever, and nothing caps how many do. This server gives hyper a timer
//! and the header timeout (which hyper restarts whenever a connection goes idle between
//! requests, so it is the idle timeout too), and stops accepting at `ConnectionLimits::max_open`.
//! hyper has no write timeout either: a client that stops reading an answer larger than the
//! socket's buffers held its connection for ever. Each connection's writes are bounded by
//! `ConnectionLimits::write_timeout_ms` without progress (tokio-io-timeout); reads are not,
//! since hyper already bounds the head and each service bounds its bodies.
//!
//! Graceful shutdown stops accepting and waits for every open request; a client that stopped
//! reading its answer, or a request waiting on a silent dependency, would hold it until
//! Kubernetes kills the pod at the end of its grace period. Past the deadline the server stops
//! waiting for them and the service goes on with its own last steps; the requests still under
//! way (each runs on a task of its own) end with the process.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use prometheus::IntGauge;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::ConnectionLimits;

/// How serving ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Served {
    /// Every request in flight at the shutdown was answered.
    Drained,
    /// The deadline passed with requests still in flight; they were no longer waited for.
    DeadlinePassed,
}

/// Registers, in a service's `registry`, the gauge of its open HTTP connections
/// (`<service>_http_connections_open`) that `serve_until` keeps.
pub fn open_connections_gauge(registry: &prometheus::Registry, service: &str) -> prometheus::Result<IntGauge> {
    let gauge = IntGauge::new(
        format!("{service}_http_connections_open"),
        "http connections open (at connections.max_open the server stops accepting)",
    )?;
    registry.register(Box::new(gauge.clone()))?;
    Ok(gauge)
}

/// At most one warning per this long that the connection limit was reached.
const FULL_WARNING_EVERY: Duration = Duration::from_secs(60);

/// Serves `router` on `listener` within `limits` until `shutdown` resolves, then lets the
/// requests in flight finish for at most `deadline`. `open` counts the connections open.
pub async fn serve_until(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    deadline: Duration,
    limits: ConnectionLimits,
    open: IntGauge,
) -> std::io::Result<Served> {
    let places = Arc::new(Semaphore::new(limits.max_open));
    let connections = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout());
    let mut shutdown = std::pin::pin!(shutdown);
    let mut warned_full: Option<Instant> = None;
    loop {
        let place = match places.clone().try_acquire_owned() {
            Ok(place) => place,
            Err(_) => {
                if warned_full.is_none_or(|at| at.elapsed() >= FULL_WARNING_EVERY) {
                    warned_full = Some(Instant::now());
                    tracing::warn!(
                        max_open = limits.max_open,
                        "open connections at connections.max_open; new ones wait in the listen queue until one closes"
                    );
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    place = places.clone().acquire_owned() => place.expect("the semaphore is never closed"),
                }
            }
        };
        let stream = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(error) => {
                    pause_after_accept_error(error).await;
                    continue;
                }
            },
        };
        open.inc();
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_write_timeout(Some(limits.write_timeout()));
        let connection =
            http.serve_connection(TokioIo::new(Box::pin(stream)), TowerToHyperService::new(router.clone()));
        let served = connections.watch(connection);
        let open = open.clone();
        tokio::spawn(async move {
            // A closed idle connection, a header or write timeout or a client gone: nothing to
            // act on.
            if let Err(error) = served.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            open.dec();
            drop(place);
        });
    }
    drop(listener);
    match tokio::time::timeout(deadline, connections.shutdown()).await {
        Ok(()) => Ok(Served::Drained),
        Err(_) => {
            tracing::warn!(
                deadline_ms = deadline.as_millis() as u64,
                "shutdown deadline passed with requests in flight; no longer waiting for them"
            );
            Ok(Served::DeadlinePassed)
        }
    }
}

/// A connection that failed before it was accepted is the client's business; anything else
/// (out of file descriptors, most likely) would fail again at once, so wait a moment first.
async fn pause_after_accept_error(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(error.kind(), ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused)
    {
        return;
    }
    tracing::error!(%error, "accepting a connection failed; trying again in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use std::io::{Read, Write};

    fn gauge() -> IntGauge {
        IntGauge::new("test_connections_open", "connections open").expect("gauge")
    }

    /// Starts a server of one route `/ok` within `limits`; the server stops with the test's
    /// runtime.
    async fn start(limits: ConnectionLimits, open: IntGauge) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("listener");
        let address = listener.local_addr().expect("address");
        let router = Router::new().route("/ok", get(|| async { "ok" }));
        tokio::spawn(async move {
            serve_until(listener, router, std::future::pending(), Duration::from_secs(1), limits, open).await
        });
        address
    }

    /// A client connection (blocking: the tests read it on a blocking thread) that sent `sent`.
    fn connect(address: std::net::SocketAddr, sent: &[u8]) -> std::net::TcpStream {
        let mut client = std::net::TcpStream::connect(address).expect("connect");
        client.write_all(sent).expect("sent");
        client
    }

    /// Reads until the server closes the connection; what it sent on the way.
    async fn read_until_closed(mut client: std::net::TcpStream) -> String {
        tokio::task::spawn_blocking(move || {
            // Without the server's timeout the connection stays open for ever; this bound only
            // keeps the test from hanging then.
            client.set_read_timeout(Some(Duration::from_secs(30))).expect("read timeout");
            let mut received = Vec::new();
            client.read_to_end(&mut received).expect("the server closes the connection");
            String::from_utf8_lossy(&received).into_owned()
        })
        .await
        .expect("reader")
    }

    #[tokio::test]
    async fn a_request_head_that_never_ends_loses_its_connection() {
        let limits = ConnectionLimits { header_timeout_ms: 300, ..ConnectionLimits::default() };
        let address = start(limits, gauge()).await;
        let client = connect(address, b"GET /ok HTTP/1.1\r\nhost: test\r\n");
        // hyper closes a connection whose head timed out without an answer.
        assert_eq!(read_until_closed(client).await, "");
    }

    #[tokio::test]
    async fn a_keep_alive_connection_left_idle_is_closed() {
        let limits = ConnectionLimits { header_timeout_ms: 300, ..ConnectionLimits::default() };
        let open = gauge();
        let address = start(limits, open.clone()).await;
        let client = connect(address, b"GET /ok HTTP/1.1\r\nhost: test\r\n\r\n");
        let answered = read_until_closed(client).await;
        assert!(answered.starts_with("HTTP/1.1 200") && answered.ends_with("ok"), "{answered}");
        // The task that counted the connection ends just after it closed.
        until_open(&open, 0, "the closed connection is still counted").await;
    }

    /// Waits until `open` counts `count` connections; fails with `why` after 30 s.
    async fn until_open(open: &IntGauge, count: i64, why: &str) {
        tokio::time::timeout(Duration::from_secs(30), async {
            while open.get() != count {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{why}: {} connection(s) open, {count} expected", open.get()));
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_its_answer_loses_its_connection() {
        let limits = ConnectionLimits { write_timeout_ms: 300, ..ConnectionLimits::default() };
        let open = gauge();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("listener");
        let address = listener.local_addr().expect("address");
        // Far more than the kernel buffers on both sides of a loopback connection (a few MiB).
        let router = Router::new().route("/big", get(|| async { vec![b'x'; 64 << 20] }));
        let server_open = open.clone();
        tokio::spawn(async move {
            serve_until(listener, router, std::future::pending(), Duration::from_secs(1), limits, server_open).await
        });
        // Asks and never reads; the socket stays open until the end of the test.
        let client = connect(address, b"GET /big HTTP/1.1\r\nhost: test\r\n\r\n");
        until_open(&open, 1, "the connection is not taken").await;
        until_open(&open, 0, "the answer no one reads still holds its connection").await;
        drop(client);
    }

    #[tokio::test]
    async fn past_the_limit_a_connection_waits_until_another_closes() {
        let limits = ConnectionLimits { max_open: 1, ..ConnectionLimits::default() };
        let open = gauge();
        let address = start(limits, open.clone()).await;
        let first = connect(address, b"");
        until_open(&open, 1, "the first connection is not taken").await;
        // The kernel completes the second connection; the server does not take it yet.
        let second = connect(address, b"GET /ok HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n");
        let (second, early) = tokio::task::spawn_blocking(move || {
            second.set_read_timeout(Some(Duration::from_millis(300))).expect("read timeout");
            let early = (&second).read(&mut [0_u8; 1]);
            (second, early)
        })
        .await
        .expect("reader");
        assert!(early.is_err(), "the second connection was answered while the first held the only place: {early:?}");
        assert_eq!(open.get(), 1);
        drop(first);
        let answered = read_until_closed(second).await;
        assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    }

    /// A request that never gets its answer: its handler waits for ever.
    async fn serve_a_request_held_open(deadline: Duration) -> Served {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("listener");
        let address = listener.local_addr().expect("address");
        let reached = std::sync::Arc::new(tokio::sync::Notify::new());
        let handler_reached = reached.clone();
        let router = Router::new().route(
            "/held",
            get(move || async move {
                handler_reached.notify_one();
                std::future::pending::<&'static str>().await
            }),
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_until(
            listener,
            router,
            async move {
                let _ = stopped.await;
            },
            deadline,
            ConnectionLimits::default(),
            gauge(),
        ));
        // A few bytes on a fresh connection: the kernel takes them whatever the server does.
        let mut client = std::net::TcpStream::connect(address).expect("connect");
        client.write_all(b"GET /held HTTP/1.1\r\nhost: test\r\n\r\n").expect("request sent");
        reached.notified().await;
        stop.send(()).expect("server still running");
        // Without the deadline the server waits for the request for ever; the bound here only
        // keeps the test from hanging then.
        let served = tokio::time::timeout(Duration::from_secs(30), server).await.expect("the server stops");
        drop(client);
        served.expect("task").expect("served")
    }

    #[tokio::test]
    async fn a_request_in_flight_holds_the_shutdown_no_longer_than_the_deadline() {
        assert_eq!(serve_a_request_held_open(Duration::from_millis(300)).await, Served::DeadlinePassed);
    }

    #[tokio::test]
    async fn with_nothing_in_flight_the_server_stops_at_once() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("listener");
        let limits = ConnectionLimits::default();
        let served = serve_until(listener, Router::new(), async {}, Duration::from_secs(3600), limits, gauge());
        let served = tokio::time::timeout(Duration::from_secs(30), served).await.expect("the server stops");
        assert_eq!(served.expect("served"), Served::Drained);
    }
}
