//! Decodes a Kafka message into an event. Ingest already checked the contract, so a failure
//! here means a producer bypassed ingest or a bug: the message is dead-lettered, never dropped.

use ioc_domain::{Event, Source};

/// Decodes `payload` and checks it belongs to `source`.
pub fn decode(payload: Option<&[u8]>, source: Source) -> Result<Event, String> {
    let payload = payload.ok_or_else(|| "message has no payload".to_owned())?;
    let event: Event = serde_json::from_slice(payload).map_err(|error| format!("undecodable event: {error}"))?;
    if event.body.source() != source || event.source != source {
        return Err(format!(
            "event {} of type {} does not belong on the {source} topic",
            event.event_id,
            event.body.type_name()
        ));
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_foreign_events_are_refused_with_a_reason() {
        assert!(decode(None, Source::Portal).unwrap_err().contains("no payload"));
        assert!(decode(Some(b"{oops"), Source::Portal).unwrap_err().contains("undecodable"));
        let edoc = br#"{"event_id":"2b9d6c1e-0a4f-4e7b-8c3d-5f1a9e2b7c02","source":"edoc","type":"work_record.opened",
            "occurred_at":"2026-10-01T09:00:00+07:00","unit_code":"SNV","record_id":"R","level":"province","classified":false}"#;
        assert!(decode(Some(edoc), Source::Portal).unwrap_err().contains("does not belong"));
        assert!(decode(Some(edoc), Source::Edoc).is_ok());
    }
}
