//! An event's JSON parsed once, for ingest: the value that the shape limits and the schema
//! check, and that the typed event is then decoded from.
//!
//! Ingest parsed each event into a `serde_json::Value` for the schema and decoded the typed
//! event from the text a second time: the decode from the text was 18 % of ingest's CPU
//! (perf, issue 12), because a `Value` keeps the last of a field given twice, and only the
//! text showed that the event stored would not be the one validated. This parse builds the
//! same value serde_json builds and notes the first field given twice on the way, so the
//! typed event can come from the value ([`crate::Contract::check_parsed`]) and a field given
//! twice is still refused.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// An event's JSON value and the first field given twice in it, at any depth.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEvent {
    value: Value,
    duplicate: Option<String>,
}

impl ParsedEvent {
    /// Parses `text` as `serde_json::from_str::<Value>` does (the same value, the same errors,
    /// the same limit of 128 levels of nesting), noting the first field given twice. One
    /// difference no event can tell: serde_json reads an object whose first key is its private
    /// raw-value marker (`$serde_json::private::RawValue`, the `raw_value` feature) as that raw
    /// value, where this keeps the object; the contract refuses both.
    pub fn parse(text: &str) -> serde_json::Result<ParsedEvent> {
        let mut duplicate = None;
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let value = ValueSeed { duplicate: &mut duplicate }.deserialize(&mut deserializer)?;
        deserializer.end()?;
        Ok(ParsedEvent { value, duplicate })
    }

    /// The value, where a field given twice holds the last of its values (as serde_json's).
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The name of the first field given twice, if any.
    pub fn duplicate(&self) -> Option<&str> {
        self.duplicate.as_deref()
    }
}

/// Builds a `Value` as serde_json's own visitor does, recording the first repeated key.
struct ValueSeed<'s> {
    duplicate: &'s mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        // As serde_json's visitor: a number it parsed is finite, so this is never Null.
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(ValueSeed { duplicate: &mut *self.duplicate })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(ValueSeed { duplicate: &mut *self.duplicate })?;
            if self.duplicate.is_none() && fields.contains_key(&key) {
                *self.duplicate = Some(key.clone());
            }
            fields.insert(key, value);
        }
        Ok(Value::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_is_serde_json_s_and_a_field_given_twice_is_named() {
        for text in [
            r#"{"a": 1, "b": [true, null, -2, 2.5, "x\u00e9"], "c": {"d": 18446744073709551615}}"#,
            r#"[1, {"a": {}}, []]"#,
            r#""text""#,
            "12.0",
        ] {
            let parsed = ParsedEvent::parse(text).expect("json");
            assert_eq!(parsed.value(), &serde_json::from_str::<Value>(text).expect("json"), "{text}");
            assert_eq!(parsed.duplicate(), None, "{text}");
        }
        let twice = ParsedEvent::parse(r#"{"a": 1, "b": {"c": 1, "c": 2}, "a": 3}"#).expect("json");
        assert_eq!(twice.duplicate(), Some("c"), "the first one met, at any depth");
        assert_eq!(twice.value(), &serde_json::json!({"a": 3, "b": {"c": 2}}), "the last value, as serde_json keeps");
    }

    #[test]
    fn what_serde_json_refuses_is_refused_with_its_message() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        for text in ["{", r#"{"a" 1}"#, "[1,]", "{} {}", "nul", deep.as_str(), "\"\\ud800\""] {
            let ours = ParsedEvent::parse(text).expect_err("refused").to_string();
            let theirs = serde_json::from_str::<Value>(text).expect_err("refused").to_string();
            assert_eq!(ours, theirs, "{text}");
        }
    }
}
