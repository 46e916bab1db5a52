//! The three kinds of source systems and the Kafka topic each one writes to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A kind of source system; each has its own topic, consumer group and table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The online public-service portal and dossier-handling system.
    Portal,
    /// The e-document and work-record (e-office) system.
    Edoc,
    /// The "Bình dân học vụ số" digital-skills training platforms.
    Training,
}

impl Source {
    /// Every source, in a stable order.
    pub const ALL: [Source; 3] = [Source::Portal, Source::Edoc, Source::Training];

    /// The name used in URLs, topics, configs and the `source` field of events.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Portal => "portal",
            Source::Edoc => "edoc",
            Source::Training => "training",
        }
    }

    /// The ClickHouse table holding this source's raw events (schemas/clickhouse/0001_events.sql).
    pub const fn events_table(self) -> &'static str {
        match self {
            Source::Portal => "portal_events",
            Source::Edoc => "edoc_events",
            Source::Training => "training_events",
        }
    }

    /// The column of [`Source::events_table`] naming the event's entity, the middle of the
    /// table's sort key `(unit_code, <entity>, event_id)`.
    pub const fn entity_column(self) -> &'static str {
        match self {
            Source::Portal => "dossier_id",
            Source::Edoc => "record_id",
            Source::Training => "learner_id",
        }
    }

    /// The ClickHouse table holding the Kafka offset of every event of this source stored before
    /// migration 0015 (schemas/clickhouse/0010_event_offsets.sql); no longer written.
    pub const fn offsets_table(self) -> &'static str {
        match self {
            Source::Portal => "portal_offsets",
            Source::Edoc => "edoc_offsets",
            Source::Training => "training_offsets",
        }
    }

    /// The ClickHouse table holding the Kafka offset and line of every stored event of this
    /// source (schemas/clickhouse/0015_event_lines.sql).
    pub const fn event_lines_table(self) -> &'static str {
        match self {
            Source::Portal => "portal_event_lines",
            Source::Edoc => "edoc_event_lines",
            Source::Training => "training_event_lines",
        }
    }

    /// The topic this source's events go to, e.g. `ioc.portal.v1` for the prefix `ioc`.
    pub fn topic(self, prefix: &str) -> String {
        format!("{prefix}.{}.v1", self.as_str())
    }
}

/// The dead-letter topic for events that passed ingest but could not be processed.
pub fn dead_letter_topic(prefix: &str) -> String {
    format!("{prefix}.dlq.v1")
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A source name that is not one of `portal`, `edoc`, `training`.
#[derive(Debug, thiserror::Error)]
#[error("unknown source {0:?}: expected one of portal, edoc, training")]
pub struct UnknownSource(pub String);

impl FromStr for Source {
    type Err = UnknownSource;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Source::ALL.into_iter().find(|source| source.as_str() == name).ok_or_else(|| UnknownSource(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_is_refused() {
        for source in Source::ALL {
            assert_eq!(source.as_str().parse::<Source>().ok(), Some(source));
        }
        assert!("dossiers".parse::<Source>().is_err());
        assert_eq!(Source::Edoc.topic("ioc"), "ioc.edoc.v1");
    }
}
