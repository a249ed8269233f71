//! Exact decimals on the wire: Avro `decimal` logical type over `bytes`, precision 28,
//! scale 8, carried as `rust_decimal::Decimal` in Rust.
//!
//! Invariants:
//! - Encoding never rounds: a value with more than [`SCALE`] fractional digits is an error.
//! - The unscaled value is written as a 16-byte big-endian two's complement integer, which
//!   satisfies Avro's precision check (16 bytes hold 38 digits >= 28) for every value.
//! - Decoding accepts any sign-extended length from 1 to 16 bytes.

use rust_decimal::Decimal;
use serde::{de, Deserializer, Serializer};

/// Fractional digits of every decimal field in every schema (checked by a test).
pub const SCALE: u32 = 8;
/// Declared precision of every decimal field.
pub const PRECISION: u32 = 28;

/// Why a decimal could not be put on the wire.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecimalError {
    #[error("decimal {0} has more than {SCALE} fractional digits")]
    TooPrecise(Decimal),
    #[error("decimal bytes of length {0} (expected 1..=16)")]
    BadLength(usize),
    #[error("decimal out of range")]
    OutOfRange,
}

/// The unscaled 16-byte representation of `value` at [`SCALE`].
pub fn to_bytes(value: Decimal) -> Result<[u8; 16], DecimalError> {
    let mut scaled = value;
    scaled.rescale(SCALE);
    if scaled != value {
        return Err(DecimalError::TooPrecise(value));
    }
    Ok(scaled.mantissa().to_be_bytes())
}

/// Parses sign-extended big-endian unscaled bytes at [`SCALE`].
pub fn from_bytes(bytes: &[u8]) -> Result<Decimal, DecimalError> {
    if bytes.is_empty() || bytes.len() > 16 {
        return Err(DecimalError::BadLength(bytes.len()));
    }
    let fill = if bytes[0] & 0x80 != 0 { 0xFF } else { 0 };
    let mut buf = [fill; 16];
    buf[16 - bytes.len()..].copy_from_slice(bytes);
    let unscaled = i128::from_be_bytes(buf);
    Decimal::try_from_i128_with_scale(unscaled, SCALE).map_err(|_| DecimalError::OutOfRange)
}

/// `#[serde(with = "schemas::decimal")]` for `Decimal` fields.
pub fn serialize<S: Serializer>(value: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    let bytes = to_bytes(*value).map_err(serde::ser::Error::custom)?;
    s.serialize_bytes(&bytes)
}

/// `#[serde(with = "schemas::decimal")]` for `Decimal` fields.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    d.deserialize_bytes(BytesVisitor)
}

struct BytesVisitor;

impl<'de> de::Visitor<'de> for BytesVisitor {
    type Value = Decimal;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("Avro decimal bytes")
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Decimal, E> {
        from_bytes(v).map_err(E::custom)
    }
    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Decimal, E> {
        self.visit_bytes(&v)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Decimal, A::Error> {
        let mut v = Vec::with_capacity(16);
        while let Some(b) = seq.next_element::<u8>()? {
            v.push(b);
        }
        self.visit_bytes(&v)
    }
}

/// `#[serde(with = "schemas::decimal::opt")]` for `Option<Decimal>` fields (`["null", decimal]`).
pub mod opt {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => {
                let bytes = to_bytes(*v).map_err(serde::ser::Error::custom)?;
                s.serialize_some(&BytesRef(&bytes))
            }
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
        d.deserialize_option(OptVisitor)
    }

    struct OptVisitor;

    impl<'de> de::Visitor<'de> for OptVisitor {
        type Value = Option<Decimal>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("null or Avro decimal bytes")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_bytes(BytesVisitor).map(Some)
        }
    }

    struct BytesRef<'a>(&'a [u8]);
    impl serde::Serialize for BytesRef<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::str::FromStr;

    #[test]
    fn rejects_more_than_scale_digits() {
        let d = Decimal::from_str("0.000000001").unwrap();
        assert_eq!(to_bytes(d), Err(DecimalError::TooPrecise(d)));
    }

    #[test]
    fn negative_and_short_forms_decode() {
        assert_eq!(from_bytes(&[0xFF]).unwrap(), Decimal::from_str("-0.00000001").unwrap());
        assert_eq!(from_bytes(&[0x01, 0x00]).unwrap(), Decimal::from_str("0.00000256").unwrap());
        assert_eq!(from_bytes(&[]), Err(DecimalError::BadLength(0)));
    }

    proptest! {
        #[test]
        fn round_trip(units in any::<i64>(), frac in 0u32..=8) {
            let d = Decimal::new(units, frac);
            prop_assert_eq!(from_bytes(&to_bytes(d).unwrap()).unwrap(), d);
        }
    }
}
