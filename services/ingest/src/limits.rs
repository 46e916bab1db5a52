//! Per-event limits beyond the schema: nesting depth, string lengths and a plausible event time.
//! They keep one hostile or broken source from costing the pipeline memory or CPU, and keep
//! clock errors from creating buckets years away.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// The limits one event must stay within.
#[derive(Debug, Clone, Copy)]
pub struct EventLimits {
    /// Deepest nesting of arrays and objects (the event object itself is depth 1).
    pub max_depth: usize,
    /// Longest string value or field name, in characters.
    pub max_string_chars: usize,
    /// Oldest acceptable `occurred_at`, as an age.
    pub max_age: Duration,
    /// Furthest acceptable `occurred_at` in the future (clock skew of the source).
    pub max_future: Duration,
}

/// Checks the shape of a parsed event before the schema looks at it.
pub fn check_shape(value: &Value, limits: &EventLimits) -> Result<(), String> {
    check_value(value, 1, limits).map_err(|breach| breach.describe(limits))
}

/// Where a limit was broken and which. The path is gathered on the way back from the offending
/// value (innermost segment first), so that a valid event, the common case, allocates nothing.
struct Breach {
    reversed_path: Vec<String>,
    too_deep: bool,
}

impl Breach {
    fn at(too_deep: bool) -> Self {
        Breach { reversed_path: Vec::new(), too_deep }
    }

    fn within(mut self, segment: impl ToString) -> Self {
        self.reversed_path.push(segment.to_string());
        self
    }

    fn describe(&self, limits: &EventLimits) -> String {
        let path: String = self.reversed_path.iter().rev().map(|segment| format!("/{segment}")).collect();
        let path = if path.is_empty() { "/" } else { path.as_str() };
        if self.too_deep {
            format!("{path} nests deeper than {} levels", limits.max_depth)
        } else {
            format!("{path}: string longer than {} characters", limits.max_string_chars)
        }
    }
}

fn check_value(value: &Value, depth: usize, limits: &EventLimits) -> Result<(), Breach> {
    match value {
        Value::String(text) => check_string(text, limits),
        Value::Array(items) => {
            if depth > limits.max_depth {
                return Err(Breach::at(true));
            }
            items.iter().enumerate().try_for_each(|(index, item)| {
                check_value(item, depth + 1, limits).map_err(|breach| breach.within(index))
            })
        }
        Value::Object(fields) => {
            if depth > limits.max_depth {
                return Err(Breach::at(true));
            }
            fields.iter().try_for_each(|(name, item)| {
                check_string(name, limits).map_err(|breach| breach.within("<field name>"))?;
                check_value(item, depth + 1, limits).map_err(|breach| breach.within(name))
            })
        }
        _ => Ok(()),
    }
}

fn check_string(text: &str, limits: &EventLimits) -> Result<(), Breach> {
    // Byte length bounds character count from above: count characters only when it matters.
    if text.len() > limits.max_string_chars && text.chars().count() > limits.max_string_chars {
        return Err(Breach::at(false));
    }
    Ok(())
}

/// Checks that an event time is neither implausibly old nor in the future.
pub fn check_time(
    occurred_at: DateTime<chrono::FixedOffset>,
    now: DateTime<Utc>,
    limits: &EventLimits,
) -> Result<(), String> {
    if occurred_at > now + limits.max_future {
        return Err(format!(
            "occurred_at {} is more than {} s in the future; check the source's clock",
            occurred_at.to_rfc3339(),
            limits.max_future.num_seconds()
        ));
    }
    if occurred_at < now - limits.max_age {
        return Err(format!(
            "occurred_at {} is more than {} days old; older backfills need an operator (raise max_event_age_days)",
            occurred_at.to_rfc3339(),
            limits.max_age.num_days()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn limits() -> EventLimits {
        EventLimits { max_depth: 3, max_string_chars: 8, max_age: Duration::days(10), max_future: Duration::minutes(5) }
    }

    #[test]
    fn depth_and_string_length_are_bounded_and_named() {
        assert!(check_shape(&json!({"a": {"b": [1]}}), &limits()).is_ok());
        let deep = check_shape(&json!({"a": {"b": [[1]]}}), &limits()).expect_err("too deep");
        assert_eq!(deep, "/a/b/0 nests deeper than 3 levels");
        let long = check_shape(&json!({"name": "ninechars"}), &limits()).expect_err("too long");
        assert!(long.starts_with("/name:"), "{long}");
        // Eight characters that take more than eight bytes are fine.
        assert!(check_shape(&json!({"name": "Phú Thọ!"}), &limits()).is_ok());
        let long_name = check_shape(&json!({"a": {"averyverylongname": 1}}), &limits()).expect_err("long name");
        assert!(long_name.starts_with("/a/<field name>:"), "{long_name}");
        let in_array = check_shape(&json!({"a": ["ok", "ninechars"]}), &limits()).expect_err("long item");
        assert!(in_array.starts_with("/a/1:"), "{in_array}");
    }

    #[test]
    fn event_time_must_be_plausible() {
        let now: DateTime<Utc> = "2026-11-28T08:00:00Z".parse().expect("time");
        let at = |text: &str| text.parse::<DateTime<chrono::FixedOffset>>().expect("time");
        assert!(check_time(at("2026-11-28T15:04:00+07:00"), now, &limits()).is_ok());
        assert!(check_time(at("2026-11-28T15:06:00+07:00"), now, &limits()).expect_err("future").contains("future"));
        assert!(check_time(at("2026-11-17T08:00:00+00:00"), now, &limits()).expect_err("old").contains("days old"));
    }
}
