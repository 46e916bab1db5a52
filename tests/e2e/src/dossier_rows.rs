//! Each dossier's row of `dossier_facts` against the ground truth's reading of its events.
//!
//! Analysts query the dossiers directly (`v_dossiers`, schemas/clickhouse/DICTIONARY.md), so
//! each column must say what docs/indicators.md says, dossier by dossier: right indicators
//! alone would not show a column that is wrong only where no indicator reads it (the time
//! paused after a dossier was returned, for one). Compared: every column the ground truth
//! knows; not the procedure, channel and outcome it does not keep, nor `last_at` and `version`,
//! which are the rollup's own.

use std::collections::BTreeMap;

use clickhouse::Row;
use ioc_simulator::truth::Dossier;
use ioc_simulator::Facts;
use serde::Deserialize;

/// The columns compared, instants as unix seconds (0: never).
#[derive(Debug, Clone, PartialEq, Eq, Row, Deserialize)]
struct Columns {
    unit_code: String,
    backlog: u8,
    received_at: u32,
    tracked_from: u32,
    due_at: u32,
    paused_seconds: u32,
    clock_stopped: u8,
    late_at: u32,
    overdue_while_open: u8,
    resolved_at: u32,
    resolved_on_time: u8,
    processing_seconds: u32,
    withdrawn_at: u32,
    abandoned_at: u32,
    closed_at: u32,
    result_returned_at: u32,
    result_electronic: u8,
    digitised: u8,
    reused: u8,
    paid_online: u8,
    full_online: u8,
    rated_at: u32,
    dissatisfied: u8,
    complained: u8,
    flagged: u8,
}

#[derive(Debug, Row, Deserialize)]
struct Stored {
    dossier_id: String,
    columns: Columns,
}

/// The newest facts of every dossier, as its owner unit holds them.
const STORED: &str = "SELECT dossier_id, (unit_code, toUInt8(backlog), toUInt32(received_at), toUInt32(tracked_from), \
    toUInt32(due_at), paused_seconds, toUInt8(clock_stopped), toUInt32(late_at), toUInt8(overdue_while_open), \
    if(resolved, toUInt32(resolved_at), 0), toUInt8(resolved_on_time), \
    processing_seconds, if(withdrawn, toUInt32(withdrawn_at), 0), if(abandoned, toUInt32(abandoned_at), 0), \
    if(closed, toUInt32(closed_at), 0), if(result_returned, toUInt32(result_returned_at), 0), \
    toUInt8(result_electronic), toUInt8(digitised), toUInt8(reused), toUInt8(paid_online), toUInt8(full_online), \
    if(rated, toUInt32(rated_at), 0), toUInt8(dissatisfied), toUInt8(complained), toUInt8(flagged)) \
    FROM dossier_facts FINAL WHERE NOT superseded ORDER BY dossier_id";

/// What the ground truth says the dossier's row holds.
fn expected(d: &Dossier) -> Columns {
    let seconds = |at: Option<i64>| at.map_or(0, |at| u32::try_from(at).unwrap_or(u32::MAX));
    let flag = |b: bool| u8::from(b);
    let pauses = d.pauses();
    let paused: i64 = pauses.iter().filter(|p| p.until.is_some()).map(|p| p.seconds_before(i64::MAX)).sum();
    let resolved_at = d.resolved_at();
    let withdrawn_at = d.withdrawal.filter(|at| Some(*at) == d.closed_at() && resolved_at.is_none());
    let clock_stopped = pauses.last().is_some_and(|p| p.until.is_none());
    // The clock runs out at the due time extended by the counted pauses. The column says the
    // clock runs out before the dossier ends (DICTIONARY.md): closed after it, or still open
    // with the clock running, however far `late_at` is; the measures date it on `late_at`.
    let late_at = d.due_at + d.paused_before + paused;
    let overdue = !clock_stopped && d.closed_at().is_none_or(|closed| late_at < closed);
    Columns {
        unit_code: d.unit.clone(),
        backlog: flag(d.backlog),
        received_at: seconds(Some(d.received_at)),
        tracked_from: seconds(Some(d.tracked_from)),
        due_at: seconds(Some(d.due_at)),
        paused_seconds: seconds(Some(d.paused_before + paused)),
        clock_stopped: flag(clock_stopped),
        late_at: seconds(Some(late_at)),
        overdue_while_open: flag(overdue),
        resolved_at: seconds(resolved_at),
        resolved_on_time: flag(resolved_at.is_some_and(|at| !d.late_at(at))),
        processing_seconds: seconds(resolved_at.map(|at| d.active_seconds(at).max(0))),
        withdrawn_at: seconds(withdrawn_at),
        abandoned_at: seconds(d.returned_at()),
        closed_at: seconds(d.closed_at()),
        result_returned_at: seconds(d.results.iter().map(|(at, _)| *at).min()),
        result_electronic: flag(d.results.iter().any(|(_, electronic)| *electronic)),
        digitised: flag(d.digitised),
        reused: flag(d.reused),
        paid_online: flag(d.paid_online),
        full_online: flag(d.online && d.full_online_level && (!d.fee_bearing || d.paid_online)),
        rated_at: seconds(d.rating.map(|(at, _)| at)),
        dissatisfied: flag(d.rating.is_some_and(|(_, dissatisfied)| dissatisfied)),
        complained: flag(d.complained),
        flagged: flag(d.flagged()),
    }
}

/// Every dossier whose stored row differs from the truth, or that is on one side only, with
/// the two rows (at most `limit` listed; the count of all is the list's last line).
pub async fn differences(client: &clickhouse::Client, facts: &Facts, limit: usize) -> Vec<String> {
    let stored: Vec<Stored> = client.query(STORED).fetch_all().await.expect("dossier facts readable");
    let mut stored: BTreeMap<String, Columns> = stored.into_iter().map(|row| (row.dossier_id, row.columns)).collect();
    let mut found = Vec::new();
    for (id, dossier) in &facts.dossiers {
        let want = expected(dossier);
        match stored.remove(id) {
            Some(got) if got == want => {}
            Some(got) => found.push(format!("{id}: stored {got:?}, truth {want:?}")),
            None => found.push(format!("{id}: not stored, truth {want:?}")),
        }
    }
    found.extend(stored.into_iter().map(|(id, got)| format!("{id}: stored {got:?}, unknown to the truth")));
    let all = found.len();
    found.truncate(limit);
    if all > 0 {
        found.push(format!("{all} dossiers differ"));
    }
    found
}
