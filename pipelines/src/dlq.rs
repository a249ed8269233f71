//! Dead-letter records: the original bytes plus what went wrong, in an Avro value and in
//! headers, so operators can inspect them with any Kafka tool.
//!
//! Header names: `tradeflow.pipeline`, `tradeflow.source.topic`, `tradeflow.source.partition`,
//! `tradeflow.source.offset`, `tradeflow.error.kind`, `tradeflow.error.message`.

use schemas::records::{DeadLetter, ErrorKind};

/// Original key / value bytes kept in the dead-letter value are cut to this size.
pub const MAX_KEPT_BYTES: usize = 64 * 1024;

/// Where a failed record came from.
#[derive(Debug, Clone)]
pub struct Source<'a> {
    pub pipeline: &'a str,
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub timestamp_ms: Option<i64>,
}

/// Builds the dead-letter value.
pub fn dead_letter(src: &Source<'_>, kind: ErrorKind, error: &str) -> DeadLetter {
    let cut = |b: &[u8]| b[..b.len().min(MAX_KEPT_BYTES)].to_vec();
    DeadLetter {
        pipeline: src.pipeline.to_string(),
        source_topic: src.topic.to_string(),
        source_partition: src.partition,
        source_offset: src.offset,
        error_kind: kind,
        error: error.to_string(),
        key: src.key.map(cut),
        value: src.value.map(cut),
        value_size: src.value.map_or(0, |v| v.len()).try_into().unwrap_or(i32::MAX),
        failed_at_ns: src.timestamp_ms.unwrap_or(0).saturating_mul(1_000_000),
    }
}

/// Header pairs for a dead-letter record.
pub fn headers(src: &Source<'_>, kind: ErrorKind, error: &str) -> Vec<(&'static str, String)> {
    vec![
        ("tradeflow.pipeline", src.pipeline.to_string()),
        ("tradeflow.source.topic", src.topic.to_string()),
        ("tradeflow.source.partition", src.partition.to_string()),
        ("tradeflow.source.offset", src.offset.to_string()),
        ("tradeflow.error.kind", kind.as_str().to_string()),
        ("tradeflow.error.message", error.to_string()),
    ]
}
