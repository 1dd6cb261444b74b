//! Struct fields matched the way Go's `encoding/json` matches them: a key
//! that equals no field exactly takes the field it equals case-insensitively
//! (`"MessageId"`, `"MESSAGEID"` for `messageId`). The Go agent decodes every
//! ACS and TCS message that way, so a key cased differently must not be lost
//! here. Keys of maps (environment variables, labels) are data and are left
//! as they are; only struct fields fold.
//!
//! A [`Folded`] wraps a borrowed JSON value as a serde `Deserializer`; where a
//! type asks for a struct (with its field names, which serde passes along) the
//! object's keys are matched to them, and every nested value is wrapped again.

use serde::de::value::BorrowedStrDeserializer;
use std::collections::BTreeMap;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::{Map, Value};

type Error = serde_json::Error;

/// A JSON value whose struct fields match case-insensitively.
pub(crate) struct Folded<'a>(pub &'a Value);

impl<'de> Deserializer<'de> for Folded<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(m) => visitor.visit_map(Fields::new(m, &[])),
            Value::Array(a) => visitor.visit_seq(Items(a.iter())),
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            Value::Object(m) => visitor.visit_map(Fields::new(m, fields)),
            // Not an object: the visitor says what it expected.
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier
    }
}

/// The entries of an object, each key replaced by the struct field it folds
/// to. Where two keys land on one field, an exact match wins (the object's
/// order is not kept, so Go's last-key-wins cannot be followed).
struct Fields<'a> {
    entries: std::vec::IntoIter<(&'a str, &'a Value)>,
    value: Option<&'a Value>,
}

impl<'a> Fields<'a> {
    fn new(m: &'a Map<String, Value>, fields: &'static [&'static str]) -> Self {
        let entries: Vec<(&'a str, &'a Value)> = if fields.is_empty() {
            // A map (or a value read as any): its keys are data.
            m.iter().map(|(k, v)| (k.as_str(), v)).collect()
        } else {
            let mut by_name: BTreeMap<&'a str, &'a Value> = BTreeMap::new();
            for (key, value) in m {
                let key = key.as_str();
                let name = match fields.iter().find(|f| **f == key) {
                    Some(_) => key,
                    None => match fields.iter().find(|f| fold_eq(key, f)) {
                        // An exact key for the same field wins.
                        Some(f) if m.contains_key(*f) => continue,
                        Some(f) => f,
                        None => key,
                    },
                };
                by_name.insert(name, value);
            }
            by_name.into_iter().collect()
        };
        Fields {
            entries: entries.into_iter(),
            value: None,
        }
    }
}

impl<'de> MapAccess<'de> for Fields<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        seed.deserialize(BorrowedStrDeserializer::<Error>::new(key))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(v) => seed.deserialize(Folded(v)),
            None => Err(de::Error::custom("a value without its key")),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct Items<'a>(std::slice::Iter<'a, Value>);

impl<'de> SeqAccess<'de> for Items<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.0
            .next()
            .map(|v| seed.deserialize(Folded(v)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// Go's case-insensitive key match (`encoding/json` folds with
/// `unicode.SimpleFold`): upper- then lower-casing maps `ſ` to `s` and the
/// Kelvin sign to `k`, as folding does.
pub(crate) fn fold_eq(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        // No non-ASCII character folds to an ASCII one except the Kelvin
        // sign and the long s, which a pure-ASCII key cannot hold.
        return a.eq_ignore_ascii_case(b);
    }
    let fold = |s: &str| {
        s.chars()
            .flat_map(char::to_uppercase)
            .flat_map(char::to_lowercase)
            .collect::<Vec<char>>()
    };
    a.len() <= 4 * b.len() && fold(a) == fold(b)
}
