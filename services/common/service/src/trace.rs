//! W3C trace context (`traceparent`), carried from a source's HTTP request through the Kafka
//! record headers to the processor's insert, so one batch can be followed in the logs of both
//! services by its trace id, and, when an OTLP endpoint is configured, in an OpenTelemetry
//! collector (`trace_export`).

/// The HTTP header and the Kafka record header that carry it.
pub const TRACEPARENT: &str = "traceparent";

/// A `traceparent`: version 00, a 16-byte trace id, an 8-byte parent span id, flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The trace id, shared by everything done for the request.
    pub trace_id: [u8; 16],
    /// The span the next hop is a child of.
    pub span_id: [u8; 8],
    /// Trace flags (01: sampled).
    pub flags: u8,
}

impl TraceParent {
    /// A new trace, for a request that came without one.
    pub fn new_root() -> Self {
        let bytes = uuid::Uuid::new_v4().into_bytes();
        let span = uuid::Uuid::new_v4().into_bytes();
        let mut span_id = [0; 8];
        span_id.copy_from_slice(&span[..8]);
        TraceParent { trace_id: bytes, span_id, flags: 1 }
    }

    /// The same trace with a new span: what this service did, the parent of the next hop.
    pub fn child(&self) -> Self {
        let mut child = TraceParent::new_root();
        child.trace_id = self.trace_id;
        child.flags = self.flags;
        child
    }

    /// Parses a header value; `None` unless it is a valid version-00 traceparent (an invalid one
    /// is ignored, as the W3C recommendation says, and a new trace starts).
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.trim().split('-');
        let (version, trace, span, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || version != "00" || trace.len() != 32 || span.len() != 16 || flags.len() != 2 {
            return None;
        }
        let mut trace_id = [0; 16];
        let mut span_id = [0; 8];
        hex_into(trace, &mut trace_id)?;
        hex_into(span, &mut span_id)?;
        let mut flag = [0; 1];
        hex_into(flags, &mut flag)?;
        let all_zero = |bytes: &[u8]| bytes.iter().all(|b| *b == 0);
        (!all_zero(&trace_id) && !all_zero(&span_id)).then_some(TraceParent { trace_id, span_id, flags: flag[0] })
    }

    /// The trace id as 32 lowercase hex digits, as logs show it.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }
}

impl std::fmt::Display for TraceParent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "00-{}-{}-{:02x}", hex(&self.trace_id), hex(&self.span_id), self.flags)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_into(text: &str, out: &mut [u8]) -> Option<()> {
    if !text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    for (index, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(index * 2..index * 2 + 2)?, 16).ok()?;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_w3c_example_and_refuses_the_rest() {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let parsed = TraceParent::parse(header).expect("the W3C example");
        assert_eq!(parsed.to_string(), header);
        assert_eq!(parsed.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let child = parsed.child();
        assert_eq!((child.trace_id, child.flags), (parsed.trace_id, 1));
        assert_ne!(child.span_id, parsed.span_id);
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e47-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
        let root = TraceParent::new_root();
        assert_eq!(TraceParent::parse(&root.to_string()), Some(root));
    }
}
