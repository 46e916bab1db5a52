//! ioc-ingest binary: load config, start logging, bind, serve.

use anyhow::Context;

// mimalloc instead of glibc's malloc: malloc and free were a sixth of ingest's CPU in perf
// (issue 12), and with mimalloc ingest took about a quarter less CPU for the same events
// (BENCHMARKS.md). Without transparent huge pages: Cargo.toml and the Dockerfile say how.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    ioc_service::init_logging();
    let config = ioc_ingest::IngestConfig::load().context("failed to load configuration")?;
    let spans = ioc_service::trace_export::start("ioc-ingest").context("failed to start the span export")?;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("failed to bind {}", config.listen))?;
    let served = ioc_ingest::serve(config, listener, ioc_service::shutdown_signal()).await;
    if let Some(spans) = spans {
        spans.shutdown();
    }
    served
}
