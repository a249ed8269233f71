//! Event time as carried by records.

/// A point in time: nanoseconds since the Unix epoch (UTC). Always taken from a record or
/// from the runtime's punctuation call; operators never read a clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// Nanoseconds per millisecond.
    pub const NANOS_PER_MILLI: i64 = 1_000_000;

    /// Builds a timestamp from Unix epoch milliseconds (the Kafka record timestamp unit).
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms.saturating_mul(Self::NANOS_PER_MILLI))
    }

    /// Unix epoch nanoseconds.
    pub fn nanos(self) -> i64 {
        self.0
    }
}
