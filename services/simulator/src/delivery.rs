//! Turns the generated events into what a real, imperfect source sends: batches per source with
//! duplicates, local reordering and late arrivals injected at the requested rates.

use ioc_domain::{Event, Source};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How imperfect the delivery is; each rate is a share of events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// Events sent twice (the second time in a later batch).
    pub duplicates: f64,
    /// Events swapped with one up to 50 positions later (so a dossier can resolve before it is received).
    pub reorder: f64,
    /// Events held back: each is sent after the events of up to [`MAX_LATENESS_DAYS`] of
    /// later event time (at the end, when the run is shorter).
    pub late: f64,
}

/// How far behind its event time a late event can arrive.
pub const MAX_LATENESS_DAYS: i64 = 7;

/// One request's worth of events of one source.
#[derive(Debug, Clone)]
pub struct Batch {
    /// The source the batch goes to.
    pub source: Source,
    /// The events, in sending order.
    pub events: Vec<Event>,
}

/// Counts of what was injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Injected {
    /// Extra copies sent.
    pub duplicates: usize,
    /// Swaps made.
    pub reordered: usize,
    /// Events sent late.
    pub late: usize,
}

/// Plans the delivery: per source, the events in time order with the faults applied, cut into
/// batches of `batch_size`; batches of the three sources interleave as concurrent senders would.
pub fn plan(events: &[Event], faults: Faults, batch_size: usize, rng: &mut ChaCha8Rng) -> (Vec<Batch>, Injected) {
    let mut injected = Injected::default();
    let mut per_source: Vec<Vec<Batch>> = Vec::new();
    for source in Source::ALL {
        // Each event is sent at its event time, a late one up to a week after it; sorting on
        // that (stable) keeps the rest in time order.
        let mut timed: Vec<(i64, Event)> = Vec::new();
        for event in events.iter().filter(|e| e.source == source) {
            let mut sent_at = event.occurred_at.timestamp();
            if rng.gen_bool(faults.late.clamp(0.0, 1.0)) {
                sent_at += rng.gen_range(60..=MAX_LATENESS_DAYS * 86_400);
                injected.late += 1;
            }
            timed.push((sent_at, event.clone()));
        }
        timed.sort_by_key(|(sent_at, _)| *sent_at);
        let mut on_time: Vec<Event> = timed.into_iter().map(|(_, event)| event).collect();
        for index in 0..on_time.len() {
            if rng.gen_bool(faults.reorder.clamp(0.0, 1.0)) {
                let other = (index + rng.gen_range(1..=50)).min(on_time.len() - 1);
                if other != index {
                    on_time.swap(index, other);
                    injected.reordered += 1;
                }
            }
        }
        let stream: Vec<Event> = on_time;
        let mut with_copies: Vec<Event> = Vec::with_capacity(stream.len());
        let mut pending_copies: Vec<(usize, Event)> = Vec::new();
        for (position, event) in stream.into_iter().enumerate() {
            if rng.gen_bool(faults.duplicates.clamp(0.0, 1.0)) {
                // Resent somewhere after the original, usually in a later batch.
                pending_copies.push((position + rng.gen_range(1..=batch_size * 3), event.clone()));
                injected.duplicates += 1;
            }
            with_copies.push(event);
            let (due, later): (Vec<_>, Vec<_>) = pending_copies.into_iter().partition(|(at, _)| *at <= position);
            with_copies.extend(due.into_iter().map(|(_, copy)| copy));
            pending_copies = later;
        }
        with_copies.extend(pending_copies.into_iter().map(|(_, copy)| copy));
        per_source.push(
            with_copies.chunks(batch_size.max(1)).map(|chunk| Batch { source, events: chunk.to_vec() }).collect(),
        );
    }
    let mut interleaved = Vec::new();
    let longest = per_source.iter().map(Vec::len).max().unwrap_or(0);
    for round in 0..longest {
        for batches in &per_source {
            if let Some(batch) = batches.get(round) {
                interleaved.push(batch.clone());
            }
        }
    }
    (interleaved, injected)
}
