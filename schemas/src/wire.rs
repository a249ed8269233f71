//! The Confluent wire format: `[0x00][schema id: u32 big-endian][Avro binary body]`.

/// First byte of every framed value.
pub const MAGIC_BYTE: u8 = 0;
/// Length of the frame header.
pub const HEADER_LEN: usize = 5;

/// Why a framed value could not be split.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum WireError {
    #[error("empty value")]
    Empty,
    #[error("value shorter than the 5-byte wire-format header ({0} bytes)")]
    TooShort(usize),
    #[error("wrong magic byte {0:#04x} (expected 0x00)")]
    BadMagic(u8),
}

/// Writes the header for `schema_id` followed by `body`.
pub fn frame(schema_id: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&schema_id.to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// Splits a framed value into its schema id and Avro body.
pub fn unframe(bytes: &[u8]) -> Result<(u32, &[u8]), WireError> {
    match bytes {
        [] => Err(WireError::Empty),
        [m, ..] if *m != MAGIC_BYTE => Err(WireError::BadMagic(*m)),
        b if b.len() < HEADER_LEN => Err(WireError::TooShort(b.len())),
        b => Ok((u32::from_be_bytes([b[1], b[2], b[3], b[4]]), &b[HEADER_LEN..])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn errors() {
        assert_eq!(unframe(&[]), Err(WireError::Empty));
        assert_eq!(unframe(&[1, 0, 0, 0, 1]), Err(WireError::BadMagic(1)));
        assert_eq!(unframe(&[0, 0, 0]), Err(WireError::TooShort(3)));
    }

    proptest! {
        #[test]
        fn round_trip(id in any::<u32>(), body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let framed = frame(id, &body);
            prop_assert_eq!(unframe(&framed).unwrap(), (id, &body[..]));
        }
    }
}
