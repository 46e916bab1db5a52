//! The requests a batch's messages came from, read from their `traceparent` record headers (the
//! span ingest recorded for each request): named in the log line that says the batch is stored,
//! and, with the span export on (ioc_service::trace_export), each given a span for storing its
//! events, so a trace shows the request at ingest and then the insert that stored it.

use std::collections::HashMap;
use std::time::SystemTime;

use ioc_service::trace::TraceParent;
use ioc_service::trace_export::{self, HopSpan, KeyValue, SpanKind};

/// At most this many trace ids are logged for one batch.
const TRACES_LOGGED: usize = 32;

/// At most this many requests of one batch get a span; the others are counted on every span
/// (`ioc.batch.requests_without_span`). A batch of 20,000 events in requests of 500 comes from
/// 40; only senders of a few events per request reach the bound.
const SPANS_PER_BATCH: usize = 256;

/// Where a batch was stored, for its spans.
pub struct Store<'a> {
    /// The source whose topic the batch came from.
    pub source: &'a str,
    /// The topic.
    pub topic: &'a str,
    /// The table it went into.
    pub table: &'static str,
    /// Its rows (events and dead letters are counted apart).
    pub rows: usize,
    /// Failed insert attempts before the one that succeeded.
    pub retries: u32,
    /// When the first attempt began.
    pub started: SystemTime,
    /// Why the offsets could not be committed, if they could not.
    pub commit_error: Option<String>,
}

/// The parents (ingest's request spans) of one batch's messages, with how many messages each.
#[derive(Default)]
pub struct BatchTraces {
    parents: Vec<(TraceParent, u64)>,
    index: HashMap<TraceParent, usize>,
    /// Messages whose request got no place among the parents (beyond [`SPANS_PER_BATCH`]).
    beyond: u64,
}

impl BatchTraces {
    /// Whether the next message's header is worth reading: always with the span export (every
    /// message counts for its request's span), otherwise until the log line has its ids.
    pub fn wants_more(&self) -> bool {
        trace_export::enabled() || self.parents.len() < TRACES_LOGGED
    }

    /// Counts one message that came from the request `parent`.
    pub fn note(&mut self, parent: TraceParent) {
        if let Some(&at) = self.index.get(&parent) {
            self.parents[at].1 += 1;
        } else if self.parents.len() < SPANS_PER_BATCH {
            self.index.insert(parent, self.parents.len());
            self.parents.push((parent, 1));
        } else {
            self.beyond += 1;
        }
    }

    /// The distinct trace ids, at most [`TRACES_LOGGED`], for the log line.
    pub fn logged_ids(&self) -> std::collections::BTreeSet<String> {
        self.parents.iter().map(|(parent, _)| parent.trace_id_hex()).take(TRACES_LOGGED).collect()
    }

    /// Ends one span per request now that the batch is stored (nothing without the export).
    pub fn record_spans(&self, store: &Store<'_>) {
        if !trace_export::enabled() {
            return;
        }
        let name = format!("INSERT {}", store.table);
        for (parent, messages) in &self.parents {
            let span = HopSpan::begin(name.clone(), SpanKind::Consumer, Some(parent), store.started);
            span.end(
                vec![
                    KeyValue::new("db.system.name", "clickhouse"),
                    KeyValue::new("db.operation.name", "INSERT"),
                    KeyValue::new("db.collection.name", store.table),
                    KeyValue::new("messaging.system", "kafka"),
                    KeyValue::new("messaging.destination.name", store.topic.to_owned()),
                    KeyValue::new("ioc.source", store.source.to_owned()),
                    KeyValue::new("ioc.request.messages", *messages as i64),
                    KeyValue::new("ioc.batch.rows", store.rows as i64),
                    KeyValue::new("ioc.batch.requests_without_span", self.beyond as i64),
                    KeyValue::new("ioc.insert.retries", i64::from(store.retries)),
                ],
                store.commit_error.as_ref().map(|error| format!("stored, but the offsets were not committed: {error}")),
            );
        }
    }

    /// Forgets the batch (after it is stored).
    pub fn clear(&mut self) {
        self.parents.clear();
        self.index.clear();
        self.beyond = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent(n: u8) -> TraceParent {
        TraceParent { trace_id: [n.max(1); 16], span_id: [n.max(1); 8], flags: 1 }
    }

    #[test]
    fn messages_are_counted_per_request_and_bounded() {
        let mut traces = BatchTraces::default();
        traces.note(parent(1));
        traces.note(parent(2));
        traces.note(parent(1));
        assert_eq!(traces.parents, vec![(parent(1), 2), (parent(2), 1)]);
        for n in 0..=u8::MAX {
            traces.note(TraceParent { trace_id: [7; 16], span_id: [n, 1, 1, 1, 1, 1, 1, 1], flags: 1 });
        }
        assert_eq!(traces.parents.len(), SPANS_PER_BATCH);
        assert_eq!(traces.beyond, 2, "258 requests: 256 kept, two messages beyond");
        assert_eq!(traces.logged_ids().len(), 3, "distinct trace ids, not requests");
        traces.clear();
        assert!(traces.parents.is_empty() && traces.index.is_empty() && traces.beyond == 0);
    }

    #[test]
    fn without_the_export_the_headers_are_read_until_the_log_line_has_its_ids() {
        let mut traces = BatchTraces::default();
        for n in 0..TRACES_LOGGED as u8 {
            assert!(traces.wants_more());
            traces.note(parent(n + 1));
        }
        assert!(!traces.wants_more());
    }
}
