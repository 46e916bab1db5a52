//! Text columns of the events tables written without a `String` of their own.
//!
//! Every row held a fresh `String` for its event id, its type and each enum it stores (the
//! enum's name was had through a `serde_json::Value`), and a copy of each id the decoded event
//! already owned: perf put the allocator at about an eighth of the processor's CPU (issue 12).
//! The names here are borrowed from serde and the id is formatted while the row is written;
//! transform.rs moves the event's own strings into the row.

use std::fmt;

use serde::ser::{Impossible, Serialize, Serializer};
use uuid::Uuid;

/// An event id, written as the text `Uuid`'s `Display` gives (lower-case, hyphenated) into a
/// `String` column, formatted on the stack when the row is serialised.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EventIdText(pub Uuid);

impl Serialize for EventIdText {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.hyphenated().encode_lower(&mut Uuid::encode_buffer()))
    }
}

impl fmt::Display for EventIdText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The name serde gives `value`, a unit variant of one of the domain's enums (their
/// `rename_all` is the contract's spelling, declared once there); `""` for anything else.
pub fn variant_name<T: Serialize>(value: &T) -> &'static str {
    value.serialize(VariantName).unwrap_or("")
}

/// A serializer that accepts one thing, a unit variant, and returns its name.
struct VariantName;

/// What [`VariantName`] refuses: anything but a unit variant.
#[derive(Debug)]
struct NotAUnitVariant;

impl fmt::Display for NotAUnitVariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a unit variant")
    }
}

impl std::error::Error for NotAUnitVariant {}

impl serde::ser::Error for NotAUnitVariant {
    fn custom<T: fmt::Display>(_: T) -> Self {
        NotAUnitVariant
    }
}

type Refused = Impossible<&'static str, NotAUnitVariant>;

/// `fn $name(self, _: $ty) -> Result<..> { Err(NotAUnitVariant) }` for each pair.
macro_rules! refuse {
    ($($name:ident($($ty:ty),*)),+ $(,)?) => {
        $(fn $name(self, $(_: $ty),*) -> Result<&'static str, NotAUnitVariant> {
            Err(NotAUnitVariant)
        })+
    };
}

impl Serializer for VariantName {
    type Ok = &'static str;
    type Error = NotAUnitVariant;
    type SerializeSeq = Refused;
    type SerializeTuple = Refused;
    type SerializeTupleStruct = Refused;
    type SerializeTupleVariant = Refused;
    type SerializeMap = Refused;
    type SerializeStruct = Refused;
    type SerializeStructVariant = Refused;

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<&'static str, Self::Error> {
        Ok(variant)
    }

    refuse!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
    );

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<&'static str, Self::Error> {
        Err(NotAUnitVariant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<&'static str, Self::Error> {
        Err(NotAUnitVariant)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<&'static str, Self::Error> {
        Err(NotAUnitVariant)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Refused, Self::Error> {
        Err(NotAUnitVariant)
    }

    fn serialize_tuple(self, _: usize) -> Result<Refused, Self::Error> {
        Err(NotAUnitVariant)
    }

    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Refused, Self::Error> {
        Err(NotAUnitVariant)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Refused, Self::Error> {
        Err(NotAUnitVariant)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Refused, Self::Error> {
        Err(NotAUnitVariant)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Refused, Self::Error> {
        Err(NotAUnitVariant)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Refused, Self::Error> {
        Err(NotAUnitVariant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ioc_domain::{Channel, ClassTopic, PaymentMethod, ServiceLevel};

    /// What serde_json writes for `value`, the names the events carry.
    fn json_name<T: Serialize>(value: T) -> String {
        serde_json::to_value(value).unwrap().as_str().unwrap_or("").to_owned()
    }

    #[test]
    fn a_variant_is_named_as_its_json_names_it_and_anything_else_is_empty() {
        for value in [Channel::Online, Channel::InPerson, Channel::Post] {
            assert_eq!(variant_name(&value), json_name(value));
        }
        for value in [ServiceLevel::FullOnline, ServiceLevel::PartialOnline, ServiceLevel::Offline] {
            assert_eq!(variant_name(&value), json_name(value));
        }
        for value in [PaymentMethod::Online, PaymentMethod::Counter] {
            assert_eq!(variant_name(&value), json_name(value));
        }
        for value in ClassTopic::ALL {
            assert_eq!(variant_name(&value), json_name(value));
        }
        assert_eq!(variant_name(&"text"), "");
        assert_eq!(variant_name(&Some(Channel::Post)), "");
        assert_eq!(variant_name(&7_u8), "");
    }

    #[test]
    fn an_event_id_is_written_as_its_display_text() {
        let id = Uuid::parse_str("7F1C2A8E-5B3D-4C1E-9A0F-2D6B8E4C1A01").unwrap();
        assert_eq!(serde_json::to_value(EventIdText(id)).unwrap(), id.to_string());
        assert_eq!(EventIdText(id).to_string(), "7f1c2a8e-5b3d-4c1e-9a0f-2d6b8e4c1a01");
    }
}
