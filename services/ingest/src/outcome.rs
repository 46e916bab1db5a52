//! What can happen to one event of a batch besides being accepted, as types: why an event was
//! refused (do not resend it as it is), and why a valid one was not acknowledged by Kafka
//! (resend it). Their `kind` labels the metrics, a bounded set; their text is what the source
//! reads in the answer.

use ioc_domain::{ContractError, Source};

/// Why one event was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    /// Its bytes are not one JSON value within the per-event size.
    #[error("{0}")]
    Malformed(String),
    /// Over a per-event limit: nesting depth, string length.
    #[error("{0}")]
    OverLimit(String),
    /// The event contract refuses it (type, schema, values).
    #[error(transparent)]
    Contract(#[from] ContractError),
    /// Its time is too old or in the future.
    #[error("{0}")]
    OutOfTime(String),
    /// It belongs to another source than the endpoint it was sent to.
    #[error("event is from source {event} but was sent to {endpoint}")]
    WrongSource {
        /// The event's `source`.
        event: Source,
        /// The endpoint's.
        endpoint: Source,
    },
}

impl Rejection {
    /// Every kind, for the metrics' label values.
    pub const KINDS: [&'static str; 5] = ["malformed", "over_limit", "contract", "out_of_time", "wrong_source"];

    /// The metric label of this rejection.
    pub fn kind(&self) -> &'static str {
        match self {
            Rejection::Malformed(_) => "malformed",
            Rejection::OverLimit(_) => "over_limit",
            Rejection::Contract(_) => "contract",
            Rejection::OutOfTime(_) => "out_of_time",
            Rejection::WrongSource { .. } => "wrong_source",
        }
    }
}

/// Why Kafka did not take a valid event (the source resends it; its id keeps that harmless).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unacknowledged {
    /// It could not be encoded (a bug, logged).
    #[error("failed to encode event: {0}")]
    Encode(String),
    /// The producer refused it at once (queue full, broker unknown).
    #[error("kafka refused the event: {0}")]
    Refused(String),
    /// Kafka did not confirm it in time.
    #[error("kafka did not acknowledge: {0}")]
    NotAcknowledged(String),
    /// The delivery was cancelled: librdkafka purged it when the producer shut down.
    #[error("kafka delivery was cancelled")]
    Cancelled,
}

impl Unacknowledged {
    /// Every label [`Unacknowledged::kind`] can return, for metrics that start at zero.
    pub const KINDS: [&'static str; 4] = ["encode", "refused", "not_acknowledged", "cancelled"];

    /// The metric label of this failure.
    pub fn kind(&self) -> &'static str {
        match self {
            Unacknowledged::Encode(_) => "encode",
            Unacknowledged::Refused(_) => "refused",
            Unacknowledged::NotAcknowledged(_) => "not_acknowledged",
            Unacknowledged::Cancelled => "cancelled",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rejection_has_a_listed_kind_and_keeps_its_message() {
        let all = [
            Rejection::Malformed("line 3 is not valid JSON".into()),
            Rejection::OverLimit("/a nests deeper than 8 levels".into()),
            Rejection::Contract(ContractError::UnknownType("dossier.teleported".into())),
            Rejection::OutOfTime("occurred_at is in the future".into()),
            Rejection::WrongSource { event: Source::Edoc, endpoint: Source::Portal },
        ];
        let kinds: Vec<&str> = all.iter().map(Rejection::kind).collect();
        assert_eq!(kinds, Rejection::KINDS);
        assert_eq!(all[0].to_string(), "line 3 is not valid JSON");
        assert_eq!(all[4].to_string(), "event is from source edoc but was sent to portal");
        assert!(all[2].to_string().contains("dossier.teleported"));
        let failures = [
            Unacknowledged::Encode("x".into()),
            Unacknowledged::Refused("queue full".into()),
            Unacknowledged::NotAcknowledged("timed out".into()),
            Unacknowledged::Cancelled,
        ];
        let kinds: Vec<&str> = failures.iter().map(Unacknowledged::kind).collect();
        assert_eq!(kinds, Unacknowledged::KINDS);
    }
}
