//! Optional export of spans to an OpenTelemetry collector (OTLP over HTTP with protobuf), off
//! unless an OTLP endpoint is configured.
//!
//! Configuration is OpenTelemetry's own environment variables, so an SRE sets it the way they
//! set it for any other instrumented service: `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL, for
//! example `http://otel-collector:4318`; `/v1/traces` is appended) or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL) turns the export on; `OTEL_SERVICE_NAME`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`, `OTEL_EXPORTER_OTLP_HEADERS` and
//! `OTEL_EXPORTER_OTLP_TIMEOUT` work as the specification says; `OTEL_SDK_DISABLED=true` turns
//! it off again. Only OTLP over HTTP with protobuf and without TLS is built in: another protocol
//! or an https endpoint stops the service with a message saying so. The SDK's own warnings (a
//! collector that refuses or cannot be reached, spans dropped from a full queue) go to the log.
//!
//! The services record the spans they exchange with each other by hand instead of exporting
//! every `tracing` span: ingest one span per accepted request (a child of the source's
//! `traceparent`), whose id travels in the Kafka record headers; the processor, for every
//! request whose events a batch holds, one span for storing them (a child of ingest's). What is
//! recorded is the same as what the logs say: sources, counts, tables; never an event's content.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, Status, TraceContextExt, TraceFlags, TraceId, TraceState, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::Context;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;

pub use opentelemetry::trace::SpanKind;
pub use opentelemetry::KeyValue;

use crate::trace::TraceParent;

/// The only OTLP protocol built in (the collector's port 4318).
const PROTOCOL: &str = "http/protobuf";

/// Why the export could not start: the process stops with this, as with any bad setting.
#[derive(Debug, thiserror::Error)]
pub enum TraceExportError {
    /// A protocol other than the built-in one was asked for.
    #[error("{variable}={value} is not supported: only OTLP over HTTP with protobuf is built in; set it to {PROTOCOL} (a collector's port 4318) or unset it")]
    Protocol {
        /// The variable that asked for it.
        variable: &'static str,
        /// What it asked for.
        value: String,
    },
    /// An https endpoint: no TLS library is built in.
    #[error("{variable}={value}: TLS to the collector is not built in; send to a collector over plain HTTP inside the cluster (a node-local agent or a sidecar, port 4318), which may forward over TLS")]
    Tls {
        /// The variable that named it.
        variable: &'static str,
        /// The endpoint.
        value: String,
    },
    /// The exporter refused its configuration (a malformed endpoint URL, say).
    #[error("the OTLP span exporter could not be built from the OTEL_EXPORTER_OTLP_* variables: {0}")]
    Exporter(String),
}

static ENABLED: AtomicBool = AtomicBool::new(false);
static TRACER: std::sync::OnceLock<SdkTracer> = std::sync::OnceLock::new();

/// A running export; [`TraceExport::shutdown`] sends what is still buffered.
pub struct TraceExport {
    provider: SdkTracerProvider,
}

/// Whether spans are exported (an OTLP endpoint is configured and the export started).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Whether the environment asks for the export: an OTLP endpoint is set and the SDK is not
/// disabled.
fn requested(variable: impl Fn(&str) -> Option<String>) -> bool {
    let set = |name: &str| variable(name).is_some_and(|value| !value.trim().is_empty());
    let disabled = variable("OTEL_SDK_DISABLED").is_some_and(|value| value.trim().eq_ignore_ascii_case("true"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// Refuses what the built-in exporter cannot do: another protocol, or TLS.
fn check_transport(variable: impl Fn(&str) -> Option<String>) -> Result<(), TraceExportError> {
    for name in ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
        if let Some(value) = variable(name).filter(|value| !value.trim().is_empty() && value.trim() != PROTOCOL) {
            return Err(TraceExportError::Protocol { variable: name, value });
        }
    }
    for name in ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"] {
        if let Some(value) = variable(name).filter(|value| value.trim().to_ascii_lowercase().starts_with("https:")) {
            return Err(TraceExportError::Tls { variable: name, value });
        }
    }
    Ok(())
}

/// Whether `OTEL_RESOURCE_ATTRIBUTES` names the service itself (it then wins over the default
/// name, as the specification has it).
fn names_service(attributes: Option<String>) -> bool {
    attributes
        .is_some_and(|list| list.split(',').any(|pair| pair.split('=').next().map(str::trim) == Some("service.name")))
}

/// Starts the export when the environment asks for it (see the module's documentation);
/// `service_name` is the default `service.name`, which `OTEL_SERVICE_NAME` overrides.
/// `Ok(None)`: not asked for, and every span below costs nothing.
pub fn start(service_name: &'static str) -> Result<Option<TraceExport>, TraceExportError> {
    let variable = |name: &str| std::env::var(name).ok();
    if !requested(variable) {
        return Ok(None);
    }
    check_transport(variable)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|error| TraceExportError::Exporter(error.to_string()))?;
    let mut resource = Resource::builder();
    if variable("OTEL_SERVICE_NAME").is_none_or(|name| name.trim().is_empty())
        && !names_service(variable("OTEL_RESOURCE_ATTRIBUTES"))
    {
        resource = resource.with_service_name(service_name);
    }
    let provider = SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build();
    // A service starts the export once; a second start in the same process would keep the
    // first provider's tracer (the in-process test pipelines never start it).
    let _ = TRACER.set(provider.tracer(service_name));
    ENABLED.store(true, Ordering::Relaxed);
    tracing::info!(service_name, "exporting spans to the OpenTelemetry collector (OTLP over HTTP)");
    Ok(Some(TraceExport { provider }))
}

