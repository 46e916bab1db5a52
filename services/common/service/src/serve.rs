//! Serving HTTP until a shutdown, with a bound on how long requests in flight may still take.
//!
//! axum's graceful shutdown stops accepting and waits for every open request; a client that
//! stopped reading its answer, or a request waiting on a silent dependency, would hold it until
//! Kubernetes kills the pod at the end of its grace period. Past the deadline the server stops
//! waiting for them and the service goes on with its own last steps; the requests still under
//! way (each runs on a task of its own) end with the process.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

/// How serving ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Served {
    /// Every request in flight at the shutdown was answered.
    Drained,
    /// The deadline passed with requests still in flight; they were no longer waited for.
    DeadlinePassed,
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets the requests in flight
/// finish for at most `deadline`.
pub async fn serve_until(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    deadline: Duration,
) -> std::io::Result<Served> {
    let (begun, shutdown_begun) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = begun.send(());
    };
    let server = axum::serve(listener, router).with_graceful_shutdown(signal);
    tokio::select! {
        served = server => served.map(|()| Served::Drained),
        () = async {
            if shutdown_begun.await.is_ok() {
                tokio::time::sleep(deadline).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => {
            tracing::warn!(deadline_ms = deadline.as_millis() as u64, "shutdown deadline passed with requests in flight; no longer waiting for them");
            Ok(Served::DeadlinePassed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use std::io::Write;

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
        let served = serve_until(listener, Router::new(), async {}, Duration::from_secs(3600));
        let served = tokio::time::timeout(Duration::from_secs(30), served).await.expect("the server stops");
        assert_eq!(served.expect("served"), Served::Drained);
    }
}
