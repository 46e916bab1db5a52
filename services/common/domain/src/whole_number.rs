//! Counts and amounts written as a number without a fraction, `12.0` or `1.2e1` as well as `12`.
//!
//! JSON Schema's `"type": "integer"` matches any number whose fraction is zero (JSON Schema
//! 2020-12 validation, section 6.1.1, the `type` keyword), so the contract lets
//! `12.0` through; serde's integer types refuse it ("invalid type: floating point"), and the
//! event was refused with a message that named no field. Some senders' JSON writers (JavaScript
//! numbers computed by division, spreadsheets) write whole numbers that way. These fields read it
//! as the integer it is; Kafka gets the integer.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::Deserialize;

/// Reads a whole number into `T` (one of the unsigned integer types).
pub(crate) fn read<'de, D: Deserializer<'de>, T: TryFrom<u64>>(deserializer: D) -> Result<T, D::Error> {
    deserializer.deserialize_any(WholeNumber(PhantomData))
}

/// [`read`] for an optional field (`null` or absent: none).
pub(crate) fn read_option<'de, D: Deserializer<'de>, T: TryFrom<u64>>(deserializer: D) -> Result<Option<T>, D::Error> {
    Ok(<Option<Whole<T>>>::deserialize(deserializer)?.map(|whole| whole.0))
}

struct Whole<T>(T);

impl<'de, T: TryFrom<u64>> Deserialize<'de> for Whole<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        read(deserializer).map(Whole)
    }
}

struct WholeNumber<T>(PhantomData<T>);

impl<T: TryFrom<u64>> Visitor<'_> for WholeNumber<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        write!(formatter, "a whole number from 0 to {}", max_of::<T>())
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<T, E> {
        T::try_from(value).map_err(|_| E::invalid_value(Unexpected::Unsigned(value), &self))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<T, E> {
        match u64::try_from(value) {
            Ok(value) => self.visit_u64(value),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(value), &self)),
        }
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<T, E> {
        // 2^64 is the first whole f64 past u64::MAX; `as` would saturate it to u64::MAX.
        if value.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&value) {
            return self.visit_u64(value as u64);
        }
        Err(E::invalid_value(Unexpected::Float(value), &self))
    }
}

/// The largest value of `T`, found by halving down from u64::MAX (for the message only).
fn max_of<T: TryFrom<u64>>() -> u64 {
    let mut max = u64::MAX;
    while T::try_from(max).is_err() {
        max >>= 1;
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Counts {
        #[serde(deserialize_with = "read")]
        small: u16,
        #[serde(default, deserialize_with = "read_option")]
        maybe: Option<u32>,
    }

    fn counts(text: &str) -> Result<Counts, String> {
        serde_json::from_str(text).map_err(|error| error.to_string())
    }

    #[test]
    fn a_whole_number_reads_however_it_is_written() {
        for small in ["12", "12.0", "1.2e1", "120e-1"] {
            let text = format!("{{\"small\": {small}, \"maybe\": 7.0}}");
            assert_eq!(counts(&text), Ok(Counts { small: 12, maybe: Some(7) }), "{text}");
        }
        assert_eq!(counts("{\"small\": 65535}"), Ok(Counts { small: 65_535, maybe: None }));
        assert_eq!(counts("{\"small\": 0, \"maybe\": null}"), Ok(Counts { small: 0, maybe: None }));
    }

    #[test]
    fn fractions_negatives_and_numbers_too_large_are_refused_naming_the_range() {
        for small in ["12.5", "-1", "-1.0", "65536", "1e300", "\"12\""] {
            let error = counts(&format!("{{\"small\": {small}}}")).expect_err(small);
            assert!(error.contains("expected a whole number from 0 to 65535"), "{small}: {error}");
        }
    }
}