impl TraceExport {
    /// Sends the spans still buffered and stops the export (at the end of a graceful shutdown).
    /// The SDK gives up after 5 s (`SdkTracerProvider::shutdown`), which the chart's grace
    /// period leaves room for after the service's own shutdown deadline (`ioc.terminationGrace`).
    pub fn shutdown(self) {
        ENABLED.store(false, Ordering::Relaxed);
        if let Err(error) = self.provider.shutdown() {
            tracing::warn!(%error, "the last spans could not be sent to the OpenTelemetry collector");
        }
    }
}

/// One span this service records: begun when the work began, ended with what came of it.
/// Without the export it records nothing.
pub struct HopSpan {
    span: Option<opentelemetry_sdk::trace::Span>,
}

impl HopSpan {
    /// Begins a span named `name` at `started`, a child of `parent` (the previous hop's span,
    /// from a `traceparent`), or the root of a new trace.
    pub fn begin(
        name: impl Into<std::borrow::Cow<'static, str>>,
        kind: SpanKind,
        parent: Option<&TraceParent>,
        started: SystemTime,
    ) -> HopSpan {
        let Some(tracer) = TRACER.get().filter(|_| enabled()) else {
            return HopSpan { span: None };
        };
        let context =
            parent.map_or_else(Context::new, |parent| Context::new().with_remote_span_context(parent.span_context()));
        let builder = tracer.span_builder(name).with_kind(kind).with_start_time(started);
        HopSpan { span: Some(tracer.build_with_context(builder, &context)) }
    }

    /// This span as the parent of the next hop, when it is exported (and sampled).
    pub fn trace_parent(&self) -> Option<TraceParent> {
        let context = self.span.as_ref()?.span_context();
        context.is_valid().then(|| TraceParent::from_span_context(context))
    }

    /// Ends the span now with its attributes, and an error status when `error` says what failed.
    pub fn end(self, attributes: Vec<KeyValue>, error: Option<String>) {
        let Some(mut span) = self.span else { return };
        span.set_attributes(attributes);
        if let Some(description) = error {
            span.set_status(Status::error(description));
        }
        span.end();
    }
}

impl TraceParent {
    /// As OpenTelemetry's span context of a remote parent.
    fn span_context(&self) -> SpanContext {
        SpanContext::new(
            TraceId::from_bytes(self.trace_id),
            SpanId::from_bytes(self.span_id),
            TraceFlags::new(self.flags),
            true,
            TraceState::default(),
        )
    }

    fn from_span_context(context: &SpanContext) -> TraceParent {
        TraceParent {
            trace_id: context.trace_id().to_bytes(),
            span_id: context.span_id().to_bytes(),
            flags: context.trace_flags().to_u8(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| (*value).to_owned())
    }

    #[test]
    fn the_export_is_off_unless_an_endpoint_is_set_and_the_sdk_is_not_disabled() {
        assert!(!requested(env(&[])));
        assert!(!requested(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")])));
        assert!(!requested(env(&[("OTEL_SERVICE_NAME", "ioc-ingest")])));
        assert!(requested(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")])));
        assert!(requested(env(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/v1/traces")])));
        assert!(!requested(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_SDK_DISABLED", "TRUE")
        ])));
    }

    #[test]
    fn only_the_built_in_protocol_over_plain_http_is_accepted() {
        assert!(check_transport(env(&[])).is_ok());
        assert!(check_transport(env(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
        ]))
        .is_ok());
        let refused = check_transport(env(&[("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")])).expect_err("grpc");
        assert!(refused.to_string().contains("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc"), "{refused}");
        assert!(check_transport(env(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")])).is_err());
        let refused =
            check_transport(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "HTTPS://collector:4318")])).expect_err("https");
        assert!(refused.to_string().contains("TLS to the collector is not built in"), "{refused}");
        assert!(check_transport(env(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://c/v1/traces")])).is_err());
    }

    #[test]
    fn a_service_name_among_the_resource_attributes_wins_over_the_default() {
        assert!(names_service(Some("k8s.pod.name=x, service.name=ioc-ingest-a".into())));
        assert!(!names_service(Some("k8s.pod.name=service.name".into())));
        assert!(!names_service(None));
    }

    #[test]
    fn a_traceparent_goes_to_a_span_context_and_back() {
        let parent = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").expect("valid");
        let context = parent.span_context();
        assert!(context.is_valid() && context.is_remote() && context.is_sampled());
        assert_eq!(context.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(TraceParent::from_span_context(&context), parent);
    }

    #[test]
    fn without_the_export_a_span_records_nothing_and_names_no_parent() {
        let span = HopSpan::begin("test", SpanKind::Internal, None, SystemTime::now());
        assert!(span.trace_parent().is_none());
        span.end(vec![KeyValue::new("ioc.source", "portal")], None);
    }
}
